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
 * (the parameterised form of `SET LOCAL`): `search_path` is the managed schema
 * alone (pg_catalog is then searched implicitly first), so objects of the
 * managed schema print unqualified and objects elsewhere print qualified. The
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

async function readSettings(db: Queryable): Promise<string[]> {
  const names = ['search_path', ...PINNED_SETTINGS.map(([name]) => name)];
  const { rows } = await db.query<{ values: string[] }>(
    'SELECT array_agg(current_setting(name) ORDER BY ord) AS values FROM unnest($1::text[]) WITH ORDINALITY AS s(name, ord)',
    [names],
  );
  return rows[0]?.values ?? [];
}

async function restoreSettings(db: Queryable, values: readonly string[]): Promise<void> {
  const names = ['search_path', ...PINNED_SETTINGS.map(([name]) => name)];
  await db.query('SELECT set_config(name, value, true) FROM unnest($1::text[], $2::text[]) AS s(name, value)', [
    names,
    values,
  ]);
}

async function pinSettings(db: Queryable, schema: string): Promise<void> {
  const names = PINNED_SETTINGS.map(([name]) => name);
  const values = PINNED_SETTINGS.map(([, value]) => value);
  await db.query(
    `SELECT set_config('search_path', quote_ident($1), true),
            (SELECT count(set_config(name, value, true)) FROM unnest($2::text[], $3::text[]) AS s(name, value))`,
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

/** Not a member of an extension (pg_depend deptype 'e'). */
function notExtensionMember(catalog: string, oid: string): string {
  return `NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '${catalog}'::regclass AND e.objid = ${oid} AND e.deptype = 'e')`;
}

/**
 * The comment of an object. Written out instead of obj_description(), which
 * is a SQL function call per row and made the columns query three times
 * slower on 2,000 tables.
 */
function describe(catalog: string, oid: string, subId = '0'): string {
  return `(SELECT ds.description FROM pg_description ds WHERE ds.classoid = '${catalog}'::regclass AND ds.objoid = ${oid} AND ds.objsubid = ${subId})`;
}

/** A collation's name as `format_type` would print a type name: qualified unless visible. */
function collationName(oid: string): string {
  return `(SELECT CASE WHEN pg_collation_is_visible(co.oid) THEN quote_ident(co.collname)
                       ELSE quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END
             FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = ${oid})`;
}

/** The relations of the managed schema, without the runner's and extensions' own. */
const RELATIONS_CTE = `
  WITH rel AS (
    SELECT c.oid, c.relname, c.relkind
    FROM pg_class c
    WHERE c.relnamespace = $1::oid
      AND c.relkind IN ('r', 'p', 'v', 'm')
      AND NOT (c.relname = ANY ($2::text[]))
      AND ${notExtensionMember('pg_class', 'c.oid')}
  )`;

const NAMESPACE_SQL = `SELECT oid::int8::text AS oid, quote_ident(nspname) AS quoted FROM pg_namespace WHERE nspname = $1`;

const EXTENSIONS_SQL = `SELECT extname::text AS name FROM pg_extension`;

const RELATIONS_SQL = `${RELATIONS_CTE}
  SELECT c.relname::text AS name, quote_ident(c.relname) AS quoted, c.relkind::text AS kind,
         c.relpersistence::text AS persistence, c.reloptions::text[] AS options,
         c.relrowsecurity AS "rowSecurity", c.relforcerowsecurity AS "forceRowSecurity",
         ${describe('pg_class', 'c.oid')} AS comment,
         CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS "partitionKey",
         CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS "partitionBound",
         (SELECT array_agg(i.inhparent::regclass::text ORDER BY i.inhseqno)
            FROM pg_inherits i WHERE i.inhrelid = c.oid) AS parents,
         c.relispartition AS "isPartition",
         CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid, true) END AS "viewDefinition"
  FROM rel r JOIN pg_class c ON c.oid = r.oid`;

const COLUMNS_SQL = `${RELATIONS_CTE}
  SELECT r.relname::text AS "table", a.attname::text AS name,
         format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS "notNull",
         a.attidentity::text AS identity, a.attgenerated::text AS generated,
         pg_get_expr(ad.adbin, ad.adrelid) AS expression,
         CASE WHEN a.attcollation <> t.typcollation THEN ${collationName('a.attcollation')} END AS collation,
         ${describe('pg_class', 'a.attrelid', 'a.attnum')} AS comment
  FROM rel r
  JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
  JOIN pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
  WHERE r.relkind IN ('r', 'p')
  ORDER BY r.relname, a.attnum`;

// Not-null constraints (contype 'n', PostgreSQL 18) are covered by
// ColumnModel.notNull; constraint triggers ('t') by the triggers.
const CONSTRAINTS_SQL = `${RELATIONS_CTE}
  SELECT r.relname::text AS "table", co.conname::text AS name, co.contype::text AS type,
         pg_get_constraintdef(co.oid) AS definition,
         ${describe('pg_constraint', 'co.oid')} AS comment,
         (SELECT array_agg(a.attname::text ORDER BY k.ord)
            FROM unnest(co.conkey) WITH ORDINALITY AS k(attnum, ord)
            JOIN pg_attribute a ON a.attrelid = co.conrelid AND a.attnum = k.attnum) AS columns,
         (SELECT array_agg(a.attname::text ORDER BY a.attnum)
            FROM pg_attribute a WHERE a.attrelid = co.conindid AND a.attnum > 0) AS "indexColumns"
  FROM rel r JOIN pg_constraint co ON co.conrelid = r.oid
  WHERE co.contype IN ('p', 'u', 'x', 'c', 'f')`;

const INDEXES_SQL = `${RELATIONS_CTE}
  SELECT r.relname::text AS "table", quote_ident(r.relname) AS "quotedTable",
         i.relname::text AS name, quote_ident(i.relname) AS quoted,
         pg_get_indexdef(i.oid) AS definition,
         ${describe('pg_class', 'i.oid')} AS comment,
         (SELECT array_agg(a.attname::text ORDER BY a.attnum)
            FROM pg_attribute a WHERE a.attrelid = i.oid AND a.attnum > 0) AS columns
  FROM rel r
  JOIN pg_index x ON x.indrelid = r.oid
  JOIN pg_class i ON i.oid = x.indexrelid
  WHERE NOT EXISTS (SELECT 1 FROM pg_constraint co
                    WHERE co.conindid = x.indexrelid AND co.conrelid = r.oid AND co.contype IN ('p', 'u', 'x'))`;

const TRIGGERS_SQL = `${RELATIONS_CTE}
  SELECT r.relname::text AS "table", quote_ident(r.relname) AS "quotedTable",
         t.tgname::text AS name, quote_ident(t.tgname) AS quoted,
         pg_get_triggerdef(t.oid) AS definition, t.tgenabled::text AS enabled,
         ${describe('pg_trigger', 't.oid')} AS comment
  FROM rel r JOIN pg_trigger t ON t.tgrelid = r.oid
  WHERE NOT t.tgisinternal`;

const POLICIES_SQL = `${RELATIONS_CTE}
  SELECT r.relname::text AS "table", p.polname::text AS name, p.polcmd::text AS command,
         p.polpermissive AS permissive,
         (SELECT array_agg(CASE WHEN role = 0 THEN 'public' ELSE pg_get_userbyid(role)::text END)
            FROM unnest(p.polroles) AS role) AS roles,
         pg_get_expr(p.polqual, p.polrelid) AS using,
         pg_get_expr(p.polwithcheck, p.polrelid) AS "withCheck"
  FROM rel r JOIN pg_policy p ON p.polrelid = r.oid`;

// A sequence owned by a column (serial: deptype 'a'; identity: 'i') goes
// with its table: one of the runner's tables takes its sequence along.
const SEQUENCES_SQL = `
  SELECT c.relname::text AS name, format_type(s.seqtypid, NULL) AS type,
         s.seqstart::text AS start, s.seqincrement::text AS increment,
         s.seqmin::text AS min, s.seqmax::text AS max, s.seqcache::text AS cache, s.seqcycle AS cycle,
         d.refobjid::regclass::text || '.' || quote_ident(oa.attname) AS "ownedBy",
         d.deptype::text AS "ownerDependency",
         ${describe('pg_class', 'c.oid')} AS comment
  FROM pg_class c
  JOIN pg_sequence s ON s.seqrelid = c.oid
  LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
        AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i')
  LEFT JOIN pg_class owner ON owner.oid = d.refobjid
  LEFT JOIN pg_attribute oa ON oa.attrelid = d.refobjid AND oa.attnum = d.refobjsubid
  WHERE c.relnamespace = $1::oid AND c.relkind = 'S'
    AND NOT (c.relname = ANY ($2::text[]))
    AND NOT (owner.relnamespace IS NOT DISTINCT FROM $1::oid AND owner.relname = ANY ($2::text[]))
    AND ${notExtensionMember('pg_class', 'c.oid')}`;

// Composite types of tables (typrelid of relkind 'r', 'v', ...) are
// implied by the tables; only free-standing ones (relkind 'c') are listed.
const TYPES_SQL = `
  SELECT t.typname::text AS name, t.typtype::text AS kind,
         ${describe('pg_type', 't.oid')} AS comment,
         CASE WHEN t.typtype = 'e' THEN
           (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid)
         END AS labels,
         CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END AS "baseType",
         t.typnotnull AS "notNull",
         pg_get_expr(t.typdefaultbin, 0) AS "default",
         CASE WHEN t.typtype = 'd' AND t.typcollation <> bt.typcollation THEN ${collationName('t.typcollation')} END AS collation,
         CASE WHEN t.typtype = 'd' THEN
           (SELECT json_agg(json_build_object('name', co.conname, 'definition', pg_get_constraintdef(co.oid),
                                              'comment', ${describe('pg_constraint', 'co.oid')}))
              FROM pg_constraint co WHERE co.contypid = t.oid AND co.contype = 'c')
         END AS checks,
         CASE WHEN t.typtype = 'c' THEN
           (SELECT json_agg(json_build_object(
                     'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
                     'collation', CASE WHEN a.attcollation <> at.typcollation THEN ${collationName('a.attcollation')} END)
                   ORDER BY a.attnum)
              FROM pg_attribute a JOIN pg_type at ON at.oid = a.atttypid
             WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped)
         END AS attributes
  FROM pg_type t
  LEFT JOIN pg_type bt ON bt.oid = t.typbasetype
  LEFT JOIN pg_class tc ON tc.oid = t.typrelid
  WHERE t.typnamespace = $1::oid
    AND (t.typtype IN ('e', 'd') OR (t.typtype = 'c' AND tc.relkind = 'c'))
    AND ${notExtensionMember('pg_type', 't.oid')}`;

// Aggregates (prokind 'a') are not supported by pg_get_functiondef.
const FUNCTIONS_SQL = `
  SELECT p.proname::text AS name, quote_ident(p.proname) AS quoted, p.prokind::text AS kind,
         pg_get_function_identity_arguments(p.oid) AS arguments,
         pg_get_functiondef(p.oid) AS definition,
         ${describe('pg_proc', 'p.oid')} AS comment
  FROM pg_proc p
  WHERE p.pronamespace = $1::oid AND p.prokind IN ('f', 'p', 'w')
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
