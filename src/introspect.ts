/**
 * Database facts for the detector, in two catalog round trips and without
 * creating anything: `status` must leave the database exactly as it was.
 */
import pg from 'pg';
import type { AppliedMigration, DatabaseFacts, InvalidIndex } from './types.js';

/** Anything with pg's `query(text, values)`: a Client or a PoolClient. */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

export interface HistoryLocation {
  readonly schema: string;
  readonly table: string;
}

/** The side table where checksums, durations and who applied live (ignored by node-pg-migrate). */
export function metaTableOf(table: string): string {
  return `${table}_meta`;
}

/** The runner's own tables; never counted as application objects. */
export function runnerTablesOf(table: string): string[] {
  return [table, metaTableOf(table)];
}

/**
 * "Application objects" (CONTRACT.md): tables, views, materialized views,
 * sequences, types, domains and functions of the managed schema, except the
 * runner's own tables and what belongs to them or to an extension.
 */
const APPLICATION_OBJECTS_SQL = `
WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname = $1),
runner AS (
  SELECT c.oid FROM pg_class c JOIN ns ON c.relnamespace = ns.oid WHERE c.relname = ANY($2::text[])
),
ext AS (SELECT objid FROM pg_depend WHERE deptype = 'e'),
objects AS (
  SELECT CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view'
           WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' END
         || ' ' || c.relname AS label
  FROM pg_class c JOIN ns ON c.relnamespace = ns.oid
  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
    AND c.oid NOT IN (SELECT oid FROM runner)
    AND c.oid NOT IN (SELECT objid FROM ext)
    -- sequences owned by the runner's tables (pgmigrations_id_seq)
    AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                    AND d.refobjid IN (SELECT oid FROM runner) AND d.deptype IN ('a', 'i'))
  UNION ALL
  SELECT CASE t.typtype WHEN 'd' THEN 'domain' ELSE 'type' END || ' ' || t.typname
  FROM pg_type t JOIN ns ON t.typnamespace = ns.oid
  WHERE t.typtype IN ('c', 'd', 'e', 'r', 'm')
    AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
    AND t.oid NOT IN (SELECT objid FROM ext)
  UNION ALL
  SELECT 'function ' || p.proname
  FROM pg_proc p JOIN ns ON p.pronamespace = ns.oid
  WHERE p.oid NOT IN (SELECT objid FROM ext)
)
SELECT label FROM objects ORDER BY label LIMIT 20`;

const HISTORY_TABLES_SQL = `
SELECT c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = ANY($2::text[]) AND c.relkind IN ('r', 'p')`;

export interface ReadFactsOptions {
  /** Also read when each migration ran, how long it took and who ran it (default false: the detector needs none of it). */
  readonly details?: boolean;
  /** Also read the managed schema's invalid indexes (default false: `status` and `check` report them, a start need not). */
  readonly invalidIndexes?: boolean;
}

const INVALID_INDEXES_SQL = `
SELECT i.indexrelid::pg_catalog.regclass::pg_catalog.text AS index, i.indrelid::pg_catalog.regclass::pg_catalog.text AS table
FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE NOT i.indisvalid AND n.nspname = $1 ORDER BY 1`;

export async function readDatabaseFacts(db: Queryable, where: HistoryLocation, options: ReadFactsOptions = {}): Promise<DatabaseFacts> {
  const runnerTables = runnerTablesOf(where.table);
  const tables = await db.query<{ relname: string }>(HISTORY_TABLES_SQL, [where.schema, runnerTables]);
  const present = new Set(tables.rows.map((r) => r.relname));
  const historyTableExists = present.has(where.table);
  const applied = historyTableExists
    ? await readHistory(db, where, present.has(metaTableOf(where.table)), options.details ?? false)
    : [];
  // The detector looks at application objects only when the history is empty
  // (fresh or legacy); with history, skip the catalog scan: on a thousand tables
  // it costs more than the rest of a no-op start's queries together (issue 6).
  const objects = applied.length
    ? []
    : (await db.query<{ label: string }>(APPLICATION_OBJECTS_SQL, [where.schema, runnerTables])).rows.map((r) => r.label);
  const invalid = options.invalidIndexes ? (await db.query<InvalidIndex>(INVALID_INDEXES_SQL, [where.schema])).rows : null;
  return { historyTableExists, applied, applicationObjects: objects, ...(invalid && { invalidIndexes: invalid }) };
}

async function readHistory(db: Queryable, where: HistoryLocation, hasMeta: boolean, details: boolean): Promise<AppliedMigration[]> {
  const history = qualify(where.schema, where.table);
  const meta = qualify(where.schema, metaTableOf(where.table));
  const columns = details
    ? `h.name, h.run_on, ${hasMeta ? 'm.checksum, m.duration_ms, m.applied_by' : 'NULL AS checksum, NULL AS duration_ms, NULL AS applied_by'}`
    : `h.name, ${hasMeta ? 'm.checksum' : 'NULL AS checksum'}`;
  // node-pg-migrate reads the applied list in this order (runner.ts:312).
  const sql = `SELECT ${columns} FROM ${history} h ${hasMeta ? `LEFT JOIN ${meta} m ON m.name = h.name ` : ''}ORDER BY h.run_on, h.id`;
  const { rows } = await db.query<{
    name: string;
    checksum: string | null;
    run_on?: Date;
    duration_ms?: number | null;
    applied_by?: string | null;
  }>(sql);
  return rows.map((r) => ({
    name: r.name,
    checksum: r.checksum,
    runOn: r.run_on ?? null,
    durationMs: r.duration_ms == null ? null : Number(r.duration_ms),
    appliedBy: r.applied_by ?? null,
  }));
}

/** `"schema"."table"`, quoted with the driver's escape. */
export function qualify(schema: string, name: string): string {
  return `${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(name)}`;
}
