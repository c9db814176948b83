/**
 * Which objects of a schema model use which others, for ordering DDL.
 *
 * Exact facts come from `pg_depend` (a view's rewrite rule on the tables,
 * columns, views and functions it reads; a function's dependencies on types),
 * which the schema model does not hold: the catalog reader is to supply them
 * beside the model as `DependencyFacts`. Without them, dependencies are
 * inferred from the names a definition mentions (outside string constants
 * and function bodies): conservative, since a mention that is not a use only
 * adds an ordering constraint. Pure: no I/O.
 */
import { formatFunctionSignature, type FunctionModel, type SchemaModel, type TableModel, type ViewModel } from './model.js';
import { functionHeaderOf, hasSqlStandardBody, triggerFunctionOf } from './definitionParts.js';
import { identifiersIn } from './sqlTokens.js';

/**
 * One `pg_depend` edge between objects of the managed schema: `dependent`
 * needs `referenced`. Objects are named by the manifest's object keys
 * (src/fingerprints/manifest.ts `objectsOf`): `table:users`, `view:active`,
 * `sequence:s`, `enum:mood`, `domain:d`, `composite:c`,
 * `function:touch()` (name and identity arguments), `extension:pg_trgm`.
 */
export interface DependencyEdge {
  readonly dependent: string;
  readonly referenced: string;
  /** For a reference to one column of a table or view (pg_depend.refobjsubid). */
  readonly referencedColumn?: string;
}

export interface DependencyFacts {
  readonly edges: readonly DependencyEdge[];
}

/**
 * References between the planner's own keys: `rel:NAME` for tables, views
 * and sequences (one namespace in pg_class), `type:NAME` for enums, domains
 * and composite types, `func:NAME` for every overload of a function name.
 */
export type ObjectRef = string;

export function relationRef(name: string): ObjectRef {
  return `rel:${name}`;
}
export function typeRef(name: string): ObjectRef {
  return `type:${name}`;
}
export function functionRef(name: string): ObjectRef {
  return `func:${name}`;
}

/** The planner's ref for a manifest object key, or undefined for kinds that need no ordering. */
function refOfObjectKey(key: string): ObjectRef | undefined {
  const colon = key.indexOf(':');
  const kind = key.slice(0, colon);
  const name = key.slice(colon + 1);
  switch (kind) {
    case 'table':
    case 'view':
    case 'sequence':
      return relationRef(name);
    case 'enum':
    case 'domain':
    case 'composite':
      return typeRef(name);
    case 'function': {
      const paren = name.indexOf('(');
      return functionRef(paren < 0 ? name : name.slice(0, paren));
    }
    default:
      return undefined;
  }
}

/** The dependencies of one schema model, from facts when given, else from names. */
export interface ModelDependencies {
  /** True when they come from `DependencyFacts`. */
  readonly exact: boolean;
  /** What a view reads: relations, functions, types. */
  viewUses(view: ViewModel): ReadonlySet<ObjectRef>;
  /** What must exist before a function is created: types and relations of its header; everything a SQL-standard body uses. */
  functionUses(fn: FunctionModel): ReadonlySet<ObjectRef>;
  /** Views that read `table` (only its `column`, when given), directly. */
  viewsReading(table: string, column?: string): readonly string[];
  /** Functions, types and relations that an expression of the model (default, check, index, policy) mentions. */
  textUses(text: string): ReadonlySet<ObjectRef>;
}

export function dependenciesOf(model: SchemaModel, facts?: DependencyFacts): ModelDependencies {
  const relations = new Set<string>([...model.tables, ...model.views, ...model.sequences].map((r) => r.name));
  const types = new Set<string>([...model.enums, ...model.domains, ...model.compositeTypes].map((t) => t.name));
  const functions = new Set<string>(model.functions.map((f) => f.name));

  const refsInText = (text: string, includeBodies = false): Set<ObjectRef> => {
    const refs = new Set<ObjectRef>();
    for (const name of identifiersIn(text, { includeBodies })) {
      if (relations.has(name)) refs.add(relationRef(name));
      if (types.has(name)) refs.add(typeRef(name));
      if (functions.has(name)) refs.add(functionRef(name));
    }
    return refs;
  };

  const factsByDependent = new Map<string, DependencyEdge[]>();
  for (const edge of facts?.edges ?? []) {
    const list = factsByDependent.get(edge.dependent);
    if (list === undefined) factsByDependent.set(edge.dependent, [edge]);
    else list.push(edge);
  }
  const factRefs = (key: string): Set<ObjectRef> =>
    new Set(
      (factsByDependent.get(key) ?? [])
        .map((edge) => refOfObjectKey(edge.referenced))
        .filter((ref): ref is ObjectRef => ref !== undefined && ref !== refOfObjectKey(key)),
    );

  return {
    exact: facts !== undefined,
    viewUses(view) {
      return facts === undefined ? without(refsInText(view.definition), relationRef(view.name)) : factRefs(`view:${view.name}`);
    },
    functionUses(fn) {
      if (facts !== undefined) return factRefs(`function:${formatFunctionSignature(fn)}`);
      const header = functionHeaderOf(fn.definition);
      const text = hasSqlStandardBody(fn.definition) ? fn.definition : `${header.parameters} ${header.returns}`;
      return without(refsInText(text), functionRef(fn.name));
    },
    viewsReading(table, column) {
      if (facts !== undefined) {
        return (facts.edges ?? [])
          .filter((e) => e.referenced === `table:${table}` || e.referenced === `view:${table}`)
          .filter((e) => column === undefined || e.referencedColumn === undefined || e.referencedColumn === column)
          .map((e) => e.dependent)
          .filter((key) => key.startsWith('view:'))
          .map((key) => key.slice('view:'.length));
      }
      return model.views
        .filter((view) => {
          const names = identifiersIn(view.definition);
          return view.name !== table && names.has(table) && (column === undefined || names.has(column));
        })
        .map((view) => view.name);
    },
    textUses(text) {
      return refsInText(text);
    },
  };
}

function without(refs: Set<ObjectRef>, self: ObjectRef): Set<ObjectRef> {
  refs.delete(self);
  return refs;
}

/** The names of types and relations that a table's columns use (types, defaults, generated expressions). */
export function tableUses(deps: ModelDependencies, table: TableModel): Set<ObjectRef> {
  const refs = new Set<ObjectRef>();
  for (const column of table.columns) {
    for (const text of [column.type, column.default, column.generated]) {
      if (text !== undefined) for (const ref of deps.textUses(text)) refs.add(ref);
    }
  }
  refs.delete(relationRef(table.name));
  return refs;
}

/** The function a trigger runs, as a ref. */
export function triggerUses(definition: string): ObjectRef[] {
  const fn = triggerFunctionOf(definition);
  return fn === undefined ? [] : [functionRef(fn)];
}
