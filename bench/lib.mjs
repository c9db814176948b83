/**
 * Bench helpers: scratch databases, timed child processes, medians.
 * Plain Node ESM so the bench needs nothing but `npm run build` of the runner.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export const SERVER_URL =
  process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** The URL of database `name` on the bench server. */
export function urlOf(name) {
  const url = new URL(SERVER_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/** dbmate wants sslmode spelled out for a local server without TLS. */
export function dbmateUrlOf(name) {
  const url = new URL(urlOf(name));
  if (!url.searchParams.has('sslmode')) url.searchParams.set('sslmode', 'disable');
  return url.toString();
}

export async function withAdmin(work) {
  const admin = new pg.Client({ connectionString: SERVER_URL });
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.end();
  }
}

/** Drops (if there) and creates database `name`. */
export async function freshDatabase(name) {
  await withAdmin(async (admin) => {
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  });
  return urlOf(name);
}

export async function dropDatabase(name) {
  await withAdmin((admin) => admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`));
}

/** Runs `work(client)` on database `name`. */
export async function withDatabase(name, work) {
  const client = new pg.Client({ connectionString: urlOf(name) });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * Spawns a command and resolves when it has exited, with its wall time in ms
 * (spawn to exit), exit code and output. Output is kept (bounded) for errors.
 */
export function timed(command, args, { env, cwd } = {}) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, { cwd, env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const keep = (text, chunk) => (text.length < 1 << 20 ? text + chunk : text);
    child.stdout.on('data', (chunk) => (stdout = keep(stdout, chunk)));
    child.stderr.on('data', (chunk) => (stderr = keep(stderr, chunk)));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      resolve({ ms, code, signal, stdout, stderr });
    });
  });
}

/** Like timed(), but a non-zero exit (other than those in `okCodes`) is an error. */
export async function mustRun(command, args, options = {}) {
  const result = await timed(command, args, options);
  const ok = options.okCodes ?? [0];
  if (!ok.includes(result.code)) {
    const tail = (result.stderr || result.stdout).trim().split('\n').slice(-8).join('\n');
    throw new Error(`${command} ${args.join(' ')} exited ${result.code ?? result.signal}:\n${tail}`);
  }
  return result;
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** A fresh, empty temp folder used as TMPDIR and XDG_CACHE_HOME: no warm jiti cache. */
export function coldCacheEnv(base = process.env) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-cold-'));
  return {
    env: { ...base, TMPDIR: dir, XDG_CACHE_HOME: dir },
    dir,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function log(message) {
  process.stderr.write(`bench: ${message}\n`);
}
