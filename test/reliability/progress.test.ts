/**
 * Promise: progress is true (RELIABILITY.md, promise 17). Each migration of a
 * round trip is recorded with its own duration, by the server's clock; it is
 * logged as it finishes, as not committed yet, and the commit is a line of
 * its own, so a batch that is rolled back never said it committed; a long
 * migration says it is still running.
 */
import { jest } from '@jest/globals';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { cleanupTemp, envWith, migrate, migrationsDir, urlFor, type CliResult } from './support.js';

jest.setTimeout(120_000);

let db: TestDatabase;
beforeEach(async () => {
  db = await createTestDatabase('rel_progress');
});
afterEach(async () => {
  await db.drop();
});
afterAll(cleanupTemp);

const run = (dir: string, ...args: string[]) =>
  migrate([...args, '--database-url', urlFor(db.name), '--dir', dir, '--log-level', 'info'], { env: envWith() });
const messages = (r: CliResult) => r.logs.map((l) => String(l.message));

test('migrations sharing a round trip each keep their own duration', async () => {
  const dir = await migrationsDir({
    '0001_slow.sql': 'SELECT pg_sleep(1.5);\n',
    '0002_quick.sql': 'CREATE TABLE quick (id int);\n',
    '0003_slow.sql': 'SELECT pg_sleep(1.5);\n',
  });
  const r = await run(dir, 'auto', '--json');
  expect(r.code).toBe(0);
  const meta = await db.query<{ name: string; duration_ms: number }>('SELECT name, duration_ms FROM pgmigrations_meta ORDER BY name');
  const durations = Object.fromEntries(meta.map((m) => [m.name, m.duration_ms]));
  // Split evenly, as before, each would have had about a third of the round trip's 3 s.
  expect(durations['0001_slow']).toBeGreaterThanOrEqual(1500);
  expect(durations['0003_slow']).toBeGreaterThanOrEqual(1500);
  expect(durations['0002_quick']).toBeLessThan(1500);
  const report = JSON.parse(r.stdout) as { migrations: { name: string; durationMs: number }[] };
  expect(report.migrations.map((m) => m.durationMs)).toEqual(['0001_slow', '0002_quick', '0003_slow'].map((n) => durations[n]));
});

test('lines say "not committed yet" until the commit, which has a line of its own; a rolled-back batch has none', async () => {
  const files = { '0001_a.sql': 'CREATE TABLE a (id int);\n', '0002_b.sql': 'CREATE TABLE b (id int);\n' };
  const failing = await run(await migrationsDir({ ...files, '0003_fails.sql': 'SELECT 1/0;\n' }), 'auto');
  expect(failing.code).toBe(1);
  expect(messages(failing).filter((m) => /^applied /.test(m))).toEqual([
    expect.stringMatching(/^applied 0001_a \(1\/3, \d+ ms, not committed yet\)$/),
    expect.stringMatching(/^applied 0002_b \(2\/3, \d+ ms, not committed yet\)$/),
  ]);
  expect(messages(failing).some((m) => m.startsWith('committed'))).toBe(false);

  const ok = await run(await migrationsDir(files), 'auto');
  expect(ok.code).toBe(0);
  const lines = messages(ok);
  const committed = lines.findIndex((m) => m === 'committed 2 migrations (0001_a … 0002_b)');
  expect(committed).toBeGreaterThan(lines.findIndex((m) => m.startsWith('applied 0002_b')));
});

test('a migration that runs long says so every few seconds', async () => {
  const r = await run(await migrationsDir({ '0001_long.sql': 'SELECT pg_sleep(6);\n' }), 'auto');
  expect(r.code).toBe(0);
  expect(messages(r)).toContainEqual(expect.stringMatching(/^0001_long still running \(\d+ s\)$/));
});
