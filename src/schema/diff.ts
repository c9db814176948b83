/**
 * Object-level differences between two schema models, one readable line
 * each, built from the structured diff (structuredDiff.ts). Pure: no I/O.
 *
 * Direction: `from` is the expected schema (e.g. the one recorded for a
 * revision), `to` the actual one (the database). `added` means "in the
 * database but not expected", `removed` "expected but not in the database".
 */
import {
  type ColumnModel,
  type ConstraintModel,
  type IndexModel,
  type PolicyModel,
  type SchemaModel,
  type TriggerModel,
  type ViewModel,
} from './model.js';
import { serializeCanonicalJson } from './fingerprint.js';
import { diffSchemaModels, type ListDiff, type ObjectChange, type TableChange } from './structuredDiff.js';

export type SchemaObjectKind =
  | 'schema'
  | 'extension'
  | 'table'
  | 'column'
  | 'constraint'
  | 'index'
  | 'trigger'
  | 'policy'
  | 'view'
  | 'materialized view'
  | 'sequence'
  | 'enum'
  | 'domain'
  | 'composite type'
  | 'function'
  | 'procedure'
  | 'range type'
  | 'aggregate'
  | 'operator'
  | 'operator class'
  | 'operator family'
  | 'collation'
  | 'text search configuration'
  | 'text search dictionary'
  | 'text search parser'
  | 'text search template'
  | 'statistics'
  | 'rule';

export interface SchemaDifference {
  readonly change: 'added' | 'removed' | 'changed';
  readonly kind: SchemaObjectKind;
  /** Printable identity, e.g. `"users"."email"`, `"users" UNIQUE (email)`, `"touch"()`. */
  readonly name: string;
  /** For `changed`: what changed, e.g. `type text → character varying(255)`. */
  readonly detail?: string;
}

/** Lists the differences from `from` (expected) to `to` (actual), in a stable order. */
export function diffSchemas(from: SchemaModel, to: SchemaModel): SchemaDifference[] {
  const differences: SchemaDifference[] = [];
  const emit: Emit = (d) => void differences.push(d);
  const diff = diffSchemaModels(from, to);

  describeList(diff.schema, 'schema', () => 'managed', emit, (change) => {
    const detail = describeFields(change);
    if (detail !== undefined) emit({ change: 'changed', kind: 'schema', name: 'managed', detail });
  });
  describeList(diff.extensions, 'extension', (e) => quote(e.name), emit, describeChanged('extension', emit));
  describeList(diff.collations, 'collation', (c) => quote(c.name), emit, describeChanged('collation', emit));
  describeList(diff.enums, 'enum', (e) => quote(e.name), emit, describeChanged('enum', emit));
  describeList(diff.domains, 'domain', (d) => quote(d.name), emit, (change) => {
    describeChanged('domain', emit)(change);
    describeNamedDefinitions(quote(change.to.name), change.checks, emit);
  });
  describeList(diff.compositeTypes, 'composite type', (c) => quote(c.name), emit, describeChanged('composite type', emit));
  describeList(diff.rangeTypes, 'range type', (r) => quote(r.name), emit, describeChanged('range type', emit));
  describeList(diff.sequences, 'sequence', (s) => quote(s.name), emit, describeChanged('sequence', emit));
  describeList(diff.tables, 'table', (t) => quote(t.name), emit, (change) => describeTableChange(change, emit));
  describeList(diff.views, kindOfView, (v) => quote(v.name), emit, (change) => {
    const view = quote(change.to.name);
    const detail = describeFields(change);
    if (detail !== undefined) emit({ change: 'changed', kind: kindOfView(change.to), name: view, detail });
    describeIndexes(view, change.indexes, emit);
    describeTableChildren('trigger', view, change.triggers, emit);
  });
  describeList(diff.functions, (f) => f.kind, formatFunctionName, emit, (change) => {
    const detail = describeFields(change);
    if (detail !== undefined) emit({ change: 'changed', kind: change.to.kind, name: formatFunctionName(change.to), detail });
  });
  describeKeyed(diff.aggregates, 'aggregate', formatFunctionName, emit);
  describeKeyed(diff.operators, 'operator', (o) => `${o.name}(${o.left ?? 'NONE'}, ${o.right})`, emit);
  describeKeyed(diff.operatorFamilies, 'operator family', (o) => `${quote(o.name)} USING ${o.method}`, emit);
  describeKeyed(diff.operatorClasses, 'operator class', (o) => `${quote(o.name)} USING ${o.method}`, emit);
  describeKeyed(diff.textSearchParsers, 'text search parser', (t) => quote(t.name), emit);
  describeKeyed(diff.textSearchTemplates, 'text search template', (t) => quote(t.name), emit);
  describeKeyed(diff.textSearchDictionaries, 'text search dictionary', (t) => quote(t.name), emit);
  describeKeyed(diff.textSearchConfigurations, 'text search configuration', (t) => quote(t.name), emit);
  describeKeyed(diff.statistics, 'statistics', (s) => quote(s.name), emit);
  describeKeyed(diff.rules, 'rule', (r) => `${quote(r.table)}.${quote(r.name)}`, emit);
  return differences;
}

/** One readable line, e.g. `table "audit_log" is extra in the database`. */
export function describeDifference(difference: SchemaDifference): string {
  const subject = `${difference.kind} ${difference.name}`;
  switch (difference.change) {
    case 'added':
      return `${subject} is extra in the database${difference.detail === undefined ? '' : ` (${difference.detail})`}`;
    case 'removed':
      return `${subject} is missing from the database${difference.detail === undefined ? '' : ` (${difference.detail})`}`;
    case 'changed':
      return `${subject}: ${difference.detail ?? 'differs'}`;
  }
}

type Emit = (difference: SchemaDifference) => void;

/** Removed, then added, then changed objects of one list (the structured diff's order). */
function describeList<T, C>(
  list: ListDiff<T, C>,
  kind: SchemaObjectKind | ((item: T) => SchemaObjectKind),
  nameOf: (item: T) => string,
  emit: Emit,
  describeChange: (change: C) => void = () => undefined,
  detailOf: (item: T) => string | undefined = () => undefined,
): void {
  const kindOf = typeof kind === 'function' ? kind : () => kind;
  const line = (change: 'added' | 'removed', item: T): SchemaDifference => {
    const detail = detailOf(item);
    return { change, kind: kindOf(item), name: nameOf(item), ...(detail === undefined ? {} : { detail }) };
  };
  for (const item of list.removed) emit(line('removed', item));
  for (const item of list.added) emit(line('added', item));
  for (const change of list.changed) describeChange(change);
}

/** The `changed` line of an object identified by name, when its own fields differ. */
function describeChanged<T extends { readonly name: string }>(kind: SchemaObjectKind, emit: Emit) {
  return (change: ObjectChange<T>): void => {
    const detail = describeFields(change);
    if (detail !== undefined) emit({ change: 'changed', kind, name: quote(change.to.name), detail });
  };
}

/** A list of one kind whose objects are compared field by field. */
function describeKeyed<T>(list: ListDiff<T>, kind: SchemaObjectKind, nameOf: (item: T) => string, emit: Emit): void {
  describeList(list, kind, nameOf, emit, (change) => {
    const detail = describeFields(change);
    if (detail !== undefined) emit({ change: 'changed', kind, name: nameOf(change.to), detail });
  });
}

function kindOfView(v: ViewModel): SchemaObjectKind {
  return v.materialized ? 'materialized view' : 'view';
}

function describeTableChange(change: TableChange, emit: Emit): void {
  const table = quote(change.to.name);
  const order =
    change.columnOrder === undefined
      ? undefined
      : `column order (${change.columnOrder.before.join(', ')}) → (${change.columnOrder.after.join(', ')})`;
  const detail = joinDetails([describeFields(change), order]);
  if (detail !== undefined) emit({ change: 'changed', kind: 'table', name: table, detail });
  const columnName = (c: ColumnModel): string => `${table}.${quote(c.name)}`;
  describeList(change.columns, 'column', columnName, emit, (c) => {
    const columnDetail = describeFields(c);
    if (columnDetail !== undefined) emit({ change: 'changed', kind: 'column', name: columnName(c.to), detail: columnDetail });
  }, (c) => c.type);
  describeNamedDefinitions(table, change.constraints, emit);
  describeIndexes(table, change.indexes, emit);
  describeTableChildren('trigger', table, change.triggers, emit);
  describeTableChildren('policy', table, change.policies, emit);
}

/** Constraints (and domain checks): identified by explicit name, else by definition. */
function describeNamedDefinitions(owner: string, list: ListDiff<ConstraintModel>, emit: Emit): void {
  const nameOf = (c: ConstraintModel): string =>
    c.name === undefined ? `${owner} ${c.definition}` : `${owner}.${quote(c.name)}`;
  describeList(list, 'constraint', nameOf, emit, (c) => {
    const detail = describeFields(c);
    if (detail !== undefined) emit({ change: 'changed', kind: 'constraint', name: nameOf(c.to), detail });
  });
}

function describeIndexes(owner: string, list: ListDiff<IndexModel>, emit: Emit): void {
  // An unnamed index's definition already names its table.
  const nameOf = (i: IndexModel): string => (i.name === undefined ? i.definition : `${owner}.${quote(i.name)}`);
  describeList(list, 'index', nameOf, emit, (i) => {
    const detail = describeFields(i);
    if (detail !== undefined) emit({ change: 'changed', kind: 'index', name: nameOf(i.to), detail });
  });
}

function describeTableChildren<T extends TriggerModel | PolicyModel>(
  kind: 'trigger' | 'policy',
  owner: string,
  list: ListDiff<T>,
  emit: Emit,
): void {
  const nameOf = (item: T): string => `${owner}.${quote(item.name)}`;
  describeList(list, kind, nameOf, emit, (c) => {
    const detail = describeFields(c);
    if (detail !== undefined) emit({ change: 'changed', kind, name: nameOf(c.to), detail });
  });
}

// --- Field-level details --------------------------------------------------------

const FIELD_LABELS: Readonly<Record<string, string>> = {
  notNull: 'not null',
  baseType: 'base type',
  partitionKey: 'partition key',
  partitionOf: 'partition of',
  partitionBound: 'partition bound',
  rowSecurity: 'row level security',
  forceRowSecurity: 'forced row level security',
  withCheck: 'with check',
  ownedBy: 'owned by',
  materialized: 'materialized',
  replicaIdentity: 'replica identity',
  accessMethod: 'access method',
  toastOptions: 'TOAST options',
  generatedKind: 'generated kind',
  columnComments: 'column comments',
  columnPrivileges: 'column privileges',
  defaultPrivileges: 'default privileges',
  subtypeDiff: 'subtype diff',
  operatorClass: 'operator class',
  lcCollate: 'LC_COLLATE',
  lcCtype: 'LC_CTYPE',
  clustered: 'CLUSTER ON',
};

/** `field old → new; ...` for each field that differs; undefined when none does. */
function describeFields<T>(change: ObjectChange<T>): string | undefined {
  const a = change.from as Record<string, unknown>;
  const b = change.to as Record<string, unknown>;
  return joinDetails(change.fields.map((key) => `${FIELD_LABELS[key] ?? key} ${describeValueChange(a[key], b[key])}`));
}

function joinDetails(details: readonly (string | undefined)[]): string | undefined {
  const present = details.filter((d): d is string => d !== undefined);
  return present.length === 0 ? undefined : present.join('; ');
}

/** Longest excerpt of a value shown in a one-line description. */
const MAX_SHOWN = 60;

function describeValueChange(from: unknown, to: unknown): string {
  if (typeof from === 'string' && typeof to === 'string') {
    const a = collapseWhitespace(from);
    const b = collapseWhitespace(to);
    if (a === b) return 'differs in whitespace only';
    if (a.length > MAX_SHOWN || b.length > MAX_SHOWN) return describeLongTextChange(a, b);
    return `${a} → ${b}`;
  }
  return `${formatValue(from)} → ${formatValue(to)}`;
}

/** Shows only the neighbourhood of the first difference of two long texts. */
function describeLongTextChange(from: string, to: string): string {
  let start = 0;
  while (start < from.length && start < to.length && from[start] === to[start]) start++;
  const context = 20;
  const excerpt = (text: string): string => {
    const begin = Math.max(0, start - context);
    const end = Math.min(text.length, start + context);
    return `${begin > 0 ? '…' : ''}${text.slice(begin, end)}${end < text.length ? '…' : ''}`;
  };
  return `differs: "${excerpt(from)}" → "${excerpt(to)}"`;
}

function formatValue(value: unknown): string {
  if (value === undefined) return 'none';
  if (value === true) return 'yes';
  if (typeof value === 'string') return truncate(collapseWhitespace(value));
  if (Array.isArray(value)) return `(${value.map(formatListItem).join(', ')})`;
  return truncate(serializeCanonicalJson(value));
}

function formatListItem(item: unknown): string {
  if (typeof item === 'string') return item;
  if (item !== null && typeof item === 'object' && 'name' in item && 'type' in item) {
    // Composite-type attributes: "name type [COLLATE c]".
    const attribute = item as { name: string; type: string; collation?: string };
    return `${attribute.name} ${attribute.type}${attribute.collation === undefined ? '' : ` COLLATE ${attribute.collation}`}`;
  }
  return serializeCanonicalJson(item);
}

function collapseWhitespace(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function truncate(text: string): string {
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN - 1)}…` : text;
}

function quote(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function formatFunctionName(fn: { readonly name: string; readonly arguments: string }): string {
  return `${quote(fn.name)}(${fn.arguments})`;
}
