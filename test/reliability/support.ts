/**
 * Shared by the reliability suite (RELIABILITY.md): every CLI run goes through
 * `migrate()`, which fails the test if any output carries the password;
 * snapshots compare databases with pg_dump; `expectNoLeftovers` checks that no
 * advisory lock and no session of the runner survives it.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { serverUrl, type TestDatabase } from '../helpers/database.js';
import { CLI_PATH, cleanEnv, PROJECT_ROOT, type ProcessResult } from '../helpers/processes.js';

const execFileAsync = promisify(execFile);

const SERVER = new URL(serverUrl());
/** The password in every URL the suite hands the runner; trust auth ignores it. */
export const SECRET = SERVER.password ? decodeURIComponent(SERVER.password) : 'S3cr3t-pw-XYZ';
export const SERVER_HOST = SERVER.hostname;
export const SERVER_PORT = Number(SERVER.port || 5432);
const USER = decodeURIComponent(SERVER.username || 'postgres');

/** The runner's URL for `database`, with the secret password; host and port overridable (a proxy). */
export function urlFor(database: string, where: { host?: string; port?: number; password?: string } = {}): string {
  const url = new URL('postgres://x@localhost/');
  url.username = encodeURIComponent(USER);
  url.password = encodeURIComponent(where.password ?? SECRET);
  url.hostname = where.host ?? SERVER_HOST;
  url.port = String(where.port ?? SERVER_PORT);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Every form of every secret a run may have seen: raw, URL-encoded. */
const secrets = new Set<string>([SECRET, encodeURIComponent(SECRET)]);
export function addSecret(secret: string): void {
  secrets.add(secret);
  secrets.add(encodeURIComponent(secret));
}

/** How many outputs the suite checked for secrets (RELIABILITY.md figures). */
export const counters = { runs: 0, outputsChecked: 0 };

export function expectNoSecret(...outputs: string[]): void {
  for (const output of outputs) {
    counters.outputsChecked++;
    for (const secret of secrets) {
      if (output.includes(secret)) throw new Error(`an output contains the secret ${JSON.stringify(secret)}:\n${output}`);
    }
  }
}

export interface CliResult extends ProcessResult {
  readonly ms: number;
  /** stderr lines that are not JSON log lines: the error lines. */
  readonly errorLines: string[];
  /** The parsed JSON log lines on stderr. */
  readonly logs: Record<string, unknown>[];
}

export interface CliOptions {
  readonly env?: Record<string, string | undefined>;
  readonly cwd?: string;
  readonly timeoutMs?: number;
}

function finishResult(result: ProcessResult, started: number): CliResult {
  expectNoSecret(result.stdout, result.stderr);
  const errorLines: string[] = [];
  const logs: Record<string, unknown>[] = [];
  for (const line of result.stderr.split('\n')) {
    if (!line.trim()) continue;
    try {
      const parsed = JSON.parse(line) as unknown;
      if (parsed && typeof parsed === 'object' && 'level' in parsed) {
        logs.push(parsed as Record<string, unknown>);
        continue;
      }
    } catch {
      // not JSON: an error line
    }
    errorLines.push(line);
  }
  return { ...result, ms: Date.now() - started, errorLines, logs };
}

export interface RunningCli {
  readonly child: ChildProcess;
  readonly done: Promise<CliResult>;
}

/** Starts `migrate ARGS`; `done` resolves when it exits (killed after timeoutMs). */
export function spawnCli(args: readonly string[], options: CliOptions = {}): RunningCli {
  counters.runs++;
  const started = Date.now();
  const child = spawn(process.execPath, [CLI_PATH, ...args], {
    cwd: options.cwd ?? PROJECT_ROOT,
    env: (options.env ?? cleanEnv()) as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliResult>((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 90_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      try {
        resolve(finishResult({ code, signal, stdout, stderr }, started));
      } catch (error) {
        reject(error);
      }
    });
  });
  return { child, done };
}

/** `migrate ARGS` to the end; fails if any output carries a secret. */
export function migrate(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  return spawnCli(args, options).done;
}

/** Asserts the documented error shape: one line on stderr, naming the culprit, no stack trace. */
export function expectOneLineError(result: CliResult, culprit: string | RegExp): void {
  const context = `exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`;
  if (result.errorLines.length !== 1) throw new Error(`expected one error line, got ${result.errorLines.length}\n${context}`);
  const line = result.errorLines[0]!;
  if (!line.startsWith('migrate: ')) throw new Error(`error line does not start with "migrate: "\n${context}`);
  const named = typeof culprit === 'string' ? line.includes(culprit) : culprit.test(line);
  if (!named) throw new Error(`error line does not name ${String(culprit)}\n${context}`);
  expectNoStackTrace(result);
}

export function expectNoStackTrace(result: ProcessResult): void {
  const stack = /(^|\n|\\n)\s*at [^\n]*(\(|file:|node:)|\.(?:js|ts):\d+:\d+/;
  for (const output of [result.stdout, result.stderr]) {
    if (stack.test(output)) throw new Error(`output carries a stack trace:\n${output}`);
  }
}

/** A folder of migration files (name → content), removed by `cleanupTemp`. */
const temps: string[] = [];
export async function migrationsDir(files: Record<string, string | Buffer>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'rel-'));
  temps.push(dir);
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  return dir;
}
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'rel-'));
  temps.push(dir);
  return dir;
}
export async function cleanupTemp(): Promise<void> {
  await Promise.all(temps.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

/** pg_dump of `database` (schema only, or schema and data), without comments and SETs. */
export async function dump(database: string, what: 'schema' | 'all' = 'all'): Promise<string> {
  const url = new URL(serverUrl());
  url.pathname = `/${database}`;
  const args = ['--no-owner', '--no-privileges', '--lock-wait-timeout=30000', ...(what === 'schema' ? ['--schema-only'] : []), '-d', url.toString()];
  const { stdout } = await execFileAsync('pg_dump', args, { maxBuffer: 64 * 1024 * 1024 });
  return stdout
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('--') && !/^SET |^SELECT pg_catalog\.set_config|^\\(un)?restrict /.test(l))
    .join('\n');
}

/** One query on the server (the `postgres` database), outside the test database. */
export async function serverQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params?: unknown[]): Promise<R[]> {
  const client = new pg.Client({ connectionString: serverUrl() });
  await client.connect();
  try {
    return (await client.query<R>(text, params)).rows;
  } finally {
    await client.end();
  }
}

export interface Leftovers {
  readonly advisoryLocks: number;
  readonly sessions: { pid: number; application_name: string; state: string | null; xact: boolean; query: string }[];
}

export async function leftovers(database: string): Promise<Leftovers> {
  const [locks] = await serverQuery<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_locks
     WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = $1)`,
    [database],
  );
  const sessions = await serverQuery<Leftovers['sessions'][number]>(
    `SELECT pid, application_name, state, xact_start IS NOT NULL AS xact, left(query, 80) AS query
     FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
    [database],
  );
  return { advisoryLocks: locks!.n, sessions };
}

/**
 * Waits (bounded) until no advisory lock and no session remain on `database`:
 * a killed client's backend goes when the server notices, e.g. after a
 * pg_sleep it was in. Throws with what is left.
 */
export async function expectNoLeftovers(database: string, timeoutMs = 20_000): Promise<number> {
  const started = Date.now();
  let last: Leftovers;
  for (;;) {
    last = await leftovers(database);
    if (last.advisoryLocks === 0 && last.sessions.length === 0) return Date.now() - started;
    if (Date.now() - started > timeoutMs) break;
    await sleep(100);
  }
  throw new Error(`leftovers on ${database} after ${timeoutMs} ms: ${JSON.stringify(last)}`);
}

/** Polls `probe` until it returns true (bounded); returns whether it did. */
export async function until(probe: () => Promise<boolean>, timeoutMs: number, everyMs = 20): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return true;
    await sleep(everyMs);
  }
  return false;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Whether a query matching `like` runs on `database` now. */
export async function isRunning(database: string, like: string): Promise<boolean> {
  const rows = await serverQuery(
    `SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND state = 'active' AND query LIKE $2`,
    [database, like],
  );
  return rows.length > 0;
}

/** The history as the runner's table holds it: names in id order (empty when the table is missing). */
export async function historyNames(db: { query: TestDatabase['query'] }, table = 'pgmigrations'): Promise<string[]> {
  const [exists] = await db.query<{ t: string | null }>(`SELECT to_regclass($1) AS t`, [`public.${table}`]);
  if (!exists?.t) return [];
  return (await db.query<{ name: string }>(`SELECT name FROM public.${table} ORDER BY id`)).map((r) => r.name);
}

export function envWith(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return cleanEnv({ LOG_FORMAT: 'json', ...extra });
}
