/**
 * Promise: a batch is all or nothing whatever its files say (RELIABILITY.md,
 * promise 14). A .sql file written for psql (BEGIN … COMMIT around it) runs
 * inside the batch's transaction; any other transaction control is refused
 * before anything runs (exit 2, file:line); a COMMIT the checks cannot see is
 * caught from the server's transaction status and named (text the
 * grammar cannot read is read with the lexer first); a file whose up
 * would run its down SQL is refused; `down` of a migration without a down
 * reverts nothing and keeps its history row.
 */
import { jest } from '@jest/globals';
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
  urlFor,
  type CliResult,
} from './support.js';

jest.setTimeout(120_000);

let db: TestDatabase;
beforeEach(async () => {
  db = await createTestDatabase('rel_all');
});
afterEach(async () => {
  await db.drop();
});
afterAll(cleanupTemp);

async function run(dir: string, ...args: string[]): Promise<CliResult> {
  return migrate([...args, '--database-url', urlFor(db.name), '--dir', dir], { env: envWith() });
}

const statuses = (r: CliResult) =>
  (JSON.parse(r.stdout) as { migrations: { name: string; status: string }[] }).migrations.map((m) => `${m.name}:${m.status}`);

const tables = async () =>
  (await db.query<{ t: string }>(`SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)).map((r) => r.t);

describe('a .sql file wrapped in BEGIN … COMMIT (written for psql)', () => {
  const FILES = {
    '0001_a.sql': 'CREATE TABLE a (id int);\n',
    '0002_b.sql': 'BEGIN;\nCREATE TABLE b (id int);\nCOMMIT;\n',
    '0003_fails.sql': 'CREATE TABLE c (id int);\nSELECT 1/0;\n',
  };

  test('runs inside the batch: a later failure rolls it back too, and the error names the failing file', async () => {
    const dir = await migrationsDir(FILES);
    const before = await dump(db.name);
    const r = await run(dir, 'auto', '--json');
    expect(r.code).toBe(1);
    expectOneLineError(r, /migration 0003_fails \(up\) failed: division by zero/);
    expect(statuses(r)).toEqual(['0001_a:rolled-back', '0002_b:rolled-back', '0003_fails:failed']);
    // The unwrap is said, once, before anything runs.
    expect(r.logs.filter((l) => /0002_b\.sql: its enclosing BEGIN … COMMIT was removed/.test(String(l.message)))).toHaveLength(1);
    // Nothing committed: not a, not b, no history (the next status is fresh, not legacy).
    expect(await dump(db.name)).toEqual(before);
    expect(await historyNames(db)).toEqual([]);
    await expectNoLeftovers(db.name);
    const status = await run(dir, 'status', '--json');
    expect(JSON.parse(status.stdout)).toMatchObject({ state: 'fresh' });
  });

  test('with the failure fixed, the whole batch commits once', async () => {
    const dir = await migrationsDir({ ...FILES, '0003_fails.sql': 'CREATE TABLE c (id int);\n' });
    const r = await run(dir, 'auto');
    expect(r.code).toBe(0);
    expect(await tables()).toEqual(['a', 'b', 'c', 'pgmigrations', 'pgmigrations_meta']);
    expect(await historyNames(db)).toEqual(['0001_a', '0002_b', '0003_fails']);
  });
});

describe('any other top-level transaction control is refused before anything runs: exit 2, file:line', () => {
  const cases: [string, string, number][] = [
    ['a COMMIT in the middle', 'CREATE TABLE x (id int);\nCOMMIT;\nCREATE TABLE y (id int);\n', 2],
    ['a ROLLBACK', 'CREATE TABLE x (id int);\n\nROLLBACK;\n', 3],
    ['END', '-- Up Migration\nCREATE TABLE x (id int);\nEND;\n-- Down Migration\nDROP TABLE x;\n', 3],
    ['ABORT', 'CREATE TABLE x (id int);\nABORT;\n', 2],
    ['a BEGIN inside', 'CREATE TABLE x (id int);\nBEGIN;\nCREATE TABLE y (id int);\n', 2],
    ['START TRANSACTION inside', 'CREATE TABLE x (id int);\nSTART TRANSACTION;\n', 2],
    ['PREPARE TRANSACTION', 'CREATE TABLE x (id int);\nPREPARE TRANSACTION \'x\';\n', 2],
    ['COMMIT PREPARED', 'COMMIT PREPARED \'x\';\n', 1],
    ['ROLLBACK PREPARED', '\nROLLBACK PREPARED \'x\';\n', 2],
    ['a RELEASE of a savepoint the file did not make', 'CREATE TABLE x (id int);\nRELEASE SAVEPOINT s;\n', 2],
    ['a ROLLBACK TO a savepoint the file did not make', 'ROLLBACK TO SAVEPOINT s;\n', 1],
    ['a wrapping BEGIN with an isolation level', 'BEGIN ISOLATION LEVEL SERIALIZABLE;\nCREATE TABLE x (id int);\nCOMMIT;\n', 1],
    ['a wrapping COMMIT AND CHAIN', 'BEGIN;\nCREATE TABLE x (id int);\nCOMMIT AND CHAIN;\n', 3],
    ['two wrapped blocks', 'BEGIN;\nCREATE TABLE x (id int);\nCOMMIT;\nBEGIN;\nCREATE TABLE y (id int);\nCOMMIT;\n', 3],
    ['a statement after the COMMIT', 'BEGIN;\nCREATE TABLE x (id int);\nCOMMIT;\nCREATE TABLE y (id int);\n', 1],
  ];

  test.each(cases)('%s', async (_label, content, line) => {
    const dir = await migrationsDir({ '0001_first.sql': 'CREATE TABLE first (id int);\n', '0002_control.sql': content });
    const before = await dump(db.name);
    const r = await run(dir, 'auto');
    expect(r.code).toBe(2);
    expectOneLineError(r, `0002_control.sql:${line}:`);
    // Refused before the first BEGIN: not even 0001 ran.
    expect(await dump(db.name)).toEqual(before);
    await expectNoLeftovers(db.name);
  });

  test('savepoints the file makes and releases, and BEGIN/COMMIT inside function bodies, are not transaction control', async () => {
    const dir = await migrationsDir({
      '0001_savepoints.sql': 'CREATE TABLE s (id int);\nSAVEPOINT before_row;\nINSERT INTO s VALUES (1);\nROLLBACK TO SAVEPOINT before_row;\nINSERT INTO s VALUES (2);\nRELEASE SAVEPOINT before_row;\n',
      '0002_bodies.sql': `CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;
DO $body$ BEGIN PERFORM f(); END $body$;
CREATE TABLE notes (body text DEFAULT 'COMMIT; ROLLBACK; -- BEGIN');
`,
    });
    const r = await run(dir, 'auto');
    expect(r.code).toBe(0);
    expect(await db.query('SELECT id FROM s')).toEqual([{ id: 2 }]);
    expect(await historyNames(db)).toEqual(['0001_savepoints', '0002_bodies']);
  });
});

describe('transaction control in a JS migration', () => {
  test('pgm.sql("COMMIT") is refused before it is sent, naming the migration; nothing committed', async () => {
    const dir = await migrationsDir({
      '0001_a.sql': 'CREATE TABLE a (id int);\n',
      '0002_commits.js': `export const up = (pgm) => { pgm.sql('CREATE TABLE b (id int)'); pgm.sql('COMMIT'); };\nexport const down = () => {};\n`,
    });
    const before = await dump(db.name);
    const r = await run(dir, 'auto');
    expect(r.code).toBe(2);
    expectOneLineError(r, /0002_commits\.js builds COMMIT/);
    expect(await dump(db.name)).toEqual(before);
    await expectNoLeftovers(db.name);
  });

  test('pgm.db.query("COMMIT") is refused before it is sent', async () => {
    const dir = await migrationsDir({
      '0001_a.sql': 'CREATE TABLE a (id int);\n',
      '0002_commits.js': `export const up = async (pgm) => { await pgm.db.query('COMMIT'); };\nexport const down = () => {};\n`,
    });
    const before = await dump(db.name);
    const r = await run(dir, 'auto');
    expect(r.code).toBe(2);
    expectOneLineError(r, /0002_commits\.js sends through pgm\.db COMMIT/);
    expect(await dump(db.name)).toEqual(before);
  });

  // Up to PostgreSQL 15 system_user is still a name; the parser (PostgreSQL 18's grammar, where it is a reserved
  // word) cannot read these texts, so their statements are found with PostgreSQL's lexer. Refused before anything
  // runs on every major: from 16 on the server would reject the text anyway. COMMIT then BEGIN is the case the
  // server's transaction status cannot tell afterwards: a transaction is open again.
  test.each([
    ['a .sql file', '0002_hidden_commit.sql', 'CREATE TABLE system_user (id int);\nCOMMIT;\nBEGIN;\nCREATE TABLE b (id int);\n', /0002_hidden_commit\.sql:2: COMMIT would end the batch's transaction/],
    ['SQL a JS migration builds', '0002_hidden_commit.js', `export const up = (pgm) => { pgm.sql('CREATE TABLE system_user (id int); COMMIT; BEGIN'); };\nexport const down = () => {};\n`, /0002_hidden_commit\.js builds COMMIT, which would end/],
  ])('a COMMIT in text the grammar cannot read (%s) is found with the lexer and refused before anything runs', async (_label, name, content, culprit) => {
    const dir = await migrationsDir({ '0001_a.sql': 'CREATE TABLE a (id int);\n', [name]: content, '0003_c.sql': 'CREATE TABLE c (id int);\n' });
    const before = await dump(db.name);
    const r = await run(dir, 'auto');
    expect(r.code).toBe(2);
    expectOneLineError(r, culprit);
    expect(await dump(db.name)).toEqual(before);
    await expectNoLeftovers(db.name);
  });

  // A migration's pgm.sql steps go to the server as one text: a comment (or string) one step opens and the next
  // closes hides nothing from the check, which reads them joined, as sent.
  test('a COMMIT between pgm.sql steps, in a comment one step opens and the next closes, is refused before anything runs', async () => {
    const dir = await migrationsDir({
      '0001_a.sql': 'CREATE TABLE a (id int);\n',
      '0002_split.js': `export const up = (pgm) => { pgm.sql('SELECT 1; /*'); pgm.sql("SELECT '*/ COMMIT; /*'"); pgm.sql('*/ SELECT 1'); };\nexport const down = () => {};\n`,
    });
    const before = await dump(db.name);
    const r = await run(dir, 'auto');
    expect(r.code).toBe(2);
    expectOneLineError(r, /0002_split\.js builds COMMIT, which would end/);
    expect(await dump(db.name)).toEqual(before);
  });

  // A file that leaves a comment open would run on into the next migration's SQL in a shared round trip: it goes alone.
  test('a .sql file that leaves a comment open runs alone: the server refuses it, and nothing after it is read into it', async () => {
    const dir = await migrationsDir({
      '0001_open.sql': 'CREATE TABLE a (id int); /*\n',
      '0002_closes.sql': '*/ CREATE TABLE b (id int);\n',
    });
    const before = await dump(db.name);
    const r = await run(dir, 'auto');
    expect(r.code).toBe(1);
    expectOneLineError(r, /migration 0001_open \(up\) failed: unterminated \/\* comment/);
    expect(await dump(db.name)).toEqual(before);
  });

  // A query config whose text changes between reads: the runner copies it once, so the text it checks is the
  // text the driver sends (a COMMIT appearing on the driver's read would otherwise go unchecked).
  test('pgm.db sends the text it checked, whatever reading it again would give', async () => {
    const dir = await migrationsDir({
      '0001_a.sql': 'CREATE TABLE a (id int);\n',
      '0002_shifty.js': `let reads = 0;\nexport const up = async (pgm) => { await pgm.db.query({ get text() { return reads++ ? 'COMMIT' : 'SELECT 1'; } }); };\nexport const down = () => {};\n`,
      '0003_c.sql': 'CREATE TABLE c (id int);\n',
    });
    const r = await run(dir, 'auto');
    expect(r.code).toBe(0);
    expect(await historyNames(db)).toEqual(['0001_a', '0002_shifty', '0003_c']);
  });
});

// With standard_conforming_strings off (a setting older applications still use) the server reads a backslash in a
// '…' string as an escape, and the checks, as PostgreSQL does by default, do not: where the checks see a string end,
// the server may see it go on, or the reverse, and a COMMIT between.
describe('standard_conforming_strings off', () => {
  const turnOff = () => db.query(`ALTER DATABASE ${db.name} SET standard_conforming_strings = off`);

  test.each([
    ['a .sql file written for psql', '0002_quotes.sql', "BEGIN;\nINSERT INTO a VALUES (1);\nINSERT INTO notes VALUES ('it\\'s');\nCOMMIT;\n", /0002_quotes\.sql:3: INSERT INTO notes VALUES \('it\\'s'\); has a backslash in a '…' string, and standard_conforming_strings is off/],
    // Built when its turn comes, it fails as it is about to be sent: the batch rolls back.
    ['SQL a JS migration builds', '0002_quotes.js', `export const up = (pgm) => { pgm.sql("SELECT 'a\\\\', '; COMMIT; SELECT 1 --'"); };\nexport const down = () => {};\n`, /migration 0002_quotes \(up\) failed: 0002_quotes\.js: SELECT 'a\\', '; COMMIT; SELECT 1 --'; has a backslash in a '…' string/],
  ])('a backslash in a \'…\' string (%s) is refused, and nothing of the batch stays', async (_label, name, content, culprit) => {
    await turnOff();
    const dir = await migrationsDir({ '0001_a.sql': 'CREATE TABLE a (id int);\nCREATE TABLE notes (v text);\n', [name]: content, '0003_c.sql': 'CREATE TABLE c (id int);\n' });
    const before = await dump(db.name);
    const r = await run(dir, 'auto');
    expect(r.code).toBe(name.endsWith('.js') ? 1 : 2);
    expectOneLineError(r, culprit);
    expect(r.stderr).toMatch(/write it as E'…'/);
    expect(await dump(db.name)).toEqual(before);
    await expectNoLeftovers(db.name);
  });

  // The server reports the setting whenever it changes, however the SQL that changed it was written: a migration
  // sent after one that turned it off is checked as the server will read it, and the batch rolls back.
  test.each([
    ['pgm.db.query in a JS migration', '0001_off.js', `export const up = async (pgm) => { await pgm.db.query('SET standard_conforming_strings = off'); };\nexport const down = () => {};\n`],
    ['set_config with a name the file builds', '0001_off.sql', "SELECT set_config('standard_' || 'conforming_strings', 'off', false);\n"],
  ])('a migration that turns it off (%s) makes it so for the ones sent after it: that one fails, the batch rolls back', async (_label, name, content) => {
    const dir = await migrationsDir({
      '0000_a.sql': 'CREATE TABLE a (id int);\n',
      [name]: content,
      // The grammar cannot read it (system_user), so it goes alone, in a round trip after 0001's.
      '0002_hidden.sql': "CREATE TABLE system_user (id int);\nSELECT 'a\\', '; COMMIT; BEGIN; SELECT 1 --';\n",
    });
    const before = await dump(db.name);
    const r = await run(dir, 'auto');
    expect(r.code).toBe(1);
    expectOneLineError(r, /migration 0002_hidden \(up\) failed: 0002_hidden\.sql:2: SELECT 'a\\', '; COMMIT; BEGIN; SELECT 1 --'; has a backslash in a '…' string, and standard_conforming_strings is off in the runner's session/);
    expect(await dump(db.name)).toEqual(before);
    await expectNoLeftovers(db.name);
  });

  // Refused as it is about to be sent, after a migration that committed (an added enum value commits its
  // transaction): a failure of that migration, exit 1, the committed ones recorded.
  test('refused after a commit: the migration fails (exit 1), what committed before it stays recorded', async () => {
    const dir = await migrationsDir({
      '0001_mood.sql': "CREATE TYPE mood AS ENUM ('a');\n",
      '0002_off.sql': "ALTER TYPE mood ADD VALUE 'b';\nSET standard_conforming_strings = off;\n",
      '0003_path.sql': "CREATE TABLE paths (v text DEFAULT 'C:\\dir');\n",
    });
    const r = await run(dir, 'auto', '--json');
    expect(r.code).toBe(1);
    expectOneLineError(r, /migration 0003_path \(up\) failed: 0003_path\.sql:1: CREATE TABLE paths .* has a backslash in a '…' string, and standard_conforming_strings is off in the runner's session/);
    expect(statuses(r)).toEqual(['0001_mood:applied', '0002_off:applied', '0003_path:failed']);
    expect(await historyNames(db)).toEqual(['0001_mood', '0002_off']);
    expect(await tables()).not.toContain('paths');
  });

  test('a -- migrate:no-transaction file is checked statement by statement: its own SET turns it off for the next', async () => {
    const dir = await migrationsDir({
      '0001_alone.sql': "-- migrate:no-transaction\nSET standard_conforming_strings = off;\nCREATE TABLE paths (v text DEFAULT 'C:\\dir');\n",
    });
    const r = await run(dir, 'auto');
    expect(r.code).toBe(1);
    expectOneLineError(r, /migration 0001_alone \(up\) failed: 0001_alone\.sql: CREATE TABLE paths .* has a backslash in a '…' string/);
    expect(await tables()).not.toContain('paths');
  });

  // sql builds a JS migration, whose pgm.db queries run in a READ ONLY transaction: a COMMIT the server reads
  // there would let what follows write.
  test('sql refuses what up refuses: a pgm.db query with a backslash in a \'…\' string is not sent, and nothing is written', async () => {
    await turnOff();
    const dir = await migrationsDir({
      '0001_reads.js': `export const up = async (pgm) => { await pgm.db.query("SELECT 'a\\\\', '; COMMIT; CREATE TABLE written_by_sql (id int); SELECT 1 --'"); };\nexport const down = () => {};\n`,
    });
    const before = await dump(db.name);
    const r = await run(dir, 'sql');
    expect(r.code).toBe(2);
    expectOneLineError(r, /0001_reads\.js: SELECT 'a\\', '; COMMIT; CREATE TABLE written_by_sql .* has a backslash in a '…' string/);
    expect(await dump(db.name)).toEqual(before);
  });

  test('naming the setting is not turning it off: SHOW, a comment, a SET … = on', async () => {
    const dir = await migrationsDir({
      '0001_names.sql': "-- standard_conforming_strings stays on here\nSHOW standard_conforming_strings;\nSET standard_conforming_strings = on;\n",
      '0002_path.sql': "CREATE TABLE paths (v text DEFAULT 'C:\\dir');\n",
    });
    const r = await run(dir, 'auto');
    expect(r.code).toBe(0);
    expect(await db.query<{ d: string }>(`SELECT pg_get_expr(adbin, adrelid) AS d FROM pg_attrdef WHERE adrelid = 'paths'::regclass`)).toEqual([{ d: "'C:\\dir'::text" }]);
  });

  test("E'…' strings, dollar quotes and a pg_dump file's SET … = on run as they are, off or on", async () => {
    const files = {
      '0001_dump.sql': "SET standard_conforming_strings = on;\nCREATE TABLE t (v text CHECK (v ~ '^\\d+$'));\n",
      '0002_escapes.sql': "CREATE TABLE u (v text CHECK (v ~ E'^\\\\d+$'));\nINSERT INTO u VALUES (E'\\x31'), ($$2$$);\nCREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$ SELECT 'C:\\dir' $$;\n",
    };
    // On (the default): every backslash reads the same, nothing refused.
    const on = await run(await migrationsDir(files), 'auto');
    expect(on.stderr).not.toMatch(/error/);
    expect(on.code).toBe(0);
    await db.query('DROP TABLE t, u; DROP FUNCTION f(); DROP TABLE pgmigrations, pgmigrations_meta');
    await turnOff();
    // Off: 0001's '…' string holds a backslash, and the server reads it as an escape: refused; 0002 alone runs.
    expectOneLineError(await run(await migrationsDir(files), 'auto'), /0001_dump\.sql:2: /);
    expect((await run(await migrationsDir({ '0002_escapes.sql': files['0002_escapes.sql'] }), 'auto')).code).toBe(0);
  });
});

describe('files that mean something else', () => {
  test.each([
    ['only a Down section', '-- Down Migration\nDROP TABLE base_t;\n', '0002_down_only.sql:1:'],
    ['statements, then a Down section, no Up marker', 'INSERT INTO base_t VALUES (2);\n-- Down Migration\nDROP TABLE base_t;\n', '0002_down_only.sql:2:'],
    ['an empty Up section and a Down', '-- Up Migration\n-- nothing yet\n\n-- Down Migration\nDROP TABLE base_t;\n', '0002_down_only.sql:1:'],
  ])('%s: refused (exit 2), its down never runs on up', async (_label, content, culprit) => {
    const dir = await migrationsDir({ '0001_base.sql': 'CREATE TABLE base_t (id int);\n', '0002_down_only.sql': content });
    expect((await run(dir, 'up', '0001_base')).code).toBe(0);
    const before = await dump(db.name);
    const r = await run(dir, 'auto');
    expect(r.code).toBe(2);
    expectOneLineError(r, culprit);
    expect(await dump(db.name)).toEqual(before);
    expect(await tables()).toContain('base_t');
  });

  test.each([
    ['no Down section', 'CREATE TABLE t2 (id int);\n', /0002_one_way has no down migration/],
    ['an empty Down section', '-- Up Migration\nCREATE TABLE t2 (id int);\n-- Down Migration\n-- TODO\n', /0002_one_way has an empty down migration/],
    ['a JS migration whose up reverses to nothing', 'export const up = () => {};\n', /0002_one_way has no down migration, and its up reverses to nothing/],
  ])('down of a migration with %s refuses, naming it; its history row stays', async (_label, content, culprit) => {
    const name = content.startsWith('export') ? '0002_one_way.js' : '0002_one_way.sql';
    const dir = await migrationsDir({ '0001_base.sql': '-- Up Migration\nCREATE TABLE base_t (id int);\n-- Down Migration\nDROP TABLE base_t;\n', [name]: content });
    expect((await run(dir, 'auto')).code).toBe(0);
    const before = await dump(db.name);
    const r = await run(dir, 'down', '--steps', '2', '--json');
    expect(r.code).toBe(1);
    expectOneLineError(r, culprit);
    expect(await dump(db.name)).toEqual(before);
    expect(await historyNames(db)).toEqual(['0001_base', '0002_one_way']);
  });
});

describe('how a batch splits', () => {
  test('a migration that adds an enum value commits before the next one uses the value (.sql and JS)', async () => {
    const first = { '0001_mood.sql': "CREATE TYPE mood AS ENUM ('calm');\n" };
    const dir = await migrationsDir(first);
    expect((await run(dir, 'auto')).code).toBe(0);
    const more = await migrationsDir({
      ...first,
      '0002_add_happy.sql': "ALTER TYPE mood ADD VALUE 'happy';\n",
      '0003_use_happy.sql': "CREATE TABLE feelings (m mood NOT NULL DEFAULT 'happy');\nINSERT INTO feelings VALUES ('happy');\n",
      '0004_add_sad.js': "export const up = (pgm) => { pgm.addTypeValue('mood', 'sad'); };\nexport const down = () => {};\n",
      '0005_use_sad.sql': "INSERT INTO feelings VALUES ('sad');\n",
    });
    const r = await run(more, 'auto');
    expect(r.code).toBe(0);
    expect((await db.query<{ m: string }>('SELECT m::text FROM feelings ORDER BY 1')).map((row) => row.m)).toEqual(['happy', 'sad']);
    expect(await historyNames(db)).toEqual(['0001_mood', '0002_add_happy', '0003_use_happy', '0004_add_sad', '0005_use_sad']);
  });

  test('a .sql file with a -- migrate:no-transaction line runs outside the batch, statement by statement', async () => {
    const dir = await migrationsDir({
      '0001_t.sql': 'CREATE TABLE t (x int);\nINSERT INTO t VALUES (1), (2);\n',
      '0002_index.sql': '-- Up Migration\n-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY t_x ON t (x);\nCREATE INDEX CONCURRENTLY t_x2 ON t ((x * 2));\n' +
        '-- Down Migration\nDROP INDEX CONCURRENTLY t_x2;\nDROP INDEX CONCURRENTLY t_x;\n',
      '0003_u.sql': '-- Up Migration\nCREATE TABLE u (id int);\n-- Down Migration\nDROP TABLE u;\n',
    });
    const r = await run(dir, 'auto');
    expect(r.code).toBe(0);
    expect(r.logs.some((l) => /0002_index runs outside a transaction \(-- migrate:no-transaction\)/.test(String(l.message)))).toBe(true);
    expect((await db.query<{ i: string }>(`SELECT indexname AS i FROM pg_indexes WHERE tablename = 't' ORDER BY 1`)).map((row) => row.i)).toEqual(['t_x', 't_x2']);
    expect(await historyNames(db)).toEqual(['0001_t', '0002_index', '0003_u']);
    expect((await run(dir, 'down', '--steps', '2')).code).toBe(0);
    expect(await db.query(`SELECT indexname FROM pg_indexes WHERE tablename = 't'`)).toEqual([]);
    expect(await historyNames(db)).toEqual(['0001_t']);
  });
});
