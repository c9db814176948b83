/** Commands that act: auto, up, down, stamp, sql, create/generate, reset. */
import { InvalidArgumentError, type Command } from 'commander';
import { createMigration } from '../files/createMigration.js';
import { RunnerError, UsageError } from '../core/errors.js';
import { readMigrationFiles } from '../files/migrationFiles.js';
import { offlineScript } from '../offlineSql.js';
import { resetDatabase } from '../reset.js';
import { runMigrations, type RunCommand } from '../runMigrations.js';
import type { LogLevel } from '../config/settings.js';
import { previewSql } from '../sqlPreview.js';
import type { RunReport } from '../core/types.js';
import { formatReport } from './format.js';
import { generateFromSchema, type AutogenerateFlags } from './schemaCommands.js';
import { action, parseSeconds, type CommandContext } from './main.js';
import { observeOnce } from './readCommands.js';

export function registerWriteCommands(program: Command, contextFor: (c: Command) => CommandContext): void {
  const run = (ctx: CommandContext, command: RunCommand, flags: RunFlags = {}) => runAndReport(ctx, command, flags);

  program
    .command('auto', { isDefault: false })
    .description('detect, log the state and plan, and act on the plan (the container entrypoint runs this)')
    .option('--baseline <rev>', 'stamp a legacy database at REV instead of matching fingerprints')
    .option('--allow-modified', 'run even though an applied migration file was edited')
    .option('--refuse-on-drift', 'refuse when the live schema drifted from the recorded fingerprints')
    .option('--out-of-order', OUT_OF_ORDER)
    .option('--ddl-lock-timeout <ms>', 'lock_timeout for each migration transaction, in ms (0 = off)', parseCount)
    .option(...MIGRATION_TIMEOUT)
    .option(...CHECK_SCHEMA)
    .action(action(contextFor, (ctx, opts: RunFlags) => run(ctx, { kind: 'auto' }, opts)));

  program
    .command('up')
    .alias('upgrade')
    .argument('[target]', 'head (default), a migration name or a unique prefix of one (4+ characters), or +N (the next N)')
    .description('apply pending migrations up to TARGET')
    .option('--allow-modified', 'run even though an applied migration file was edited')
    .option('--out-of-order', OUT_OF_ORDER)
    .option('--ddl-lock-timeout <ms>', 'lock_timeout for each migration transaction, in ms (0 = off)', parseCount)
    .option(...MIGRATION_TIMEOUT)
    .option(...CHECK_SCHEMA)
    .option('--sql', 'print the SQL instead of running it, as migrate sql (Alembic\'s upgrade --sql)')
    .option('--offline', 'with --sql: build it without a database, as migrate sql --offline')
    .action(action(contextFor, (ctx, target: string | undefined, opts: SqlFlags & RunFlags) =>
      opts.sql || opts.offline ? printSql(ctx, 'up', target, opts) : run(ctx, { kind: 'up', target: target ?? 'head' }, opts),
    ));

  program
    .command('down')
    .alias('downgrade')
    .argument('[target]', 'a migration name or unique prefix (it stays applied), base (revert everything), or -N (the last N)')
    .option('--steps <n>', 'revert the last N migrations (default 1); not with a target', parseSteps)
    .option('--allow-modified', 'run even though an applied migration file was edited')
    .option(...MIGRATION_TIMEOUT)
    .option(...CHECK_SCHEMA)
    .option('--sql', 'print the SQL instead of running it, as migrate sql --down (Alembic\'s downgrade --sql)')
    .option('--offline', 'with --sql: build it without a database, as migrate sql --down --offline')
    .description('revert the last migration, --steps N, -N, down to TARGET, or base')
    .action(action(contextFor, (ctx, target: string | undefined, opts: SqlFlags & { steps?: number }) => {
      if (opts.sql || opts.offline) return printSql(ctx, 'down', target, opts);
      return run(ctx, { kind: 'down', ...(target !== undefined && { target }), ...(opts.steps !== undefined && { steps: opts.steps }) });
    }));

  program
    .command('stamp')
    .argument('<revision>', 'head, base, or a migration name')
    .description('make the history say "applied through REVISION" without running any migration')
    .action(action(contextFor, (ctx, revision: string) => run(ctx, { kind: 'stamp', revision })));

  program
    .command('repair')
    .option('--dry-run', 'only list the edited files; record nothing')
    .description('record the checksums of applied migration files edited since they ran, as they are now (Flyway\'s repair)')
    .action(action(contextFor, (ctx, opts: { dryRun?: boolean }) => (opts.dryRun ? listRepairs(ctx) : run(ctx, { kind: 'repair' }))));

  program
    .command('sql')
    .argument('[target]', 'as for up (head, a name or prefix, +N); with --down as for down (a name or prefix, base, -N); with --offline [FROM:]TO')
    .option('--allow-modified', 'print it even though an applied migration file was edited')
    .option('--down', 'the SQL that down would run (default: the last migration)')
    .option('--offline', 'build it from the files alone, no database (Alembic\'s offline mode): .sql files and migrations that only use the builder; from base (up) or head (--down)')
    .description('print the SQL that up (or down) would run; touches nothing')
    .action(action(contextFor, (ctx, target: string | undefined, opts: { down?: boolean; offline?: boolean }) =>
      printSql(ctx, opts.down ? 'down' : 'up', target, { sql: true, ...(opts.offline && { offline: true }) }),
    ));

  const create = async (ctx: CommandContext, name: string, lang?: string) => {
    const path = await createMigration(ctx.settings.dir, name, lang);
    if (ctx.json) ctx.printJson({ path });
    else ctx.print(path);
  };
  program
    .command('create')
    .argument('<name>', 'what the migration does, e.g. add_orders')
    .option('--lang <lang>', 'sql, ts or js (default: the last file\'s, else sql)')
    .description('write a new migration file from a template and print its path')
    .action(action(contextFor, (ctx, name: string, opts: { lang?: string } & AutogenerateFlags) =>
      opts.autogenerate ? generateFromSchema(ctx, name, opts) : create(ctx, name, opts.lang),
    ));
  program
    .command('generate')
    .alias('revision')
    .argument('[message]', 'what the migration does, e.g. "add users" (or -m)')
    .option('-m, --message <message>', 'what the migration does')
    .option('--lang <lang>', 'sql, ts or js')
    .description('alias of create, Alembic style: generate "add users", generate -m "add users", revision -m "add users"')
    .action(action(contextFor, (ctx, message: string | undefined, opts: { message?: string; lang?: string } & AutogenerateFlags) => {
      if (message !== undefined && opts.message !== undefined) {
        throw new UsageError('generate: give the message once, as an argument or with -m, not both');
      }
      const text = message ?? opts.message;
      if (opts.autogenerate) return generateFromSchema(ctx, text, opts);
      if (text === undefined) throw new UsageError('generate needs a message', { hint: 'migrate generate "add users" (or -m "add users")' });
      return create(ctx, text, opts.lang);
    }));

  program
    .command('reset')
    .option('--confirm', 'yes, drop every object in the managed schema and the history')
    .option('--force', 'allow it where NODE_ENV or APP_ENV is production')
    .description('drop every object in the managed schema and the history')
    .action(action(contextFor, async (ctx, opts: { confirm?: boolean; force?: boolean }) => {
      const result = await resetDatabase({ ...ctx.settingsInput, ...opts, logger: ctx.logger });
      if (ctx.json) ctx.printJson(result);
      else ctx.print(`reset: dropped ${result.dropped} objects`);
    }));
}

/** --check-schema: the schema a batch leaves must be the one the manifest recorded, or it is rolled back. */
const CHECK_SCHEMA = [
  '--check-schema',
  'before each COMMIT, compare the live schema with the fingerprint the manifest recorded for the revision reached; roll back on a mismatch, naming it (config checkSchema)',
] as const;

/** --migration-timeout: a migration that runs longer is cancelled on the server and in Node, and the batch rolled back. */
const MIGRATION_TIMEOUT = [
  '--migration-timeout <seconds>',
  'cancel a migration that takes longer (building and running), roll back, exit 1 (default: 0 = no limit)',
  parseSeconds,
] as const;

const OUT_OF_ORDER = 'apply files merged late (sorting before applied ones) in file order with the rest, and record them (config outOfOrder)';

/** Flags of an acting command that are settings of its run only. */
interface RunFlags {
  readonly outOfOrder?: boolean;
}

async function runAndReport(ctx: CommandContext, command: RunCommand, flags: RunFlags = {}): Promise<void> {
  try {
    const report = await runMigrations({
      ...ctx.settingsInput,
      ...(flags.outOfOrder && { outOfOrder: true }),
      command,
      logger: ctx.logger,
      signal: ctx.takeSignals(),
    });
    printReport(ctx, report);
  } catch (error) {
    // The partial report still goes to stdout for --json; the error line is main's.
    const report = error instanceof RunnerError ? error.report : null;
    if (report && ctx.json) printReport(ctx, report);
    throw error;
  }
}

function printReport(ctx: CommandContext, report: RunReport): void {
  if (ctx.json) ctx.printJson(report);
  // The log tells the run as it goes (state and plan, each migration as it finishes, the end), on a
  // terminal and in a container alike; at info or debug the same events again on stdout would say each
  // twice, in another format. At warn or error the report is the only account of the run.
  else if (!narrates(ctx.settings.logLevel)) ctx.print(formatReport(report));
}

function narrates(level: LogLevel): boolean {
  return level === 'info' || level === 'debug';
}

interface SqlFlags extends RunFlags {
  readonly sql?: boolean;
  readonly offline?: boolean;
  readonly steps?: number;
}

/**
 * `sql`, `sql --down`, `up --sql`, `down --sql`, each with `--offline`: the
 * SQL of what up or down would run, built in a read-only transaction that is
 * rolled back (src/sqlPreview.ts), or from the files alone (src/offlineSql.ts).
 */
async function printSql(ctx: CommandContext, direction: 'up' | 'down', target: string | undefined, flags: SqlFlags): Promise<void> {
  if (flags.offline && !flags.sql) throw new UsageError(`${direction} --offline goes with --sql`, { hint: `migrate ${direction} --sql --offline, or migrate sql${direction === 'down' ? ' --down' : ''} --offline` });
  const steps = flags.steps;
  // Said for sql, not up/down: the planner's "a step back is down -1" would point at the command that runs.
  if (target && /^[+-]\d+$/.test(target) && (target.startsWith('+') ? direction === 'down' : direction === 'up')) {
    throw new UsageError(`sql${direction === 'down' ? ' --down' : ''} ${target}: ${direction === 'up' ? `a step back is sql --down ${target}` : `a step forward is sql ${target}`}`);
  }
  if (flags.offline) {
    if (steps !== undefined && target !== undefined) throw new UsageError(`down ${target} --steps ${steps}: give a target or --steps, not both`);
    const files = await readMigrationFiles(ctx.settings.dir);
    const range = steps !== undefined ? `-${steps}` : target;
    ctx.print(await offlineScript(files, { direction, ...(range !== undefined && { range }), schema: ctx.settings.schema, table: ctx.settings.table, logger: ctx.logger }));
    return;
  }
  const command: RunCommand =
    direction === 'up'
      ? { kind: 'up', target: target ?? 'head' }
      : { kind: 'down', ...(target !== undefined && { target }), ...(steps !== undefined && { steps }) };
  ctx.print(await previewSql({ ...ctx.settingsInput, ...(flags.outOfOrder && { outOfOrder: true }), command, logger: ctx.logger }));
}

/**
 * `repair --dry-run`: the applied files whose checksum changed, read as
 * `status` reads (no lock, no write).
 */
async function listRepairs(ctx: CommandContext): Promise<void> {
  const { detection, files } = await observeOnce(ctx, { checkDrift: false, reconcile: 'none' });
  const byName = new Map(files.map((f) => [f.name, f]));
  const edited = detection.findings.flatMap((f) => (f.kind === 'checksum-mismatch' ? [f] : []));
  if (ctx.json) {
    ctx.printJson({ dryRun: true, repair: edited.map((f) => ({ name: f.name, file: byName.get(f.name)?.path ?? null, recorded: f.recorded, actual: f.actual })) });
    return;
  }
  if (!edited.length) ctx.print('nothing to repair: no applied migration was edited since it ran');
  for (const f of edited) ctx.print(`would record ${f.name} as it is now (${byName.get(f.name)?.fileName ?? f.name} was edited after it ran)`);
}

function parseSteps(value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return Number(value);
}

function parseCount(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError('expected a whole number');
  return Number(value);
}
