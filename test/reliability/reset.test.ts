/**
 * Promise: `reset --confirm` drops every object of the managed schema, of
 * every kind a schema holds, so the rebuild after it starts from nothing;
 * and each such kind counts as an application object, so a schema holding
 * only one is legacy, not fresh (RELIABILITY.md, "reset drops everything").
 */
import { jest } from '@jest/globals';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { cleanupTemp, envWith, expectNoLeftovers, migrate, migrationsDir, urlFor } from './support.js';

jest.setTimeout(120_000);
const execFileAsync = promisify(execFile);

/** One object of each kind a schema holds, in `public`; what some need elsewhere is made IF NOT EXISTS. */
const EVERY_KIND: readonly (readonly [kind: string, ddl: string])[] = [
  ['a table (with an index, a trigger, a rule, a policy)', `
    CREATE TABLE t (a int, b int);
    CREATE INDEX t_a ON t (a);
    CREATE FUNCTION t_trigger() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
    CREATE TRIGGER t_touch BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION t_trigger();
    CREATE RULE t_rule AS ON UPDATE TO t DO ALSO NOTHING;
    CREATE POLICY t_policy ON t USING (true)`],
  ['a partitioned table', `CREATE TABLE pt (a int) PARTITION BY RANGE (a); CREATE TABLE pt_1 PARTITION OF pt FOR VALUES FROM (0) TO (10)`],
  ['a view', 'CREATE VIEW v AS SELECT 1 AS one'],
  ['a materialized view', 'CREATE MATERIALIZED VIEW mv AS SELECT 1 AS one'],
  ['a sequence', 'CREATE SEQUENCE s'],
  ['a foreign table', 'CREATE FOREIGN TABLE ft (a int) SERVER reset_test_server'],
  ['an enum type', `CREATE TYPE e AS ENUM ('x')`],
  ['a composite type', 'CREATE TYPE c AS (a int)'],
  ['a range type', 'CREATE TYPE r AS RANGE (subtype = float8)'],
  ['a shell type', 'CREATE TYPE shell'],
  ['a domain', 'CREATE DOMAIN d AS int CHECK (VALUE > 0)'],
  ['a function', `CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'`],
  ['a procedure', `CREATE PROCEDURE p() LANGUAGE sql AS 'SELECT 1'`],
  ['an aggregate', 'CREATE AGGREGATE agg(int) (sfunc = int4pl, stype = int)'],
  ['an operator', 'CREATE OPERATOR === (leftarg = int, rightarg = int, function = int4eq)'],
  ['an operator class (and its family)', `CREATE OPERATOR CLASS int_ops_copy FOR TYPE int USING btree AS
    OPERATOR 1 pg_catalog.<, OPERATOR 2 pg_catalog.<=, OPERATOR 3 pg_catalog.=, OPERATOR 4 pg_catalog.>=, OPERATOR 5 pg_catalog.>,
    FUNCTION 1 pg_catalog.btint4cmp(int, int)`],
  ['an operator family', 'CREATE OPERATOR FAMILY fam USING hash'],
  ['a collation', 'CREATE COLLATION coll FROM "C"'],
  ['a conversion', `CREATE CONVERSION conv FOR 'LATIN1' TO 'UTF8' FROM pg_catalog.iso8859_1_to_utf8`],
  ['a text search configuration', 'CREATE TEXT SEARCH CONFIGURATION tsc (COPY = pg_catalog.english)'],
  ['a text search dictionary', 'CREATE TEXT SEARCH DICTIONARY tsd (TEMPLATE = pg_catalog.simple)'],
  ['a text search template', 'CREATE TEXT SEARCH TEMPLATE tst (LEXIZE = dsimple_lexize, INIT = dsimple_init)'],
  ['a text search parser', 'CREATE TEXT SEARCH PARSER tsp (START = prsd_start, GETTOKEN = prsd_nexttoken, END = prsd_end, LEXTYPES = prsd_lextype)'],
  ['extended statistics on a table of another schema', `
    CREATE SCHEMA IF NOT EXISTS elsewhere;
    CREATE TABLE IF NOT EXISTS elsewhere.pairs (a int, b int);
    CREATE STATISTICS public.pair_stats ON a, b FROM elsewhere.pairs`],
  ['a cast from a type of the schema', `
    CREATE TYPE money2 AS (cents int);
    CREATE FUNCTION money2_text(money2) RETURNS text LANGUAGE sql AS 'SELECT ($1).cents::text';
    CREATE CAST (money2 AS text) WITH FUNCTION money2_text(money2)`],
];

let db: TestDatabase;
let url: string;
beforeAll(async () => {
  db = await createTestDatabase('rel_reset');
  url = urlFor(db.name);
  // A foreign data wrapper and its server are the database's, not a schema's: made once, left by reset.
  await db.query('CREATE FOREIGN DATA WRAPPER reset_test_fdw; CREATE SERVER reset_test_server FOREIGN DATA WRAPPER reset_test_fdw');
});
afterAll(async () => {
  await db.drop();
  await cleanupTemp();
});

/** What `pg_dump --schema-only -n public` prints beyond the schema itself. */
async function publicSchemaDump(): Promise<string[]> {
  const { stdout } = await execFileAsync('pg_dump', ['--schema-only', '--no-owner', '--no-privileges', '-n', 'public', '-d', url]);
  return stdout
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('--') && !/^SET |^SELECT pg_catalog\.set_config|^\\(un)?restrict /.test(l))
    .filter((l) => !/^(CREATE SCHEMA public|COMMENT ON SCHEMA public)\b/.test(l));
}

async function state(dir: string): Promise<string> {
  const r = await migrate(['status', '--json', '--database-url', url, '--dir', dir], { env: envWith() });
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as { state: string }).state;
}

test.each(EVERY_KIND)('a schema holding only %s is legacy, and reset drops it', async (_kind, ddl) => {
  const empty = await migrationsDir({ '0001_a.sql': '-- Up Migration\nCREATE TABLE a (id int);\n-- Down Migration\nDROP TABLE a;\n' });
  await db.query(ddl);
  expect(await state(empty)).toBe('legacy');
  const reset = await migrate(['reset', '--confirm', '--database-url', url, '--dir', empty], { env: envWith() });
  expect({ code: reset.code, errors: reset.errorLines }).toEqual({ code: 0, errors: [] });
  expect(await publicSchemaDump()).toEqual([]);
  expect(await state(empty)).toBe('fresh');
  await expectNoLeftovers(db.name);
});

test('one object of each kind built by migrations: reset leaves public empty, and auto builds it all again', async () => {
  const dir = await migrationsDir({
    '0001_every_kind.sql': `-- Up Migration\n${EVERY_KIND.map(([, ddl]) => `${ddl};`).join('\n')}\n`,
  });
  const run = (...args: string[]) => migrate([...args, '--database-url', url, '--dir', dir], { env: envWith() });
  expect((await run('auto')).code).toBe(0);
  const built = await publicSchemaDump();
  expect(built.length).toBeGreaterThan(EVERY_KIND.length);

  const reset = await run('reset', '--confirm');
  expect({ code: reset.code, errors: reset.errorLines }).toEqual({ code: 0, errors: [] });
  expect(await publicSchemaDump()).toEqual([]);
  expect(await state(dir)).toBe('fresh');

  const again = await run('auto');
  expect({ code: again.code, errors: again.errorLines }).toEqual({ code: 0, errors: [] });
  expect(await publicSchemaDump()).toEqual(built);
  await expectNoLeftovers(db.name);
});
