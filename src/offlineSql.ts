/**
 * Building a migration's SQL without a database: `sql --offline` (Alembic's
 * offline mode, `alembic upgrade --sql`) and `show REV`. A `.sql` file is its
 * section; a JS/TS migration runs against node-pg-migrate's MigrationBuilder
 * with a `pgm.db` that has no server behind it, so one that queries while it
 * builds is named and refused instead of being given made-up answers.
 */
import pg from 'pg';
import { planOfflineRange } from './core/commandPlanner.js';
import { MigrationFileError, UsageError, describeCause } from './core/errors.js';
import { metaTableOf, qualify } from './db/facts.js';
import type { Queryable } from './core/types.js';
import type { Logger } from './config/logger.js';
import { buildMigration, loadMigrationModule, mayExportShorthands, type MigrationModule } from './files/migrationModules.js';
import type { MigrationFile } from './core/types.js';

export type OfflineBuild =
  | { readonly built: true; readonly sql: readonly string[]; readonly transactional: boolean }
  | { readonly built: false; readonly reason: string; readonly needsDatabase: boolean };

/** Asked of a `pgm.db` with no server: the build stops, and says why. */
class NeedsDatabase extends Error {
  constructor() {
    super('it queries the database while it builds (pgm.db), so its SQL needs a live database');
  }
}

/**
 * The SQL of one migration in one direction, or why it cannot be had offline.
 * Files that cannot be loaded are errors (exit 2), as for a run.
 */
export async function buildOffline(
  file: MigrationFile,
  direction: 'up' | 'down',
  allFiles: readonly MigrationFile[],
  logger: Logger,
  loaded?: MigrationModule,
): Promise<OfflineBuild> {
  const module = loaded ?? (await loadMigrationModule(file));
  let asked = false;
  const noServer: Queryable = {
    query: () => {
      asked = true;
      return Promise.reject(new NeedsDatabase());
    },
  };
  try {
    const built = await buildMigration(file, module, direction, noServer, await shorthandsBefore(file, allFiles), logger);
    // A migration that caught what pgm.db threw and went on built something else than it would.
    if (asked) return { built: false, reason: new NeedsDatabase().message, needsDatabase: true };
    return { built: true, sql: built.sql, transactional: built.transactional };
  } catch (error) {
    if (error instanceof MigrationFileError) throw error;
    if (asked) return { built: false, reason: new NeedsDatabase().message, needsDatabase: true };
    return { built: false, reason: describeCause(error), needsDatabase: false };
  }
}

/**
 * node-pg-migrate's column shorthands are cumulative over the files in order;
 * only files that may export them are imported (src/files/migrationModules.ts).
 */
async function shorthandsBefore(file: MigrationFile, allFiles: readonly MigrationFile[]): Promise<Record<string, unknown>> {
  let shorthands: Record<string, unknown> = {};
  for (const earlier of allFiles) {
    if (earlier.name !== file.name && !(await mayExportShorthands(earlier))) continue;
    const module = await loadMigrationModule(earlier);
    if (module.shorthands) shorthands = { ...shorthands, ...module.shorthands };
    if (earlier.name === file.name) break;
  }
  return shorthands;
}

export interface OfflineScriptOptions {
  readonly direction: 'up' | 'down';
  /** `[FROM:]TO` (commandPlanner.ts planOfflineRange). */
  readonly range?: string;
  readonly schema: string;
  readonly table: string;
  readonly logger: Logger;
}

/**
 * The script `sql --offline` prints: one transaction, every migration of the
 * range and its history row, as `migrate up`/`down` would write them; psql can
 * run it. The first migration that needs a live database refuses it all (exit 2).
 */
export async function offlineScript(files: readonly MigrationFile[], options: OfflineScriptOptions): Promise<string> {
  const { direction } = options;
  const range = planOfflineRange(direction, options.range, files.map((f) => f.name));
  const byName = new Map(files.map((f) => [f.name, f]));
  const history = qualify(options.schema, options.table);
  const lines = [
    `-- migrate sql --offline${direction === 'down' ? ' --down' : ''}: ${range.names.length} migration(s), ` +
      `${range.from ?? 'base'} to ${range.to ?? 'base'}, built without a database`,
  ];
  if (!range.names.length) return lines.concat(`-- nothing to ${direction === 'down' ? 'revert' : 'apply'}`).join('\n');
  lines.push('BEGIN;');
  if (direction === 'up') {
    lines.push(`CREATE TABLE IF NOT EXISTS ${history} (id SERIAL PRIMARY KEY, name varchar(255) NOT NULL, run_on timestamp NOT NULL);`);
  }
  for (const name of range.names) {
    const file = byName.get(name)!;
    const built = await buildOffline(file, direction, files, options.logger);
    if (!built.built) {
      throw new UsageError(`sql --offline: ${file.fileName} (${direction}) cannot be built without a database: ${built.reason}`, {
        hint: built.needsDatabase
          ? `drop --offline: migrate sql${direction === 'down' ? ' --down' : ''} builds it in a read-only transaction against the database`
          : 'fix the migration',
      });
    }
    lines.push(`-- ${file.fileName} (${direction})${built.transactional ? '' : ' -- runs outside the transaction'}`);
    if (!built.transactional) lines.push('COMMIT;');
    lines.push(...built.sql);
    lines.push(
      direction === 'down'
        ? `DELETE FROM ${history} WHERE name = ${pg.escapeLiteral(name)};`
        : `INSERT INTO ${history} (name, run_on) VALUES (${pg.escapeLiteral(name)}, NOW());`,
    );
    if (!built.transactional) lines.push('BEGIN;');
  }
  lines.push('COMMIT;');
  lines.push(`-- checksums and durations go to ${qualify(options.schema, metaTableOf(options.table))} when migrate runs it`);
  return lines.join('\n');
}
