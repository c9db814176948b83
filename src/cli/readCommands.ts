/** Commands that change nothing: status, current, pending, history, heads, show, check, info, wait. */
import type { Command } from 'commander';
import { resolveRevision } from '../core/commandPlanner.js';
import { waitForDatabase } from '../db/connection.js';
import { EXIT } from '../core/errors.js';
import { observe, readWhileConnecting } from '../observe.js';
import { readMigrationFiles } from '../files/migrationFiles.js';
import { buildOffline, type OfflineBuild } from '../offlineSql.js';
import { requireConnection } from '../config/settings.js';
import { isUpToDate } from '../core/stateDetector.js';
import type { AppliedMigration, MigrationFile } from '../core/types.js';
import { action, parseSeconds, type CommandContext, type ContextFor } from './commandContext.js';
import {
  describeFinding,
  formatDetails,
  formatHistory,
  formatStatus,
  historyEntries,
  statusDocument,
  type HistoryEntry,
} from './format.js';
import type { LookChoices, Observation } from '../observe.js';
import { replayFingerprintsFor } from '../replayFingerprints.js';

export function registerReadCommands(program: Command, contextFor: ContextFor): void {
  program
    .command('status')
    .description('detect and print the state, plan and findings; changes nothing')
    .option('--baseline <rev>', 'revision a legacy database would be stamped at')
    .action(action(contextFor, async (ctx) => {
      const { detection, manifestStaleness } = await observeOnce(ctx);
      if (ctx.json) ctx.printJson(statusDocument(detection));
      else {
        ctx.print(formatStatus(detection));
        if (manifestStaleness) ctx.print(`manifest: stale (${manifestStaleness}); run migrate snapshot`);
      }
    }));

  program
    .command('current')
    .description('print the current revision name, or base')
    .option('-v, --verbose', 'also its file, when and by whom it was applied, how long it took, its checksum status')
    .action(action(contextFor, async (ctx, opts: { verbose?: boolean }) => {
      const { detection, files, facts } = await observeOnce(ctx, { ...NAMES_ONLY, historyDetails: Boolean(opts.verbose) });
      const entry = opts.verbose && detection.current !== null ? entryOf(detection.current, files, facts.applied) : null;
      if (ctx.json) ctx.printJson(opts.verbose ? { current: detection.current, migration: entry } : { current: detection.current });
      else if (entry) ctx.print(formatDetails(entry));
      else ctx.print(detection.current ?? 'base');
    }));

  program
    .command('pending')
    .description('print the pending migration names, one a line')
    .action(action(contextFor, async (ctx) => {
      const { detection } = await observeOnce(ctx, NAMES_ONLY);
      if (ctx.json) ctx.printJson({ pending: detection.pending });
      else if (detection.pending.length) ctx.print(detection.pending.join('\n'));
    }));

  program
    .command('history')
    .description('every migration: applied or pending, applied at, duration, checksum status')
    .option('-v, --verbose', 'one block per migration: its file, who applied it, when, how long it took, its checksum status')
    .action(action(contextFor, async (ctx, opts: { verbose?: boolean }) => {
      const { files, facts } = await observeOnce(ctx, { ...NAMES_ONLY, historyDetails: true });
      const entries = historyEntries(files, facts.applied);
      if (ctx.json) ctx.printJson({ migrations: entries });
      else if (opts.verbose) ctx.print(entries.length ? entries.map((e) => formatDetails(e)).join('\n\n') : '(no migrations)');
      else ctx.print(formatHistory(entries));
    }));

  program
    .command('heads')
    .description('print the head revision (the last migration file); migrations are one line, so there is one head')
    .option('-v, --verbose', 'also its file')
    .action(action(contextFor, async (ctx, opts: { verbose?: boolean }) => {
      const head = (await readMigrationFiles(ctx.settings.dir)).at(-1) ?? null;
      if (ctx.json) ctx.printJson({ heads: head ? [head.name] : [], ...(opts.verbose && { files: head ? [head.path] : [] }) });
      else if (head) ctx.print(opts.verbose ? `${head.name} (head)\nfile:        ${head.path}` : head.name);
    }));

  program
    .command('show')
    .argument('<revision>', 'a migration name or a unique prefix of one, head, or current')
    .description('one migration: its file, checksum status, when, by whom and how long it was applied, and the SQL of its up and down')
    .action(action(contextFor, async (ctx, revision: string) => show(ctx, revision)));

  program
    .command('check')
    .description('exit 0 when current with no refusing findings, else 1 (3 with --strict on drift)')
    .option('--strict', 'exit 3 when the live schema drifted from the recorded fingerprints, 1 when the manifest is stale')
    .action(action(contextFor, async (ctx, opts: { strict?: boolean }) => {
      const { detection, manifestStaleness } = await observeOnce(ctx);
      const drift = detection.findings.filter((f) => f.kind === 'drift');
      // docs/CONTRACT.md "Commands": exit 0 when current with no findings that refuse. Which findings refuse is the
      // detector's call (an edited file unless allowModified, drift with refuseOnDrift), as for auto.
      // A stale manifest is printed; it fails only --strict, whose drift check it makes unsure.
      // With no migration files at all and nothing applied there is nothing to do: ok (isUpToDate).
      const upToDate = isUpToDate(detection) && detection.plan.action !== 'refuse';
      const ok = upToDate && (!opts.strict || (drift.length === 0 && manifestStaleness === null));
      if (ctx.json) ctx.printJson({ ok, ...statusDocument(detection), manifestStaleness });
      else {
        // What failed it: under --strict a current database fails on drift or a stale manifest, and says so.
        const why = upToDate && drift.length
          ? `drift (the live schema differs from the recorded schema of ${drift[0]!.revision})`
          : upToDate
            ? `manifest stale (${manifestStaleness})`
            : `${detection.state} (${detection.plan.reason})`;
        ctx.print(ok ? `ok: ${detection.current ?? 'base'} is current` : `not ok: ${why}`);
        for (const f of detection.findings) ctx.print(`finding: ${describeFinding(f)}`);
        if (manifestStaleness) ctx.print(`manifest: stale (${manifestStaleness}); run migrate snapshot`);
      }
      if (opts.strict && drift.length) return EXIT.refused;
      return ok ? EXIT.ok : EXIT.failed;
    }));

  program
    .command('info')
    .description('connection target (password masked), config source, migrations folder, counts')
    .action(action(contextFor, async (ctx) => {
      const { settings } = ctx;
      const target = requireConnection(settings);
      const files = await readMigrationFiles(settings.dir);
      const info = {
        database: target.display,
        databaseSource: target.source,
        config: settings.configFile,
        migrationsDir: settings.dir,
        table: `${settings.migrationsSchema}.${settings.table}`,
        schema: settings.schema,
        migrations: files.length,
        head: files.at(-1)?.name ?? null,
        scratch: settings.scratch.kind === 'url' ? `${settings.scratch.server.display} (${settings.scratch.source})` : `${settings.scratch.kind} (${settings.scratch.source})`,
      };
      if (ctx.json) ctx.printJson(info);
      else {
        for (const [key, value] of Object.entries(info)) ctx.print(`${`${key}:`.padEnd(16)}${value ?? '-'}`);
      }
    }));

  program
    .command('wait')
    .description('wait until the database accepts connections (exit 4 past the timeout)')
    .option('--timeout <seconds>', 'seconds to wait', parseSeconds, 60)
    .action(action(contextFor, async (ctx, opts: { timeout: number }) => {
      const target = requireConnection(ctx.settings);
      const started = Date.now();
      ctx.logger.info(`waiting up to ${opts.timeout}s for ${target.display}`);
      await waitForDatabase(target, {
        waitTimeoutSeconds: opts.timeout,
        onRetry: (attempt, reason) => ctx.logger.debug('database not ready', { attempt, reason }),
      });
      ctx.logger.info(`database ready after ${Date.now() - started} ms`);
    }));
}

/**
 * current, pending and history need the history, not the revision a legacy
 * database matches nor drift: no replay, no read of the live schema.
 */
const NAMES_ONLY: LookChoices = { reconcile: 'none', checkDrift: false };


/** One look at the database, as `status` takes it: read only, on a connection of its own. */
export async function observeOnce(ctx: CommandContext, options: LookChoices = {}): Promise<Observation> {
  const replay = replayFingerprintsFor(ctx.settings, ctx.logger);
  return readWhileConnecting(ctx.settings, ctx.logger, (client, files) =>
    observe({ client, settings: ctx.settings, files, logger: ctx.logger, replay, ...options }));
}

/** The history entry of one migration, on disk or only in the history. */
function entryOf(name: string, files: readonly MigrationFile[], applied: readonly AppliedMigration[]): HistoryEntry | null {
  return historyEntries(files, applied).find((e) => e.name === name) ?? null;
}

/**
 * `show REV`: what the history knows of it (when a database is given) and the
 * SQL of both directions, built without a database (src/offlineSql.ts): a
 * JS/TS migration that queries while it builds says so instead.
 */
async function show(ctx: CommandContext, revision: string): Promise<void> {
  let files: readonly MigrationFile[];
  let applied: readonly AppliedMigration[] = [];
  let current: string | null = null;
  if (ctx.settings.connection) {
    const observed = await observeOnce(ctx, { historyDetails: true, checkDrift: false, reconcile: 'none' });
    files = observed.files;
    applied = observed.facts.applied;
    current = observed.detection.current;
  } else {
    files = await readMigrationFiles(ctx.settings.dir);
  }
  const known = [...files.map((f) => f.name), ...applied.map((a) => a.name)];
  const name =
    revision === 'head'
      ? (files.at(-1)?.name ?? null)
      : revision === 'current'
        ? current
        : resolveRevision(revision, known);
  if (name === null) {
    ctx.print(revision === 'head' ? '(no migrations)' : 'base');
    return;
  }
  const entry = entryOf(name, files, applied)!;
  const file = files.find((f) => f.name === name) ?? null;
  const sql = file
    ? { up: await buildOffline(file, 'up', files, ctx.logger), down: await buildOffline(file, 'down', files, ctx.logger) }
    : null;
  const historyKnown = ctx.settings.connection !== null;
  if (ctx.json) {
    ctx.printJson({ ...entry, ...(!historyKnown && { status: 'unknown (no database given)' }), ...(sql && { up: sqlDocument(sql.up), down: sqlDocument(sql.down) }) });
    return;
  }
  const lines = [formatDetails(entry, historyKnown ? undefined : 'unknown (no database given)')];
  for (const direction of ['up', 'down'] as const) {
    const built = sql?.[direction];
    lines.push('');
    if (!built) lines.push(`-- ${direction}: the file is not on disk`);
    else if (built.built) lines.push(`-- ${direction}${built.transactional ? '' : ' (runs outside a transaction)'}`, ...built.sql);
    else lines.push(`-- ${direction}: not built: ${built.reason}${built.needsDatabase ? `; migrate sql${direction === 'down' ? ' --down' : ''} builds it in a read-only transaction` : ''}`);
  }
  ctx.print(lines.join('\n'));
}

function sqlDocument(built: OfflineBuild): object {
  return built.built
    ? { sql: built.sql, transactional: built.transactional }
    : { sql: null, error: built.reason, needsDatabase: built.needsDatabase };
}
