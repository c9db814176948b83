/**
 * The differences between two schema models as data: which objects only one
 * side has, and for objects both have, both versions and the fields that
 * differ. The printable diff (diff.ts) and the migration planner
 * (planner.ts) both read it, so objects are matched by one rule. Pure: no
 * I/O.
 *
 * Matching keys: objects by name, functions by `name(arguments)`,
 * constraints and indexes by explicit name else definition
 * (`keyOfNamedDefinition`), the other top-level kinds by `TOP_LEVEL_KEYS`.
 */
import { compareCodeUnits } from '../core/lists.js';
import {
  formatFunctionSignature,
  keyOfNamedDefinition,
  schemaFieldsOf,
  TOP_LEVEL_KEYS,
  type AggregateModel,
  type CollationModel,
  type ExtensionModel,
  type OperatorClassModel,
  type OperatorFamilyModel,
  type OperatorModel,
  type RangeTypeModel,
  type RuleModel,
  type SchemaField,
  type StatisticsModel,
  type TextSearchConfigurationModel,
  type TextSearchDictionaryModel,
  type TextSearchParserModel,
  type TextSearchTemplateModel,
  type ColumnModel,
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
} from './model.js';
import { serializeCanonicalJson } from './fingerprint.js';

/** An object both sides have, with differences. */
export interface ObjectChange<T> {
  readonly from: T;
  readonly to: T;
  /** Top-level fields whose values differ, sorted; child lists compared on their own are left out. */
  readonly fields: readonly string[];
}

/** What one list of objects gained, lost and changed; each part in key order. */
export interface ListDiff<T, C = ObjectChange<T>> {
  readonly removed: readonly T[];
  readonly added: readonly T[];
  readonly changed: readonly C[];
}

export interface TableChange extends ObjectChange<TableModel> {
  /** The relative order of the columns both sides have, when it differs. */
  readonly columnOrder?: { readonly before: readonly string[]; readonly after: readonly string[] };
  readonly columns: ListDiff<ColumnModel>;
  readonly constraints: ListDiff<ConstraintModel>;
  readonly indexes: ListDiff<IndexModel>;
  readonly triggers: ListDiff<TriggerModel>;
  readonly policies: ListDiff<PolicyModel>;
}

export interface ViewChange extends ObjectChange<ViewModel> {
  readonly indexes: ListDiff<IndexModel>;
  readonly triggers: ListDiff<TriggerModel>;
}

export interface DomainChange extends ObjectChange<DomainModel> {
  readonly checks: ListDiff<ConstraintModel>;
}

/** The managed schema's own fields (comment, owner, privileges) as one object. */
export type SchemaFields = Pick<SchemaModel, SchemaField>;

export interface StructuredSchemaDiff {
  /** The managed schema's own fields, when they differ (no added or removed: the schema is always there). */
  readonly schema: ListDiff<SchemaFields>;
  readonly extensions: ListDiff<ExtensionModel>;
  readonly enums: ListDiff<EnumModel>;
  readonly domains: ListDiff<DomainModel, DomainChange>;
  readonly compositeTypes: ListDiff<CompositeTypeModel>;
  readonly sequences: ListDiff<SequenceModel>;
  readonly tables: ListDiff<TableModel, TableChange>;
  readonly views: ListDiff<ViewModel, ViewChange>;
  readonly functions: ListDiff<FunctionModel>;
  readonly rangeTypes: ListDiff<RangeTypeModel>;
  readonly aggregates: ListDiff<AggregateModel>;
  readonly operators: ListDiff<OperatorModel>;
  readonly operatorClasses: ListDiff<OperatorClassModel>;
  readonly operatorFamilies: ListDiff<OperatorFamilyModel>;
  readonly collations: ListDiff<CollationModel>;
  readonly textSearchConfigurations: ListDiff<TextSearchConfigurationModel>;
  readonly textSearchDictionaries: ListDiff<TextSearchDictionaryModel>;
  readonly textSearchParsers: ListDiff<TextSearchParserModel>;
  readonly textSearchTemplates: ListDiff<TextSearchTemplateModel>;
  readonly statistics: ListDiff<StatisticsModel>;
  readonly rules: ListDiff<RuleModel>;
}

/** Child lists of a table, compared one by one rather than as fields. */
export const TABLE_CHILD_FIELDS = ['columns', 'constraints', 'indexes', 'triggers', 'policies'] as const;
const VIEW_CHILD_FIELDS = ['indexes', 'triggers'] as const;
const DOMAIN_CHILD_FIELDS = ['checks'] as const;

/** The differences from `from` to `to`. */
export function diffSchemaModels(from: SchemaModel, to: SchemaModel): StructuredSchemaDiff {
  const schemaChange = changedFields(schemaFieldsOf(from), schemaFieldsOf(to), []);
  return {
    schema: {
      removed: [],
      added: [],
      changed: schemaChange.length === 0 ? [] : [{ from: schemaFieldsOf(from), to: schemaFieldsOf(to), fields: schemaChange }],
    },
    extensions: diffFields(from.extensions, to.extensions, TOP_LEVEL_KEYS.extensions),
    enums: diffFields(from.enums, to.enums, (e) => e.name),
    domains: matchByKey(from.domains, to.domains, (d) => d.name, diffDomain),
    compositeTypes: diffFields(from.compositeTypes, to.compositeTypes, (c) => c.name),
    sequences: diffFields(from.sequences, to.sequences, (s) => s.name),
    tables: matchByKey(from.tables, to.tables, (t) => t.name, diffTable),
    views: matchByKey(from.views, to.views, (v) => v.name, diffView),
    functions: diffFields(from.functions, to.functions, formatFunctionSignature),
    rangeTypes: diffFields(from.rangeTypes, to.rangeTypes, TOP_LEVEL_KEYS.rangeTypes),
    aggregates: diffFields(from.aggregates, to.aggregates, TOP_LEVEL_KEYS.aggregates),
    operators: diffFields(from.operators, to.operators, TOP_LEVEL_KEYS.operators),
    operatorClasses: diffFields(from.operatorClasses, to.operatorClasses, TOP_LEVEL_KEYS.operatorClasses),
    operatorFamilies: diffFields(from.operatorFamilies, to.operatorFamilies, TOP_LEVEL_KEYS.operatorFamilies),
    collations: diffFields(from.collations, to.collations, TOP_LEVEL_KEYS.collations),
    textSearchConfigurations: diffFields(from.textSearchConfigurations, to.textSearchConfigurations, TOP_LEVEL_KEYS.textSearchConfigurations),
    textSearchDictionaries: diffFields(from.textSearchDictionaries, to.textSearchDictionaries, TOP_LEVEL_KEYS.textSearchDictionaries),
    textSearchParsers: diffFields(from.textSearchParsers, to.textSearchParsers, TOP_LEVEL_KEYS.textSearchParsers),
    textSearchTemplates: diffFields(from.textSearchTemplates, to.textSearchTemplates, TOP_LEVEL_KEYS.textSearchTemplates),
    statistics: diffFields(from.statistics, to.statistics, TOP_LEVEL_KEYS.statistics),
    rules: diffFields(from.rules, to.rules, TOP_LEVEL_KEYS.rules),
  };
}

export function diffTable(a: TableModel, b: TableModel): TableChange | undefined {
  const change: TableChange = {
    from: a,
    to: b,
    fields: changedFields(a, b, TABLE_CHILD_FIELDS),
    ...columnOrderChange(a.columns, b.columns),
    columns: diffFields(a.columns, b.columns, (c) => c.name),
    constraints: diffFields(a.constraints, b.constraints, keyOfNamedDefinition),
    indexes: diffFields(a.indexes, b.indexes, keyOfNamedDefinition),
    triggers: diffFields(a.triggers, b.triggers, (t) => t.name),
    policies: diffFields(a.policies, b.policies, (p) => p.name),
  };
  const unchanged =
    change.fields.length === 0 &&
    change.columnOrder === undefined &&
    [change.columns, change.constraints, change.indexes, change.triggers, change.policies].every(isEmptyList);
  return unchanged ? undefined : change;
}

function diffView(a: ViewModel, b: ViewModel): ViewChange | undefined {
  const change: ViewChange = {
    from: a,
    to: b,
    fields: changedFields(a, b, VIEW_CHILD_FIELDS),
    indexes: diffFields(a.indexes ?? [], b.indexes ?? [], keyOfNamedDefinition),
    triggers: diffFields(a.triggers ?? [], b.triggers ?? [], (t) => t.name),
  };
  return change.fields.length === 0 && isEmptyList(change.indexes) && isEmptyList(change.triggers) ? undefined : change;
}

function diffDomain(a: DomainModel, b: DomainModel): DomainChange | undefined {
  const change: DomainChange = {
    from: a,
    to: b,
    fields: changedFields(a, b, DOMAIN_CHILD_FIELDS),
    checks: diffFields(a.checks, b.checks, keyOfNamedDefinition),
  };
  return change.fields.length === 0 && isEmptyList(change.checks) ? undefined : change;
}

/** A list whose matched objects are compared field by field. */
function diffFields<T extends object>(from: readonly T[], to: readonly T[], keyOf: (item: T) => string): ListDiff<T> {
  return matchByKey(from, to, keyOf, (a, b) => {
    const fields = changedFields(a, b, []);
    return fields.length === 0 ? undefined : { from: a, to: b, fields };
  });
}

/**
 * Matches two lists by key. Keys may repeat (two identical unnamed
 * constraints), so matching is by count. `compare` turns a matched pair
 * into a change, or undefined when they are equal. Each part is sorted by
 * key (changes by the `from` side's key); ties keep list order.
 */
export function matchByKey<T, C>(
  from: readonly T[],
  to: readonly T[],
  keyOf: (item: T) => string,
  compare: (from: T, to: T) => C | undefined,
): ListDiff<T, C> {
  const remaining = new Map<string, T[]>();
  for (const item of to) {
    const key = keyOf(item);
    const list = remaining.get(key);
    if (list === undefined) remaining.set(key, [item]);
    else list.push(item);
  }
  const removed: T[] = [];
  const common: [T, T][] = [];
  for (const item of from) {
    const match = remaining.get(keyOf(item))?.shift();
    if (match === undefined) removed.push(item);
    else common.push([item, match]);
  }
  const added = [...remaining.values()].flat();
  const byKey = (a: T, b: T): number => compareCodeUnits(keyOf(a), keyOf(b));
  const changed: C[] = [];
  for (const [a, b] of common.sort(([a], [b]) => byKey(a, b))) {
    const change = compare(a, b);
    if (change !== undefined) changed.push(change);
  }
  return { removed: removed.sort(byKey), added: added.sort(byKey), changed };
}

/** The top-level fields of two objects whose values differ, skipping `children`, sorted. */
export function changedFields(from: object, to: object, children: readonly string[]): string[] {
  const a = from as Record<string, unknown>;
  const b = to as Record<string, unknown>;
  return [...new Set([...Object.keys(a), ...Object.keys(b)])]
    .filter((key) => !children.includes(key))
    .filter((key) => serializeCanonicalJson(a[key]) !== serializeCanonicalJson(b[key]))
    .sort(compareCodeUnits);
}

function columnOrderChange(
  from: readonly ColumnModel[],
  to: readonly ColumnModel[],
): { columnOrder?: { before: string[]; after: string[] } } {
  const toNames = new Set(to.map((c) => c.name));
  const fromNames = new Set(from.map((c) => c.name));
  const before = from.map((c) => c.name).filter((n) => toNames.has(n));
  const after = to.map((c) => c.name).filter((n) => fromNames.has(n));
  return before.join('\u0000') === after.join('\u0000') ? {} : { columnOrder: { before, after } };
}

export function isEmptyList(list: ListDiff<unknown, unknown>): boolean {
  return list.removed.length === 0 && list.added.length === 0 && list.changed.length === 0;
}

/** True when the two models have no difference at all. */
export function isEmptyDiff(diff: StructuredSchemaDiff): boolean {
  return Object.values(diff).every((list) => isEmptyList(list as ListDiff<unknown, unknown>));
}
