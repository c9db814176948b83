/**
 * A small lexer for the deparsed SQL in the schema model (`pg_get_*def`
 * text): enough to find the names a definition mentions, split a
 * parenthesised list at its top-level commas, and rename an identifier
 * outside string constants. Not a parser: the planner uses it only where
 * PostgreSQL's own deparsed text has a fixed shape. Pure: no I/O.
 *
 * Token rules follow src/backend/parser/scan.l: `--` and nested `/* *\/`
 * comments, '...' with '' (and E'...' with backslash escapes), "..." with
 * "", $tag$...$tag$ bodies, identifiers folded to lower case.
 */
import { quoteIdentifier } from './identifiers.js';

export type SqlTokenType = 'identifier' | 'string' | 'number' | 'punctuation';

export interface SqlToken {
  readonly type: SqlTokenType;
  /** Identifiers: the name (bare ones folded to lower case, quoted ones unescaped). Others: the source text. */
  readonly value: string;
  /** A "quoted" identifier. */
  readonly quoted?: true;
  /** A $tag$ string: a function body. */
  readonly dollarQuoted?: true;
  readonly start: number;
  readonly end: number;
}

const IDENTIFIER_START = /[A-Za-z_\u0080-\uffff]/;
const IDENTIFIER_PART = /[A-Za-z0-9_$\u0080-\uffff]/;
const OPERATOR_CHARS = '+-*/<>=~!@#%^&|`?';

export function tokenizeSql(text: string): SqlToken[] {
  const tokens: SqlToken[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const ch = text[i]!;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (ch === '-' && text[i + 1] === '-') {
      while (i < n && text[i] !== '\n') i++;
      continue;
    }
    if (ch === '/' && text[i + 1] === '*') {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (text[i] === '/' && text[i + 1] === '*') (depth++, (i += 2));
        else if (text[i] === '*' && text[i + 1] === '/') (depth--, (i += 2));
        else i++;
      }
      continue;
    }
    if (ch === "'") {
      const end = endOfString(text, i, false);
      tokens.push({ type: 'string', value: text.slice(i, end), start: i, end });
      i = end;
      continue;
    }
    if ((ch === 'E' || ch === 'e') && text[i + 1] === "'") {
      const end = endOfString(text, i + 1, true);
      tokens.push({ type: 'string', value: text.slice(i, end), start: i, end });
      i = end;
      continue;
    }
    if (ch === '"') {
      let j = i + 1;
      let name = '';
      while (j < n) {
        if (text[j] === '"') {
          if (text[j + 1] === '"') {
            name += '"';
            j += 2;
            continue;
          }
          j++;
          break;
        }
        name += text[j];
        j++;
      }
      tokens.push({ type: 'identifier', value: name, quoted: true, start: i, end: j });
      i = j;
      continue;
    }
    if (ch === '$') {
      const tag = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(text.slice(i));
      if (tag !== null) {
        const close = text.indexOf(tag[0], i + tag[0].length);
        const end = close < 0 ? n : close + tag[0].length;
        tokens.push({ type: 'string', value: text.slice(i, end), dollarQuoted: true, start: i, end });
        i = end;
        continue;
      }
      // $1: a parameter.
      let j = i + 1;
      while (j < n && /[0-9]/.test(text[j]!)) j++;
      tokens.push({ type: 'punctuation', value: text.slice(i, j), start: i, end: j });
      i = j;
      continue;
    }
    if (IDENTIFIER_START.test(ch)) {
      let j = i + 1;
      while (j < n && IDENTIFIER_PART.test(text[j]!)) j++;
      tokens.push({ type: 'identifier', value: text.slice(i, j).toLowerCase(), start: i, end: j });
      i = j;
      continue;
    }
    if (/[0-9]/.test(ch) || (ch === '.' && /[0-9]/.test(text[i + 1] ?? ''))) {
      let j = i + 1;
      while (j < n && /[0-9.eE]/.test(text[j]!)) j++;
      tokens.push({ type: 'number', value: text.slice(i, j), start: i, end: j });
      i = j;
      continue;
    }
    if (ch === ':' && text[i + 1] === ':') {
      tokens.push({ type: 'punctuation', value: '::', start: i, end: i + 2 });
      i += 2;
      continue;
    }
    if (OPERATOR_CHARS.includes(ch)) {
      let j = i + 1;
      while (j < n && OPERATOR_CHARS.includes(text[j]!)) j++;
      tokens.push({ type: 'punctuation', value: text.slice(i, j), start: i, end: j });
      i = j;
      continue;
    }
    tokens.push({ type: 'punctuation', value: ch, start: i, end: i + 1 });
    i++;
  }
  return tokens;
}

/** Index just past the string constant that opens at `start` (a quote). */
function endOfString(text: string, start: number, backslashEscapes: boolean): number {
  let j = start + 1;
  while (j < text.length) {
    const c = text[j];
    if (backslashEscapes && c === '\\') {
      j += 2;
      continue;
    }
    if (c === "'") {
      if (text[j + 1] === "'") {
        j += 2;
        continue;
      }
      return j + 1;
    }
    j++;
  }
  return text.length;
}

/**
 * The names `text` mentions (identifiers outside string constants). With
 * `includeBodies`, the inside of $tag$ bodies is scanned too.
 */
export function identifiersIn(text: string, options: { readonly includeBodies?: boolean } = {}): Set<string> {
  const names = new Set<string>();
  const scan = (source: string): void => {
    for (const token of tokenizeSql(source)) {
      if (token.type === 'identifier') names.add(token.value);
      else if (token.dollarQuoted && options.includeBodies) {
        const tag = /^\$[^$]*\$/.exec(token.value)?.[0] ?? '$$';
        scan(token.value.slice(tag.length, token.value.length - tag.length));
      }
    }
  };
  scan(text);
  return names;
}

/**
 * `text` with every identifier token equal to `from` written as `to`
 * (quoted as needed); string constants and bodies stay as they are.
 */
export function renameIdentifier(text: string, from: string, to: string): string {
  const tokens = tokenizeSql(text).filter((t) => t.type === 'identifier' && t.value === from);
  if (tokens.length === 0) return text;
  let result = '';
  let at = 0;
  for (const token of tokens) {
    result += text.slice(at, token.start) + quoteIdentifier(to);
    at = token.end;
  }
  return result + text.slice(at);
}

/**
 * The parenthesised group that opens at or after `from`: its inner text and
 * the index just past its closing parenthesis, or undefined.
 */
export function parenthesisedGroup(text: string, from = 0): { readonly inner: string; readonly end: number; readonly start: number } | undefined {
  const tokens = tokenizeSql(text).filter((t) => t.start >= from);
  const open = tokens.findIndex((t) => t.value === '(');
  if (open < 0) return undefined;
  let depth = 0;
  for (let k = open; k < tokens.length; k++) {
    const token = tokens[k]!;
    if (token.value === '(') depth++;
    else if (token.value === ')') {
      depth--;
      if (depth === 0) {
        const start = tokens[open]!.start;
        return { inner: text.slice(start + 1, token.start), end: token.end, start };
      }
    }
  }
  return undefined;
}

/** Splits `text` at commas outside parentheses, brackets and strings; items trimmed. */
export function splitTopLevel(text: string): string[] {
  const items: string[] = [];
  let depth = 0;
  let at = 0;
  for (const token of tokenizeSql(text)) {
    if (token.value === '(' || token.value === '[') depth++;
    else if (token.value === ')' || token.value === ']') depth--;
    else if (token.value === ',' && depth === 0) {
      items.push(text.slice(at, token.start).trim());
      at = token.end;
    }
  }
  const last = text.slice(at).trim();
  if (last !== '' || items.length > 0) items.push(last);
  return items;
}
