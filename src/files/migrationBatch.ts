/**
 * What every command that builds a batch's SQL does the same way: `up`/`down`
 * (src/db/execute.ts), `sql` (src/sqlPreview.ts), `sql --offline` and `show`
 * (src/offlineSql.ts). Alembic's offline mode is the same loop as a live run
 * (alembic/runtime/migration.py, MigrationContext.run_migrations), so what
 * `sql` prints is what `up` runs: the same files loaded with the same column
 * shorthands, the same checks on what a migration built, the same
 * transaction boundaries, the same refusals.
 */
import { MigrationFailedError } from '../core/errors.js';
import type { Logger } from '../config/logger.js';
import type { Queryable } from '../core/types.js';
import {
  buildMigration,
  checkBuiltSql,
  loadMigrationModule,
  mayExportShorthands,
  type BuiltMigration,
  type MigrationModule,
} from './migrationModules.js';
import type { MigrationFile } from '../core/types.js';

/** A batch's files loaded, with the column shorthands each of them builds with. */
export interface LoadedBatch {
  /** The module of every file of the batch (and of earlier files that may export shorthands). */
  readonly modules: ReadonlyMap<string, MigrationModule>;
  /** The shorthands in force for `file`: those of every file up to it, in file order. */
  shorthandsFor(file: MigrationFile): Record<string, unknown>;
}

/**
 * Loads every file of `batch`, and, for the shorthands, every file of
 * `allFiles` that may export some: node-pg-migrate accumulates `shorthands`
 * over every file in order, applied or not (its runner.ts loads them all), so
 * a pending migration may use one that an applied migration exports. Only
 * files that may export them are imported (migrationModules.ts
 * mayExportShorthands).
 */
export async function loadBatch(batch: readonly MigrationFile[], allFiles: readonly MigrationFile[]): Promise<LoadedBatch> {
  const wanted = new Set(batch.map((f) => f.name));
  const modules = new Map<string, MigrationModule>();
  const cumulative = new Map<string, Record<string, unknown>>();
  let shorthands: Record<string, unknown> = {};
  for (const file of allFiles) {
    const inBatch = wanted.has(file.name);
    if (inBatch || mayExportShorthands(file)) {
      const module = await loadMigrationModule(file);
      modules.set(file.name, module);
      if (module.shorthands) shorthands = { ...shorthands, ...module.shorthands };
    }
    // Only the batch's files are asked for (a replay loads a batch per migration: n² entries otherwise).
    if (inBatch) cumulative.set(file.name, shorthands);
  }
  const all = shorthands;
  return { modules, shorthandsFor: (file) => cumulative.get(file.name) ?? all };
}

/** `down` of a migration that has no down: refused before anything runs; its history row stays. Null when it has one. */
export function missingDownRefusal(file: MigrationFile, module: MigrationModule): MigrationFailedError | null {
  const sql = file.extension === '.sql';
  const none = sql ? module.sqlText?.down === undefined || module.sqlFacts?.down?.blank === true : module.down === false;
  if (!none) return null;
  const what = !sql
    ? `${file.name} has no down migration (${file.fileName} exports down = false)`
    : module.sqlText?.down === undefined
      ? `${file.name} has no down migration (add a "-- Down Migration" section)`
      : `${file.name} has an empty down migration (its "-- Down Migration" section holds no statement)`;
  return new MigrationFailedError(file.name, 'down', null, {
    detail: `${what}; nothing was reverted and its history row stays`,
    hint: sql ? 'write the down SQL under "-- Down Migration" (SELECT 1; if reverting really needs nothing)' : 'write a down function',
  });
}

/** A JS/TS migration without a down, reverted: node-pg-migrate runs its up in reverse mode (migration.ts _getAction). */
export function revertsItsUp(file: MigrationFile, module: MigrationModule, direction: 'up' | 'down'): boolean {
  return direction === 'down' && module.down === undefined && file.extension !== '.sql';
}

/**
 * Builds one migration against `db` (what its pgm.db queries) and checks what
 * it built, as up does before sending it: a JS/TS migration's SQL may not
 * end the batch's transaction (exit 2), an added enum value and SQL the
 * parser cannot read are noted; an up reversed to nothing is refused.
 */
export async function buildChecked(
  file: MigrationFile,
  module: MigrationModule,
  direction: 'up' | 'down',
  db: Queryable,
  batch: LoadedBatch,
  logger: Logger,
): Promise<BuiltMigration> {
  const built = await buildMigration(file, module, direction, db, batch.shorthandsFor(file), logger);
  if (file.extension === '.sql') return built;
  if (revertsItsUp(file, module, direction) && !built.sql.length) {
    throw new MigrationFailedError(file.name, 'down', null, {
      detail: `${file.name} has no down migration, and its up reverses to nothing (${file.fileName}); nothing was reverted and its history row stays`,
      hint: 'write a down function',
    });
  }
  // In a transaction its steps go to the server as one text, joined as src/db/roundTrips.ts joins them: a string or
  // comment one step opens runs on into the next, so the text is checked as sent. Outside one, each is a query.
  const facts = await checkBuiltSql(file, built.transactional ? [built.sql.join('\n')] : built.sql);
  return {
    ...built,
    ...(facts.addsEnumValue && { addsEnumValue: true as const }),
    ...(facts.opaque && { opaque: true as const }),
  };
}

/**
 * Where a migration puts a transaction boundary: one that cannot run in a
 * transaction commits what came before and runs `alone`; one that adds an
 * enum value ends its transaction after it (`commit-after`: a new value
 * cannot be used before its transaction commits, "unsafe use of new value").
 */
export function boundaryOf(built: BuiltMigration): 'alone' | 'commit-after' | 'none' {
  if (!built.transactional) return 'alone';
  return built.addsEnumValue ? 'commit-after' : 'none';
}
