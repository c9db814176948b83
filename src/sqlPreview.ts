/**
 * `migrate sql`: the SQL `up` would run, built inside a READ ONLY transaction
 * that is rolled back, so nothing is created, locked or written (docs/CONTRACT.md
 * "Commands"). node-pg-migrate 9's dryRun is not dry: its src/migration.ts skips
 * only the generated steps, and still takes the lock, creates the history table
 * and runs pgm.db queries. The files are loaded, built, checked and cut into
 * transactions by the code `up` runs (src/files/migrationBatch.ts); only pgm.db
 * differs, which cannot see what earlier pending migrations would make.
 */
import { planCommand, refusalOf, type RunCommand } from './core/commandPlanner.js';
import { migrationsOf } from './core/plans.js';
import { askEscapeStrings, reportedEscapeStrings, serverMajorOf, useMigrationSearchPath, withClient } from './db/connection.js';
import { inReadOnlyTransaction, transactionStatusOf } from './db/transaction.js';
import { MigrationFileError, SqlPreviewError, describeCause, rejectAsRunnerError } from './core/errors.js';
import { connectFor, observe, settingsOf, type RunnerOptions } from './observe.js';
import { historyLocationOf } from './db/facts.js';
import type { Queryable } from './core/types.js';
import { createSilentLogger } from './config/logger.js';
import { boundaryOf, buildChecked, loadBatch, missingDownRefusal } from './files/migrationBatch.js';
import { checkBuiltSql, refuseEscapedStrings, type BuiltMigration, type MigrationModule } from './files/migrationModules.js';
import { readMigrationFiles } from './files/migrationFiles.js';
import { batchScript } from './sqlScript.js';
import type { MigrationFile } from './core/types.js';

/** One migration of a preview: its file, how it was loaded, and what it built. */
export interface PreviewedMigration {
  readonly file: MigrationFile;
  readonly module: MigrationModule;
  readonly built: BuiltMigration;
  /** Whether up commits after it (it adds an enum value), so the next migration may use the value. */
  readonly addsEnumValue: boolean;
}

export interface Preview {
  readonly direction: 'up' | 'down';
  readonly current: string | null;
  readonly historyExists: boolean;
  readonly serverMajor: number;
  readonly migrations: readonly PreviewedMigration[];
}

/**
 * What `up` (or `down`) would run, migration by migration, built inside a READ
 * ONLY transaction that is rolled back: the one builder of `sql` and `lint`.
 */
export async function buildPreview(options: RunnerOptions & { readonly target?: string; readonly command?: RunCommand } = {}): Promise<Preview> {
  const settings = settingsOf(options);
  const logger = options.logger ?? createSilentLogger();
  const files = await readMigrationFiles(settings.dir);
  return withClient(() => connectFor(settings, logger), async (client) => {
    // `up` refuses a legacy database whatever revision it matches, so the match is not looked
    // for: no scratch database to replay in (docs/CONTRACT.md "Commands": sql touches nothing).
    const { detection, facts } = await observe({ client, settings, files, logger, reconcile: 'none', invalidIndexes: false });
    const plan = planCommand(options.command ?? { kind: 'up', target: options.target ?? 'head' }, detection, files.map((f) => f.name));
    const direction = plan.action === 'revert' ? 'down' : 'up';
    const names = migrationsOf(plan);
    const refusal = refusalOf(plan, null);
    if (refusal) throw refusal;
    const migrations: PreviewedMigration[] = [];
    const preview = { direction, current: detection.current, historyExists: facts.historyTableExists, serverMajor: serverMajorOf(client), migrations } as const;
    if (!names.length) return preview;
    const byName = new Map(files.map((f) => [f.name, f]));
    const batch = names.map((name) => byName.get(name)!);
    const loaded = await loadBatch(batch, files);
    if (direction === 'down') {
      for (const file of batch) {
        const refused = missingDownRefusal(file, loaded.modules.get(file.name)!);
        if (refused) throw refused;
      }
    }
    await inReadOnlyTransaction(client, async () => {
      // As up runs them: unqualified names in the managed schema (the ROLLBACK undoes the SET).
      await useMigrationSearchPath(client, settings.schema);
      for (const [index, file] of batch.entries()) {
        const module = loaded.modules.get(file.name)!;
        const built = await buildChecked(file, module, direction, previewDb(client, file, names.slice(0, index)), loaded, logger);
        migrations.push({ file, module, built, addsEnumValue: boundaryOf(built) === 'commit-after' });
      }
    });
    return preview;
  }).catch(rejectAsRunnerError);
}

/** `command`: what to print the SQL of, `up` (default, to `target`) or `down` (`sql --down`). */
export async function previewSql(options: RunnerOptions & { readonly target?: string; readonly command?: RunCommand } = {}): Promise<string> {
  const settings = settingsOf(options);
  const { direction, current, historyExists, migrations } = await buildPreview(options);
  return batchScript(migrations, {
    header: `-- migrate sql${direction === 'down' ? ' --down' : ''}: ${migrations.length} migration(s) ${direction === 'down' ? 'reverted from' : 'after'} ${current ?? 'base'}`,
    direction,
    history: historyLocationOf(settings),
    createHistory: !historyExists,
  });
}

/** standard_conforming_strings is off: as the server reported it, or, for a client whose report was not seen, as it says. */
async function escapesStrings(client: Queryable): Promise<boolean> {
  return reportedEscapeStrings(client) ?? (await askEscapeStrings(client));
}

/**
 * The connection a migration's pgm.db queries while sql builds it, inside
 * its READ ONLY transaction. sql runs no migration, so a query that reads
 * what an earlier pending migration makes, or that writes, cannot work here:
 * say so, naming the migration, rather than pass the server's bare error on.
 * What would end that transaction is refused before it is sent, as up
 * refuses it (checkBuiltSql), and the server's transaction status is checked
 * after every query: past a COMMIT, the migration's next query would run,
 * and write, outside it.
 */
function previewDb(client: Queryable, file: MigrationFile, earlierPending: readonly string[]): Queryable {
  return {
    query: async (text: string, values?: unknown[]) => {
      const sent = typeof text === 'string' ? text : String((text as { text?: unknown }).text ?? '');
      await checkBuiltSql(file, [sent], 'sends through pgm.db');
      // As up checks it: with the setting off, the server may read a COMMIT the check above could not see.
      if (await escapesStrings(client)) await refuseEscapedStrings(file, sent, null);
      let result: Awaited<ReturnType<Queryable['query']>>;
      try {
        result = await client.query(text, values);
      } catch (error) {
        const readOnly = (error as { code?: string }).code === '25006';
        const why = readOnly
          ? 'it writes through pgm.db while it is built, and sql, which changes nothing, cannot run that'
          : earlierPending.length
            ? `sql builds each migration without running the pending ones before it (${listOf(earlierPending)}), so what they make is not there yet`
            : 'sql cannot build it without running that query';
        throw new SqlPreviewError(
          file.name,
          `sql cannot show ${file.name}: it queries the database while it is built (pgm.db) and got "${describeCause(error)}"; ${why}`,
          {
            cause: error,
            hint: earlierPending.length && !readOnly
              ? `apply the earlier migrations first (migrate up ${earlierPending.at(-1)}), then run sql again`
              : `read the SQL in ${file.fileName}`,
          },
        );
      }
      if (transactionStatusOf(client) !== 'in-transaction') {
        throw new MigrationFileError(
          `migration file ${file.fileName} ended sql's read-only transaction through pgm.db (a COMMIT or ROLLBACK the checks before sending could not see); sql stopped before its next query`,
          file.path,
          { hint: 'remove the COMMIT or ROLLBACK from the migration; for SQL that must run outside a transaction, call pgm.noTransaction()' },
        );
      }
      return result;
    },
  } as Queryable;
}

function listOf(names: readonly string[]): string {
  return names.length <= 3 ? names.join(', ') : `${names.slice(0, 2).join(', ')}, … ${names.at(-1)}`;
}
