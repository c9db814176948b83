/**
 * Passwords never appear in any output (CONTRACT.md "Exit codes"). Two layers,
 * both always on (README "Passwords"):
 *
 * - Structurally: the runner builds what it prints about the target without
 *   the password (settings.ts `display`), and `redact` masks the password part
 *   of any connection string in a line: a URI's `user:…@` (up to the last '@'
 *   of the URI, as a password with an unencoded '@' would be cut there), and
 *   `password=…`, `sslpassword=…`, `"password": "…"`.
 * - By value: every password the settings saw (whatever its length or
 *   wording, raw, percent-encoded and as JSON escapes it) is masked wherever
 *   it occurs, except:
 *   - inside the runner's own fixed wording: the line frame (`migrate: error:`),
 *     the labels of text output, JSON keys, log levels and timestamps, the `postgres://` scheme, and the
 *     fixed parts of messages and hints written with the `wording` tag.
 *     A password "error" or "migrate" leaves `migrate: error:` and a hint
 *     alone, but is masked in what the server or a migration said;
 *   - where a short password of letters and digits is only part of a longer
 *     word ("ab" leaves "table" alone), which does not show it.
 * A password that is a common word can still be guessed from where `****`
 * stands: that is the price of masking it at all; pick a random one.
 */
const secrets = new Set<string>();
/**
 * The runner's messages and hints written with the `wording` tag, as patterns:
 * their fixed parts, in order, with anything between. A fixed part is kept
 * readable only where the whole message stands, so a password equal to one of
 * its words is still masked in anyone else's text.
 */
const templates = new Map<string, RegExp>();

/** Masks a password in every later `redact`, in the forms output can carry it in. */
export function registerSecret(secret: string): void {
  if (!secret) return;
  for (const form of [secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1), JSON.stringify(JSON.stringify(secret).slice(1, -1)).slice(1, -1)]) {
    secrets.add(form);
  }
}

/**
 * A template tag for the runner's own messages and hints: returns the text as
 * a plain template would, and records its fixed parts (what the code says, not
 * the values put in) as wording that value masking leaves readable.
 */
export function wording(strings: TemplateStringsArray, ...values: unknown[]): string {
  let text = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) text += String(values[i]) + (strings[i + 1] ?? '');
  const key = strings.join('\u0000');
  if (!templates.has(key) && (strings.join(' ').match(/\p{L}+/gu) ?? []).length >= 2) {
    const escape = (fixed: string) => fixed.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    templates.set(key, new RegExp(strings.map((fixed) => `(${escape(fixed)})`).join('[^\\n]*?'), 'gd'));
  }
  return text;
}

export function redact(text: string): string {
  const out = maskStructurally(text);
  if (!secrets.size) return out;
  const found = [...secrets].filter((s) => out.includes(s));
  if (!found.length) return out;
  const kept = protectedSpans(out);
  const masked: [number, number][] = [];
  for (const secret of found) {
    const wholeWordOnly = secret.length < 12 && /^[\p{L}\p{N}_]+$/u.test(secret);
    for (let at = out.indexOf(secret); at >= 0; at = out.indexOf(secret, at + 1)) {
      const end = at + secret.length;
      if (wholeWordOnly && (isWordChar(out, at - 1) || isWordChar(out, end))) continue;
      if (kept.some(([from, to]) => from <= at && end <= to)) continue;
      masked.push([at, end]);
    }
  }
  if (!masked.length) return out;
  masked.sort((a, b) => a[0] - b[0]);
  let result = '';
  let position = 0;
  for (const [from, to] of masked) {
    if (to <= position) continue;
    if (from >= position) result += out.slice(position, from) + '****';
    position = Math.max(position, to);
  }
  return result + out.slice(position);
}

/** The password part of connection strings, wherever they appear. */
function maskStructurally(text: string): string {
  return text
    .replace(/(postgres(?:ql)?(?:\+\w+)?:\/\/[^\s"'`:@/]*:)[^\s"'`]*@/gi, '$1****@')
    .replace(/(\b(?:ssl)?password\s*=\s*)(?:'(?:[^'\\]|\\.)*'|[^\s&"'`]*)/gi, '$1****')
    .replace(/("(?:ssl)?password"\s*:\s*)"(?:[^"\\]|\\.)*"/gi, '$1"****"');
}

/** Spans of the runner's own wording in `text`, which value masking leaves as they are. */
function protectedSpans(text: string): [number, number][] {
  const spans: [number, number][] = [];
  const add = (pattern: RegExp) => {
    for (const m of text.matchAll(pattern)) spans.push([m.index, m.index + m[0].length]);
  };
  add(/^migrate:(?: internal error:| (?:error|warn|info|debug):)?/gm);
  // The label column of text output (`state:    behind`, `database:       postgres://…`).
  add(/^[a-z][A-Za-z ]{0,24}:(?= )/gm);
  add(/\bpostgres(?:ql)?:\/\//g);
  add(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)/g);
  if (/^\s*[[{]/.test(text)) {
    // JSON (a log line, --json output): keys, and the level. A quote inside a value is escaped.
    add(/(?<!\\)"[A-Za-z_][A-Za-z0-9_]*"(?=\s*:)/g);
    add(/"level"\s*:\s*"(?:error|warn|info|debug)"/g);
  }
  for (const template of templates.values()) {
    for (const match of text.matchAll(template)) {
      for (const span of match.indices?.slice(1) ?? []) if (span && span[1] > span[0]) spans.push([span[0], span[1]]);
    }
  }
  return spans;
}

function isWordChar(text: string, index: number): boolean {
  return index >= 0 && index < text.length && /[\p{L}\p{N}_]/u.test(text[index]!);
}
