/**
 * Migration probes: a migration may say how to tell whether its effect is in
 * the database, so that a legacy schema matching several revisions (data-only
 * migrations between them) is reconciled by asking rather than guessing
 * (README, "Probes"; the choice itself is the detector's, stateDetector.ts).
 *
 * - A `.sql` file: a directive, one line or a block comment, anywhere in the
 *   file, at the start of a line:
 *
 *       -- migrate:probe SELECT EXISTS (SELECT 1 FROM settings WHERE key = 'x')
 *
 *       /* migrate:probe
 *       SELECT EXISTS (SELECT 1 FROM settings WHERE key = 'x')
 *       *\/
 *
 *   Both are comments, so node-pg-migrate runs the file as before.
 * - A JS/TS file: `export async function probe(db)`, with `db.query(text, values)`
 *   as pg's, resolving to a boolean.
 *
 * A probe answers one boolean, true when the effect is present. It runs in a
 * READ ONLY transaction that is rolled back, with the managed schema as
 * search_path (as the migration had) and a statement_timeout. Read-only
 * commands ask SQL probes only: a JS/TS probe is code of the migration file,
 * and importing the file runs it, which they never do against the target
 * (CONTRACT.md, "Read-only means read-only"); `auto` asks both.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { MigrationFileError, describeCause } from '../core/errors.js';
import type { Queryable } from '../core/types.js';
import type { Logger } from '../config/logger.js';
import type { MigrationFile, ProbeAnswer } from '../core/types.js';

/** How long one probe's statement may run. */
export const PROBE_TIMEOUT_MS = 10_000;

export interface SqlProbe {
  readonly kind: 'sql';
  readonly sql: string;
  /** 1-based line of the directive, for errors. */
  readonly line: number;
}

/** A probe that cannot be used: the file is at fault (exit 2), named with its line where there is one. */
export class ProbeError extends MigrationFileError {}

const LINE_DIRECTIVE = /^[ \t]*--[ \t]*migrate:probe\b(.*)$/;
const BLOCK_DIRECTIVE = /^[ \t]*\/\*[ \t]*migrate:probe\b(.*)$/;

/**
 * The probe a `.sql` file declares, or null. More than one, an empty one, or
 * a block that never ends is the file's error.
 */
export function parseSqlProbe(content: string, file: Pick<MigrationFile, 'fileName' | 'path'>): SqlProbe | null {
  const lines = content.split(/\r?\n/);
  const found: SqlProbe[] = [];
  for (let index = 0; index < lines.length; index++) {
    const line = LINE_DIRECTIVE.exec(lines[index]!);
    if (line) {
      found.push({ kind: 'sql', sql: line[1]!.trim(), line: index + 1 });
      continue;
    }
    const block = BLOCK_DIRECTIVE.exec(lines[index]!);
    if (!block) continue;
    const start = index;
    const body: string[] = [];
    let rest = block[1]!;
    for (;;) {
      const end = rest.indexOf('*/');
      if (end >= 0) {
        body.push(rest.slice(0, end));
        break;
      }
      body.push(rest);
      if (++index >= lines.length) {
        throw new ProbeError(`${file.fileName}:${start + 1}: the migrate:probe block comment is never closed`, file.path, {
          hint: 'end it with */',
        });
      }
      rest = lines[index]!;
    }
    found.push({ kind: 'sql', sql: body.join('\n').trim(), line: start + 1 });
  }
  if (found.length > 1) {
    throw new ProbeError(`${file.fileName}:${found[1]!.line}: a second migrate:probe (the first is on line ${found[0]!.line})`, file.path, {
      hint: 'a migration has one probe: combine them, e.g. SELECT (…) AND (…)',
    });
  }
  const probe = found[0] ?? null;
  if (probe && !probe.sql) {
    throw new ProbeError(`${file.fileName}:${probe.line}: migrate:probe has no query`, file.path, {
      hint: "-- migrate:probe SELECT EXISTS (SELECT 1 FROM settings WHERE key = 'x')",
    });
  }
  return probe;
}

/**
 * Whether a JS/TS file may export a probe, read without importing it. A
 * read-only command reports such a file's probe as not asked; `auto` imports
 * the file, and a file that exports none has none.
 */
function mayExportProbe(file: MigrationFile): boolean {
  return /\bprobe\b/.test(readFileSync(file.path, 'utf8'));
}

export interface AskOptions {
  /** The managed schema: the probe's search_path, as its migration had. */
  readonly schema: string;
  /** Whether JS/TS probes may run (they are the file's code): `auto` only. */
  readonly runCode: boolean;
  readonly logger: Logger;
  readonly timeoutMs?: number;
}

/**
 * Asks the probes of `names` (those that declare one) and returns their
 * answers, in the order of `names`. A probe that fails, times out or answers
 * anything but one boolean is the file's error (ProbeError, exit 2).
 */
export async function askProbes(
  db: Queryable,
  files: readonly MigrationFile[],
  names: readonly string[],
  options: AskOptions,
): Promise<ProbeAnswer[]> {
  const byName = new Map(files.map((f) => [f.name, f]));
  const answers: ProbeAnswer[] = [];
  for (const name of names) {
    const file = byName.get(name);
    if (!file) continue;
    if (file.extension === '.sql') {
      const probe = parseSqlProbe(readFileSync(file.path, 'utf8'), file);
      if (!probe) continue;
      const present = await inReadOnlyTransaction(db, file, options, async () => booleanOf(await oneStatement(db, probe.sql), file));
      answers.push({ name, kind: 'sql', present });
      options.logger.info(`probe of ${name} (${file.fileName}:${probe.line}) says ${present ? 'present' : 'absent'}`);
      continue;
    }
    if (!mayExportProbe(file)) continue;
    if (!options.runCode) {
      answers.push({ name, kind: 'code', present: null, unanswered: `${file.fileName} is JS/TS, whose probe read-only commands never run (migrate auto does)` });
      continue;
    }
    const probe = await probeFunctionOf(file);
    if (!probe) continue;
    const present = await inReadOnlyTransaction(db, file, options, async () => {
      const value = await probe({ query: (text: string, values?: unknown[]) => oneStatement(db, text, values) });
      if (typeof value !== 'boolean') {
        throw new ProbeError(`the probe of ${file.fileName} must resolve to true or false, not ${describeValue(value)}`, file.path);
      }
      return value;
    });
    answers.push({ name, kind: 'code', present });
    options.logger.info(`probe of ${name} (${file.fileName}) says ${present ? 'present' : 'absent'}`);
  }
  return answers;
}

type ProbeFunction = (db: { query: Queryable['query'] }) => unknown;

async function probeFunctionOf(file: MigrationFile): Promise<ProbeFunction | null> {
  const { importMigration } = await import('../files/migrationLoader.js');
  let module: Record<string, unknown>;
  try {
    module = ((await importMigration(file.path)) ?? {}) as Record<string, unknown>;
  } catch (error) {
    throw new ProbeError(`migration file ${file.fileName} cannot be loaded: ${describeCause(error)}`, file.path, { cause: error });
  }
  if (module.probe === undefined) return null;
  if (typeof module.probe !== 'function') {
    throw new ProbeError(`${file.fileName} exports probe, but not as a function`, file.path, {
      hint: 'export async function probe(db) { … return true or false; }',
    });
  }
  return module.probe as ProbeFunction;
}

/**
 * BEGIN READ ONLY, the probe's search_path and statement_timeout (both local
 * to the transaction), the probe, ROLLBACK: whatever it tries to change, nothing stays.
 */
async function inReadOnlyTransaction<T>(db: Queryable, file: MigrationFile, options: AskOptions, work: () => Promise<T>): Promise<T> {
  const timeoutMs = options.timeoutMs ?? PROBE_TIMEOUT_MS;
  await db.query('BEGIN READ ONLY');
  try {
    await db.query(
      `SELECT pg_catalog.set_config('search_path', $1, true), pg_catalog.set_config('statement_timeout', $2, true)`,
      [pg.escapeIdentifier(options.schema), `${timeoutMs}ms`],
    );
    return await work();
  } catch (error) {
    if (error instanceof ProbeError) throw error;
    const timedOut = (error as { code?: string }).code === QUERY_CANCELED;
    throw new ProbeError(
      `the probe of ${file.fileName} failed: ${timedOut ? `it ran past ${timeoutMs} ms` : describeCause(error)}`,
      file.path,
      { cause: error, hint: timedOut ? 'a probe must answer quickly: make it cheaper' : 'fix the probe; it runs read only, with the managed schema as search_path' },
    );
  } finally {
    await db.query('ROLLBACK').catch(() => undefined);
  }
}

const QUERY_CANCELED = '57014';

/**
 * pg's extended protocol, which takes one statement: a probe cannot end its
 * transaction and go on writing after it in the same text. This guards
 * against mistakes, not against a file that means harm.
 */
function oneStatement(db: Queryable, text: string, values?: unknown[]): Promise<pg.QueryResult> {
  // A pg connection answers with pg's whole QueryResult: its fields tell one boolean column from others.
  return db.query({ text, values, queryMode: 'extended' } as unknown as string) as Promise<unknown> as Promise<pg.QueryResult>;
}

function booleanOf(result: pg.QueryResult, file: MigrationFile): boolean {
  const value = result.rows.length === 1 && result.fields.length === 1 ? (result.rows[0] as Record<string, unknown>)[result.fields[0]!.name] : undefined;
  if (typeof value === 'boolean') return value;
  const got = result.rows.length !== 1 ? `${result.rows.length} rows` : result.fields.length !== 1 ? `${result.fields.length} columns` : describeValue(value);
  throw new ProbeError(`the probe of ${file.fileName} must return one row of one boolean, not ${got}`, file.path, {
    hint: 'e.g. SELECT EXISTS (SELECT 1 FROM …)',
  });
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 39)}…` : value);
  return typeof value === 'object' ? 'an object' : String(value);
}
