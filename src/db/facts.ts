/**
 * Database facts for the detector, in two catalog round trips and without
 * creating anything: `status` must leave the database exactly as it was.
 *
 * Every function and operator here is named with its schema (pg_catalog.fn,
 * OPERATOR(pg_catalog.=)): these queries also run right after migrations, on
 * their connection, and none of what a migration created may stand in for
 * pg_catalog's (PostgreSQL's CVE-2018-1058 advice:
 * https://wiki.postgresql.org/wiki/A_Guide_to_CVE-2018-1058%3A_Protect_Your_Search_Path).
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { ConfigError } from '../core/errors.js';
import type { AppliedMigration, DatabaseFacts, InvalidIndex, Queryable } from '../core/types.js';


/** Where a history table lives. */
export interface HistoryLocation {
  readonly schema: string;
  readonly table: string;
}

/**
 * What the runner looks at: `schema` is the managed schema; the history lives
 * in `migrationsSchema` (node-pg-migrate's `--migrations-schema`), which
 * defaults to the managed schema. `Settings` fits.
 */
export interface RunnerLocation extends HistoryLocation {
  readonly migrationsSchema?: string;
}

/** Where the history of `where` lives. */
export function historyLocationOf(where: RunnerLocation): HistoryLocation {
  return { schema: where.migrationsSchema ?? where.schema, table: where.table };
}

/** PostgreSQL keeps the first 63 bytes of a longer name (NAMEDATALEN - 1). */
export const MAX_IDENTIFIER_BYTES = 63;
const META_SUFFIX = '_meta';

/**
 * The side table where checksums, durations and who applied live (ignored by
 * node-pg-migrate): `<table>_meta`, or, where that would pass 63 bytes (and
 * PostgreSQL would cut it, even down to the history table's own name), the
 * table's name cut short with a hash of the whole name, so it stays distinct
 * and the same for every run.
 */
export function metaTableOf(table: string): string {
  const plain = `${table}${META_SUFFIX}`;
  if (Buffer.byteLength(plain) <= MAX_IDENTIFIER_BYTES) return plain;
  const hash = createHash('sha256').update(table).digest('hex').slice(0, 8);
  return `${truncateToBytes(table, MAX_IDENTIFIER_BYTES - META_SUFFIX.length - hash.length - 1)}_${hash}${META_SUFFIX}`;
}

/** The longest prefix of `text` of at most `bytes` UTF-8 bytes that ends on a character. */
function truncateToBytes(text: string, bytes: number): string {
  let out = '';
  for (const char of text) {
    if (Buffer.byteLength(out + char) > bytes) break;
    out += char;
  }
  return out;
}

/** The runner's own tables; never counted as application objects. */
export function runnerTablesOf(table: string): string[] {
  return [table, metaTableOf(table)];
}

/** The runner's tables that sit in the managed schema (none when the history lives in another). */
export function runnerTablesIn(where: RunnerLocation): string[] {
  return historyLocationOf(where).schema === where.schema ? runnerTablesOf(where.table) : [];
}

/**
 * "Application objects" (docs/CONTRACT.md "The states"): every object of the managed schema
 * (relations, types, domains, routines, operators, operator classes and
 * families, collations, conversions, text search objects, extended
 * statistics), except the runner's own tables and what belongs to them, to an
 * extension (pg_depend deptype 'e') or to another object (deptype 'i': array
 * types, a table's row type). Rules, triggers, policies and indexes belong to
 * their table. $1 the managed schema, $2 the runner's tables, $3 their schema.
 */
const APPLICATION_OBJECTS_SQL = `
WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname OPERATOR(pg_catalog.=) $1),
runner AS (
  SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
  WHERE n.nspname OPERATOR(pg_catalog.=) $3 AND c.relname OPERATOR(pg_catalog.=) ANY ($2::text[])
),
owned AS (
  SELECT classid, objid FROM pg_depend
  WHERE deptype OPERATOR(pg_catalog.=) 'e'
     OR (deptype OPERATOR(pg_catalog.=) 'i' AND (classid, objid) OPERATOR(pg_catalog.<>) (refclassid, refobjid))
),
objects AS (
  SELECT 'pg_class'::regclass AS classid, c.oid AS objid,
         CASE WHEN c.relkind OPERATOR(pg_catalog.=) ANY ('{r,p}'::"char"[]) THEN 'table'
              WHEN c.relkind OPERATOR(pg_catalog.=) 'v' THEN 'view'
              WHEN c.relkind OPERATOR(pg_catalog.=) 'm' THEN 'materialized view'
              WHEN c.relkind OPERATOR(pg_catalog.=) 'S' THEN 'sequence'
              ELSE 'foreign table' END AS kind, c.relname AS name
  FROM pg_class c JOIN ns ON c.relnamespace OPERATOR(pg_catalog.=) ns.oid
  WHERE c.relkind OPERATOR(pg_catalog.=) ANY ('{r,p,v,m,S,f}'::"char"[])
    AND NOT (c.oid OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT oid FROM runner)))
    -- sequences owned by the runner's tables (pgmigrations_id_seq)
    AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid OPERATOR(pg_catalog.=) 'pg_class'::regclass AND d.objid OPERATOR(pg_catalog.=) c.oid
                      AND d.refobjid OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT oid FROM runner))
                      AND d.deptype OPERATOR(pg_catalog.=) ANY ('{a,i}'::"char"[]))
  UNION ALL
  SELECT 'pg_type'::regclass, t.oid, CASE WHEN t.typtype OPERATOR(pg_catalog.=) 'd' THEN 'domain' ELSE 'type' END, t.typname
  FROM pg_type t JOIN ns ON t.typnamespace OPERATOR(pg_catalog.=) ns.oid
  -- a composite type is free-standing (CREATE TYPE ... AS) or a relation's row type, which goes with it
  WHERE (t.typrelid OPERATOR(pg_catalog.=) 0::oid
         OR (SELECT relkind FROM pg_class WHERE oid OPERATOR(pg_catalog.=) t.typrelid) OPERATOR(pg_catalog.=) 'c')
  UNION ALL
  SELECT 'pg_proc'::regclass, p.oid,
         CASE WHEN p.prokind OPERATOR(pg_catalog.=) 'a' THEN 'aggregate'
              WHEN p.prokind OPERATOR(pg_catalog.=) 'p' THEN 'procedure' ELSE 'function' END, p.proname
  FROM pg_proc p JOIN ns ON p.pronamespace OPERATOR(pg_catalog.=) ns.oid
  UNION ALL
  SELECT 'pg_operator'::regclass, o.oid, 'operator', o.oprname FROM pg_operator o JOIN ns ON o.oprnamespace OPERATOR(pg_catalog.=) ns.oid
  UNION ALL
  SELECT 'pg_opclass'::regclass, o.oid, 'operator class', o.opcname FROM pg_opclass o JOIN ns ON o.opcnamespace OPERATOR(pg_catalog.=) ns.oid
  UNION ALL
  SELECT 'pg_opfamily'::regclass, o.oid, 'operator family', o.opfname FROM pg_opfamily o JOIN ns ON o.opfnamespace OPERATOR(pg_catalog.=) ns.oid
  UNION ALL
  SELECT 'pg_collation'::regclass, o.oid, 'collation', o.collname FROM pg_collation o JOIN ns ON o.collnamespace OPERATOR(pg_catalog.=) ns.oid
  UNION ALL
  SELECT 'pg_conversion'::regclass, o.oid, 'conversion', o.conname FROM pg_conversion o JOIN ns ON o.connamespace OPERATOR(pg_catalog.=) ns.oid
  UNION ALL
  SELECT 'pg_ts_config'::regclass, o.oid, 'text search configuration', o.cfgname FROM pg_ts_config o JOIN ns ON o.cfgnamespace OPERATOR(pg_catalog.=) ns.oid
  UNION ALL
  SELECT 'pg_ts_dict'::regclass, o.oid, 'text search dictionary', o.dictname FROM pg_ts_dict o JOIN ns ON o.dictnamespace OPERATOR(pg_catalog.=) ns.oid
  UNION ALL
  SELECT 'pg_ts_parser'::regclass, o.oid, 'text search parser', o.prsname FROM pg_ts_parser o JOIN ns ON o.prsnamespace OPERATOR(pg_catalog.=) ns.oid
  UNION ALL
  SELECT 'pg_ts_template'::regclass, o.oid, 'text search template', o.tmplname FROM pg_ts_template o JOIN ns ON o.tmplnamespace OPERATOR(pg_catalog.=) ns.oid
  UNION ALL
  SELECT 'pg_statistic_ext'::regclass, o.oid, 'statistics', o.stxname FROM pg_statistic_ext o JOIN ns ON o.stxnamespace OPERATOR(pg_catalog.=) ns.oid
)
SELECT pg_catalog.format('%s %s', kind, name) AS label
FROM objects o
WHERE NOT EXISTS (SELECT 1 FROM owned WHERE owned.classid OPERATOR(pg_catalog.=) o.classid AND owned.objid OPERATOR(pg_catalog.=) o.objid)
ORDER BY label LIMIT 20`;

/**
 * The runner's tables that exist, with the columns the runner writes or reads
 * and those a row cannot be written without (NOT NULL, no default, no identity).
 * $1 the schema, $2 the table names.
 */
const HISTORY_TABLES_SQL = `
SELECT c.relname::text AS relname,
       ARRAY(SELECT a.attname::text FROM pg_attribute a
             WHERE a.attrelid OPERATOR(pg_catalog.=) c.oid AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped) AS columns,
       ARRAY(SELECT a.attname::text FROM pg_attribute a
             WHERE a.attrelid OPERATOR(pg_catalog.=) c.oid AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
               AND a.attnotnull AND NOT a.atthasdef AND a.attidentity OPERATOR(pg_catalog.=) '') AS required
FROM pg_class c JOIN pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
WHERE n.nspname OPERATOR(pg_catalog.=) $1 AND c.relname OPERATOR(pg_catalog.=) ANY ($2::text[])
  AND c.relkind OPERATOR(pg_catalog.=) ANY ('{r,p}'::"char"[])`;

export interface ReadFactsOptions {
  /** Also read when each migration ran, how long it took and who ran it (default false: the detector needs none of it). */
  readonly details?: boolean;
  /** Also read the managed schema's invalid indexes (default false: `status` and `check` report them, a start need not). */
  readonly invalidIndexes?: boolean;
}

const INVALID_INDEXES_SQL = `
SELECT pg_catalog.format('%s', i.indexrelid::pg_catalog.regclass) AS index, pg_catalog.format('%s', i.indrelid::pg_catalog.regclass) AS table
FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE NOT i.indisvalid AND n.nspname = $1 ORDER BY 1`;

export async function readDatabaseFacts(db: Queryable, where: RunnerLocation, options: ReadFactsOptions = {}): Promise<DatabaseFacts> {
  const facts = await readFactsOnce(db, where, options);
  // The history and the objects are read by separate statements, each seeing what had committed
  // when it began: a run that committed between them (a fresh build, another replica's) shows its
  // objects without its history, a legacy database that is not. Its history rows committed with
  // its objects, so a second look at the history, after the objects, sees them.
  // The second look is for the history only: objects are not read again.
  if (facts.applied.length || !facts.applicationObjects.length) return facts;
  const again = await readFactsOnce(db, where, options, false);
  return again.applied.length ? again : facts;
}

async function readFactsOnce(db: Queryable, where: RunnerLocation, options: ReadFactsOptions, objectsToo = true): Promise<DatabaseFacts> {
  const history = historyLocationOf(where);
  const runnerTables = runnerTablesOf(where.table);
  const tables = await db.query<TableShape & { relname: string }>(HISTORY_TABLES_SQL, [history.schema, runnerTables]);
  for (const table of tables.rows) {
    const problem = shapeProblem(table.relname === where.table ? HISTORY_SHAPE : META_SHAPE, table);
    if (problem) {
      throw new ConfigError(`table ${qualify(history.schema, table.relname)} ${problem}`, qualify(history.schema, table.relname), {
        hint: table.relname === where.table
          ? 'it must be node-pg-migrate\'s (id SERIAL PRIMARY KEY, name varchar(255) NOT NULL, run_on timestamp NOT NULL), ' +
            'other columns nullable or with a default; fix it, or name another table with --table'
          : 'it is the runner\'s own side table: drop it (checksums are recorded again), or name another table with --table',
      });
    }
  }
  const present = new Set(tables.rows.map((r) => r.relname));
  const historyTableExists = present.has(where.table);
  const metaColumns = tables.rows.find((r) => r.relname === metaTableOf(where.table))?.columns ?? null;
  const applied = historyTableExists
    ? await readHistory(db, history, metaColumns, options.details ?? false)
    : [];
  // The detector looks at application objects only when the history is empty
  // (fresh or legacy); with history, skip the catalog scan: on a thousand tables
  // it costs more than the rest of a no-op start's queries together (bench/RESULTS.md).
  const objects = applied.length || !objectsToo
    ? []
    : (await db.query<{ label: string }>(APPLICATION_OBJECTS_SQL, [where.schema, runnerTables, history.schema])).rows.map((r) => r.label);
  const invalid = options.invalidIndexes ? (await db.query<InvalidIndex>(INVALID_INDEXES_SQL, [where.schema])).rows : null;
  return { historyTableExists, applied, applicationObjects: objects, ...(invalid && { invalidIndexes: invalid }) };
}

/** A runner table's columns, as HISTORY_TABLES_SQL reads them. */
export interface TableShape {
  readonly columns: readonly string[];
  /** Columns a row cannot be written without: NOT NULL, no default, not an identity. */
  readonly required: readonly string[];
}

/** The columns the runner reads or writes, and those its INSERTs give a value. */
export interface ExpectedShape {
  readonly needs: readonly string[];
  readonly written: readonly string[];
}

/** node-pg-migrate's history: its INSERT names (name, run_on) and it reads ORDER BY run_on, id. */
export const HISTORY_SHAPE: ExpectedShape = { needs: ['id', 'name', 'run_on'], written: ['name', 'run_on'] };
export const META_SHAPE: ExpectedShape = {
  needs: ['name', 'checksum', 'duration_ms', 'applied_by', 'recorded_at'],
  written: ['name', 'checksum', 'duration_ms', 'applied_by'],
};

/** Why rows cannot be read or written in a table of this shape, or null. Pure. */
export function shapeProblem(expected: ExpectedShape, table: TableShape): string | null {
  const missing = expected.needs.filter((column) => !table.columns.includes(column));
  if (missing.length) return `has no column ${missing.join(', ')}, so the runner cannot read or write its rows`;
  const blocking = table.required.filter((column) => !expected.written.includes(column));
  if (blocking.length) {
    return `has ${blocking.length > 1 ? 'columns' : 'a column'} ${blocking.join(', ')} NOT NULL without a default, so no row can be written to it`;
  }
  return null;
}

/**
 * The history in node-pg-migrate's order. When a migration ran is the side
 * table's ran_at where the runner applied it (run_on may have been moved to
 * keep file order, history.ts), else run_on; a side table made before ran_at
 * existed has none until the next acting run adds it.
 */
async function readHistory(db: Queryable, where: HistoryLocation, metaColumns: readonly string[] | null, details: boolean): Promise<AppliedMigration[]> {
  const history = qualify(where.schema, where.table);
  const meta = qualify(where.schema, metaTableOf(where.table));
  const hasMeta = metaColumns !== null;
  // node-pg-migrate reads the applied list in this order (runner.ts:312).
  const join = hasMeta ? `LEFT JOIN ${meta} m ON m.name OPERATOR(pg_catalog.=) h.name ` : '';
  const order = 'ORDER BY h.run_on, h.id';
  if (!details) {
    // What every start reads: one row, a JSON array of [name, checksum] pairs. On a
    // long history, a row per migration costs the client three times the CPU
    // (pg builds an object per row), and a no-op start is mostly that CPU
    // (README "Performance", the 10,000-file no-op start).
    const checksum = hasMeta ? 'm.checksum' : 'NULL';
    const { rows } = await db.query<{ history: string | null }>(
      `SELECT pg_catalog.json_agg(pg_catalog.json_build_array(h.name, ${checksum}) ${order})::pg_catalog.text AS history FROM ${history} h ${join}`,
    );
    const pairs = JSON.parse(rows[0]?.history ?? '[]') as [string, string | null][];
    return pairs.map(([name, recorded]) => ({ name, checksum: recorded, runOn: null, durationMs: null, appliedBy: null }));
  }
  const ranAt = metaColumns?.includes('ran_at') ? 'm.ran_at' : 'NULL';
  const columns = `h.name, h.run_on, ${hasMeta ? `m.checksum, m.duration_ms, m.applied_by, ${ranAt} AS ran_at` : 'NULL AS checksum, NULL AS duration_ms, NULL AS applied_by, NULL AS ran_at'}`;
  const { rows } = await db.query<{
    name: string;
    checksum: string | null;
    run_on: Date;
    ran_at: Date | null;
    duration_ms: number | null;
    applied_by: string | null;
  }>(`SELECT ${columns} FROM ${history} h ${join}${order}`);
  return rows.map((r) => ({
    name: r.name,
    checksum: r.checksum,
    runOn: r.ran_at ?? r.run_on,
    durationMs: r.duration_ms == null ? null : Number(r.duration_ms),
    appliedBy: r.applied_by,
  }));
}

/** `"schema"."table"`, quoted with the driver's escape. */
export function qualify(schema: string, name: string): string {
  return `${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(name)}`;
}
