/**
 * Promise: bad input of every kind ends with its documented exit code, one
 * line on stderr naming the culprit, no stack trace, the database exactly as
 * it was (pg_dump of schema and data before and after) and no lock or
 * session left (RELIABILITY.md, promise 4).
 *
 * All cases share one database that holds a first migration: each must
 * leave it as it found it, so a case that changed it also fails the next.
 */
import { jest } from '@jest/globals';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { freePort, startPasswordRejectingServer } from '../helpers/tcpProxy.js';
import {
  cleanupTemp,
  dump,
  envWith,
  expectNoLeftovers,
  expectNoSecret,
  expectOneLineError,
  historyNames,
  migrate,
  migrationsDir,
  SECRET,
  tempDir,
  urlFor,
  type CliResult,
} from './support.js';

jest.setTimeout(60_000);

const BASE = {
  '0001_base.sql': `-- Up Migration
CREATE TABLE base_t (id integer PRIMARY KEY, note text);
INSERT INTO base_t VALUES (1, 'one');
-- Down Migration
DROP TABLE base_t;
`,
};

let db: TestDatabase;
let baseDir: string;
beforeAll(async () => {
  db = await createTestDatabase('rel_bad');
  baseDir = await migrationsDir(BASE);
  expect((await migrate(['auto', '--database-url', urlFor(db.name), '--dir', baseDir])).code).toBe(0);
});
afterAll(async () => {
  await db.drop();
  await cleanupTemp();
});

const figures = { cases: 0, byExit: {} as Record<string, number> };
afterAll(() => process.stdout.write(`bad input: ${JSON.stringify(figures)}\n`));

interface Case {
  /** Extra migration files beside 0001_base.sql. */
  readonly files?: Record<string, string | Buffer>;
  /** Arguments; the database URL and --dir are appended unless `raw`. */
  readonly args: string[];
  readonly raw?: boolean;
  readonly env?: Record<string, string>;
  readonly cwd?: string;
  readonly code: number;
  readonly culprit: string | RegExp;
}

async function runCase(c: Case): Promise<CliResult> {
  const dir = await migrationsDir({ ...BASE, ...c.files });
  const before = await dump(db.name);
  const args = c.raw ? c.args : [...c.args, '--database-url', urlFor(db.name), '--dir', dir];
  const result = await migrate(args, { env: envWith(c.env), ...(c.cwd && { cwd: c.cwd }) });
  figures.cases++;
  figures.byExit[String(result.code)] = (figures.byExit[String(result.code)] ?? 0) + 1;
  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: c.code, stderr: expect.anything() });
  expectOneLineError(result, c.culprit);
  await expectNoLeftovers(db.name);
  expect(await dump(db.name)).toEqual(before);
  return result;
}

describe('migration files', () => {
  test('a JS migration whose up throws: exit 1, rolled back', async () => {
    const r = await runCase({
      files: { '0002_throws.js': `export const up = (pgm) => { pgm.sql('CREATE TABLE t_throws (id int)'); throw new Error('boom from up'); };\n` },
      args: ['auto'],
      code: 1,
      culprit: /0002_throws.*boom from up/,
    });
    expect(r.errorLines[0]).not.toMatch(/internal error/);
  });

  test('a JS migration whose async up rejects after running SQL through pgm.db: exit 1, rolled back', async () => {
    await runCase({
      files: {
        '0002_rejects.js': `export const up = async (pgm) => {
  await pgm.db.query('CREATE TABLE t_rejects (id int)');
  await pgm.db.query("UPDATE base_t SET note = 'changed'");
  throw new Error('async boom');
};\n`,
      },
      args: ['auto'],
      code: 1,
      culprit: /0002_rejects.*async boom/,
    });
  });

  test('a JS migration that throws when imported: exit 2', async () => {
    await runCase({
      files: { '0002_import_throws.js': `throw new Error('boom at import');\nexport const up = () => {};\n` },
      args: ['auto'],
      code: 2,
      culprit: /0002_import_throws\.js.*boom at import/,
    });
  });

  test.each([
    ['0002_syntax.js', `export const up = (pgm) => { pgm.sql('x' ;\n`],
    ['0002_syntax.ts', `export const up = (pgm: any): void => { pgm.sql('x' ;\n`],
  ])('a migration with a syntax error (%s): exit 2', async (name, content) => {
    await runCase({ files: { [name]: content }, args: ['auto'], code: 2, culprit: name });
  });

  // What only psql understands: refused before anything runs, not a syntax error from the server after 0002 ran.
  test.each([
    ['a meta-command line', { '0002_ok.sql': 'CREATE TABLE t_ok (id int);\n', '0003_meta.sql': '-- Données\n\\set ON_ERROR_STOP on\nCREATE TABLE t_meta (id int);\n' }, /0003_meta\.sql:2: \\set ON_ERROR_STOP on is a psql meta-command/],
    ['COPY FROM STDIN with its rows', { '0002_ok.sql': 'CREATE TABLE t_ok (id int);\n', '0003_copy.sql': 'COPY base_t (note) FROM stdin;\nx\n\\.\n' }, /0003_copy\.sql:1: COPY base_t \(note\) FROM stdin; reads its rows from psql's input/],
  ])('a .sql file written for psql (%s): exit 2, nothing run', async (_title, files, culprit) => {
    await runCase({ files, args: ['auto'], code: 2, culprit });
  });

  test('a JS migration that exports nothing: exit 2', async () => {
    await runCase({ files: { '0002_nothing.js': `const x = 1;\n` }, args: ['auto'], code: 2, culprit: '0002_nothing.js' });
  });

  test('an empty JS migration: exit 2', async () => {
    await runCase({ files: { '0002_empty.js': '' }, args: ['auto'], code: 2, culprit: '0002_empty.js' });
  });

  test('an empty TS migration: exit 2', async () => {
    await runCase({ files: { '0002_empty.ts': '' }, args: ['auto'], code: 2, culprit: '0002_empty.ts' });
  });

  test('SQL with a syntax error after a valid statement: exit 1, the valid statement rolled back', async () => {
    const r = await runCase({
      files: { '0002_bad.sql': `CREATE TABLE t_good (id int);\nINSERT INTO base_t VALUES (2, 'two');\nCREATE TABLEX t_bad (id int);\n` },
      args: ['auto'],
      code: 1,
      culprit: /0002_bad.*syntax error/,
    });
    expect(r.errorLines[0]).toContain('TABLEX');
  });

  test('a failing migration after a good one in the same batch: both rolled back', async () => {
    await runCase({
      files: {
        '0002_good.sql': `CREATE TABLE t_good (id int);\n`,
        '0003_fails.sql': `INSERT INTO base_t VALUES (1, 'duplicate key');\n`,
      },
      args: ['auto'],
      code: 1,
      culprit: /0003_fails.*duplicate key/,
    });
  });

  test('a file without a numeric prefix: exit 2', async () => {
    await runCase({ files: { 'create_things.sql': 'CREATE TABLE t_x (id int);\n' }, args: ['auto'], code: 2, culprit: 'create_things.sql' });
  });

  test('two files with the same name in different formats: exit 2', async () => {
    await runCase({
      files: { '0002_dup.sql': 'CREATE TABLE t_dup (id int);\n', '0002_dup.js': `export const up = (pgm) => pgm.sql('SELECT 1');\n` },
      args: ['auto'],
      code: 2,
      culprit: '0002_dup',
    });
  });

  test('a file with an unsupported extension: exit 2', async () => {
    await runCase({ files: { '0002_notes.txt': 'hello\n' }, args: ['auto'], code: 2, culprit: '0002_notes.txt' });
  });

  test('a non-UTF-8 SQL file: exit 2, never applied with replacement characters', async () => {
    const latin1 = Buffer.concat([
      Buffer.from("INSERT INTO base_t VALUES (3, 'caf"),
      Buffer.from([0xe9]),
      Buffer.from("');\n"),
    ]);
    await runCase({ files: { '0002_latin1.sql': latin1 }, args: ['auto'], code: 2, culprit: /0002_latin1\.sql.*UTF-8/ });
  });

  // status reads the manifest while the server answers its first queries (src/observe.ts): its error still comes whole.
  test('a fingerprint manifest that is not JSON: status exits 2 naming it', async () => {
    await runCase({ files: { '.schema-fingerprints.json': '{ "format": 2, "revisions": [' }, args: ['status'], code: 2, culprit: /\.schema-fingerprints\.json is not valid/ });
  });

  test('a migrations folder that does not exist: exit 2', async () => {
    await runCase({
      args: ['auto', '--database-url', urlFor(db.name), '--dir', '/nonexistent/migrations'],
      raw: true,
      code: 2,
      culprit: '/nonexistent/migrations',
    });
  });

  // The project treats a missing down as a failed migration (exit 1), not a bad file.
  test('a down that is missing: exit 1, nothing reverted', async () => {
    const dir = await migrationsDir({ ...BASE, '0002_oneway.sql': 'CREATE TABLE t_oneway (id int);\n' });
    expect((await migrate(['auto', '--database-url', urlFor(db.name), '--dir', dir])).code).toBe(0);
    try {
      await runCase({ files: { '0002_oneway.sql': 'CREATE TABLE t_oneway (id int);\n' }, args: ['down'], code: 1, culprit: '0002_oneway' });
    } finally {
      // Back to the shared state: one migration applied.
      expect((await migrate(['stamp', '0001_base', '--database-url', urlFor(db.name), '--dir', dir])).code).toBe(0);
      await db.query('DROP TABLE t_oneway');
    }
    expect(await historyNames(db)).toEqual(['0001_base']);
  });
});

describe('revisions and arguments', () => {
  test.each([
    [['up', 'nope'], 'nope'],
    [['down', 'nope'], 'nope'],
    [['stamp', 'nope'], 'nope'],
    [['sql', 'nope'], 'nope'],
    [['stamp', `x'; DROP TABLE base_t; --`], `DROP TABLE base_t`],
    [['up', `0001_base"; DELETE FROM pgmigrations; --`], `DELETE FROM pgmigrations`],
    [['stamp', 'ünïcødé_☃'], 'ünïcødé_☃'],
    [['down', '0001_base;'], '0001_base;'],
    [['up', '+x'], '+x'],
  ])('unknown revision %j: exit 2', async (args, culprit) => {
    await runCase({ args, code: 2, culprit });
  });

  // One migration is applied: a count past it is a mistake, not "all of them" (Alembic refuses it too).
  test.each([
    [['down', '--steps', '5'], /down --steps 5: 5 migrations asked for, only 1 migration is applied; nothing was changed/],
    [['downgrade', '-2'], /down -2: 2 migrations asked for, only 1 migration is applied/],
    [['sql', '--offline', 'base:+3'], /sql --offline base:\+3: 3 migrations asked for, only 1 migration comes after it/],
  ])('%j past the end: exit 2', async (args, culprit) => {
    await runCase({ args, code: 2, culprit });
  });

  test.each([['0'], ['-1'], ['abc'], ['1.5'], ['']])('down --steps %j: exit 2', async (steps) => {
    await runCase({ args: ['down', '--steps', steps], code: 2, culprit: /steps|argument|option/ });
  });

  test.each([
    [['auto', '--frobnicate'], '--frobnicate'],
    [['--database-urll', 'x', 'status'], '--database-urll'],
    [['frobnicate'], 'frobnicate'],
    [['auto', '--lock-timeout', 'soon'], '--lock-timeout'],
    [['auto', '--wait-timeout', '-1'], '--wait-timeout'],
    [['auto', '--log-level', 'loud'], 'loud'],
    [['auto', '--ddl-lock-timeout', 'x'], '--ddl-lock-timeout'],
  ])('bad flags %j: exit 2', async (args, culprit) => {
    await runCase({ args, code: 2, culprit });
  });
});

describe('config files', () => {
  async function config(content: string | null): Promise<string> {
    const dir = await tempDir();
    const file = join(dir, 'migrate.config.json');
    if (content === null) await mkdir(file);
    else await writeFile(file, content);
    return file;
  }

  test('not JSON: exit 2 naming the file', async () => {
    const file = await config('{ "lockTimeout": 5, ');
    await runCase({ args: ['auto', '--config', file], code: 2, culprit: file });
  });

  test('an unknown key: exit 2 naming the key', async () => {
    const file = await config(JSON.stringify({ lockTimeOut: 5 }));
    await runCase({ args: ['auto', '--config', file], code: 2, culprit: 'lockTimeOut' });
  });

  test('a key of the wrong type: exit 2 naming the key', async () => {
    const file = await config(JSON.stringify({ lockTimeout: 'soon' }));
    await runCase({ args: ['auto', '--config', file], code: 2, culprit: 'lockTimeout' });
  });

  test('a config that carries a password in a bad key: exit 2, password not echoed', async () => {
    const file = await config(JSON.stringify({ databaseUrl: urlFor(db.name), password: SECRET }));
    await runCase({ args: ['auto', '--config', file], code: 2, culprit: 'password' });
  });

  test('unreadable (a folder): exit 2 naming the file', async () => {
    const file = await config(null);
    await runCase({ args: ['auto', '--config', file], code: 2, culprit: file });
  });

  test('named but missing, through MIGRATE_CONFIG: exit 2 naming the file', async () => {
    await runCase({ args: ['auto'], env: { MIGRATE_CONFIG: '/nonexistent/migrate.config.json' }, code: 2, culprit: '/nonexistent/migrate.config.json' });
  });

  test('an invalid migrate.config.json in the working folder: exit 2', async () => {
    const file = await config(JSON.stringify({ table: 42 }));
    await runCase({ args: ['auto'], cwd: join(file, '..'), code: 2, culprit: 'table' });
  });
});

describe('database URLs', () => {
  test('no database at all: exit 2', async () => {
    await runCase({ args: ['auto', '--dir', baseDir], raw: true, code: 2, culprit: 'no database given' });
  });

  test.each([
    ['postgres://postgres:S3CRET@127.0.0.1:notaport/db', 'URL'],
    ['mysql://postgres:S3CRET@127.0.0.1:5432/db', 'postgres://'],
    ['not a url at all S3CRET', 'URL'],
    ['postgres://postgres:S3CRET@[::1/db', 'URL'],
  ])('bad syntax %s: exit 2, password not echoed', async (url, culprit) => {
    const r = await runCase({ args: ['auto', '--database-url', url.replace('S3CRET', SECRET), '--dir', baseDir], raw: true, code: 2, culprit });
    expectNoSecret(r.stdout, r.stderr);
  });

  test('bad syntax in DATABASE_URL: exit 2 naming DATABASE_URL', async () => {
    await runCase({ args: ['auto', '--dir', baseDir], raw: true, env: { DATABASE_URL: `postgres://u:${SECRET}@h:99x/db` }, code: 2, culprit: 'DATABASE_URL' });
  });

  test('a port nobody listens on: exit 4 (wait timeout 0), masked target named', async () => {
    const port = await freePort();
    await runCase({ args: ['auto', '--database-url', urlFor(db.name, { host: '127.0.0.1', port }), '--dir', baseDir], raw: true, code: 4, culprit: `127.0.0.1:${port}` });
  });

  // The files are read while the connection is made (src/observe.ts readWhileConnecting): what is wrong with them still comes first.
  test('a migrations folder that does not exist and a port nobody listens on: exit 2 naming the folder, no connection tried', async () => {
    const port = await freePort();
    await runCase({
      args: ['auto', '--database-url', urlFor(db.name, { host: '127.0.0.1', port }), '--dir', '/nonexistent/migrations', '--wait-timeout', '0'],
      raw: true,
      code: 2,
      culprit: '/nonexistent/migrations',
    });
  });

  test('a migration file that cannot be read (a dangling link) and a port nobody listens on: exit 2 naming the file, without waiting for the server', async () => {
    const port = await freePort();
    const dir = await migrationsDir(BASE);
    await symlink(join(dir, 'gone.sql'), join(dir, '0002_dangling.sql'));
    const result = await runCase({
      args: ['auto', '--database-url', urlFor(db.name, { host: '127.0.0.1', port }), '--dir', dir, '--wait-timeout', '3'],
      raw: true,
      code: 2,
      culprit: /0002_dangling\.sql cannot be read/,
    });
    // The file's error ends the wait for the server: no attempt is retried.
    expect(result.stderr).not.toMatch(/waiting for the database/);
  });

  test('an unknown host: exit 4, masked target named', async () => {
    await runCase({ args: ['auto', '--database-url', urlFor(db.name, { host: 'no-such-host.invalid' }), '--dir', baseDir], raw: true, code: 4, culprit: 'no-such-host.invalid' });
  });

  test('an unknown database: exit 2', async () => {
    await runCase({ args: ['auto', '--database-url', urlFor(`${db.name}_missing`), '--dir', baseDir], raw: true, code: 2, culprit: `${db.name}_missing` });
  });

  test('an unknown user: exit 2', async () => {
    const url = new URL(urlFor(db.name));
    url.username = 'no_such_role';
    await runCase({ args: ['auto', '--database-url', url.toString(), '--dir', baseDir], raw: true, code: 2, culprit: 'no_such_role' });
  });

  /*
   * The local server trusts every connection from 127.0.0.1
   * (/etc/postgresql/15/main/pg_hba.conf), so a wrong password cannot be
   * refused by it. A fake server that asks for a password and answers 28P01,
   * as PostgreSQL does, stands in.
   */
  test('a wrong password (fake server answering 28P01): exit 2, password not echoed', async () => {
    const fake = await startPasswordRejectingServer();
    try {
      const url = urlFor('anydb', { host: '127.0.0.1', port: fake.port });
      const result = await runCase({ args: ['auto', '--database-url', url, '--dir', baseDir, '--wait-timeout', '3'], raw: true, code: 2, culprit: /password authentication failed/ });
      expect(fake.passwords).toContain(SECRET);
      expect(result.ms).toBeLessThan(3_000 + 2_000);
    } finally {
      await fake.close();
    }
  });
});

test('migration names with quotes, backslashes, semicolons and unicode apply, record, stamp and revert exactly', async () => {
  // The history is read as JSON (src/db/facts.ts): a quote, a backslash, a tab and a character outside the BMP must come back as they went in.
  const odd = `0002_it's; "quoted" back\\slash\ttab ünïcødé ☃ 🐘`;
  const dir = await migrationsDir({
    ...BASE,
    [`${odd}.sql`]: `-- Up Migration\nCREATE TABLE t_odd (id int);\n-- Down Migration\nDROP TABLE t_odd;\n`,
  });
  const url = ['--database-url', urlFor(db.name), '--dir', dir];
  const before = await dump(db.name, 'schema');
  const up = await migrate(['auto', '--json', ...url]);
  expect(up.code).toBe(0);
  expect(await historyNames(db)).toEqual(['0001_base', odd]);
  const current = await migrate(['current', ...url]);
  expect(current.stdout.trim()).toBe(odd);
  expect((await migrate(['stamp', '0001_base', ...url])).code).toBe(0);
  expect(await historyNames(db)).toEqual(['0001_base']);
  expect((await migrate(['stamp', odd, ...url])).code).toBe(0);
  expect(await historyNames(db)).toEqual(['0001_base', odd]);
  expect((await migrate(['down', '0001_base', ...url])).code).toBe(0);
  expect(await historyNames(db)).toEqual(['0001_base']);
  expect(await dump(db.name, 'schema')).toEqual(before);
  await expectNoLeftovers(db.name);
});

test('an empty SQL migration applies as a no-op, as node-pg-migrate does', async () => {
  const dir = await migrationsDir({ ...BASE, '0002_empty.sql': '' });
  const url = ['--database-url', urlFor(db.name), '--dir', dir];
  const r = await migrate(['auto', ...url]);
  expect(r.code).toBe(0);
  expect(await historyNames(db)).toEqual(['0001_base', '0002_empty']);
  // Back to the shared state.
  expect((await migrate(['stamp', '0001_base', ...url])).code).toBe(0);
  await expectNoLeftovers(db.name);
});

test('with --log-level debug a failure may show a stack, never the password', async () => {
  const dir = await migrationsDir({ ...BASE, '0002_throws.js': `export const up = () => { throw new Error('debug boom'); };\n` });
  const r = await migrate(['auto', '--log-level', 'debug', '--database-url', urlFor(db.name), '--dir', dir]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('debug boom');
  await expectNoLeftovers(db.name);
});
