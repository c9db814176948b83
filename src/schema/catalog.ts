/**
 * Reads one managed schema from the PostgreSQL catalogs into a `SchemaModel`.
 *
 * One query per object kind (about twenty in all, fewer where a kind is
 * absent), never one per object, so a schema of thousands of tables reads in
 * about the time `pg_dump --schema-only` takes (bench/schemaCatalog.mjs
 * measures it). Each top-level object becomes a part keyed by its OID
 * (`readCatalogParts`), so the incremental reader (incrementalCatalog.ts) can
 * read again only the objects a migration changed, with the same queries.
 *
 * Deparsed text (`pg_get_*def`, `format_type`, `pg_get_expr`) depends on the
 * session: names are qualified unless visible on `search_path`, and constants
 * print according to DateStyle, TimeZone, etc. All queries therefore run in
 * one transaction whose settings are pinned with `set_config(..., true)`
 * (the parameterised form of `SET LOCAL`): `search_path` is pg_catalog, the
 * managed schema, pg_temp, so objects of the managed schema print unqualified
 * and objects elsewhere print qualified. The queries name every function and
 * operator with its schema (see "SQL" below), so none of the managed
 * schema's can take their place. The
 * few definitions that PostgreSQL always qualifies (index, trigger and
 * function headers) have that qualification removed at an anchored position.
 *
 * Requires PostgreSQL 12 or later (`pg_proc.prokind`, `attgenerated`).
 */
import {
  sortByKey,
  sortNamedDefinitions,
  TOP_LEVEL_KEYS,
  TOP_LEVEL_LISTS,
  type AggregateModel,
  type CollationModel,
  type ColumnModel,
  type CompositeAttributeModel,
  type CompositeTypeModel,
  type ConstraintModel,
  type DomainModel,
  type EnumModel,
  type FunctionModel,
  type IndexModel,
  type OperatorClassModel,
  type OperatorFamilyModel,
  type OperatorModel,
  type PolicyModel,
  type RangeTypeModel,
  type RuleModel,
  type SchemaField,
  type SchemaModel,
  type SequenceModel,
  type StatisticsModel,
  type TableModel,
  type TextSearchConfigurationModel,
  type TextSearchDictionaryModel,
  type TextSearchParserModel,
  type TextSearchTemplateModel,
  type TopLevelList,
  type TriggerModel,
  type ViewModel,
  SCHEMA_MODEL_FORMAT,
} from './model.js';
import { SchemaCatalogError } from '../core/errors.js';
import { loadVersionNeutral, startLoadingParser, unqualifyViews, type VersionNeutral } from './versionNeutral.js';
import { createHash } from 'node:crypto';
import { isGeneratedName } from './generatedNames.js';

import type { NamedQuery, Queryable } from '../core/types.js';

/** `text` as a statement prepared once per session under a name derived from it. */
export function namedQuery(text: string, values: unknown[]): NamedQuery {
  return { name: `migrate_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`, text, values };
}

/**
 * `text` for catalogs of about `rows` user rows: one text, and so one named
 * statement, for each doubling of them (from 512 on). A named statement
 * keeps the generic plan it got when first run (the incremental reader sets
 * plan_cache_mode), and for a small catalog the planner prefers reading it
 * from end to end to looking rows up through an index: a replay, whose
 * reads are planned after its first migrations, would read whole catalogs
 * after every migration ever after, each read a little slower than the one
 * before (at 1,000 tables, 2.8 ms for one table's parts instead of 0.6, and
 * 1.3 ms for its scan instead of 0.5: bench/SCALE.md). A new text is
 * planned anew, for the catalogs as they are then: a few plans in all.
 */
export function plannedFor(text: string, rows: number): string {
  return `${text}\n-- planned for about 2^${Math.floor(Math.log2(Math.max(rows, 512)))} rows`;
}

export interface ReadSchemaModelOptions {
  /**
   * The managed schema.
   * @default 'public'
   */
  readonly schema?: string;
  /**
   * Tables of the runner itself (e.g. `pgmigrations`, `pgmigrations_meta`):
   * left out together with their columns, constraints, indexes, triggers,
   * policies and owned sequences.
   */
  readonly excludeTables: readonly string[];
  /**
   * `own`: run in a transaction of its own (BEGIN ... ROLLBACK), so all
   * queries see one snapshot; the connection must not be inside a
   * transaction. `existing`: the caller already opened a transaction (e.g. to
   * check a migration before committing it); the settings changed for the
   * read are put back afterwards. `ending`: the caller's transaction, which
   * it ends right after the read (a scratch replay reads each migration's
   * schema before its COMMIT): the settings stay pinned (SET LOCAL) until
   * then, without the two round trips of reading and putting them back.
   * @default 'own'
   */
  readonly transaction?: 'own' | 'existing' | 'ending';
  /**
   * Read owners and privileges (ACLs, default privileges) too: the
   * `fingerprintPrivileges` setting. Off by default, since roles usually
   * differ between the machines that compare fingerprints.
   * @default false
   */
  readonly privileges?: boolean;
}

/**
 * Session settings that change deparsed output, pinned for the read.
 * `quote_all_identifiers` would quote every name; the date/time settings
 * change how constants in defaults, checks and views print.
 */
const PINNED_SETTINGS: readonly (readonly [string, string])[] = [
  ['quote_all_identifiers', 'off'],
  ['DateStyle', 'ISO, MDY'],
  ['IntervalStyle', 'postgres'],
  ['TimeZone', 'UTC'],
  ['extra_float_digits', '1'],
  ['bytea_output', 'hex'],
  ['standard_conforming_strings', 'on'],
];

/** Reads the managed schema into a canonical, sorted model. */
export async function readSchemaModel(db: Queryable, options: ReadSchemaModelOptions): Promise<SchemaModel> {
  const context = partsContextOf(options);
  return assembleSchemaModel(await withPinnedCatalog(db, options, () => readCatalogParts(db, context, null)));
}

export function partsContextOf(options: ReadSchemaModelOptions): PartsContext {
  return { schema: options.schema ?? 'public', excludeTables: options.excludeTables, privileges: options.privileges ?? false };
}

/**
 * Runs `read` with the settings pinned for deparsing: in a REPEATABLE READ
 * transaction of its own (retried when concurrent DDL dropped an object
 * being read), or inside the caller's, putting the settings back after.
 * `also`: more settings for the read (name, value), set in the same round trip.
 */
export async function withPinnedCatalog<T>(
  db: Queryable,
  options: ReadSchemaModelOptions,
  read: (pin: PinRequest | null) => Promise<T>,
  also: readonly (readonly [string, string])[] = [],
  readPins = false,
): Promise<T> {
  const schema = options.schema ?? 'public';
  const ownTransaction = (options.transaction ?? 'own') === 'own';
  const settings = [...PINNED_SETTINGS, ...also];
  if (options.transaction === 'ending') {
    if (!readPins) await pinSettings(db, schema, settings);
    return read(readPins ? pinRequestOf(settings) : null);
  }
  if (!ownTransaction) {
    const previous = await readSettings(db, settings);
    await pinSettings(db, schema, settings);
    const result = await read(null);
    await restoreSettings(db, settings, previous);
    return result;
  }
  for (let attempt = 1; ; attempt++) {
    // REPEATABLE READ: every query sees the same snapshot of the catalogs.
    await db.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    let result: T;
    try {
      if (!readPins) await pinSettings(db, schema, settings);
      result = await read(readPins ? pinRequestOf(settings) : null);
    } catch (error) {
      // Keep the catalog error, not a failure of the clean-up.
      await db.query('ROLLBACK').catch(() => undefined);
      if (attempt < CONCURRENT_DDL_ATTEMPTS && isConcurrentDdl(error)) continue;
      throw error;
    }
    // Nothing was written; ROLLBACK also undoes the pinned settings.
    await db.query('ROLLBACK');
    return result;
  }
}

/**
 * With `readPins`, the settings are left to the read's first query, to save
 * a round trip (the incremental reader's scan, whose own output no setting
 * changes): PINNED_SQL with the schema as `$schema`, these names and values.
 */
export interface PinRequest {
  readonly names: readonly string[];
  readonly values: readonly string[];
}

function pinRequestOf(settings: readonly (readonly [string, string])[]): PinRequest {
  return { names: settings.map(([name]) => name), values: settings.map(([, value]) => value) };
}

/** What pinSettings runs, as one expression: `$s` the schema, `$n` and `$v` the names and values (parameter numbers). */
export function pinnedSettingsSql(s: number, n: number, v: number): string {
  return `pg_catalog.set_config('search_path', pg_catalog.format('pg_catalog, %I, pg_temp', $${s}::pg_catalog.text), true),
            (SELECT pg_catalog.count(pg_catalog.set_config(name, value, true))
             FROM ROWS FROM (pg_catalog.unnest($${n}::pg_catalog.text[]), pg_catalog.unnest($${v}::pg_catalog.text[])) AS s(name, value))`;
}

/** Reads of a schema that someone else is changing, before the one that gives up. */
const CONCURRENT_DDL_ATTEMPTS = 3;

/**
 * pg_get_indexdef, pg_get_constraintdef and friends read the catalog caches,
 * which see the latest catalogs rather than the snapshot: an object another
 * session dropped after the snapshot was taken fails with "cache lookup
 * failed" (XX000) or deparses to NULL. A new snapshot no longer lists it
 * (seen in the racing rounds of test/reliability/concurrency.test.ts: a runner reading a legacy schema
 * while another ran a `down`).
 */
function isConcurrentDdl(error: unknown): boolean {
  if (error instanceof SchemaCatalogError && error.step === 'definitions') return true;
  const cause = (error instanceof SchemaCatalogError ? error.cause : error) as { code?: string; message?: string } | undefined;
  return cause?.code === 'XX000' && /cache lookup failed/.test(cause.message ?? '');
}

// These three run with whatever search_path the caller left (in an existing
// transaction, a migration's): pg_catalog's functions are named outright.
async function readSettings(db: Queryable, settings: readonly (readonly [string, string])[]): Promise<string[]> {
  const names = ['search_path', ...settings.map(([name]) => name)];
  const { rows } = await db.query<{ values: string[] }>(
    `SELECT pg_catalog.array_agg(pg_catalog.current_setting(name) ORDER BY ord) AS values
     FROM pg_catalog.unnest($1::pg_catalog.text[]) WITH ORDINALITY AS s(name, ord)`,
    [names],
  );
  return rows[0]?.values ?? [];
}

async function restoreSettings(db: Queryable, settings: readonly (readonly [string, string])[], values: readonly string[]): Promise<void> {
  const names = ['search_path', ...settings.map(([name]) => name)];
  await db.query(
    'SELECT pg_catalog.set_config(name, value, true) FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]), pg_catalog.unnest($2::pg_catalog.text[])) AS s(name, value)',
    [names, values],
  );
}

/**
 * The managed schema goes between pg_catalog and pg_temp: named first,
 * pg_catalog is searched first as when it is left implicit (so deparsed
 * names print as before), and pg_temp, named last, can no longer shadow a
 * catalog table with a temporary table of a migration's.
 */
async function pinSettings(db: Queryable, schema: string, settings: readonly (readonly [string, string])[]): Promise<void> {
  const names = settings.map(([name]) => name);
  const values = settings.map(([, value]) => value);
  await db.query(`SELECT ${pinnedSettingsSql(1, 2, 3)}`, [schema, names, values]);
}

/** Runs one catalog query, naming the step in the error if it fails; `prepared`: as a named statement. */
async function queryStep<R>(db: Queryable, step: string, schema: string, text: string, params: unknown[], prepared = false): Promise<R[]> {
  try {
    return (prepared ? await db.query<R>(namedQuery(text, params)) : await db.query<R>(text, params)).rows;
  } catch (error) {
    throw new SchemaCatalogError(step, schema, error);
  }
}

// --- SQL --------------------------------------------------------------------
// Parameters everywhere: $1 is the namespace OID, $2 the excluded table
// names, $3 the OIDs of the top-level objects to read (NULL: all of them;
// the incremental reader, incrementalCatalog.ts, passes the ones that changed).
//
// These queries are parsed with the managed schema on search_path (see the
// top of this file), where a migration or a schema owner may have put
// functions and operators named like pg_catalog's with a better-matching
// signature (PostgreSQL's CVE-2018-1058 advice:
// https://wiki.postgresql.org/wiki/A_Guide_to_CVE-2018-1058%3A_Protect_Your_Search_Path).
// So every function is called as pg_catalog.fn and every operator is spelled
// OPERATOR(pg_catalog.op), also where SQL hides one (IN, NOT IN, IS DISTINCT
// FROM); values become text through format('%s'), which uses the type's
// output function, never through a cast that has no pg_cast entry (int8,
// oid, regclass to text), since CREATE CAST can add one.

const EQ = 'OPERATOR(pg_catalog.=)';
const NE = 'OPERATOR(pg_catalog.<>)';
const GT = 'OPERATOR(pg_catalog.>)';
const GE = 'OPERATOR(pg_catalog.>=)';

/** `expr` as text, by the type's output function (what `::text` prints when no cast is defined). */
function asText(expr: string): string {
  return `pg_catalog.format('%s', ${expr})`;
}

/** Not a member of an extension (pg_depend deptype 'e'). */
function notExtensionMember(catalog: string, oid: string): string {
  return `NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid ${EQ} 'pg_catalog.${catalog}'::regclass AND e.objid ${EQ} ${oid} AND e.deptype ${EQ} 'e')`;
}

/**
 * Only the top-level objects asked for ($3), or all when $3 is NULL. Names
 * $2's type too (never NULL), so every query takes the same parameters.
 */
function selected(oid: string): string {
  return `(${SELECT_ALL}${oid} ${EQ} ANY ($3::pg_catalog.oid[])) AND $2::pg_catalog.text[] IS NOT NULL`;
}

/**
 * The part of `selected` that reads everything when $3 is NULL. A read of
 * some objects runs its queries without it, as prepared statements whose
 * one plan looks the OIDs up by index (`onlySelected`).
 */
const SELECT_ALL = '$3::pg_catalog.oid[] IS NULL OR ';

function onlySelected(sql: string): string {
  return sql.split(SELECT_ALL).join('');
}

/**
 * The comment of an object. Written out instead of obj_description(), which
 * is a SQL function call per row and made the columns query three times
 * slower on 2,000 tables.
 */
function describe(catalog: string, oid: string, subId = '0'): string {
  return `(SELECT ds.description FROM pg_description ds WHERE ds.classoid ${EQ} 'pg_catalog.${catalog}'::regclass AND ds.objoid ${EQ} ${oid} AND ds.objsubid ${EQ} ${subId})`;
}

/** A collation's name as `format_type` would print a type name: qualified unless visible. */
function collationName(oid: string): string {
  return `(SELECT CASE WHEN pg_catalog.pg_collation_is_visible(co.oid) THEN pg_catalog.quote_ident(co.collname)
                       ELSE pg_catalog.format('%I.%I', cn.nspname, co.collname) END
             FROM pg_collation co JOIN pg_namespace cn ON cn.oid ${EQ} co.collnamespace WHERE co.oid ${EQ} ${oid})`;
}

/** A name-qualified-unless-visible reference to a catalog row through its reg* type, e.g. `regproc`. */
function refText(oid: string, regType: string): string {
  return `CASE WHEN ${oid} ${NE} 0::pg_catalog.oid THEN ${asText(`${oid}::pg_catalog.${regType}`)} END`;
}

/**
 * Owner and ACL columns, or NULLs when privileges are not read. The ACL is
 * left out (NULL) while it is the default for the owner, so `GRANT` then
 * `REVOKE` of the same privilege compares equal to never granting it.
 */
function privilegeColumns(privileges: boolean, owner: string, acl: string, kind: string): string {
  if (!privileges) return 'NULL::pg_catalog.text AS owner, NULL::pg_catalog.text[] AS privileges';
  return `pg_catalog.pg_get_userbyid(${owner})::pg_catalog.text AS owner,
    CASE WHEN ${acl} IS NULL OR ${acl} ${EQ} pg_catalog.acldefault('${kind}', ${owner}) THEN NULL
         ELSE (SELECT pg_catalog.array_agg(${asText('x')} ORDER BY ${asText('x')}) FROM pg_catalog.unnest(${acl}) AS x) END AS privileges`;
}

/** The relations of the managed schema, without the runner's and extensions' own. */
const RELATIONS_CTE = `
  WITH rel AS (
    SELECT c.oid, c.relname, c.relkind
    FROM pg_class c
    WHERE c.relnamespace ${EQ} $1::oid
      AND c.relkind ${EQ} ANY ('{r,p,v,m}'::"char"[])
      AND NOT (c.relname ${EQ} ANY ($2::text[]))
      AND ${selected('c.oid')}
      AND ${notExtensionMember('pg_class', 'c.oid')}
  )`;

const NAMESPACE_SQL = `SELECT ${asText('n.oid')} AS oid, pg_catalog.quote_ident(n.nspname) AS quoted,
    pg_catalog.current_setting('server_version_num') AS "versionNumber"
  FROM pg_namespace n WHERE n.nspname ${EQ} $1`;

function schemaSql(privileges: boolean): string {
  return `SELECT ${describe('pg_namespace', 'n.oid')} AS comment, ${privilegeColumns(privileges, 'n.nspowner', 'n.nspacl', 'n')},
    ${privileges
      ? `(SELECT pg_catalog.array_agg(pg_catalog.format('%s: %s', d.defaclobjtype, ${asText('x')}) ORDER BY d.defaclobjtype, ${asText('x')})
           FROM pg_default_acl d, pg_catalog.unnest(d.defaclacl) AS x WHERE d.defaclnamespace ${EQ} n.oid)`
      : 'NULL::pg_catalog.text[]'} AS "defaultPrivileges"
  FROM pg_namespace n WHERE n.oid ${EQ} $1::oid`;
}

const EXTENSIONS_SQL = `SELECT ${asText('x.oid')} AS oid, x.extname::text AS name, x.extversion AS version, ${describe('pg_extension', 'x.oid')} AS comment
  FROM pg_extension x WHERE x.extnamespace ${EQ} $1::oid AND ${selected('x.oid')}`;

function relationsSql(privileges: boolean): string {
  return `${RELATIONS_CTE}
  SELECT ${asText('c.oid')} AS oid, c.relname::text AS name, pg_catalog.quote_ident(c.relname) AS quoted, c.relkind::text AS kind,
         c.relpersistence::text AS persistence, c.reloptions::text[] AS options,
         c.relrowsecurity AS "rowSecurity", c.relforcerowsecurity AS "forceRowSecurity",
         c.relreplident::text AS "replicaIdentity", c.relhastriggers AS "hasTriggers", c.relhasrules AS "hasRules",
         (SELECT am.amname::text FROM pg_am am WHERE am.oid ${EQ} c.relam AND am.amname ${NE} 'heap' AND c.relkind ${EQ} ANY ('{r,m}'::"char"[])) AS "accessMethod",
         (SELECT t.reloptions::text[] FROM pg_class t WHERE t.oid ${EQ} c.reltoastrelid) AS "toastOptions",
         ${describe('pg_class', 'c.oid')} AS comment,
         CASE WHEN c.relkind ${EQ} 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END AS "partitionKey",
         CASE WHEN c.relispartition THEN pg_catalog.pg_get_expr(c.relpartbound, c.oid) END AS "partitionBound",
         (SELECT pg_catalog.array_agg(${asText('i.inhparent::regclass')} ORDER BY i.inhseqno)
            FROM pg_inherits i WHERE i.inhrelid ${EQ} c.oid) AS parents,
         c.relispartition AS "isPartition",
         CASE WHEN c.relkind ${EQ} ANY ('{v,m}'::"char"[]) THEN pg_catalog.pg_get_viewdef(c.oid, true) END AS "viewDefinition",
         CASE WHEN c.relkind ${EQ} ANY ('{v,m}'::"char"[]) THEN
           (SELECT pg_catalog.json_agg(pg_catalog.json_build_object('name', a.attname, 'comment', ds.description) ORDER BY a.attnum)
              FROM pg_attribute a JOIN pg_description ds ON ds.classoid ${EQ} 'pg_catalog.pg_class'::regclass AND ds.objoid ${EQ} c.oid AND ds.objsubid ${EQ} a.attnum
             WHERE a.attrelid ${EQ} c.oid AND a.attnum ${GT} 0)
         END AS "columnComments",
         ${privileges
           ? `CASE WHEN c.relkind ${EQ} ANY ('{v,m}'::"char"[]) THEN
                (SELECT pg_catalog.array_agg(pg_catalog.format('%s: %s', a.attname, ${asText('x')}) ORDER BY a.attnum, ${asText('x')})
                   FROM pg_attribute a, pg_catalog.unnest(a.attacl) AS x WHERE a.attrelid ${EQ} c.oid AND a.attnum ${GT} 0)
              END`
           : 'NULL::pg_catalog.text[]'} AS "columnPrivileges",
         ${privilegeColumns(privileges, 'c.relowner', 'c.relacl', 'r')}
  FROM rel r JOIN pg_class c ON c.oid ${EQ} r.oid`;
}

/**
 * attcompression appeared in PostgreSQL 14; attstattarget became NULL for
 * "default" in 17. Attribute options named pg_* are the server's own (some
 * builds keep a `pg_attver` there on every column), not the user's.
 */
function columnsSql(privileges: boolean, major: number): string {
  return `${RELATIONS_CTE}
  SELECT ${asText('r.oid')} AS "tableOid", a.attname::text AS name,
         pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS "notNull",
         a.attidentity::text AS identity, a.attgenerated::text AS generated,
         pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) AS expression,
         CASE WHEN a.attcollation ${NE} t.typcollation THEN ${collationName('a.attcollation')} END AS collation,
         CASE WHEN COALESCE(a.attstattarget, -1) ${GE} 0 THEN ${asText('a.attstattarget')} END AS statistics,
         CASE WHEN a.attstorage ${NE} t.typstorage THEN a.attstorage::text END AS storage,
         ${major >= 14 ? 'a.attcompression::text' : "''::pg_catalog.text"} AS compression,
         a.attoptions::text[] AS options,
         ${privileges ? `(SELECT pg_catalog.array_agg(${asText('x')} ORDER BY ${asText('x')}) FROM pg_catalog.unnest(a.attacl) AS x)` : 'NULL::pg_catalog.text[]'} AS privileges,
         ${describe('pg_class', 'a.attrelid', 'a.attnum')} AS comment
  FROM rel r
  JOIN pg_attribute a ON a.attrelid ${EQ} r.oid AND a.attnum ${GT} 0 AND NOT a.attisdropped
  JOIN pg_type t ON t.oid ${EQ} a.atttypid
  LEFT JOIN pg_attrdef ad ON ad.adrelid ${EQ} a.attrelid AND ad.adnum ${EQ} a.attnum
  WHERE r.relkind ${EQ} ANY ('{r,p}'::"char"[])
  ORDER BY r.oid, a.attnum`;
}

// Not-null constraints (contype 'n', PostgreSQL 18) are covered by
// ColumnModel.notNull; constraint triggers ('t') by the triggers.
const CONSTRAINTS_SQL = `${RELATIONS_CTE}
  SELECT ${asText('r.oid')} AS "tableOid", r.relname::text AS "table", co.conname::text AS name, co.contype::text AS type,
         pg_catalog.pg_get_constraintdef(co.oid) AS definition,
         ${describe('pg_constraint', 'co.oid')} AS comment,
         (SELECT pg_catalog.array_agg(a.attname::text ORDER BY k.ord)
            FROM pg_catalog.unnest(co.conkey) WITH ORDINALITY AS k(attnum, ord)
            JOIN pg_attribute a ON a.attrelid ${EQ} co.conrelid AND a.attnum ${EQ} k.attnum) AS columns,
         (SELECT pg_catalog.array_agg(a.attname::text ORDER BY a.attnum)
            FROM pg_attribute a WHERE a.attrelid ${EQ} co.conindid AND a.attnum ${GT} 0) AS "indexColumns",
         COALESCE(ix.indisclustered, false) AS clustered, COALESCE(ix.indisreplident, false) AS "replicaIdentity"
  FROM rel r JOIN pg_constraint co ON co.conrelid ${EQ} r.oid
  LEFT JOIN pg_index ix ON ix.indexrelid ${EQ} co.conindid
  WHERE co.contype ${EQ} ANY ('{p,u,x,c,f}'::"char"[])`;

const INDEXES_SQL = `${RELATIONS_CTE}
  SELECT ${asText('r.oid')} AS "tableOid", r.relname::text AS "table", pg_catalog.quote_ident(r.relname) AS "quotedTable",
         i.relname::text AS name, pg_catalog.quote_ident(i.relname) AS quoted,
         pg_catalog.pg_get_indexdef(i.oid) AS definition,
         ${describe('pg_class', 'i.oid')} AS comment,
         (SELECT pg_catalog.array_agg(a.attname::text ORDER BY a.attnum)
            FROM pg_attribute a WHERE a.attrelid ${EQ} i.oid AND a.attnum ${GT} 0) AS columns,
         (SELECT pg_catalog.array_agg(pg_catalog.format('%s=%s', a.attnum, a.attstattarget) ORDER BY a.attnum)
            FROM pg_attribute a WHERE a.attrelid ${EQ} i.oid AND a.attnum ${GT} 0 AND COALESCE(a.attstattarget, -1) ${GE} 0) AS statistics,
         x.indisclustered AS clustered, x.indisreplident AS "replicaIdentity"
  FROM rel r
  JOIN pg_index x ON x.indrelid ${EQ} r.oid
  JOIN pg_class i ON i.oid ${EQ} x.indexrelid
  WHERE NOT EXISTS (SELECT 1 FROM pg_constraint co
                    WHERE co.conindid ${EQ} x.indexrelid AND co.conrelid ${EQ} r.oid AND co.contype ${EQ} ANY ('{p,u,x}'::"char"[]))`;

const TRIGGERS_SQL = `${RELATIONS_CTE}
  SELECT ${asText('r.oid')} AS "tableOid", r.relname::text AS "table", pg_catalog.quote_ident(r.relname) AS "quotedTable",
         t.tgname::text AS name, pg_catalog.quote_ident(t.tgname) AS quoted,
         pg_catalog.pg_get_triggerdef(t.oid) AS definition, t.tgenabled::text AS enabled,
         ${describe('pg_trigger', 't.oid')} AS comment
  FROM rel r JOIN pg_trigger t ON t.tgrelid ${EQ} r.oid
  WHERE NOT t.tgisinternal`;

const POLICIES_SQL = `${RELATIONS_CTE}
  SELECT ${asText('r.oid')} AS "tableOid", r.relname::text AS "table", p.polname::text AS name, p.polcmd::text AS command,
         p.polpermissive AS permissive,
         (SELECT pg_catalog.array_agg(CASE WHEN role ${EQ} 0::oid THEN 'public' ELSE pg_catalog.pg_get_userbyid(role)::text END)
            FROM pg_catalog.unnest(p.polroles) AS role) AS roles,
         pg_catalog.pg_get_expr(p.polqual, p.polrelid) AS using,
         pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) AS "withCheck",
         ${describe('pg_policy', 'p.oid')} AS comment
  FROM rel r JOIN pg_policy p ON p.polrelid ${EQ} r.oid`;

// The `_RETURN` rule of a view is the view itself.
const RULES_SQL = `${RELATIONS_CTE}
  SELECT ${asText('r.oid')} AS "tableOid", r.relname::text AS "table", w.rulename::text AS name,
         pg_catalog.pg_get_ruledef(w.oid, true) AS definition, w.ev_enabled::text AS enabled,
         ${describe('pg_rewrite', 'w.oid')} AS comment
  FROM rel r JOIN pg_rewrite w ON w.ev_class ${EQ} r.oid
  WHERE w.rulename ${NE} '_RETURN'`;

// A sequence owned by a column (serial: deptype 'a'; identity: 'i') goes
// with its table: one of the runner's tables takes its sequence along.
function sequencesSql(privileges: boolean): string {
  return `
  SELECT ${asText('c.oid')} AS oid, c.relname::text AS name, pg_catalog.format_type(s.seqtypid, NULL) AS type,
         ${asText('s.seqstart')} AS start, ${asText('s.seqincrement')} AS increment,
         ${asText('s.seqmin')} AS min, ${asText('s.seqmax')} AS max, ${asText('s.seqcache')} AS cache, s.seqcycle AS cycle,
         CASE WHEN d.refobjid IS NOT NULL THEN pg_catalog.format('%s.%I', d.refobjid::regclass, oa.attname) END AS "ownedBy",
         d.deptype::text AS "ownerDependency",
         ${describe('pg_class', 'c.oid')} AS comment,
         ${privilegeColumns(privileges, 'c.relowner', 'c.relacl', 's')}
  FROM pg_class c
  JOIN pg_sequence s ON s.seqrelid ${EQ} c.oid
  LEFT JOIN pg_depend d ON d.classid ${EQ} 'pg_catalog.pg_class'::regclass AND d.objid ${EQ} c.oid
        AND d.refclassid ${EQ} 'pg_catalog.pg_class'::regclass AND d.refobjsubid ${GT} 0 AND d.deptype ${EQ} ANY ('{a,i}'::"char"[])
  LEFT JOIN pg_class owner ON owner.oid ${EQ} d.refobjid
  LEFT JOIN pg_attribute oa ON oa.attrelid ${EQ} d.refobjid AND oa.attnum ${EQ} d.refobjsubid
  WHERE c.relnamespace ${EQ} $1::oid AND c.relkind ${EQ} 'S'
    AND NOT (c.relname ${EQ} ANY ($2::text[]))
    AND NOT COALESCE(owner.relnamespace ${EQ} $1::oid AND owner.relname ${EQ} ANY ($2::text[]), false)
    AND ${selected('c.oid')}
    AND ${notExtensionMember('pg_class', 'c.oid')}`;
}

// Composite types of tables (typrelid of relkind 'r', 'v', ...) are
// implied by the tables; only free-standing ones (relkind 'c') are listed.
// Range types: to_jsonb(pg_range) because rngmultitypid exists only from
// PostgreSQL 14 on; the multirange's name is kept only when it is not the
// one PostgreSQL makes up.
function typesSql(privileges: boolean): string {
  return `
  SELECT ${asText('t.oid')} AS oid, t.typname::text AS name, t.typtype::text AS kind,
         ${describe('pg_type', 't.oid')} AS comment,
         CASE WHEN t.typtype ${EQ} 'e' THEN
           (SELECT pg_catalog.array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid ${EQ} t.oid)
         END AS labels,
         CASE WHEN t.typtype ${EQ} 'd' THEN pg_catalog.format_type(t.typbasetype, t.typtypmod) END AS "baseType",
         t.typnotnull AS "notNull",
         pg_catalog.pg_get_expr(t.typdefaultbin, 0::oid) AS "default",
         CASE WHEN t.typtype ${EQ} 'd' AND t.typcollation ${NE} bt.typcollation THEN ${collationName('t.typcollation')} END AS collation,
         CASE WHEN t.typtype ${EQ} 'd' THEN
           (SELECT pg_catalog.json_agg(pg_catalog.json_build_object('name', co.conname, 'definition', pg_catalog.pg_get_constraintdef(co.oid),
                                              'comment', ${describe('pg_constraint', 'co.oid')}))
              FROM pg_constraint co WHERE co.contypid ${EQ} t.oid AND co.contype ${EQ} 'c')
         END AS checks,
         CASE WHEN t.typtype ${EQ} 'c' THEN
           (SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
                     'name', a.attname, 'type', pg_catalog.format_type(a.atttypid, a.atttypmod),
                     'collation', CASE WHEN a.attcollation ${NE} at.typcollation THEN ${collationName('a.attcollation')} END,
                     'comment', ${describe('pg_class', 'a.attrelid', 'a.attnum')})
                   ORDER BY a.attnum)
              FROM pg_attribute a JOIN pg_type at ON at.oid ${EQ} a.atttypid
             WHERE a.attrelid ${EQ} t.typrelid AND a.attnum ${GT} 0 AND NOT a.attisdropped)
         END AS attributes,
         CASE WHEN t.typtype ${EQ} 'r' THEN
           (SELECT pg_catalog.json_build_object(
                     'subtype', pg_catalog.format_type(rg.rngsubtype, NULL),
                     'collation', CASE WHEN rg.rngcollation ${NE} st.typcollation THEN ${collationName('rg.rngcollation')} END,
                     'operatorClass', CASE WHEN NOT oc.opcdefault THEN ${asText('pg_catalog.quote_ident(oc.opcname)')} END,
                     'canonical', ${refText('rg.rngcanonical', 'regproc')},
                     'subtypeDiff', ${refText('rg.rngsubdiff', 'regproc')},
                     'multirange', (SELECT mt.typname FROM pg_type mt
                                     WHERE ${asText('mt.oid')} ${EQ} (pg_catalog.to_jsonb(rg) OPERATOR(pg_catalog.->>) 'rngmultitypid')))
              FROM pg_range rg JOIN pg_type st ON st.oid ${EQ} rg.rngsubtype JOIN pg_opclass oc ON oc.oid ${EQ} rg.rngsubopc
             WHERE rg.rngtypid ${EQ} t.oid)
         END AS range,
         ${privilegeColumns(privileges, 't.typowner', 't.typacl', 'T')}
  FROM pg_type t
  LEFT JOIN pg_type bt ON bt.oid ${EQ} t.typbasetype
  LEFT JOIN pg_class tc ON tc.oid ${EQ} t.typrelid
  WHERE t.typnamespace ${EQ} $1::oid
    AND (t.typtype ${EQ} ANY ('{e,d,r}'::"char"[]) OR (t.typtype ${EQ} 'c' AND tc.relkind ${EQ} 'c'))
    AND ${selected('t.oid')}
    AND ${notExtensionMember('pg_type', 't.oid')}`;
}

// Aggregates (prokind 'a') are not supported by pg_get_functiondef: their
// options are read from pg_aggregate. The constructors PostgreSQL makes for a
// range type (an internal dependency, deptype 'i') go with the type.
function functionsSql(privileges: boolean): string {
  return `
  SELECT ${asText('p.oid')} AS oid, p.proname::text AS name, pg_catalog.quote_ident(p.proname) AS quoted, p.prokind::text AS kind,
         pg_catalog.pg_get_function_identity_arguments(p.oid) AS arguments,
         CASE WHEN p.prokind ${NE} 'a' THEN pg_catalog.pg_get_functiondef(p.oid) END AS definition,
         CASE WHEN p.prokind ${EQ} 'a' THEN
           (SELECT pg_catalog.concat_ws(', ',
              pg_catalog.format('SFUNC = %s', ag.aggtransfn::pg_catalog.regproc),
              pg_catalog.format('STYPE = %s', pg_catalog.format_type(ag.aggtranstype, NULL)),
              CASE WHEN ag.aggtransspace ${NE} 0 THEN pg_catalog.format('SSPACE = %s', ag.aggtransspace) END,
              CASE WHEN ag.aggfinalfn ${NE} 0::oid THEN pg_catalog.format('FINALFUNC = %s', ag.aggfinalfn::pg_catalog.regproc) END,
              CASE WHEN ag.aggfinalextra THEN 'FINALFUNC_EXTRA' END,
              CASE WHEN ag.aggfinalmodify ${NE} CASE WHEN ag.aggkind ${EQ} 'n' THEN 'r' ELSE 'w' END THEN pg_catalog.format('FINALFUNC_MODIFY = %s', ag.aggfinalmodify) END,
              CASE WHEN ag.aggcombinefn ${NE} 0::oid THEN pg_catalog.format('COMBINEFUNC = %s', ag.aggcombinefn::pg_catalog.regproc) END,
              CASE WHEN ag.aggserialfn ${NE} 0::oid THEN pg_catalog.format('SERIALFUNC = %s', ag.aggserialfn::pg_catalog.regproc) END,
              CASE WHEN ag.aggdeserialfn ${NE} 0::oid THEN pg_catalog.format('DESERIALFUNC = %s', ag.aggdeserialfn::pg_catalog.regproc) END,
              CASE WHEN ag.agginitval IS NOT NULL THEN pg_catalog.format('INITCOND = %L', ag.agginitval) END,
              CASE WHEN ag.aggmtransfn ${NE} 0::oid THEN pg_catalog.format('MSFUNC = %s', ag.aggmtransfn::pg_catalog.regproc) END,
              CASE WHEN ag.aggminvtransfn ${NE} 0::oid THEN pg_catalog.format('MINVFUNC = %s', ag.aggminvtransfn::pg_catalog.regproc) END,
              CASE WHEN ag.aggmtranstype ${NE} 0::oid THEN pg_catalog.format('MSTYPE = %s', pg_catalog.format_type(ag.aggmtranstype, NULL)) END,
              CASE WHEN ag.aggmtransspace ${NE} 0 THEN pg_catalog.format('MSSPACE = %s', ag.aggmtransspace) END,
              CASE WHEN ag.aggmfinalfn ${NE} 0::oid THEN pg_catalog.format('MFINALFUNC = %s', ag.aggmfinalfn::pg_catalog.regproc) END,
              CASE WHEN ag.aggmfinalextra THEN 'MFINALFUNC_EXTRA' END,
              CASE WHEN ag.aggminitval IS NOT NULL THEN pg_catalog.format('MINITCOND = %L', ag.aggminitval) END,
              CASE WHEN ag.aggsortop ${NE} 0::oid THEN pg_catalog.format('SORTOP = %s', ag.aggsortop::pg_catalog.regoperator) END,
              CASE WHEN ag.aggkind ${EQ} 'h' THEN 'HYPOTHETICAL' END,
              CASE WHEN p.proparallel ${NE} 'u' THEN pg_catalog.format('PARALLEL = %s', CASE p.proparallel WHEN 's' THEN 'SAFE' ELSE 'RESTRICTED' END) END)
              FROM pg_aggregate ag WHERE ag.aggfnoid ${EQ} p.oid)
         END AS aggregate,
         ${describe('pg_proc', 'p.oid')} AS comment,
         ${privilegeColumns(privileges, 'p.proowner', 'p.proacl', 'f')}
  FROM pg_proc p
  WHERE p.pronamespace ${EQ} $1::oid AND p.prokind ${EQ} ANY ('{f,p,w,a}'::"char"[])
    AND ${selected('p.oid')}
    AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid ${EQ} 'pg_catalog.pg_proc'::regclass AND e.objid ${EQ} p.oid AND e.deptype ${EQ} ANY ('{e,i}'::"char"[]))`;
}

function operatorsSql(privileges: boolean): string {
  return `
  SELECT ${asText('o.oid')} AS oid, o.oprname::text AS name,
         CASE WHEN o.oprleft ${NE} 0::oid THEN pg_catalog.format_type(o.oprleft, NULL) END AS "left",
         pg_catalog.format_type(o.oprright, NULL) AS "right",
         pg_catalog.concat_ws(', ',
           pg_catalog.format('FUNCTION = %s', o.oprcode::pg_catalog.regproc),
           CASE WHEN o.oprcom ${NE} 0::oid THEN pg_catalog.format('COMMUTATOR = %s', o.oprcom::pg_catalog.regoperator) END,
           CASE WHEN o.oprnegate ${NE} 0::oid THEN pg_catalog.format('NEGATOR = %s', o.oprnegate::pg_catalog.regoperator) END,
           CASE WHEN o.oprrest ${NE} 0::oid THEN pg_catalog.format('RESTRICT = %s', o.oprrest::pg_catalog.regproc) END,
           CASE WHEN o.oprjoin ${NE} 0::oid THEN pg_catalog.format('JOIN = %s', o.oprjoin::pg_catalog.regproc) END,
           CASE WHEN o.oprcanhash THEN 'HASHES' END,
           CASE WHEN o.oprcanmerge THEN 'MERGES' END) AS definition,
         ${describe('pg_operator', 'o.oid')} AS comment,
         ${privileges ? 'pg_catalog.pg_get_userbyid(o.oprowner)::pg_catalog.text' : 'NULL::pg_catalog.text'} AS owner
  FROM pg_operator o
  WHERE o.oprnamespace ${EQ} $1::oid AND ${selected('o.oid')} AND ${notExtensionMember('pg_operator', 'o.oid')}`;
}

function operatorClassesSql(privileges: boolean): string {
  return `
  SELECT ${asText('c.oid')} AS oid, c.opcname::text AS name, am.amname::text AS method,
         pg_catalog.format_type(c.opcintype, NULL) AS type, c.opcdefault AS "default",
         CASE WHEN f.opfname ${NE} c.opcname OR f.opfnamespace ${NE} c.opcnamespace THEN ${asText('pg_catalog.quote_ident(f.opfname)')} END AS family,
         CASE WHEN c.opckeytype ${NE} 0::oid THEN pg_catalog.format_type(c.opckeytype, NULL) END AS storage,
         ${describe('pg_opclass', 'c.oid')} AS comment,
         ${privileges ? 'pg_catalog.pg_get_userbyid(c.opcowner)::pg_catalog.text' : 'NULL::pg_catalog.text'} AS owner
  FROM pg_opclass c JOIN pg_am am ON am.oid ${EQ} c.opcmethod JOIN pg_opfamily f ON f.oid ${EQ} c.opcfamily
  WHERE c.opcnamespace ${EQ} $1::oid AND ${selected('c.oid')} AND ${notExtensionMember('pg_opclass', 'c.oid')}`;
}

function operatorFamiliesSql(privileges: boolean): string {
  return `
  SELECT ${asText('f.oid')} AS oid, f.opfname::text AS name, am.amname::text AS method,
         (SELECT pg_catalog.array_agg(pg_catalog.format('OPERATOR %s %s%s', o.amopstrategy, o.amopopr::pg_catalog.regoperator,
                    CASE WHEN o.amoppurpose ${EQ} 'o' THEN pg_catalog.format(' FOR ORDER BY %s', ${asText('pg_catalog.quote_ident(sf.opfname)')}) ELSE '' END)
                  ORDER BY o.amopstrategy, ${asText('o.amopopr::pg_catalog.regoperator')})
            FROM pg_amop o LEFT JOIN pg_opfamily sf ON sf.oid ${EQ} o.amopsortfamily WHERE o.amopfamily ${EQ} f.oid) AS operators,
         (SELECT pg_catalog.array_agg(pg_catalog.format('FUNCTION %s (%s, %s) %s', p.amprocnum, pg_catalog.format_type(p.amproclefttype, NULL),
                    pg_catalog.format_type(p.amprocrighttype, NULL), p.amproc::pg_catalog.regprocedure)
                  ORDER BY p.amprocnum, ${asText('p.amproc::pg_catalog.regprocedure')})
            FROM pg_amproc p WHERE p.amprocfamily ${EQ} f.oid) AS functions,
         ${describe('pg_opfamily', 'f.oid')} AS comment,
         ${privileges ? 'pg_catalog.pg_get_userbyid(f.opfowner)::pg_catalog.text' : 'NULL::pg_catalog.text'} AS owner
  FROM pg_opfamily f JOIN pg_am am ON am.oid ${EQ} f.opfmethod
  WHERE f.opfnamespace ${EQ} $1::oid AND ${selected('f.oid')} AND ${notExtensionMember('pg_opfamily', 'f.oid')}`;
}

// to_jsonb: the locale columns differ between majors (collcollate held the
// ICU locale up to 14, colliculocale in 15 and 16, colllocale from 17 on).
function collationsSql(privileges: boolean): string {
  return `
  SELECT ${asText('c.oid')} AS oid, c.collname::text AS name, pg_catalog.to_jsonb(c) AS "row",
         ${describe('pg_collation', 'c.oid')} AS comment,
         ${privileges ? 'pg_catalog.pg_get_userbyid(c.collowner)::pg_catalog.text' : 'NULL::pg_catalog.text'} AS owner
  FROM pg_collation c
  WHERE c.collnamespace ${EQ} $1::oid AND ${selected('c.oid')} AND ${notExtensionMember('pg_collation', 'c.oid')}`;
}

function textSearchSql(privileges: boolean): string {
  const owner = (column: string): string => (privileges ? `pg_catalog.pg_get_userbyid(${column})::pg_catalog.text` : 'NULL::pg_catalog.text');
  return `
  SELECT ${asText('c.oid')} AS oid, 'configuration' AS kind, c.cfgname::text AS name,
         CASE WHEN pg_catalog.pg_ts_parser_is_visible(p.oid) THEN pg_catalog.quote_ident(p.prsname)
              ELSE pg_catalog.format('%s.%I', p.prsnamespace::pg_catalog.regnamespace, p.prsname) END AS parser,
         (SELECT pg_catalog.array_agg(pg_catalog.format('%s: %s', m.token, m.dictionaries) ORDER BY m.tokid)
            FROM (SELECT mm.maptokentype AS tokid,
                         (SELECT tt.alias FROM pg_catalog.ts_token_type(c.cfgparser) AS tt WHERE tt.tokid ${EQ} mm.maptokentype) AS token,
                         pg_catalog.string_agg(${asText('mm.mapdict::pg_catalog.regdictionary')}, ', ' ORDER BY mm.mapseqno) AS dictionaries
                    FROM pg_ts_config_map mm WHERE mm.mapcfg ${EQ} c.oid GROUP BY mm.maptokentype) AS m) AS mappings,
         NULL::pg_catalog.text AS definition,
         ${describe('pg_ts_config', 'c.oid')} AS comment, ${owner('c.cfgowner')} AS owner
  FROM pg_ts_config c JOIN pg_ts_parser p ON p.oid ${EQ} c.cfgparser
  WHERE c.cfgnamespace ${EQ} $1::oid AND ${selected('c.oid')} AND ${notExtensionMember('pg_ts_config', 'c.oid')}
  UNION ALL
  SELECT ${asText('d.oid')}, 'dictionary', d.dictname::text,
         CASE WHEN pg_catalog.pg_ts_template_is_visible(t.oid) THEN pg_catalog.quote_ident(t.tmplname)
              ELSE pg_catalog.format('%s.%I', t.tmplnamespace::pg_catalog.regnamespace, t.tmplname) END,
         NULL, d.dictinitoption, ${describe('pg_ts_dict', 'd.oid')}, ${owner('d.dictowner')}
  FROM pg_ts_dict d JOIN pg_ts_template t ON t.oid ${EQ} d.dicttemplate
  WHERE d.dictnamespace ${EQ} $1::oid AND ${selected('d.oid')} AND ${notExtensionMember('pg_ts_dict', 'd.oid')}
  UNION ALL
  SELECT ${asText('p.oid')}, 'parser', p.prsname::text, NULL, NULL,
         pg_catalog.concat_ws(', ', pg_catalog.format('START = %s', p.prsstart::pg_catalog.regproc), pg_catalog.format('GETTOKEN = %s', p.prstoken::pg_catalog.regproc),
           pg_catalog.format('END = %s', p.prsend::pg_catalog.regproc), pg_catalog.format('LEXTYPES = %s', p.prslextype::pg_catalog.regproc),
           CASE WHEN p.prsheadline ${NE} 0::oid THEN pg_catalog.format('HEADLINE = %s', p.prsheadline::pg_catalog.regproc) END),
         ${describe('pg_ts_parser', 'p.oid')}, NULL
  FROM pg_ts_parser p
  WHERE p.prsnamespace ${EQ} $1::oid AND ${selected('p.oid')} AND ${notExtensionMember('pg_ts_parser', 'p.oid')}
  UNION ALL
  SELECT ${asText('t.oid')}, 'template', t.tmplname::text, NULL, NULL,
         pg_catalog.concat_ws(', ', CASE WHEN t.tmplinit ${NE} 0::oid THEN pg_catalog.format('INIT = %s', t.tmplinit::pg_catalog.regproc) END,
           pg_catalog.format('LEXIZE = %s', t.tmpllexize::pg_catalog.regproc)),
         ${describe('pg_ts_template', 't.oid')}, NULL
  FROM pg_ts_template t
  WHERE t.tmplnamespace ${EQ} $1::oid AND ${selected('t.oid')} AND ${notExtensionMember('pg_ts_template', 't.oid')}`;
}

// stxstattarget is -1 for "default" up to PostgreSQL 16, NULL from 17 on.
function statisticsSql(privileges: boolean): string {
  return `
  SELECT ${asText('s.oid')} AS oid, s.stxname::text AS name, pg_catalog.quote_ident(s.stxname) AS quoted,
         pg_catalog.pg_get_statisticsobjdef(s.oid) AS definition,
         CASE WHEN COALESCE(s.stxstattarget, -1) ${GE} 0 THEN ${asText('s.stxstattarget')} END AS target,
         ${describe('pg_statistic_ext', 's.oid')} AS comment,
         ${privileges ? 'pg_catalog.pg_get_userbyid(s.stxowner)::pg_catalog.text' : 'NULL::pg_catalog.text'} AS owner
  FROM pg_statistic_ext s JOIN pg_class c ON c.oid ${EQ} s.stxrelid
  WHERE s.stxnamespace ${EQ} $1::oid AND NOT (c.relnamespace ${EQ} $1::oid AND c.relname ${EQ} ANY ($2::text[]))
    AND ${selected('s.oid')} AND ${notExtensionMember('pg_statistic_ext', 's.oid')}`;
}

// --- Row shapes ---------------------------------------------------------------

interface PrivilegeColumns {
  owner: string | null;
  privileges: string[] | null;
}

interface RelationRow extends PrivilegeColumns {
  oid: string;
  name: string;
  quoted: string;
  kind: 'r' | 'p' | 'v' | 'm';
  persistence: string;
  options: string[] | null;
  rowSecurity: boolean;
  forceRowSecurity: boolean;
  replicaIdentity: string;
  hasTriggers: boolean;
  hasRules: boolean;
  accessMethod: string | null;
  toastOptions: string[] | null;
  comment: string | null;
  partitionKey: string | null;
  partitionBound: string | null;
  parents: string[] | null;
  isPartition: boolean;
  viewDefinition: string | null;
  columnComments: { name: string; comment: string }[] | null;
  columnPrivileges: string[] | null;
}

interface ColumnRow {
  tableOid: string;
  name: string;
  type: string;
  notNull: boolean;
  identity: string;
  generated: string;
  expression: string | null;
  collation: string | null;
  statistics: string | null;
  storage: string | null;
  compression: string;
  options: string[] | null;
  privileges: string[] | null;
  comment: string | null;
}

interface ConstraintRow {
  tableOid: string;
  table: string;
  name: string;
  type: 'p' | 'u' | 'x' | 'c' | 'f';
  definition: string;
  comment: string | null;
  columns: string[] | null;
  indexColumns: string[] | null;
  clustered: boolean;
  replicaIdentity: boolean;
}

interface IndexRow {
  tableOid: string;
  table: string;
  quotedTable: string;
  name: string;
  quoted: string;
  definition: string;
  comment: string | null;
  columns: string[] | null;
  statistics: string[] | null;
  clustered: boolean;
  replicaIdentity: boolean;
}

interface TriggerRow {
  tableOid: string;
  table: string;
  quotedTable: string;
  name: string;
  quoted: string;
  definition: string;
  enabled: string;
  comment: string | null;
}

interface PolicyRow {
  tableOid: string;
  table: string;
  name: string;
  command: string;
  permissive: boolean;
  roles: string[] | null;
  using: string | null;
  withCheck: string | null;
  comment: string | null;
}

interface RuleRow {
  tableOid: string;
  table: string;
  name: string;
  definition: string;
  enabled: string;
  comment: string | null;
}

interface SequenceRow extends PrivilegeColumns {
  oid: string;
  name: string;
  type: string;
  start: string;
  increment: string;
  min: string;
  max: string;
  cache: string;
  cycle: boolean;
  ownedBy: string | null;
  ownerDependency: string | null;
  comment: string | null;
}

interface TypeRow extends PrivilegeColumns {
  oid: string;
  name: string;
  kind: 'e' | 'd' | 'c' | 'r';
  comment: string | null;
  labels: string[] | null;
  baseType: string | null;
  notNull: boolean;
  default: string | null;
  collation: string | null;
  checks: { name: string; definition: string; comment: string | null }[] | null;
  attributes: { name: string; type: string; collation: string | null; comment: string | null }[] | null;
  range: {
    subtype: string;
    collation: string | null;
    operatorClass: string | null;
    canonical: string | null;
    subtypeDiff: string | null;
    multirange: string | null;
  } | null;
}

interface FunctionRow extends PrivilegeColumns {
  oid: string;
  name: string;
  quoted: string;
  kind: 'f' | 'p' | 'w' | 'a';
  arguments: string;
  definition: string | null;
  aggregate: string | null;
  comment: string | null;
}

interface OperatorRow {
  oid: string;
  name: string;
  left: string | null;
  right: string;
  definition: string;
  comment: string | null;
  owner: string | null;
}

interface OperatorClassRow {
  oid: string;
  name: string;
  method: string;
  type: string;
  default: boolean;
  family: string | null;
  storage: string | null;
  comment: string | null;
  owner: string | null;
}

interface OperatorFamilyRow {
  oid: string;
  name: string;
  method: string;
  operators: string[] | null;
  functions: string[] | null;
  comment: string | null;
  owner: string | null;
}

interface CollationRow {
  oid: string;
  name: string;
  row: Record<string, unknown>;
  comment: string | null;
  owner: string | null;
}

interface TextSearchRow {
  oid: string;
  kind: 'configuration' | 'dictionary' | 'parser' | 'template';
  name: string;
  parser: string | null;
  mappings: string[] | null;
  definition: string | null;
  comment: string | null;
  owner: string | null;
}

interface StatisticsRow {
  oid: string;
  name: string;
  quoted: string;
  definition: string;
  target: string | null;
  comment: string | null;
  owner: string | null;
}

// --- Parts ----------------------------------------------------------------------

/** One top-level object of the model and the list it goes in. */
export interface CatalogPart {
  readonly list: TopLevelList;
  readonly value: object;
}

/**
 * What one read found, by the OID of each top-level object (a table's part
 * holds the table with its columns, constraints, indexes, triggers and
 * policies, and its rules). The incremental reader replaces the parts of the
 * objects that changed and keeps the rest; `assembleSchemaModel` turns parts
 * into the model, the same way for a full and an incremental read.
 */
export interface CatalogParts {
  /** The managed schema's OID, or null when it does not exist. */
  readonly namespaceOid: string | null;
  /** The managed schema as the queries need it (null when it does not exist). */
  readonly namespace?: NamespaceInfo | null;
  readonly own: Pick<SchemaModel, SchemaField>;
  readonly objects: ReadonlyMap<string, readonly CatalogPart[]>;
}

/** The managed schema: its OID, its quoted name, and the server's major. */
export interface NamespaceInfo {
  readonly oid: string;
  readonly quoted: string;
  readonly major: number;
}

/** What a read of some parts can take from an earlier read instead of reading again. */
export interface KnownParts {
  readonly namespace: NamespaceInfo;
  /** The user rows of the catalogs (about): a read of some objects is planned for them (plannedFor). */
  readonly plannedFor?: number;
  /** The schema's own fields, when they did not change. */
  readonly own?: Pick<SchemaModel, SchemaField>;
}

/** What a read of parts needs to know. */
export interface PartsContext {
  readonly schema: string;
  readonly excludeTables: readonly string[];
  readonly privileges: boolean;
}

/** The groups of queries a read of parts runs; the schema's own fields are always read. */
export type PartKind =
  | 'extensions'
  | 'relations'
  | 'sequences'
  | 'types'
  | 'functions'
  | 'operators'
  | 'operatorClasses'
  | 'operatorFamilies'
  | 'collations'
  | 'textSearch'
  | 'statistics';

/** The group of queries that reads each list. */
export const PART_KIND_OF_LIST: Readonly<Record<TopLevelList, PartKind>> = {
  extensions: 'extensions',
  tables: 'relations',
  views: 'relations',
  rules: 'relations',
  sequences: 'sequences',
  enums: 'types',
  domains: 'types',
  compositeTypes: 'types',
  rangeTypes: 'types',
  functions: 'functions',
  aggregates: 'functions',
  operators: 'operators',
  operatorClasses: 'operatorClasses',
  operatorFamilies: 'operatorFamilies',
  collations: 'collations',
  textSearchConfigurations: 'textSearch',
  textSearchDictionaries: 'textSearch',
  textSearchParsers: 'textSearch',
  textSearchTemplates: 'textSearch',
  statistics: 'statistics',
};

/** The steps that read relations and their parts, by the names readCatalogParts gives them. */
function relationStepsOf(privileges: boolean, major: number): Record<RelationStep, string> {
  return {
    relations: relationsSql(privileges),
    columns: columnsSql(privileges, major),
    constraints: CONSTRAINTS_SQL,
    indexes: INDEXES_SQL,
    triggers: TRIGGERS_SQL,
    policies: POLICIES_SQL,
    rules: RULES_SQL,
  };
}

type RelationStep = 'relations' | 'columns' | 'constraints' | 'indexes' | 'triggers' | 'policies' | 'rules';

/**
 * Several steps with the same parameters as one statement: a row with a
 * column per step, the JSON array of its rows (NULL for none). Every step's
 * columns are text, boolean, text[] or json, which JSON gives back as the
 * driver would; json_agg keeps each step's own ORDER BY (the columns' attnum
 * order), as an aggregate over a sorted subquery does.
 */
function combinedStepsSql(steps: readonly (readonly [string, string])[]): string {
  return `SELECT ${steps.map(([name, sql]) => `(SELECT pg_catalog.json_agg(q) FROM (${sql}) q) AS "${name}"`).join(',\n       ')}`;
}

/**
 * Reads the parts of the top-level objects whose OIDs are in `only` (all of
 * them when null), running only the queries of `kinds` (all when absent) and
 * none of the steps named in `skip` (which the caller knows find nothing).
 * Runs in the pinned transaction (`withPinnedCatalog`).
 */
export async function readCatalogParts(
  db: Queryable,
  context: PartsContext,
  only: readonly string[] | null,
  kinds?: ReadonlySet<PartKind>,
  known?: KnownParts,
  skip?: ReadonlySet<string>,
): Promise<CatalogParts> {
  const { schema, privileges } = context;
  const namespace = known?.namespace ?? (await readNamespace(db, schema));
  if (namespace === null) return { namespaceOid: null, namespace: null, own: {}, objects: new Map() };
  const major = namespace.major;

  const params = [namespace.oid, [...context.excludeTables], only === null ? null : [...only]];
  const ownRow = known?.own !== undefined ? undefined
    : (await queryStep<PrivilegeColumns & { comment: string | null; defaultPrivileges: string[] | null }>(db, 'schema', schema, schemaSql(privileges), [namespace.oid], known !== undefined))[0];
  // Sequential on purpose: a Queryable is one connection, which runs one query at a time anyway.
  const some = only !== null;
  const ofSome = (sql: string) => (known?.plannedFor === undefined ? onlySelected(sql) : plannedFor(onlySelected(sql), known.plannedFor));
  const wanted = (kind: PartKind, name: string) => (kinds === undefined || kinds.has(kind)) && !skip?.has(name);
  // A read of some relations (an incremental read, after each migration of a replay) asks for all of their
  // steps in one round trip (combinedStepsSql); a full read asks step by step, skipping what it can tell is empty.
  const relationSql = relationStepsOf(privileges, major);
  const relationSteps = some && wanted('relations', 'relations')
    ? (Object.entries(relationSql) as [RelationStep, string][]).filter(([name]) => wanted('relations', name))
    : [];
  const combined = relationSteps.length > 0
    ? (await queryStep<Record<string, unknown[] | null>>(db, 'relations', schema, ofSome(combinedStepsSql(relationSteps)), params, true))[0]
    : undefined;
  const step = async <R>(kind: PartKind, name: string, sql: string): Promise<R[]> =>
    wanted(kind, name) ? queryStep<R>(db, name, schema, some ? ofSome(sql) : sql, params, some) : [];
  const relationStep = async <R>(name: RelationStep): Promise<R[]> =>
    combined !== undefined ? ((combined[name] ?? []) as R[]) : step<R>('relations', name, relationSql[name]);
  const extensions = await step<{ oid: string; name: string; version: string; comment: string | null }>('extensions', 'extensions', EXTENSIONS_SQL);
  const relations = await relationStep<RelationRow>('relations');
  const viewTexts = relations.flatMap((r) => (r.viewDefinition === null ? [] : [r.viewDefinition]));
  if (viewTexts.length > 0) startLoadingParser();
  const tableOids = relations.length > 0;
  const columns = tableOids ? await relationStep<ColumnRow>('columns') : [];
  // The constraints' query (the longest of a read, for the server deparses every definition) is sent
  // first, and the views are parsed while the server runs it (2,000 tables and 200 views: about 35 ms
  // that came after the last query). A failure of either is thrown where it was before: the query's by
  // its await below, the parser's by loadVersionNeutral.
  const constraintsRead = tableOids ? relationStep<ConstraintRow>('constraints') : Promise.resolve([]);
  constraintsRead.catch(() => undefined);
  const unqualified = viewTexts.length > 0 ? await unqualifyViews(viewTexts).catch(() => undefined) : undefined;
  const constraints = await constraintsRead;
  const indexes = tableOids ? await relationStep<IndexRow>('indexes') : [];
  // relhastriggers and relhasrules stay true once set: no relation with them has none.
  const triggers = relations.some((r) => r.hasTriggers) ? await relationStep<TriggerRow>('triggers') : [];
  const policies = tableOids ? await relationStep<PolicyRow>('policies') : [];
  const rules = relations.some((r) => r.hasRules) ? await relationStep<RuleRow>('rules') : [];
  const sequences = await step<SequenceRow>('sequences', 'sequences', sequencesSql(privileges));
  const types = await step<TypeRow>('types', 'types', typesSql(privileges));
  const functions = await step<FunctionRow>('functions', 'functions', functionsSql(privileges));
  const operators = await step<OperatorRow>('operators', 'operators', operatorsSql(privileges));
  const operatorClasses = await step<OperatorClassRow>('operatorClasses', 'operator classes', operatorClassesSql(privileges));
  const operatorFamilies = await step<OperatorFamilyRow>('operatorFamilies', 'operator families', operatorFamiliesSql(privileges));
  const collations = await step<CollationRow>('collations', 'collations', collationsSql(privileges));
  const textSearch = await step<TextSearchRow>('textSearch', 'text search objects', textSearchSql(privileges));
  const statistics = await step<StatisticsRow>('statistics', 'statistics', statisticsSql(privileges));
  const vanished = [...constraints, ...indexes, ...triggers, ...rules, ...statistics].some((row) => row.definition === null) ||
    functions.some((f) => f.kind !== 'a' && f.definition === null) ||
    relations.some((r) => (r.kind === 'v' || r.kind === 'm') && r.viewDefinition === null);
  if (vanished) {
    // pg_get_*def gives NULL for an object the catalog caches no longer hold (isConcurrentDdl).
    throw new SchemaCatalogError('definitions', schema, new Error('objects were dropped while the schema was read'));
  }

  const neutral = await loadVersionNeutral([
    ...relations.map((r) => r.viewDefinition),
    ...columns.map((c) => c.expression),
    ...constraints.map((c) => c.definition),
    ...indexes.map((i) => i.definition),
    ...triggers.map((t) => t.definition),
    ...policies.flatMap((p) => [p.using, p.withCheck]),
    ...rules.map((r) => r.definition),
    ...types.flatMap((t) => [t.default, ...(t.checks ?? []).map((c) => c.definition)]),
    ...statistics.map((s) => s.definition),
  ], viewTexts.length, unqualified);
  const convert: Conversion = { quotedSchema: namespace.quoted, neutral };
  const columnsByTable = groupBy(columns, (c) => c.tableOid, (c) => toColumnModel(c, convert));
  const constraintsByTable = groupBy(constraints, (c) => c.tableOid, (c) => toConstraintModel(c, convert));
  const indexesByTable = groupBy(indexes, (i) => i.tableOid, (i) => toIndexModel(i, convert));
  const triggersByTable = groupBy(triggers, (t) => t.tableOid, (t) => toTriggerModel(t, convert));
  const policiesByTable = groupBy(policies, (p) => p.tableOid, (p) => toPolicyModel(p, convert));

  const objects = new Map<string, CatalogPart[]>();
  const put = (oid: string, list: TopLevelList, value: object): void => {
    const parts = objects.get(oid);
    if (parts === undefined) objects.set(oid, [{ list, value }]);
    else parts.push({ list, value });
  };
  for (const e of extensions) put(e.oid, 'extensions', { name: e.name, version: e.version, ...optional('comment', e.comment) });
  for (const relation of relations) {
    const comment = optional('comment', relation.comment);
    const options = relation.options === null ? {} : { options: relation.options };
    const privilegesOf = privilegeFields(relation);
    if (relation.kind === 'v' || relation.kind === 'm') {
      const viewIndexes = indexesByTable.get(relation.oid);
      const viewTriggers = triggersByTable.get(relation.oid);
      const view: ViewModel = {
        name: relation.name,
        ...(relation.kind === 'm' ? { materialized: true as const } : {}),
        definition: neutral.view(relation.viewDefinition ?? ''),
        ...options,
        ...comment,
        ...(viewIndexes === undefined ? {} : { indexes: sortNamedDefinitions(viewIndexes) }),
        ...(viewTriggers === undefined ? {} : { triggers: sortByKey(viewTriggers, (t) => t.name) }),
        ...(relation.columnComments === null ? {} : { columnComments: relation.columnComments }),
        ...(relation.columnPrivileges === null ? {} : { columnPrivileges: relation.columnPrivileges }),
        ...privilegesOf,
      };
      put(relation.oid, 'views', view);
      continue;
    }
    const parents = relation.parents ?? [];
    const table: TableModel = {
      name: relation.name,
      ...(relation.kind === 'p' ? { kind: 'partitioned' as const } : {}),
      ...optional('partitionKey', relation.partitionKey),
      ...(relation.isPartition && parents[0] !== undefined ? { partitionOf: parents[0] } : {}),
      ...optional('partitionBound', relation.partitionBound),
      ...(!relation.isPartition && parents.length > 0 ? { inherits: parents } : {}),
      ...(relation.persistence === 'u' ? { unlogged: true as const } : {}),
      ...options,
      ...(relation.rowSecurity ? { rowSecurity: true as const } : {}),
      ...(relation.forceRowSecurity ? { forceRowSecurity: true as const } : {}),
      ...(REPLICA_IDENTITIES[relation.replicaIdentity] === undefined ? {} : { replicaIdentity: REPLICA_IDENTITIES[relation.replicaIdentity] }),
      ...optional('accessMethod', relation.accessMethod),
      ...(relation.toastOptions === null ? {} : { toastOptions: relation.toastOptions }),
      ...comment,
      ...privilegesOf,
      columns: columnsByTable.get(relation.oid) ?? [],
      constraints: sortNamedDefinitions(constraintsByTable.get(relation.oid) ?? []),
      indexes: sortNamedDefinitions(indexesByTable.get(relation.oid) ?? []),
      triggers: sortByKey(triggersByTable.get(relation.oid) ?? [], (t) => t.name),
      policies: sortByKey(policiesByTable.get(relation.oid) ?? [], (p) => p.name),
    };
    put(relation.oid, 'tables', table);
  }
  for (const rule of rules) put(rule.tableOid, 'rules', toRuleModel(rule, convert));
  for (const s of sequences) put(s.oid, 'sequences', toSequenceModel(s));
  for (const t of types) {
    if (t.kind === 'e') put(t.oid, 'enums', toEnumModel(t));
    else if (t.kind === 'd') put(t.oid, 'domains', toDomainModel(t, convert));
    else if (t.kind === 'c') put(t.oid, 'compositeTypes', toCompositeTypeModel(t));
    else put(t.oid, 'rangeTypes', toRangeTypeModel(t));
  }
  for (const f of functions) {
    if (f.kind === 'a') put(f.oid, 'aggregates', toAggregateModel(f));
    else put(f.oid, 'functions', toFunctionModel(f, convert));
  }
  for (const o of operators) {
    put(o.oid, 'operators', {
      name: o.name,
      ...optional('left', o.left),
      right: o.right,
      definition: o.definition,
      ...optional('comment', o.comment),
      ...optional('owner', o.owner),
    } satisfies OperatorModel);
  }
  for (const c of operatorClasses) {
    put(c.oid, 'operatorClasses', {
      name: c.name,
      method: c.method,
      type: c.type,
      ...(c.default ? { default: true as const } : {}),
      ...optional('family', c.family),
      ...optional('storage', c.storage),
      ...optional('comment', c.comment),
      ...optional('owner', c.owner),
    } satisfies OperatorClassModel);
  }
  for (const f of operatorFamilies) {
    put(f.oid, 'operatorFamilies', {
      name: f.name,
      method: f.method,
      operators: f.operators ?? [],
      functions: f.functions ?? [],
      ...optional('comment', f.comment),
      ...optional('owner', f.owner),
    } satisfies OperatorFamilyModel);
  }
  for (const c of collations) put(c.oid, 'collations', toCollationModel(c));
  for (const t of textSearch) put(t.oid, TEXT_SEARCH_LISTS[t.kind], toTextSearchModel(t));
  for (const s of statistics) {
    put(s.oid, 'statistics', {
      name: s.name,
      definition: neutral.statement(unqualifyStatisticsDefinition(s.definition, s.quoted, namespace.quoted)),
      ...(s.target === null ? {} : { target: Number(s.target) }),
      ...optional('comment', s.comment),
      ...optional('owner', s.owner),
    } satisfies StatisticsModel);
  }

  const own = known?.own ?? (ownRow === undefined ? {} : {
    ...optional('comment', ownRow.comment),
    ...privilegeFields(ownRow),
    ...(ownRow.defaultPrivileges === null ? {} : { defaultPrivileges: ownRow.defaultPrivileges }),
  });
  return { namespaceOid: namespace.oid, namespace, own, objects };
}

/** The managed schema, or null when it does not exist. */
async function readNamespace(db: Queryable, schema: string): Promise<NamespaceInfo | null> {
  const row = (await queryStep<{ oid: string; quoted: string; versionNumber: string }>(db, 'schema', schema, NAMESPACE_SQL, [schema]))[0];
  return row === undefined ? null : { oid: row.oid, quoted: row.quoted, major: Math.floor(Number(row.versionNumber) / 10000) };
}

/**
 * The parts of `previous` with those of the objects in `reread` replaced by
 * what `fresh` (a read of exactly those OIDs) found; an object `fresh` does
 * not have was dropped. `own` always comes from `fresh`.
 */
export function mergeCatalogParts(previous: CatalogParts, reread: ReadonlySet<string>, fresh: CatalogParts): CatalogParts {
  const objects = new Map(previous.objects);
  for (const oid of reread) objects.delete(oid);
  for (const [oid, parts] of fresh.objects) objects.set(oid, parts);
  return { namespaceOid: fresh.namespaceOid, namespace: fresh.namespace, own: fresh.own, objects };
}

/** The model of a set of parts: lists in key order, each object as read (children already sorted). */
export function assembleSchemaModel(parts: CatalogParts): SchemaModel {
  const lists = new Map<TopLevelList, object[]>(TOP_LEVEL_LISTS.map((list) => [list, []]));
  for (const objectParts of parts.objects.values()) {
    for (const part of objectParts) lists.get(part.list)!.push(part.value);
  }
  const model: Record<string, unknown> = { format: SCHEMA_MODEL_FORMAT, ...parts.own };
  for (const [list, items] of lists) {
    const keyOf = TOP_LEVEL_KEYS[list] as (item: object) => string;
    model[list] = sortByKey(items, keyOf);
  }
  return model as unknown as SchemaModel;
}

const REPLICA_IDENTITIES: Readonly<Record<string, TableModel['replicaIdentity']>> = { n: 'nothing', f: 'full', i: 'index' };

const TEXT_SEARCH_LISTS = {
  configuration: 'textSearchConfigurations',
  dictionary: 'textSearchDictionaries',
  parser: 'textSearchParsers',
  template: 'textSearchTemplates',
} as const satisfies Record<TextSearchRow['kind'], TopLevelList>;

/** What turning rows into models needs: the schema's quoted name and the cross-major normaliser. */
interface Conversion {
  readonly quotedSchema: string;
  readonly neutral: VersionNeutral;
}

function privilegeFields(row: PrivilegeColumns): { owner?: string; privileges?: readonly string[] } {
  return { ...optional('owner', row.owner), ...(row.privileges === null ? {} : { privileges: row.privileges }) };
}

function toColumnModel(row: ColumnRow, convert: Conversion): ColumnModel {
  const isGenerated = row.generated !== '';
  const expression = row.expression === null ? null : convert.neutral.expression(row.expression);
  return {
    name: row.name,
    type: row.type,
    ...(row.notNull ? { notNull: true as const } : {}),
    ...(!isGenerated ? optional('default', expression) : {}),
    ...(row.identity === 'a' ? { identity: 'always' as const } : {}),
    ...(row.identity === 'd' ? { identity: 'by default' as const } : {}),
    ...(isGenerated ? optional('generated', expression) : {}),
    ...(row.generated === 'v' ? { generatedKind: 'virtual' as const } : {}),
    ...optional('collation', row.collation),
    ...(row.statistics === null ? {} : { statistics: Number(row.statistics) }),
    ...(row.storage === null ? {} : { storage: STORAGE[row.storage] }),
    ...(row.compression === 'p' ? { compression: 'pglz' as const } : row.compression === 'l' ? { compression: 'lz4' as const } : {}),
    ...userOptions(row.options),
    ...(row.privileges === null ? {} : { privileges: row.privileges }),
    ...optional('comment', row.comment),
  };
}

/** Attribute options without the server's own (`pg_*`, e.g. a `pg_attver` some builds keep on every column). */
function userOptions(options: readonly string[] | null): { options?: readonly string[] } {
  const own = options?.filter((o) => !o.startsWith('pg_')) ?? [];
  return own.length === 0 ? {} : { options: own };
}

const STORAGE: Readonly<Record<string, NonNullable<ColumnModel['storage']>>> = { p: 'plain', e: 'external', x: 'extended', m: 'main' };

/**
 * The label PostgreSQL uses when it names a constraint of this type, and the
 * columns it puts in the name (undefined: none).
 */
function generatedNamePattern(row: ConstraintRow): { label: string; columns: readonly string[] | undefined } {
  switch (row.type) {
    case 'p':
      return { label: 'pkey', columns: undefined };
    // Index-backed constraints take the index's column names, which are
    // the names PostgreSQL chose for expressions too (`lower`, `expr`).
    case 'u':
      return { label: 'key', columns: row.indexColumns ?? [] };
    case 'x':
      return { label: 'excl', columns: row.indexColumns ?? [] };
    case 'f':
      return { label: 'fkey', columns: row.columns ?? [] };
    case 'c': {
      // AddRelationNewConstraints: "tab_col_check" when the expression uses
      // exactly one column, else "tab_check" (conkey lists those columns).
      const columns = row.columns ?? [];
      return { label: 'check', columns: columns.length === 1 ? columns : undefined };
    }
  }
}

function toConstraintModel(row: ConstraintRow, convert: Conversion): ConstraintModel {
  const { label, columns } = generatedNamePattern(row);
  return {
    definition: convert.neutral.constraint(row.definition),
    ...(isGeneratedName(row.name, row.table, columns, label) ? {} : { name: row.name }),
    ...(row.clustered ? { clustered: true as const } : {}),
    ...(row.replicaIdentity ? { replicaIdentity: true as const } : {}),
    ...optional('comment', row.comment),
  };
}

function toIndexModel(row: IndexRow, convert: Conversion): IndexModel {
  const definition = unqualifyIndexDefinition(row.definition, row.quoted, `${convert.quotedSchema}.${row.quotedTable}`, row.quotedTable);
  return {
    definition: convert.neutral.statement(definition),
    ...(isGeneratedName(row.name, row.table, row.columns ?? [], 'idx') ? {} : { name: row.name }),
    ...(row.clustered ? { clustered: true as const } : {}),
    ...(row.replicaIdentity ? { replicaIdentity: true as const } : {}),
    ...(row.statistics === null ? {} : { statistics: row.statistics }),
    ...optional('comment', row.comment),
  };
}

/**
 * pg_get_indexdef always prints "CREATE [UNIQUE] INDEX name ON [ONLY] schema.table USING ...":
 * drop the index name and the schema. String prefixes, not a RegExp per index:
 * compiling one per row was most of reading 2,000 tables (bench/RESULTS.md, "Reading a large legacy schema").
 */
function unqualifyIndexDefinition(definition: string, quotedName: string, qualifiedTable: string, quotedTable: string): string {
  const create = ['CREATE INDEX ', 'CREATE UNIQUE INDEX '].find((prefix) => definition.startsWith(prefix));
  if (create === undefined) return definition;
  let rest = definition.slice(create.length);
  if (!rest.startsWith(`${quotedName} ON `)) return definition;
  rest = rest.slice(quotedName.length + ' ON '.length);
  const only = rest.startsWith('ONLY ') ? 'ONLY ' : '';
  rest = rest.slice(only.length);
  if (!rest.startsWith(`${qualifiedTable} `)) return definition;
  return `${create}ON ${only}${quotedTable} ${rest.slice(qualifiedTable.length + 1)}`;
}

/** pg_get_statisticsobjdef always qualifies the statistics object's own name. */
function unqualifyStatisticsDefinition(definition: string, quotedName: string, quotedSchema: string): string {
  const qualified = `CREATE STATISTICS ${quotedSchema}.${quotedName}`;
  return definition.startsWith(qualified) ? `CREATE STATISTICS ${quotedName}${definition.slice(qualified.length)}` : definition;
}

function toTriggerModel(row: TriggerRow, convert: Conversion): TriggerModel {
  const definition = unqualifyTriggerDefinition(row.definition, row.quoted, `${convert.quotedSchema}.${row.quotedTable}`, row.quotedTable);
  return {
    name: row.name,
    definition: convert.neutral.statement(definition),
    ...(row.enabled === 'D' || row.enabled === 'R' || row.enabled === 'A' ? { enabled: row.enabled } : {}),
    ...optional('comment', row.comment),
  };
}

/**
 * pg_get_triggerdef always qualifies the table; the name comes first, so the
 * first " ON schema.table " after it is the table. Drop the schema there.
 */
function unqualifyTriggerDefinition(definition: string, quotedName: string, qualifiedTable: string, quotedTable: string): string {
  const head = [`CREATE TRIGGER ${quotedName} `, `CREATE CONSTRAINT TRIGGER ${quotedName} `].find((prefix) =>
    definition.startsWith(prefix),
  );
  if (head === undefined) return definition;
  const on = ` ON ${qualifiedTable} `;
  const at = definition.indexOf(on, head.length);
  if (at < 0) return definition;
  return `${definition.slice(0, at)} ON ${quotedTable} ${definition.slice(at + on.length)}`;
}

const POLICY_COMMANDS: Readonly<Record<string, PolicyModel['command']>> = {
  '*': 'ALL',
  r: 'SELECT',
  a: 'INSERT',
  w: 'UPDATE',
  d: 'DELETE',
};

function toPolicyModel(row: PolicyRow, convert: Conversion): PolicyModel {
  return {
    name: row.name,
    command: POLICY_COMMANDS[row.command] ?? 'ALL',
    ...(row.permissive ? {} : { restrictive: true as const }),
    roles: sortByKey(row.roles ?? [], (r) => r),
    ...optional('using', row.using === null ? null : convert.neutral.expression(row.using)),
    ...optional('withCheck', row.withCheck === null ? null : convert.neutral.expression(row.withCheck)),
    ...optional('comment', row.comment),
  };
}

function toRuleModel(row: RuleRow, convert: Conversion): RuleModel {
  return {
    table: row.table,
    name: row.name,
    definition: convert.neutral.statement(row.definition),
    ...(row.enabled === 'D' || row.enabled === 'R' || row.enabled === 'A' ? { enabled: row.enabled } : {}),
    ...optional('comment', row.comment),
  };
}

function toSequenceModel(row: SequenceRow): SequenceModel {
  return {
    name: row.name,
    type: row.type,
    start: row.start,
    increment: row.increment,
    min: row.min,
    max: row.max,
    ...(row.cache === '1' ? {} : { cache: row.cache }),
    ...(row.cycle ? { cycle: true as const } : {}),
    ...optional('ownedBy', row.ownedBy),
    ...(row.ownerDependency === 'i' ? { identity: true as const } : {}),
    ...optional('comment', row.comment),
    ...privilegeFields(row),
  };
}

function toEnumModel(row: TypeRow): EnumModel {
  return { name: row.name, labels: row.labels ?? [], ...optional('comment', row.comment), ...privilegeFields(row) };
}

function toDomainModel(row: TypeRow, convert: Conversion): DomainModel {
  return {
    name: row.name,
    baseType: row.baseType ?? '',
    ...(row.notNull ? { notNull: true as const } : {}),
    ...optional('default', row.default === null ? null : convert.neutral.expression(row.default)),
    ...optional('collation', row.collation),
    // CREATE DOMAIN names an unnamed check "<domain>_check".
    checks: sortNamedDefinitions(
      (row.checks ?? []).map((check) => ({
        definition: convert.neutral.constraint(check.definition),
        ...(isGeneratedName(check.name, row.name, undefined, 'check') ? {} : { name: check.name }),
        ...optional('comment', check.comment),
      })),
    ),
    ...optional('comment', row.comment),
    ...privilegeFields(row),
  };
}

function toCompositeTypeModel(row: TypeRow): CompositeTypeModel {
  const attributes: CompositeAttributeModel[] = (row.attributes ?? []).map((a) => ({
    name: a.name,
    type: a.type,
    ...optional('collation', a.collation),
    ...optional('comment', a.comment),
  }));
  return { name: row.name, attributes, ...optional('comment', row.comment), ...privilegeFields(row) };
}

/**
 * makeMultirangeTypeName (src/backend/commands/typecmds.c): "range" in the
 * name becomes "multirange", else "_multirange" is appended.
 */
function defaultMultirangeName(rangeName: string): string {
  const at = rangeName.indexOf('range');
  return at < 0 ? `${rangeName}_multirange` : `${rangeName.slice(0, at)}multirange${rangeName.slice(at + 'range'.length)}`;
}

function toRangeTypeModel(row: TypeRow): RangeTypeModel {
  const range = row.range;
  const multirange = range?.multirange ?? null;
  return {
    name: row.name,
    subtype: range?.subtype ?? '',
    ...optional('collation', range?.collation ?? null),
    ...optional('operatorClass', range?.operatorClass ?? null),
    ...optional('canonical', range?.canonical ?? null),
    ...optional('subtypeDiff', range?.subtypeDiff ?? null),
    ...(multirange === null || multirange === defaultMultirangeName(row.name) ? {} : { multirange }),
    ...optional('comment', row.comment),
    ...privilegeFields(row),
  };
}

function toFunctionModel(row: FunctionRow, convert: Conversion): FunctionModel {
  // pg_get_functiondef always qualifies the name in its header.
  const keyword = row.kind === 'p' ? 'PROCEDURE' : 'FUNCTION';
  const qualified = `CREATE OR REPLACE ${keyword} ${convert.quotedSchema}.${row.quoted}(`;
  const text = row.definition ?? '';
  const definition = text.startsWith(qualified)
    ? `CREATE OR REPLACE ${keyword} ${row.quoted}(${text.slice(qualified.length)}`
    : text;
  return {
    name: row.name,
    kind: row.kind === 'p' ? 'procedure' : 'function',
    arguments: row.arguments,
    definition,
    ...optional('comment', row.comment),
    ...privilegeFields(row),
  };
}

function toAggregateModel(row: FunctionRow): AggregateModel {
  return {
    name: row.name,
    arguments: row.arguments,
    definition: row.aggregate ?? '',
    ...optional('comment', row.comment),
    ...privilegeFields(row),
  };
}

const COLLATION_PROVIDERS: Readonly<Record<string, CollationModel['provider']>> = { c: 'libc', i: 'icu', b: 'builtin', d: 'default' };

/**
 * One shape for every major: the ICU locale moved from collcollate (up to
 * 14) to colliculocale (15, 16) to colllocale (17 on). collversion is left
 * out: it is the library's version, which differs between machines.
 */
function toCollationModel(row: CollationRow): CollationModel {
  const text = (key: string): string | null => {
    const value = row.row[key];
    return typeof value === 'string' && value !== '' ? value : null;
  };
  const provider = COLLATION_PROVIDERS[String(row.row.collprovider)] ?? 'libc';
  const locale = provider === 'libc' ? null : text('colllocale') ?? text('colliculocale') ?? text('collcollate');
  const collate = provider === 'libc' ? text('collcollate') : null;
  const ctype = provider === 'libc' ? text('collctype') : null;
  return {
    name: row.name,
    provider,
    ...(locale !== null ? { locale } : collate !== null && collate === ctype ? { locale: collate } : {}),
    ...(collate !== null && collate !== ctype ? { lcCollate: collate } : {}),
    ...(ctype !== null && collate !== ctype ? { lcCtype: ctype } : {}),
    ...(row.row.collisdeterministic === false ? { deterministic: false as const } : {}),
    ...optional('rules', text('collicurules')),
    ...optional('comment', row.comment),
    ...optional('owner', row.owner),
  };
}

function toTextSearchModel(row: TextSearchRow): object {
  const common = { ...optional('comment', row.comment), ...optional('owner', row.owner) };
  switch (row.kind) {
    case 'configuration':
      return { name: row.name, parser: row.parser ?? '', mappings: row.mappings ?? [], ...common } satisfies TextSearchConfigurationModel;
    case 'dictionary':
      return { name: row.name, template: row.parser ?? '', ...optional('options', row.definition), ...common } satisfies TextSearchDictionaryModel;
    case 'parser':
      return { name: row.name, definition: row.definition ?? '', ...optional('comment', row.comment) } satisfies TextSearchParserModel;
    case 'template':
      return { name: row.name, definition: row.definition ?? '', ...optional('comment', row.comment) } satisfies TextSearchTemplateModel;
  }
}

// --- Helpers ----------------------------------------------------------------------

/** `{ [key]: value }` when the catalog has a value, `{}` for SQL NULL. */
function optional<K extends string>(key: K, value: string | null): { [P in K]?: string } {
  return value === null ? {} : ({ [key]: value } as { [P in K]?: string });
}

function groupBy<Row, T>(rows: readonly Row[], keyOf: (row: Row) => string, map: (row: Row) => T): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const key = keyOf(row);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [map(row)]);
    else group.push(map(row));
  }
  return groups;
}
