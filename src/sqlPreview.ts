/**
 * `migrate sql`: the SQL `up` would run, built inside a READ ONLY transaction
 * that is rolled back, so nothing is created, locked or written (issue 3;
 * node-pg-migrate's dryRun is not dry: reference §6).
 */
import pg from 'pg';
import { planCommand, type RunCommand } from './core/commandPlanner.js';
import { migrationsOf } from './core/plans.js';
import { closeQuietly, serverMajorOf, useMigrationSearchPath } from './db/connection.js';
import { RefusedError, SqlPreviewError, describeCause } from './core/errors.js';
import { connectFor, observe, settingsOf, type RunnerOptions } from './observe.js';
import { historyLocationOf, metaTableOf, qualify } from './db/facts.js';
import type { Queryable } from './core/types.js';
import { createSilentLogger } from './config/logger.js';
import { buildMigration, checkBuiltSql, loadMigrationModule, type BuiltMigration, type MigrationModule } from './files/migrationModules.js';
import { readMigrationFiles } from './files/migrationFiles.js';
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
  const client = await connectFor(settings, logger);
  try {
    // `up` refuses a legacy database whatever revision it matches, so the match is not looked
    // for: no scratch database to replay in (CONTRACT.md: sql touches nothing).
    const { detection, facts } = await observe({ client, settings, files, logger, reconcile: 'none', invalidIndexes: false });
    const plan = planCommand(options.command ?? { kind: 'up', target: options.target ?? 'head' }, detection, files.map((f) => f.name));
    const direction = plan.action === 'revert' ? 'down' : 'up';
    const names = migrationsOf(plan);
    if (plan.action === 'refuse') {
      throw new RefusedError(plan.reason, null, { hint: `to settle it: ${plan.settleCommand}` });
    }
    const migrations: PreviewedMigration[] = [];
    const preview = { direction, current: detection.current, historyExists: facts.historyTableExists, serverMajor: serverMajorOf(client), migrations } as const;
    if (!names.length) return preview;
    await client.query('BEGIN READ ONLY');
    try {
      // As up runs them: unqualified names in the managed schema (the ROLLBACK below undoes the SET).
      await useMigrationSearchPath(client, settings.schema);
      let shorthands: Record<string, unknown> = {};
      for (const [index, name] of names.entries()) {
        const file = files.find((f) => f.name === name)!;
        const module = await loadMigrationModule(file);
        if (module.shorthands) shorthands = { ...shorthands, ...module.shorthands };
        const earlier = names.slice(0, index);
        const built = await buildMigration(file, module, direction, previewDb(client, file, earlier), shorthands, logger);
        // The same check up makes before it sends a JS/TS migration's SQL.
        const addsEnumValue = built.addsEnumValue ?? (file.extension === '.sql' ? false : (await checkBuiltSql(file, built.sql)).addsEnumValue);
        migrations.push({ file, module, built, addsEnumValue });
      }
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
    }
    return preview;
  } finally {
    await closeQuietly(client);
  }
}

/** `command`: what to print the SQL of, `up` (default, to `target`) or `down` (`sql --down`). */
export async function previewSql(options: RunnerOptions & { readonly target?: string; readonly command?: RunCommand } = {}): Promise<string> {
  const settings = settingsOf(options);
  const { direction, current, historyExists, migrations } = await buildPreview(options);
  const where = historyLocationOf(settings);
  const history = qualify(where.schema, where.table);
  const lines = [`-- migrate sql${direction === 'down' ? ' --down' : ''}: ${migrations.length} migration(s) ${direction === 'down' ? 'reverted from' : 'after'} ${current ?? 'base'}`];
  if (!migrations.length) return lines.concat(`-- nothing to ${direction === 'down' ? 'revert' : 'apply'}`).join('\n');
  lines.push('BEGIN;');
  if (!historyExists) {
    lines.push(
      `CREATE TABLE IF NOT EXISTS ${history} (id SERIAL PRIMARY KEY, name varchar(255) NOT NULL, run_on timestamp NOT NULL);`,
    );
  }
  for (const [index, { file, built, addsEnumValue }] of migrations.entries()) {
    lines.push(`-- ${file.fileName} (${direction})${built.transactional ? '' : ' -- runs outside the transaction'}`);
    if (!built.transactional) lines.push('COMMIT;');
    lines.push(...built.sql);
    lines.push(direction === 'down'
      ? `DELETE FROM ${history} WHERE name = ${pg.escapeLiteral(file.name)};`
      : `INSERT INTO ${history} (name, run_on) VALUES (${pg.escapeLiteral(file.name)}, NOW());`);
    if (!built.transactional) lines.push('BEGIN;');
    // up commits a new enum value before the next migration may use it.
    else if (addsEnumValue && index < migrations.length - 1) lines.push('COMMIT;', 'BEGIN;');
  }
  lines.push('COMMIT;');
  lines.push(`-- checksums and durations go to ${qualify(where.schema, metaTableOf(where.table))} when migrate runs it`);
  return lines.join('\n');
}

/**
 * The connection a migration's pgm.db queries while sql builds it. sql runs
 * no migration, so a query that reads what an earlier pending migration
 * makes, or that writes, cannot work here: say so, naming the migration,
 * rather than pass the server's bare error on.
 */
function previewDb(client: Queryable, file: MigrationFile, earlierPending: readonly string[]): Queryable {
  return {
    query: async (text: string, values?: unknown[]) => {
      try {
        return await client.query(text, values);
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
    },
  } as Queryable;
}

function listOf(names: readonly string[]): string {
  return names.length <= 3 ? names.join(', ') : `${names.slice(0, 2).join(', ')}, … ${names.at(-1)}`;
}
