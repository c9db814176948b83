/**
 * Promise: migration code that escapes the runner, a migration that hangs,
 * and a signal mid-run all end the same way (RELIABILITY.md, promise 16): the
 * statement running on the server is cancelled, the batch rolled back, the
 * lock released, one line on stderr, a documented exit code (1; 143 for
 * SIGTERM, 130 for SIGINT), and no session or lock left on the server.
 */
import { jest } from '@jest/globals';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import {
  cleanupTemp,
  dump,
  envWith,
  expectNoLeftovers,
  expectOneLineError,
  historyNames,
  isRunning,
  leftovers,
  migrate,
  migrationsDir,
  spawnCli,
  tempDir,
  until,
  urlFor,
  type CliResult,
} from './support.js';

jest.setTimeout(120_000);

let db: TestDatabase;
beforeEach(async () => {
  db = await createTestDatabase('rel_escape');
});
afterEach(async () => {
  await db.drop();
});
afterAll(cleanupTemp);

const args = (dir: string, ...extra: string[]) => [...extra, '--database-url', urlFor(db.name), '--dir', dir];
const FIRST = { '0001_first.sql': 'CREATE TABLE first (id int);\n' };

/** Runs `auto` on FIRST plus `files` and checks the database is exactly as before, with nothing left on the server. */
async function expectRolledBack(files: Record<string, string>, extra: string[] = [], env: Record<string, string> = {}): Promise<CliResult> {
  const dir = await migrationsDir({ ...FIRST, ...files });
  const before = await dump(db.name);
  const r = await migrate(args(dir, 'auto', ...extra), { env: envWith(env), timeoutMs: 60_000 });
  expect(r.signal).toBeNull();
  // Leftovers first: a statement still running on the server would hold the dump up.
  await expectNoLeftovers(db.name, 5_000);
  expect(await dump(db.name)).toEqual(before);
  return r;
}

describe('migration code that escapes', () => {
  test('an exception thrown from a timer: one line, rolled back, exit 1', async () => {
    const r = await expectRolledBack({
      '0002_timer.js': `export const up = async (pgm) => {
  pgm.sql('CREATE TABLE t_timer (id int)');
  setTimeout(() => { throw new Error('boom from a timer'); }, 10);
  await new Promise((resolve) => setTimeout(resolve, 5_000));
};\nexport const down = () => {};\n`,
    });
    expect(r.code).toBe(1);
    expectOneLineError(r, /migration 0002_timer \(up\) failed: an exception escaped from migration code .*boom from a timer/);
  });

  test('a rejection nobody handles: one line, rolled back, exit 1', async () => {
    const r = await expectRolledBack({
      '0002_rejects.js': `export const up = async (pgm) => {
  pgm.sql('CREATE TABLE t_rejects (id int)');
  Promise.reject(new Error('nobody catches this'));
  await new Promise((resolve) => setTimeout(resolve, 5_000));
};\nexport const down = () => {};\n`,
    });
    expect(r.code).toBe(1);
    expectOneLineError(r, /migration 0002_rejects \(up\) failed: an exception escaped from migration code .*nobody catches this/);
  });

  test('process.exit() inside up: one line, rolled back, exit 1 (not 0 with nothing applied)', async () => {
    const r = await expectRolledBack({
      '0002_exits.js': `export const up = (pgm) => { pgm.sql('CREATE TABLE t_exits (id int)'); process.exit(0); };\nexport const down = () => {};\n`,
    });
    expect(r.code).toBe(1);
    expectOneLineError(r, /migration 0002_exits \(up\) failed: migration code called process\.exit\(0\)/);
  });
});

describe('--migration-timeout', () => {
  test('an up that never resolves is given up on: exit 1, rolled back, lock released, and the process ends', async () => {
    const r = await expectRolledBack(
      {
        // The interval keeps Node's event loop alive: the runner must end the process all the same.
        '0002_hangs.js': `export const up = (pgm) => { pgm.sql('CREATE TABLE t_hangs (id int)'); setInterval(() => {}, 1_000); return new Promise(() => {}); };\nexport const down = () => {};\n`,
      },
      ['--migration-timeout', '1'],
    );
    expect(r.code).toBe(1);
    expectOneLineError(r, /migration 0002_hangs \(up\) failed: did not finish within 1 s \(--migration-timeout\)/);
  });

  test.each([
    ['a .sql statement', { '0002_sleeps.sql': 'CREATE TABLE t_sleeps (id int);\nSELECT pg_sleep(60);\n' }],
    ['a pgm.db query', { '0002_sleeps.js': `export const up = async (pgm) => { await pgm.db.query('SELECT pg_sleep(60)'); };\nexport const down = () => {};\n` }],
  ])('%s that runs long is cancelled on the server (config key migrationTimeout)', async (_label, files) => {
    const config = join(await tempDir(), 'migrate.config.json');
    await writeFile(config, JSON.stringify({ migrationTimeout: 1 }));
    const r = await expectRolledBack(files, ['--config', config]);
    expect(r.code).toBe(1);
    expectOneLineError(r, /migration 0002_sleeps \(up\) failed: did not finish within 1 s/);
  });

  test('a bad value is a usage error', async () => {
    const dir = await migrationsDir(FIRST);
    const r = await migrate(args(dir, 'auto', '--migration-timeout', 'soon'), { env: envWith() });
    expect(r.code).toBe(2);
    expectOneLineError(r, /option '--migration-timeout <seconds>' argument 'soon' is invalid/);
  });
});

describe('signals', () => {
  const SLEEPY = {
    ...FIRST,
    '0002_sleeps.sql': 'CREATE TABLE t_sleeps (id int);\nSELECT pg_sleep(60);\n',
  };

  test.each([
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const)('%s during a statement: cancelled on the server, rolled back, lock released, one line, exit %d', async (signal, code) => {
    const dir = await migrationsDir(SLEEPY);
    const before = await dump(db.name);
    const running = spawnCli(args(dir, 'auto'), { env: envWith() });
    expect(await until(() => isRunning(db.name, '%pg_sleep%'), 30_000)).toBe(true);
    running.child.kill(signal);
    const r = await running.done;
    expect(r.code).toBe(code);
    expectOneLineError(r, new RegExp(`interrupted by ${signal}: 0002_sleeps \\(up\\) was cancelled; its transaction was rolled back`));
    // Nothing left: not the pg_sleep (it was cancelled, not left to run out), not the lock, not a session.
    expect(await leftovers(db.name)).toEqual({ advisoryLocks: 0, sessions: [] });
    expect(await dump(db.name)).toEqual(before);
    expect(await historyNames(db)).toEqual([]);
  });

  test('SIGTERM while JS migration code awaits something else: rolled back, exit 143', async () => {
    const dir = await migrationsDir({
      ...FIRST,
      '0002_waits.js': `export const up = async (pgm) => {
  pgm.sql('CREATE TABLE t_waits (id int)');
  await pgm.db.query("SELECT 'now waiting'");
  await new Promise((resolve) => setTimeout(resolve, 60_000));
};\nexport const down = () => {};\n`,
    });
    const before = await dump(db.name);
    const running = spawnCli(args(dir, 'auto', '--log-level', 'info'), { env: envWith() });
    // 0001 ran in the open transaction (the query flushed it); the JS migration awaits its timer.
    expect(await until(async () => (await leftovers(db.name)).sessions.some((s) => s.state === 'idle in transaction' && s.query.includes('now waiting')), 30_000)).toBe(true);
    running.child.kill('SIGTERM');
    const r = await running.done;
    expect(r.code).toBe(143);
    expectOneLineError(r, /interrupted by SIGTERM: 0002_waits \(up\) was cancelled/);
    await expectNoLeftovers(db.name, 5_000);
    expect(await dump(db.name)).toEqual(before);
  });

  test('SIGTERM while a stamp writes the history: the write rolled back, lock released, one line, exit 143', async () => {
    const dir = await migrationsDir({ ...FIRST, '0002_second.sql': 'CREATE TABLE second (id int);\n' });
    const applied = await migrate(args(dir, 'up', '0001_first'), { env: envWith() });
    expect(applied.code).toBe(0);
    const before = await dump(db.name);
    // Another session holds the history table: the stamp's write waits on it, inside its transaction.
    const holder = new pg.Client({ connectionString: urlFor(db.name) });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      // EXCLUSIVE lets the stamp read the history (its look) and holds up only its write.
      await holder.query('LOCK TABLE public.pgmigrations IN EXCLUSIVE MODE');
      const running = spawnCli(args(dir, 'stamp', '0002_second'), { env: envWith() });
      // Seen from another session: the holder's transaction would keep its first view of pg_stat_activity.
      const waiting = async () => (await leftovers(db.name)).sessions.some((session) => session.state === 'active' && /^(INSERT|UPDATE|DELETE)\b/.test(session.query));
      expect(await until(waiting, 30_000)).toBe(true);
      running.child.kill('SIGTERM');
      const r = await running.done;
      expect(r.code).toBe(143);
      expectOneLineError(r, /interrupted by SIGTERM: the history write was rolled back/);
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
    }
    await expectNoLeftovers(db.name, 5_000);
    expect(await dump(db.name)).toEqual(before);
    expect(await historyNames(db)).toEqual(['0001_first']);
  });

  test('SIGTERM while waiting for the lock: exit 143 at once, nothing changed', async () => {
    const dir = await migrationsDir(FIRST);
    const holder = new pg.Client({ connectionString: urlFor(db.name) });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock(7241865325823964)');
      const running = spawnCli(args(dir, 'auto', '--log-level', 'info'), { env: envWith() });
      expect(await until(async () => (await leftovers(db.name)).advisoryLocks > 1, 30_000)).toBe(true);
      running.child.kill('SIGTERM');
      const r = await running.done;
      expect(r.code).toBe(143);
      expectOneLineError(r, /interrupted by SIGTERM: before any migration ran; nothing was changed/);
    } finally {
      await holder.end();
    }
    await expectNoLeftovers(db.name, 5_000);
    expect(await historyNames(db)).toEqual([]);
  });
});
