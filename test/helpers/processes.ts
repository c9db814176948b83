/** Runs the built CLI (and plain node-pg-migrate) as real processes. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI_PATH = join(PROJECT_ROOT, 'dist', 'cli.js');
export const NODE_PG_MIGRATE_BIN = join(PROJECT_ROOT, 'node_modules', 'node-pg-migrate', 'bin', 'node-pg-migrate.js');

export interface ProcessResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly cwd?: string;
  /** Replaces the environment entirely (PATH and HOME are kept). */
  readonly env?: Record<string, string | undefined>;
  readonly input?: string;
  readonly timeoutMs?: number;
}

/**
 * An environment with none of the settings the runner reads, so tests are
 * explicit, but one: replays run on the test server (a server kept for
 * throwaway databases, MIGRATE_SCRATCH_URL), not each on an embedded cluster
 * of their own. Tests of the scratch server pass `MIGRATE_SCRATCH_URL: undefined`.
 */
export function cleanEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const base: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LOG_FORMAT: 'json',
    MIGRATE_SCRATCH_URL: process.env.TEST_SCRATCH_URL,
  };
  return { ...base, ...extra };
}

export function runProcess(command: string, args: readonly string[], options: RunOptions = {}): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? PROJECT_ROOT,
      env: options.env ?? cleanEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** `test`, or `test.skip` where psql is not on PATH (globalSetup says so, once). */
export const testWithPsql: jest.It = process.env.TEST_PSQL_SKIP ? test.skip : test;

/** `migrate ARGS` as a process. */
export function runCli(args: readonly string[], options: RunOptions = {}): Promise<ProcessResult> {
  return runProcess(process.execPath, [CLI_PATH, ...args], options);
}

/** Plain `node-pg-migrate ARGS`, to build states the way a user of it would. */
export function runNodePgMigrate(args: readonly string[], options: RunOptions = {}): Promise<ProcessResult> {
  return runProcess(process.execPath, [NODE_PG_MIGRATE_BIN, ...args], options);
}
