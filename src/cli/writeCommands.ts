/** Commands that act: auto, up, down, stamp, sql, create/generate, reset. */
import { InvalidArgumentError, type Command } from 'commander';
import { createMigration } from '../createMigration.js';
import { RunnerError } from '../errors.js';
import { resetDatabase } from '../reset.js';
import { runMigrations, type RunCommand } from '../runMigrations.js';
import { previewSql } from '../sqlPreview.js';
import type { RunReport } from '../types.js';
import { formatReport } from './format.js';
import { action, parseSeconds, type CommandContext } from './main.js';

export function registerWriteCommands(program: Command, contextFor: (c: Command) => CommandContext): void {
  const run = (ctx: CommandContext, command: RunCommand) => runAndReport(ctx, command);

  program
    .command('auto', { isDefault: false })
    .description('detect, log the state and plan, and act on the plan (the container entrypoint runs this)')
    .option('--baseline <rev>', 'stamp a legacy database at REV instead of matching fingerprints')
    .option('--allow-modified', 'run even though an applied migration file was edited')
    .option('--refuse-on-drift', 'refuse when the live schema drifted from the recorded fingerprints')
    .option('--ddl-lock-timeout <ms>', 'lock_timeout for each migration transaction, in ms (0 = off)', parseCount)
    .option(...MIGRATION_TIMEOUT)
    .action(action(contextFor, (ctx) => run(ctx, { kind: 'auto' })));

  program
    .command('up')
    .alias('upgrade')
    .argument('[target]', 'head (default), a migration name, or +N')
    .description('apply pending migrations up to TARGET')
    .option('--allow-modified', 'run even though an applied migration file was edited')
    .option('--ddl-lock-timeout <ms>', 'lock_timeout for each migration transaction, in ms (0 = off)', parseCount)
    .option(...MIGRATION_TIMEOUT)
    .action(action(contextFor, (ctx, target?: string) => run(ctx, { kind: 'up', target: target ?? 'head' })));

  program
    .command('down')
    .alias('downgrade')
    .argument('[target]', 'a migration name (it stays applied), or base (revert everything)')
    .option('--steps <n>', 'revert the last N migrations (default 1)', parseSteps)
    .option('--allow-modified', 'run even though an applied migration file was edited')
    .option(...MIGRATION_TIMEOUT)
    .description('revert the last migration, --steps N, down to TARGET, or base')
    .action(action(contextFor, (ctx, target: string | undefined, opts: { steps?: number }) =>
      run(ctx, { kind: 'down', ...(target !== undefined && { target }), ...(opts.steps !== undefined && { steps: opts.steps }) }),
    ));

  program
    .command('stamp')
    .argument('<revision>', 'head, base, or a migration name')
    .description('make the history say "applied through REVISION" without running any migration')
    .action(action(contextFor, (ctx, revision: string) => run(ctx, { kind: 'stamp', revision })));

  program
    .command('sql')
    .argument('[target]', 'head (default), a migration name, or +N')
    .option('--allow-modified', 'print it even though an applied migration file was edited')
    .description('print the SQL that up would run; touches nothing')
    .action(action(contextFor, async (ctx, target?: string) => {
      ctx.print(await previewSql({ ...ctx.settingsInput, target: target ?? 'head', logger: ctx.logger }));
    }));

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
    .action(action(contextFor, (ctx, name: string, opts: { lang?: string }) => create(ctx, name, opts.lang)));
  program
    .command('generate')
    .requiredOption('-m, --message <message>', 'what the migration does')
    .option('--lang <lang>', 'sql, ts or js')
    .description('alias of create, Alembic style')
    .action(action(contextFor, (ctx, opts: { message: string; lang?: string }) => create(ctx, opts.message, opts.lang)));

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

/** --migration-timeout: a migration that runs longer is cancelled on the server and in Node, and the batch rolled back. */
const MIGRATION_TIMEOUT = [
  '--migration-timeout <seconds>',
  'cancel a migration that takes longer (building and running), roll back, exit 1 (default: 0 = no limit)',
  parseSeconds,
] as const;

async function runAndReport(ctx: CommandContext, command: RunCommand): Promise<void> {
  try {
    const report = await runMigrations({
      ...ctx.settingsInput,
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
  else ctx.print(formatReport(report));
}

function parseSteps(value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return Number(value);
}

function parseCount(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError('expected a whole number');
  return Number(value);
}
