/**
 * The migration planner: two schema models in (the schema now and the
 * schema wanted), ordered DDL out, up and down, with the decisions a person
 * must take (renames, data loss) and what it cannot plan, by name.
 *
 * Pure, like src/core/stateDetector.ts: it imports neither `pg` nor `fs`, so
 * every plan is unit-testable from literals (test/unit/schemaPlanner.test.ts)
 * and proven against PostgreSQL separately (test/integration/schemaPlanner.test.ts).
 *
 * How a plan is built, in one direction:
 * 1. renames the caller decided are applied to the current model, as
 *    PostgreSQL would apply them (generated names of constraints, indexes
 *    and owned sequences stay, so they show up as names to change);
 * 2. partitions and inheritance children are predicted: what their parent's
 *    changes do to them (columns, cloned constraints, indexes, triggers) is
 *    left to PostgreSQL, which recurses;
 * 3. the structured diff (structuredDiff.ts) becomes statements, each with a
 *    phase rank and the objects it creates, drops and needs
 *    (dependencies.ts); statementOrder.ts orders them.
 * The down plan is the same planning from the wanted schema back.
 */
import { UsageError } from '../core/errors.js';
import { compareCodeUnits } from '../core/lists.js';
import {
  constraintNameParts,
  constraintTypeOf,
  createIndexStatement,
  functionHeaderOf,
  generatedConstraintName,
  generatedIndexName,
  hasSqlStandardBody,
  indexDefinitionParts,
  indexNameParts,
  isIndexBackedConstraint,
  nameFromParts,
  ownedByParts,
  referencedTableOf,
  triggerFunctionOf,
  type GeneratedNameParts,
} from './definitionParts.js';
import {
  dependenciesOf,
  functionRef,
  relationRef,
  tableUses,
  triggerUses,
  typeRef,
  type DependencyFacts,
  type ModelDependencies,
  type ObjectRef,
} from './dependencies.js';
import { makeObjectName } from './generatedNames.js';
import { findUnplannedChanges } from './unplannedKinds.js';
import { quoteIdentifier as q, quoteLiteral } from './identifiers.js';
import {
  formatFunctionSignature,
  keyOfNamedDefinition,
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
import { renameIdentifier, identifiersIn, parenthesisedGroup, tokenizeSql } from './sqlTokens.js';
import { orderSteps } from './statementOrder.js';
import {
  diffSchemaModels,
  diffTable,
  type DomainChange,
  type StructuredSchemaDiff,
  type ListDiff,
  type ObjectChange,
  type TableChange,
  type ViewChange,
} from './structuredDiff.js';
import { classifyTypeChange, parseTypeName } from './typeChanges.js';

// --- Public API ----------------------------------------------------------------

/** A rename the caller decided: `table:a=b` or `column:users.first_name=name`. */
export type Rename =
  | { readonly kind: 'table'; readonly from: string; readonly to: string }
  | { readonly kind: 'column'; readonly table: string; readonly from: string; readonly to: string };

export interface PlanOptions {
  /** Renames decided by the caller (`--rename`), parsed or as text. */
  readonly renames?: readonly (Rename | string)[];
  /** Rename candidates not named by `renames` are a drop and an add (`--no-renames`). */
  readonly noRenames?: boolean;
  /** Plan statements that lose data instead of refusing them (`--allow-data-loss`). */
  readonly allowDataLoss?: boolean;
  /** Build indexes on existing tables with CONCURRENTLY, as statements outside a transaction (`--concurrently`). */
  readonly concurrently?: boolean;
  /**
   * pg_depend facts of each side, from the catalog reader. Without them,
   * views and functions are ordered by the names their definitions mention,
   * and the plan says so in `notes`.
   */
  readonly dependencies?: { readonly current?: DependencyFacts; readonly desired?: DependencyFacts };
  /** Major version of the server the plan will run on; enables statements of newer versions (17: SET EXPRESSION). */
  readonly serverMajor?: number;
}

export type StatementMarkerKind = 'data-loss' | 'rewrite' | 'lock' | 'recreate' | 'caution';

/** Something a reviewer must know about a statement; the writer prints it as a comment above it. */
export interface StatementMarker {
  readonly kind: StatementMarkerKind;
  readonly detail: string;
}

export interface PlannedStatement {
  /** One SQL statement, without the final semicolon. */
  readonly sql: string;
  /** The object it works on, e.g. `column "users"."email"`. */
  readonly subject: string;
  readonly markers: readonly StatementMarker[];
  /**
   * False for statements that cannot run in a transaction block (CREATE
   * INDEX CONCURRENTLY): they belong in a migration of their own with
   * `noTransaction`, after the others in `up` and before them in `down`.
   */
  readonly transactional: boolean;
}

export type PlanRefusalReason = 'rename-candidate' | 'data-loss' | 'unsupported' | 'unknown-rename';

/** A reason the plan must not be written as it is. */
export interface PlanRefusal {
  readonly reason: PlanRefusalReason;
  readonly direction: 'up' | 'down';
  /** The object, e.g. `column "users"."first_name"`. */
  readonly subject: string;
  /** One line: what and why. */
  readonly message: string;
  /** What the caller can do. */
  readonly hint?: string;
  /** For rename candidates: the decision that accepts the rename, e.g. `column:users.first_name=name`. */
  readonly rename?: string;
}

/** A decision the plan follows, for the record (the writer may list them in the header). */
export interface PlanDecision {
  readonly kind: 'rename' | 'drop-and-add' | 'data-loss';
  readonly subject: string;
  readonly detail: string;
}

export interface SchemaChangePlan {
  readonly up: readonly PlannedStatement[];
  readonly down: readonly PlannedStatement[];
  readonly decisions: readonly PlanDecision[];
  /** Empty when the plan may be written. */
  readonly refusals: readonly PlanRefusal[];
  /** How the plan was made where that matters to a reviewer (e.g. ordering without dependency facts). */
  readonly notes: readonly string[];
}

/** Plans the DDL that turns `current` into `desired` (up) and back (down). */
export function planSchemaChange(current: SchemaModel, desired: SchemaModel, options: PlanOptions = {}): SchemaChangePlan {
  const renames = (options.renames ?? []).map((r) => (typeof r === 'string' ? parseRename(r) : r));
  const up = planDirection(current, desired, {
    direction: 'up',
    renames,
    noRenames: options.noRenames ?? false,
    allowDataLoss: options.allowDataLoss ?? false,
    concurrently: options.concurrently ?? false,
    fromFacts: options.dependencies?.current,
    toFacts: options.dependencies?.desired,
    serverMajor: options.serverMajor,
    builtNameParts: new Map(),
  });
  const down = planDirection(desired, current, {
    direction: 'down',
    renames: invertRenames(renames),
    // Rename candidates and data loss are decided once, for up; the down
    // puts back what up changed, and its drops carry markers.
    noRenames: true,
    allowDataLoss: true,
    concurrently: options.concurrently ?? false,
    fromFacts: options.dependencies?.desired,
    toFacts: options.dependencies?.current,
    serverMajor: options.serverMajor,
    // Down runs where up ran: what up kept still has the names it had.
    builtNameParts: up.survivors,
  });
  const refusals = [...up.refusals, ...down.refusals.filter((r) => r.reason === 'unsupported')];
  const notes = [...new Set([...up.notes, ...down.notes])];
  return deepFreeze({ up: up.statements, down: down.statements, decisions: up.decisions, refusals, notes });
}

/** `-- data loss: drops column "users"."age" and its values`: the comment the writer puts above a statement. */
export function formatMarker(marker: StatementMarker): string {
  const label: Record<StatementMarkerKind, string> = {
    'data-loss': 'data loss',
    rewrite: 'rewrite',
    lock: 'lock',
    recreate: 'recreate',
    caution: 'caution',
  };
  return `-- ${label[marker.kind]}: ${marker.detail}`;
}

/**
 * Parses `table:a=b` or `column:users.first_name=name`. Names are taken as
 * written; a name with a dot, `=` or `:` goes in double quotes
 * (`column:"my.table".a=b`).
 */
export function parseRename(text: string): Rename {
  const fail = (): never => {
    throw new UsageError(`rename "${text}" is not table:OLD=NEW or column:TABLE.OLD=NEW`, {
      hint: 'e.g. --rename table:people=users or --rename column:users.first_name=name',
    });
  };
  const kind = text.startsWith('table:') ? 'table' : text.startsWith('column:') ? 'column' : fail();
  const parts = splitRenameNames(text.slice(kind.length + 1));
  if (parts === undefined) return fail();
  if (kind === 'table') {
    if (parts.left.length !== 1 || parts.right.length !== 1) return fail();
    return { kind, from: parts.left[0]!, to: parts.right[0]! };
  }
  if (parts.left.length !== 2 || parts.right.length !== 1) return fail();
  return { kind, table: parts.left[0]!, from: parts.left[1]!, to: parts.right[0]! };
}

export function formatRename(rename: Rename): string {
  const name = (n: string): string => (/^[^".=:]+$/.test(n) ? n : `"${n.replace(/"/g, '""')}"`);
  return rename.kind === 'table'
    ? `table:${name(rename.from)}=${name(rename.to)}`
    : `column:${name(rename.table)}.${name(rename.from)}=${name(rename.to)}`;
}

/** `a.b=c` into [a, b] and [c], honouring double quotes. */
function splitRenameNames(text: string): { left: string[]; right: string[] } | undefined {
  const sides: string[][] = [[]];
  let current = '';
  let quoted = false;
  let started = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (current += '"', i++);
      else if (ch === '"') quoted = false;
      else current += ch;
      continue;
    }
    if (ch === '"') {
      quoted = true;
      started = true;
    } else if (ch === '.' || ch === '=') {
      if (!started && current === '') return undefined;
      sides.at(-1)!.push(current);
      current = '';
      started = false;
      if (ch === '=') {
        if (sides.length > 1) return undefined;
        sides.push([]);
      }
    } else {
      current += ch;
      started = true;
    }
  }
  if (quoted || (!started && current === '')) return undefined;
  sides.at(-1)!.push(current);
  if (sides.length !== 2) return undefined;
  return { left: sides[0]!, right: sides[1]! };
}

function invertRenames(renames: readonly Rename[]): Rename[] {
  const tables = renames.filter((r): r is Extract<Rename, { kind: 'table' }> => r.kind === 'table');
  const oldNameOf = (table: string): string => tables.find((t) => t.to === table)?.from ?? table;
  const newNameOf = (table: string): string => tables.find((t) => t.from === table)?.to ?? table;
  return renames.map((r) =>
    r.kind === 'table'
      ? { kind: 'table', from: r.to, to: r.from }
      : // The table as named after the down's table renames: its current name.
        { kind: 'column', table: oldNameOf(newNameOf(r.table)), from: r.to, to: r.from },
  );
}

// --- Steps -----------------------------------------------------------------------

/**
 * Phases, in the order statements go when nothing else constrains them:
 * dependents are dropped first, then types, sequences and functions are
 * made, then tables, columns, constraints, indexes and foreign keys, then
 * the views, triggers and policies that use them; what is dropped for good
 * goes last, once nothing uses it.
 */
const RANK = {
  concurrentDrop: -10,
  settings: 0,
  rename: 1,
  renameChild: 2,
  createExtension: 5,
  dropTrigger: 10,
  dropPolicy: 11,
  dropView: 12,
  detachPartition: 13,
  dropForeignKey: 14,
  dropConstraint: 15,
  dropIndex: 15,
  dropTypeForRecreate: 19,
  enum: 20,
  domain: 21,
  compositeType: 22,
  sequence: 23,
  function: 24,
  enumConversion: 25,
  createTable: 30,
  alterTable: 31,
  column: 32,
  dropColumn: 33,
  dropTable: 34,
  ownedBy: 35,
  attachPartition: 36,
  addConstraint: 40,
  createIndex: 41,
  addForeignKey: 42,
  lateFunction: 45,
  createView: 50,
  viewChild: 51,
  createTrigger: 55,
  policy: 56,
  comment: 60,
  dropFunction: 70,
  dropType: 71,
  dropSequence: 72,
  dropExtension: 75,
  concurrentCreate: 90,
  concurrentComment: 91,
} as const;

interface Step {
  readonly sql: string;
  readonly subject: string;
  readonly rank: number;
  readonly markers: StatementMarker[];
  readonly transactional: boolean;
  readonly provides: string[];
  readonly after: string[];
  readonly before: string[];
}

interface DirectionContext {
  readonly direction: 'up' | 'down';
  readonly renames: readonly Rename[];
  readonly noRenames: boolean;
  readonly allowDataLoss: boolean;
  readonly concurrently: boolean;
  readonly fromFacts: DependencyFacts | undefined;
  readonly toFacts: DependencyFacts | undefined;
  readonly serverMajor: number | undefined;
  /** Name parts of `from`'s indexes that were built under other column names (see BuiltNameParts). */
  readonly builtNameParts: BuiltNameParts;
}

interface DirectionPlan {
  /** See survivingNameParts. */
  readonly survivors: BuiltNameParts;
  readonly statements: PlannedStatement[];
  readonly refusals: PlanRefusal[];
  readonly decisions: PlanDecision[];
  readonly notes: string[];
}

function planDirection(from: SchemaModel, to: SchemaModel, ctx: DirectionContext): DirectionPlan {
  const refusals: PlanRefusal[] = [];
  const decisions: PlanDecision[] = [];
  const built: BuiltNameParts = new Map(ctx.builtNameParts);
  const renamed = applyRenames(from, to, ctx, refusals, decisions, built);
  const renameRefusals = [...refusals];
  const renameDecisions = [...decisions];
  const predicted = predictChildColumns(renamed.model, to);
  const sequenceRenames = renameOwnedSequences(predicted, to);
  const fromModel = withoutClonedItems(sequenceRenames.model);
  const toModel = withoutClonedItems(to);

  let planner = new DirectionPlanner(fromModel, toModel, ctx, refusals, decisions, built, new Set());
  if (ctx.direction === 'up') planner.checkRenameCandidates();
  planner.planAll();
  if (planner.enumsToRecreate.size > 0) {
    // New labels used in the same transaction: recreate those enums instead (the refusals of the first try are dropped).
    refusals.splice(0, refusals.length, ...renameRefusals);
    decisions.splice(0, decisions.length, ...renameDecisions);
    planner = new DirectionPlanner(fromModel, toModel, ctx, refusals, decisions, built, planner.enumsToRecreate);
    if (ctx.direction === 'up') planner.checkRenameCandidates();
    planner.planAll();
  }
  // Kinds and fields the model reads but the planner does not write yet: refused by name rather than left out.
  for (const unplanned of findUnplannedChanges(diffSchemaModels(fromModel, toModel))) {
    refusals.push({ reason: 'unsupported', direction: ctx.direction, subject: unplanned.subject, message: `${unplanned.subject}: ${unplanned.detail}` });
  }
  const ordered = orderSteps([...renamed.steps, ...sequenceRenames.steps, ...planner.steps]);
  const notes = [...planner.notes];
  if (ordered.cycle.length > 0) {
    notes.push(`a dependency cycle was broken by phase order at: ${ordered.cycle.map((s) => s.subject).join(', ')}`);
  }
  return {
    statements: ordered.steps.map((s) => ({ sql: s.sql, subject: s.subject, markers: s.markers, transactional: s.transactional })),
    refusals,
    decisions,
    notes,
    survivors: survivingNameParts(fromModel, toModel, built, planner.renamedPairs),
  };
}

/**
 * The name parts of the desired side's constraints and indexes that up
 * keeps rather than builds: after up, they still carry the column names
 * they were built with, which the down must name them by.
 */
function survivingNameParts(from: SchemaModel, to: SchemaModel, built: BuiltNameParts, renamedPairs: ReadonlyMap<ConstraintModel | IndexModel, ConstraintModel | IndexModel>): BuiltNameParts {
  const survivors: BuiltNameParts = new Map();
  for (const [current, wanted] of renamedPairs) {
    const parts = built.get(current);
    if (parts !== undefined) survivors.set(wanted, parts);
  }
  for (const table of from.tables) {
    const target = to.tables.find((t) => t.name === table.name);
    if (target === undefined) continue;
    for (const item of [...table.constraints, ...table.indexes]) {
      const parts = built.get(item);
      if (parts === undefined) continue;
      const targets: readonly (ConstraintModel | IndexModel)[] = isIndexDefinition(item) ? target.indexes : target.constraints;
      const same = targets.find((t) => keyOfNamedDefinition(t) === keyOfNamedDefinition(item));
      if (same !== undefined) survivors.set(same, parts);
    }
  }
  return survivors;
}

function makeStep(
  rank: number,
  subject: string,
  sql: string,
  extra: Partial<Pick<Step, 'markers' | 'provides' | 'after' | 'before' | 'transactional'>> = {},
): Step {
  return {
    sql,
    subject,
    rank,
    markers: extra.markers ?? [],
    transactional: extra.transactional ?? true,
    provides: extra.provides ?? [],
    after: extra.after ?? [],
    before: extra.before ?? [],
  };
}

// --- Printable subjects ----------------------------------------------------------

function dq(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
const tableSubject = (t: string): string => `table ${dq(t)}`;
const columnSubject = (t: string, c: string): string => `column ${dq(t)}.${dq(c)}`;
const constraintSubject = (t: string, c: ConstraintModel): string =>
  c.name === undefined ? `constraint ${dq(t)} ${c.definition}` : `constraint ${dq(t)}.${dq(c.name)}`;
const indexSubject = (t: string, i: IndexModel): string => (i.name === undefined ? `index ${i.definition}` : `index ${dq(t)}.${dq(i.name)}`);
const functionSubject = (f: FunctionModel): string => `${f.kind} ${dq(f.name)}(${f.arguments})`;
const viewSubject = (v: ViewModel): string => `${v.materialized ? 'materialized view' : 'view'} ${dq(v.name)}`;

function comment(text: string | undefined): string {
  return text === undefined ? 'NULL' : quoteLiteral(text);
}

/** `fillfactor=70` as a storage parameter: the value quoted unless it is a plain word or number. */
function formatOption(option: string): string {
  const at = option.indexOf('=');
  if (at < 0) return option;
  const value = option.slice(at + 1);
  return `${option.slice(0, at)}=${/^[A-Za-z0-9_.]+$/.test(value) ? value : quoteLiteral(value)}`;
}

function optionKey(option: string): string {
  const at = option.indexOf('=');
  return at < 0 ? option : option.slice(0, at);
}

function stripTrailingSemicolon(definition: string): string {
  return definition.replace(/;\s*$/, '');
}

// --- Names of constraints and indexes --------------------------------------------------

/**
 * The name parts of constraints and indexes whose index was built before a
 * RENAME COLUMN rewrote their definition: an index keeps the column names
 * it was built with (its pg_attribute rows), and the catalog reader judges a
 * name generated by those (src/schema/catalog.ts `generatedNamePattern`).
 */
type BuiltNameParts = Map<ConstraintModel | IndexModel, GeneratedNameParts>;

function isIndexDefinition(item: ConstraintModel | IndexModel): boolean {
  return item.definition.startsWith('CREATE ');
}

function namePartsOf(table: TableModel, item: ConstraintModel | IndexModel, built: BuiltNameParts): GeneratedNameParts | undefined {
  return built.get(item) ?? (isIndexDefinition(item) ? indexNameParts(item) : constraintNameParts(table, item));
}

/** The name the object has: its explicit one, else the one PostgreSQL generated; undefined when that cannot be told. */
function actualNameOf(table: TableModel, item: ConstraintModel | IndexModel, built: BuiltNameParts): string | undefined {
  if (item.name !== undefined) return item.name;
  const parts = namePartsOf(table, item, built);
  return parts === undefined ? undefined : nameFromParts(table.name, parts);
}

// --- Renames ------------------------------------------------------------------------

interface RenameResult {
  readonly model: SchemaModel;
  readonly steps: Step[];
}

/**
 * Applies the caller's renames to `from`, as PostgreSQL's RENAME would: the
 * definitions that PostgreSQL deparses afresh name the new name, and a
 * constraint or index whose name PostgreSQL generated keeps it, so it gets
 * that old name explicitly (the plan then renames it, see
 * `planNameOnlyChanges`).
 */
function applyRenames(
  from: SchemaModel,
  to: SchemaModel,
  ctx: DirectionContext,
  refusals: PlanRefusal[],
  decisions: PlanDecision[],
  built: BuiltNameParts,
): RenameResult {
  let model = from;
  const steps: Step[] = [];
  const refuse = (rename: Rename, why: string): void =>
    void refusals.push({
      reason: 'unknown-rename',
      direction: ctx.direction,
      subject: formatRename(rename),
      message: `rename ${formatRename(rename)}: ${why}`,
      hint: 'name a table or column of the current schema and its name in the desired schema',
    });
  const tableRenames = ctx.renames.filter((r): r is Extract<Rename, { kind: 'table' }> => r.kind === 'table');
  for (const rename of tableRenames) {
    const table = model.tables.find((t) => t.name === rename.from);
    if (table === undefined) refuse(rename, `the current schema has no table ${dq(rename.from)}`);
    else if (!to.tables.some((t) => t.name === rename.to)) refuse(rename, `the desired schema has no table ${dq(rename.to)}`);
    else if (model.tables.some((t) => t.name === rename.to) || model.views.some((v) => v.name === rename.to)) {
      refuse(rename, `the current schema already has a relation ${dq(rename.to)}`);
    } else {
      model = renameTableInModel(model, rename.from, rename.to, built);
      steps.push(
        makeStep(RANK.rename, tableSubject(rename.from), `ALTER TABLE ${q(rename.from)} RENAME TO ${q(rename.to)}`, {
          markers: [lockMarker(rename.from)],
        }),
      );
      if (ctx.direction === 'up') decisions.push({ kind: 'rename', subject: tableSubject(rename.from), detail: `renamed to ${dq(rename.to)}` });
    }
  }
  for (const rename of ctx.renames) {
    if (rename.kind !== 'column') continue;
    const tableName = model.tables.some((t) => t.name === rename.table)
      ? rename.table
      : (tableRenames.find((t) => t.from === rename.table)?.to ?? rename.table);
    const table = model.tables.find((t) => t.name === tableName);
    const target = to.tables.find((t) => t.name === tableName);
    if (table === undefined || target === undefined) {
      refuse(rename, `no table ${dq(rename.table)} in both schemas`);
    } else if (!table.columns.some((c) => c.name === rename.from)) {
      refuse(rename, `the current table ${dq(tableName)} has no column ${dq(rename.from)}`);
    } else if (!target.columns.some((c) => c.name === rename.to)) {
      refuse(rename, `the desired table ${dq(tableName)} has no column ${dq(rename.to)}`);
    } else if (table.columns.some((c) => c.name === rename.to)) {
      refuse(rename, `the current table ${dq(tableName)} already has a column ${dq(rename.to)}`);
    } else if (table.partitionOf !== undefined || (table.inherits ?? []).some((p) => model.tables.find((t) => t.name === p)?.columns.some((c) => c.name === rename.from))) {
      refuse(rename, `${dq(rename.from)} is inherited: rename it on the parent table`);
    } else {
      model = renameColumnInModel(model, tableName, rename.from, rename.to, built);
      steps.push(
        makeStep(
          RANK.rename + 0.5,
          columnSubject(tableName, rename.from),
          `ALTER TABLE ${q(tableName)} RENAME COLUMN ${q(rename.from)} TO ${q(rename.to)}`,
          { markers: [lockMarker(tableName)] },
        ),
      );
      if (ctx.direction === 'up') {
        decisions.push({ kind: 'rename', subject: columnSubject(tableName, rename.from), detail: `renamed to ${dq(rename.to)}` });
      }
    }
  }
  return { model, steps };
}

function lockMarker(table: string, lock = 'ACCESS EXCLUSIVE'): StatementMarker {
  return { kind: 'lock', detail: `${lock} on ${dq(table)} until the transaction ends` };
}

/** Tables that inherit from `name` (partitions and INHERITS children), transitively. */
function descendantsOf(model: SchemaModel, name: string): string[] {
  const result: string[] = [];
  const visit = (parent: string): void => {
    for (const t of model.tables) {
      if ((t.partitionOf === parent || (t.inherits ?? []).includes(parent)) && !result.includes(t.name)) {
        result.push(t.name);
        visit(t.name);
      }
    }
  };
  visit(name);
  return result;
}

/**
 * Pairs each constraint and index of a renamed table with what it was, and
 * gives an unnamed one the name it had when that is no longer the name
 * PostgreSQL would generate.
 */
function keepGeneratedNames(before: TableModel, after: TableModel, built: BuiltNameParts): TableModel {
  const keep = <T extends ConstraintModel | IndexModel>(was: T, now: T): T => {
    const parts = built.get(was);
    if (parts !== undefined && !built.has(now)) built.set(now, parts);
    if (now.name !== undefined) return now;
    const oldName = actualNameOf(before, was, built);
    const newName = actualNameOf(after, now, built);
    if (oldName === undefined || oldName === newName) return now;
    const named = { ...now, name: oldName };
    if (parts !== undefined) built.set(named, parts);
    return named;
  };
  return {
    ...after,
    constraints: after.constraints.map((c, i) => keep(before.constraints[i]!, c)),
    indexes: after.indexes.map((index, i) => keep(before.indexes[i]!, index)),
  };
}

function renameTableInModel(model: SchemaModel, from: string, to: string, built: BuiltNameParts): SchemaModel {
  const rename = (text: string): string => renameIdentifier(text, from, to);
  const renameType = (type: string): string => rename(type);
  const tables = model.tables.map((table) => {
    const isTarget = table.name === from;
    const renamedTable: TableModel = {
      ...table,
      name: isTarget ? to : table.name,
      ...(table.partitionOf === from ? { partitionOf: to } : {}),
      ...(table.inherits?.includes(from) ? { inherits: table.inherits.map((p) => (p === from ? to : p)) } : {}),
      columns: table.columns.map((c) => ({ ...c, type: renameType(c.type) })),
      constraints: table.constraints.map((c) =>
        constraintTypeOf(c.definition) === 'foreign key' && referencedTableOf(c.definition) === from ? { ...c, definition: rename(c.definition) } : c,
      ),
      indexes: isTarget ? table.indexes.map((i) => ({ ...i, definition: rename(i.definition) })) : table.indexes,
      triggers: isTarget ? table.triggers.map((t) => ({ ...t, definition: renameTriggerTable(t.definition, from, to) })) : table.triggers,
    };
    return isTarget ? keepGeneratedNames(table, renamedTable, built) : renamedTable;
  });
  return {
    ...model,
    tables,
    views: model.views.map((v) => ({ ...v, definition: rename(v.definition) })),
    sequences: model.sequences.map((s) => {
      const owner = s.ownedBy === undefined ? undefined : ownedByParts(s.ownedBy);
      return owner?.table === from ? { ...s, ownedBy: `${q(to)}.${q(owner.column)}` } : s;
    }),
    compositeTypes: model.compositeTypes.map((c) => ({ ...c, attributes: c.attributes.map((a) => ({ ...a, type: renameType(a.type) })) })),
    functions: model.functions.map((f) => renameInFunctionHeader(f, from, to)),
  };
}

/** A function's arguments and header name types by their current name (a table's row type among them). */
function renameInFunctionHeader(fn: FunctionModel, from: string, to: string): FunctionModel {
  const bodyAt = hasSqlStandardBody(fn.definition) ? fn.definition.length : fn.definition.search(/\nAS /);
  const header = fn.definition.slice(0, bodyAt);
  const renamedHeader = renameIdentifier(header, from, to);
  // The function's own name in the header is not a reference.
  const nameFixed = fn.name === from ? header.slice(0, header.indexOf('(')) + renamedHeader.slice(renamedHeader.indexOf('(')) : renamedHeader;
  return {
    ...fn,
    arguments: renameIdentifier(fn.arguments, from, to),
    definition: nameFixed + fn.definition.slice(bodyAt),
  };
}

/** `CREATE TRIGGER name ... ON table ...`: the table after the trigger's name. */
function renameTriggerTable(definition: string, from: string, to: string): string {
  const on = ` ON ${q(from)} `;
  const at = definition.indexOf(on);
  return at < 0 ? definition : `${definition.slice(0, at)} ON ${q(to)} ${definition.slice(at + on.length)}`;
}

function renameColumnInModel(model: SchemaModel, tableName: string, from: string, to: string, built: BuiltNameParts): SchemaModel {
  const affected = new Set([tableName, ...descendantsOf(model, tableName)]);
  const rename = (text: string): string => renameIdentifier(text, from, to);
  const tables = model.tables.map((table) => {
    if (!affected.has(table.name)) {
      // Foreign keys elsewhere that reference the column: REFERENCES t(col).
      return {
        ...table,
        constraints: table.constraints.map((c) => {
          if (constraintTypeOf(c.definition) !== 'foreign key' || referencedTableOf(c.definition) !== tableName) return c;
          const at = c.definition.indexOf(' REFERENCES ');
          const group = parenthesisedGroup(c.definition, at);
          if (group === undefined) return c;
          return {
            ...c,
            definition: `${c.definition.slice(0, group.start)}(${rename(group.inner)})${c.definition.slice(group.end)}`,
          };
        }),
      };
    }
    const renamedTable: TableModel = {
      ...table,
      columns: table.columns.map((c) => ({
        ...c,
        name: c.name === from ? to : c.name,
        ...(c.generated === undefined ? {} : { generated: rename(c.generated) }),
      })),
      constraints: table.constraints.map((c) => {
        const renamed = renameOwnColumnInConstraint(c, tableName, from, to);
        if (isIndexBackedConstraint(c)) keepBuiltParts(table, c, renamed, built);
        return renamed;
      }),
      indexes: table.indexes.map((i) => {
        const renamed = { ...i, definition: rename(i.definition) };
        keepBuiltParts(table, i, renamed, built);
        return renamed;
      }),
      triggers: table.triggers.map((t) => ({ ...t, definition: rename(t.definition) })),
      policies: table.policies.map((p) => ({
        ...p,
        ...(p.using === undefined ? {} : { using: rename(p.using) }),
        ...(p.withCheck === undefined ? {} : { withCheck: rename(p.withCheck) }),
      })),
    };
    return keepGeneratedNames(table, renamedTable, built);
  });
  return {
    ...model,
    tables,
    sequences: model.sequences.map((s) => {
      const owner = s.ownedBy === undefined ? undefined : ownedByParts(s.ownedBy);
      return owner !== undefined && affected.has(owner.table) && owner.column === from ? { ...s, ownedBy: `${q(owner.table)}.${q(to)}` } : s;
    }),
  };
}

/** Records the name parts an index was built with before its definition is rewritten. */
function keepBuiltParts(table: TableModel, was: ConstraintModel | IndexModel, now: ConstraintModel | IndexModel, built: BuiltNameParts): void {
  const parts = namePartsOf(table, was, built);
  if (parts !== undefined) built.set(now, parts);
}

/** A constraint of the renamed column's own table: its own columns renamed; a self-reference's too. */
function renameOwnColumnInConstraint(c: ConstraintModel, table: string, from: string, to: string): ConstraintModel {
  if (constraintTypeOf(c.definition) !== 'foreign key') return { ...c, definition: renameIdentifier(c.definition, from, to) };
  const at = c.definition.indexOf(' REFERENCES ');
  const own = renameIdentifier(c.definition.slice(0, at), from, to);
  const rest = c.definition.slice(at);
  if (referencedTableOf(c.definition) !== table) return { ...c, definition: own + rest };
  const group = parenthesisedGroup(rest);
  if (group === undefined) return { ...c, definition: own + rest };
  return { ...c, definition: `${own}${rest.slice(0, group.start)}(${renameIdentifier(group.inner, from, to)})${rest.slice(group.end)}` };
}

/**
 * A sequence owned by a column keeps its name when its table or column is
 * renamed; the desired schema has the name PostgreSQL would give it now.
 * Pairs such sequences (same owner, same options) and renames them, so
 * the owner's default follows (nextval('seq'::regclass) prints the new name).
 */
function renameOwnedSequences(model: SchemaModel, to: SchemaModel): RenameResult {
  const steps: Step[] = [];
  const fromNames = new Set(model.sequences.map((s) => s.name));
  const toNames = new Set(to.sequences.map((s) => s.name));
  let sequences = [...model.sequences];
  let tables = model.tables;
  for (const wanted of to.sequences.filter((s) => !fromNames.has(s.name) && s.ownedBy !== undefined)) {
    const { name: _wantedName, ...wantedRest } = wanted;
    const match = sequences.find((s) => {
      if (toNames.has(s.name) || s.ownedBy !== wanted.ownedBy) return false;
      const { name: _name, ...rest } = s;
      return JSON.stringify(sortKeys(rest)) === JSON.stringify(sortKeys(wantedRest));
    });
    if (match === undefined) continue;
    sequences = sequences.map((s) => (s === match ? { ...s, name: wanted.name } : s));
    const oldLiteral = `${quoteLiteral(q(match.name))}::regclass`;
    const newLiteral = `${quoteLiteral(q(wanted.name))}::regclass`;
    tables = tables.map((t) => ({
      ...t,
      columns: t.columns.map((c) => (c.default?.includes(oldLiteral) ? { ...c, default: c.default.split(oldLiteral).join(newLiteral) } : c)),
    }));
    steps.push(makeStep(RANK.renameChild, `sequence ${dq(match.name)}`, `ALTER SEQUENCE ${q(match.name)} RENAME TO ${q(wanted.name)}`));
  }
  return { model: { ...model, tables, sequences }, steps };
}

function sortKeys(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).sort(([a], [b]) => compareCodeUnits(a, b)));
}

// --- Inheritance -----------------------------------------------------------------------

/** Column fields a parent's ALTER TABLE passes on to partitions and inheritance children. */
const RECURSING_COLUMN_FIELDS = ['type', 'notNull', 'default', 'collation', 'generated'] as const;

function parentsOf(table: TableModel): string[] {
  return table.partitionOf !== undefined ? [table.partitionOf] : [...(table.inherits ?? [])];
}

/**
 * What a child table of `model` will look like once its parents are changed
 * into their `to` shape: PostgreSQL adds, drops and alters the inherited
 * columns of every child along with the parent's (ALTER TABLE recurses).
 */
function predictChildColumns(model: SchemaModel, to: SchemaModel): SchemaModel {
  const fromByName = new Map(model.tables.map((t) => [t.name, t]));
  const toByName = new Map(to.tables.map((t) => [t.name, t]));
  const predicted = new Map<string, TableModel>();
  // Parents first: a grandchild follows its parent's prediction.
  const order = [...model.tables].sort((a, b) => depthOf(model, a) - depthOf(model, b));
  for (const child of order) {
    const desiredChild = toByName.get(child.name);
    const parents = parentsOf(child).filter((p) => fromByName.has(p) && toByName.has(p));
    if (desiredChild === undefined || parents.length === 0 || parentsOf(desiredChild).join() !== parentsOf(child).join()) {
      predicted.set(child.name, child);
      continue;
    }
    let columns = [...child.columns];
    for (const parentName of parents) {
      const before = predicted.get(parentName) ?? fromByName.get(parentName)!;
      const after = toByName.get(parentName)!;
      const beforeNames = new Set(before.columns.map((c) => c.name));
      const afterNames = new Set(after.columns.map((c) => c.name));
      columns = columns.filter((c) => !(beforeNames.has(c.name) && !afterNames.has(c.name)));
      columns = columns.map((c) => {
        const was = before.columns.find((p) => p.name === c.name);
        const now = after.columns.find((p) => p.name === c.name);
        if (was === undefined || now === undefined) return c;
        let next: ColumnModel = c;
        for (const field of RECURSING_COLUMN_FIELDS) {
          if (JSON.stringify(c[field]) === JSON.stringify(was[field]) && JSON.stringify(was[field]) !== JSON.stringify(now[field])) {
            next = withField(next, field, now[field]);
          }
        }
        return next;
      });
      for (const added of after.columns.filter((c) => !beforeNames.has(c.name) && !columns.some((k) => k.name === c.name))) {
        columns.push(inheritedColumn(added));
      }
    }
    predicted.set(child.name, { ...child, columns });
  }
  return { ...model, tables: model.tables.map((t) => predicted.get(t.name) ?? t) };
}

function depthOf(model: SchemaModel, table: TableModel, seen = new Set<string>()): number {
  const parents = parentsOf(table);
  if (parents.length === 0 || seen.has(table.name)) return 0;
  seen.add(table.name);
  return 1 + Math.max(...parents.map((p) => {
    const parent = model.tables.find((t) => t.name === p);
    return parent === undefined ? 0 : depthOf(model, parent, seen);
  }));
}

function withField<K extends keyof ColumnModel>(column: ColumnModel, field: K, value: ColumnModel[K] | undefined): ColumnModel {
  const next: Record<string, unknown> = { ...column };
  if (value === undefined) delete next[field];
  else next[field] = value;
  return next as unknown as ColumnModel;
}

/** What a child gets of a parent's column: everything but identity and comment. */
function inheritedColumn(column: ColumnModel): ColumnModel {
  const { identity: _identity, comment: _comment, ...rest } = column;
  return rest;
}

/**
 * The model without what PostgreSQL clones from a parent into a child: a
 * partition's copies of the parent's constraints, indexes and row triggers,
 * an inheritance child's copies of CHECK constraints. They come and go
 * with the parent's, so the plan must not make or drop them itself.
 */
function withoutClonedItems(model: SchemaModel): SchemaModel {
  const byName = new Map(model.tables.map((t) => [t.name, t]));
  return {
    ...model,
    tables: model.tables.map((table) => {
      const parents = parentsOf(table)
        .map((p) => byName.get(p))
        .filter((p): p is TableModel => p !== undefined);
      if (parents.length === 0) return table;
      const isPartition = table.partitionOf !== undefined;
      const parentConstraints = parents.flatMap((p) => p.constraints.filter((c) => isPartition || constraintTypeOf(c.definition) === 'check'));
      const parentIndexes = isPartition ? parents.flatMap((p) => p.indexes) : [];
      const parentTriggers = isPartition ? parents.flatMap((p) => p.triggers.map((t) => ({ parent: p.name, trigger: t }))) : [];
      return {
        ...table,
        constraints: removeMatches(table.constraints, parentConstraints, (c, p) => c.definition === p.definition),
        indexes: removeMatches(table.indexes, parentIndexes, (i, p) => sameIndexShape(i, p)),
        triggers: removeMatches(
          table.triggers,
          parentTriggers,
          (t, p) => t.name === p.trigger.name && t.definition === renameTriggerTable(p.trigger.definition, p.parent, table.name),
        ),
      };
    }),
  };
}

function sameIndexShape(a: IndexModel, b: IndexModel): boolean {
  const pa = indexDefinitionParts(a.definition);
  const pb = indexDefinitionParts(b.definition);
  return pa !== undefined && pb !== undefined && pa.unique === pb.unique && pa.rest === pb.rest;
}

/** `items` less one match per entry of `clones`. */
function removeMatches<T, P>(items: readonly T[], clones: readonly P[], matches: (item: T, clone: P) => boolean): T[] {
  const remaining = [...items];
  for (const clone of clones) {
    const at = remaining.findIndex((item) => matches(item, clone));
    if (at >= 0) remaining.splice(at, 1);
  }
  return remaining;
}

// --- The planner of one direction ----------------------------------------------------------

class DirectionPlanner {
  readonly steps: Step[] = [];
  readonly notes: string[] = [];
  private readonly diff: StructuredSchemaDiff;
  private readonly fromDeps: ModelDependencies;
  private readonly toDeps: ModelDependencies;
  private readonly fromTables: Map<string, TableModel>;
  private readonly toTables: Map<string, TableModel>;
  /** Views dropped and created again (changed, or something they read changes under them). */
  private readonly recreatedViews = new Set<string>();
  /** Functions dropped and created again (CREATE OR REPLACE cannot change their header). */
  private readonly recreatedFunctions = new Set<string>();
  /** `table\0trigger` of triggers dropped and created again. */
  private readonly recreatedTriggers = new Set<string>();
  /** `table\0policy` of policies dropped and created again. */
  private readonly recreatedPolicies = new Set<string>();
  /** `table\0key` of constraints and indexes dropped and created again around a type conversion. */
  private readonly recreatedTableItems = new Set<string>();
  /** `table\0column` of columns an enum recreation converts (their default is set there). */
  private readonly convertedColumns = new Set<string>();
  /** New enum labels, to refuse their use in the same transaction. */
  private readonly addedLabels: { enumName: string; label: string }[] = [];
  private functionBodiesUnchecked = false;
  /** Subjects of rename candidates the caller has not decided. */
  private readonly pendingCandidates = new Set<string>();
  /** Enums whose new labels are used in the same migration: planned again as a recreation. */
  readonly enumsToRecreate = new Set<string>();
  /** Current constraints and indexes that up renames in place, with the desired item each becomes. */
  readonly renamedPairs = new Map<ConstraintModel | IndexModel, ConstraintModel | IndexModel>();
  /** Columns the down adds back last although they stood elsewhere. */
  private readonly appendedInDown: string[] = [];

  constructor(
    private readonly from: SchemaModel,
    private readonly to: SchemaModel,
    private readonly ctx: DirectionContext,
    private readonly refusals: PlanRefusal[],
    private readonly decisions: PlanDecision[],
    private readonly built: BuiltNameParts,
    /** Enums to recreate even though labels are only added (a new label is used in the same migration). */
    private readonly forcedEnumRecreations: ReadonlySet<string>,
  ) {
    this.diff = diffSchemaModels(from, to);
    this.fromDeps = dependenciesOf(from, ctx.fromFacts);
    this.toDeps = dependenciesOf(to, ctx.toFacts);
    this.fromTables = new Map(from.tables.map((t) => [t.name, t]));
    this.toTables = new Map(to.tables.map((t) => [t.name, t]));
  }

  // --- Decisions -----------------------------------------------------------------------

  /**
   * A removed and an added column of one type in one table, or a removed
   * and an added table with the same columns, may be one object renamed: a
   * drop and an add would lose its data. Refused until the caller decides.
   */
  checkRenameCandidates(): void {
    for (const change of this.diff.tables.changed) {
      for (const removed of change.columns.removed) {
        for (const added of change.columns.added.filter((a) => a.type === removed.type)) {
          const rename: Rename = { kind: 'column', table: change.to.name, from: removed.name, to: added.name };
          this.candidate(columnSubject(change.to.name, removed.name), rename, `${removed.type} column ${dq(removed.name)} dropped and ${dq(added.name)} added`);
        }
      }
    }
    const shape = (t: TableModel): string => JSON.stringify(t.columns.map((c) => [c.name, c.type]));
    for (const removed of this.diff.tables.removed) {
      for (const added of this.diff.tables.added.filter((a) => shape(a) === shape(removed))) {
        this.candidate(tableSubject(removed.name), { kind: 'table', from: removed.name, to: added.name }, `table ${dq(removed.name)} dropped and ${dq(added.name)} added with the same columns`);
      }
    }
  }

  private candidate(subject: string, rename: Rename, why: string): void {
    const text = formatRename(rename);
    if (this.ctx.noRenames) {
      this.decisions.push({ kind: 'drop-and-add', subject, detail: `${why}: not a rename (no renames)` });
      return;
    }
    this.pendingCandidates.add(subject);
    this.refusals.push({
      reason: 'rename-candidate',
      direction: 'up',
      subject,
      message: `${why}: a rename or a drop and an add?`,
      hint: `--rename ${text} to rename, or --no-renames to drop and add`,
      rename: text,
    });
  }

  private dataLoss(subject: string, detail: string): StatementMarker {
    // An undecided rename candidate is refused as that, not twice.
    if (this.ctx.direction === 'up' && !this.pendingCandidates.has(subject)) {
      if (this.ctx.allowDataLoss) this.decisions.push({ kind: 'data-loss', subject, detail });
      else {
        this.refusals.push({
          reason: 'data-loss',
          direction: 'up',
          subject,
          message: `${subject}: ${detail}`,
          hint: '--allow-data-loss to plan it anyway',
        });
      }
    }
    return { kind: 'data-loss', detail };
  }

  private unsupported(subject: string, detail: string, hint?: string): void {
    this.refusals.push({
      reason: 'unsupported',
      direction: this.ctx.direction,
      subject,
      message: `${subject}: ${detail}`,
      ...(hint === undefined ? {} : { hint }),
    });
  }

  private add(step: Step): void {
    this.steps.push(step);
  }

  /** Markers of a statement that locks an existing table (one the plan does not create). */
  private lockIfExisting(table: string, lock = 'ACCESS EXCLUSIVE'): StatementMarker[] {
    return this.fromTables.has(table) ? [lockMarker(table, lock)] : [];
  }

  private isExistingTable(table: string): boolean {
    return this.fromTables.has(table) && this.toTables.has(table);
  }

  // --- Everything --------------------------------------------------------------------------

  planAll(): void {
    this.decideRecreations();
    this.planExtensions();
    this.planEnums();
    this.planDomains();
    this.planCompositeTypes();
    this.planSequences();
    this.planFunctions();
    this.planTables();
    this.planViews();
    this.refuseNewLabelsInUse();
    if (this.appendedInDown.length > 0) {
      this.notes.push(`down adds ${this.appendedInDown.join(', ')} back as the last column${this.appendedInDown.length > 1 ? 's' : ''}: ALTER TABLE cannot put a column back where it stood`);
    }
    if (this.functionBodiesUnchecked) {
      // pg_dump does the same: a function may name a table created after it.
      this.add(makeStep(RANK.settings, 'setting check_function_bodies', 'SET LOCAL check_function_bodies = off'));
    }
    const ordersViews = this.steps.some((s) => s.subject.startsWith('view ') || s.subject.startsWith('materialized view '));
    if (ordersViews && !(this.fromDeps.exact && this.toDeps.exact)) {
      this.notes.push('views and functions are ordered by the names their definitions mention (no pg_depend facts were given)');
    }
  }

  /** Which views, functions, triggers and policies must be dropped and created again. */
  private decideRecreations(): void {
    for (const change of this.diff.functions.changed) {
      if (change.fields.includes('definition') || change.fields.includes('kind')) {
        const a = functionHeaderOf(change.from.definition);
        const b = functionHeaderOf(change.to.definition);
        if (change.from.kind !== change.to.kind || a.parameters !== b.parameters || a.returns !== b.returns) {
          this.recreatedFunctions.add(formatFunctionSignature(change.from));
        }
      }
    }
    for (const change of this.diff.views.changed) {
      if (change.fields.includes('definition') || change.fields.includes('materialized')) this.recreatedViews.add(change.from.name);
    }
    // Columns whose type changes: views reading them must go (PostgreSQL
    // refuses ALTER COLUMN TYPE under a view), and so must triggers and
    // policies that name them.
    for (const change of this.diff.tables.changed) {
      for (const column of change.columns.changed) {
        if (!column.fields.includes('type') && !column.fields.includes('collation')) continue;
        this.recreateReadersOfColumn(change.from, column.from.name);
      }
    }
    // Recreated functions: the views and triggers that use them too.
    for (const signature of this.recreatedFunctions) {
      const name = signature.slice(0, signature.indexOf('('));
      for (const view of this.from.views) if (this.fromDeps.viewUses(view).has(functionRef(name))) this.recreatedViews.add(view.name);
      for (const table of this.from.tables) {
        for (const trigger of table.triggers) if (triggerFunctionOf(trigger.definition) === name) this.recreatedTriggers.add(`${table.name}\0${trigger.name}`);
      }
    }
    this.closeViewRecreations();
  }

  private recreateReadersOfColumn(table: TableModel, column: string): void {
    for (const view of this.fromDeps.viewsReading(table.name, column)) this.recreatedViews.add(view);
    for (const name of [table.name, ...descendantsOf(this.from, table.name)]) {
      const t = this.fromTables.get(name);
      if (t === undefined) continue;
      for (const trigger of t.triggers) if (identifiersIn(trigger.definition).has(column)) this.recreatedTriggers.add(`${t.name}\0${trigger.name}`);
      for (const policy of t.policies) {
        if (identifiersIn(`${policy.using ?? ''} ${policy.withCheck ?? ''}`).has(column)) this.recreatedPolicies.add(`${t.name}\0${policy.name}`);
      }
    }
  }

  /** Views that read a view that goes (dropped or recreated) go too, and come back if wanted. */
  private closeViewRecreations(): void {
    const removed = new Set(this.diff.views.removed.map((v) => v.name));
    const removedTables = new Set(this.diff.tables.removed.map((t) => t.name));
    const wanted = new Set(this.to.views.map((v) => v.name));
    let grew = true;
    while (grew) {
      grew = false;
      for (const view of this.from.views) {
        if (this.recreatedViews.has(view.name) || removed.has(view.name) || !wanted.has(view.name)) continue;
        const uses = this.fromDeps.viewUses(view);
        const gone = [...this.recreatedViews, ...removed, ...removedTables].some((name) => uses.has(relationRef(name)));
        if (gone) {
          this.recreatedViews.add(view.name);
          grew = true;
        }
      }
    }
  }

  // --- Extensions ------------------------------------------------------------------------

  private planExtensions(): void {
    for (const { name } of this.diff.extensions.added) {
      this.add(makeStep(RANK.createExtension, `extension ${dq(name)}`, `CREATE EXTENSION IF NOT EXISTS ${q(name)}`, { provides: [`+ext:${name}`] }));
    }
    for (const { name } of this.diff.extensions.removed) {
      const subject = `extension ${dq(name)}`;
      this.add(
        makeStep(RANK.dropExtension, subject, `DROP EXTENSION ${q(name)}`, {
          markers: [this.dataLoss(subject, 'drops the extension and every object it installed')],
        }),
      );
    }
  }

  // --- Enums -------------------------------------------------------------------------------

  private planEnums(): void {
    for (const e of this.diff.enums.added) this.createEnum(e);
    for (const e of this.diff.enums.removed) {
      this.add(makeStep(RANK.dropType, `enum ${dq(e.name)}`, `DROP TYPE ${q(e.name)}`, { provides: [`-${typeRef(e.name)}`] }));
    }
    for (const change of this.diff.enums.changed) {
      if (change.fields.includes('labels')) this.changeEnumLabels(change.from, change.to);
      if (change.fields.includes('comment')) this.commentOn(`enum ${dq(change.to.name)}`, `TYPE ${q(change.to.name)}`, change.to.comment);
    }
  }

  private createEnum(e: EnumModel): void {
    this.add(
      makeStep(RANK.enum, `enum ${dq(e.name)}`, `CREATE TYPE ${q(e.name)} AS ENUM (${e.labels.map(quoteLiteral).join(', ')})`, {
        provides: [`+${typeRef(e.name)}`],
      }),
    );
    if (e.comment !== undefined) this.commentOn(`enum ${dq(e.name)}`, `TYPE ${q(e.name)}`, e.comment);
  }

  private changeEnumLabels(from: EnumModel, to: EnumModel): void {
    const kept = to.labels.filter((l) => from.labels.includes(l));
    const keptInOrder = from.labels.filter((l) => to.labels.includes(l));
    const removed = from.labels.filter((l) => !to.labels.includes(l));
    if (removed.length === 0 && kept.join('\0') === keptInOrder.join('\0') && !this.forcedEnumRecreations.has(to.name)) {
      // Only additions: ALTER TYPE ... ADD VALUE, each before the next old label.
      to.labels.forEach((label, i) => {
        if (from.labels.includes(label)) return;
        const next = to.labels.slice(i + 1).find((l) => from.labels.includes(l));
        const position = next === undefined ? '' : ` BEFORE ${quoteLiteral(next)}`;
        this.addedLabels.push({ enumName: to.name, label });
        this.add(
          makeStep(RANK.enum, `enum ${dq(to.name)}`, `ALTER TYPE ${q(to.name)} ADD VALUE ${quoteLiteral(label)}${position}`, {
            provides: [`+${typeRef(to.name)}`],
          }),
        );
      });
      return;
    }
    this.recreateEnum(from, to, removed);
  }

  /**
   * Removing or reordering labels: a new type under the old name, every
   * column converted through text, the old type dropped. Defaults,
   * constraints, indexes, policies and views that spell the old type are
   * taken off around the conversion and put back.
   */
  private recreateEnum(from: EnumModel, to: EnumModel, removed: readonly string[]): void {
    const subject = `enum ${dq(to.name)}`;
    const typeName = q(to.name);
    const users = this.typeUsers(to.name);
    if (users.length > 0) {
      this.unsupported(subject, `removing or reordering its values needs the type recreated, and ${users.join(', ')} use it`, 'change those objects in a migration of their own');
      return;
    }
    const oldName = this.freeName(`${to.name}_old`);
    const loss = removed.length > 0
      ? [this.dataLoss(subject, `removes value${removed.length > 1 ? 's' : ''} ${removed.map(quoteLiteral).join(', ')}; a row holding one makes the conversion fail`)]
      : [];
    this.add(makeStep(RANK.enum, subject, `ALTER TYPE ${typeName} RENAME TO ${q(oldName)}`, { markers: [...loss] }));
    this.add(
      makeStep(RANK.enum + 0.1, subject, `CREATE TYPE ${typeName} AS ENUM (${to.labels.map(quoteLiteral).join(', ')})`, {
        provides: [`+${typeRef(to.name)}`],
      }),
    );
    for (const table of this.from.tables) {
      const target = this.toTables.get(table.name);
      if (target === undefined) continue;
      const inherited = new Set(parentsOf(table).flatMap((p) => this.fromTables.get(p)?.columns.map((c) => c.name) ?? []));
      for (const column of table.columns) {
        const parsed = parseTypeName(column.type);
        const wanted = target.columns.find((c) => c.name === column.name);
        if (parsed.name !== typeName || wanted === undefined || wanted.type !== column.type || inherited.has(column.name)) continue;
        this.convertEnumColumn(table, column, wanted, parsed.arrayDepth);
      }
    }
    this.add(makeStep(RANK.dropType, subject, `DROP TYPE ${q(oldName)}`));
  }

  private convertEnumColumn(table: TableModel, column: ColumnModel, wanted: ColumnModel, arrayDepth: number): void {
    const subject = columnSubject(table.name, column.name);
    const t = q(table.name);
    const c = q(column.name);
    const dims = '[]'.repeat(arrayDepth);
    const spelled = `::${parseTypeName(column.type).name}`;
    this.convertedColumns.add(`${table.name}\0${column.name}`);
    if (column.default !== undefined) {
      this.add(makeStep(RANK.enumConversion, subject, `ALTER TABLE ${t} ALTER COLUMN ${c} DROP DEFAULT`, { markers: this.lockIfExisting(table.name) }));
    }
    this.add(
      makeStep(RANK.enumConversion + 0.1, subject, `ALTER TABLE ${t} ALTER COLUMN ${c} TYPE ${column.type} USING ${c}::text${dims}::${column.type}`, {
        markers: [{ kind: 'rewrite', detail: `rewrites ${dq(table.name)} to convert the column to the new type` }, ...this.lockIfExisting(table.name)],
        after: [`+${typeRef(parseTypeName(column.type).name)}`],
      }),
    );
    if (wanted.default !== undefined) {
      this.add(
        makeStep(RANK.enumConversion + 0.2, subject, `ALTER TABLE ${t} ALTER COLUMN ${c} SET DEFAULT ${wanted.default}`, {
          markers: this.lockIfExisting(table.name),
        }),
      );
    }
    // What PostgreSQL rebuilds from its text after ALTER TYPE would now
    // spell the renamed old type: take it off and put it back.
    for (const constraint of table.constraints) {
      if (constraint.definition.includes(spelled)) this.recreatedTableItems.add(`${table.name}\0c:${constraint.name ?? constraint.definition}`);
    }
    for (const index of table.indexes) {
      if (index.definition.includes(spelled)) this.recreatedTableItems.add(`${table.name}\0i:${index.name ?? index.definition}`);
    }
    for (const policy of table.policies) {
      if (`${policy.using ?? ''}${policy.withCheck ?? ''}`.includes(spelled)) this.recreatedPolicies.add(`${table.name}\0${policy.name}`);
    }
    this.recreateReadersOfColumn(table, column.name);
    this.closeViewRecreations();
  }

  /** Domains, composite types and functions whose definitions name the type. */
  private typeUsers(typeName: string): string[] {
    const uses = (text: string): boolean => identifiersIn(text).has(typeName);
    return [
      ...this.from.domains.filter((d) => uses(d.baseType)).map((d) => `domain ${dq(d.name)}`),
      ...this.from.compositeTypes.filter((c) => c.attributes.some((a) => uses(a.type))).map((c) => `composite type ${dq(c.name)}`),
      ...this.from.functions
        .filter((f) => {
          const header = functionHeaderOf(f.definition);
          return uses(`${header.parameters} ${header.returns}`);
        })
        .map(functionSubject),
    ];
  }

  /** Columns of the current schema whose type is `typeName` (or an array of it). */
  private columnsOfType(typeName: string): string[] {
    return this.from.tables.flatMap((t) =>
      t.columns.filter((c) => parseTypeName(c.type).name === q(typeName)).map((c) => columnSubject(t.name, c.name)),
    );
  }

  private freeName(base: string): string {
    const taken = new Set([
      ...[this.from, this.to].flatMap((m) => [...m.enums, ...m.domains, ...m.compositeTypes, ...m.tables, ...m.views, ...m.sequences].map((o) => o.name)),
    ]);
    let name = base;
    for (let i = 1; taken.has(name); i++) name = `${base}${i}`;
    return name;
  }

  /** New enum labels cannot be used in the transaction that adds them (PostgreSQL: "unsafe use of new value"). */
  private refuseNewLabelsInUse(): void {
    for (const { enumName, label } of this.addedLabels) {
      const spelled = `${quoteLiteral(label)}::${q(enumName)}`;
      const users = this.steps.filter((s) => s.sql.includes(spelled) && !s.sql.startsWith('ALTER TYPE'));
      if (users.length === 0) continue;
      if (this.typeUsers(enumName).length === 0) {
        this.enumsToRecreate.add(enumName);
        continue;
      }
      this.unsupported(
        `enum ${dq(enumName)}`,
        `the new value ${quoteLiteral(label)} is used by ${[...new Set(users.map((s) => s.subject))].join(', ')} in the same migration, and PostgreSQL cannot use a value in the transaction that adds it`,
        'add the value in a migration of its own first',
      );
    }
  }

  // --- Domains ---------------------------------------------------------------------------------

  private planDomains(): void {
    for (const d of this.diff.domains.added) this.createDomain(d);
    for (const d of this.diff.domains.removed) {
      this.add(
        makeStep(RANK.dropType, `domain ${dq(d.name)}`, `DROP DOMAIN ${q(d.name)}`, {
          provides: [`-${typeRef(d.name)}`],
          before: [...this.fromDeps.textUses(d.baseType)].filter((r) => r.startsWith('type:')).map((r) => `-${r}`),
        }),
      );
    }
    for (const change of this.diff.domains.changed) this.changeDomain(change);
  }

  private createDomain(d: DomainModel): void {
    const subject = `domain ${dq(d.name)}`;
    const parts = [`CREATE DOMAIN ${q(d.name)} AS ${d.baseType}`];
    if (d.collation !== undefined) parts.push(`COLLATE ${d.collation}`);
    if (d.default !== undefined) parts.push(`DEFAULT ${d.default}`);
    if (d.notNull) parts.push('NOT NULL');
    for (const check of d.checks) parts.push(`${check.name === undefined ? '' : `CONSTRAINT ${q(check.name)} `}${check.definition}`);
    const uses = [...this.toDeps.textUses(`${d.baseType} ${d.checks.map((c) => c.definition).join(' ')} ${d.default ?? ''}`)];
    this.add(makeStep(RANK.domain, subject, parts.join(' '), { provides: [`+${typeRef(d.name)}`], after: uses.map((r) => `+${r}`) }));
    if (d.comment !== undefined) this.commentOn(subject, `DOMAIN ${q(d.name)}`, d.comment);
    let unnamed = 0;
    for (const check of d.checks) {
      // CREATE DOMAIN names unnamed checks <domain>_check, _check1, ... in order.
      const name = check.name ?? makeObjectName(d.name, undefined, unnamed++ === 0 ? 'check' : `check${unnamed - 1}`);
      if (check.comment !== undefined) this.commentOn(subject, `CONSTRAINT ${q(name)} ON DOMAIN ${q(d.name)}`, check.comment);
    }
  }

  private changeDomain(change: DomainChange): void {
    const { from, to } = change;
    const subject = `domain ${dq(to.name)}`;
    const domain = q(to.name);
    if (change.fields.includes('baseType') || change.fields.includes('collation')) {
      const users = [...this.columnsOfType(to.name), ...this.typeUsers(to.name)];
      if (users.length > 0) {
        this.unsupported(subject, `changing its base type or collation needs it recreated, and ${users.join(', ')} use it`);
        return;
      }
      this.add(makeStep(RANK.dropTypeForRecreate, subject, `DROP DOMAIN ${domain}`));
      this.createDomain(to);
      return;
    }
    if (change.fields.includes('default')) {
      this.add(
        makeStep(RANK.domain, subject, to.default === undefined ? `ALTER DOMAIN ${domain} DROP DEFAULT` : `ALTER DOMAIN ${domain} SET DEFAULT ${to.default}`),
      );
    }
    if (change.fields.includes('notNull')) {
      this.add(
        makeStep(RANK.domain, subject, `ALTER DOMAIN ${domain} ${to.notNull ? 'SET' : 'DROP'} NOT NULL`, {
          markers: to.notNull ? [{ kind: 'caution', detail: 'checks every column of the domain; fails if one holds NULL' }] : [],
        }),
      );
    }
    if (change.fields.includes('comment')) this.commentOn(subject, `DOMAIN ${domain}`, to.comment);
    const unnamedChecks = from.checks.filter((c) => c.name === undefined);
    const nameOfCurrent = (check: ConstraintModel): string | undefined => {
      if (check.name !== undefined) return check.name;
      return unnamedChecks.length === 1 ? makeObjectName(from.name, undefined, 'check') : undefined;
    };
    const dropCheck = (check: ConstraintModel): boolean => {
      const name = nameOfCurrent(check);
      if (name === undefined) {
        this.unsupported(`constraint ${dq(to.name)} ${check.definition}`, 'the domain has several unnamed checks; which name this one has cannot be told', 'name the checks (CONSTRAINT name CHECK ...)');
        return false;
      }
      this.add(makeStep(RANK.domain, subject, `ALTER DOMAIN ${domain} DROP CONSTRAINT ${q(name)}`));
      return true;
    };
    const addCheck = (check: ConstraintModel): void => {
      this.add(
        makeStep(RANK.domain + 0.1, subject, `ALTER DOMAIN ${domain} ADD ${check.name === undefined ? '' : `CONSTRAINT ${q(check.name)} `}${check.definition}`, {
          markers: [{ kind: 'caution', detail: 'checks every column of the domain; fails if a value breaks it' }],
        }),
      );
      if (check.comment !== undefined && check.name !== undefined) {
        this.commentOn(subject, `CONSTRAINT ${q(check.name)} ON DOMAIN ${domain}`, check.comment);
      }
    };
    for (const check of change.checks.removed) dropCheck(check);
    for (const check of change.checks.added) addCheck(check);
    for (const c of change.checks.changed) {
      if (c.fields.includes('definition')) {
        if (dropCheck(c.from)) addCheck(c.to);
      } else if (c.fields.includes('comment')) {
        const name = nameOfCurrent(c.from);
        if (name !== undefined) this.commentOn(subject, `CONSTRAINT ${q(name)} ON DOMAIN ${domain}`, c.to.comment);
      }
    }
  }

  // --- Composite types ---------------------------------------------------------------------------

  private planCompositeTypes(): void {
    for (const c of this.diff.compositeTypes.added) this.createCompositeType(c);
    for (const c of this.diff.compositeTypes.removed) {
      this.add(
        makeStep(RANK.dropType, `composite type ${dq(c.name)}`, `DROP TYPE ${q(c.name)}`, {
          provides: [`-${typeRef(c.name)}`],
          before: c.attributes.flatMap((a) => [...this.fromDeps.textUses(a.type)]).filter((r) => r.startsWith('type:')).map((r) => `-${r}`),
        }),
      );
    }
    for (const change of this.diff.compositeTypes.changed) this.changeCompositeType(change);
  }

  private attributeDefinition(a: CompositeTypeModel['attributes'][number]): string {
    return `${q(a.name)} ${a.type}${a.collation === undefined ? '' : ` COLLATE ${a.collation}`}`;
  }

  private createCompositeType(c: CompositeTypeModel): void {
    const subject = `composite type ${dq(c.name)}`;
    const uses = c.attributes.flatMap((a) => [...this.toDeps.textUses(a.type)]);
    this.add(
      makeStep(RANK.compositeType, subject, `CREATE TYPE ${q(c.name)} AS (${c.attributes.map((a) => this.attributeDefinition(a)).join(', ')})`, {
        provides: [`+${typeRef(c.name)}`],
        after: uses.map((r) => `+${r}`),
      }),
    );
    if (c.comment !== undefined) this.commentOn(subject, `TYPE ${q(c.name)}`, c.comment);
  }

  private changeCompositeType(change: ObjectChange<CompositeTypeModel>): void {
    const { from, to } = change;
    const subject = `composite type ${dq(to.name)}`;
    const type = q(to.name);
    if (change.fields.includes('comment')) this.commentOn(subject, `TYPE ${type}`, to.comment);
    if (!change.fields.includes('attributes')) return;
    const users = [...this.columnsOfType(to.name), ...this.typeUsers(to.name)];
    const toNames = to.attributes.map((a) => a.name);
    const kept = from.attributes.filter((a) => toNames.includes(a.name)).map((a) => a.name);
    const appendsOnly = toNames.slice(0, kept.length).join('\0') === kept.join('\0');
    const retyped = from.attributes.filter((a) => {
      const b = to.attributes.find((x) => x.name === a.name);
      return b !== undefined && (b.type !== a.type || b.collation !== a.collation);
    });
    if (users.length > 0 && (!appendsOnly || retyped.length > 0 || kept.length !== from.attributes.length)) {
      this.unsupported(subject, `changing or dropping its attributes, or adding one before the last, needs PostgreSQL to alter values of ${users.join(', ')}, which it refuses`, 'change the columns that use it in a migration of their own');
      return;
    }
    if (!appendsOnly) {
      this.add(makeStep(RANK.dropTypeForRecreate, subject, `DROP TYPE ${type}`));
      this.createCompositeType({ ...to, comment: undefined } as CompositeTypeModel);
      if (to.comment !== undefined && !change.fields.includes('comment')) this.commentOn(subject, `TYPE ${type}`, to.comment);
      return;
    }
    for (const a of from.attributes.filter((x) => !toNames.includes(x.name))) {
      this.add(makeStep(RANK.compositeType, subject, `ALTER TYPE ${type} DROP ATTRIBUTE ${q(a.name)}`));
    }
    for (const a of retyped) {
      const b = to.attributes.find((x) => x.name === a.name)!;
      this.add(
        makeStep(RANK.compositeType, subject, `ALTER TYPE ${type} ALTER ATTRIBUTE ${q(a.name)} SET DATA TYPE ${b.type}${b.collation === undefined ? '' : ` COLLATE ${b.collation}`}`),
      );
    }
    for (const a of to.attributes.filter((x) => !kept.includes(x.name))) {
      this.add(
        makeStep(RANK.compositeType, subject, `ALTER TYPE ${type} ADD ATTRIBUTE ${this.attributeDefinition(a)}`, {
          after: [...this.toDeps.textUses(a.type)].map((r) => `+${r}`),
        }),
      );
    }
  }

  // --- Sequences ----------------------------------------------------------------------------------

  private planSequences(): void {
    const droppedTables = new Set(this.diff.tables.removed.map((t) => t.name));
    const droppedColumns = new Set(
      this.diff.tables.changed.flatMap((c) => c.columns.removed.map((col) => `${c.from.name}\0${col.name}`)),
    );
    for (const s of this.diff.sequences.added) {
      // An identity column makes its own sequence.
      if (s.identity) continue;
      this.createSequence(s);
    }
    for (const s of this.diff.sequences.removed) {
      if (s.identity) continue;
      const owner = s.ownedBy === undefined ? undefined : ownedByParts(s.ownedBy);
      // DROP TABLE and DROP COLUMN take the sequences they own along.
      if (owner !== undefined && (droppedTables.has(owner.table) || droppedColumns.has(`${owner.table}\0${owner.column}`))) continue;
      this.add(makeStep(RANK.dropSequence, `sequence ${dq(s.name)}`, `DROP SEQUENCE ${q(s.name)}`, { provides: [`-${relationRef(s.name)}`] }));
    }
    for (const change of this.diff.sequences.changed) this.changeSequence(change);
  }

  private createSequence(s: SequenceModel): void {
    const subject = `sequence ${dq(s.name)}`;
    const options = sequenceOptions(s, undefined);
    this.add(
      makeStep(RANK.sequence, subject, `CREATE SEQUENCE ${q(s.name)} AS ${s.type}${options.length ? ` ${options.join(' ')}` : ''}`, {
        provides: [`+${relationRef(s.name)}`],
      }),
    );
    if (s.ownedBy !== undefined) this.setOwnedBy(s, s.ownedBy);
    if (s.comment !== undefined) this.commentOn(subject, `SEQUENCE ${q(s.name)}`, s.comment);
  }

  private setOwnedBy(s: SequenceModel, ownedBy: string | undefined): void {
    const owner = ownedBy === undefined ? undefined : ownedByParts(ownedBy);
    this.add(
      makeStep(RANK.ownedBy, `sequence ${dq(s.name)}`, `ALTER SEQUENCE ${q(s.name)} OWNED BY ${ownedBy ?? 'NONE'}`, {
        after: owner === undefined ? [] : [`+${relationRef(owner.table)}`],
      }),
    );
  }

  private changeSequence(change: ObjectChange<SequenceModel>): void {
    const { to } = change;
    const subject = `sequence ${dq(to.name)}`;
    if (change.fields.includes('identity')) {
      // Became or stopped being an identity sequence: the column's change handles it.
      return;
    }
    const changes: string[] = [];
    if (change.fields.includes('type') && !to.identity) changes.push(`AS ${to.type}`);
    if (change.fields.includes('increment')) changes.push(`INCREMENT BY ${to.increment}`);
    if (change.fields.includes('min')) changes.push(`MINVALUE ${to.min}`);
    if (change.fields.includes('max')) changes.push(`MAXVALUE ${to.max}`);
    if (change.fields.includes('start')) changes.push(`START WITH ${to.start}`);
    if (change.fields.includes('cache')) changes.push(`CACHE ${to.cache ?? '1'}`);
    if (change.fields.includes('cycle')) changes.push(to.cycle ? 'CYCLE' : 'NO CYCLE');
    if (changes.length > 0) {
      this.add(makeStep(to.identity ? RANK.column + 0.5 : RANK.sequence, subject, `ALTER SEQUENCE ${q(to.name)} ${changes.join(' ')}`));
    }
    if (change.fields.includes('ownedBy') && !to.identity) this.setOwnedBy(to, to.ownedBy);
    if (change.fields.includes('comment')) this.commentOn(subject, `SEQUENCE ${q(to.name)}`, to.comment);
  }

  // --- Functions -------------------------------------------------------------------------------------

  private planFunctions(): void {
    for (const fn of this.diff.functions.added) this.createFunction(fn);
    for (const fn of this.diff.functions.removed) this.dropFunction(fn, true);
    for (const change of this.diff.functions.changed) {
      const { from, to } = change;
      if (this.recreatedFunctions.has(formatFunctionSignature(from))) {
        const blockers = this.functionUsersBesidesViewsAndTriggers(from.name);
        if (blockers.length > 0) {
          this.unsupported(functionSubject(to), `its parameters, result or kind change, which needs it dropped, and ${blockers.join(', ')} use it`, 'change those objects in a migration of their own');
          continue;
        }
        this.dropFunction(from, false);
        this.createFunction(to, [{ kind: 'recreate', detail: `dropped and created again (CREATE OR REPLACE cannot change its parameters or result): grants on it are lost` }]);
        continue;
      }
      if (change.fields.includes('definition')) this.createFunction({ ...to, comment: undefined } as FunctionModel, [], false);
      if (change.fields.includes('comment')) this.commentOn(functionSubject(to), `${to.kind === 'procedure' ? 'PROCEDURE' : 'FUNCTION'} ${q(to.name)}(${to.arguments})`, to.comment);
    }
  }

  /** Column defaults, constraints, indexes and policies of the current schema that call `name`. */
  private functionUsersBesidesViewsAndTriggers(name: string): string[] {
    const users: string[] = [];
    const calls = (text: string | undefined): boolean => text !== undefined && identifiersIn(text).has(name);
    for (const table of this.from.tables) {
      for (const c of table.columns) if (calls(c.default) || calls(c.generated)) users.push(columnSubject(table.name, c.name));
      for (const c of table.constraints) if (calls(c.definition)) users.push(constraintSubject(table.name, c));
      for (const i of table.indexes) if (calls(i.definition)) users.push(indexSubject(table.name, i));
      for (const p of table.policies) if (calls(p.using) || calls(p.withCheck)) users.push(`policy ${dq(table.name)}.${dq(p.name)}`);
    }
    for (const d of this.from.domains) if (calls(d.default) || d.checks.some((c) => calls(c.definition))) users.push(`domain ${dq(d.name)}`);
    return users;
  }

  private createFunction(fn: FunctionModel, markers: StatementMarker[] = [], withComment = true): void {
    const uses = [...this.toDeps.functionUses(fn)];
    // A function whose header or SQL-standard body names a relation waits
    // for it; the others go before the tables, whose defaults and checks may call them.
    const late = hasSqlStandardBody(fn.definition) || uses.some((r) => r.startsWith('rel:'));
    if (!hasSqlStandardBody(fn.definition)) this.functionBodiesUnchecked = true;
    this.add(
      makeStep(late ? RANK.lateFunction : RANK.function, functionSubject(fn), fn.definition.trimEnd(), {
        markers,
        provides: [`+${functionRef(fn.name)}`],
        after: uses.map((r) => `+${r}`),
      }),
    );
    if (withComment && fn.comment !== undefined) {
      this.commentOn(functionSubject(fn), `${fn.kind === 'procedure' ? 'PROCEDURE' : 'FUNCTION'} ${q(fn.name)}(${fn.arguments})`, fn.comment);
    }
  }

  private dropFunction(fn: FunctionModel, forGood: boolean): void {
    const subject = functionSubject(fn);
    const uses = [...this.fromDeps.functionUses(fn)];
    this.add(
      makeStep(forGood ? RANK.dropFunction : RANK.dropView, subject, `DROP ${fn.kind === 'procedure' ? 'PROCEDURE' : 'FUNCTION'} ${q(fn.name)}(${fn.arguments})`, {
        markers: forGood ? [this.dataLoss(subject, `drops the ${fn.kind}`)] : [],
        provides: [`-${functionRef(fn.name)}`],
        before: uses.map((r) => `-${r}`),
      }),
    );
  }

  // --- Tables ------------------------------------------------------------------------------------------

  private planTables(): void {
    const removedNames = new Set(this.diff.tables.removed.map((t) => t.name));
    for (const table of this.diff.tables.removed) this.dropTable(table, removedNames);
    const added = [...this.diff.tables.added].sort((a, b) => depthOf(this.to, a) - depthOf(this.to, b));
    for (const table of added) this.createTable(table);
    const changed = [...this.diff.tables.changed].sort((a, b) => depthOf(this.to, a.to) - depthOf(this.to, b.to));
    const changedNames = new Set(changed.map((c) => c.from.name));
    for (const change of changed) this.alterTable(change, false);
    // Tables that did not change but whose items a type conversion took off and puts back.
    for (const table of this.from.tables) {
      if (changedNames.has(table.name) || !this.toTables.has(table.name)) continue;
      const same = this.toTables.get(table.name)!;
      if (this.hasRecreatedItems(table.name)) this.alterTable(diffTable(table, same) ?? emptyTableChange(table, same), false);
    }
  }

  private hasRecreatedItems(table: string): boolean {
    const prefix = `${table}\0`;
    return [...this.recreatedTableItems, ...this.recreatedTriggers, ...this.recreatedPolicies].some((key) => key.startsWith(prefix));
  }

  private dropTable(table: TableModel, removedNames: ReadonlySet<string>): void {
    const subject = tableSubject(table.name);
    // Foreign keys between tables that both go: dropped first, so the tables can go in any order.
    for (const c of table.constraints) {
      if (constraintTypeOf(c.definition) !== 'foreign key') continue;
      const target = referencedTableOf(c.definition);
      if (target === undefined || target === table.name || !removedNames.has(target)) continue;
      const name = actualNameOf(table, c, this.built);
      if (name !== undefined) {
        this.add(makeStep(RANK.dropForeignKey, constraintSubject(table.name, c), `ALTER TABLE ${q(table.name)} DROP CONSTRAINT ${q(name)}`));
      }
    }
    this.add(
      makeStep(RANK.dropTable, subject, `DROP TABLE ${q(table.name)}`, {
        markers: [this.dataLoss(subject, 'drops the table and its rows')],
        provides: [`-${relationRef(table.name)}`],
        before: parentsOf(table).map((p) => `-${relationRef(p)}`),
      }),
    );
  }

  private columnDefinition(table: TableModel, column: ColumnModel): string {
    let sql = `${q(column.name)} ${column.type}`;
    if (column.collation !== undefined) sql += ` COLLATE ${column.collation}`;
    if (column.generated !== undefined) sql += ` GENERATED ALWAYS AS (${column.generated}) STORED`;
    if (column.identity !== undefined) {
      sql += ` GENERATED ${column.identity === 'always' ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY${this.identityOptions(table.name, column.name)}`;
    }
    if (column.default !== undefined) sql += ` DEFAULT ${column.default}`;
    if (column.notNull) sql += ' NOT NULL';
    return sql;
  }

  /** ` (START WITH 100 ...)` from the desired identity sequence, or nothing for the defaults. */
  private identityOptions(table: string, column: string): string {
    const ownedBy = `${q(table)}.${q(column)}`;
    const sequence = this.to.sequences.find((s) => s.identity && s.ownedBy === ownedBy);
    if (sequence === undefined) return '';
    const options = sequenceOptions(sequence, makeObjectName(table, column, 'seq'));
    return options.length === 0 ? '' : ` (${options.join(' ')})`;
  }

  private createTable(table: TableModel): void {
    const subject = tableSubject(table.name);
    const name = q(table.name);
    const unlogged = table.unlogged ? 'UNLOGGED ' : '';
    const partitionBy = table.partitionKey === undefined ? '' : ` PARTITION BY ${table.partitionKey}`;
    const withOptions = table.options === undefined ? '' : ` WITH (${table.options.map(formatOption).join(', ')})`;
    const parents = parentsOf(table);
    const predicted = this.predictCreatedTable(table);
    let sql: string;
    if (table.partitionOf !== undefined) {
      sql = `CREATE ${unlogged}TABLE ${name} PARTITION OF ${q(table.partitionOf)} ${table.partitionBound ?? 'DEFAULT'}${partitionBy}${withOptions}`;
    } else {
      const inheritedNames = new Set(parents.flatMap((p) => this.toTables.get(p)?.columns.map((c) => c.name) ?? []));
      const local = table.columns.filter((c) => !inheritedNames.has(c.name));
      const columns = local.map((c) => `    ${this.columnDefinition(table, { ...c, comment: undefined } as ColumnModel)}`);
      const inherits = parents.length === 0 ? '' : ` INHERITS (${parents.map(q).join(', ')})`;
      sql = `CREATE ${unlogged}TABLE ${name} (${columns.length === 0 ? '' : `\n${columns.join(',\n')}\n`})${inherits}${partitionBy}${withOptions}`;
    }
    this.add(
      makeStep(RANK.createTable, subject, sql, {
        provides: [`+${relationRef(table.name)}`],
        after: [...parents.map((p) => `+${relationRef(p)}`), ...[...tableUses(this.toDeps, table)].map((r) => `+${r}`)],
      }),
    );
    this.alterTable(diffTable(predicted, table) ?? emptyTableChange(predicted, table), true);
  }

  /** The table as CREATE TABLE leaves it: what the plan must still add (constraints, comments, ...). */
  private predictCreatedTable(table: TableModel): TableModel {
    const parents = parentsOf(table).map((p) => this.toTables.get(p)).filter((p): p is TableModel => p !== undefined);
    let columns: ColumnModel[];
    if (table.partitionOf !== undefined) {
      columns = parents[0]?.columns.map(inheritedColumn) ?? [];
    } else {
      const inherited: ColumnModel[] = [];
      for (const parent of parents) for (const c of parent.columns) if (!inherited.some((i) => i.name === c.name)) inherited.push(inheritedColumn(c));
      const local = table.columns.filter((c) => !inherited.some((i) => i.name === c.name)).map((c) => ({ ...c, comment: undefined }) as ColumnModel);
      columns = [...inherited, ...local.map(stripUndefined)];
    }
    const { rowSecurity: _r, forceRowSecurity: _f, comment: _c, ...shape } = table;
    return { ...shape, columns, constraints: [], indexes: [], triggers: [], policies: [] };
  }

  /** Everything about a table but its creation or drop: attributes, columns, constraints, indexes, triggers, policies. */
  private alterTable(change: TableChange, isNew: boolean): void {
    const { from, to } = change;
    const name = to.name;
    const t = q(name);
    const subject = tableSubject(name);
    const locks = isNew ? [] : this.lockIfExisting(name);

    if (change.fields.includes('kind') || change.fields.includes('partitionKey')) {
      this.unsupported(subject, 'changing whether or how it is partitioned needs the table recreated and its rows copied', 'write that migration by hand');
      return;
    }
    if (change.columnOrder !== undefined) {
      this.unsupported(subject, `its columns change order (${change.columnOrder.before.join(', ')}) → (${change.columnOrder.after.join(', ')}); ALTER TABLE cannot reorder columns`, 'keep the current column order in the desired schema');
    }
    const kept = from.columns.filter((c) => to.columns.some((d) => d.name === c.name)).map((c) => c.name);
    const addedNames = new Set(change.columns.added.map((c) => c.name));
    const lastKept = Math.max(-1, ...kept.map((k) => to.columns.findIndex((c) => c.name === k)));
    const misplaced = to.columns.filter((c, i) => addedNames.has(c.name) && i < lastKept);
    if (misplaced.length > 0 && this.ctx.direction === 'down') {
      // A dropped column cannot come back where it was; the down restores it last.
      this.appendedInDown.push(...misplaced.map((c) => columnSubject(name, c.name)));
    } else if (misplaced.length > 0) {
      this.unsupported(
        subject,
        `new column${misplaced.length > 1 ? 's' : ''} ${misplaced.map((c) => dq(c.name)).join(', ')} would be appended, but the desired schema puts ${misplaced.length > 1 ? 'them' : 'it'} before ${dq(to.columns[lastKept]!.name)}; ADD COLUMN always appends`,
        'put new columns last in the desired schema',
      );
    }

    // Partition membership and inheritance.
    if (change.fields.includes('partitionOf') || change.fields.includes('partitionBound')) {
      if (from.partitionOf !== undefined) {
        this.add(makeStep(RANK.detachPartition, subject, `ALTER TABLE ${q(from.partitionOf)} DETACH PARTITION ${t}`, { markers: locks }));
      }
      if (to.partitionOf !== undefined) {
        this.add(
          makeStep(RANK.attachPartition, subject, `ALTER TABLE ${q(to.partitionOf)} ATTACH PARTITION ${t} ${to.partitionBound ?? 'DEFAULT'}`, {
            markers: [...locks, { kind: 'caution', detail: 'scans the table to check the partition bound' }],
            after: [`+${relationRef(to.partitionOf)}`],
          }),
        );
      }
    }
    if (change.fields.includes('inherits')) {
      const before = from.inherits ?? [];
      const after = to.inherits ?? [];
      const common = after.filter((p) => before.includes(p));
      if (common.join('\0') !== before.filter((p) => after.includes(p)).join('\0')) {
        this.unsupported(subject, 'its parents change order; INHERIT appends parents', 'keep the parents in their current order');
      }
      for (const p of before.filter((x) => !after.includes(x))) this.add(makeStep(RANK.detachPartition, subject, `ALTER TABLE ${t} NO INHERIT ${q(p)}`, { markers: locks }));
      for (const p of after.filter((x) => !before.includes(x))) {
        this.add(makeStep(RANK.attachPartition, subject, `ALTER TABLE ${t} INHERIT ${q(p)}`, { markers: locks, after: [`+${relationRef(p)}`] }));
      }
    }
    if (change.fields.includes('unlogged')) {
      this.add(
        makeStep(RANK.alterTable, subject, `ALTER TABLE ${t} SET ${to.unlogged ? 'UNLOGGED' : 'LOGGED'}`, {
          markers: [{ kind: 'rewrite', detail: `rewrites ${dq(name)}` }, ...locks],
        }),
      );
    }
    if (change.fields.includes('options')) {
      const before = from.options ?? [];
      const after = to.options ?? [];
      const reset = before.map(optionKey).filter((k) => !after.some((o) => optionKey(o) === k));
      const set = after.filter((o) => !before.includes(o));
      if (reset.length > 0) this.add(makeStep(RANK.alterTable, subject, `ALTER TABLE ${t} RESET (${reset.join(', ')})`, { markers: locks }));
      if (set.length > 0) this.add(makeStep(RANK.alterTable, subject, `ALTER TABLE ${t} SET (${set.map(formatOption).join(', ')})`, { markers: locks }));
    }
    if (change.fields.includes('rowSecurity')) {
      this.add(makeStep(RANK.alterTable, subject, `ALTER TABLE ${t} ${to.rowSecurity ? 'ENABLE' : 'DISABLE'} ROW LEVEL SECURITY`, { markers: locks }));
    }
    if (change.fields.includes('forceRowSecurity')) {
      this.add(makeStep(RANK.alterTable, subject, `ALTER TABLE ${t} ${to.forceRowSecurity ? 'FORCE' : 'NO FORCE'} ROW LEVEL SECURITY`, { markers: locks }));
    }
    if (change.fields.includes('comment')) this.commentOn(subject, `TABLE ${t}`, to.comment);

    this.planColumns(change, isNew);
    this.planConstraints(change, isNew);
    this.planIndexes(name, change.from, change.to, change.indexes, isNew, false);
    this.planTriggers(name, change.from.triggers, change.to.triggers, change.triggers, isNew);
    this.planPolicies(change, isNew);
  }

  // --- Columns --------------------------------------------------------------------------------------------

  private planColumns(change: TableChange, isNew: boolean): void {
    const { from, to } = change;
    const table = to.name;
    const t = q(table);
    const locks = isNew ? [] : this.lockIfExisting(table);
    for (const column of change.columns.removed) {
      const subject = columnSubject(table, column.name);
      this.add(
        makeStep(RANK.dropColumn, subject, `ALTER TABLE ${t} DROP COLUMN ${q(column.name)}`, {
          markers: [this.dataLoss(subject, 'drops the column and its values'), ...locks],
        }),
      );
    }
    // In the desired order: ADD COLUMN appends.
    const added = to.columns.filter((c) => change.columns.added.includes(c));
    for (const column of added) {
      const subject = columnSubject(table, column.name);
      const markers: StatementMarker[] = [...locks];
      if (this.appendedInDown.includes(subject)) {
        markers.push({ kind: 'caution', detail: 'comes back as the last column, not where it stood: the schema differs from before in column order only' });
      }
      if (!isNew) {
        const rewrite = addColumnRewrite(column);
        if (rewrite !== undefined) markers.push({ kind: 'rewrite', detail: rewrite });
        if (column.notNull && column.default === undefined && column.identity === undefined && column.generated === undefined) {
          markers.push({ kind: 'caution', detail: 'NOT NULL without a default: fails if the table has rows' });
        }
      }
      this.add(
        makeStep(RANK.column, subject, `ALTER TABLE ${t} ADD COLUMN ${this.columnDefinition(to, { ...column, comment: undefined } as ColumnModel)}`, {
          markers,
          after: [...this.toDeps.textUses(`${column.type} ${column.default ?? ''} ${column.generated ?? ''}`)].map((r) => `+${r}`),
        }),
      );
      if (column.comment !== undefined) this.commentOn(subject, `COLUMN ${t}.${q(column.name)}`, column.comment);
    }
    for (const c of change.columns.changed) this.alterColumn(from, to, c, isNew);
  }

  private alterColumn(table: TableModel, target: TableModel, change: ObjectChange<ColumnModel>, isNew: boolean): void {
    const { from, to } = change;
    const name = target.name;
    const subject = columnSubject(name, to.name);
    const prefix = `ALTER TABLE ${q(name)} ALTER COLUMN ${q(to.name)}`;
    const locks = isNew ? [] : this.lockIfExisting(name);
    const has = (field: keyof ColumnModel): boolean => change.fields.includes(field);
    const converted = this.convertedColumns.has(`${name}\0${to.name}`);
    const step = (rankOffset: number, sql: string, markers: StatementMarker[] = []): void =>
      this.add(makeStep(RANK.column + rankOffset, subject, sql, { markers: [...markers, ...locks] }));

    if (has('generated') && to.generated !== undefined) {
      if (from.generated === undefined) {
        this.unsupported(subject, 'a plain column cannot become a generated one in place; dropping and adding it would move it to the end', 'add a new generated column instead');
        return;
      }
      if ((this.ctx.serverMajor ?? 0) < 17) {
        this.unsupported(subject, 'changing a generated column\'s expression needs ALTER COLUMN SET EXPRESSION (PostgreSQL 17)', 'plan against a PostgreSQL 17 server, or add a new column');
        return;
      }
    }
    const typeChanges = has('type') || has('collation');
    if (typeChanges && table.columns.some((c) => c.generated !== undefined && identifiersIn(c.generated).has(to.name))) {
      this.unsupported(subject, 'a generated column uses it, and PostgreSQL cannot change the type of such a column', 'change the generated column first, in a migration of its own');
      return;
    }
    if (has('identity') && from.identity !== undefined && to.identity === undefined) step(0, `${prefix} DROP IDENTITY`);
    if (has('generated') && from.generated !== undefined && to.generated === undefined) step(0, `${prefix} DROP EXPRESSION`);
    const defaultChanges = has('default') && !converted;
    if (defaultChanges && from.default !== undefined && (typeChanges || (to.identity !== undefined && from.identity === undefined))) {
      step(0.01, `${prefix} DROP DEFAULT`);
    }
    if (typeChanges) {
      const typeChange = classifyTypeChange(from.type, to.type);
      const markers: StatementMarker[] = [];
      if (!typeChange.lossless) {
        markers.push(this.dataLoss(subject, `converts ${from.type} to ${to.type}; values that do not fit are lost or make it fail`));
      }
      if (typeChange.rewrite && !isNew) markers.push({ kind: 'rewrite', detail: `rewrites ${dq(name)} and rebuilds its indexes` });
      const collate = to.collation !== undefined ? ` COLLATE ${to.collation}` : from.collation !== undefined ? ' COLLATE pg_catalog."default"' : '';
      const using = typeChange.implicit ? '' : ` USING ${q(to.name)}::${to.type}`;
      step(0.02, `${prefix} TYPE ${to.type}${collate}${using}`, markers);
    }
    if (has('notNull')) {
      step(
        0.03,
        `${prefix} ${to.notNull ? 'SET' : 'DROP'} NOT NULL`,
        to.notNull && !isNew ? [{ kind: 'caution', detail: 'scans the table; fails if a row holds NULL' }] : [],
      );
    }
    if (defaultChanges && to.default !== undefined) step(0.04, `${prefix} SET DEFAULT ${to.default}`);
    else if (defaultChanges && to.default === undefined && !(typeChanges && from.default !== undefined)) step(0.04, `${prefix} DROP DEFAULT`);
    if (has('identity') && to.identity !== undefined) {
      const kind = to.identity === 'always' ? 'ALWAYS' : 'BY DEFAULT';
      if (from.identity === undefined) {
        step(0.05, `${prefix} ADD GENERATED ${kind} AS IDENTITY${this.identityOptions(name, to.name)}`, isNew ? [] : [{ kind: 'caution', detail: 'the new identity sequence starts at its start value, whatever the column holds' }]);
      } else {
        step(0.05, `${prefix} SET GENERATED ${kind}`);
      }
    }
    if (has('generated') && from.generated !== undefined && to.generated !== undefined) {
      step(0.06, `${prefix} SET EXPRESSION AS (${to.generated})`, isNew ? [] : [{ kind: 'rewrite', detail: `rewrites ${dq(name)} to compute the column again` }]);
    }
    if (has('comment')) this.commentOn(subject, `COLUMN ${q(name)}.${q(to.name)}`, to.comment);
  }

  // --- Constraints -----------------------------------------------------------------------------------------

  private planConstraints(change: TableChange, isNew: boolean): void {
    const { from, to } = change;
    const name = to.name;
    const t = q(name);
    const locks = isNew ? [] : this.lockIfExisting(name);
    const droppedColumns = new Set(change.columns.removed.map((c) => c.name));
    const list = this.withRecreatedItems(name, change.constraints, from.constraints, to.constraints, 'c');
    const { removed, added } = this.planNameOnlyChanges(
      list,
      (c) => actualNameOf(from, c, this.built),
      (current, wanted) => {
        if (wanted.name !== undefined) return wanted.name;
        const parts = this.built.get(current) ?? constraintNameParts(to, wanted);
        return parts === undefined ? undefined : nameFromParts(to.name, parts);
      },
      (c, oldName, newName) => {
        this.add(makeStep(RANK.renameChild, constraintSubject(name, c), `ALTER TABLE ${t} RENAME CONSTRAINT ${q(oldName)} TO ${q(newName)}`, { markers: locks }));
        return newName;
      },
      (c, newName) => this.commentOn(constraintSubject(name, c), `CONSTRAINT ${q(newName)} ON ${t}`, c.comment),
    );
    const drop = (c: ConstraintModel): void => {
      // DROP COLUMN takes the table's own constraints on that column along.
      const mentioned = identifiersIn(c.definition);
      if (constraintTypeOf(c.definition) !== 'foreign key' || referencedTableOf(c.definition) === name) {
        if ([...droppedColumns].some((col) => mentioned.has(col))) return;
      } else if ([...droppedColumns].some((col) => identifiersIn(c.definition.slice(0, c.definition.indexOf(' REFERENCES '))).has(col))) {
        return;
      }
      const constraintName = actualNameOf(from, c, this.built);
      const subject = constraintSubject(name, c);
      if (constraintName === undefined) {
        this.unsupported(subject, 'its name cannot be told from its definition', 'give the constraint a name');
        return;
      }
      const isForeignKey = constraintTypeOf(c.definition) === 'foreign key';
      this.add(
        makeStep(isForeignKey ? RANK.dropForeignKey : RANK.dropConstraint, subject, `ALTER TABLE ${t} DROP CONSTRAINT ${q(constraintName)}`, {
          markers: locks,
        }),
      );
    };
    const add = (c: ConstraintModel): void => {
      const subject = constraintSubject(name, c);
      const type = constraintTypeOf(c.definition);
      const isForeignKey = type === 'foreign key';
      const target = isForeignKey ? referencedTableOf(c.definition) : undefined;
      const markers: StatementMarker[] = [];
      if (!isNew) {
        if (isForeignKey) markers.push(...this.lockIfExisting(name, 'SHARE ROW EXCLUSIVE'));
        else markers.push(...locks);
        if (type === 'check' || isForeignKey) {
          if (!/ NOT VALID$/.test(c.definition)) markers.push({ kind: 'caution', detail: 'scans the table to validate every row' });
        } else if (type !== undefined) {
          markers.push({ kind: 'caution', detail: 'builds an index while the table is locked' });
        }
      }
      this.add(
        makeStep(isForeignKey ? RANK.addForeignKey : RANK.addConstraint, subject, `ALTER TABLE ${t} ADD ${c.name === undefined ? '' : `CONSTRAINT ${q(c.name)} `}${c.definition}`, {
          markers,
          after: [
            ...(target === undefined ? [] : [`+${relationRef(target)}`]),
            ...[...this.toDeps.textUses(c.definition)].filter((r) => r.startsWith('func:')).map((r) => `+${r}`),
          ],
        }),
      );
      if (c.comment !== undefined) {
        const newName = c.name ?? generatedConstraintName(to, c);
        if (newName !== undefined) this.commentOn(subject, `CONSTRAINT ${q(newName)} ON ${t}`, c.comment);
      }
    };
    for (const c of removed) drop(c);
    for (const c of added) add(c);
    for (const c of list.changed) {
      if (c.fields.includes('definition')) {
        drop(c.from);
        add(c.to);
      } else if (c.fields.includes('comment')) {
        const constraintName = actualNameOf(from, c.from, this.built);
        if (constraintName !== undefined) this.commentOn(constraintSubject(name, c.to), `CONSTRAINT ${q(constraintName)} ON ${t}`, c.to.comment);
      }
    }
  }

  /**
   * Adds to a table's constraint or index diff the items that a type
   * conversion takes off and puts back, as removed and added.
   */
  private withRecreatedItems<T extends ConstraintModel | IndexModel>(
    table: string,
    list: ListDiff<T>,
    fromItems: readonly T[],
    toItems: readonly T[],
    kind: 'c' | 'i',
  ): ListDiff<T> {
    const keyOf = (item: T): string => `${table}\0${kind}:${item.name ?? item.definition}`;
    const recreate = fromItems.filter((item) => this.recreatedTableItems.has(keyOf(item)) && !list.removed.includes(item));
    if (recreate.length === 0) return list;
    const wanted = recreate
      .map((item) => toItems.find((x) => (x.name ?? x.definition) === (item.name ?? item.definition)))
      .filter((x): x is T => x !== undefined);
    return {
      removed: [...list.removed, ...recreate],
      added: [...list.added, ...wanted.filter((w) => !list.added.includes(w))],
      changed: list.changed.filter((c) => !recreate.includes(c.from)),
    };
  }

  /**
   * A removed and an added item with one definition differ only by name:
   * renamed in place, not dropped and built again.
   */
  private planNameOnlyChanges<T extends ConstraintModel | IndexModel>(
    list: ListDiff<T>,
    currentName: (item: T) => string | undefined,
    desiredName: (current: T, wanted: T) => string | undefined,
    rename: (item: T, oldName: string, newName: string) => string,
    commentAs: (item: T, newName: string) => void,
  ): { removed: T[]; added: T[] } {
    const removed = [...list.removed];
    const added: T[] = [];
    for (const item of list.added) {
      const at = removed.findIndex((r) => r.definition === item.definition);
      if (at < 0) {
        added.push(item);
        continue;
      }
      const oldName = currentName(removed[at]!);
      const newName = desiredName(removed[at]!, item);
      if (oldName === undefined || newName === undefined || oldName === newName) {
        added.push(item);
        continue;
      }
      const match = removed.splice(at, 1)[0]!;
      this.renamedPairs.set(match, item);
      const finalName = rename(item, oldName, newName);
      if (match.comment !== item.comment) commentAs(item, finalName);
    }
    return { removed, added };
  }

  // --- Indexes ----------------------------------------------------------------------------------------------

  private planIndexes(owner: string, from: { readonly indexes?: readonly IndexModel[]; readonly columns?: readonly ColumnModel[] }, to: TableModel | ViewModel, list: ListDiff<IndexModel>, isNew: boolean, ofView: boolean): void {
    const fromTable = this.fromTables.get(owner);
    const existing = !isNew && (this.isExistingTable(owner) || (ofView && this.from.views.some((v) => v.name === owner)));
    const partitioned = 'kind' in to && to.kind === 'partitioned';
    const concurrent = this.ctx.concurrently && existing && !partitioned;
    const effective = ofView ? list : this.withRecreatedItems(owner, list, fromTable?.indexes ?? [], (to as TableModel).indexes, 'i');
    const droppedColumns = new Set(
      (from.columns ?? []).filter((c) => !('columns' in to) || !to.columns.some((d) => d.name === c.name)).map((c) => c.name),
    );
    const ownerTable = fromTable ?? ({ name: owner, columns: [], constraints: [], indexes: [], triggers: [], policies: [] } as TableModel);
    const nameOf = (i: IndexModel): string | undefined => actualNameOf(ownerTable, i, this.built);
    const { removed, added } = this.planNameOnlyChanges(
      effective,
      nameOf,
      (current, wanted) => {
        if (wanted.name !== undefined) return wanted.name;
        const parts = this.built.get(current) ?? indexNameParts(wanted);
        return parts === undefined ? undefined : nameFromParts(owner, parts);
      },
      (i, oldName, newName) => {
        this.add(makeStep(RANK.renameChild, indexSubject(owner, i), `ALTER INDEX ${q(oldName)} RENAME TO ${q(newName)}`, { markers: this.lockIfExisting(owner) }));
        return newName;
      },
      (i, newName) => this.commentOn(indexSubject(owner, i), `INDEX ${q(newName)}`, i.comment),
    );
    const drop = (index: IndexModel): void => {
      if ([...droppedColumns].some((c) => identifiersIn(index.definition).has(c))) return;
      const subject = indexSubject(owner, index);
      const name = nameOf(index);
      if (name === undefined) {
        this.unsupported(subject, 'its name cannot be told from its definition', 'give the index a name');
        return;
      }
      this.add(
        concurrent
          ? makeStep(RANK.concurrentDrop, subject, `DROP INDEX CONCURRENTLY ${q(name)}`, { transactional: false })
          : makeStep(RANK.dropIndex, subject, `DROP INDEX ${q(name)}`, { markers: existing ? this.lockIfExisting(owner) : [] }),
      );
    };
    const create = (index: IndexModel): void => {
      const subject = indexSubject(owner, index);
      const sql = createIndexStatement(index, {
        ...(index.name === undefined ? {} : { name: q(index.name) }),
        concurrently: concurrent,
        recurse: partitioned,
      });
      const markers: StatementMarker[] =
        existing && !concurrent
          ? [{ kind: 'lock', detail: `SHARE on ${dq(owner)} (writes wait) while the index builds; --concurrently builds it without` }]
          : [];
      this.add(
        concurrent
          ? makeStep(RANK.concurrentCreate, subject, sql, { transactional: false })
          : makeStep(ofView ? RANK.viewChild : RANK.createIndex, subject, sql, {
              markers,
              after: [`+${relationRef(owner)}`, ...[...this.toDeps.textUses(index.definition)].filter((r) => r.startsWith('func:')).map((r) => `+${r}`)],
            }),
      );
      if (index.comment !== undefined) {
        const name = index.name ?? generatedIndexName(index);
        if (name !== undefined) this.commentOn(subject, `INDEX ${q(name)}`, index.comment, concurrent);
      }
    };
    for (const index of removed) drop(index);
    for (const index of added) create(index);
    for (const c of effective.changed) {
      if (c.fields.includes('definition')) {
        drop(c.from);
        create(c.to);
      } else if (c.fields.includes('comment')) {
        const name = nameOf(c.from);
        if (name !== undefined) this.commentOn(indexSubject(owner, c.to), `INDEX ${q(name)}`, c.to.comment);
      }
    }
  }

  // --- Triggers -------------------------------------------------------------------------------------------------

  private planTriggers(owner: string, fromTriggers: readonly TriggerModel[], toTriggers: readonly TriggerModel[], list: ListDiff<TriggerModel>, isNew: boolean): void {
    const subjectOf = (tr: TriggerModel): string => `trigger ${dq(owner)}.${dq(tr.name)}`;
    const drop = (tr: TriggerModel): void => {
      this.add(
        makeStep(RANK.dropTrigger, subjectOf(tr), `DROP TRIGGER ${q(tr.name)} ON ${q(owner)}`, {
          markers: isNew ? [] : this.lockIfExisting(owner, 'SHARE ROW EXCLUSIVE'),
          before: triggerUses(tr.definition).map((r) => `-${r}`),
        }),
      );
    };
    const create = (tr: TriggerModel): void => {
      this.add(
        makeStep(RANK.createTrigger, subjectOf(tr), tr.definition, {
          markers: isNew ? [] : this.lockIfExisting(owner, 'SHARE ROW EXCLUSIVE'),
          after: [`+${relationRef(owner)}`, ...triggerUses(tr.definition).map((r) => `+${r}`)],
        }),
      );
      if (tr.enabled !== undefined) this.setTriggerEnabled(owner, tr);
      if (tr.comment !== undefined) this.commentOn(subjectOf(tr), `TRIGGER ${q(tr.name)} ON ${q(owner)}`, tr.comment);
    };
    const recreated = fromTriggers.filter((tr) => this.recreatedTriggers.has(`${owner}\0${tr.name}`) && !list.removed.includes(tr));
    for (const tr of [...list.removed, ...recreated]) drop(tr);
    for (const tr of [...list.added, ...recreated.map((r) => toTriggers.find((x) => x.name === r.name)).filter((x): x is TriggerModel => x !== undefined)]) {
      create(tr);
    }
    for (const c of list.changed) {
      if (recreated.some((r) => r.name === c.from.name)) continue;
      if (c.fields.includes('definition')) {
        drop(c.from);
        create(c.to);
        continue;
      }
      if (c.fields.includes('enabled')) this.setTriggerEnabled(owner, c.to);
      if (c.fields.includes('comment')) this.commentOn(subjectOf(c.to), `TRIGGER ${q(c.to.name)} ON ${q(owner)}`, c.to.comment);
    }
  }

  private setTriggerEnabled(owner: string, tr: TriggerModel): void {
    const how = { D: 'DISABLE', R: 'ENABLE REPLICA', A: 'ENABLE ALWAYS' }[tr.enabled ?? 'D'];
    const sql = `ALTER TABLE ${q(owner)} ${tr.enabled === undefined ? 'ENABLE' : how} TRIGGER ${q(tr.name)}`;
    this.add(makeStep(RANK.createTrigger + 0.1, `trigger ${dq(owner)}.${dq(tr.name)}`, sql, { markers: this.lockIfExisting(owner, 'SHARE ROW EXCLUSIVE') }));
  }

  // --- Policies -------------------------------------------------------------------------------------------------

  private planPolicies(change: TableChange, isNew: boolean): void {
    const owner = change.to.name;
    const t = q(owner);
    const locks = isNew ? [] : this.lockIfExisting(owner);
    const subjectOf = (p: PolicyModel): string => `policy ${dq(owner)}.${dq(p.name)}`;
    const drop = (p: PolicyModel): void => this.add(makeStep(RANK.dropPolicy, subjectOf(p), `DROP POLICY ${q(p.name)} ON ${t}`, { markers: locks }));
    const create = (p: PolicyModel): void => {
      const sql = `CREATE POLICY ${q(p.name)} ON ${t}${p.restrictive ? ' AS RESTRICTIVE' : ''} FOR ${p.command} TO ${formatRoles(p.roles)}${
        p.using === undefined ? '' : ` USING (${p.using})`
      }${p.withCheck === undefined ? '' : ` WITH CHECK (${p.withCheck})`}`;
      this.add(
        makeStep(RANK.policy, subjectOf(p), sql, {
          markers: locks,
          after: [...this.toDeps.textUses(`${p.using ?? ''} ${p.withCheck ?? ''}`)].map((r) => `+${r}`),
        }),
      );
    };
    const recreated = change.from.policies.filter((p) => this.recreatedPolicies.has(`${owner}\0${p.name}`) && !change.policies.removed.includes(p));
    for (const p of [...change.policies.removed, ...recreated]) drop(p);
    for (const p of [...change.policies.added, ...recreated.map((r) => change.to.policies.find((x) => x.name === r.name)).filter((x): x is PolicyModel => x !== undefined)]) {
      create(p);
    }
    for (const c of change.policies.changed) {
      if (recreated.some((r) => r.name === c.from.name)) continue;
      const needsRecreate =
        c.fields.includes('command') ||
        c.fields.includes('restrictive') ||
        (c.fields.includes('using') && c.to.using === undefined) ||
        (c.fields.includes('withCheck') && c.to.withCheck === undefined);
      if (needsRecreate) {
        drop(c.from);
        create(c.to);
        continue;
      }
      const parts: string[] = [];
      if (c.fields.includes('roles')) parts.push(`TO ${formatRoles(c.to.roles)}`);
      if (c.fields.includes('using')) parts.push(`USING (${c.to.using})`);
      if (c.fields.includes('withCheck')) parts.push(`WITH CHECK (${c.to.withCheck})`);
      this.add(makeStep(RANK.policy, subjectOf(c.to), `ALTER POLICY ${q(c.to.name)} ON ${t} ${parts.join(' ')}`, { markers: locks }));
    }
  }

  // --- Views ---------------------------------------------------------------------------------------------------

  private planViews(): void {
    const removedViews = this.diff.views.removed;
    const wanted = new Set(this.to.views.map((v) => v.name));
    const recreated = this.from.views.filter((v) => this.recreatedViews.has(v.name) && wanted.has(v.name));
    for (const view of [...removedViews, ...recreated]) this.dropView(view);
    for (const view of this.diff.views.added) this.createView(view);
    for (const view of recreated) {
      const wanted = this.to.views.find((v) => v.name === view.name);
      if (wanted !== undefined) {
        const changed = this.diff.views.changed.some((c) => c.from.name === view.name && c.fields.includes('definition'));
        this.createView(wanted, [
          {
            kind: 'recreate',
            detail: `dropped and created again${changed ? '' : ' (something it reads changes)'}: grants on it are lost`,
          },
        ]);
      }
    }
    for (const change of this.diff.views.changed) {
      if (this.recreatedViews.has(change.from.name)) continue;
      this.changeView(change);
    }
  }

  private dropView(view: ViewModel): void {
    const uses = [...this.fromDeps.viewUses(view)];
    this.add(
      makeStep(RANK.dropView, viewSubject(view), `DROP ${view.materialized ? 'MATERIALIZED VIEW' : 'VIEW'} ${q(view.name)}`, {
        provides: [`-${relationRef(view.name)}`],
        before: uses.map((r) => `-${r}`),
      }),
    );
  }

  private createView(view: ViewModel, markers: StatementMarker[] = []): void {
    const subject = viewSubject(view);
    const options = view.options === undefined ? '' : ` WITH (${view.options.map(formatOption).join(', ')})`;
    const uses = [...this.toDeps.viewUses(view)];
    this.add(
      makeStep(
        RANK.createView,
        subject,
        `CREATE ${view.materialized ? 'MATERIALIZED VIEW' : 'VIEW'} ${q(view.name)}${options} AS\n${stripTrailingSemicolon(view.definition)}`,
        { markers, provides: [`+${relationRef(view.name)}`], after: uses.map((r) => `+${r}`) },
      ),
    );
    if (view.comment !== undefined) this.commentOn(subject, `${view.materialized ? 'MATERIALIZED VIEW' : 'VIEW'} ${q(view.name)}`, view.comment);
    const empty = { removed: [], added: [], changed: [] };
    this.planIndexes(view.name, {}, view, { ...empty, added: view.indexes ?? [] }, true, true);
    this.planTriggers(view.name, [], view.triggers ?? [], { ...empty, added: view.triggers ?? [] }, true);
  }

  private changeView(change: ViewChange): void {
    const { from, to } = change;
    const subject = viewSubject(to);
    const keyword = to.materialized ? 'MATERIALIZED VIEW' : 'VIEW';
    if (change.fields.includes('options')) {
      const before = from.options ?? [];
      const after = to.options ?? [];
      const reset = before.map(optionKey).filter((k) => !after.some((o) => optionKey(o) === k));
      const set = after.filter((o) => !before.includes(o));
      if (reset.length > 0) this.add(makeStep(RANK.createView, subject, `ALTER ${keyword} ${q(to.name)} RESET (${reset.join(', ')})`));
      if (set.length > 0) this.add(makeStep(RANK.createView, subject, `ALTER ${keyword} ${q(to.name)} SET (${set.map(formatOption).join(', ')})`));
    }
    if (change.fields.includes('comment')) this.commentOn(subject, `${keyword} ${q(to.name)}`, to.comment);
    this.planIndexes(to.name, from, to, change.indexes, false, true);
    this.planTriggers(to.name, from.triggers ?? [], to.triggers ?? [], change.triggers, false);
  }

  // --- Comments --------------------------------------------------------------------------------------------------

  private commentOn(subject: string, target: string, text: string | undefined, concurrent = false): void {
    this.add(
      makeStep(concurrent ? RANK.concurrentComment : RANK.comment, subject, `COMMENT ON ${target} IS ${comment(text)}`, {
        transactional: !concurrent,
      }),
    );
  }
}

function emptyTableChange(from: TableModel, to: TableModel): TableChange {
  const empty = { removed: [], added: [], changed: [] };
  return { from, to, fields: [], columns: empty, constraints: empty, indexes: empty, triggers: empty, policies: empty };
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function formatRoles(roles: readonly string[]): string {
  return roles.length === 0 ? 'PUBLIC' : roles.map((r) => (r === 'public' ? 'PUBLIC' : q(r))).join(', ');
}

/** Whether ADD COLUMN rewrites the table: a stored generated or identity column, or a volatile default. */
function addColumnRewrite(column: ColumnModel): string | undefined {
  if (column.generated !== undefined) return 'rewrites the table to compute the generated column';
  if (column.identity !== undefined) return 'rewrites the table to fill the identity column';
  if (column.default === undefined) return undefined;
  const calls = tokenizeSql(column.default)
    .filter((t, i, all) => t.type === 'identifier' && all[i + 1]?.value === '(')
    .map((t) => t.value);
  const stable = new Set(['now', 'current_timestamp', 'current_date', 'transaction_timestamp', 'statement_timestamp', 'current_user', 'current_setting']);
  if (calls.length === 0 || calls.every((c) => stable.has(c))) return undefined;
  return `rewrites the table if the default (${column.default}) is volatile`;
}

/** Sequence options that differ from CREATE SEQUENCE's defaults for its type and direction. */
function sequenceOptions(s: SequenceModel, defaultName: string | undefined): string[] {
  const options: string[] = [];
  if (defaultName !== undefined && s.name !== defaultName) options.push(`SEQUENCE NAME ${q(s.name)}`);
  const bits = { smallint: 15n, integer: 31n, bigint: 63n }[s.type] ?? 63n;
  const typeMax = (1n << bits) - 1n;
  const typeMin = -(1n << bits);
  const ascending = BigInt(s.increment) > 0n;
  const defaultMin = ascending ? 1n : typeMin;
  const defaultMax = ascending ? typeMax : -1n;
  if (s.increment !== '1') options.push(`INCREMENT BY ${s.increment}`);
  if (BigInt(s.min) !== defaultMin) options.push(`MINVALUE ${s.min}`);
  if (BigInt(s.max) !== defaultMax) options.push(`MAXVALUE ${s.max}`);
  const defaultStart = ascending ? BigInt(s.min) : BigInt(s.max);
  if (BigInt(s.start) !== defaultStart) options.push(`START WITH ${s.start}`);
  if (s.cache !== undefined) options.push(`CACHE ${s.cache}`);
  if (s.cycle) options.push('CYCLE');
  return options;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value as Record<string, unknown>)) deepFreeze(member);
  }
  return value;
}
