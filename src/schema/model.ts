import { compareCodeUnits } from '../core/lists.js';

/**
 * The canonical schema model: what one managed schema looks like, as plain
 * JSON-serialisable data with no OIDs, no creation order and no names that
 * PostgreSQL generated. Two databases with the same schema give deep-equal
 * models, so the model can be fingerprinted, stored per revision in a
 * manifest, and diffed.
 *
 * Conventions that keep the model compact and canonical:
 * - optional fields are left out when they hold the default (false, no
 *   comment, PostgreSQL's own name, ...), never set to `undefined` on purpose;
 * - every list is sorted by `sortSchemaModel`, except table columns and
 *   composite-type attributes, whose logical order matters (`SELECT *`);
 * - definitions are PostgreSQL's own deparsed text (`pg_get_*def`) read with
 *   `search_path` set to the managed schema only, so objects of the managed
 *   schema print unqualified and everything else prints qualified.
 */

/**
 * Bumped whenever the shape or the normalisation of the model changes.
 * 2: the kinds pg_dump prints that 1 left out (rules, extended statistics,
 * aggregates, operators and their classes and families, collations, text
 * search objects, range types, column storage and statistics targets,
 * replica identity, CLUSTER ON, comments on every object, the managed
 * schema's own comment), extensions only of the managed schema with their
 * versions, deparsed text normalised across PostgreSQL majors
 * (versionNeutral.ts), optional owners and privileges.
 */
export const SCHEMA_MODEL_FORMAT = 2;

export interface SchemaModel {
  readonly format: typeof SCHEMA_MODEL_FORMAT;
  /** `COMMENT ON SCHEMA` of the managed schema. */
  readonly comment?: string;
  /** Owner of the managed schema (only when privileges are read, `fingerprintPrivileges`). */
  readonly owner?: string;
  /** The schema's ACL, sorted, when it is not the default (only when privileges are read). */
  readonly privileges?: readonly string[];
  /** `ALTER DEFAULT PRIVILEGES ... IN SCHEMA` entries, e.g. `r: app_reader=r/owner` (only when privileges are read). */
  readonly defaultPrivileges?: readonly string[];
  /**
   * Extensions installed in the managed schema (their objects are not listed
   * anywhere else). Extensions in other schemas, e.g. one a cloud provider
   * keeps in `extensions`, are not part of the managed schema.
   */
  readonly extensions: readonly ExtensionModel[];
  readonly tables: readonly TableModel[];
  readonly views: readonly ViewModel[];
  readonly sequences: readonly SequenceModel[];
  readonly enums: readonly EnumModel[];
  readonly domains: readonly DomainModel[];
  readonly compositeTypes: readonly CompositeTypeModel[];
  readonly rangeTypes: readonly RangeTypeModel[];
  readonly functions: readonly FunctionModel[];
  readonly aggregates: readonly AggregateModel[];
  readonly operators: readonly OperatorModel[];
  readonly operatorClasses: readonly OperatorClassModel[];
  readonly operatorFamilies: readonly OperatorFamilyModel[];
  readonly collations: readonly CollationModel[];
  readonly textSearchConfigurations: readonly TextSearchConfigurationModel[];
  readonly textSearchDictionaries: readonly TextSearchDictionaryModel[];
  readonly textSearchParsers: readonly TextSearchParserModel[];
  readonly textSearchTemplates: readonly TextSearchTemplateModel[];
  /** `CREATE STATISTICS` objects. */
  readonly statistics: readonly StatisticsModel[];
  /** Rules of tables and views (`CREATE RULE`), not the `_RETURN` rule that makes a view. */
  readonly rules: readonly RuleModel[];
}

/** Owner and ACL of an object; present only when privileges are read (`fingerprintPrivileges`). */
export interface PrivilegesModel {
  readonly owner?: string;
  /** `aclitem`s as PostgreSQL prints them (`role=arwdDxt/grantor`), sorted; absent while the default applies. */
  readonly privileges?: readonly string[];
}

export interface ExtensionModel {
  readonly name: string;
  /** `extversion`. */
  readonly version?: string;
  readonly comment?: string;
}

export interface TableModel extends PrivilegesModel {
  readonly name: string;
  /** `partitioned` for `PARTITION BY` parents; plain tables leave it out. */
  readonly kind?: 'partitioned';
  /** `pg_get_partkeydef`, e.g. `RANGE (created_at)`. */
  readonly partitionKey?: string;
  /** Parent table of a partition. */
  readonly partitionOf?: string;
  /** `pg_get_expr(relpartbound)`, e.g. `FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')`. */
  readonly partitionBound?: string;
  /** Parents of a classic `INHERITS` child, in inheritance order. */
  readonly inherits?: readonly string[];
  readonly unlogged?: true;
  /** Storage parameters (`reloptions`), e.g. `fillfactor=70`. */
  readonly options?: readonly string[];
  readonly rowSecurity?: true;
  readonly forceRowSecurity?: true;
  /** `REPLICA IDENTITY` when not the default (the primary key); `index` names the index by its `replicaIdentity` mark. */
  readonly replicaIdentity?: 'nothing' | 'full' | 'index';
  /** Table access method when not `heap` (`CREATE TABLE ... USING`). */
  readonly accessMethod?: string;
  /** Storage parameters of the TOAST table (`toast.autovacuum_enabled=false` is stored as `autovacuum_enabled=false`). */
  readonly toastOptions?: readonly string[];
  readonly comment?: string;
  /** Logical order (attnum order without dropped columns). */
  readonly columns: readonly ColumnModel[];
  readonly constraints: readonly ConstraintModel[];
  readonly indexes: readonly IndexModel[];
  readonly triggers: readonly TriggerModel[];
  readonly policies: readonly PolicyModel[];
}

export interface ColumnModel {
  readonly name: string;
  /** `format_type(atttypid, atttypmod)`, e.g. `character varying(255)`. */
  readonly type: string;
  readonly notNull?: true;
  /** Default expression (`pg_get_expr(adbin)`); absent for generated columns. */
  readonly default?: string;
  readonly identity?: 'always' | 'by default';
  /** Expression of a `GENERATED ALWAYS AS (...) STORED` column. */
  readonly generated?: string;
  /** Only when it differs from the type's default collation. */
  readonly collation?: string;
  /** `ALTER COLUMN ... SET STATISTICS n` when set. */
  readonly statistics?: number;
  /** `ALTER COLUMN ... SET STORAGE` when it differs from the type's storage. */
  readonly storage?: 'plain' | 'external' | 'extended' | 'main';
  /** `ALTER COLUMN ... SET COMPRESSION` when set (PostgreSQL 14 and later). */
  readonly compression?: 'pglz' | 'lz4';
  /** Attribute options (`attoptions`), e.g. `n_distinct=100`. */
  readonly options?: readonly string[];
  /** `virtual` for a generated column that is not stored (PostgreSQL 18). */
  readonly generatedKind?: 'virtual';
  /** Column privileges (`attacl`), only when privileges are read. */
  readonly privileges?: readonly string[];
  readonly comment?: string;
}

/** Primary key, unique, check, exclusion or foreign key constraint. */
export interface ConstraintModel {
  /** `pg_get_constraintdef`, e.g. `FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE`. */
  readonly definition: string;
  /** Only when it is not the name PostgreSQL would generate. */
  readonly name?: string;
  /** `CLUSTER ON` the index that backs it. */
  readonly clustered?: true;
  /** `REPLICA IDENTITY USING INDEX` the index that backs it. */
  readonly replicaIdentity?: true;
  readonly comment?: string;
}

/** An index that does not back a constraint. */
export interface IndexModel {
  /**
   * `pg_get_indexdef` without the index name and without the managed
   * schema's qualification of the table, e.g.
   * `CREATE UNIQUE INDEX ON users USING btree (lower(email))`.
   */
  readonly definition: string;
  /** Only when it is not the name PostgreSQL would generate. */
  readonly name?: string;
  /** `CLUSTER ON` this index. */
  readonly clustered?: true;
  /** `REPLICA IDENTITY USING INDEX` this index. */
  readonly replicaIdentity?: true;
  /** `ALTER INDEX ... ALTER COLUMN n SET STATISTICS` targets of expression columns, as `n=target`. */
  readonly statistics?: readonly string[];
  readonly comment?: string;
}

export interface TriggerModel {
  readonly name: string;
  /** `pg_get_triggerdef`. */
  readonly definition: string;
  /** `tgenabled` when not the default `O` (D = disabled, R = replica, A = always). */
  readonly enabled?: 'D' | 'R' | 'A';
  readonly comment?: string;
}

export interface PolicyModel {
  readonly name: string;
  readonly command: 'ALL' | 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE';
  readonly restrictive?: true;
  /** Role names, sorted; `public` for everyone. */
  readonly roles: readonly string[];
  readonly using?: string;
  readonly withCheck?: string;
  readonly comment?: string;
}

export interface ViewModel extends PrivilegesModel {
  readonly name: string;
  readonly materialized?: true;
  /** `pg_get_viewdef(oid, true)`. */
  readonly definition: string;
  /** View options (`reloptions`), e.g. `security_barrier=true`. */
  readonly options?: readonly string[];
  readonly comment?: string;
  /** Indexes of a materialized view. */
  readonly indexes?: readonly IndexModel[];
  /** `INSTEAD OF` triggers of a view. */
  readonly triggers?: readonly TriggerModel[];
  /** Comments on the view's columns (`COMMENT ON COLUMN view.col`), in column order. */
  readonly columnComments?: readonly { readonly name: string; readonly comment: string }[];
  /** Column privileges, as `column: aclitem`, only when privileges are read. */
  readonly columnPrivileges?: readonly string[];
}

export interface SequenceModel extends PrivilegesModel {
  readonly name: string;
  /** `smallint`, `integer` or `bigint`. */
  readonly type: string;
  /** Bigints as decimal strings, since they may not fit a JavaScript number. */
  readonly start: string;
  readonly increment: string;
  readonly min: string;
  readonly max: string;
  readonly cache?: string;
  readonly cycle?: true;
  /** `table.column` of `OWNED BY` (serial and identity columns). */
  readonly ownedBy?: string;
  /** Set for the sequence behind an identity column. */
  readonly identity?: true;
  readonly comment?: string;
}

export interface EnumModel extends PrivilegesModel {
  readonly name: string;
  /** In sort order (`enumsortorder`), not alphabetically. */
  readonly labels: readonly string[];
  readonly comment?: string;
}

export interface DomainModel extends PrivilegesModel {
  readonly name: string;
  readonly baseType: string;
  readonly notNull?: true;
  readonly default?: string;
  readonly collation?: string;
  readonly checks: readonly ConstraintModel[];
  readonly comment?: string;
}

export interface CompositeTypeModel extends PrivilegesModel {
  readonly name: string;
  /** In logical order. */
  readonly attributes: readonly CompositeAttributeModel[];
  readonly comment?: string;
}

export interface CompositeAttributeModel {
  readonly name: string;
  readonly type: string;
  readonly collation?: string;
  readonly comment?: string;
}

export interface FunctionModel extends PrivilegesModel {
  readonly name: string;
  readonly kind: 'function' | 'procedure';
  /** `pg_get_function_identity_arguments`, e.g. `a integer, b text`; with the name it identifies the function. */
  readonly arguments: string;
  /** `pg_get_functiondef` with the managed schema's qualification removed from the header. */
  readonly definition: string;
  readonly comment?: string;
}

export interface RangeTypeModel extends PrivilegesModel {
  readonly name: string;
  readonly subtype: string;
  /** Only when it differs from the subtype's default. */
  readonly collation?: string;
  /** Only when it is not the subtype's default operator class. */
  readonly operatorClass?: string;
  readonly canonical?: string;
  readonly subtypeDiff?: string;
  /** Only when it is not the name PostgreSQL chooses (PostgreSQL 14 and later make one). */
  readonly multirange?: string;
  readonly comment?: string;
}

export interface AggregateModel extends PrivilegesModel {
  readonly name: string;
  /** `pg_get_function_identity_arguments`. */
  readonly arguments: string;
  /** The options of `CREATE AGGREGATE` that are not defaults, in PostgreSQL's order, e.g. `SFUNC = int4pl, STYPE = integer, INITCOND = '0'`. */
  readonly definition: string;
  readonly comment?: string;
}

export interface OperatorModel extends PrivilegesModel {
  readonly name: string;
  /** Left operand type; absent for a prefix operator. */
  readonly left?: string;
  readonly right: string;
  /** The options of `CREATE OPERATOR` that are set, e.g. `FUNCTION = f, COMMUTATOR = OPERATOR(public.=)`. */
  readonly definition: string;
  readonly comment?: string;
}

export interface OperatorClassModel extends PrivilegesModel {
  readonly name: string;
  /** Index access method, e.g. `btree`. */
  readonly method: string;
  readonly type: string;
  readonly default?: true;
  /** The operator family, when its name is not the class's own. */
  readonly family?: string;
  readonly storage?: string;
  readonly comment?: string;
}

export interface OperatorFamilyModel extends PrivilegesModel {
  readonly name: string;
  readonly method: string;
  /** `OPERATOR n op(left, right) [FOR ORDER BY family]`, sorted. */
  readonly operators: readonly string[];
  /** `FUNCTION n (left, right) function(arguments)`, sorted. */
  readonly functions: readonly string[];
  readonly comment?: string;
}

export interface CollationModel extends PrivilegesModel {
  readonly name: string;
  readonly provider: 'libc' | 'icu' | 'builtin' | 'default';
  /** The locale (ICU and builtin providers; libc when collate and ctype are equal). */
  readonly locale?: string;
  readonly lcCollate?: string;
  readonly lcCtype?: string;
  readonly deterministic?: false;
  /** ICU tailoring rules (PostgreSQL 16 and later). */
  readonly rules?: string;
  readonly comment?: string;
}

export interface TextSearchConfigurationModel extends PrivilegesModel {
  readonly name: string;
  readonly parser: string;
  /** `token: dictionary, ...`, in token order. */
  readonly mappings: readonly string[];
  readonly comment?: string;
}

export interface TextSearchDictionaryModel extends PrivilegesModel {
  readonly name: string;
  readonly template: string;
  /** `dictinitoption`, e.g. `language = 'english'`. */
  readonly options?: string;
  readonly comment?: string;
}

export interface TextSearchParserModel {
  readonly name: string;
  /** `START = f, GETTOKEN = f, END = f, LEXTYPES = f[, HEADLINE = f]`. */
  readonly definition: string;
  readonly comment?: string;
}

export interface TextSearchTemplateModel {
  readonly name: string;
  /** `[INIT = f, ]LEXIZE = f`. */
  readonly definition: string;
  readonly comment?: string;
}

export interface StatisticsModel extends PrivilegesModel {
  readonly name: string;
  /** `pg_get_statisticsobjdef` without the managed schema's qualification, e.g. `CREATE STATISTICS s (ndistinct) ON a, b FROM t`. */
  readonly definition: string;
  /** `ALTER STATISTICS ... SET STATISTICS n` when set. */
  readonly target?: number;
  readonly comment?: string;
}

export interface RuleModel {
  /** The table or view the rule belongs to. */
  readonly table: string;
  readonly name: string;
  /** `pg_get_ruledef`. */
  readonly definition: string;
  /** `ev_enabled` when not the default `O` (D = disabled, R = replica, A = always). */
  readonly enabled?: 'D' | 'R' | 'A';
  readonly comment?: string;
}

/** The identity of a function among overloads: `name(arguments)`. */
export function formatFunctionSignature(fn: Pick<FunctionModel, 'name' | 'arguments'>): string {
  return `${fn.name}(${fn.arguments})`;
}

/** An empty model, e.g. for a schema that does not exist yet. */
export function createEmptySchemaModel(): SchemaModel {
  return {
    format: SCHEMA_MODEL_FORMAT,
    extensions: [],
    tables: [],
    views: [],
    sequences: [],
    enums: [],
    domains: [],
    compositeTypes: [],
    rangeTypes: [],
    functions: [],
    aggregates: [],
    operators: [],
    operatorClasses: [],
    operatorFamilies: [],
    collations: [],
    textSearchConfigurations: [],
    textSearchDictionaries: [],
    textSearchParsers: [],
    textSearchTemplates: [],
    statistics: [],
    rules: [],
  };
}


/** Sorts by one string key, without mutating the input. */
export function sortByKey<T>(items: readonly T[], keyOf: (item: T) => string): T[] {
  return [...items].sort((a, b) => compareCodeUnits(keyOf(a), keyOf(b)));
}

/**
 * The key that identifies a constraint or index within its table: its
 * explicit name, else its definition. Keying by definition makes an
 * auto-generated name and the same name typed by hand compare equal.
 */
export function keyOfNamedDefinition(item: { readonly name?: string; readonly definition: string }): string {
  // The prefixes keep a name from ever colliding with a definition.
  return item.name === undefined ? `def:${item.definition}` : `name:${item.name}`;
}

export function sortNamedDefinitions<T extends { readonly name?: string; readonly definition: string }>(
  items: readonly T[],
): T[] {
  // Definition first, then name: duplicates (two identical unnamed
  // constraints) still sort stably.
  return sortByKey(items, (item) => `${item.definition}\u0000${item.name ?? ''}`);
}

/**
 * Returns a copy of `model` with every list in canonical order. Column and
 * attribute lists keep their logical order. `readSchemaModel` already
 * returns sorted models; this is for models from elsewhere (a manifest edited
 * by hand, a test).
 */
export function sortSchemaModel(model: SchemaModel): SchemaModel {
  const sorted: Record<string, unknown> = { format: model.format, ...schemaFieldsOf(model) };
  for (const list of TOP_LEVEL_LISTS) {
    const keyOf = TOP_LEVEL_KEYS[list] as (item: unknown) => string;
    sorted[list] = sortByKey((model[list] ?? []) as readonly unknown[], keyOf).map((item) => sortTopLevelObject(list, item));
  }
  return sorted as unknown as SchemaModel;
}

/**
 * One top-level object with its own lists in canonical order (the same
 * object when it has none to sort). The fingerprint hashes each object
 * through this, so it needs no sorted copy of the whole model.
 */
export function sortTopLevelObject<T>(list: TopLevelList, item: T): T {
  const byName = <U extends { readonly name: string }>(items: readonly U[]): U[] => sortByKey(items, (i) => i.name);
  switch (list) {
    case 'tables': {
      const table = item as unknown as TableModel;
      return {
        ...table,
        constraints: sortNamedDefinitions(table.constraints),
        indexes: sortNamedDefinitions(table.indexes),
        triggers: byName(table.triggers),
        policies: byName(table.policies).map((p) => ({ ...p, roles: sortByKey(p.roles, (r) => r) })),
      } as unknown as T;
    }
    case 'views': {
      const view = item as unknown as ViewModel;
      return {
        ...view,
        ...(view.indexes === undefined ? {} : { indexes: sortNamedDefinitions(view.indexes) }),
        ...(view.triggers === undefined ? {} : { triggers: byName(view.triggers) }),
      } as unknown as T;
    }
    case 'domains': {
      const domain = item as unknown as DomainModel;
      return { ...domain, checks: sortNamedDefinitions(domain.checks) } as unknown as T;
    }
    default:
      return item;
  }
}

/** The lists of a model, each holding one kind of top-level object. */
export type TopLevelList = Exclude<keyof SchemaModel, 'format' | SchemaField>;

/** Fields of the managed schema itself. */
export type SchemaField = 'comment' | 'owner' | 'privileges' | 'defaultPrivileges';

/** The fields of the managed schema itself that are set. */
export function schemaFieldsOf(model: SchemaModel): Pick<SchemaModel, SchemaField> {
  return {
    ...(model.comment === undefined ? {} : { comment: model.comment }),
    ...(model.owner === undefined ? {} : { owner: model.owner }),
    ...(model.privileges === undefined ? {} : { privileges: model.privileges }),
    ...(model.defaultPrivileges === undefined ? {} : { defaultPrivileges: model.defaultPrivileges }),
  };
}

const byItsName = (item: { readonly name: string }): string => item.name;

/**
 * How each top-level object is identified within its list: by name, and
 * where names repeat, with what makes them distinct (arguments, operand
 * types, access method, table).
 */
export const TOP_LEVEL_KEYS: { readonly [K in TopLevelList]: (item: SchemaModel[K][number]) => string } = {
  extensions: byItsName,
  tables: byItsName,
  views: byItsName,
  sequences: byItsName,
  enums: byItsName,
  domains: byItsName,
  compositeTypes: byItsName,
  rangeTypes: byItsName,
  functions: formatFunctionSignature,
  aggregates: formatFunctionSignature,
  operators: (o) => `${o.name}(${o.left ?? 'NONE'}, ${o.right})`,
  operatorClasses: (o) => `${o.name} USING ${o.method}`,
  operatorFamilies: (o) => `${o.name} USING ${o.method}`,
  collations: byItsName,
  textSearchConfigurations: byItsName,
  textSearchDictionaries: byItsName,
  textSearchParsers: byItsName,
  textSearchTemplates: byItsName,
  statistics: byItsName,
  rules: (r) => `${r.table}.${r.name}`,
};

/** The prefix of each list's objects in a manifest (`table:users`), also the order lists are written in. */
export const TOP_LEVEL_PREFIXES: { readonly [K in TopLevelList]: string } = {
  extensions: 'extension',
  tables: 'table',
  views: 'view',
  sequences: 'sequence',
  enums: 'enum',
  domains: 'domain',
  compositeTypes: 'composite',
  rangeTypes: 'range',
  functions: 'function',
  aggregates: 'aggregate',
  operators: 'operator',
  operatorClasses: 'opclass',
  operatorFamilies: 'opfamily',
  collations: 'collation',
  textSearchConfigurations: 'tsconfig',
  textSearchDictionaries: 'tsdict',
  textSearchParsers: 'tsparser',
  textSearchTemplates: 'tstemplate',
  statistics: 'statistics',
  rules: 'rule',
};

export const TOP_LEVEL_LISTS = Object.keys(TOP_LEVEL_PREFIXES) as TopLevelList[];

/** The key of the managed schema's own fields in a manifest. */
export const SCHEMA_OBJECT_KEY = 'schema:';

/**
 * Every top-level object of a model by its manifest key (`table:users`,
 * `function:f(integer)`), with `schema:` for the schema's own fields when
 * any is set. The unit of the manifest's deltas and of the fingerprint.
 */
export function topLevelObjectsOf(model: SchemaModel): Map<string, unknown> {
  const objects = new Map<string, unknown>();
  const own = schemaFieldsOf(model);
  if (Object.keys(own).length > 0) objects.set(SCHEMA_OBJECT_KEY, own);
  for (const list of TOP_LEVEL_LISTS) {
    const keyOf = TOP_LEVEL_KEYS[list] as (item: unknown) => string;
    const prefix = TOP_LEVEL_PREFIXES[list];
    for (const item of model[list] as readonly unknown[]) objects.set(`${prefix}:${keyOf(item)}`, item);
  }
  return objects;
}

/** The model of a set of top-level objects by manifest key (the inverse of `topLevelObjectsOf`). */
export function modelOfTopLevelObjects(objects: Iterable<readonly [string, unknown]>): SchemaModel {
  const listOfPrefix = new Map(TOP_LEVEL_LISTS.map((list) => [TOP_LEVEL_PREFIXES[list], list] as const));
  const lists = new Map<TopLevelList, unknown[]>(TOP_LEVEL_LISTS.map((list) => [list, []]));
  let own: Pick<SchemaModel, SchemaField> = {};
  for (const [key, value] of objects) {
    if (key === SCHEMA_OBJECT_KEY) {
      own = value as Pick<SchemaModel, SchemaField>;
      continue;
    }
    const list = listOfPrefix.get(key.slice(0, key.indexOf(':')));
    if (list !== undefined) lists.get(list)!.push(value);
  }
  const model = { ...createEmptySchemaModel(), ...own } as Record<string, unknown>;
  for (const [list, items] of lists) model[list] = items;
  return sortSchemaModel(model as unknown as SchemaModel);
}
