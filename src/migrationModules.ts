/**
 * Turning a migration file into SQL with node-pg-migrate's MigrationBuilder,
 * importing only the files that will run (issue 3; the reference §8 measured
 * seconds for importing 1,000 TypeScript files on every start).
 *
 * node-pg-migrate is imported lazily: a no-op start never loads it.
 */
import { readFileSync } from 'node:fs';
import type { MigrationBuilder } from 'node-pg-migrate';
import type pg from 'pg';
import { MigrationFileError, describeCause } from './errors.js';
import { importPackage } from './importPackage.js';
import type { Queryable } from './introspect.js';
import type { Logger } from './logger.js';
import type { MigrationFile } from './types.js';

type MigrationAction = ((pgm: MigrationBuilder, run?: () => void) => unknown) | false | undefined;

export interface MigrationModule {
  readonly up: MigrationAction;
  readonly down: MigrationAction;
  /** Column type shorthands this file exports (node-pg-migrate makes them cumulative). */
  readonly shorthands?: Record<string, unknown>;
  /** A .sql file's sections: its up and down are one `pgm.sql(text)` each. */
  readonly sqlText?: { readonly up: string; readonly down: string | undefined };
}

export interface BuiltMigration {
  readonly sql: readonly string[];
  /** False when the migration called `pgm.noTransaction()`. */
  readonly transactional: boolean;
}

type NodePgMigrate = typeof import('node-pg-migrate');
let nodePgMigrate: Promise<NodePgMigrate> | undefined;
function loadNodePgMigrate(): Promise<NodePgMigrate> {
  nodePgMigrate ??= importPackage<NodePgMigrate>('node-pg-migrate');
  return nodePgMigrate;
}

/** The pg package as installed (node-pg-migrate has loaded it already); the command's own pg is bundled. */
function loadInstalledPg(): Promise<typeof pg> {
  return importPackage<{ default: typeof pg }>('pg').then((module) => module.default);
}

/**
 * `pgm.db` (node-pg-migrate's DB: query and select): the runner's transaction,
 * with rows parsed by the installed pg's type parsers, as node-pg-migrate's own
 * client would parse them, so a migration's pg.types.setTypeParser applies.
 * The bundled command's client has a pg of its own (scripts/build-cli.mjs).
 */
function migrationDbOf(db: Queryable, types: typeof pg.types) {
  const query = (textOrConfig: unknown, values?: unknown[]) => {
    // A config's own `types` wins; pg takes `values` beside a config too.
    const config = typeof textOrConfig === 'string' ? { text: textOrConfig, types } : { types, ...(textOrConfig as object) };
    return db.query(config as unknown as string, values);
  };
  return { query, select: async (textOrConfig: unknown, values?: unknown[]) => (await query(textOrConfig, values)).rows };
}

/** A migration file that could not be loaded (throws on import, exports nothing). */
export class MigrationLoadError extends MigrationFileError {}

export async function loadMigrationModule(file: MigrationFile): Promise<MigrationModule> {
  // Synchronous reads: a batch loads every file up front, and a thousand fs/promises reads cost more (bench/RESULTS.md).
  if (file.extension === '.sql') return parseSqlMigration(decodeUtf8(readFileSync(file.path), file));
  const { importMigration } = await import('./migrationLoader.js');
  let loaded: Record<string, unknown>;
  try {
    // jiti as node-pg-migrate uses it, TypeScript compiled with sucrase instead of Babel (migrationLoader.ts).
    loaded = (await importMigration(file.path)) as Record<string, unknown>;
  } catch (error) {
    throw new MigrationLoadError(`migration file ${file.fileName} cannot be loaded: ${describeCause(error)}`, file.path, {
      cause: error,
    });
  }
  const module = (loaded && typeof loaded === 'object' ? loaded : {}) as Record<string, unknown>;
  if (typeof module.up !== 'function' && module.up !== false) {
    throw new MigrationLoadError(`migration file ${file.fileName} exports no up function`, file.path, {
      hint: 'export function up(pgm) { … } (and down)',
    });
  }
  return {
    up: module.up as MigrationAction,
    down: module.down as MigrationAction,
    ...(module.shorthands !== undefined && { shorthands: module.shorthands as Record<string, unknown> }),
  };
}

/** The file's text; a file that is not UTF-8 is refused, never run with replacement characters. */
function decodeUtf8(content: Buffer, file: MigrationFile): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(content);
  } catch {
    throw new MigrationLoadError(`migration file ${file.fileName} is not valid UTF-8`, file.path, {
      hint: 're-save it as UTF-8',
    });
  }
}

/**
 * node-pg-migrate's legacy SQL format (sqlMigration.ts): `-- Up Migration`
 * and `-- Down Migration` markers; without markers the whole file is up and
 * there is no down.
 */
export function parseSqlMigration(content: string): MigrationModule {
  const marker = (direction: string) => new RegExp(`^\\s*--[\\s-]*${direction}\\s+migration`, 'im');
  const upStart = content.search(marker('up'));
  const downStart = content.search(marker('down'));
  const upSql =
    upStart >= 0 ? content.slice(upStart, downStart < upStart ? undefined : downStart) : content;
  const downSql =
    downStart >= 0 ? content.slice(downStart, upStart < downStart ? undefined : upStart) : undefined;
  return {
    up: (pgm) => void pgm.sql(upSql),
    down: downSql === undefined ? false : (pgm) => void pgm.sql(downSql),
    sqlText: { up: upSql, down: downSql },
  };
}

/**
 * What `pgm.sql(text)` adds as its one step: the text, with a ';' appended
 * unless it already ends in one (node-pg-migrate's operations/sql.ts; without
 * arguments its placeholder transform changes nothing).
 */
function sqlStepOf(text: string): string {
  return text.lastIndexOf(';') === text.length - 1 ? text : `${text};`;
}

/**
 * Whether a JS/TS file may export shorthands. node-pg-migrate accumulates
 * `shorthands` across every file in order; since we import only what runs,
 * files that mention the word are imported too, so the set stays the same.
 */
export async function mayExportShorthands(file: MigrationFile): Promise<boolean> {
  if (file.extension === '.sql') return false;
  return readFileSync(file.path, 'utf8').includes('shorthands');
}

/**
 * Runs a migration's `up` or `down` against a MigrationBuilder and returns its
 * SQL. `pgm.db.query` calls run at once on `db` (node-pg-migrate's semantics),
 * which is the runner's transaction.
 */
export async function buildMigration(
  file: MigrationFile,
  module: MigrationModule,
  direction: 'up' | 'down',
  db: Queryable,
  shorthands: Record<string, unknown>,
  logger: Logger,
): Promise<BuiltMigration> {
  // A .sql file builds to its section, as pgm.sql would: importing node-pg-migrate
  // costs ~140 ms of CPU, which an all-SQL batch then never pays (issue 6, replicas).
  const sqlSection = module.sqlText?.[direction];
  if (sqlSection !== undefined) return { sql: [sqlStepOf(sqlSection)], transactional: true };
  const [{ MigrationBuilder }, installedPg] = await Promise.all([loadNodePgMigrate(), loadInstalledPg()]);
  const pgm = new MigrationBuilder(migrationDbOf(db, installedPg.types) as never, shorthands as never, false, logger as never);
  let action = module[direction];
  // A missing down means "reverse the up" (migration.ts _getAction/apply).
  if (direction === 'down' && action === undefined) {
    action = module.up;
    pgm.enableReverseMode();
  }
  if (action === false || typeof action !== 'function') {
    // Found while running, inside the transaction: a failed migration (exit 1), not a bad file.
    throw new Error(
      `${file.name} has no ${direction} migration` +
        (file.extension === '.sql' ? ` (add a "-- ${direction === 'up' ? 'Up' : 'Down'} Migration" section)` : ''),
    );
  }
  if (action.length === 2) {
    await new Promise<void>((resolve, reject) => {
      try {
        const result = (action as (pgm: MigrationBuilder, run: () => void) => unknown)(pgm, resolve);
        if (result instanceof Promise) result.catch(reject);
      } catch (error) {
        reject(error);
      }
    });
  } else {
    await (action as (pgm: MigrationBuilder) => unknown)(pgm);
  }
  return { sql: pgm.getSqlSteps(), transactional: pgm.isUsingTransaction() };
}
