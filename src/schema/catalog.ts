/**
 * Reads one managed schema from the PostgreSQL catalogs into a `SchemaModel`.
 *
 * One query per object kind (about ten in all), never one per object, so a
 * schema of thousands of tables reads in about the time `pg_dump
 * --schema-only` takes (bench/schemaCatalog.ts measures it).
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
  createEmptySchemaModel,
  sortSchemaModel,
  type ColumnModel,
  type CompositeAttributeModel,
  type CompositeTypeModel,
  type ConstraintModel,
  type DomainModel,
  type EnumModel,
  type FunctionModel,
  type IndexModel,
  type PolicyModel,
  type SchemaModel,
  type SequenceModel,
  type TableModel,
  type TriggerModel,
  type ViewModel,
  SCHEMA_MODEL_FORMAT,
} from './model.js';
import { isGeneratedName } from './generatedNames.js';

/** What `readSchemaModel` needs from a connection; `pg.Client` and `pg.PoolClient` fit. */
export interface Queryable {
  query<R = any>(text: string, params?: unknown[]): Promise<{ rows: R[] }>;
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
   * read are put back afterwards.
   * @default 'own'
   */
  readonly transaction?: 'own' | 'existing';
}

/** A catalog query failed; `step` names the object kind being read. */
export class SchemaCatalogError extends Error {
  override readonly name = 'SchemaCatalogError';
  readonly step: string;
  readonly schema: string;

  constructor(step: string, schema: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`Could not read ${step} of schema "${schema}": ${reason}`, { cause });
    this.step = step;
    this.schema = schema;
  }
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
  const schema = options.schema ?? 'public';
  const ownTransaction = (options.transaction ?? 'own') === 'own';
  if (!ownTransaction) {
    const previous = await readSettings(db);
    await pinSettings(db, schema);
    const model = await readPinned(db, schema, options.excludeTables);
    await restoreSettings(db, previous);
    return model;
  }
  for (let attempt = 1; ; attempt++) {
    // REPEATABLE READ: every query sees the same snapshot of the catalogs.
    await db.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    let model: SchemaModel;
    try {
      await pinSettings(db, schema);
      model = await readPinned(db, schema, options.excludeTables);
    } catch (error) {
      // Keep the catalog error, not a failure of the clean-up.
      await db.query('ROLLBACK').catch(() => undefined);
      if (attempt < CONCURRENT_DDL_ATTEMPTS && isConcurrentDdl(error)) continue;
      throw error;
    }
    // Nothing was written; ROLLBACK also undoes the pinned settings.
    await db.query('ROLLBACK');
    return model;
  }
}

/** Reads of a schema that someone else is changing, before the one that gives up. */
const CONCURRENT_DDL_ATTEMPTS = 3;

/**
 * pg_get_indexdef, pg_get_constraintdef and friends read the catalog caches,
 * which see the latest catalogs rather than the snapshot: an object another
 * session dropped after the snapshot was taken fails with "cache lookup
 * failed" (XX000) or deparses to NULL. A new snapshot no longer lists it
 * (seen in the racing reliability rounds: a runner reading a legacy schema
 * while another ran a `down`).
 */
function isConcurrentDdl(error: unknown): boolean {
  if (error instanceof SchemaCatalogError && error.step === 'definitions') return true;
  const cause = (error instanceof SchemaCatalogError ? error.cause : error) as { code?: string; message?: string } | undefined;
  return cause?.code === 'XX000' && /cache lookup failed/.test(cause.message ?? '');
}

// These three run with whatever search_path the caller left (in an existing
// transaction, a migration's): pg_catalog's functions are named outright.
async function readSettings(db: Queryable): Promise<string[]> {
  const names = ['search_path', ...PINNED_SETTINGS.map(([name]) => name)];
  const { rows } = await db.query<{ values: string[] }>(
    `SELECT pg_catalog.array_agg(pg_catalog.current_setting(name) ORDER BY ord) AS values
     FROM pg_catalog.unnest($1::pg_catalog.text[]) WITH ORDINALITY AS s(name, ord)`,
    [names],
  );
  return rows[0]?.values ?? [];
}

async function restoreSettings(db: Queryable, values: readonly string[]): Promise<void> {
  const names = ['search_path', ...PINNED_SETTINGS.map(([name]) => name)];
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
async function pinSettings(db: Queryable, schema: string): Promise<void> {
  const names = PINNED_SETTINGS.map(([name]) => name);
  const values = PINNED_SETTINGS.map(([, value]) => value);
  await db.query(
    `SELECT pg_catalog.set_config('search_path', pg_catalog.format('pg_catalog, %I, pg_temp', $1::pg_catalog.text), true),
            (SELECT pg_catalog.count(pg_catalog.set_config(name, value, true))
             FROM ROWS FROM (pg_catalog.unnest($2::pg_catalog.text[]), pg_catalog.unnest($3::pg_catalog.text[])) AS s(name, value))`,
    [schema, names, values],
  );
}

/** Runs one catalog query, naming the step in the error if it fails. */
async function queryStep<R>(db: Queryable, step: string, schema: string, text: string, params: unknown[]): Promise<R[]> {
  try {
    return (await db.query<R>(text, params)).rows;
  } catch (error) {
    throw new SchemaCatalogError(step, schema, error);
  }
}

// --- SQL --------------------------------------------------------------------
// Parameters everywhere: $1 is the namespace OID, $2 the excluded table names.
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

/** `expr` as text, by the type's output function (what `::text` prints when no cast is defined). */
function asText(expr: string): string {
  return `pg_catalog.format('%s', ${expr})`;
}

/** Not a member of an extension (pg_depend deptype 'e'). */
function notExtensionMember(catalog: string, oid: string): string {
  return `NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid ${EQ} 'pg_catalog.${catalog}'::regclass AND e.objid ${EQ} ${oid} AND e.deptype ${EQ} 'e')`;
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

/** The relations of the managed schema, without the runner's and extensions' own. */
const RELATIONS_CTE = `
  WITH rel AS (
    SELECT c.oid, c.relname, c.relkind
    FROM pg_class c
    WHERE c.relnamespace ${EQ} $1::oid
      AND c.relkind ${EQ} ANY ('{r,p,v,m}'::"char"[])
      AND NOT (c.relname ${EQ} ANY ($2::text[]))
      AND ${notExtensionMember('pg_class', 'c.oid')}
  )`;

const NAMESPACE_SQL = `SELECT ${asText('oid')} AS oid, pg_catalog.quote_ident(nspname) AS quoted FROM pg_namespace WHERE nspname ${EQ} $1`;

const EXTENSIONS_SQL = `SELECT extname::text AS name FROM pg_extension`;

const RELATIONS_SQL = `${RELATIONS_CTE}
  SELECT c.relname::text AS name, pg_catalog.quote_ident(c.relname) AS quoted, c.relkind::text AS kind,
         c.relpersistence::text AS persistence, c.reloptions::text[] AS options,
         c.relrowsecurity AS "rowSecurity", c.relforcerowsecurity AS "forceRowSecurity",
         ${describe('pg_class', 'c.oid')} AS comment,
         CASE WHEN c.relkind ${EQ} 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END AS "partitionKey",
         CASE WHEN c.relispartition THEN pg_catalog.pg_get_expr(c.relpartbound, c.oid) END AS "partitionBound",
         (SELECT pg_catalog.array_agg(${asText('i.inhparent::regclass')} ORDER BY i.inhseqno)
            FROM pg_inherits i WHERE i.inhrelid ${EQ} c.oid) AS parents,
         c.relispartition AS "isPartition",
         CASE WHEN c.relkind ${EQ} ANY ('{v,m}'::"char"[]) THEN pg_catalog.pg_get_viewdef(c.oid, true) END AS "viewDefinition"
  FROM rel r JOIN pg_class c ON c.oid ${EQ} r.oid`;

const COLUMNS_SQL = `${RELATIONS_CTE}
  SELECT r.relname::text AS "table", a.attname::text AS name,
         pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS "notNull",
         a.attidentity::text AS identity, a.attgenerated::text AS generated,
         pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) AS expression,
         CASE WHEN a.attcollation ${NE} t.typcollation THEN ${collationName('a.attcollation')} END AS collation,
         ${describe('pg_class', 'a.attrelid', 'a.attnum')} AS comment
  FROM rel r
  JOIN pg_attribute a ON a.attrelid ${EQ} r.oid AND a.attnum ${GT} 0 AND NOT a.attisdropped
  JOIN pg_type t ON t.oid ${EQ} a.atttypid
  LEFT JOIN pg_attrdef ad ON ad.adrelid ${EQ} a.attrelid AND ad.adnum ${EQ} a.attnum
  WHERE r.relkind ${EQ} ANY ('{r,p}'::"char"[])
  ORDER BY r.relname, a.attnum`;

// Not-null constraints (contype 'n', PostgreSQL 18) are covered by
// ColumnModel.notNull; constraint triggers ('t') by the triggers.
const CONSTRAINTS_SQL = `${RELATIONS_CTE}
  SELECT r.relname::text AS "table", co.conname::text AS name, co.contype::text AS type,
         pg_catalog.pg_get_constraintdef(co.oid) AS definition,
         ${describe('pg_constraint', 'co.oid')} AS comment,
         (SELECT pg_catalog.array_agg(a.attname::text ORDER BY k.ord)
            FROM pg_catalog.unnest(co.conkey) WITH ORDINALITY AS k(attnum, ord)
            JOIN pg_attribute a ON a.attrelid ${EQ} co.conrelid AND a.attnum ${EQ} k.attnum) AS columns,
         (SELECT pg_catalog.array_agg(a.attname::text ORDER BY a.attnum)
            FROM pg_attribute a WHERE a.attrelid ${EQ} co.conindid AND a.attnum ${GT} 0) AS "indexColumns"
  FROM rel r JOIN pg_constraint co ON co.conrelid ${EQ} r.oid
  WHERE co.contype ${EQ} ANY ('{p,u,x,c,f}'::"char"[])`;

const INDEXES_SQL = `${RELATIONS_CTE}
  SELECT r.relname::text AS "table", pg_catalog.quote_ident(r.relname) AS "quotedTable",
         i.relname::text AS name, pg_catalog.quote_ident(i.relname) AS quoted,
         pg_catalog.pg_get_indexdef(i.oid) AS definition,
         ${describe('pg_class', 'i.oid')} AS comment,
         (SELECT pg_catalog.array_agg(a.attname::text ORDER BY a.attnum)
            FROM pg_attribute a WHERE a.attrelid ${EQ} i.oid AND a.attnum ${GT} 0) AS columns
  FROM rel r
  JOIN pg_index x ON x.indrelid ${EQ} r.oid
  JOIN pg_class i ON i.oid ${EQ} x.indexrelid
  WHERE NOT EXISTS (SELECT 1 FROM pg_constraint co
                    WHERE co.conindid ${EQ} x.indexrelid AND co.conrelid ${EQ} r.oid AND co.contype ${EQ} ANY ('{p,u,x}'::"char"[]))`;

const TRIGGERS_SQL = `${RELATIONS_CTE}
  SELECT r.relname::text AS "table", pg_catalog.quote_ident(r.relname) AS "quotedTable",
         t.tgname::text AS name, pg_catalog.quote_ident(t.tgname) AS quoted,
         pg_catalog.pg_get_triggerdef(t.oid) AS definition, t.tgenabled::text AS enabled,
         ${describe('pg_trigger', 't.oid')} AS comment
  FROM rel r JOIN pg_trigger t ON t.tgrelid ${EQ} r.oid
  WHERE NOT t.tgisinternal`;

const POLICIES_SQL = `${RELATIONS_CTE}
  SELECT r.relname::text AS "table", p.polname::text AS name, p.polcmd::text AS command,
         p.polpermissive AS permissive,
         (SELECT pg_catalog.array_agg(CASE WHEN role ${EQ} 0::oid THEN 'public' ELSE pg_catalog.pg_get_userbyid(role)::text END)
            FROM pg_catalog.unnest(p.polroles) AS role) AS roles,
         pg_catalog.pg_get_expr(p.polqual, p.polrelid) AS using,
         pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) AS "withCheck"
  FROM rel r JOIN pg_policy p ON p.polrelid ${EQ} r.oid`;

// A sequence owned by a column (serial: deptype 'a'; identity: 'i') goes
// with its table: one of the runner's tables takes its sequence along.
const SEQUENCES_SQL = `
  SELECT c.relname::text AS name, pg_catalog.format_type(s.seqtypid, NULL) AS type,
         ${asText('s.seqstart')} AS start, ${asText('s.seqincrement')} AS increment,
         ${asText('s.seqmin')} AS min, ${asText('s.seqmax')} AS max, ${asText('s.seqcache')} AS cache, s.seqcycle AS cycle,
         CASE WHEN d.refobjid IS NOT NULL THEN pg_catalog.format('%s.%I', d.refobjid::regclass, oa.attname) END AS "ownedBy",
         d.deptype::text AS "ownerDependency",
         ${describe('pg_class', 'c.oid')} AS comment
  FROM pg_class c
  JOIN pg_sequence s ON s.seqrelid ${EQ} c.oid
  LEFT JOIN pg_depend d ON d.classid ${EQ} 'pg_catalog.pg_class'::regclass AND d.objid ${EQ} c.oid
        AND d.refclassid ${EQ} 'pg_catalog.pg_class'::regclass AND d.refobjsubid ${GT} 0 AND d.deptype ${EQ} ANY ('{a,i}'::"char"[])
  LEFT JOIN pg_class owner ON owner.oid ${EQ} d.refobjid
  LEFT JOIN pg_attribute oa ON oa.attrelid ${EQ} d.refobjid AND oa.attnum ${EQ} d.refobjsubid
  WHERE c.relnamespace ${EQ} $1::oid AND c.relkind ${EQ} 'S'
    AND NOT (c.relname ${EQ} ANY ($2::text[]))
    AND NOT COALESCE(owner.relnamespace ${EQ} $1::oid AND owner.relname ${EQ} ANY ($2::text[]), false)
    AND ${notExtensionMember('pg_class', 'c.oid')}`;

// Composite types of tables (typrelid of relkind 'r', 'v', ...) are
// implied by the tables; only free-standing ones (relkind 'c') are listed.
const TYPES_SQL = `
  SELECT t.typname::text AS name, t.typtype::text AS kind,
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
                     'collation', CASE WHEN a.attcollation ${NE} at.typcollation THEN ${collationName('a.attcollation')} END)
                   ORDER BY a.attnum)
              FROM pg_attribute a JOIN pg_type at ON at.oid ${EQ} a.atttypid
             WHERE a.attrelid ${EQ} t.typrelid AND a.attnum ${GT} 0 AND NOT a.attisdropped)
         END AS attributes
  FROM pg_type t
  LEFT JOIN pg_type bt ON bt.oid ${EQ} t.typbasetype
  LEFT JOIN pg_class tc ON tc.oid ${EQ} t.typrelid
  WHERE t.typnamespace ${EQ} $1::oid
    AND (t.typtype ${EQ} ANY ('{e,d}'::"char"[]) OR (t.typtype ${EQ} 'c' AND tc.relkind ${EQ} 'c'))
    AND ${notExtensionMember('pg_type', 't.oid')}`;

// Aggregates (prokind 'a') are not supported by pg_get_functiondef.
const FUNCTIONS_SQL = `
  SELECT p.proname::text AS name, pg_catalog.quote_ident(p.proname) AS quoted, p.prokind::text AS kind,
         pg_catalog.pg_get_function_identity_arguments(p.oid) AS arguments,
         pg_catalog.pg_get_functiondef(p.oid) AS definition,
         ${describe('pg_proc', 'p.oid')} AS comment
  FROM pg_proc p
  WHERE p.pronamespace ${EQ} $1::oid AND p.prokind ${EQ} ANY ('{f,p,w}'::"char"[])
    AND ${notExtensionMember('pg_proc', 'p.oid')}`;

// --- Row shapes ---------------------------------------------------------------

interface RelationRow {
  name: string;
  quoted: string;
  kind: 'r' | 'p' | 'v' | 'm';
  persistence: string;
  options: string[] | null;
  rowSecurity: boolean;
  forceRowSecurity: boolean;
  comment: string | null;
  partitionKey: string | null;
  partitionBound: string | null;
  parents: string[] | null;
  isPartition: boolean;
  viewDefinition: string | null;
}

interface ColumnRow {
  table: string;
  name: string;
  type: string;
  notNull: boolean;
  identity: string;
  generated: string;
  expression: string | null;
  collation: string | null;
  comment: string | null;
}

interface ConstraintRow {
  table: string;
  name: string;
  type: 'p' | 'u' | 'x' | 'c' | 'f';
  definition: string;
  comment: string | null;
  columns: string[] | null;
  indexColumns: string[] | null;
}

interface IndexRow {
  table: string;
  quotedTable: string;
  name: string;
  quoted: string;
  definition: string;
  comment: string | null;
  columns: string[] | null;
}

interface TriggerRow {
  table: string;
  quotedTable: string;
  name: string;
  quoted: string;
  definition: string;
  enabled: string;
  comment: string | null;
}

interface PolicyRow {
  table: string;
  name: string;
  command: string;
  permissive: boolean;
  roles: string[] | null;
  using: string | null;
  withCheck: string | null;
}

interface SequenceRow {
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

interface TypeRow {
  name: string;
  kind: 'e' | 'd' | 'c';
  comment: string | null;
  labels: string[] | null;
  baseType: string | null;
  notNull: boolean;
  default: string | null;
  collation: string | null;
  checks: { name: string; definition: string; comment: string | null }[] | null;
  attributes: { name: string; type: string; collation: string | null }[] | null;
}

interface FunctionRow {
  name: string;
  quoted: string;
  kind: 'f' | 'p' | 'w';
  arguments: string;
  definition: string;
  comment: string | null;
}

// --- Assembly -------------------------------------------------------------------

async function readPinned(db: Queryable, schema: string, excludeTables: readonly string[]): Promise<SchemaModel> {
  const extensions = await queryStep<{ name: string }>(db, 'extensions', schema, EXTENSIONS_SQL, []);
  const namespace = (await queryStep<{ oid: string; quoted: string }>(db, 'schema', schema, NAMESPACE_SQL, [schema]))[0];
  const extensionNames = extensions.map((e) => e.name);
  if (namespace === undefined) return sortSchemaModel({ ...createEmptySchemaModel(), extensions: extensionNames });

  const params = [namespace.oid, [...excludeTables]];
  // Sequential on purpose: a Queryable is one connection, which runs one query at a time anyway.
  const relations = await queryStep<RelationRow>(db, 'relations', schema, RELATIONS_SQL, params);
  const columns = await queryStep<ColumnRow>(db, 'columns', schema, COLUMNS_SQL, params);
  const constraints = await queryStep<ConstraintRow>(db, 'constraints', schema, CONSTRAINTS_SQL, params);
  const indexes = await queryStep<IndexRow>(db, 'indexes', schema, INDEXES_SQL, params);
  const triggers = await queryStep<TriggerRow>(db, 'triggers', schema, TRIGGERS_SQL, params);
  const policies = await queryStep<PolicyRow>(db, 'policies', schema, POLICIES_SQL, params);
  const sequences = await queryStep<SequenceRow>(db, 'sequences', schema, SEQUENCES_SQL, params);
  const types = await queryStep<TypeRow>(db, 'types', schema, TYPES_SQL, [namespace.oid]);
  const functions = await queryStep<FunctionRow>(db, 'functions', schema, FUNCTIONS_SQL, [namespace.oid]);
  const vanished = [...constraints, ...indexes, ...triggers, ...functions].some((row) => row.definition === null) ||
    relations.some((r) => (r.kind === 'v' || r.kind === 'm') && r.viewDefinition === null);
  if (vanished) {
    // pg_get_*def gives NULL for an object the catalog caches no longer hold (isConcurrentDdl).
    throw new SchemaCatalogError('definitions', schema, new Error('objects were dropped while the schema was read'));
  }

  const quotedSchema = namespace.quoted;
  const columnsByTable = groupBy(columns, (c) => c.table, toColumnModel);
  const constraintsByTable = groupBy(constraints, (c) => c.table, toConstraintModel);
  const indexesByTable = groupBy(indexes, (i) => i.table, (i) => toIndexModel(i, quotedSchema));
  const triggersByTable = groupBy(triggers, (t) => t.table, (t) => toTriggerModel(t, quotedSchema));
  const policiesByTable = groupBy(policies, (p) => p.table, toPolicyModel);

  const tables: TableModel[] = [];
  const views: ViewModel[] = [];
  for (const relation of relations) {
    const comment = optional('comment', relation.comment);
    const options = relation.options === null ? {} : { options: relation.options };
    if (relation.kind === 'v' || relation.kind === 'm') {
      const viewIndexes = indexesByTable.get(relation.name);
      const viewTriggers = triggersByTable.get(relation.name);
      views.push({
        name: relation.name,
        ...(relation.kind === 'm' ? { materialized: true as const } : {}),
        definition: relation.viewDefinition ?? '',
        ...options,
        ...comment,
        ...(viewIndexes === undefined ? {} : { indexes: viewIndexes }),
        ...(viewTriggers === undefined ? {} : { triggers: viewTriggers }),
      });
      continue;
    }
    const parents = relation.parents ?? [];
    tables.push({
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
      ...comment,
      columns: columnsByTable.get(relation.name) ?? [],
      constraints: constraintsByTable.get(relation.name) ?? [],
      indexes: indexesByTable.get(relation.name) ?? [],
      triggers: triggersByTable.get(relation.name) ?? [],
      policies: policiesByTable.get(relation.name) ?? [],
    });
  }

  return sortSchemaModel({
    format: SCHEMA_MODEL_FORMAT,
    extensions: extensionNames,
    tables,
    views,
    sequences: sequences.map(toSequenceModel),
    enums: types.filter((t) => t.kind === 'e').map(toEnumModel),
    domains: types.filter((t) => t.kind === 'd').map(toDomainModel),
    compositeTypes: types.filter((t) => t.kind === 'c').map(toCompositeTypeModel),
    functions: functions.map((f) => toFunctionModel(f, quotedSchema)),
  });
}

function toColumnModel(row: ColumnRow): ColumnModel {
  const isGenerated = row.generated !== '';
  return {
    name: row.name,
    type: row.type,
    ...(row.notNull ? { notNull: true as const } : {}),
    ...(!isGenerated ? optional('default', row.expression) : {}),
    ...(row.identity === 'a' ? { identity: 'always' as const } : {}),
    ...(row.identity === 'd' ? { identity: 'by default' as const } : {}),
    ...(isGenerated ? optional('generated', row.expression) : {}),
    ...optional('collation', row.collation),
    ...optional('comment', row.comment),
  };
}

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

function toConstraintModel(row: ConstraintRow): ConstraintModel {
  const { label, columns } = generatedNamePattern(row);
  return {
    definition: row.definition,
    ...(isGeneratedName(row.name, row.table, columns, label) ? {} : { name: row.name }),
    ...optional('comment', row.comment),
  };
}

function toIndexModel(row: IndexRow, quotedSchema: string): IndexModel {
  return {
    definition: unqualifyIndexDefinition(row.definition, row.quoted, `${quotedSchema}.${row.quotedTable}`, row.quotedTable),
    ...(isGeneratedName(row.name, row.table, row.columns ?? [], 'idx') ? {} : { name: row.name }),
    ...optional('comment', row.comment),
  };
}

/**
 * pg_get_indexdef always prints "CREATE [UNIQUE] INDEX name ON [ONLY] schema.table USING ...":
 * drop the index name and the schema. String prefixes, not a RegExp per index:
 * compiling one per row was most of reading 2,000 tables (issue 6).
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

function toTriggerModel(row: TriggerRow, quotedSchema: string): TriggerModel {
  return {
    name: row.name,
    definition: unqualifyTriggerDefinition(row.definition, row.quoted, `${quotedSchema}.${row.quotedTable}`, row.quotedTable),
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

function toPolicyModel(row: PolicyRow): PolicyModel {
  return {
    name: row.name,
    command: POLICY_COMMANDS[row.command] ?? 'ALL',
    ...(row.permissive ? {} : { restrictive: true as const }),
    roles: row.roles ?? [],
    ...optional('using', row.using),
    ...optional('withCheck', row.withCheck),
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
  };
}

function toEnumModel(row: TypeRow): EnumModel {
  return { name: row.name, labels: row.labels ?? [], ...optional('comment', row.comment) };
}

function toDomainModel(row: TypeRow): DomainModel {
  return {
    name: row.name,
    baseType: row.baseType ?? '',
    ...(row.notNull ? { notNull: true as const } : {}),
    ...optional('default', row.default),
    ...optional('collation', row.collation),
    // CREATE DOMAIN names an unnamed check "<domain>_check".
    checks: (row.checks ?? []).map((check) => ({
      definition: check.definition,
      ...(isGeneratedName(check.name, row.name, undefined, 'check') ? {} : { name: check.name }),
      ...optional('comment', check.comment),
    })),
    ...optional('comment', row.comment),
  };
}

function toCompositeTypeModel(row: TypeRow): CompositeTypeModel {
  const attributes: CompositeAttributeModel[] = (row.attributes ?? []).map((a) => ({
    name: a.name,
    type: a.type,
    ...optional('collation', a.collation),
  }));
  return { name: row.name, attributes, ...optional('comment', row.comment) };
}

function toFunctionModel(row: FunctionRow, quotedSchema: string): FunctionModel {
  // pg_get_functiondef always qualifies the name in its header.
  const keyword = row.kind === 'p' ? 'PROCEDURE' : 'FUNCTION';
  const qualified = `CREATE OR REPLACE ${keyword} ${quotedSchema}.${row.quoted}(`;
  const definition = row.definition.startsWith(qualified)
    ? `CREATE OR REPLACE ${keyword} ${row.quoted}(${row.definition.slice(qualified.length)}`
    : row.definition;
  return {
    name: row.name,
    kind: row.kind === 'p' ? 'procedure' : 'function',
    arguments: row.arguments,
    definition,
    ...optional('comment', row.comment),
  };
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
