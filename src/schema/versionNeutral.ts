/**
 * Deparsed SQL in one form for every PostgreSQL major from 13 to 18, so a
 * manifest written on one major matches the same schema built on another
 * (README "Fingerprints across PostgreSQL versions").
 *
 * What PostgreSQL's deparser (src/backend/utils/adt/ruleutils.c) prints
 * differently between majors, and the one form kept:
 * - Functions with SQL-standard syntax. 14 and later print what was written
 *   (`POSITION(a IN b)`, `SUBSTRING(a FROM 2)`, `TRIM(BOTH FROM a)`,
 *   `a AT TIME ZONE z`, `OVERLAY(...)`, `COLLATION FOR (a)`,
 *   `NORMALIZE(a, NFC)`); 13 prints the function it calls (`"position"(b, a)`,
 *   `"substring"(a, 2)`, `btrim(a)`, `timezone(z, a)`, ...), which loses how it
 *   was written. The form kept is 13's function call: the same function,
 *   so the same meaning on every major. `EXTRACT(f FROM x)` and
 *   `date_part('f', x)` are kept as `EXTRACT(f FROM x)`: 13 turns EXTRACT
 *   into date_part, 14 and later call a function of their own (numeric
 *   rather than double precision), so the written form is what means the
 *   same on each major.
 * - Views: 16 and later no longer qualify column names in a query over one
 *   relation (the views' dummy OLD and NEW entries were removed from the
 *   range table), `SELECT id FROM users` rather than `SELECT users.id FROM
 *   users`; the unqualified form is kept, cut out of PostgreSQL's own text at
 *   the positions the parser reports, so the rest of the text stays as
 *   PostgreSQL printed it.
 *
 * Texts with such functions are parsed by libpg-query (PostgreSQL's own
 * parser) and printed again by pgsql-deparser; both are loaded only when a
 * read meets such a text or a view. A text either cannot parse or print is
 * kept as PostgreSQL printed it.
 */
import { importPackage } from '../files/importPackage.js';

export interface VersionNeutral {
  /** A column default, generated expression, policy or domain default (`pg_get_expr`). */
  expression(text: string): string;
  /** A constraint's definition (`pg_get_constraintdef`), e.g. `CHECK (...)`. */
  constraint(text: string): string;
  /** A whole statement: an index, trigger, rule or statistics definition. */
  statement(text: string): string;
  /** `pg_get_viewdef(oid, true)`. */
  view(text: string): string;
}

/** Leaves every text as PostgreSQL printed it: what a read gets when nothing in it needs the parser. */
const AS_PRINTED: VersionNeutral = { expression: same, constraint: same, statement: same, view: same };

function same(text: string): string {
  return text;
}

/**
 * Names whose printed form differs between majors: the SQL-syntax forms
 * (14 and later) and the function calls 13 prints for them.
 */
const MAJOR_DEPENDENT_TEXT =
  /\b(?:POSITION|SUBSTRING|EXTRACT|TRIM|OVERLAY|NORMALIZE|NORMALIZED|COLLATION FOR|AT TIME ZONE)\b|\b(?:position|substring|overlay|date_part|btrim|ltrim|rtrim|timezone|pg_collation_for|normalize|is_normalized)"?\(/;

/** True when `text` may print differently on another major. */
export function mayDifferBetweenMajors(text: string): boolean {
  return MAJOR_DEPENDENT_TEXT.test(text);
}

interface Parser {
  parseSync(sql: string): { stmts: { stmt: AstNode }[] };
}
interface Deparser {
  deparseSync(ast: unknown, options?: { pretty?: boolean }): string;
}
type AstNode = Record<string, unknown>;

let parserLoading: Promise<Parser> | undefined;
let deparserLoading: Promise<Deparser> | undefined;

/**
 * The normaliser for a read whose texts are `texts`: the real one when any
 * of them needs the parser (a view, or a major-dependent name), loading
 * libpg-query (and pgsql-deparser, only when a text needs printing again)
 * once per process; else `AS_PRINTED`.
 */
export async function loadVersionNeutral(
  texts: readonly (string | null | undefined)[],
  views: number,
  /** View texts already unqualified (unqualifyViews), by their text as printed. */
  unqualified?: ReadonlyMap<string, string>,
): Promise<VersionNeutral> {
  const reprinting = texts.some((t) => typeof t === 'string' && mayDifferBetweenMajors(t));
  if (views === 0 && !reprinting) return AS_PRINTED;
  const parser = loadParser();
  if (reprinting) deparserLoading ??= importPackage<Deparser>('pgsql-deparser');
  // Without a text to print again, the printer is never called (reprint returns such texts as they are).
  const deparser = reprinting ? await deparserLoading! : { deparseSync: (): string => { throw new Error('not loaded'); } };
  return createVersionNeutral(await parser, deparser, unqualified);
}

/**
 * Each view text as 16 and later print it (unqualifySingleRelationView), by
 * its text as printed: done ahead, while the server runs the read's next
 * queries (catalog.ts), so that the parsing is not added after them; a text
 * that does not parse is kept.
 */
export async function unqualifyViews(texts: readonly string[]): Promise<Map<string, string>> {
  const parser = await loadParser();
  return new Map(texts.map((text) => [text, unqualifiedView(parser, text)]));
}

function unqualifiedView(parser: Parser, text: string): string {
  try {
    return unqualifySingleRelationView(text, parser.parseSync(text));
  } catch {
    // Kept as printed.
    return text;
  }
}

function loadParser(): Promise<Parser> {
  parserLoading ??= (async () => {
    const parser = await importPackage<Parser & { loadModule(): Promise<void> }>('libpg-query');
    await parser.loadModule();
    return parser;
  })();
  return parserLoading;
}

/**
 * Starts loading the parser for a read that has views to normalise, so that
 * it loads (tens of milliseconds, mostly compiling WebAssembly) while the
 * catalog queries run rather than after them. loadVersionNeutral awaits the
 * same load, and reports its failure.
 */
export function startLoadingParser(): void {
  loadParser().catch(() => undefined);
}

export function createVersionNeutral(parser: Parser, deparser: Deparser, unqualified?: ReadonlyMap<string, string>): VersionNeutral {
  /** `text` parsed inside `prefix`, normalised and printed again, with `prefix` taken off; `text` itself when any step fails. */
  const reprint = (text: string, prefix: string, suffix = ''): string => {
    if (!mayDifferBetweenMajors(text)) return text;
    try {
      const ast = parser.parseSync(`${prefix}${text}${suffix}`);
      // Printed again even when nothing was rewritten: the printer's parentheses differ from PostgreSQL's.
      normaliseFunctions(ast);
      const printed = deparser.deparseSync(ast, { pretty: false });
      return printed.startsWith(prefix) ? printed.slice(prefix.length) : text;
    } catch {
      return text;
    }
  };
  return {
    expression: (text) => reprint(text, 'SELECT '),
    constraint: (text) => reprint(text, 'ALTER TABLE t ADD '),
    statement: (text) => reprint(text, ''),
    view: (text) => reprint(unqualified?.get(text) ?? unqualifiedView(parser, text), ''),
  };
}

// --- Functions with SQL-standard syntax ----------------------------------------------

/** SQL-syntax forms kept as the function call PostgreSQL 13 prints for them. */
const AS_FUNCTION_CALL = new Set(['position', 'substring', 'overlay', 'btrim', 'ltrim', 'rtrim', 'timezone', 'pg_collation_for', 'normalize', 'is_normalized']);

/** Rewrites every such call of the tree in place; true when anything changed. */
function normaliseFunctions(tree: unknown): boolean {
  let changed = false;
  walk(tree, (node) => {
    const expr = node.A_Expr as AstNode | undefined;
    if (expr !== undefined) {
      // EXTRACT gives double precision on 13, numeric on 14 and later, so a number next to it is cast to either.
      for (const [side, other] of [['lexpr', 'rexpr'], ['rexpr', 'lexpr']] as const) {
        const operand = expr[side] as AstNode | undefined;
        if (operand === undefined || !isExtract(expr[other] as AstNode | undefined)) continue;
        const number = withoutCastsTo(operand, NUMERIC_TARGETS);
        if (number !== operand && (number.A_Const as AstNode | undefined) !== undefined && (number.A_Const as AstNode).sval === undefined) {
          expr[side] = number;
          changed = true;
        }
      }
    }
    const call = node.FuncCall as AstNode | undefined;
    if (call === undefined) return true;
    const names = (call.funcname as AstNode[] | undefined)?.map((n) => (n.String as { sval?: string } | undefined)?.sval);
    if (names === undefined || names.some((n) => n === undefined)) return true;
    const qualifier = names.length === 2 ? names[0] : undefined;
    const name = names[names.length - 1]!;
    if (names.length > 2 || (qualifier !== undefined && qualifier !== 'pg_catalog')) return true;
    const args = (call.args as AstNode[] | undefined) ?? [];
    const sqlSyntax = call.funcformat === 'COERCE_SQL_SYNTAX';
    if (SQL_SYNTAX_FAMILY.has(name) && (qualifier === undefined || qualifier === 'pg_catalog')) {
      // 13 prints the implicit casts of the arguments of the function call (`(email)::text` of a varchar);
      // the SQL-syntax form of 14 and later hides them. Kept without, on every major.
      for (let i = 0; i < args.length; i++) {
        const stripped = withoutCastsTo(args[i]!, IMPLICIT_TARGETS);
        if (stripped !== args[i]) (args[i] = stripped, changed = true);
      }
    }
    if (sqlSyntax && AS_FUNCTION_CALL.has(name)) {
      call.funcname = [{ String: { sval: name } }];
      delete call.funcformat;
      if ((name === 'normalize' || name === 'is_normalized') && args[1] !== undefined) args[1] = stringConstantOf(args[1]) ?? args[1];
      changed = true;
    } else if (!sqlSyntax && name === 'date_part' && args.length === 2) {
      const field = stringConstantOf(args[0]!);
      if (field === undefined) return true;
      call.funcname = [{ String: { sval: 'pg_catalog' } }, { String: { sval: 'extract' } }];
      call.funcformat = 'COERCE_SQL_SYNTAX';
      args[0] = field;
      changed = true;
    } else if (!sqlSyntax && (name === 'normalize' || name === 'is_normalized') && args[1] !== undefined) {
      const form = stringConstantOf(args[1]);
      if (form !== undefined && form !== args[1]) (args[1] = form, changed = true);
    }
    return true;
  });
  return changed;
}

/** The functions with an SQL-syntax form, under either name. */
const SQL_SYNTAX_FAMILY = new Set([...AS_FUNCTION_CALL, 'date_part', 'extract']);

/** Types the arguments of those functions are implicitly cast to (text, and timestamps for EXTRACT of a date). */
const IMPLICIT_TARGETS = new Set(['text', 'timestamp', 'timestamptz']);

/** `node` without the casts to `targets` around it. */
function withoutCastsTo(node: AstNode, targets: ReadonlySet<string>): AstNode {
  let current = node;
  for (;;) {
    const cast = current.TypeCast as AstNode | undefined;
    if (cast === undefined) return current;
    const typeName = cast.typeName as AstNode | undefined;
    const names = (typeName?.names as AstNode[] | undefined)?.map((n) => (n.String as { sval?: string } | undefined)?.sval);
    const last = names?.[names.length - 1];
    const qualifiedOk = names !== undefined && (names.length === 1 || names[0] === 'pg_catalog');
    if (last === undefined || !qualifiedOk || !targets.has(last) || typeName?.arrayBounds !== undefined || typeName?.typmods !== undefined) return current;
    current = cast.arg as AstNode;
  }
}

const NUMERIC_TARGETS = new Set(['numeric', 'float8']);

/** An EXTRACT (or date_part) call, in either form. */
function isExtract(node: AstNode | undefined): boolean {
  const call = node?.FuncCall as AstNode | undefined;
  const names = (call?.funcname as AstNode[] | undefined)?.map((n) => (n.String as { sval?: string } | undefined)?.sval);
  const name = names?.[names.length - 1];
  return name === 'extract' || name === 'date_part';
}

/** A string constant, with a `::text` cast around it taken off; undefined for anything else. */
function stringConstantOf(node: AstNode): AstNode | undefined {
  const constant = node.A_Const as AstNode | undefined;
  if (constant?.sval !== undefined) return node;
  const cast = node.TypeCast as AstNode | undefined;
  if (cast === undefined) return undefined;
  const typeNames = ((cast.typeName as AstNode | undefined)?.names as AstNode[] | undefined)?.map((n) => (n.String as { sval?: string } | undefined)?.sval);
  const isText = typeNames !== undefined && typeNames[typeNames.length - 1] === 'text' && (typeNames.length === 1 || typeNames[0] === 'pg_catalog');
  const inner = cast.arg as AstNode | undefined;
  return isText && (inner?.A_Const as AstNode | undefined)?.sval !== undefined ? inner : undefined;
}

// --- Views over one relation ----------------------------------------------------------

/**
 * The view text without the relation's name before its columns when the
 * query is a plain SELECT over exactly one relation: what 16 and later
 * print. Only the query's own level: subqueries (which every major
 * qualifies) keep their names.
 */
function unqualifySingleRelationView(text: string, ast: { stmts: { stmt: AstNode }[] }): string {
  const select = ast.stmts[0]?.stmt.SelectStmt as AstNode | undefined;
  if (select === undefined || ast.stmts.length !== 1) return text;
  if (select.op !== undefined && select.op !== 'SETOP_NONE') return text;
  const from = select.fromClause as AstNode[] | undefined;
  if (from?.length !== 1) return text;
  const refname = refnameOf(from[0]!);
  if (refname === undefined) return text;

  const bytes = Buffer.from(text, 'utf8');
  // ruleutils quotes a name that is upper case or a keyword; either spelling may be there.
  const prefixes = [`${refname}.`, `"${refname.replace(/"/g, '""')}".`].map((p) => Buffer.from(p, 'utf8'));
  const cuts = new Map<number, number>();
  const visit = (node: AstNode): boolean => {
    if (node.SubLink !== undefined) {
      // Only the left-hand side belongs to this level; the subquery is qualified on every major.
      walk((node.SubLink as AstNode).testexpr, visit);
      return false;
    }
    const ref = node.ColumnRef as { fields?: AstNode[]; location?: number } | undefined;
    if (ref === undefined) return true;
    const fields = ref.fields ?? [];
    const first = (fields[0]?.String as { sval?: string } | undefined)?.sval;
    if (fields.length === 2 && first === refname && fields[1]?.String !== undefined && typeof ref.location === 'number') {
      const at = ref.location;
      const prefix = prefixes.find((p) => bytes.subarray(at, at + p.length).equals(p));
      if (prefix !== undefined) cuts.set(at, prefix.length);
    }
    return false;
  };
  walk({ ...select, fromClause: undefined, withClause: undefined }, visit);
  if (cuts.size === 0) return text;
  const pieces: Buffer[] = [];
  let at = 0;
  for (const [cut, length] of [...cuts].sort(([a], [b]) => a - b)) {
    pieces.push(bytes.subarray(at, cut));
    at = cut + length;
  }
  pieces.push(bytes.subarray(at));
  return Buffer.concat(pieces).toString('utf8');
}

/** The name a FROM item's columns are qualified with, when it is one relation. */
function refnameOf(item: AstNode): string | undefined {
  const alias = (node: AstNode | undefined): string | undefined => ((node?.alias as AstNode | undefined)?.aliasname as string | undefined);
  if (item.RangeVar !== undefined) {
    const range = item.RangeVar as AstNode;
    return alias(range) ?? (range.relname as string | undefined);
  }
  if (item.RangeSubselect !== undefined) return alias(item.RangeSubselect as AstNode);
  if (item.RangeFunction !== undefined) return alias(item.RangeFunction as AstNode);
  return undefined;
}

/** Depth-first over every object of the tree; `visit` returns false to skip a node's children. */
function walk(tree: unknown, visit: (node: AstNode) => boolean): void {
  if (Array.isArray(tree)) {
    for (const item of tree) walk(item, visit);
    return;
  }
  if (tree === null || typeof tree !== 'object') return;
  if (!visit(tree as AstNode)) return;
  for (const value of Object.values(tree as AstNode)) walk(value, visit);
}
