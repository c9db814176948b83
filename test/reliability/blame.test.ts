/**
 * Promise: a failure names the party at fault and what became of the batch
 * (RELIABILITY.md, promise 15). The runner's own statements after migration
 * SQL run with the runner's role and search_path; a migration that ran
 * outside a transaction says what took effect; an invalid index left behind
 * is a status finding with the statement that clears it; a lock_timeout from
 * the role or database names the setting and the session holding the lock;
 * a failed statement is printed once; `sql` says why it cannot show a
 * migration that reads what an earlier pending one makes.
 */
import { jest } from '@jest/globals';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import {
  cleanupTemp,
  dump,
  envWith,
  expectNoLeftovers,
  expectOneLineError,
  historyNames,
  migrate,
  migrationsDir,
  serverQuery,
  urlFor,
  type CliResult,
} from './support.js';

jest.setTimeout(120_000);

let db: TestDatabase;
beforeEach(async () => {
  db = await createTestDatabase('rel_blame');
});
afterEach(async () => {
  await db.drop();
});
afterAll(cleanupTemp);

async function run(dir: string, ...args: string[]): Promise<CliResult> {
  return migrate([...args, '--database-url', urlFor(db.name), '--dir', dir], { env: envWith() });
}

describe("the runner's own statements run with the runner's settings", () => {
  test("a migration's SET ROLE does not make the history write fail", async () => {
    const role = `${db.name}_limited`;
    await serverQuery(`CREATE ROLE ${pg.escapeIdentifier(role)} NOLOGIN`);
    try {
      // The history table is the runner's (created in this batch, owned by it): the limited role may not write it.
      const dir = await migrationsDir({ '0001_as_limited.sql': `CREATE TABLE a (id int);\nSET ROLE ${pg.escapeIdentifier(role)};\n` });
      const r = await run(dir, 'auto');
      expect(r.code).toBe(0);
      expect(await historyNames(db)).toEqual(['0001_as_limited']);
    } finally {
      await db.drop();
      await serverQuery(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(role)}`);
    }
  });

  test("a migration's SET search_path does not decide what the history write calls", async () => {
    const dir = await migrationsDir({
      '0001_shadow.sql': `CREATE SCHEMA shadow;
CREATE FUNCTION shadow.now() RETURNS timestamptz LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'shadow.now() was called'; END $$;
SET search_path TO shadow, pg_catalog;
`,
    });
    const r = await run(dir, 'auto');
    expect(r.code).toBe(0);
    expect(await historyNames(db)).toEqual(['0001_shadow']);
  });
});

describe('a migration that ran outside a transaction', () => {
  const FILES = {
    '0001_t.sql': 'CREATE TABLE t (x int);\nINSERT INTO t VALUES (1), (1);\n',
    '0002_indexes.sql': '-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY t_x ON t (x);\nCREATE UNIQUE INDEX CONCURRENTLY t_x_unique ON t (x);\n',
    '0003_after.sql': 'CREATE TABLE after_it (id int);\n',
  };

  test('fails saying what took effect and what did not, and the invalid index it left is a status finding', async () => {
    const dir = await migrationsDir(FILES);
    const r = await run(dir, 'auto', '--json');
    expect(r.code).toBe(1);
    expectOneLineError(r, /migration 0002_indexes \(up\) failed: could not create unique index "t_x_unique"/);
    const line = r.errorLines[0]!;
    expect(line).toContain('it ran outside a transaction: its statement 1 of 2 took effect and stays, the migrations after it did not run, the 1 migration before it committed');
    expect(line).toContain('DROP INDEX CONCURRENTLY public.t_x_unique clears it');
    expect((JSON.parse(r.stdout) as { migrations: { name: string; status: string }[] }).migrations.map((m) => `${m.name}:${m.status}`))
      .toEqual(['0001_t:applied', '0002_indexes:failed', '0003_after:not-run']);
    expect(await historyNames(db)).toEqual(['0001_t']);
    await expectNoLeftovers(db.name);

    const status = await run(dir, 'status', '--json');
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout).findings).toEqual([
      { kind: 'invalid-index', index: 'public.t_x_unique', table: 'public.t', clear: 'DROP INDEX CONCURRENTLY public.t_x_unique' },
    ]);
    const text = await run(dir, 'status');
    expect(text.stdout).toMatch(/finding: +invalid-index: public\.t_x_unique on public\.t is invalid .*DROP INDEX CONCURRENTLY public\.t_x_unique clears it/);
  });
});

describe('a lock_timeout the runner did not set', () => {
  test.each([
    ['the database', (name: string) => `ALTER DATABASE ${pg.escapeIdentifier(name)} SET lock_timeout = '300ms'`, 'set for the database'],
    ['the role in this database', (name: string) => `ALTER ROLE CURRENT_USER IN DATABASE ${pg.escapeIdentifier(name)} SET lock_timeout = '300ms'`, 'set for the role in this database'],
  ])('set for %s: the error names the setting, where it comes from, and the session holding the lock', async (_label, setting, where) => {
    const dir = await migrationsDir({ '0001_a.sql': 'CREATE TABLE a (id int);\n' });
    expect((await run(dir, 'auto')).code).toBe(0);
    await serverQuery(setting(db.name));
    const before = await dump(db.name, 'schema');
    const blocker = new pg.Client({ connectionString: urlFor(db.name), application_name: 'rel-blocker' });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE a IN ACCESS EXCLUSIVE MODE');
      const [{ pid }] = (await blocker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows as [{ pid: number }];
      const more = await migrationsDir({ '0001_a.sql': 'CREATE TABLE a (id int);\n', '0002_alter.sql': 'ALTER TABLE a ADD COLUMN note text;\n' });
      const r = await run(more, 'auto');
      expect(r.code).toBe(1);
      expectOneLineError(r, /could not lock table a within 300ms \(4 attempts\)/);
      expect(r.errorLines[0]).toContain(`lock_timeout = 300ms, ${where}`);
      expect(r.errorLines[0]).toContain(`held by pid ${pid} (rel-blocker) idle in transaction: SELECT pg_backend_pid() AS pid`);
    } finally {
      await blocker.end();
    }
    expect(await dump(db.name, 'schema')).toEqual(before);
  });
});

describe('the failed statement is printed once', () => {
  test('not in the error line and again, as it was, in the log', async () => {
    const dir = await migrationsDir({ '0001_a.sql': 'CREATE TABLE a (id int);\n', '0002_zero.sql': 'SELECT 4711/0;\n' });
    const r = await run(dir, 'auto');
    expect(r.code).toBe(1);
    expectOneLineError(r, /migration 0002_zero \(up\) failed: division by zero in statement: SELECT 4711\/0;/);
    expect(r.stderr.split('4711/0')).toHaveLength(2);
  });

  test('with an error position, the error line says file:line and the log shows the caret', async () => {
    const dir = await migrationsDir({ '0001_bad.sql': '-- Up Migration\nCREATE TABLE a (id int);\nSELECT nope FROM a;\n-- Down Migration\nDROP TABLE a;\n' });
    const r = await run(dir, 'auto');
    expect(r.code).toBe(1);
    expectOneLineError(r, /column "nope" does not exist at 0001_bad\.sql:3: SELECT nope FROM a;/);
    const caret = r.logs.find((l) => String(l.message).startsWith('failing SQL of 0001_bad.sql'));
    expect(String(caret?.message)).toMatch(/SELECT nope FROM a;\n {7}\^/);
  });
});

describe('sql with a migration that queries while it is built', () => {
  test('reading what an earlier pending migration makes: says why, naming the migration', async () => {
    const dir = await migrationsDir({
      '0001_things.sql': 'CREATE TABLE things (id int);\n',
      '0002_count_things.js': "export const up = async (pgm) => { const rows = await pgm.db.select('SELECT count(*) AS n FROM things'); pgm.sql(`SELECT ${rows[0].n}`); };\nexport const down = () => {};\n",
    });
    const before = await dump(db.name);
    const r = await run(dir, 'sql');
    expect(r.code).toBe(1);
    expectOneLineError(r, /sql cannot show 0002_count_things: it queries the database while it is built \(pgm\.db\) and got "relation "things" does not exist"; sql builds each migration without running the pending ones before it \(0001_things\)/);
    expect(r.errorLines[0]).not.toMatch(/internal error/);
    expect(await dump(db.name)).toEqual(before);
    await expectNoLeftovers(db.name);
  });
});
