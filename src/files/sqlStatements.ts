/**
 * SQL read with PostgreSQL's own grammar. libpg-query is the server's parser
 * (src/backend/parser/gram.y, via libpg_query) compiled to WebAssembly, so
 * what it calls a statement, and where it says one starts, is what the
 * server will run; no regular expression has to guess at dollar quotes,
 * nested comments or `E''` strings.
 *
 * The runner needs two facts from a migration's SQL: which statements control
 * transactions (they would end the batch's transaction: README, "How it
 * behaves"), and whether it adds an enum value (which must commit before a
 * later migration uses it). Parsing is cheap (~70 ms for 1,000 small files)
 * but loading the parser is not free, so a keyword prefilter decides whether
 * a text needs it at all, and the parser loads on first use.
 */
import { importPackage } from './importPackage.js';

type LibPgQuery = typeof import('libpg-query');
let loading: Promise<LibPgQuery> | undefined;

function loadParser(): Promise<LibPgQuery> {
  loading ??= importPackage<LibPgQuery>('libpg-query').then(async (parser) => {
    await parser.loadModule();
    return parser;
  });
  return loading;
}

/**
 * Every statement that controls a transaction starts with one of these
 * keywords (BEGIN, START TRANSACTION, COMMIT, END, ROLLBACK, ABORT,
 * SAVEPOINT, RELEASE, PREPARE TRANSACTION, COMMIT/ROLLBACK PREPARED), and
 * `ALTER TYPE … ADD VALUE` contains VALUE. Keywords cannot be quoted, so a
 * text in which none appears as a word holds none of them and need not be
 * parsed. A superset: a match only costs a parse.
 */
const KEYWORDS = /\b(?:begin|start|commit|end|rollback|abort|savepoint|release|prepare|value)\b/i;

export function mayControlTransactions(text: string): boolean {
  return KEYWORDS.test(text);
}

/** A top-level statement that controls the transaction, by what it does. */
export type TransactionControl =
  | { readonly kind: 'begin'; readonly withOptions: boolean }
  | { readonly kind: 'commit'; readonly andChain: boolean }
  | { readonly kind: 'rollback'; readonly andChain: boolean }
  | { readonly kind: 'savepoint' | 'release' | 'rollback-to'; readonly savepoint: string }
  | { readonly kind: 'prepare-transaction' | 'commit-prepared' | 'rollback-prepared' };

export interface ParsedStatement {
  /** Offsets into the text (UTF-16, as JavaScript counts); `end` excludes the terminating `;`. */
  readonly start: number;
  readonly end: number;
  /** 1-based line of the statement's first token in the text. */
  readonly line: number;
  readonly control: TransactionControl | null;
  /** `ALTER TYPE … ADD VALUE`: the value cannot be used before this transaction commits. */
  readonly addsEnumValue: boolean;
}

/**
 * The top-level statements of `text`, or null when the grammar rejects it
 * (the server then reports the error when the text runs, as it would have).
 */
export async function parseStatements(text: string): Promise<ParsedStatement[] | null> {
  if (!text.trim()) return [];
  const parser = await loadParser();
  let stmts: readonly RawStatement[];
  try {
    stmts = (parser.parseSync(text) as { stmts?: RawStatement[] }).stmts ?? [];
  } catch {
    return null;
  }
  const charOffset = charOffsetOf(text);
  return stmts.map((raw) => {
    const startByte = raw.stmt_location ?? 0;
    const start = charOffset(startByte);
    // No length: the statement runs to the end of the text.
    const end = raw.stmt_len ? charOffset(startByte + raw.stmt_len) : text.trimEnd().length;
    return {
      start,
      end,
      line: lineAt(text, start),
      control: controlOf(raw.stmt),
      addsEnumValue: addsEnumValue(raw.stmt),
    };
  });
}

/** Where a text holds what only psql understands (findPsqlOnly). */
export interface PsqlOnly {
  /** Offset into the text (UTF-16) of the meta-command, or of the COPY statement. */
  readonly offset: number;
  readonly what: 'meta-command' | 'copy-from-stdin';
}

/**
 * What only psql understands in a file written for it: a meta-command line
 * (`\set`, `\i`, `\connect`, …: psql's, never sent to the server), or a
 * `COPY … FROM STDIN` whose rows psql sends from the lines after it. The
 * runner sends SQL to the server, so the first fails there, after the
 * migrations before it ran, and the second has no rows to send. Only a
 * text with a line starting with a backslash, or the word STDIN, is parsed;
 * a meta-command is where the grammar stops at a backslash.
 */
export async function findPsqlOnly(text: string): Promise<PsqlOnly | null> {
  if (!/^[ \t]*\\|\bstdin\b/im.test(text)) return null;
  const parser = await loadParser();
  const charOffset = charOffsetOf(text);
  const copyFromStdin = (sql: string): number | null => {
    let stmts: readonly RawStatement[];
    try {
      stmts = (parser.parseSync(sql) as { stmts?: RawStatement[] }).stmts ?? [];
    } catch {
      return null;
    }
    const copy = stmts.find((raw) => {
      const node = raw.stmt.CopyStmt as { is_from?: boolean; filename?: string; is_program?: boolean } | undefined;
      return node?.is_from === true && node.filename === undefined;
    });
    return copy ? charOffset(copy.stmt_location ?? 0) : null;
  };
  try {
    parser.parseSync(text);
  } catch (error) {
    // A character offset, as the server counts its error positions (unlike stmt_location, in bytes).
    const at = (error as { sqlDetails?: { cursorPosition?: number } }).sqlDetails?.cursorPosition;
    if (at === undefined) return null;
    if (text[at] === '\\') return { offset: at, what: 'meta-command' };
    // The rows after a COPY … FROM STDIN are where the grammar stops: the COPY is the text's last statement before them.
    const lineStart = text.lastIndexOf('\n', at - 1) + 1;
    const copy = copyFromStdin(text.slice(0, lineStart));
    return copy === null ? null : { offset: copy, what: 'copy-from-stdin' };
  }
  const copy = copyFromStdin(text);
  return copy === null ? null : { offset: copy, what: 'copy-from-stdin' };
}

/** libpg_query gives statements' locations as byte offsets into the UTF-8 text: as offsets into `text` (UTF-16). */
function charOffsetOf(text: string): (byte: number) => number {
  const bytes = Buffer.from(text, 'utf8');
  return bytes.length === text.length ? (byte) => byte : (byte) => bytes.subarray(0, byte).toString('utf8').length;
}

interface RawStatement {
  readonly stmt: Record<string, Record<string, unknown>>;
  readonly stmt_location?: number;
  readonly stmt_len?: number;
}

function controlOf(stmt: RawStatement['stmt']): TransactionControl | null {
  const node = stmt.TransactionStmt as
    | { kind?: string; options?: unknown[]; chain?: boolean; savepoint_name?: string }
    | undefined;
  if (!node) return null;
  const savepoint = node.savepoint_name ?? '';
  switch (node.kind) {
    case 'TRANS_STMT_BEGIN':
    case 'TRANS_STMT_START':
      return { kind: 'begin', withOptions: Boolean(node.options?.length) };
    case 'TRANS_STMT_COMMIT':
      return { kind: 'commit', andChain: node.chain === true };
    case 'TRANS_STMT_ROLLBACK':
      return { kind: 'rollback', andChain: node.chain === true };
    case 'TRANS_STMT_SAVEPOINT':
      return { kind: 'savepoint', savepoint };
    case 'TRANS_STMT_RELEASE':
      return { kind: 'release', savepoint };
    case 'TRANS_STMT_ROLLBACK_TO':
      return { kind: 'rollback-to', savepoint };
    case 'TRANS_STMT_PREPARE':
      return { kind: 'prepare-transaction' };
    case 'TRANS_STMT_COMMIT_PREPARED':
      return { kind: 'commit-prepared' };
    default:
      // TRANS_STMT_ROLLBACK_PREPARED, and any kind a later grammar adds: transaction control all the same.
      return { kind: 'rollback-prepared' };
  }
}

/** AlterEnumStmt adds a value when it has a new value and no old one (RENAME VALUE has both). */
function addsEnumValue(stmt: RawStatement['stmt']): boolean {
  const node = stmt.AlterEnumStmt as { newVal?: string; oldVal?: string } | undefined;
  return Boolean(node && node.newVal !== undefined && node.oldVal === undefined);
}

/** 1-based line of `offset` in `text`. */
export function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let at = text.indexOf('\n'); at >= 0 && at < offset; at = text.indexOf('\n', at + 1)) line++;
  return line;
}

/** The statement as written, on one line, for a message. */
export function statementText(text: string, statement: ParsedStatement, max = 80): string {
  const oneLine = text.slice(statement.start, statement.end).replace(/\s+/g, ' ').trim();
  return oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
}

/**
 * `text` with a statement and its terminating `;` replaced by spaces, lines
 * kept, so that line numbers and error positions in the rest stay true.
 */
export function blankStatement(text: string, statement: ParsedStatement): string {
  let end = statement.end;
  const terminator = /^\s*;/.exec(text.slice(end));
  if (terminator) end += terminator[0].length;
  const blanked = text.slice(statement.start, end).replace(/[^\n]/g, ' ');
  return text.slice(0, statement.start) + blanked + text.slice(end);
}
