/**
 * Promise: the history stays node-pg-migrate's and whole (RELIABILITY.md, "history integrity"):
 * it never names a migration twice, whoever wrote the other row
 * and whatever became of the lock; a `--table` too long for its side table's
 * name keeps checksums on; a history table the runner cannot read or write
 * is exit 2 naming it, with the database unchanged.
 */
import { jest } from '@jest/globals';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import {
  cleanupTemp,
  dump,
  envWith,
  expectNoLeftovers,
  expectOneLineError,
  isRunning,
  migrate,
  migrationsDir,
  spawnCli,
  serverQuery,
  until,
  urlFor,
} from './support.js';

jest.setTimeout(120_000);

const databases: TestDatabase[] = [];
async function newDatabase(prefix: string): Promise<TestDatabase> {
  const db = await createTestDatabase(prefix);
  databases.push(db);
  return db;
}
afterAll(async () => {
  await Promise.all(databases.map((d) => d.drop()));
  await cleanupTemp();
});

const sql = (up: string, down = 'SELECT 1;') => `-- Up Migration\n${up}\n-- Down Migration\n${down}\n`;

async function names(db: TestDatabase, table = 'pgmigrations', schema = 'public'): Promise<string[]> {
  return (await db.query<{ name: string }>(`SELECT name FROM "${schema}"."${table}" ORDER BY run_on, id`)).map((r) => r.name);
}

describe('the history never names a migration twice', () => {
  test('a row written meanwhile by someone without the lock: the batch records nothing, rolls back, exit 1 naming it', async () => {
    const db = await newDatabase('rel_dup_batch');
    const dir = await migrationsDir({
      '0001_slow.sql': sql('CREATE TABLE slow (id int);\nSELECT pg_sleep(1.5);', 'DROP TABLE slow;'),
    });
    // The history table exists, as plain node-pg-migrate left it.
    expect((await migrate(['stamp', 'base', '--database-url', urlFor(db.name), '--dir', dir])).code).toBe(0);
    const run = spawnCli(['up', '--database-url', urlFor(db.name), '--dir', dir], { env: envWith() });
    expect(await until(() => isRunning(db.name, '%pg_sleep%'), 20_000)).toBe(true);
    // As plain node-pg-migrate with --no-lock would record it.
    await db.query(`INSERT INTO public.pgmigrations (name, run_on) VALUES ('0001_slow', now())`);
    const result = await run.done;
    expect(result.code).toBe(1);
    expectOneLineError(result, /records 0001_slow already/);
    expect(await names(db)).toEqual(['0001_slow']);
    // Rolled back: the table the migration made is not there.
    expect(await db.query(`SELECT to_regclass('public.slow') AS t`)).toEqual([{ t: null }]);
    await expectNoLeftovers(db.name);
  });

  test('the lock session killed during a noTransaction migration, and a second runner: the migration is recorded once', async () => {
    const db = await newDatabase('rel_dup_notx');
    const dir = await migrationsDir({
      '0001_slow.js': `exports.up = (pgm) => { pgm.noTransaction(); pgm.sql('SELECT pg_sleep(2)'); };\nexports.down = () => null;\n`,
      '0002_after.sql': sql('CREATE TABLE after_slow (id int);', 'DROP TABLE after_slow;'),
    });
    const args = ['auto', '--database-url', urlFor(db.name), '--dir', dir];
    const first = spawnCli(args, { env: envWith() });
    expect(await until(() => isRunning(db.name, '%pg_sleep%'), 20_000)).toBe(true);
    // Its lock goes with its session; the next runner takes it and runs 0001 too.
    await serverQuery(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'migrate lock %'`, [db.name]);
    const second = spawnCli(args, { env: envWith() });
    const results = await Promise.all([first.done, second.done]);
    const history = await names(db);
    expect(history.filter((n) => n === '0001_slow')).toEqual(['0001_slow']);
    expect(new Set(history).size).toBe(history.length);
    // A runner that failed said why in one line: its lock was gone, or 0001 was recorded by the other.
    for (const r of results.filter((result) => result.code !== 0)) {
      expect(r.code).toBe(1);
      expectOneLineError(r, /records 0001_slow already|lost the migration lock/);
    }
    // The next run finishes the rest and leaves it current.
    expect((await migrate(args, { env: envWith() })).code).toBe(0);
    expect(await names(db)).toEqual(['0001_slow', '0002_after']);
    await expectNoLeftovers(db.name);
  });

  test('stamp heals a history that names a migration twice (plain node-pg-migrate wrote it so)', async () => {
    const db = await newDatabase('rel_dup_stamp');
    const dir = await migrationsDir({
      '0001_a.sql': sql('CREATE TABLE a (id int);', 'DROP TABLE a;'),
      '0002_b.sql': sql('CREATE TABLE b (id int);', 'DROP TABLE b;'),
    });
    expect((await migrate(['auto', '--database-url', urlFor(db.name), '--dir', dir])).code).toBe(0);
    await db.query(`INSERT INTO public.pgmigrations (name, run_on) VALUES ('0001_a', now() + interval '1 hour')`);
    expect(await names(db)).toEqual(['0001_a', '0002_b', '0001_a']);
    expect((await migrate(['stamp', 'head', '--database-url', urlFor(db.name), '--dir', dir])).code).toBe(0);
    expect(await names(db)).toEqual(['0001_a', '0002_b']);
  });
});

describe('--table names', () => {
  const FILES = { '0001_a.sql': sql('CREATE TABLE a (id int);', 'DROP TABLE a;') };

  test('a table whose "<table>_meta" would pass 63 bytes keeps checksums: an edited file is still found', async () => {
    const db = await newDatabase('rel_long_table');
    const table = `history_${'x'.repeat(52)}`; // 60 bytes; "<table>_meta" would be 65
    const dir = await migrationsDir(FILES);
    const args = ['--database-url', urlFor(db.name), '--dir', dir, '--table', table];
    expect((await migrate(['auto', ...args])).code).toBe(0);
    const tables = await db.query<{ relname: string }>(
      `SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' ORDER BY relname`,
    );
    const meta = tables.map((t) => t.relname).filter((name) => name !== 'a' && name !== table);
    expect(meta).toEqual([expect.stringMatching(/^history_x+_[0-9a-f]{8}_meta$/)]);
    expect(Buffer.byteLength(meta[0]!)).toBeLessThanOrEqual(63);
    const history = await migrate(['history', '--json', ...args]);
    expect(JSON.parse(history.stdout).migrations[0]).toMatchObject({ name: '0001_a', checksum: 'ok' });

    await (await import('node:fs/promises')).writeFile(`${dir}/0001_a.sql`, sql('CREATE TABLE a (id bigint);', 'DROP TABLE a;'));
    const status = await migrate(['status', '--json', ...args]);
    expect(JSON.parse(status.stdout).findings).toEqual([expect.objectContaining({ kind: 'checksum-mismatch' })]);
  });

  test('a table name longer than 63 bytes is exit 2, one line, nothing created', async () => {
    const db = await newDatabase('rel_too_long');
    const dir = await migrationsDir(FILES);
    const before = await dump(db.name);
    const result = await migrate(['auto', '--database-url', urlFor(db.name), '--dir', dir, '--table', 'h'.repeat(64)]);
    expect(result.code).toBe(2);
    expectOneLineError(result, /table name .* longer than PostgreSQL's 63 bytes/);
    expect(await dump(db.name)).toBe(before);
  });
});

describe('a history table the runner cannot use is exit 2 naming it, with the database unchanged', () => {
  const FILES = { '0001_a.sql': sql('CREATE TABLE a (id int);', 'DROP TABLE a;') };
  const CASES: readonly (readonly [what: string, ddl: string, message: RegExp])[] = [
    ['without run_on', 'CREATE TABLE pgmigrations (id serial PRIMARY KEY, name varchar(255) NOT NULL)', /"public"\."pgmigrations" has no column run_on/],
    ['without id', 'CREATE TABLE pgmigrations (name varchar(255) NOT NULL, run_on timestamp NOT NULL)', /"public"\."pgmigrations" has no column id/],
    [
      'with an extra NOT NULL column without a default',
      'CREATE TABLE pgmigrations (id serial PRIMARY KEY, name varchar(255) NOT NULL, run_on timestamp NOT NULL, added_by text NOT NULL)',
      /"public"\."pgmigrations" has a column added_by NOT NULL without a default/,
    ],
    [
      'a side table without checksum',
      'CREATE TABLE pgmigrations_meta (name varchar(255) PRIMARY KEY, applied_by text)',
      /"public"\."pgmigrations_meta" has no column checksum/,
    ],
  ];

  test.each(CASES)('%s', async (_what, ddl, message) => {
    const db = await newDatabase('rel_bad_history');
    await db.query(ddl);
    const dir = await migrationsDir(FILES);
    const before = await dump(db.name);
    for (const command of [['status'], ['auto'], ['up'], ['stamp', 'head'], ['history']]) {
      const result = await migrate([...command, '--database-url', urlFor(db.name), '--dir', dir]);
      expect({ command, code: result.code }).toEqual({ command, code: 2 });
      expectOneLineError(result, message);
    }
    expect(await dump(db.name)).toBe(before);
    await expectNoLeftovers(db.name);
  });

  test('extra columns that are nullable or have a default are fine, as for plain node-pg-migrate', async () => {
    const db = await newDatabase('rel_extra_columns');
    await db.query(`CREATE TABLE pgmigrations (id serial PRIMARY KEY, name varchar(255) NOT NULL, run_on timestamp NOT NULL,
                    note text, added_by text NOT NULL DEFAULT current_user)`);
    const dir = await migrationsDir(FILES);
    expect((await migrate(['auto', '--database-url', urlFor(db.name), '--dir', dir])).code).toBe(0);
    expect(await names(db)).toEqual(['0001_a']);
  });
});
