/**
 * Writes to the history: node-pg-migrate's table exactly as it makes it, and
 * a side table (`<table>_meta`) with checksum, duration and who applied, which
 * plain node-pg-migrate never reads (CONTRACT.md "The states", last paragraph).
 * Names are always query parameters, never interpolated.
 */
import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { metaTableOf, qualify, type HistoryLocation, type Queryable } from './introspect.js';

export interface AppliedRecord {
  readonly name: string;
  readonly checksum: string;
  readonly durationMs: number | null;
}

export const RUNNER_VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export function appliedBy(how = 'migrate'): string {
  return `${how} ${RUNNER_VERSION} on ${hostname()}`;
}

/** Creates the history table (node-pg-migrate's DDL, runner.ts:287) and the side table if missing. */
export async function ensureHistoryTables(db: Queryable, where: HistoryLocation): Promise<void> {
  await db.query(`CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(where.schema)}`);
  await db.query(
    `CREATE TABLE IF NOT EXISTS ${qualify(where.schema, where.table)} ` +
      '(id SERIAL PRIMARY KEY, name varchar(255) NOT NULL, run_on timestamp NOT NULL)',
  );
  await db.query(
    `CREATE TABLE IF NOT EXISTS ${qualify(where.schema, metaTableOf(where.table))} (` +
      'name varchar(255) PRIMARY KEY, checksum text, duration_ms integer, applied_by text, ' +
      'recorded_at timestamptz NOT NULL DEFAULT now())',
  );
}

/**
 * Records applied migrations in one round trip, in order. run_on is NOW(),
 * the transaction's start, as node-pg-migrate writes it; ids keep the order.
 */
export async function recordApplied(
  db: Queryable,
  where: HistoryLocation,
  records: readonly AppliedRecord[],
  by: string,
): Promise<void> {
  if (!records.length) return;
  await db.query(
    `WITH rows AS (
       SELECT * FROM unnest($1::text[], $2::text[], $3::int[]) WITH ORDINALITY AS r(name, checksum, duration_ms, ord)
     ), history AS (
       INSERT INTO ${qualify(where.schema, where.table)} (name, run_on) SELECT name, NOW() FROM rows ORDER BY ord
     )
     INSERT INTO ${qualify(where.schema, metaTableOf(where.table))} AS m (name, checksum, duration_ms, applied_by)
     SELECT name, checksum, duration_ms, $4 FROM rows
     ON CONFLICT (name) DO UPDATE SET checksum = EXCLUDED.checksum, duration_ms = EXCLUDED.duration_ms,
       applied_by = EXCLUDED.applied_by, recorded_at = now()`,
    [records.map((r) => r.name), records.map((r) => r.checksum), records.map((r) => r.durationMs), by],
  );
}

export async function recordReverted(db: Queryable, where: HistoryLocation, names: readonly string[]): Promise<void> {
  if (!names.length) return;
  await db.query(`DELETE FROM ${qualify(where.schema, where.table)} WHERE name = ANY($1::text[])`, [names]);
  await db.query(`DELETE FROM ${qualify(where.schema, metaTableOf(where.table))} WHERE name = ANY($1::text[])`, [names]);
}

/** Records checksums for rows that have none (applied by plain node-pg-migrate): "adoption". */
export async function adoptChecksums(db: Queryable, where: HistoryLocation, records: readonly AppliedRecord[]): Promise<void> {
  if (!records.length) return;
  const meta = qualify(where.schema, metaTableOf(where.table));
  await db.query(
    `INSERT INTO ${meta} AS m (name, checksum, applied_by)
     SELECT name, checksum, $3 FROM unnest($1::text[], $2::text[]) AS r(name, checksum)
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
 * (CONTRACT.md: plain node-pg-migrate keeps working on a database we manage).
 */
export async function stampHistory(
  db: Queryable,
  where: HistoryLocation,
  prefix: readonly { readonly name: string; readonly checksum: string }[],
  by: string,
): Promise<void> {
  const history = qualify(where.schema, where.table);
  const meta = qualify(where.schema, metaTableOf(where.table));
  const names = prefix.map((f) => f.name);
  await db.query(`DELETE FROM ${history} WHERE NOT (name = ANY($1::text[]))`, [names]);
  await db.query(`DELETE FROM ${meta} WHERE NOT (name = ANY($1::text[]))`, [names]);
  // Times as text, so they go back exactly as they were (timestamp has no time zone).
  const { rows: kept } = await db.query<HistoryTime>(
    `SELECT name, run_on::text AS "runOn", extract(epoch FROM run_on)::float8 AS epoch FROM ${history} ORDER BY run_on, id`,
  );
  const keptNames = new Set(kept.map((row) => row.name));
  const missing = prefix.filter((f) => !keptNames.has(f.name));
  const firstMisplaced = kept.findIndex((row, index) => row.name !== names[index]);
  // In order already: the missing rows follow, applied now. Otherwise rewrite from the first misplaced row.
  const rewrite = firstMisplaced < 0
    ? { names: missing.map((f) => f.name), runOn: missing.map(() => null) }
    : { names: names.slice(firstMisplaced), runOn: runOnInFileOrder(names.slice(firstMisplaced), kept, kept[firstMisplaced - 1]) };
  if (rewrite.names.length) await db.query(
    `WITH gone AS (DELETE FROM ${history} WHERE name = ANY($1::text[]))
     INSERT INTO ${history} (name, run_on)
     SELECT name, COALESCE(run_on, NOW()) FROM unnest($1::text[], $2::timestamp[]) WITH ORDINALITY AS r(name, run_on, ord) ORDER BY ord`,
    [rewrite.names, rewrite.runOn],
  );
  if (missing.length) await db.query(
    `INSERT INTO ${meta} AS m (name, checksum, applied_by) SELECT name, checksum, $3 FROM unnest($1::text[], $2::text[]) AS r(name, checksum)
     ON CONFLICT (name) DO UPDATE SET checksum = EXCLUDED.checksum, applied_by = EXCLUDED.applied_by,
       duration_ms = NULL, recorded_at = now()`,
    [missing.map((f) => f.name), missing.map((f) => f.checksum), by],
  );
}

interface HistoryTime {
  readonly name: string;
  readonly runOn: string;
  readonly epoch: number;
}

/**
 * run_on for `tail` (file order) that never goes backwards: a kept row keeps
 * its time unless a row before it is later; a stamped row (never run) takes
 * the time of the next kept row, as if it had run with it.
 */
function runOnInFileOrder(tail: readonly string[], kept: readonly HistoryTime[], before: HistoryTime | undefined): string[] {
  const keptByName = new Map(kept.map((row) => [row.name, row]));
  // For each position, the kept row at it or the next one after it.
  const nextKept: (HistoryTime | undefined)[] = [];
  for (let index = tail.length - 1, next: HistoryTime | undefined; index >= 0; index--) {
    next = keptByName.get(tail[index]!) ?? next;
    nextKept[index] = next;
  }
  let latest = before;
  return tail.map((_name, index) => {
    // The tail starts at a kept row that is out of place, so one of the two is always there.
    const own = nextKept[index] ?? latest!;
    if (!latest || own.epoch > latest.epoch) latest = own;
    return latest.runOn;
  });
}
