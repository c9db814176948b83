/**
 * `migrate create NAME`: a new migration file from a template, with a prefix
 * consistent with the folder: 17-digit UTC stamps, 13-digit millisecond
 * stamps, or a zero-padded index (node-pg-migrate's three formats, §7 of the
 * reference; mixing them mis-sorts, so we follow what is there).
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { UsageError } from '../core/errors.js';
import { importPackage } from './importPackage.js';
import { readMigrationFiles } from './migrationFiles.js';

export const TEMPLATE_LANGUAGES = ['sql', 'ts', 'js'] as const;
export type TemplateLanguage = (typeof TEMPLATE_LANGUAGES)[number];

const TEMPLATES: Record<TemplateLanguage, string> = {
  sql: `-- Up Migration

-- Down Migration
`,
  ts: `import type { MigrationBuilder } from 'node-pg-migrate';

export async function up(pgm: MigrationBuilder): Promise<void> {
}

export async function down(pgm: MigrationBuilder): Promise<void> {
}
`,
  js: `/** @param {import('node-pg-migrate').MigrationBuilder} pgm */
export async function up(pgm) {
}

/** @param {import('node-pg-migrate').MigrationBuilder} pgm */
export async function down(pgm) {
}
`,
};

/**
 * Writes a new migration file and returns its path: the template of its
 * language, or `content` (generate --autogenerate writes what it proved).
 */
export async function createMigration(
  dir: string,
  name: string,
  language?: string,
  now: Date = new Date(),
  content?: string,
): Promise<string> {
  const folder = resolve(dir);
  await makeFolder(folder);
  const existing = await readMigrationFiles(folder);
  const lang = (language ?? existing.at(-1)?.extension.slice(1) ?? 'sql') as TemplateLanguage;
  const fileName = await migrationFileName(existing.map((f) => f.fileName), name, lang, now);
  const path = join(folder, fileName);
  if ((await readdir(folder)).some((f) => f.startsWith(`${fileName.slice(0, fileName.lastIndexOf('.'))}.`))) {
    throw new UsageError(`a migration named ${fileName.slice(0, fileName.lastIndexOf('.'))} already exists`);
  }
  await writeFile(path, content ?? TEMPLATES[lang], { flag: 'wx' });
  return path;
}

/**
 * The file name a new migration called `name` gets after `existingFileNames`:
 * a prefix consistent with theirs, the slug of the name, the language's
 * extension. A name without letters, an unknown language or a name too long
 * for a file system is a usage error (exit 2).
 */
export async function migrationFileName(existingFileNames: readonly string[], name: string, language: string, now: Date): Promise<string> {
  const slug = await slugOf(name);
  if (!slug) throw new UsageError(`migration name ${JSON.stringify(name)} has no letters or digits`);
  if (!(TEMPLATE_LANGUAGES as readonly string[]).includes(language)) {
    throw new UsageError(`unknown template language ${JSON.stringify(language)}`, { hint: 'use sql, ts or js' });
  }
  const prefix = nextPrefix(existingFileNames, now);
  const fileName = `${prefix}_${slug}.${language}`;
  // node-pg-migrate records the name in varchar(255); file systems hold 255 bytes in a file name.
  if (Buffer.byteLength(fileName) > MAX_FILE_NAME_BYTES) {
    throw new UsageError(
      `the migration name is too long: ${prefix}_${slug.slice(0, 40)}… would make a file name of ${Buffer.byteLength(fileName)} bytes`,
      { hint: `shorten it to at most ${MAX_FILE_NAME_BYTES - Buffer.byteLength(`${prefix}_.${language}`)} letters and digits (file names hold 255 bytes, the history's name column 255 characters)` },
    );
  }
  return fileName;
}

/** NAME_MAX of Linux, macOS and Windows file systems; it also keeps the name within varchar(255). */
const MAX_FILE_NAME_BYTES = 255;

/** The migrations folder, made if missing; a path that cannot be one is a usage error (exit 2), not a crash. */
async function makeFolder(folder: string): Promise<void> {
  try {
    await mkdir(folder, { recursive: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'EEXIST' || code === 'ENOTDIR' ? 'it (or a folder above it) is a file' : `${code ?? 'error'}`;
    throw new UsageError(`cannot use ${folder} as the migrations folder: ${why}`, {
      cause: error,
      hint: 'pass --dir (or MIGRATIONS_DIR) naming a folder',
    });
  }
}

/**
 * A file name from a message: its letters transliterated to ASCII (`Ä` → `a`,
 * `straße` → `strasse`, `Добавить` → `dobavit`, by any-ascii, loaded only
 * here), lower case, anything else one `_`. Dropping what is not ASCII left a
 * German or Russian message without its words.
 */
export async function slugOf(name: string): Promise<string> {
  const { default: anyAscii } = await importPackage<{ default: (text: string) => string }>('any-ascii');
  // Apostrophes join (`don't` → dont; any-ascii writes a Cyrillic soft sign as one).
  return anyAscii(name.trim()).toLowerCase().replace(/'/g, '').replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
}

export function nextPrefix(fileNames: readonly string[], now: Date): string {
  const prefixes = fileNames.map((f) => /^\d+/.exec(f)?.[0] ?? '');
  const last = prefixes.at(-1);
  if (last === undefined || last.length <= 6) {
    const width = Math.max(4, ...prefixes.map((p) => p.length));
    const next = Math.max(0, ...prefixes.map(Number)) + 1;
    return String(next).padStart(width, '0');
  }
  const stamp = last.length === 17 ? now.toISOString().replace(/\D/g, '') : String(now.getTime());
  // Never sort before the last file (clock skew, or a file from the future).
  return BigInt(stamp) > BigInt(last) ? stamp : String(BigInt(last) + 1n);
}
