/**
 * `generate --autogenerate` (README "Changing the schema"): the migration
 * between the schema the migration files build and the schema wanted,
 * planned by the pure planner (src/schema/planner.ts) and proven before it
 * is written.
 *
 * 1. Current: the migration files replayed in a scratch database on the
 *    scratch server (as `snapshot` replays them). Desired: the desired files
 *    applied in a second scratch database there, or a development database
 *    read in a read-only transaction. Never the target.
 * 2. The plan; its refusals (rename candidates, data loss, what it cannot
 *    plan) are exit 3, each with the flag that decides it.
 * 3. The proof, in the scratch database at head: the files as they will be
 *    written run as `migrate up` runs them (the batch's transaction; a
 *    noTransaction migration outside it), the schema read must have the
 *    desired fingerprint, planning again must find nothing; then `migrate
 *    down`, and the schema must be head's again. It is not rolled back: the
 *    scratch database is thrown away, and CREATE INDEX CONCURRENTLY could not
 *    run in a transaction that is. A failure writes nothing (exit 1).
 * 4. The files are written, the fingerprint manifest kept up to date where
 *    it was, and what was written is linted (src/lint/).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import type { Client } from '../db/connection.js';
import { createMigration, migrationFileName } from '../files/createMigration.js';
import { EXIT, RunnerError, UsageError, describeCause } from '../core/errors.js';
import { executeBatch, type BatchOptions } from '../db/execute.js';
import { buildManifest, findStaleness, modelAt, readManifest, writeManifest, type Manifest } from '../fingerprints/manifest.js';
import { batchOptions, readModel, ReplayFailedError, withScratchDatabase, type ReplayContext } from '../fingerprints/replay.js';
import { settingsOf, type RunnerOptions } from '../observe.js';
import { createSilentLogger } from '../config/logger.js';
import { readMigrationFiles } from '../files/migrationFiles.js';
import { diffSchemas, type SchemaDifference } from '../schema/diff.js';
import { fingerprintSchema } from '../schema/fingerprint.js';
import type { SchemaModel } from '../schema/model.js';
import { parseRename, planSchemaChange, type PlanOptions, type PlanRefusal, type SchemaChangePlan } from '../schema/planner.js';
import { connectionTargetFromUrl, type Settings } from '../config/settings.js';
import type { MigrationFile } from '../core/types.js';
import { lintFiles } from '../lint/lintMigrations.js';
import type { LintFinding } from '../lint/squawk.js';
import { applyDesiredSchema, readDesiredDatabase, readDesiredFiles } from './desiredSchema.js';
import { migrationTexts, type MigrationText } from './migrationText.js';

export interface AutogenerateOptions extends RunnerOptions {
  /** What the migration does; needed unless `check`. */
  readonly message?: string;
  /** The desired schema: a .sql file or a folder of them (else config `desired`). */
  readonly desired?: string;
  /** The desired schema: a development database, read only. */
  readonly desiredUrl?: string;
  /** `table:a=b`, `column:users.first_name=name`. */
  readonly renames?: readonly string[];
  readonly noRenames?: boolean;
  readonly allowDataLoss?: boolean;
  readonly concurrently?: boolean;
  /** Write nothing: report whether there are differences (Alembic's `check`). */
  readonly check?: boolean;
  /** For the file names' prefix. Default: now. */
  readonly now?: Date;
}

export interface WrittenMigration {
  readonly path: string;
  readonly name: string;
  readonly statements: { readonly up: number; readonly down: number };
}

export type AutogenerateReport =
  | { readonly status: 'no-changes'; readonly head: string | null; readonly fingerprint: string }
  | { readonly status: 'changes'; readonly head: string | null; readonly differences: readonly string[] }
  | {
      readonly status: 'written';
      readonly head: string | null;
      readonly before: string;
      readonly after: string;
      readonly differences: readonly string[];
      readonly files: readonly WrittenMigration[];
      /** What the proof accepted that `migrate verify` will still report (a column put back last by the down). */
      readonly caveats: readonly string[];
      readonly notes: readonly string[];
      /** How the fingerprint manifest was kept: `updated`, `written`, or why not. */
      readonly manifest: string;
      /** squawk's findings on what was written; null with the reason when lint could not run. */
      readonly lint: { readonly findings: readonly LintFinding[] } | { readonly skipped: string };
    };

/** The plan needs a decision (a rename, data loss) or holds what cannot be planned: exit 3, nothing written. */
export class GenerateRefusedError extends RunnerError {
  readonly exitCode = EXIT.refused;
  constructor(readonly refusals: readonly PlanRefusal[]) {
    const first = refusals[0]!;
    const more = refusals.length > 1 ? ` (and ${refusals.length - 1} more, listed above)` : '';
    super(`generate --autogenerate refused: ${first.message}${more}`, { hint: first.hint });
  }
}

/** The generated migration did not prove out in the scratch database: exit 1, nothing written. */
export class ProofFailedError extends RunnerError {
  readonly exitCode = EXIT.failed;
  constructor(
    readonly step: string,
    readonly differences: readonly string[],
    options: { cause?: unknown } = {},
  ) {
    super(`generate --autogenerate wrote nothing: the generated migration failed its proof in the scratch database: ${step}${differences.length ? ` (${differences[0]}${differences.length > 1 ? ', …' : ''})` : ''}`, {
      ...options,
      hint: 'the remaining differences are listed above; write this migration by hand, or change the desired schema in smaller steps',
    });
  }
}

/** `added table "orders"`, `changed column "users"."email": type text → character varying(255)`: a difference as a migration makes it. */
export function formatChange(difference: SchemaDifference): string {
  const subject = `${difference.kind} ${difference.name}`;
  if (difference.change === 'changed') return `changed ${subject}: ${difference.detail ?? 'differs'}`;
  return `${difference.change === 'added' ? 'added' : 'dropped'} ${subject}${difference.detail === undefined ? '' : ` (${difference.detail})`}`;
}

export async function autogenerateMigration(options: AutogenerateOptions): Promise<AutogenerateReport> {
  const settings = settingsOf(options);
  const logger = options.logger ?? createSilentLogger();
  const message = options.message?.trim();
  if (!options.check && !message) {
    throw new UsageError('generate --autogenerate needs a message', { hint: 'migrate generate -m "add users" --autogenerate' });
  }
  if (options.desired !== undefined && options.desiredUrl !== undefined) {
    throw new UsageError('give the desired schema once: --desired PATH or --desired-url URL, not both');
  }
  const desiredPath = options.desired !== undefined ? resolve(options.cwd ?? process.cwd(), options.desired) : options.desiredUrl === undefined ? settings.desired : null;
  if (desiredPath === null && options.desiredUrl === undefined) {
    throw new UsageError('generate --autogenerate needs the desired schema', {
      hint: 'pass --desired schema.sql (a file, or a folder of .sql files), --desired-url URL (a development database), or set "desired" in migrate.config.json',
    });
  }
  const renames = (options.renames ?? []).map(parseRename);
  const planOptions: PlanOptions = {
    renames,
    noRenames: options.noRenames ?? false,
    allowDataLoss: options.allowDataLoss ?? false,
    concurrently: options.concurrently ?? false,
  };
  const files = existsSync(settings.dir) ? await readMigrationFiles(settings.dir) : [];
  const head = files.at(-1)?.name ?? null;
  const desiredFiles = desiredPath === null ? null : await readDesiredFiles(desiredPath);
  const desiredTarget = options.desiredUrl === undefined ? null : connectionTargetFromUrl(options.desiredUrl, '--desired-url');
  // Read first: its major is the one the scratch server must run, or the two models would be deparsed differently.
  const desiredDatabase = desiredTarget === null ? null : await readDesiredDatabase(desiredTarget, settings);
  const desiredSource = desiredTarget !== null ? `the database at ${desiredTarget.display}` : relative(process.cwd(), desiredPath!) || desiredPath!;
  const manifest = await readManifest(settings.dir);
  const context: ReplayContext = {
    settings,
    logger,
    ...(desiredDatabase && { targetMajor: desiredDatabase.serverMajor, targetMajorOf: "the desired database's major" }),
    ...(manifest && { manifestMajor: manifest.serverMajor }),
  };

  return withScratchDatabase(context, async (client, serverMajor, another) => {
    const replay = { ...batchOptions(client, context), appliedBy: 'migrate generate --autogenerate' };
    if (files.length > 0) {
      try {
        await executeBatch('up', files, files, replay);
      } catch (error) {
        throw error instanceof RunnerError && error.exitCode !== EXIT.failed ? error : new ReplayFailedError(error);
      }
    }
    const current = await readModel(client, settings);
    const desired = desiredDatabase?.model ?? (await applyDesiredSchema(await another(), desiredFiles!, settings));
    const before = fingerprintSchema(current);
    const after = fingerprintSchema(desired);
    if (before === after) return Object.freeze({ status: 'no-changes', head, fingerprint: before });
    const differences = diffSchemas(current, desired).map(formatChange);
    if (options.check) return Object.freeze({ status: 'changes', head, differences });

    const withMajor: PlanOptions = { ...planOptions, serverMajor };
    const plan = planSchemaChange(current, desired, withMajor);
    if (plan.refusals.length > 0) throw new GenerateRefusedError(plan.refusals);
    const texts = migrationTexts({ message: message!, plan, head, beforeFingerprint: before, afterFingerprint: after, desiredSource });
    const now = options.now ?? new Date();
    const names: string[] = [];
    for (const text of texts) names.push(await migrationFileName([...files.map((f) => f.fileName), ...names], text.name, text.language, now));

    const proof = await proveMigration(client, files, texts, names, { current, desired, plan, planOptions: withMajor, settings, replay });
    const written: WrittenMigration[] = [];
    for (const [i, text] of texts.entries()) {
      const path = await createMigration(settings.dir, text.name, text.language, now, text.text);
      written.push({ path, name: names[i]!, statements: text.statements });
    }
    const manifestNote = await keepManifest(settings, manifest, files, current, proof.models);
    const lint = await lintWritten(written.map((w) => w.path), settings, serverMajor);
    return Object.freeze({
      status: 'written',
      head,
      before,
      after,
      differences,
      files: written,
      caveats: proof.caveats,
      notes: plan.notes,
      manifest: manifestNote,
      lint,
    });
  });
}

export interface ProofInput {
  readonly current: SchemaModel;
  readonly desired: SchemaModel;
  readonly plan: SchemaChangePlan;
  readonly planOptions: PlanOptions;
  readonly settings: Settings;
  /** How the scratch database runs migrations (replay.ts batchOptions). */
  readonly replay: BatchOptions;
}

export interface Proof {
  /** The schema after each new migration, for the manifest. */
  readonly models: readonly { readonly file: MigrationFile; readonly model: SchemaModel }[];
  readonly caveats: readonly string[];
}

/**
 * The new files, written to a folder of their own under their final names,
 * run in the scratch database at head as `migrate up` and then `migrate down`
 * run them; throws ProofFailedError with what differs.
 */
export async function proveMigration(client: Client, existing: readonly MigrationFile[], texts: readonly MigrationText[], names: readonly string[], input: ProofInput): Promise<Proof> {
  const folder = await mkdtemp(join(tmpdir(), 'migrate-generate-'));
  try {
    for (const [i, text] of texts.entries()) await writeFile(join(folder, names[i]!), text.text);
    const candidates = await readMigrationFiles(folder);
    const all = [...existing, ...candidates];
    const models: { file: MigrationFile; model: SchemaModel }[] = [];
    for (const file of candidates) {
      await runProofStep(() => executeBatch('up', [file], all, input.replay), `up of ${file.fileName} failed`);
      models.push({ file, model: await readModel(client, input.settings) });
    }
    const afterUp = models.at(-1)!.model;
    if (fingerprintSchema(afterUp) !== fingerprintSchema(input.desired)) {
      throw new ProofFailedError('after up the schema is not the desired one', diffSchemas(afterUp, input.desired).map(formatChange));
    }
    const again = planSchemaChange(afterUp, input.desired, input.planOptions);
    if (again.up.length > 0) {
      throw new ProofFailedError('planning again after up finds more to do', again.up.map((s) => s.sql.replace(/\s+/g, ' ')));
    }
    await runProofStep(() => executeBatch('down', [...candidates].reverse(), all, input.replay), 'down failed');
    const afterDown = await readModel(client, input.settings);
    const remaining = diffSchemas(input.current, afterDown);
    // The planner says when a down cannot put a dropped column back where it stood (ALTER TABLE appends).
    const declared = input.plan.notes.some((n) => n.includes('back as the last column'));
    const caveats = remaining.filter((d) => declared && d.kind === 'table' && d.change === 'changed' && (d.detail ?? '').startsWith('column order'));
    const unexpected = remaining.filter((d) => !caveats.includes(d));
    if (unexpected.length > 0) throw new ProofFailedError('after down the schema is not the one at head', unexpected.map(formatChange));
    return { models, caveats: caveats.map(formatChange) };
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

async function runProofStep(step: () => Promise<unknown>, what: string): Promise<void> {
  try {
    await step();
  } catch (error) {
    throw new ProofFailedError(`${what}: ${describeCause(error)}`, [], { cause: error });
  }
}

/**
 * The manifest gets the new revisions where it described the files before
 * (or where there were no files and no manifest yet), so `migrate verify`
 * passes without a new snapshot; otherwise it is left as it was, and the
 * note says what to run.
 */
async function keepManifest(
  settings: Settings,
  manifest: Manifest | null,
  files: readonly MigrationFile[],
  current: SchemaModel,
  models: readonly { readonly file: MigrationFile; readonly model: SchemaModel }[],
): Promise<string> {
  const written = await readMigrationFiles(settings.dir);
  const newFiles = models.map(({ file, model }) => ({ file: written.find((w) => w.name === file.name) ?? file, model }));
  if (manifest === null) {
    if (files.length > 0) return 'none (migrate snapshot writes one; verify needs it)';
    await writeManifest(settings.dir, buildManifest({ schema: settings.schema, privileges: settings.fingerprintPrivileges }, current, newFiles));
    return 'written';
  }
  // A format-2 manifest is the same on every major: the scratch server's major does not matter.
  const stale = findStaleness(manifest, files, settings.schema, settings.fingerprintPrivileges);
  if (stale !== null) return `left as it was: it is stale (${stale}); run migrate snapshot`;
  const base = modelAt(manifest, null)!;
  const recorded = manifest.revisions.map((r) => ({ file: files.find((f) => f.name === r.name)!, model: modelAt(manifest, r.name)! }));
  const headModel = recorded.at(-1)?.model ?? base;
  if (fingerprintSchema(headModel) !== fingerprintSchema(current)) return 'left as it was: its head fingerprint differs from the replay; run migrate snapshot';
  await writeManifest(settings.dir, buildManifest({ schema: settings.schema, privileges: settings.fingerprintPrivileges }, base, [...recorded, ...newFiles]));
  return 'updated';
}

async function lintWritten(paths: readonly string[], settings: Settings, serverMajor: number): Promise<{ findings: readonly LintFinding[] } | { skipped: string }> {
  try {
    const report = await lintFiles(paths, { ...settings.lint, serverMajor });
    return { findings: report.findings };
  } catch (error) {
    if (error instanceof RunnerError && error.exitCode === EXIT.usage) return { skipped: `${error.message}${error.hint ? ` (${error.hint})` : ''}` };
    throw error;
  }
}
