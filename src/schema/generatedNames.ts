/**
 * Recognises names that PostgreSQL generates for constraints, indexes and
 * sequences, so the model can drop them: `users_email_key` typed by hand and
 * `users_email_key` chosen by PostgreSQL then compare equal, and so do two
 * databases where a name collision made PostgreSQL pick `..._key1`.
 *
 * Mirrors `makeObjectName`, `ChooseRelationName`, `ChooseConstraintName` and
 * `ChooseIndexNameAddition` in src/backend/commands/indexcmds.c and
 * src/backend/catalog/pg_constraint.c (PostgreSQL 12-17).
 */

/** NAMEDATALEN - 1: the longest identifier, in bytes. */
const MAX_IDENTIFIER_BYTES = 63;

/**
 * Clips `text` to at most `maxBytes` UTF-8 bytes without splitting a
 * character, like `pg_mbcliplen` does for a UTF-8 database.
 */
function clipToBytes(text: string, maxBytes: number): string {
  // Most names fit, and most are ASCII (a byte per character): neither needs a look at each character.
  const total = Buffer.byteLength(text, 'utf8');
  if (total <= maxBytes) return text;
  if (total === text.length) return text.slice(0, maxBytes);
  let bytes = 0;
  let result = '';
  for (const char of text) {
    const size = Buffer.byteLength(char, 'utf8');
    if (bytes + size > maxBytes) break;
    bytes += size;
    result += char;
  }
  return result;
}

/**
 * `makeObjectName(name1, name2, label)`: joins the parts with `_`, shortening
 * the longer of `name1` and `name2` one byte at a time until the result fits
 * in 63 bytes. The label is never shortened.
 */
export function makeObjectName(name1: string, name2: string | undefined, label: string): string {
  const overhead = Buffer.byteLength(label, 'utf8') + 1 + (name2 === undefined ? 0 : 1);
  let name1Bytes = Buffer.byteLength(name1, 'utf8');
  let name2Bytes = name2 === undefined ? 0 : Buffer.byteLength(name2, 'utf8');
  const available = MAX_IDENTIFIER_BYTES - overhead;
  while (name1Bytes + name2Bytes > available) {
    if (name1Bytes > name2Bytes) name1Bytes--;
    else name2Bytes--;
  }
  const part1 = clipToBytes(name1, name1Bytes);
  const part2 = name2 === undefined ? undefined : clipToBytes(name2, name2Bytes);
  return part2 === undefined ? `${part1}_${label}` : `${part1}_${part2}_${label}`;
}

/**
 * True when `name` is what PostgreSQL would choose for an object of `table`
 * over `columns` with `label` (`pkey`, `key`, `excl`, `idx`, `fkey`, `check`,
 * `seq`), including the `label1`, `label2`, ... forms it picks on collision.
 * `columns` undefined means the form without a column part (`users_pkey`,
 * `users_check`).
 */
export function isGeneratedName(
  name: string,
  table: string,
  columns: readonly string[] | undefined,
  label: string,
): boolean {
  // ChooseIndexNameAddition stops once the joined names reach NAMEDATALEN;
  // makeObjectName truncates further anyway, so joining all gives the same.
  const name2 = columns === undefined ? undefined : columns.join('_');
  if (name === makeObjectName(table, name2, label)) return true;
  const collision = collisionSuffixOf(label).exec(name);
  if (collision === null) return false;
  return name === makeObjectName(table, name2, `${label}${collision[1]}`);
}

const collisionSuffixes = new Map<string, RegExp>();

/** `_idx2`-style suffixes, one pattern per label: compiling one per name was most of reading a large catalog (bench/RESULTS.md). */
function collisionSuffixOf(label: string): RegExp {
  let pattern = collisionSuffixes.get(label);
  if (pattern === undefined) {
    pattern = new RegExp(`_${escapeRegExp(label)}([1-9][0-9]*)$`);
    collisionSuffixes.set(label, pattern);
  }
  return pattern;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
