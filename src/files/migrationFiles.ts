/**
 * Migration discovery without executing anything: node-pg-migrate 9's rules
 * (its src/migration.ts reads the folder and names each migration by its file
 * name without the extension; src/utils/comparators.ts and fileNameUtils.ts
 * order them by numeric prefix) re-implemented so that a status or a no-op
 * start never imports a migration module (README "How it behaves", Only what
 * runs is imported).
 */
import { hash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { setImmediate } from 'node:timers/promises';
import { resolve, sep } from 'node:path';
import { MigrationFileError } from '../core/errors.js';
import { compareCodeUnits } from '../core/lists.js';
import type { MigrationFile } from '../core/types.js';

/** Extensions node-pg-migrate 9 loads by default (migrationLoader.ts getDefaultStrategies). */
export const MIGRATION_EXTENSIONS = ['.sql', '.js', '.ts', '.cjs', '.mjs', '.cts', '.mts'] as const;

/** node-pg-migrate ignores `^\..*` by default: dot-files (our fingerprint manifest is one). */
const IGNORED = /^\..*$/;

export async function readMigrationFiles(dir: string): Promise<MigrationFile[]> {
  return readListedFiles(await listMigrationFiles(dir));
}

/** A migration file as the folder names it, before it is read. */
export type ListedFile = Omit<MigrationFile, 'checksum'>;

/**
 * The folder's migration files in node-pg-migrate's order, named and checked
 * (numeric prefix, extension, no two with one name) but not read: every
 * refusal about the folder comes from here, before a caller connects.
 */
export async function listMigrationFiles(dir: string): Promise<ListedFile[]> {
  const folder = resolve(dir);
  let entries;
  try {
    entries = await readdir(folder, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const what = code === 'ENOENT' ? 'does not exist' : code === 'ENOTDIR' ? 'is not a folder' : 'cannot be read';
    throw new MigrationFileError(`migrations folder ${folder} ${what}`, folder, {
      cause: error,
      hint: 'pass --dir or set MIGRATIONS_DIR',
    });
  }
  const listed: ListedFile[] = [];
  for (const entry of entries) {
    if (!(entry.isFile() || entry.isSymbolicLink()) || IGNORED.test(entry.name)) continue;
    const fileName = entry.name;
    // Not path.extname and path.join: on a thousand names they cost 5 ms of a
    // no-op start (bench/RESULTS.md), and a readdir name has neither a separator nor a
    // leading dot here (dot-files are ignored above).
    const extension = extensionOf(fileName);
    const path = `${folder}${sep}${fileName}`;
    if (!/^\d+/.test(fileName)) {
      throw new MigrationFileError(`migration file ${fileName} has no numeric prefix`, path, {
        hint: 'name it like 0001_create_users.sql, or move it out of the migrations folder',
      });
    }
    if (!(MIGRATION_EXTENSIONS as readonly string[]).includes(extension)) {
      throw new MigrationFileError(`migration file ${fileName} has an unsupported extension`, path, {
        hint: `use one of ${MIGRATION_EXTENSIONS.join(' ')}`,
      });
    }
    listed.push({ name: fileName.slice(0, fileName.length - extension.length), fileName, path, extension });
  }
  rejectDuplicateNames(listed);
  return sortMigrationFiles(listed);
}

/**
 * Reads and checksums listed files, in their order. Read one after the other,
 * synchronously: for a thousand small files this is several times faster than
 * a thousand fs/promises reads (bench/RESULTS.md). Every READ_TURN files the
 * loop lets the event loop run, so that a connection opened meanwhile
 * (readWhileConnecting, src/observe.ts) connects and reads the history while
 * the files are read, not after.
 */
export async function readListedFiles(listed: readonly ListedFile[]): Promise<MigrationFile[]> {
  const files: MigrationFile[] = [];
  for (const file of listed) {
    if (files.length % READ_TURN === READ_TURN - 1) await setImmediate();
    let content: Buffer;
    try {
      content = readIntoScratch(file.path);
    } catch (error) {
      throw new MigrationFileError(`migration file ${file.fileName} cannot be read`, file.path, { cause: error });
    }
    files.push({ name: file.name, fileName: file.fileName, path: file.path, extension: file.extension, ...checksumsOf(content) });
  }
  return files;
}

/** About a millisecond of reading: 10,000 small files take ~45 ms on the bench machine (README "Performance", the 10,000-file no-op start). */
const READ_TURN = 256;

/**
 * One buffer for every file read here, grown when a file does not fit: a
 * thousand readFileSync calls (an fstat and a new buffer each) cost 2.5 ms
 * more of a cold start (bench/RESULTS.md, the no-op start). Only the checksum of what is read is kept.
 */
let scratch = Buffer.allocUnsafe(64 * 1024);

/** The file's bytes, in `scratch`: valid until the next call. */
function readIntoScratch(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    let length = 0;
    for (;;) {
      if (length === scratch.length) {
        const larger = Buffer.allocUnsafe(scratch.length * 2);
        scratch.copy(larger);
        scratch = larger;
      }
      const read = readSync(fd, scratch, length, scratch.length - length, null);
      if (read === 0) return scratch.subarray(0, length);
      length += read;
    }
  } finally {
    closeSync(fd);
  }
}

/** path.extname's answer for a name that does not start with a dot, lower-cased. */
function extensionOf(fileName: string): string {
  const dot = fileName.lastIndexOf('.');
  return dot > 0 ? fileName.slice(dot).toLowerCase() : '';
}

/** compareMigrationNames, with each file's numeric prefix worked out once rather than once per comparison. */
function sortMigrationFiles<T extends { readonly fileName: string }>(files: readonly T[]): T[] {
  return files
    .map((file) => ({ file, prefix: numericPrefixOf(file.fileName) }))
    .sort((a, b) => compareByPrefixThenName(a.prefix, a.file.fileName, b.prefix, b.file.fileName))
    .map(({ file }) => file);
}

/**
 * sha256 of the content with CRLF and CR normalised to LF, so a checkout on
 * Windows is not "edited", and without a leading UTF-8 byte order mark, which
 * an editor on Windows may add on save: this runner reads a file as UTF-8
 * without it (src/files/migrationModules.ts decodeUtf8), as Node's module
 * loader does, and Flyway's checksum leaves it out as well
 * (https://github.com/flyway/flyway/blob/main/flyway-core/src/main/java/org/flywaydb/core/internal/resolver/ChecksumCalculator.java).
 * (Plain node-pg-migrate 9 sends a .sql file's mark to the server, which
 * refuses it.) A record of a file that had the mark, written before it was
 * left out, still matches while the file has it (MigrationFile.checksumWithBom);
 * one whose mark was removed since counts as edited: recognising it too would
 * cost every start a second hash of every file (6% of the 10,000-file no-op start).
 * A string is read as bytes, one per character (latin1), as a Buffer's are;
 * a leading U+FEFF counts as the mark too.
 */
export function checksumOf(content: Buffer | string): string {
  return checksumOfText(withoutBom(content));
}

/** checksumOf, and for content that starts with a byte order mark, the checksum with it (MigrationFile.checksumWithBom). */
export function checksumsOf(content: Buffer): Pick<MigrationFile, 'checksum' | 'checksumWithBom'> {
  const text = withoutBom(content);
  return text === content ? { checksum: checksumOfText(content) } : { checksum: checksumOfText(text), checksumWithBom: checksumOfText(content) };
}

function checksumOfText(content: Buffer | string): string {
  // Most files hold no CR: hash their bytes as they are, without a string copy, and
  // with the one-shot hash(), a third of createHash()'s cost on small inputs (bench/RESULTS.md).
  if (typeof content !== 'string' && !content.includes(CR)) return hash('sha256', content, 'hex');
  const text = typeof content === 'string' ? content : content.toString('latin1');
  return hash('sha256', Buffer.from(text.replace(/\r\n?/g, '\n'), 'latin1'), 'hex');
}

/** The content without a leading byte order mark; the same object where there is none. */
function withoutBom<T extends Buffer | string>(content: T): T {
  if (typeof content === 'string') {
    const mark = content.startsWith(BOM_LATIN1) ? BOM_LATIN1.length : content.startsWith('\ufeff') ? 1 : 0;
    return (mark ? content.slice(mark) : content) as T;
  }
  return (content[0] === 0xef && content[1] === 0xbb && content[2] === 0xbf ? content.subarray(3) : content) as T;
}

const CR = 0x0d;
/** The UTF-8 byte order mark EF BB BF, one character per byte. */
const BOM_LATIN1 = '\u00ef\u00bb\u00bf';

function rejectDuplicateNames(files: readonly ListedFile[]): void {
  const seen = new Map<string, ListedFile>();
  const clashes: [ListedFile, ListedFile][] = [];
  for (const file of files) {
    const other = seen.get(file.name);
    if (other) clashes.push(other.fileName < file.fileName ? [other, file] : [file, other]);
    else seen.set(file.name, file);
  }
  if (!clashes.length) return;
  // Name the same pair whatever order the folder listed them in.
  const [first, second] = clashes.sort(([a], [b]) => (a.fileName < b.fileName ? -1 : 1))[0]!;
  throw new MigrationFileError(
    `two migration files share the name ${first.name}: ${first.fileName} and ${second.fileName}`,
    second.path,
    { hint: 'node-pg-migrate names a migration by its file name without extension; keep one of them' },
  );
}

/**
 * node-pg-migrate's order (utils/comparators.ts): numeric prefix first, with a
 * 17-digit prefix read as a UTC yyyymmddhhmmssSSS date; then a numeric,
 * punctuation-blind locale compare.
 */
export function compareMigrationNames(a: string, b: string): number {
  return compareByPrefixThenName(numericPrefixOf(a), a, numericPrefixOf(b), b);
}

/**
 * The last tie-break is ours: names the collator holds equal (`2_a` and `2-a`)
 * come in whatever order the folder lists them for node-pg-migrate; here, in
 * code-unit order, the same on every machine.
 */
function compareByPrefixThenName(prefixA: number, a: string, prefixB: number, b: string): number {
  return prefixA - prefixB || localeCompareNumerically(a, b) || compareCodeUnits(a, b);
}

function numericPrefixOf(fileName: string): number {
  const prefix = /^\d+/.exec(fileName)?.[0] ?? '';
  if (prefix.length === 17) {
    const [y, mo, d, h, mi, s, ms] = [0, 4, 6, 8, 10, 12, 14].map((start, i, all) =>
      prefix.slice(start, all[i + 1] ?? 17),
    );
    return new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}.${ms}Z`).valueOf();
  }
  return Number(prefix);
}

let collator: Intl.Collator | undefined;

function localeCompareNumerically(a: string, b: string): number {
  // Made on first use: creating it loads ICU data (~15 ms), and with distinct
  // numeric prefixes, the usual case, no comparison ever gets here (bench/RESULTS.md, the no-op start).
  collator ??= new Intl.Collator(undefined, { usage: 'sort', numeric: true, sensitivity: 'variant', ignorePunctuation: true });
  return collator.compare(a, b);
}
