/**
 * Promise: the server's settings and limits are met with the runner's own
 * session settings and named for what they are (RELIABILITY.md, 8):
 *
 * - a database's or role's statement_timeout never cancels the runner's wait
 *   for the lock, and migrations still run with it;
 * - "too many connections" is said as such (exit 4), not "check the host";
 * - a session the server ended (idle_in_transaction_session_timeout) keeps
 *   the server's reason in the error line;
 * - a read-only server (default_transaction_read_only, a hot standby) is
 *   refused before anything is tried (exit 3), not blamed on a migration.
 */
import { jest } from '@jest/globals';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { postgresBinaries, startCluster, type Cluster } from '../helpers/throwawayCluster.js';
import {
  cleanupTemp,
  dump,
  envWith,
  expectNoLeftovers,
  expectOneLineError,
  historyNames,
  isRunning,
  migrate,
  migrationsDir,
  SECRET,
  serverQuery,
  SERVER_HOST,
  SERVER_PORT,
  sleep,
  spawnCli,
  until,
  urlFor,
} from './support.js';
import { MIGRATION_LOCK_KEY } from '../../src/db/lock.js';

jest.setTimeout(120_000);

const roles: string[] = [];
const databases: TestDatabase[] = [];
afterAll(async () => {
  await Promise.all(databases.map((d) => d.drop()));
  for (const role of roles) await serverQuery(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(role)}`);
  await cleanupTemp();
});

async function database(prefix: string): Promise<TestDatabase> {
  const db = await createTestDatabase(prefix);
  databases.push(db);
  return db;
}

async function role(name: string, options: string): Promise<string> {
  const unique = `${name}_${Math.random().toString(36).slice(2, 8)}`;
  await serverQuery(`CREATE ROLE ${pg.escapeIdentifier(unique)} LOGIN ${options}`);
  roles.push(unique);
  return unique;
}

function urlAs(user: string, database: string): string {
  return `postgres://${user}:${SECRET}@${SERVER_HOST}:${SERVER_PORT}/${database}`;
}

const ONE_TABLE = { '0001_t.sql': '-- Up Migration\nCREATE TABLE t (id int);\n-- Down Migration\nDROP TABLE t;\n' };

describe('statement_timeout from the database or the role', () => {
  test.each(['database', 'role'] as const)('set on the %s: a runner waiting for the lock is not cancelled; it applies once the lock is free', async (where) => {
    const db = await database('rel_stmt');
    let url = urlFor(db.name);
    if (where === 'database') await db.query(`ALTER DATABASE ${pg.escapeIdentifier(db.name)} SET statement_timeout = '500ms'`);
    else {
      const user = await role('rel_stmt', 'SUPERUSER');
      await serverQuery(`ALTER ROLE ${pg.escapeIdentifier(user)} SET statement_timeout = '500ms'`);
      url = urlAs(user, db.name);
    }
    const dir = await migrationsDir(ONE_TABLE);
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
      const run = spawnCli(['auto', '--database-url', url, '--dir', dir], { env: envWith() });
      expect(await until(() => isRunning(db.name, '%pg_advisory_lock%'), 20_000)).toBe(true);
      // Past the 500 ms a statement may take, and past one whole attempt of the wait.
      await sleep(1_500);
      expect(run.child.exitCode).toBeNull();
      await holder.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY]);
      const r = await run.done;
      expect([r.code, r.errorLines]).toEqual([0, []]);
      expect(await historyNames(db)).toEqual(['0001_t']);
    } finally {
      await holder.end();
    }
    await expectNoLeftovers(db.name);
  });

  test("migrations run with the database's statement_timeout (README: the runner's own statements do not)", async () => {
    const db = await database('rel_stmt');
    await db.query(`ALTER DATABASE ${pg.escapeIdentifier(db.name)} SET statement_timeout = '500ms'`);
    const dir = await migrationsDir({
      '0001_check.sql': `-- Up Migration
DO $$ BEGIN
  IF current_setting('statement_timeout') <> '500ms' THEN
    RAISE EXCEPTION 'migrations run with statement_timeout %', current_setting('statement_timeout');
  END IF;
END $$;
CREATE TABLE checked (id int);
`,
    });
    const r = await migrate(['auto', '--database-url', urlFor(db.name), '--dir', dir], { env: envWith() });
    expect([r.code, r.errorLines]).toEqual([0, []]);
    expect(await historyNames(db)).toEqual(['0001_check']);
  });
});

describe('too many connections (SQLSTATE 53300)', () => {
  test.each([['0'], ['1']])('--wait-timeout %s: exit 4, said as such', async (wait) => {
    const db = await database('rel_conns');
    // Superusers are not held to a role's CONNECTION LIMIT.
    const user = await role('rel_limited', 'CONNECTION LIMIT 0');
    const dir = await migrationsDir(ONE_TABLE);
    const before = await dump(db.name);
    const r = await migrate(['auto', '--database-url', urlAs(user, db.name), '--dir', dir, '--wait-timeout', wait], { env: envWith() });
    expect(r.code).toBe(4);
    expectOneLineError(r, new RegExp(`has too many connections: too many connections for role "${user}" \\(still so after ${wait}s\\)`));
    expect(r.errorLines[0]).toContain('CONNECTION LIMIT');
    expect(r.errorLines[0]).not.toContain('host and port');
    expect(await dump(db.name)).toBe(before);
  });
});

test("a session ended by idle_in_transaction_session_timeout: the server's reason is in the line, nothing is left", async () => {
  const db = await database('rel_idle');
  await db.query(`ALTER DATABASE ${pg.escapeIdentifier(db.name)} SET idle_in_transaction_session_timeout = '300ms'`);
  const dir = await migrationsDir({
    ...ONE_TABLE,
    '0002_slow.js': `export async function up(pgm) {
  await pgm.db.query('SELECT 1');
  // Node work inside the batch transaction, longer than the server lets a transaction idle.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await pgm.db.query('SELECT 2');
}
`,
  });
  const before = await dump(db.name);
  const r = await migrate(['auto', '--database-url', urlFor(db.name), '--dir', dir], { env: envWith() });
  expect(r.code).toBe(1);
  expectOneLineError(r, /migration 0002_slow \(up\) failed: lost the connection to the database \(terminating connection due to idle-in-transaction timeout\)/);
  expect(await dump(db.name)).toBe(before);
  await expectNoLeftovers(db.name);
});

describe('a read-only server', () => {
  test('default_transaction_read_only on the database: exit 3 before anything is tried; reading still works', async () => {
    const db = await database('rel_ro');
    await db.query(`ALTER DATABASE ${pg.escapeIdentifier(db.name)} SET default_transaction_read_only = on`);
    const dir = await migrationsDir(ONE_TABLE);
    const before = await dump(db.name);
    for (const command of [['auto'], ['up'], ['stamp', 'head']]) {
      const r = await migrate([...command, '--database-url', urlFor(db.name), '--dir', dir], { env: envWith() });
      expect(r.code).toBe(3);
      expectOneLineError(r, /is read-only for this session \(default_transaction_read_only is on\); nothing was changed/);
      expect(r.errorLines[0]).not.toMatch(/migration 0001_t|internal error/);
    }
    const status = await migrate(['status', '--database-url', urlFor(db.name), '--dir', dir], { env: envWith() });
    expect([status.code, status.stdout]).toEqual([0, expect.stringContaining('state:    fresh')]);
    expect(await dump(db.name)).toBe(before);
    await expectNoLeftovers(db.name);
  });

  const available = postgresBinaries() !== null;
  let primary: Cluster | undefined;
  let standby: Cluster | undefined;
  afterAll(async () => {
    await standby?.stop();
    await primary?.stop();
  });

  (available ? test : test.skip)('a hot standby: exit 3, named as such; status works', async () => {
    primary = await startCluster();
    await primary.query('CREATE DATABASE app');
    standby = await startCluster({ standbyOf: primary, conf: ['hot_standby = on'] });
    const url = `postgres://postgres:${SECRET}@127.0.0.1:${standby.port}/app`;
    const dir = await migrationsDir(ONE_TABLE);
    const r = await migrate(['auto', '--database-url', url, '--dir', dir], { env: envWith() });
    expect(r.code).toBe(3);
    expectOneLineError(r, /is a read-only hot standby \(the server is in recovery\); nothing was changed \(point the runner at the primary\)/);
    const status = await migrate(['status', '--database-url', url, '--dir', dir], { env: envWith() });
    expect([status.code, status.stdout]).toEqual([0, expect.stringContaining('state:    fresh')]);
    const [tables] = await primary.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace`, 'app');
    expect(tables?.n).toBe(0);
  });
});
