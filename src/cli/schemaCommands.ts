/**
 * From a schema change to a migration (README "Changing the schema"):
 * `--autogenerate` and its flags on `generate`/`revision` and `create`, and
 * `lint`. The options are added here to the commands writeCommands.ts
 * registers; its handlers hand `--autogenerate` over to generateFromSchema.
 */
import { Option, type Command } from 'commander';
import { autogenerateMigration, GenerateRefusedError, ProofFailedError, type AutogenerateReport } from '../autogenerate/generate.js';
import { CheckFailedError, EXIT, UsageError } from '../core/errors.js';
import { lintFiles, lintPending, type LintReport } from '../lint/lintMigrations.js';
import { formatFinding } from '../lint/squawk.js';
import { action, type CommandContext } from './main.js';

/** The flags `--autogenerate` takes, as commander parses them. */
export interface AutogenerateFlags {
  readonly autogenerate?: boolean;
  readonly desired?: string;
  readonly desiredUrl?: string;
  readonly rename?: readonly string[];
  /** commander's `--no-renames`: false when given. */
  readonly renames?: boolean;
  readonly allowDataLoss?: boolean;
  readonly concurrently?: boolean;
  readonly check?: boolean;
}

export function registerSchemaCommands(program: Command, contextFor: (c: Command) => CommandContext): void {
  for (const name of ['generate', 'create']) {
    const command = program.commands.find((c) => c.name() === name);
    if (command) addAutogenerateOptions(command);
  }

  program
    .command('lint')
    .argument('[target]', 'lint the pending migrations up to TARGET (default head), as migrate sql builds them')
    .option('--file <path...>', 'lint these migration files instead, without a database')
    .option('--exclude <rules>', 'squawk rules not to check, comma-separated (also config lint.exclude)', collectRules, [])
    .option('--include <rules>', "squawk's opt-in rules to check too, comma-separated (also config lint.include)", collectRules, [])
    .description('check the SQL of the pending migrations (or of --file) with squawk for changes that lock or break a live application')
    .action(action(contextFor, async (ctx, target: string | undefined, opts: { file?: string[]; exclude: string[]; include: string[] }) => {
      const rules = {
        exclude: [...ctx.settings.lint.exclude, ...opts.exclude],
        include: [...ctx.settings.lint.include, ...opts.include],
      };
      if (opts.file && target !== undefined) throw new UsageError('lint: give a target or --file, not both');
      const report = opts.file
        ? await lintFiles(opts.file, rules, ctx.logger)
        : await lintPending({ ...ctx.settingsInput, logger: ctx.logger, ...(target !== undefined && { target }) }, rules);
      printLint(ctx, report);
      return report.findings.length > 0 ? EXIT.failed : EXIT.ok;
    }));
}

function addAutogenerateOptions(command: Command): void {
  command
    .option('--autogenerate', 'plan the migration from the difference between the migrations and the desired schema, prove it in a scratch database, write it')
    .option('--desired <path>', 'with --autogenerate: the desired schema, a .sql file or a folder of .sql files run in name order (config "desired")')
    .option('--desired-url <url>', 'with --autogenerate: the desired schema, read from a development database (read only)')
    .option('--rename <decision>', 'with --autogenerate: a rename, table:OLD=NEW or column:TABLE.OLD=NEW (repeatable)', (value: string, all: string[]) => [...all, value], [] as string[])
    .option('--no-renames', 'with --autogenerate: rename candidates are a drop and an add')
    .option('--allow-data-loss', 'with --autogenerate: plan drops and narrowing changes (each marked in the file)')
    .option('--concurrently', 'with --autogenerate: indexes on existing tables in a second migration, CONCURRENTLY, outside a transaction')
    .addOption(new Option('--check', "with --autogenerate: write nothing; exit 1 naming the differences when there are any (Alembic's check)"));
}

/**
 * `generate --autogenerate` (and `create NAME --autogenerate`): the report as
 * lines, or JSON; refusals, a failed proof and `--check` differences listed
 * on stdout before main prints the error's one line.
 */
export async function generateFromSchema(ctx: CommandContext, message: string | undefined, flags: AutogenerateFlags & { readonly lang?: string }): Promise<void> {
  if (flags.lang !== undefined && flags.lang !== 'sql') {
    throw new UsageError(`generate --autogenerate writes .sql migrations (and a .js one for CONCURRENTLY); --lang ${flags.lang} is not for it`);
  }
  let report: AutogenerateReport;
  try {
    report = await autogenerateMigration({
      ...ctx.settingsInput,
      logger: ctx.logger,
      ...(message !== undefined && { message }),
      ...(flags.desired !== undefined && { desired: flags.desired }),
      ...(flags.desiredUrl !== undefined && { desiredUrl: flags.desiredUrl }),
      renames: flags.rename ?? [],
      noRenames: flags.renames === false,
      allowDataLoss: flags.allowDataLoss ?? false,
      concurrently: flags.concurrently ?? false,
      check: flags.check ?? false,
    });
  } catch (error) {
    if (error instanceof GenerateRefusedError) {
      if (ctx.json) ctx.printJson({ status: 'refused', refusals: error.refusals });
      else for (const r of error.refusals) ctx.print(`refused: ${r.message}${r.hint ? ` (${r.hint})` : ''}`);
    } else if (error instanceof ProofFailedError) {
      if (ctx.json) ctx.printJson({ status: 'proof-failed', step: error.step, differences: error.differences });
      else for (const d of error.differences) ctx.print(`  ${d}`);
    }
    throw error;
  }
  if (ctx.json) ctx.printJson(report);
  switch (report.status) {
    case 'no-changes':
      if (!ctx.json) ctx.print(`no changes: the migrations (${report.head ?? 'base'}) build the desired schema; nothing written`);
      return;
    case 'changes':
      if (!ctx.json) for (const d of report.differences) ctx.print(d);
      throw new CheckFailedError(`the desired schema differs from the migrations (${report.head ?? 'base'}) in ${report.differences.length} place(s)`, {
        hint: 'migrate generate -m "…" --autogenerate writes the migration',
      });
    case 'written':
      if (ctx.json) return;
      for (const file of report.files) ctx.print(`wrote ${file.path} (${file.statements.up} up, ${file.statements.down} down)`);
      ctx.print(`proven: up reaches the desired schema (${report.after.slice(0, 12)}), down the schema at ${report.head ?? 'base'} (${report.before.slice(0, 12)})`);
      for (const caveat of report.caveats) ctx.print(`caveat: the down leaves ${caveat}; migrate verify will report it`);
      for (const note of report.notes) ctx.print(`note: ${note}`);
      ctx.print(`manifest: ${report.manifest}`);
      if ('skipped' in report.lint) ctx.print(`lint: skipped: ${report.lint.skipped}`);
      else {
        ctx.print(`lint: ${report.lint.findings.length} finding(s)`);
        for (const finding of report.lint.findings) ctx.print(`  ${formatFinding(finding)}`);
      }
  }
}

function printLint(ctx: CommandContext, report: LintReport): void {
  if (ctx.json) return ctx.printJson(report);
  for (const finding of report.findings) ctx.print(formatFinding(finding));
  ctx.print(
    report.migrations.length === 0
      ? 'lint: nothing to lint (no pending migrations)'
      : `lint: ${report.findings.length} finding(s) in ${report.migrations.length} migration(s)`,
  );
}

function collectRules(value: string, all: string[]): string[] {
  return [...all, ...value.split(',').map((r) => r.trim()).filter(Boolean)];
}
