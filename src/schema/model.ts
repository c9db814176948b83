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

/** Bumped whenever the shape or the normalisation of the model changes. */
export const SCHEMA_MODEL_FORMAT = 1;

export interface SchemaModel {
  readonly format: typeof SCHEMA_MODEL_FORMAT;
  /** Extensions installed in the database, by name (their objects are not listed anywhere else). */
  readonly extensions: readonly string[];
  readonly tables: readonly TableModel[];
  readonly views: readonly ViewModel[];
  readonly sequences: readonly SequenceModel[];
  readonly enums: readonly EnumModel[];
  readonly domains: readonly DomainModel[];
  readonly compositeTypes: readonly CompositeTypeModel[];
  readonly functions: readonly FunctionModel[];
}

export interface TableModel {
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
  readonly comment?: string;
}

/** Primary key, unique, check, exclusion or foreign key constraint. */
export interface ConstraintModel {
  /** `pg_get_constraintdef`, e.g. `FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE`. */
  readonly definition: string;
  /** Only when it is not the name PostgreSQL would generate. */
  readonly name?: string;
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
}

export interface ViewModel {
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
}

export interface SequenceModel {
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

export interface EnumModel {
  readonly name: string;
  /** In sort order (`enumsortorder`), not alphabetically. */
  readonly labels: readonly string[];
  readonly comment?: string;
}

export interface DomainModel {
  readonly name: string;
  readonly baseType: string;
  readonly notNull?: true;
  readonly default?: string;
  readonly collation?: string;
  readonly checks: readonly ConstraintModel[];
  readonly comment?: string;
}

export interface CompositeTypeModel {
  readonly name: string;
  /** In logical order. */
  readonly attributes: readonly CompositeAttributeModel[];
  readonly comment?: string;
}

export interface CompositeAttributeModel {
  readonly name: string;
  readonly type: string;
  readonly collation?: string;
}

export interface FunctionModel {
  readonly name: string;
  readonly kind: 'function' | 'procedure';
  /** `pg_get_function_identity_arguments`, e.g. `a integer, b text`; with the name it identifies the function. */
  readonly arguments: string;
  /** `pg_get_functiondef` with the managed schema's qualification removed from the header. */
  readonly definition: string;
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
    functions: [],
  };
}

/**
 * Compares strings by UTF-16 code units. `localeCompare` is not used on
 * purpose: its order depends on the ICU version and locale of the machine,
 * and the model is compared across machines.
 */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Sorts by one string key, without mutating the input. */
export function sortByKey<T>(items: readonly T[], keyOf: (item: T) => string): T[] {
  return [...items].sort((a, b) => compareStrings(keyOf(a), keyOf(b)));
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

function sortNamedDefinitions<T extends { readonly name?: string; readonly definition: string }>(
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
  const byName = <T extends { readonly name: string }>(items: readonly T[]): T[] => sortByKey(items, (i) => i.name);
  return {
    format: model.format,
    extensions: sortByKey(model.extensions, (e) => e),
    tables: byName(model.tables).map((table) => ({
      ...table,
      constraints: sortNamedDefinitions(table.constraints),
      indexes: sortNamedDefinitions(table.indexes),
      triggers: byName(table.triggers),
      policies: byName(table.policies).map((p) => ({ ...p, roles: sortByKey(p.roles, (r) => r) })),
    })),
    views: byName(model.views).map((view) => ({
      ...view,
      ...(view.indexes === undefined ? {} : { indexes: sortNamedDefinitions(view.indexes) }),
      ...(view.triggers === undefined ? {} : { triggers: byName(view.triggers) }),
    })),
    sequences: byName(model.sequences),
    enums: byName(model.enums),
    domains: byName(model.domains).map((d) => ({ ...d, checks: sortNamedDefinitions(d.checks) })),
    compositeTypes: byName(model.compositeTypes),
    functions: sortByKey(model.functions, formatFunctionSignature),
  };
}
