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
 * added in file order with the file's checksum.
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
  await db.query(
    `WITH rows AS (
       SELECT * FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS r(name, checksum, ord)
       WHERE r.name NOT IN (SELECT name FROM ${history})
     ), history AS (
       INSERT INTO ${history} (name, run_on) SELECT name, NOW() FROM rows ORDER BY ord
     )
     INSERT INTO ${meta} AS m (name, checksum, applied_by) SELECT name, checksum, $3 FROM rows
     ON CONFLICT (name) DO UPDATE SET checksum = EXCLUDED.checksum, applied_by = EXCLUDED.applied_by,
       duration_ms = NULL, recorded_at = now()`,
    [names, prefix.map((f) => f.checksum), by],
  );
}
