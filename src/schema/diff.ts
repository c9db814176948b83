/**
 * Object-level differences between two schema models. Pure: no I/O.
 *
 * Direction: `from` is the expected schema (e.g. the one recorded for a
 * revision), `to` the actual one (the database). `added` means "in the
 * database but not expected", `removed` "expected but not in the database".
 */
import {
  compareStrings,
  formatFunctionSignature,
  keyOfNamedDefinition,
  type ColumnModel,
  type ConstraintModel,
  type IndexModel,
  type PolicyModel,
  type SchemaModel,
  type TableModel,
  type TriggerModel,
  type ViewModel,
} from './model.js';
import { serializeCanonicalJson } from './fingerprint.js';

export type SchemaObjectKind =
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
  | 'procedure';

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
  const add = (d: SchemaDifference): void => void differences.push(d);

  diffByKey(from.extensions, to.extensions, (e) => e, {
    added: (e) => add({ change: 'added', kind: 'extension', name: quote(e) }),
    removed: (e) => add({ change: 'removed', kind: 'extension', name: quote(e) }),
    common: () => undefined,
  });
  diffNamedObjects('enum', from.enums, to.enums, add);
  diffNamedObjects('domain', from.domains, to.domains, add, (a, b) => {
    const name = quote(b.name);
    diffNamedDefinitions('constraint', name, a.checks, b.checks, add);
  });
  diffNamedObjects('composite type', from.compositeTypes, to.compositeTypes, add);
  diffNamedObjects('sequence', from.sequences, to.sequences, add);
  diffTables(from.tables, to.tables, add);
  diffViews(from.views, to.views, add);
  diffByKey(from.functions, to.functions, formatFunctionSignature, {
    added: (f) => add({ change: 'added', kind: f.kind, name: formatFunctionName(f) }),
    removed: (f) => add({ change: 'removed', kind: f.kind, name: formatFunctionName(f) }),
    common: (a, b) => {
      const detail = describeFieldChanges(a, b, []);
      if (detail !== undefined) add({ change: 'changed', kind: b.kind, name: formatFunctionName(b), detail });
    },
  });
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

interface ListDiffHandlers<T> {
  added(item: T): void;
  removed(item: T): void;
  common(from: T, to: T): void;
}

/**
 * Matches two lists by key and reports what only one side has. Keys may
 * repeat (two identical unnamed constraints), so matching is by count.
 */
function diffByKey<T>(from: readonly T[], to: readonly T[], keyOf: (item: T) => string, handlers: ListDiffHandlers<T>): void {
  const remaining = new Map<string, T[]>();
  for (const item of to) {
    const key = keyOf(item);
    remaining.set(key, [...(remaining.get(key) ?? []), item]);
  }
  const removed: T[] = [];
  const common: [T, T][] = [];
  for (const item of from) {
    const match = remaining.get(keyOf(item))?.shift();
    if (match === undefined) removed.push(item);
    else common.push([item, match]);
  }
  const added = [...remaining.values()].flat();
  const byKey = (a: T, b: T): number => compareStrings(keyOf(a), keyOf(b));
  for (const item of removed.sort(byKey)) handlers.removed(item);
  for (const item of added.sort(byKey)) handlers.added(item);
  for (const [a, b] of common.sort(([a], [b]) => byKey(a, b))) handlers.common(a, b);
}

/** Objects identified by name whose own fields are compared as a whole. */
function diffNamedObjects<T extends { readonly name: string }>(
  kind: SchemaObjectKind,
  from: readonly T[],
  to: readonly T[],
  emit: Emit,
  diffChildren?: (from: T, to: T) => void,
  childFields: readonly string[] = ['checks'],
): void {
  diffByKey(from, to, (item) => item.name, {
    added: (item) => emit({ change: 'added', kind, name: quote(item.name) }),
    removed: (item) => emit({ change: 'removed', kind, name: quote(item.name) }),
    common: (a, b) => {
      const detail = describeFieldChanges(a, b, diffChildren === undefined ? [] : childFields);
      if (detail !== undefined) emit({ change: 'changed', kind, name: quote(b.name), detail });
      diffChildren?.(a, b);
    },
  });
}

const TABLE_CHILDREN = ['columns', 'constraints', 'indexes', 'triggers', 'policies'] as const;

function diffTables(from: readonly TableModel[], to: readonly TableModel[], emit: Emit): void {
  diffByKey(from, to, (t) => t.name, {
    added: (t) => emit({ change: 'added', kind: 'table', name: quote(t.name) }),
    removed: (t) => emit({ change: 'removed', kind: 'table', name: quote(t.name) }),
    common: (a, b) => {
      const table = quote(b.name);
      const changes = [describeFieldChanges(a, b, TABLE_CHILDREN), describeColumnOrderChange(a.columns, b.columns)];
      const detail = joinDetails(changes);
      if (detail !== undefined) emit({ change: 'changed', kind: 'table', name: table, detail });
      diffColumns(table, a.columns, b.columns, emit);
      diffNamedDefinitions('constraint', table, a.constraints, b.constraints, emit);
      diffIndexes(table, a.indexes, b.indexes, emit);
      diffTableChildren('trigger', table, a.triggers, b.triggers, emit);
      diffTableChildren('policy', table, a.policies, b.policies, emit);
    },
  });
}

function diffViews(from: readonly ViewModel[], to: readonly ViewModel[], emit: Emit): void {
  const kindOf = (v: ViewModel): SchemaObjectKind => (v.materialized ? 'materialized view' : 'view');
  diffByKey(from, to, (v) => v.name, {
    added: (v) => emit({ change: 'added', kind: kindOf(v), name: quote(v.name) }),
    removed: (v) => emit({ change: 'removed', kind: kindOf(v), name: quote(v.name) }),
    common: (a, b) => {
      const view = quote(b.name);
      const detail = describeFieldChanges(a, b, ['indexes', 'triggers']);
      if (detail !== undefined) emit({ change: 'changed', kind: kindOf(b), name: view, detail });
      diffIndexes(view, a.indexes ?? [], b.indexes ?? [], emit);
      diffTableChildren('trigger', view, a.triggers ?? [], b.triggers ?? [], emit);
    },
  });
}

function diffColumns(table: string, from: readonly ColumnModel[], to: readonly ColumnModel[], emit: Emit): void {
  diffByKey(from, to, (c) => c.name, {
    added: (c) => emit({ change: 'added', kind: 'column', name: `${table}.${quote(c.name)}`, detail: c.type }),
    removed: (c) => emit({ change: 'removed', kind: 'column', name: `${table}.${quote(c.name)}`, detail: c.type }),
    common: (a, b) => {
      const detail = describeFieldChanges(a, b, []);
      if (detail !== undefined) emit({ change: 'changed', kind: 'column', name: `${table}.${quote(b.name)}`, detail });
    },
  });
}

/** Constraints (and domain checks): identified by explicit name, else by definition. */
function diffNamedDefinitions(
  kind: 'constraint',
  owner: string,
  from: readonly ConstraintModel[],
  to: readonly ConstraintModel[],
  emit: Emit,
): void {
  const nameOf = (c: ConstraintModel): string =>
    c.name === undefined ? `${owner} ${c.definition}` : `${owner}.${quote(c.name)}`;
  diffByKey(from, to, keyOfNamedDefinition, {
    added: (c) => emit({ change: 'added', kind, name: nameOf(c) }),
    removed: (c) => emit({ change: 'removed', kind, name: nameOf(c) }),
    common: (a, b) => {
      const detail = describeFieldChanges(a, b, []);
      if (detail !== undefined) emit({ change: 'changed', kind, name: nameOf(b), detail });
    },
  });
}

function diffIndexes(owner: string, from: readonly IndexModel[], to: readonly IndexModel[], emit: Emit): void {
  // An unnamed index's definition already names its table.
  const nameOf = (i: IndexModel): string => (i.name === undefined ? i.definition : `${owner}.${quote(i.name)}`);
  diffByKey(from, to, keyOfNamedDefinition, {
    added: (i) => emit({ change: 'added', kind: 'index', name: nameOf(i) }),
    removed: (i) => emit({ change: 'removed', kind: 'index', name: nameOf(i) }),
    common: (a, b) => {
      const detail = describeFieldChanges(a, b, []);
      if (detail !== undefined) emit({ change: 'changed', kind: 'index', name: nameOf(b), detail });
    },
  });
}

function diffTableChildren<T extends TriggerModel | PolicyModel>(
  kind: 'trigger' | 'policy',
  owner: string,
  from: readonly T[],
  to: readonly T[],
  emit: Emit,
): void {
  diffByKey(from, to, (item) => item.name, {
    added: (item) => emit({ change: 'added', kind, name: `${owner}.${quote(item.name)}` }),
    removed: (item) => emit({ change: 'removed', kind, name: `${owner}.${quote(item.name)}` }),
    common: (a, b) => {
      const detail = describeFieldChanges(a, b, []);
      if (detail !== undefined) emit({ change: 'changed', kind, name: `${owner}.${quote(b.name)}`, detail });
    },
  });
}

/** Reports a new relative order of the columns both sides have (it matters for `SELECT *`). */
function describeColumnOrderChange(from: readonly ColumnModel[], to: readonly ColumnModel[]): string | undefined {
  const toNames = new Set(to.map((c) => c.name));
  const fromNames = new Set(from.map((c) => c.name));
  const before = from.map((c) => c.name).filter((n) => toNames.has(n));
  const after = to.map((c) => c.name).filter((n) => fromNames.has(n));
  if (before.join('\u0000') === after.join('\u0000')) return undefined;
  return `column order (${before.join(', ')}) → (${after.join(', ')})`;
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
};

/**
 * `field old → new; ...` for each top-level field that differs, skipping
 * `children` (compared separately); undefined when nothing differs.
 */
function describeFieldChanges(from: object, to: object, children: readonly string[]): string | undefined {
  const a = from as Record<string, unknown>;
  const b = to as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])]
    .filter((key) => !children.includes(key))
    .sort(compareStrings);
  const changes = keys
    .filter((key) => serializeCanonicalJson(a[key]) !== serializeCanonicalJson(b[key]))
    .map((key) => `${FIELD_LABELS[key] ?? key} ${describeValueChange(a[key], b[key])}`);
  return joinDetails(changes);
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
