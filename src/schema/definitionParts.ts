/**
 * Parts of PostgreSQL's deparsed definitions that the planner needs: the
 * kind of a constraint, the table a foreign key references, the name
 * PostgreSQL gives an unnamed constraint or index, the function a trigger
 * executes, a function's RETURNS clause. Each reads the fixed shape that
 * `pg_get_constraintdef`, `pg_get_indexdef`, `pg_get_triggerdef` and
 * `pg_get_functiondef` print (src/backend/utils/adt/ruleutils.c); anything
 * else gives undefined, and the planner then refuses rather than guesses.
 * Pure: no I/O.
 */
import { makeObjectName } from './generatedNames.js';
import type { ConstraintModel, IndexModel, TableModel } from './model.js';
import { parenthesisedGroup, splitTopLevel, tokenizeSql, type SqlToken } from './sqlTokens.js';

export type ConstraintType = 'primary key' | 'unique' | 'check' | 'foreign key' | 'exclusion';

export function constraintTypeOf(definition: string): ConstraintType | undefined {
  if (definition.startsWith('PRIMARY KEY')) return 'primary key';
  if (definition.startsWith('UNIQUE')) return 'unique';
  if (definition.startsWith('CHECK')) return 'check';
  if (definition.startsWith('FOREIGN KEY')) return 'foreign key';
  if (definition.startsWith('EXCLUDE')) return 'exclusion';
  return undefined;
}

/**
 * The managed-schema table a foreign key references (`REFERENCES users(id)`),
 * or undefined for a table printed schema-qualified (another schema).
 */
export function referencedTableOf(definition: string): string | undefined {
  const tokens = tokenizeSql(definition);
  const at = tokens.findIndex((t) => t.type === 'identifier' && !t.quoted && t.value === 'references');
  if (at < 0) return undefined;
  const name = tokens[at + 1];
  if (name?.type !== 'identifier' || tokens[at + 2]?.value === '.') return undefined;
  return name.value;
}

/** Column names of a foreign key's own side: `FOREIGN KEY (a, b)`. */
export function foreignKeyColumnsOf(definition: string): string[] | undefined {
  const group = parenthesisedGroup(definition);
  return group === undefined ? undefined : columnList(group.inner);
}

/**
 * What PostgreSQL builds an object's name from: `<table>_<columns>_<label>`
 * (`columns` undefined: `<table>_<label>`).
 */
export interface GeneratedNameParts {
  readonly label: string;
  readonly columns: readonly string[] | undefined;
}

export function nameFromParts(table: string, parts: GeneratedNameParts): string {
  return makeObjectName(table, parts.columns === undefined ? undefined : parts.columns.join('_'), parts.label);
}

/**
 * True for constraints whose generated name comes from the column names of
 * their index (unique, exclusion): those names are fixed when the index is
 * built, and RENAME COLUMN does not change them.
 */
export function isIndexBackedConstraint(constraint: ConstraintModel): boolean {
  const type = constraintTypeOf(constraint.definition);
  return type === 'unique' || type === 'exclusion';
}

/** The label and column part PostgreSQL uses to name an unnamed constraint. */
export function constraintNameParts(table: TableModel, constraint: ConstraintModel): GeneratedNameParts | undefined {
  const definition = constraint.definition;
  switch (constraintTypeOf(definition)) {
    case 'primary key':
      return { label: 'pkey', columns: undefined };
    case 'unique': {
      // Key columns, then INCLUDE columns: ChooseIndexColumnNames over all index params.
      const key = parenthesisedGroup(definition);
      if (key === undefined) return undefined;
      const columns = columnList(key.inner);
      const include = includeColumns(definition, key.end);
      return columns === undefined || include === undefined ? undefined : { label: 'key', columns: [...columns, ...include] };
    }
    case 'foreign key': {
      const columns = foreignKeyColumnsOf(definition);
      return columns === undefined ? undefined : { label: 'fkey', columns };
    }
    case 'exclusion': {
      const group = parenthesisedGroup(definition);
      if (group === undefined) return undefined;
      const names = uniqueIndexColumnNames(splitTopLevel(group.inner).map((element) => exclusionElementName(element)));
      const include = includeColumns(definition, group.end);
      return names === undefined || include === undefined ? undefined : { label: 'excl', columns: [...names, ...include] };
    }
    case 'check': {
      // AddRelationNewConstraints: "<table>_<column>_check" when the
      // expression uses exactly one column, else "<table>_check".
      const mentioned = new Set(
        tokenizeSql(definition)
          .filter((t) => t.type === 'identifier')
          .map((t) => t.value),
      );
      const columns = table.columns.map((c) => c.name).filter((name) => mentioned.has(name));
      return { label: 'check', columns: columns.length === 1 ? columns : undefined };
    }
    default:
      return undefined;
  }
}

/**
 * The name PostgreSQL gives `constraint` on `table` when none is given, or
 * undefined when it cannot be told from the definition. The first choice
 * only: on a collision PostgreSQL appends 1, 2, ... (the model cannot tell).
 */
export function generatedConstraintName(table: TableModel, constraint: ConstraintModel): string | undefined {
  const parts = constraintNameParts(table, constraint);
  return parts === undefined ? undefined : nameFromParts(table.name, parts);
}

/** The constraint's actual name: the explicit one, else the generated one. */
export function constraintNameOf(table: TableModel, constraint: ConstraintModel): string | undefined {
  return constraint.name ?? generatedConstraintName(table, constraint);
}

/** `CREATE [UNIQUE] INDEX ON [ONLY] table USING method (elements) ...`: the parts. */
export interface IndexDefinitionParts {
  readonly unique: boolean;
  readonly only: boolean;
  readonly table: string;
  /** From `USING` to the end. */
  readonly rest: string;
}

export function indexDefinitionParts(definition: string): IndexDefinitionParts | undefined {
  const match = /^CREATE (UNIQUE )?INDEX ON (ONLY )?/.exec(definition);
  if (match === null) return undefined;
  const after = definition.slice(match[0].length);
  const tokens = tokenizeSql(after);
  const table = tokens[0];
  const using = tokens[1];
  if (table?.type !== 'identifier' || using?.type !== 'identifier' || using.value !== 'using' || using.quoted) return undefined;
  return { unique: match[1] !== undefined, only: match[2] !== undefined, table: table.value, rest: after.slice(using.start) };
}

/** A `CREATE INDEX` statement for `index` (the model leaves generated names out of the definition). */
export function createIndexStatement(
  index: IndexModel,
  options: { readonly name?: string; readonly concurrently?: boolean; readonly recurse?: boolean } = {},
): string {
  const parts = indexDefinitionParts(index.definition);
  if (parts === undefined) return index.definition;
  const head = `CREATE ${parts.unique ? 'UNIQUE ' : ''}INDEX ${options.concurrently ? 'CONCURRENTLY ' : ''}`;
  const name = options.name === undefined ? '' : `${options.name} `;
  // A partitioned table's index prints as ON ONLY; created without ONLY it
  // recurses to the partitions, as the original CREATE INDEX did.
  const only = parts.only && !options.recurse ? 'ONLY ' : '';
  return `${head}${name}ON ${only}${quoteTableOf(index.definition)} ${parts.rest}`;
}

/** The table as printed in an index definition (quoted as it was). */
function quoteTableOf(definition: string): string {
  const match = /^CREATE (UNIQUE )?INDEX ON (ONLY )?/.exec(definition);
  const after = definition.slice(match?.[0].length ?? 0);
  const table = tokenizeSql(after)[0];
  return table === undefined ? '' : after.slice(table.start, table.end);
}

/**
 * The name PostgreSQL gives an unnamed index: `<table>_<columns>_idx`
 * (ChooseIndexName and ChooseIndexColumnNames in
 * src/backend/commands/indexcmds.c), or undefined when the element names
 * cannot be told.
 */
export function generatedIndexName(index: IndexModel): string | undefined {
  const parts = indexDefinitionParts(index.definition);
  const nameParts = indexNameParts(index);
  return parts === undefined || nameParts === undefined ? undefined : nameFromParts(parts.table, nameParts);
}

export function indexNameParts(index: IndexModel): GeneratedNameParts | undefined {
  const parts = indexDefinitionParts(index.definition);
  if (parts === undefined) return undefined;
  const group = parenthesisedGroup(parts.rest);
  if (group === undefined) return undefined;
  const names = uniqueIndexColumnNames(splitTopLevel(group.inner).map(indexElementName));
  const include = includeColumns(parts.rest, group.end);
  if (names === undefined || include === undefined) return undefined;
  return { label: 'idx', columns: [...names, ...include] };
}

export function indexNameOf(index: IndexModel): string | undefined {
  return index.name ?? generatedIndexName(index);
}

/** `INCLUDE (a, b)` right after the key columns: its columns; [] without one. */
function includeColumns(text: string, after: number): string[] | undefined {
  const rest = text.slice(after).trimStart();
  if (!rest.startsWith('INCLUDE')) return [];
  const group = parenthesisedGroup(rest);
  return group === undefined ? undefined : columnList(group.inner);
}

/** A list of plain column names (`a, "B"`), or undefined if an item is not one. */
function columnList(inner: string): string[] | undefined {
  const names: string[] = [];
  for (const item of splitTopLevel(inner)) {
    const tokens = tokenizeSql(item);
    if (tokens.length !== 1 || tokens[0]!.type !== 'identifier') return undefined;
    names.push(tokens[0]!.value);
  }
  return names;
}

/** Appends 1, 2, ... to repeated names, as ChooseIndexColumnNames does. */
function uniqueIndexColumnNames(names: readonly (string | undefined)[]): string[] | undefined {
  const result: string[] = [];
  for (const name of names) {
    if (name === undefined) return undefined;
    let candidate = name;
    for (let i = 1; result.includes(candidate); i++) candidate = `${name}${i}`;
    result.push(candidate);
  }
  return result;
}

function exclusionElementName(element: string): string | undefined {
  // "during WITH &&": the index element is what precedes WITH.
  const tokens = tokenizeSql(element);
  const withAt = tokens.findIndex((t, i) => i > 0 && t.type === 'identifier' && !t.quoted && t.value === 'with');
  return indexElementName(withAt < 0 ? element : element.slice(0, tokens[withAt]!.start));
}

/**
 * The attribute name an index element gets: a column's name; for an
 * expression what FigureIndexColname (src/backend/parser/parse_target.c)
 * figures, "expr" when nothing.
 */
function indexElementName(element: string): string | undefined {
  const tokens = tokenizeSql(element);
  const first = tokens[0];
  if (first === undefined) return undefined;
  if (first.value === '(') {
    const group = parenthesisedGroup(element);
    return group === undefined ? undefined : (figureColumnName(tokenizeSql(group.inner), group.inner)?.name ?? 'expr');
  }
  if (first.type !== 'identifier') return undefined;
  // A function call prints without extra parentheses: lower(email).
  return figureColumnName(tokens, element)?.name ?? first.value;
}

/**
 * FigureColnameInternal for the shapes deparsed index expressions take:
 * column reference (strength 2), function call (2), a cast (its argument's
 * name if that is strong, else the type's name, 1), CASE (1).
 */
function figureColumnName(tokens: readonly SqlToken[], text: string): { name: string; strength: number } | undefined {
  if (tokens.length === 0) return undefined;
  // A trailing ::type at depth 0 is the outermost cast.
  let depth = 0;
  let lastCast = -1;
  tokens.forEach((t, i) => {
    if (t.value === '(' || t.value === '[') depth++;
    else if (t.value === ')' || t.value === ']') depth--;
    else if (t.value === '::' && depth === 0) lastCast = i;
  });
  if (lastCast > 0) {
    const argument = figureColumnName(tokens.slice(0, lastCast), text);
    if (argument !== undefined && argument.strength > 1) return argument;
    const typeName = tokens.slice(lastCast + 1).filter((t) => t.type === 'identifier').at(-1);
    return typeName === undefined ? undefined : { name: typeName.value, strength: 1 };
  }
  const first = tokens[0]!;
  if (first.value === '(') {
    const group = parenthesisedGroup(text, first.start);
    if (group !== undefined && group.end === tokens.at(-1)!.end) return figureColumnName(tokenizeSql(group.inner), group.inner);
    return undefined;
  }
  if (first.type !== 'identifier') return undefined;
  if (!first.quoted && first.value === 'case') return { name: 'case', strength: 1 };
  // Qualified names: a.b.c( ... ) or a.b.
  let k = 0;
  while (tokens[k + 1]?.value === '.' && tokens[k + 2]?.type === 'identifier') k += 2;
  const last = tokens[k]!;
  const next = tokens[k + 1];
  if (next === undefined) return { name: last.value, strength: 2 };
  if (next.value === '(') {
    const group = parenthesisedGroup(text, next.start);
    const end = tokens.findIndex((t) => group !== undefined && t.start >= group.end);
    // Only when the call is the whole expression (an ORDER/opclass may follow in an index element).
    if (group !== undefined && (end < 0 || tokens[end]!.type === 'identifier')) return { name: last.value, strength: 2 };
    return undefined;
  }
  // A column followed by an opclass, COLLATE, ASC/DESC or NULLS in an index element.
  if (next.type === 'identifier') return { name: last.value, strength: 2 };
  return undefined;
}

/** The function a trigger executes: `EXECUTE FUNCTION name(...)`. */
export function triggerFunctionOf(definition: string): string | undefined {
  const match = /EXECUTE (?:FUNCTION|PROCEDURE) /.exec(definition);
  if (match === null) return undefined;
  const tokens = tokenizeSql(definition.slice(match.index + match[0].length));
  let k = 0;
  while (tokens[k + 1]?.value === '.' && tokens[k + 2]?.type === 'identifier') k += 2;
  return tokens[k]?.type === 'identifier' && tokens[k + 1]?.value === '(' ? tokens[k]!.value : undefined;
}

/**
 * The parts of a `pg_get_functiondef` header that CREATE OR REPLACE cannot
 * change: the full parameter list (names, modes, defaults) and the RETURNS
 * clause.
 */
export function functionHeaderOf(definition: string): { readonly parameters: string; readonly returns: string } {
  const group = parenthesisedGroup(definition);
  const returns = /\n RETURNS (.*)\n/.exec(definition)?.[1] ?? '';
  return { parameters: group?.inner ?? '', returns };
}

/** A SQL-standard body (BEGIN ATOMIC ... END or RETURN expr): parsed at creation, so what it uses must exist. */
export function hasSqlStandardBody(definition: string): boolean {
  return !/\nAS /.test(definition);
}

/** `table.column` of `OWNED BY` as printed (`users.id`, `"Users".id`), or undefined for another schema. */
export function ownedByParts(ownedBy: string): { readonly table: string; readonly column: string } | undefined {
  const tokens = tokenizeSql(ownedBy);
  if (tokens.length !== 3 || tokens[1]!.value !== '.' || tokens[0]!.type !== 'identifier' || tokens[2]!.type !== 'identifier') {
    return undefined;
  }
  return { table: tokens[0]!.value, column: tokens[2]!.value };
}
