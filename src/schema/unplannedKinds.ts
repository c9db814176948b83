/**
 * What the planner does not plan yet: the kinds and fields the catalog
 * model gained for the fingerprint (model format 2) before the planner
 * learnt to write DDL for them. A plan that would silently leave them out
 * is refused by name instead (`unsupported`). Pure: no I/O.
 */
import type { ListDiff, ObjectChange, StructuredSchemaDiff, TableChange } from './structuredDiff.js';

/** Top-level lists with no DDL in the planner: any difference in them is refused. */
const UNPLANNED_LISTS = {
  rangeTypes: 'range type',
  aggregates: 'aggregate',
  operators: 'operator',
  operatorClasses: 'operator class',
  operatorFamilies: 'operator family',
  collations: 'collation',
  textSearchConfigurations: 'text search configuration',
  textSearchDictionaries: 'text search dictionary',
  textSearchParsers: 'text search parser',
  textSearchTemplates: 'text search template',
  statistics: 'statistics',
  rules: 'rule',
} as const satisfies Partial<Record<keyof StructuredSchemaDiff, string>>;

/** The model's lists whose every difference the planner refuses (for the autogenerate corpus's coverage check). */
export const UNPLANNED_KIND_LISTS: readonly string[] = Object.keys(UNPLANNED_LISTS);

const PRIVILEGES = ['owner', 'privileges'] as const;

/** Fields of planned kinds that the planner does not write. */
const UNPLANNED_FIELDS = {
  table: ['replicaIdentity', 'accessMethod', 'toastOptions', ...PRIVILEGES],
  column: ['statistics', 'storage', 'compression', 'options', 'generatedKind', 'privileges'],
  constraint: ['clustered', 'replicaIdentity'],
  index: ['clustered', 'replicaIdentity', 'statistics'],
  policy: ['comment'],
  view: ['columnComments', 'columnPrivileges', ...PRIVILEGES],
  other: PRIVILEGES,
  extension: ['version', 'comment'],
} as const;

export interface UnplannedChange {
  /** The object, e.g. `rule "orders"."log_insert"`. */
  readonly subject: string;
  readonly detail: string;
}

/** Each difference of `diff` that the planner would leave out. */
export function findUnplannedChanges(diff: StructuredSchemaDiff): UnplannedChange[] {
  const found: UnplannedChange[] = [];
  const notYet = (subject: string, what: string): void => void found.push({ subject, detail: `the planner does not write ${what} yet` });

  for (const [list, kind] of Object.entries(UNPLANNED_LISTS) as [keyof typeof UNPLANNED_LISTS, string][]) {
    const changes = diff[list] as ListDiff<{ readonly name: string }>;
    for (const item of [...changes.removed, ...changes.added, ...changes.changed.map((c) => c.to)]) {
      notYet(`${kind} ${dq(item.name)}`, `${kind} DDL`);
    }
  }
  if (diff.schema.changed.length > 0) notYet('the managed schema', `its ${diff.schema.changed[0]!.fields.join(', ')}`);
  fieldsOf(diff.extensions, UNPLANNED_FIELDS.extension, (e) => `extension ${dq(e.name)}`, notYet, false);

  for (const table of diff.tables.added) {
    checkSet(table, UNPLANNED_FIELDS.table, `table ${dq(table.name)}`, notYet);
    for (const column of table.columns) checkSet(column, UNPLANNED_FIELDS.column, `column ${dq(table.name)}.${dq(column.name)}`, notYet);
    for (const c of table.constraints) checkSet(c, UNPLANNED_FIELDS.constraint, `constraint of ${dq(table.name)}`, notYet);
    for (const i of table.indexes) checkSet(i, UNPLANNED_FIELDS.index, `index of ${dq(table.name)}`, notYet);
    for (const p of table.policies) checkSet(p, UNPLANNED_FIELDS.policy, `policy ${dq(table.name)}.${dq(p.name)}`, notYet);
  }
  for (const change of diff.tables.changed) checkTable(change, notYet);
  fieldsOf(diff.views, UNPLANNED_FIELDS.view, (v) => `view ${dq(v.name)}`, notYet);
  for (const list of [diff.sequences, diff.enums, diff.domains, diff.compositeTypes, diff.functions] as ListDiff<{ readonly name: string }>[]) {
    fieldsOf(list, UNPLANNED_FIELDS.other, (o) => dq(o.name), notYet);
  }
  return found;
}

function checkTable(change: TableChange, notYet: (subject: string, what: string) => void): void {
  const table = dq(change.to.name);
  const subject = `table ${table}`;
  const fields = change.fields.filter((f) => (UNPLANNED_FIELDS.table as readonly string[]).includes(f));
  if (fields.length > 0) notYet(subject, `its ${fields.join(', ')}`);
  fieldsOf(change.columns, UNPLANNED_FIELDS.column, (c) => `column ${table}.${dq(c.name)}`, notYet);
  fieldsOf(change.constraints, UNPLANNED_FIELDS.constraint, () => `constraint of ${table}`, notYet);
  fieldsOf(change.indexes, UNPLANNED_FIELDS.index, () => `index of ${table}`, notYet);
  fieldsOf(change.policies, UNPLANNED_FIELDS.policy, (p) => `policy ${table}.${dq(p.name)}`, notYet);
}

/** Added objects that set one of `fields`, and changes of one of them. */
function fieldsOf<T extends object, C extends ObjectChange<T>>(
  list: ListDiff<T, C>,
  fields: readonly string[],
  subjectOf: (item: T) => string,
  notYet: (subject: string, what: string) => void,
  checkAdded = true,
): void {
  if (checkAdded) for (const item of list.added) checkSet(item, fields, subjectOf(item), notYet);
  for (const change of list.changed) {
    const changed = change.fields.filter((f) => fields.includes(f));
    if (changed.length > 0) notYet(subjectOf(change.to), `its ${changed.join(', ')}`);
  }
}

function checkSet(item: object, fields: readonly string[], subject: string, notYet: (subject: string, what: string) => void): void {
  const set = fields.filter((f) => (item as Record<string, unknown>)[f] !== undefined);
  if (set.length > 0) notYet(subject, `its ${set.join(', ')}`);
}

function dq(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
