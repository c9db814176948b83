/**
 * Replaying the migrations in a scratch database created (and always dropped)
 * on the same server: the source of the fingerprint manifest (`snapshot`), of
 * fingerprints computed on the fly for a legacy database without one, and of
 * `verify` (up, down, up: every down restores the previous schema).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { closeQuietly, connect, serverMajorOf, type Client } from '../connection.js';
import { ConfigError, RunnerError, describeCause, EXIT } from '../errors.js';
import { executeBatch } from '../execute.js';
import { runnerTablesIn } from '../introspect.js';
import { createSilentLogger, type Logger } from '../logger.js';
import { readSchemaModel } from '../schema/catalog.js';
import { describeDifference, diffSchemas } from '../schema/diff.js';
import { fingerprintSchema } from '../schema/fingerprint.js';
import type { SchemaModel } from '../schema/model.js';
import type { ConnectionTarget, Settings } from '../settings.js';
import type { MigrationFile } from '../types.js';
import { findStaleness, readManifest, type Manifest } from './manifest.js';
import { prepareScratchSession, replayManifest } from './manifestBuilder.js';
import { IncrementalSchemaReader } from '../schema/incrementalCatalog.js';

/** The role may not create the scratch database. */
export class ScratchDatabaseError extends ConfigError {}

export interface ReplayContext {
  readonly target: ConnectionTarget;
  readonly settings: Settings;
  readonly logger: Logger;
}

/** Creates a scratch database, runs `work` connected to it, and drops it on every path. */
export async function withScratchDatabase<T>(
  context: ReplayContext,
  work: (client: Client, serverMajor: number) => Promise<T>,
): Promise<T> {
  const admin = await connect(context.target, { waitTimeoutSeconds: context.settings.waitTimeoutSeconds });
  const name = `migrate_scratch_${randomBytes(6).toString('hex')}`;
  try {
    try {
      await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    } catch (error) {
      const code = (error as { code?: string }).code;
      const user = context.target.config.user ?? 'this role';
      throw new ScratchDatabaseError(
        code === '42501'
          ? `role ${user} may not create databases, and fingerprints need a scratch database`
          : `cannot create a scratch database: ${describeCause(error)}`,
        'scratch database',
        {
          cause: error,
          hint: code === '42501' ? `grant it CREATEDB (ALTER ROLE ${user} CREATEDB), or run snapshot where it may` : undefined,
        },
      );
    }
    context.logger.info(`created scratch database ${name}; it is dropped when done`);
    const scratch = await connect(
      { ...context.target, config: { ...context.target.config, database: name } },
      { waitTimeoutSeconds: 5 },
    );
    try {
      return await work(scratch, serverMajorOf(scratch));
    } finally {
      await closeQuietly(scratch);
    }
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`).catch((error: unknown) => {
      context.logger.warn(`could not drop scratch database ${name}: ${describeCause(error)}`);
    });
    await closeQuietly(admin);
  }
}

export function readModel(client: Client, settings: Settings): Promise<SchemaModel> {
  return readSchemaModel(client, readOptionsOf(settings));
}

function readOptionsOf(settings: Settings) {
  return { schema: settings.schema, excludeTables: runnerTablesIn(settings), privileges: settings.fingerprintPrivileges };
}

function batchOptions(client: Client, context: ReplayContext) {
  return {
    db: client,
    where: { schema: context.settings.schema, migrationsSchema: context.settings.migrationsSchema, table: context.settings.table },
    // Progress of a replay is noise; failures come back as errors.
    logger: createSilentLogger(),
    ddlLockTimeoutMs: 0,
    ddlLockRetries: 0,
    appliedBy: 'migrate snapshot',
  };
}

/**
 * Applies every migration one by one in a scratch database, reading the
 * schema after each (manifestBuilder.ts: only what each one changed, and
 * only from the first file the committed manifest does not already record).
 */
export async function computeManifest(context: ReplayContext, files: readonly MigrationFile[]): Promise<Manifest> {
  const previous = await readManifest(context.settings.dir).catch(() => null);
  const options = { schema: context.settings.schema, privileges: context.settings.fingerprintPrivileges };
  const replay = (reuse: Manifest | null) =>
    withScratchDatabase(context, (client) =>
      replayManifest({ db: client, apply: (batch) => executeBatch('up', batch, files, batchOptions(client, context)) }, files, readOptionsOf(context.settings), options, reuse),
    );
  return (previous !== null ? await replay(previous) : null) ?? (await replay(null))!;
}

export interface VerifyStep {
  readonly phase: 'up' | 'down' | 'up again';
  readonly migration: string;
  readonly ok: boolean;
  readonly problem?: string;
  readonly differences?: readonly string[];
}

export interface VerifyResult {
  readonly ok: boolean;
  readonly steps: readonly VerifyStep[];
  /** Why the committed manifest is stale, null when it is up to date, 'missing' when there is none. */
  readonly manifest: string | null;
}

/** up, down, up in a scratch database; every down must restore the previous fingerprint exactly. */
export async function verifyMigrations(
  context: ReplayContext,
  files: readonly MigrationFile[],
  manifest: Manifest | null,
): Promise<VerifyResult> {
  const steps: VerifyStep[] = [];
  const models: SchemaModel[] = [];
  await withScratchDatabase(context, async (client) => {
    await prepareScratchSession(client);
    // Each read after the first re-reads only what the last migration changed.
    const reader = new IncrementalSchemaReader(client, readOptionsOf(context.settings));
    models.push(await reader.read());
    const attempt = async (phase: VerifyStep['phase'], file: MigrationFile, direction: 'up' | 'down') => {
      try {
        await executeBatch(direction, [file], files, batchOptions(client, context));
        return true;
      } catch (error) {
        steps.push({ phase, migration: file.name, ok: false, problem: describeCause(error) });
        return false;
      }
    };
    for (const file of files) {
      if (!(await attempt('up', file, 'up'))) return;
      models.push(await reader.read());
      steps.push({ phase: 'up', migration: file.name, ok: true });
    }
    for (let i = files.length - 1; i >= 0; i--) {
      const file = files[i]!;
      if (!(await attempt('down', file, 'down'))) return;
      const model = await reader.read();
      const differences = fingerprintSchema(model) === fingerprintSchema(models[i]!) ? [] : diffSchemas(models[i]!, model).map(describeDifference);
      steps.push({
        phase: 'down',
        migration: file.name,
        ok: differences.length === 0,
        ...(differences.length && { problem: 'down does not restore the schema before up', differences }),
      });
      // A down that leaves objects behind would make the next ones fail for the wrong reason.
      if (differences.length) return;
    }
    for (const [i, file] of files.entries()) {
      if (!(await attempt('up again', file, 'up'))) return;
      const model = await reader.read();
      const same = fingerprintSchema(model) === fingerprintSchema(models[i + 1]!);
      const differences = same ? [] : diffSchemas(models[i + 1]!, model).map(describeDifference);
      steps.push({
        phase: 'up again',
        migration: file.name,
        ok: same,
        ...(!same && { problem: 'up after down gives another schema than the first up', differences }),
      });
    }
  });
  let stale = manifest ? findStaleness(manifest, files, context.settings.schema, context.settings.fingerprintPrivileges) : 'missing';
  if (manifest && stale === null && models.length === files.length + 1) {
    const recorded = new Map(manifest.revisions.map((r) => [r.name, r.fingerprint]));
    const differing = files.filter((f, i) => recorded.get(f.name) !== fingerprintSchema(models[i + 1]!)).map((f) => f.name);
    if (manifest.base.fingerprint !== fingerprintSchema(models[0]!)) differing.unshift('base');
    if (differing.length) stale = `recorded fingerprints differ from a replay for ${differing.join(', ')}`;
  }
  return { ok: steps.every((s) => s.ok) && stale === null, steps, manifest: stale };
}

/** `verify` found a problem: exit 1 (something to fix, like a failed migration). */
export class VerifyFailedError extends RunnerError {
  readonly exitCode = EXIT.failed;
}
