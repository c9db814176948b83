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
/** libpg-query's parser and lexer, given every text as they must be (wellFormed, lexable). */
type Parser = Pick<LibPgQuery, 'parseSync' | 'scanSync'>;
let loading: Promise<Parser> | undefined;

function loadParser(): Promise<Parser> {
  loading ??= importPackage<LibPgQuery>('libpg-query').then(async (parser) => {
    await parser.loadModule();
    return {
      parseSync: (text: string) => parser.parseSync(wellFormed(text)),
      scanSync: (text: string) => parser.scanSync(lexable(text)),
    };
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
  const lineOf = linesOf(text);
  return stmts.map((raw) => {
    const startByte = raw.stmt_location ?? 0;
    const start = charOffset(startByte);
    // No length: the statement runs to the end of the text.
    const end = raw.stmt_len ? charOffset(startByte + raw.stmt_len) : text.trimEnd().length;
    return {
      start,
      end,
      line: lineOf(start),
      control: controlOf(raw.stmt),
      addsEnumValue: addsEnumValue(raw.stmt),
    };
  });
}

/**
 * Whether every string, quoted name and comment `text` opens it also closes.
 * The runner sends several migrations' SQL in one round trip, joined: one
 * left open would run on into the next, and what the checks read of that one
 * would not be what the server reads. Read here where the text holds no `$`
 * and no backslash ('…' and "…" with their doubled quotes, `--` and nested
 * block comments: the lexer's rules, scan.l); where it does (a dollar quote,
 * or a `$` in a name; an escape), by the lexer itself: lexing costs some
 * 80 µs a small file, 7% of applying one (bench/RESULTS.md, the apply row).
 */
export async function closesWhatItOpens(text: string): Promise<boolean> {
  if (/[$\\]/.test(text)) return (await tokensOf(text)) !== null;
  let inside: "'" | '"' | '--' | null = null;
  let comments = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    const two = text.slice(i, i + 2);
    if (comments > 0) {
      if (two === '/*') comments++;
      else if (two === '*/') comments--;
      else continue;
      i++;
    } else if (inside === '--') {
      if (c === '\n') inside = null;
    } else if (inside !== null) {
      // A doubled quote is one in the string (or name); a single one ends it.
      if (c === inside) {
        if (text[i + 1] === inside) i++;
        else inside = null;
      }
    } else if (two === '/*') {
      comments = 1;
      i++;
    } else if (two === '--') {
      inside = '--';
      i++;
    } else if (c === "'" || c === '"') {
      inside = c;
    }
  }
  // A line comment ends where the text does: the next migration's SQL starts on a line of its own.
  return comments === 0 && (inside === null || inside === '--');
}

/**
 * The statements of a text the grammar rejects, found with PostgreSQL's lexer
 * instead: the server it is written for may accept it (`system_user` is an
 * identifier up to PostgreSQL 15, a reserved word in the parser's 18), and
 * then runs its COMMIT as any other. The lexer knows strings, dollar quotes
 * and comments in every supported major; statements end at a `;` outside
 * parentheses and outside the BEGIN ATOMIC … END body of a CREATE FUNCTION
 * or PROCEDURE (the grammar's routine_body; psql keeps a count of the same
 * kind, begin_depth in
 * https://github.com/postgres/postgres/blob/master/src/fe_utils/psqlscan.l,
 * but of every BEGIN).
 * Each is classified by its leading words, as the grammar's TransactionStmt
 * rules read them (gram.y). A number with letters after it (`1abc`) is read
 * as 13 and 14 read it, the number and then a name (lexAsUpTo14). Null when
 * even the lexer rejects the text: an unterminated string or comment, which
 * every server rejects too; or such a number after a grammar error at what
 * is no word (13's postfix operator, `5 !`), where nothing says where it is:
 * there the server's transaction status is the check.
 */
export async function scanStatements(text: string): Promise<ParsedStatement[] | null> {
  if (!text.trim()) return [];
  const tokens = await tokensOf(text);
  if (!tokens) return null;
  const statements: ParsedStatement[] = [];
  const lineOf = linesOf(text);
  let current: { start: number; words: ScannedWord[] } | null = null;
  let parentheses = 0;
  let bodyDepth = 0;
  /** The token before this one, where it was a word: BEGIN ATOMIC is two words with nothing between. */
  let previous: ScannedWord | null = null;
  /** Where the last `;` inside a routine's body is, while no token has followed it. */
  let bodySemicolon: number | null = null;
  // As the grammar's, a statement ends where its `;` starts (comments before it are in it); the last, where the text's trimmed end is.
  const close = (end: number) => {
    if (current) statements.push(scannedStatement(current.start, end, lineOf(current.start), current.words));
    current = null;
    parentheses = 0;
    bodyDepth = 0;
    bodySemicolon = null;
  };
  for (const token of tokens) {
    if (token.tokenName === 'SQL_COMMENT' || token.tokenName === 'C_COMMENT') continue;
    const { start: from, end: to } = token;
    const piece = text.slice(from, to);
    if (piece === ';' && parentheses === 0) {
      if (bodyDepth === 0) close(from);
      else bodySemicolon = from;
      previous = null;
      continue;
    }
    const word = wordOf(piece, token);
    const before = previous;
    previous = word;
    if (bodySemicolon !== null) {
      // A routine's body holds no transaction control: where one follows a `;` there, the count was wrong
      // (text no server reads), and the statement ended at that `;`.
      if (word?.keyword && word.keyword !== 'end' && TRANSACTION_WORDS.has(word.keyword)) close(bodySemicolon);
      bodySemicolon = null;
    }
    current ??= { start: from, words: [] };
    if (piece === '(') parentheses++;
    else if (piece === ')') parentheses = Math.max(0, parentheses - 1);
    if (!word) continue;
    current.words.push(word);
    if (parentheses === 0 && isRoutineDefinition(current.words)) {
      // The grammar's body is BEGIN ATOMIC … END (psql counts any BEGIN: a routine or a type named begin, or an
      // alias, would hide an END after it); inside, a CASE ends with END too.
      if (word.keyword === 'atomic' && before?.keyword === 'begin' && bodyDepth === 0) bodyDepth = 1;
      else if (word.keyword === 'case' && bodyDepth > 0) bodyDepth++;
      else if (word.keyword === 'end' && bodyDepth > 0) bodyDepth--;
    }
  }
  close(bodySemicolon ?? text.trimEnd().length);
  return statements;
}

interface Token {
  /** Offsets into the text (UTF-16), as ParsedStatement's. */
  readonly start: number;
  readonly end: number;
  readonly tokenName: string;
  readonly keywordKind: number;
}

/**
 * The lexer's tokens of `text`, or null where it rejects the text. Its
 * offsets count UTF-8 bytes: converted in one pass, as the tokens come in
 * order (charOffsetOf would decode the text up to each), then back to the
 * text as it was where a space was put between a number and a name
 * (lexAsUpTo14).
 */
async function tokensOf(text: string): Promise<Token[] | null> {
  const parser = await loadParser();
  const lexed = lexAsUpTo14(parser, text);
  if (!lexed) return null;
  const bytes = Buffer.from(lexed.text, 'utf8');
  let byte = 0;
  let char = 0;
  const toChar = bytes.length === lexed.text.length
    ? (to: number) => to
    : (to: number) => {
      char += bytes.subarray(byte, to).toString('utf8').length;
      byte = to;
      return char;
    };
  let spacesBefore = 0;
  const { spaces } = lexed;
  // A token never starts on a space put in; a number's ends where one is, and counts none from it.
  const toText = (at: number) => {
    while (spacesBefore < spaces.length && spaces[spacesBefore]! < at) spacesBefore++;
    return at - spacesBefore;
  };
  return lexed.tokens.map((token) => {
    const start = toChar(token.start);
    const end = toChar(token.end);
    return { ...token, start: toText(start), end: toText(end) };
  });
}

/**
 * The lexer's tokens, read as PostgreSQL 13 and 14 read the text: up to 14 a
 * number with letters after it (`1abc`, `0x1f`, `0x`, `1_000`) is the number
 * and then a name (`SELECT 1abc` is 1 AS abc), where the lexer, as servers
 * from 15 on, rejects it ("trailing junk after numeric literal":
 * https://www.postgresql.org/docs/15/release-15.html, "Prevent numeric
 * literals from having non-numeric trailing characters"). So that a COMMIT
 * after one is read as such, a space goes where 14's number ends, at each
 * place the grammar names, and the text is lexed again; `spaces` holds where
 * each went, in the text lexed. The grammar stops at the first error, which
 * may be at a name before the number (`system_user`, a name up to 15), or
 * right after one: the grammar reads on from a copy with x's in that word's
 * place, which the lexer reads as it read the word. Null where the lexer
 * rejects the text for another reason (an unterminated string or comment),
 * or the grammar stops with no word at or right before where it stops, or
 * more than MAX_GRAMMAR_STOPS times.
 */
function lexAsUpTo14(parser: Parser, text: string): { text: string; tokens: readonly Token[]; spaces: number[] } | null {
  let lexed = text;
  /** `lexed`, with each word the grammar stopped at replaced: what it reads on from. The offsets of the two agree. */
  let reread = text;
  const spaces: number[] = [];
  let lexAgain = true;
  let stoppedAt = -1;
  for (let step = 0; step <= MAX_GRAMMAR_STOPS; step++) {
    if (lexAgain) {
      try {
        return { text: lexed, tokens: parser.scanSync(lexed).tokens, spaces };
      } catch {
        // Where the lexer stopped, only the grammar's error says.
      }
      lexAgain = false;
    }
    const stop = grammarErrorOf(parser, reread);
    if (stop?.at == null || stop.at <= stoppedAt) return null;
    const { message, at } = stop;
    const near = /at or near "(.*)"$/s.exec(message)?.[1];
    if (near === undefined || !reread.startsWith(near, at)) return null;
    stoppedAt = at;
    if (NUMBER_ERRORS.some((error) => message.startsWith(error))) {
      const number = NUMBER_UP_TO_14.exec(near)?.[0];
      if (!number || number.length === near.length) return null;
      const space = at + number.length;
      lexed = `${lexed.slice(0, space)} ${lexed.slice(space)}`;
      reread = `${reread.slice(0, space)} ${reread.slice(space)}`;
      spaces.push(space);
      lexAgain = true;
    } else if (message.startsWith('syntax error')) {
      // The word it stopped at, or, at a `(` or `.` say, the word right before (system_user(), system_user.id):
      // the lexer reads x's as it read the word, a token of its own.
      const word = WORD.test(near) ? { start: at, length: near.length } : wordBefore(reread, at);
      if (!word) return null;
      reread = `${reread.slice(0, word.start)}${'x'.repeat(word.length)}${reread.slice(word.start + word.length)}`;
    } else {
      return null;
    }
  }
  return null;
}

/** Each costs a parse of the whole text, and each number a lexing; past this many, the server's transaction status is the check. */
const MAX_GRAMMAR_STOPS = 64;

/** What the lexer (18's) says of a number 14 read as a number and a name: the rest of the token is letters. */
const NUMBER_ERRORS = ['trailing junk after numeric literal', 'invalid hexadecimal integer', 'invalid octal integer', 'invalid binary integer'];

/** A number as scan.l read it up to 14: digits, a decimal point, an exponent with its digits. */
const NUMBER_UP_TO_14 = /^(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?/;

/** A name or keyword, as the lexer reads one (scan.l ident_start, ident_cont). */
const WORD_SOURCE = '[A-Za-z_\\u0080-\\uffff][\\w$\\u0080-\\uffff]*';
const WORD = new RegExp(`^${WORD_SOURCE}$`);
/** A word at the end of a text, but for white space after it. */
const LAST_WORD = new RegExp(`(?<![\\w$\\u0080-\\uffff])${WORD_SOURCE}(?=\\s*$)`);

/** The word that ends where only white space is between it and `at`, other than one of x's (a word replaced already). */
function wordBefore(text: string, at: number): { start: number; length: number } | null {
  const before = text.slice(0, at);
  const word = LAST_WORD.exec(before)?.[0];
  if (!word || /^x+$/.test(word)) return null;
  return { start: before.trimEnd().length - word.length, length: word.length };
}

/**
 * The text as libpg-query must be given it (loadParser): its lengthBytesUTF8 sizes a lone
 * surrogate as four bytes and cuts the text's end off, where node-postgres
 * sends U+FFFD in its place, as this does. The same length in UTF-16: offsets hold.
 */
function wellFormed(text: string): string {
  return (text as string & { toWellFormed(): string }).toWellFormed();
}

/**
 * wellFormed, and for the lexer, a control character other than tab, LF and
 * CR as a space: scanSync's JSON carries a token's text unescaped, so one in a
 * string or a comment fails it. There it ends nothing; outside one, the
 * server rejects the text.
 */
function lexable(text: string): string {
  return wellFormed(text).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, ' ');
}

/**
 * The grammar's error, with where it is as an offset into `text` (UTF-16),
 * or null where the grammar reads the text. libpg_query gives the server's
 * cursor position less one: a count of characters, which an astral
 * character (an emoji) is one of and UTF-16 two.
 */
function grammarErrorOf(parser: Parser, text: string): { message: string; at: number | null } | null {
  try {
    parser.parseSync(text);
    return null;
  } catch (error) {
    const details = (error as { sqlDetails?: { message?: string; cursorPosition?: number } }).sqlDetails;
    const at = details?.cursorPosition;
    return { message: details?.message ?? String(error), at: at === undefined ? null : offsetOfCharacter(text, at) };
  }
}

function offsetOfCharacter(text: string, characters: number): number {
  if (!/[\ud800-\udfff]/.test(text)) return characters;
  let offset = 0;
  for (let n = 0; n < characters && offset < text.length; n++) offset += text.codePointAt(offset)! > 0xffff ? 2 : 1;
  return offset;
}

/** A word of a scanned statement: `keyword` is set for an unquoted word (lower-cased); `name` is the identifier it would be. */
interface ScannedWord {
  readonly keyword: string | null;
  readonly name: string;
}

function wordOf(piece: string, token: Token): ScannedWord | null {
  if (token.keywordKind > 0) return { keyword: piece.toLowerCase(), name: piece.toLowerCase() };
  if (token.tokenName !== 'IDENT') return null;
  if (piece.startsWith('"')) return { keyword: null, name: piece.slice(1, -1).replaceAll('""', '"') };
  return { keyword: piece.toLowerCase(), name: piece.toLowerCase() };
}

/** The words a transaction-control statement starts with (those of KEYWORDS but VALUE). */
const TRANSACTION_WORDS = new Set(['begin', 'start', 'commit', 'end', 'rollback', 'abort', 'savepoint', 'release', 'prepare']);

/** The statement so far starts CREATE [OR REPLACE] FUNCTION or PROCEDURE (psql's test too). */
function isRoutineDefinition(words: readonly ScannedWord[]): boolean {
  const [a, b, c, d] = words.map((w) => w.keyword);
  const routine = (w: string | null | undefined) => w === 'function' || w === 'procedure';
  return a === 'create' && (routine(b) || (b === 'or' && c === 'replace' && routine(d)));
}

const keywords = (words: readonly ScannedWord[]) => words.map((w) => w.keyword);

function scannedStatement(start: number, end: number, line: number, words: readonly ScannedWord[]): ParsedStatement {
  const keyword = keywords(words);
  let addsValue = false;
  if (keyword[0] === 'alter' && keyword[1] === 'type') {
    for (let i = 2; i + 1 < keyword.length && !addsValue; i++) addsValue = keyword[i] === 'add' && keyword[i + 1] === 'value';
  }
  return { start, end, line, control: scannedControl(words), addsEnumValue: addsValue };
}

/** TransactionStmt's forms (gram.y), from a statement's words. */
function scannedControl(words: readonly ScannedWord[]): TransactionControl | null {
  const keyword = (i: number) => words[i]?.keyword ?? null;
  /** The index after an optional WORK or TRANSACTION at `i`. */
  const afterNoise = (i: number) => (keyword(i) === 'work' || keyword(i) === 'transaction' ? i + 1 : i);
  const andChain = (i: number) => keyword(i) === 'and' && keyword(i + 1) === 'chain';
  switch (keyword(0)) {
    case 'begin':
      return { kind: 'begin', withOptions: words.length > afterNoise(1) };
    case 'start':
      return keyword(1) === 'transaction' ? { kind: 'begin', withOptions: words.length > 2 } : null;
    case 'commit':
      if (keyword(1) === 'prepared') return { kind: 'commit-prepared' };
      return { kind: 'commit', andChain: andChain(afterNoise(1)) };
    case 'end':
      return { kind: 'commit', andChain: andChain(afterNoise(1)) };
    case 'abort':
      return { kind: 'rollback', andChain: andChain(afterNoise(1)) };
    case 'rollback': {
      if (keyword(1) === 'prepared') return { kind: 'rollback-prepared' };
      const at = afterNoise(1);
      if (keyword(at) !== 'to') return { kind: 'rollback', andChain: andChain(at) };
      const name = keyword(at + 1) === 'savepoint' ? at + 2 : at + 1;
      return { kind: 'rollback-to', savepoint: words[name]?.name ?? '' };
    }
    case 'savepoint':
      return { kind: 'savepoint', savepoint: words[1]?.name ?? '' };
    case 'release':
      return { kind: 'release', savepoint: words[keyword(1) === 'savepoint' ? 2 : 1]?.name ?? '' };
    case 'prepare':
      // PREPARE TRANSACTION 'id' (U&'id' UESCAPE '!' too) has no AS, a reserved word; `PREPARE transaction AS …` prepares a statement of that name.
      return keyword(1) === 'transaction' && !keywords(words).includes('as') ? { kind: 'prepare-transaction' } : null;
    default:
      return null;
  }
}

/**
 * Where the reading of `text` depends on standard_conforming_strings: the
 * offset of its first '…' string holding a backslash, which the server reads
 * as an escape when the setting is off (and the parser, as PostgreSQL has by
 * default since 9.1, does not: https://www.postgresql.org/docs/current/runtime-config-compatible.html#GUC-STANDARD-CONFORMING-STRINGS),
 * so that the two may end the string, and every statement after it, in
 * different places; or, where the lexer cannot read the text, its first
 * backslash. Null where every backslash reads the same either way: in an
 * E'…' string, a dollar-quoted body, a quoted name or a comment. Up to that
 * first string both read the text alike, so it is the one to look at.
 */
export async function backslashInString(text: string): Promise<number | null> {
  const first = text.indexOf('\\');
  if (first < 0) return null;
  const tokens = await tokensOf(text);
  if (!tokens) return first;
  for (const token of tokens) {
    if (token.tokenName !== 'SCONST') continue;
    const piece = text.slice(token.start, token.end);
    // A plain string starts with its quote (the lexer gives N'…' as N and one); an E'…' string with its E.
    if (piece.startsWith("'") && piece.includes('\\')) return token.start;
  }
  return null;
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
  const stop = grammarErrorOf(parser, text);
  if (stop) {
    // Where it stops, as an offset into the text (stmt_location counts bytes).
    const { at } = stop;
    if (at === null) return null;
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

/**
 * lineAt for the offsets of a text's statements, which come in order: each
 * newline is counted once, not once per statement after it (20,000
 * statements took 2 s).
 */
function linesOf(text: string): (offset: number) => number {
  let line = 1;
  let newline = text.indexOf('\n');
  let last = 0;
  return (offset) => {
    if (offset < last) return lineAt(text, offset);
    last = offset;
    for (; newline >= 0 && newline < offset; newline = text.indexOf('\n', newline + 1)) line++;
    return line;
  };
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
