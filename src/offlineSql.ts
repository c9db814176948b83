/**
 * Building a migration's SQL without a database: `sql --offline` (Alembic's
 * offline mode, `alembic upgrade --sql`) and `show REV`. A `.sql` file is its
 * section; a JS/TS migration runs against node-pg-migrate's MigrationBuilder
 * with a `pgm.db` that has no server behind it, so one that queries while it
 * builds is named and refused instead of being given made-up answers.
 */
import { planOfflineRange } from './core/commandPlanner.js';
import { MigrationFileError, UsageError, describeCause } from './core/errors.js';
import { historyLocationOf, type RunnerLocation } from './db/facts.js';
import type { Queryable } from './core/types.js';
import type { Logger } from './config/logger.js';
import { buildChecked, loadBatch, type LoadedBatch } from './files/migrationBatch.js';
import type { BuiltMigration } from './files/migrationModules.js';
import { batchScript } from './sqlScript.js';
import type { MigrationFile } from './core/types.js';

export type OfflineBuild =
  | ({ readonly built: true } & BuiltMigration)
  | { readonly built: false; readonly reason: string; readonly needsDatabase: boolean };

/** Asked of a `pgm.db` with no server: the build stops, and says why. */
class NeedsDatabase extends Error {
  constructor() {
    super('it queries the database while it builds (pgm.db), so its SQL needs a live database');
  }
}

/**
 * The SQL of one migration in one direction, or why it cannot be had offline,
 * built and checked as up builds it (src/files/migrationBatch.ts), with the
 * shorthands of `allFiles` up to it (or of `loaded`, a batch loaded already).
 * Files that cannot be loaded, or whose SQL would end the batch's
 * transaction, are errors (exit 2), as for a run.
 */
export async function buildOffline(
  file: MigrationFile,
  direction: 'up' | 'down',
  allFiles: readonly MigrationFile[],
  logger: Logger,
  loaded?: LoadedBatch,
): Promise<OfflineBuild> {
  const batch = loaded ?? (await loadBatch([file], allFiles));
  let asked = false;
  const noServer: Queryable = {
    query: () => {
      asked = true;
      return Promise.reject(new NeedsDatabase());
    },
  };
  try {
    const built = await buildChecked(file, batch.modules.get(file.name)!, direction, noServer, batch, logger);
    // A migration that caught what pgm.db threw and went on built something else than it would.
    if (asked) return { built: false, reason: new NeedsDatabase().message, needsDatabase: true };
    return { built: true, ...built };
  } catch (error) {
    if (error instanceof MigrationFileError) throw error;
    if (asked) return { built: false, reason: new NeedsDatabase().message, needsDatabase: true };
    return { built: false, reason: describeCause(error), needsDatabase: false };
  }
}

export interface OfflineScriptOptions extends RunnerLocation {
  readonly direction: 'up' | 'down';
  /** `[FROM:]TO` (commandPlanner.ts planOfflineRange). */
  readonly range?: string;
  readonly logger: Logger;
}

/**
 * The script `sql --offline` prints (src/sqlScript.ts), as `migrate up`/`down`
 * would run the range. The first migration that needs a live database
 * refuses it all (exit 2).
 */
export async function offlineScript(files: readonly MigrationFile[], options: OfflineScriptOptions): Promise<string> {
  const { direction } = options;
  const range = planOfflineRange(direction, options.range, files.map((f) => f.name));
  const byName = new Map(files.map((f) => [f.name, f]));
  const batch = range.names.map((name) => byName.get(name)!);
  const loaded = await loadBatch(batch, files);
  const migrations = [];
  for (const file of batch) {
    const built = await buildOffline(file, direction, files, options.logger, loaded);
    if (!built.built) {
      throw new UsageError(`sql --offline: ${file.fileName} (${direction}) cannot be built without a database: ${built.reason}`, {
        hint: built.needsDatabase
          ? `drop --offline: migrate sql${direction === 'down' ? ' --down' : ''} builds it in a read-only transaction against the database`
          : 'fix the migration',
      });
    }
    migrations.push({ file, built });
  }
  return batchScript(migrations, {
    header: `-- migrate sql --offline${direction === 'down' ? ' --down' : ''}: ${range.names.length} migration(s), ` +
      `${range.from ?? 'base'} to ${range.to ?? 'base'}, built without a database`,
    direction,
    history: historyLocationOf(options),
    // Offline the history table may or may not be there: up's script makes sure of it.
    createHistory: direction === 'up',
  });
}
