/**
 * Writes to the history: node-pg-migrate's table exactly as it makes it, and
 * a side table (`<table>_meta`) with checksum, duration and who applied, which
 * plain node-pg-migrate never reads (docs/CONTRACT.md "The states", the history table).
 * Names are always query parameters, never interpolated.
 *
 * These statements follow migration SQL on its connection, so functions and
 * operators are named with their schema (pg_catalog.now(),
 * OPERATOR(pg_catalog.=)), as in facts.ts. A name is never written twice:
 * every insert skips names the table holds, and a write that would have
 * repeated one records nothing and fails (HistoryConflictError).
 */
import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { ChecksumConflictError, ConfigError, HistoryConflictError, INSUFFICIENT_PRIVILEGE, describeCause } from '../core/errors.js';
import { historyLocationOf, metaTableOf, qualify, type HistoryLocation, type RunnerLocation } from './facts.js';
import type { Queryable } from '../core/types.js';
import { packageFileUrl } from '../packageFiles.js';

export interface AppliedRecord {
  readonly name: string;
  readonly checksum: string;
  readonly durationMs: number | null;
}

export const RUNNER_VERSION: string = (
  JSON.parse(readFileSync(packageFileUrl('package.json'), 'utf8')) as { version: string }
).version;

export function appliedBy(how = 'migrate'): string {
  return `${how} ${RUNNER_VERSION} on ${hostname()}`;
}

/**
 * Creates the history table (node-pg-migrate's DDL, runner.ts:287) and the
 * side table if missing, and their schema if that is missing too. Looked up
 * first, in one round trip: on every run but the first both are there, and
 * `CREATE SCHEMA IF NOT EXISTS` checks the CREATE privilege on the database
 * even when the schema exists, which PostgreSQL 15's recommended role (CREATE
 * on schema public only) does not have.
 *
 * A side table made before `ran_at` existed gets the column here, under the
 * migration lock, in the batch's transaction; until then it is read as it is
 * (facts.ts reads both shapes).
 */
export async function ensureHistoryTables(db: Queryable, location: RunnerLocation): Promise<void> {
  const where = historyLocationOf(location);
  const meta = metaTableOf(where.table);
  const { rows } = await db.query<{ schema: boolean; tables: number; ranAt: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname OPERATOR(pg_catalog.=) $1) AS schema,
            (SELECT pg_catalog.count(*)::int FROM pg_class c JOIN pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
             WHERE n.nspname OPERATOR(pg_catalog.=) $1 AND c.relname OPERATOR(pg_catalog.=) ANY ($2::text[])) AS tables,
            EXISTS (SELECT 1 FROM pg_attribute a JOIN pg_class c ON c.oid OPERATOR(pg_catalog.=) a.attrelid
                      JOIN pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
                    WHERE n.nspname OPERATOR(pg_catalog.=) $1 AND c.relname OPERATOR(pg_catalog.=) $3
                      AND a.attname OPERATOR(pg_catalog.=) 'ran_at' AND NOT a.attisdropped) AS "ranAt"`,
    [where.schema, [where.table, meta], meta],
  );
  if (rows[0]?.tables === 2 && rows[0].ranAt) return;
  const schemaExists = rows[0]?.schema === true;
  const history = qualify(where.schema, where.table);
  try {
    if (rows[0]?.tables !== 2) {
      if (!schemaExists) await db.query(`CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(where.schema)}`);
      await db.query(
        `${historyTableDdl(where)}; ` +
          `CREATE TABLE IF NOT EXISTS ${qualify(where.schema, meta)} (` +
          'name varchar(255) PRIMARY KEY, checksum text, duration_ms integer, applied_by text, ' +
          'recorded_at timestamptz NOT NULL DEFAULT pg_catalog.now(), ran_at timestamptz)',
      );
    }
    await db.query(`ALTER TABLE ${qualify(where.schema, meta)} ADD COLUMN IF NOT EXISTS ran_at timestamptz`);
  } catch (error) {
    if ((error as { code?: string }).code !== INSUFFICIENT_PRIVILEGE) throw error;
    if (rows[0]?.tables === 2) {
      const table = qualify(where.schema, meta);
      throw new ConfigError(`cannot add column ran_at to the side table ${table}: ${describeCause(error)}`, table, {
        cause: error,
        hint: `have its owner run ALTER TABLE ${table} ADD COLUMN ran_at timestamptz, or run migrate once as its owner`,
      });
    }
    throw new ConfigError(`cannot create the history table ${history}: ${describeCause(error)}`, history, {
      cause: error,
      hint: schemaExists
        ? `grant the role CREATE on schema ${pg.escapeIdentifier(where.schema)}, or create the tables for it`
        : `create schema ${pg.escapeIdentifier(where.schema)} for it, or grant the role CREATE on the database`,
    });
  }
}

/** node-pg-migrate's history table, as its runner.ts:287 creates it (and `sql` prints it). */
export function historyTableDdl(where: HistoryLocation): string {
  return `CREATE TABLE IF NOT EXISTS ${qualify(where.schema, where.table)} (id SERIAL PRIMARY KEY, name varchar(255) NOT NULL, run_on timestamp NOT NULL)`;
}

/**
 * Records applied migrations in one round trip, in order. run_on is NOW(),
 * the transaction's start, as node-pg-migrate writes it; ids keep the order.
 * The side table's ran_at says the same, and keeps saying it when run_on is
 * moved to keep the history in file order (orderHistoryAsFiles, stampHistory).
 * All or nothing: when the history holds any of the names already, nothing
 * is written and HistoryConflictError says which.
 */
export async function recordApplied(
  db: Queryable,
  location: RunnerLocation,
  records: readonly AppliedRecord[],
  by: string,
): Promise<void> {
  const where = historyLocationOf(location);
  if (!records.length) return;
  const names = distinctNames(records.map((r) => r.name));
  const history = qualify(where.schema, where.table);
  const { rows } = await db.query<{ name: string }>(
    `WITH rows AS (
       SELECT * FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::int[]))
         WITH ORDINALITY AS r(name, checksum, duration_ms, ord)
       WHERE NOT EXISTS (SELECT 1 FROM ${history} h WHERE h.name OPERATOR(pg_catalog.=) ANY ($1::text[]))
     ), history AS (
       INSERT INTO ${history} (name, run_on) SELECT name, pg_catalog.now() FROM rows ORDER BY ord
     )
     INSERT INTO ${qualify(where.schema, metaTableOf(where.table))} AS m (name, checksum, duration_ms, applied_by, ran_at)
     SELECT name, checksum, duration_ms, $4, pg_catalog.now() FROM rows
     ON CONFLICT (name) DO UPDATE SET checksum = EXCLUDED.checksum, duration_ms = EXCLUDED.duration_ms,
       applied_by = EXCLUDED.applied_by, recorded_at = pg_catalog.now(), ran_at = EXCLUDED.ran_at
     RETURNING m.name`,
    [names, records.map((r) => r.checksum), records.map((r) => r.durationMs), by],
  );
  if (rows.length !== names.length) throw await conflictOf(db, where, names);
}

export async function recordReverted(db: Queryable, location: RunnerLocation, names: readonly string[]): Promise<void> {
  const where = historyLocationOf(location);
  if (!names.length) return;
  // One round trip: a replay (`verify`) reverts migrations one batch each.
  await db.query(
    `WITH history AS (DELETE FROM ${qualify(where.schema, where.table)} WHERE name OPERATOR(pg_catalog.=) ANY ($1::text[]))
     DELETE FROM ${qualify(where.schema, metaTableOf(where.table))} WHERE name OPERATOR(pg_catalog.=) ANY ($1::text[])`,
    [names],
  );
}

/** `names`, refusing a repeat: a caller that asks to record a name twice has a bug. */
function distinctNames(names: readonly string[]): string[] {
  const seen = new Set<string>();
  const repeated = new Set(names.filter((name) => seen.has(name) || !seen.add(name)));
  if (repeated.size) throw new Error(`asked to record ${[...repeated].join(', ')} twice`);
  return [...names];
}

/** Which of `names` the history holds, for the error of a write that skipped them. */
async function conflictOf(db: Queryable, where: HistoryLocation, names: readonly string[]): Promise<HistoryConflictError> {
  const history = qualify(where.schema, where.table);
  const { rows } = await db.query<{ name: string }>(
    `SELECT DISTINCT name FROM ${history} WHERE name OPERATOR(pg_catalog.=) ANY ($1::text[]) ORDER BY name`,
    [names],
  );
  return new HistoryConflictError(rows.map((r) => r.name), history);
}

/** Records checksums for rows that have none (applied by plain node-pg-migrate): "adoption". */
export async function adoptChecksums(db: Queryable, location: RunnerLocation, records: readonly AppliedRecord[]): Promise<void> {
  const where = historyLocationOf(location);
  if (!records.length) return;
  const meta = qualify(where.schema, metaTableOf(where.table));
  await db.query(
    `INSERT INTO ${meta} AS m (name, checksum, applied_by)
     SELECT name, checksum, $3 FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[])) AS r(name, checksum)
     ON CONFLICT (name) DO UPDATE SET checksum = EXCLUDED.checksum WHERE m.checksum IS NULL`,
    [records.map((r) => r.name), records.map((r) => r.checksum), appliedBy('adopted by migrate')],
  );
}

/**
 * Makes the history say "applied through `through`" (a prefix of the files)
 * without running anything: rows outside the prefix go, missing ones are
 * added with the file's checksum, and the rows end in file order.
 *
 * File order matters to plain node-pg-migrate: it reads the history by
 * (run_on, id) and refuses to run when that is not the files' order (its
 * check-order). So when the history has a gap or rows out of order, the rows
 * from the first misplaced one on are written again in file order
 * (docs/CONTRACT.md "The states": plain node-pg-migrate keeps working on a database we manage).
 */
export async function stampHistory(
  db: Queryable,
  location: RunnerLocation,
  prefix: readonly { readonly name: string; readonly checksum: string }[],
  by: string,
): Promise<void> {
  const where = historyLocationOf(location);
  const history = qualify(where.schema, where.table);
  const meta = qualify(where.schema, metaTableOf(where.table));
  const names = distinctNames(prefix.map((f) => f.name));
  await db.query(`DELETE FROM ${history} WHERE NOT (name OPERATOR(pg_catalog.=) ANY ($1::text[]))`, [names]);
  await db.query(`DELETE FROM ${meta} WHERE NOT (name OPERATOR(pg_catalog.=) ANY ($1::text[]))`, [names]);
  const kept = await readHistoryTimes(db, history);
  const keptNames = new Set(kept.map((row) => row.name));
  const missing = prefix.filter((f) => !keptNames.has(f.name));
  await writeInFileOrder(db, where, names, kept, new Set());
  if (missing.length) await db.query(
    `INSERT INTO ${meta} AS m (name, checksum, applied_by)
     SELECT name, checksum, $3 FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[])) AS r(name, checksum)
     ON CONFLICT (name) DO UPDATE SET checksum = EXCLUDED.checksum, applied_by = EXCLUDED.applied_by,
       duration_ms = NULL, recorded_at = pg_catalog.now(), ran_at = NULL`,
    [missing.map((f) => f.name), missing.map((f) => f.checksum), by],
  );
}

/**
 * After files that sort before applied ones were applied (`up --out-of-order`),
 * in the batch's transaction: the rows go back into file order by (run_on, id),
 * as plain node-pg-migrate's check-order wants them, the late rows taking the
 * time of the row after them, as a stamped gap does. When each really ran
 * stays in the side table's ran_at (recordApplied). A history naming a file
 * not on disk is left as it is: the detector refuses it before anything runs.
 */
export async function orderHistoryAsFiles(
  db: Queryable,
  location: RunnerLocation,
  fileNames: readonly string[],
  late: readonly string[],
): Promise<void> {
  const where = historyLocationOf(location);
  const kept = await readHistoryTimes(db, qualify(where.schema, where.table));
  const onDisk = new Set(fileNames);
  if (kept.some((row) => !onDisk.has(row.name))) return;
  const held = new Set(kept.map((row) => row.name));
  await writeInFileOrder(db, where, fileNames.filter((name) => held.has(name)), kept, new Set(late));
}

/**
 * `repair`: records the checksums of applied files as they are now, so an
 * accepted edit stays accepted. Only rows whose checksum is the one the
 * detector saw are changed: all or nothing, HistoryConflictError otherwise.
 */
export async function recordChecksums(
  db: Queryable,
  location: RunnerLocation,
  records: readonly { readonly name: string; readonly recorded: string; readonly checksum: string }[],
): Promise<void> {
  const where = historyLocationOf(location);
  if (!records.length) return;
  const meta = qualify(where.schema, metaTableOf(where.table));
  const { rows } = await db.query<{ name: string }>(
    `UPDATE ${meta} AS m SET checksum = r.checksum
     FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::text[])) AS r(name, recorded, checksum)
     WHERE m.name OPERATOR(pg_catalog.=) r.name AND m.checksum OPERATOR(pg_catalog.=) r.recorded
     RETURNING m.name`,
    [records.map((r) => r.name), records.map((r) => r.recorded), records.map((r) => r.checksum)],
  );
  if (rows.length !== records.length) {
    const changed = new Set(rows.map((r) => r.name));
    throw new ChecksumConflictError(records.filter((r) => !changed.has(r.name)).map((r) => r.name), meta);
  }
}

/** The history's rows in node-pg-migrate's order, times as text, so they go back exactly as they were. */
async function readHistoryTimes(db: Queryable, history: string): Promise<HistoryTime[]> {
  // timestamp has no time zone; format() prints it with the type's output function, as a cast to text would.
  const { rows } = await db.query<HistoryTime>(
    `SELECT id, name, pg_catalog.format('%s', run_on) AS "runOn", extract(epoch FROM run_on)::float8 AS epoch
     FROM ${history} ORDER BY run_on, id`,
  );
  return rows;
}

/**
 * Makes the history hold `names` (file order) from the rows `kept`: in order
 * already, the names it lacks follow, applied now. Otherwise the rows from
 * the first misplaced one on go (a second row of a name held twice too) and
 * the tail is written once, in file order, with times that never go back:
 * a row not kept, or named in `borrowing`, takes the time of the next kept
 * row, as if it had run with it.
 */
async function writeInFileOrder(
  db: Queryable,
  where: HistoryLocation,
  names: readonly string[],
  kept: readonly HistoryTime[],
  borrowing: ReadonlySet<string>,
): Promise<void> {
  const history = qualify(where.schema, where.table);
  const keptNames = new Set(kept.map((row) => row.name));
  const firstMisplaced = kept.findIndex((row, index) => row.name !== names[index]);
  const timed = kept.filter((row) => !borrowing.has(row.name));
  const rewrite = firstMisplaced < 0
    ? { names: names.filter((name) => !keptNames.has(name)), runOn: names.filter((name) => !keptNames.has(name)).map(() => null) }
    : { names: names.slice(firstMisplaced), runOn: runOnInFileOrder(names.slice(firstMisplaced), timed, kept[firstMisplaced - 1]) };
  if (!rewrite.names.length) {
    // Nothing to write; rows past the files' end (a second row of a name held twice) still go.
    if (firstMisplaced >= 0) {
      await db.query(`DELETE FROM ${history} WHERE id OPERATOR(pg_catalog.=) ANY ($1::bigint[])`, [kept.slice(firstMisplaced).map((row) => row.id)]);
    }
    return;
  }
  const rows = 'FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::timestamp[])) WITH ORDINALITY AS r(name, run_on, ord)';
  // One statement, so the rewrite is whole even where the caller holds no transaction (a
  // noTransaction migration's record is written after its batch committed). A name recorded
  // meanwhile: the append writes nothing, and the conflict is reported.
  const { rows: written } = firstMisplaced < 0
    ? await db.query(
        `INSERT INTO ${history} (name, run_on) SELECT name, COALESCE(run_on, pg_catalog.now()) ${rows}
         WHERE NOT EXISTS (SELECT 1 FROM ${history} h WHERE h.name OPERATOR(pg_catalog.=) ANY ($1::text[]))
         ORDER BY ord RETURNING name`,
        [rewrite.names, rewrite.runOn],
      )
    : await db.query(
        `WITH gone AS (
           DELETE FROM ${history} WHERE name OPERATOR(pg_catalog.=) ANY ($1::text[]) OR id OPERATOR(pg_catalog.=) ANY ($3::bigint[])
         )
         INSERT INTO ${history} (name, run_on) SELECT name, COALESCE(run_on, pg_catalog.now()) ${rows}
         ORDER BY ord RETURNING name`,
        [rewrite.names, rewrite.runOn, kept.slice(firstMisplaced).map((row) => row.id)],
      );
  if (written.length !== rewrite.names.length) throw await conflictOf(db, where, rewrite.names);
}

interface HistoryTime {
  readonly id: number | string;
  readonly name: string;
  readonly runOn: string;
  readonly epoch: number;
}

/**
 * run_on for `tail` (file order) that never goes backwards: a row of `timed`
 * keeps its time unless a row before it is later; any other (stamped, never
 * run; or applied late) takes the time of the next row of `timed`, else of
 * the latest before it.
 */
function runOnInFileOrder(tail: readonly string[], timed: readonly HistoryTime[], before: HistoryTime | undefined): (string | null)[] {
  const keptByName = new Map(timed.map((row) => [row.name, row]));
  // For each position, the timed row at it or the next one after it.
  const nextKept: (HistoryTime | undefined)[] = [];
  for (let index = tail.length - 1, next: HistoryTime | undefined; index >= 0; index--) {
    next = keptByName.get(tail[index]!) ?? next;
    nextKept[index] = next;
  }
  let latest = before;
  return tail.map((_name, index) => {
    // Neither when no row before or after has a time of its own: then it is now, as it was applied.
    const own = nextKept[index] ?? latest;
    if (!own) return null;
    if (!latest || own.epoch > latest.epoch) latest = own;
    return latest.runOn;
  });
}
