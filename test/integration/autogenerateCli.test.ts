/**
 * `migrate generate --autogenerate` end to end, as a process: the first
 * migration from an empty folder, a second run that writes nothing,
 * `--check`, refusals and the flags that decide them, `--rename`,
 * `--allow-data-loss`, `--concurrently`, `--desired-url`, a proof that
 * fails; what it writes passes `migrate verify` and plain node-pg-migrate.
 * Replays run on the test server (MIGRATE_SCRATCH_URL, test/helpers/processes.ts).
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { cleanEnv, runCli, runNodePgMigrate, type ProcessResult } from '../helpers/processes.js';

let work: string;
let dir: string;
let schema: string;
const databases: TestDatabase[] = [];

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'autogenerate-'));
  dir = join(work, 'migrations');
  schema = join(work, 'schema.sql');
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});
afterAll(async () => {
  await Promise.all(databases.map((d) => d.drop()));
});

async function newDatabase(prefix: string): Promise<TestDatabase> {
  const db = await createTestDatabase(prefix);
  databases.push(db);
  return db;
}

function generate(...args: string[]): Promise<ProcessResult> {
  return runCli(['generate', '--autogenerate', '--dir', dir, '--desired', schema, ...args], { env: cleanEnv(), cwd: work });
}

const files = async () => (await readdir(dir).catch(() => [] as string[])).filter((f) => !f.startsWith('.')).sort();
const read = (file: string) => readFile(join(dir, file), 'utf8');
const errorLine = (r: ProcessResult) => r.stderr.split('\n').filter((l) => l.startsWith('migrate: error:'));

const USERS = `CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL UNIQUE, created_at timestamptz NOT NULL DEFAULT now());\n`;

describe('generate --autogenerate', () => {
  test('the first migration from an empty folder; a second run writes nothing; --check', async () => {
    await writeFile(schema, USERS);
    const first = await generate('-m', 'create users');
    expect(first.stderr).not.toMatch(/error/);
    expect(first.code).toBe(0);
    expect(await files()).toEqual(['0001_create_users.sql']);
    const text = await read('0001_create_users.sql');
    expect(text).toMatch(/^-- Message: create users\n/);
    expect(text).toMatch(/^-- Schema before \(base\): [0-9a-f]{64}$/m);
    expect(text).toMatch(/^-- Schema after: [0-9a-f]{64}$/m);
    expect(text).toMatch(/\n-- Up Migration\n\nCREATE TABLE users \(/);
    expect(text).toMatch(/\n-- Down Migration\n\n-- data loss: drops the table and its rows\nDROP TABLE users;\n$/);
    expect(first.stdout).toMatch(/^wrote .*0001_create_users\.sql \(3 up, 1 down\)$/m);
    expect(first.stdout).toMatch(/^proven: up reaches the desired schema/m);
    expect(first.stdout).toMatch(/^manifest: written$/m);
    expect(first.stdout).toMatch(/^lint: \d+ finding\(s\)$/m);

    const again = await generate('-m', 'again');
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^no changes: the migrations \(0001_create_users\) build the desired schema; nothing written$/m);
    expect(await files()).toEqual(['0001_create_users.sql']);

    const clean = await generate('--check');
    expect(clean.code).toBe(0);

    await writeFile(schema, `${USERS}ALTER TABLE users ADD COLUMN name text;\nCREATE TABLE teams (id int PRIMARY KEY);\n`);
    const check = await generate('--check');
    expect(check.code).toBe(1);
    expect(check.stdout.trim().split('\n').sort()).toEqual(['added column "users"."name" (text)', 'added table "teams"']);
    expect(errorLine(check)).toEqual([expect.stringMatching(/the desired schema differs from the migrations \(0001_create_users\) in 2 place\(s\)/)]);
    expect(await files()).toEqual(['0001_create_users.sql']);

    // What it wrote runs under the runner's verify, and under plain node-pg-migrate, both ways.
    const written = await generate('-m', 'add names');
    expect(written.code).toBe(0);
    expect(await files()).toEqual(['0001_create_users.sql', '0002_add_names.sql']);
    expect(written.stdout).toMatch(/^manifest: updated$/m);
    const verify = await runCli(['verify', '--dir', dir], { env: cleanEnv(), cwd: work });
    expect(errorLine(verify)).toEqual([]);
    expect(verify.code).toBe(0);
    const db = await newDatabase('ag_npm');
    const up = await runNodePgMigrate(['up', '-m', dir], { env: cleanEnv({ DATABASE_URL: db.url }) });
    expect(up.code).toBe(0);
    expect((await db.query(`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name IN ('users', 'teams')`))[0]!.n).toBe(2);
    const down = await runNodePgMigrate(['down', '2', '-m', dir], { env: cleanEnv({ DATABASE_URL: db.url }) });
    expect(down.code).toBe(0);
    expect((await db.query(`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'pgmigrations'`))[0]!.n).toBe(0);
  });

  test('create NAME --autogenerate and revision -m … --autogenerate are the same command', async () => {
    await writeFile(schema, USERS);
    const created = await runCli(['create', 'create users', '--autogenerate', '--dir', dir, '--desired', schema], { env: cleanEnv(), cwd: work });
    expect(created.code).toBe(0);
    await writeFile(schema, `${USERS}CREATE TABLE teams (id int PRIMARY KEY);\n`);
    const revision = await runCli(['revision', '--autogenerate', '-m', 'add teams', '--dir', dir, '--desired', schema], { env: cleanEnv(), cwd: work });
    expect(revision.code).toBe(0);
    expect(await files()).toEqual(['0001_create_users.sql', '0002_add_teams.sql']);
  });

  test('a folder of .sql files runs in name order; the config key "desired" names it', async () => {
    const folder = join(work, 'schema');
    await mkdir(folder);
    await writeFile(join(folder, '02_orders.sql'), 'CREATE TABLE orders (id int PRIMARY KEY, user_id bigint REFERENCES users (id));\n');
    await writeFile(join(folder, '01_users.sql'), USERS);
    await writeFile(join(work, 'migrate.config.json'), JSON.stringify({ desired: 'schema' }));
    const r = await runCli(['generate', '-m', 'init', '--autogenerate', '--dir', dir], { env: cleanEnv(), cwd: work });
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(await read('0001_init.sql')).toMatch(/CREATE TABLE orders/);
  });

  test('a rename candidate is refused (exit 3) with the flags that decide it; --rename decides it; nothing written meanwhile', async () => {
    await writeFile(schema, 'CREATE TABLE people (id int PRIMARY KEY, first_name text);\n');
    expect((await generate('-m', 'init')).code).toBe(0);
    await writeFile(schema, 'CREATE TABLE people (id int PRIMARY KEY, name text);\n');
    const refused = await generate('-m', 'rename first name');
    expect(refused.code).toBe(3);
    expect(errorLine(refused)).toEqual([
      expect.stringMatching(/refused: text column "first_name" dropped and "name" added: a rename or a drop and an add\? \(--rename column:people\.first_name=name to rename, or --no-renames to drop and add\)$/),
    ]);
    expect(await files()).toEqual(['0001_init.sql']);

    // --no-renames: a drop and an add, which loses data: that needs its own flag.
    const dropAndAdd = await generate('-m', 'rename first name', '--no-renames');
    expect(dropAndAdd.code).toBe(3);
    expect(errorLine(dropAndAdd)).toEqual([expect.stringMatching(/refused: column "people"."first_name": drops the column and its values \(--allow-data-loss/)]);
    expect(await files()).toEqual(['0001_init.sql']);

    const renamed = await generate('-m', 'rename first name', '--rename', 'column:people.first_name=name');
    expect(renamed.code).toBe(0);
    const text = await read('0002_rename_first_name.sql');
    expect(text).toMatch(/^ALTER TABLE people RENAME COLUMN first_name TO name;$/m);
    expect(text).toMatch(/^ALTER TABLE people RENAME COLUMN name TO first_name;$/m);
    expect(text).toMatch(/^-- Decision \(rename\): column "people"."first_name": renamed to "name"$/m);
  });

  test('a column added in the middle is refused: ADD COLUMN appends, so the schema would never converge', async () => {
    await writeFile(schema, USERS);
    expect((await generate('-m', 'init')).code).toBe(0);
    await writeFile(schema, USERS.replace('email text NOT NULL UNIQUE,', 'email text NOT NULL UNIQUE, name text,'));
    const r = await generate('-m', 'name');
    expect(r.code).toBe(3);
    expect(errorLine(r)).toEqual([expect.stringMatching(/refused: table "users": new column "name" would be appended, but the desired schema puts it before "created_at"; ADD COLUMN always appends \(put new columns last in the desired schema\)$/)]);
  });

  test('data loss is refused (exit 3) until --allow-data-loss, and the statement stands under a comment that says so', async () => {
    await writeFile(schema, `${USERS}CREATE TABLE teams (id int PRIMARY KEY);\n`);
    expect((await generate('-m', 'init')).code).toBe(0);
    await writeFile(schema, USERS);
    const refused = await generate('-m', 'drop teams');
    expect(refused.code).toBe(3);
    expect(errorLine(refused)).toEqual([expect.stringMatching(/refused: table "teams": drops the table and its rows \(--allow-data-loss to plan it anyway\)$/)]);
    expect(await files()).toEqual(['0001_init.sql']);
    const allowed = await generate('-m', 'drop teams', '--allow-data-loss');
    expect(allowed.code).toBe(0);
    expect(await read('0002_drop_teams.sql')).toMatch(/\n-- Up Migration\n\n-- data loss: drops the table and its rows\nDROP TABLE teams;\n/);
  });

  test('a dropped middle column: written, with the caveat that its down puts it back last, which verify reports', async () => {
    await writeFile(schema, 'CREATE TABLE t (a int, b int, c int);\n');
    expect((await generate('-m', 'init')).code).toBe(0);
    await writeFile(schema, 'CREATE TABLE t (a int, c int);\n');
    const r = await generate('-m', 'drop b', '--allow-data-loss');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^caveat: the down leaves changed table "t": column order \(a, b, c\) → \(a, c, b\); migrate verify will report it$/m);
    expect(await read('0002_drop_b.sql')).toMatch(/^-- caution: comes back as the last column, not where it stood/m);
    const verify = await runCli(['verify', '--dir', dir], { env: cleanEnv(), cwd: work });
    expect(verify.code).toBe(1);
    expect(verify.stdout).toMatch(/FAIL down {5}0002_drop_b: down does not restore the schema before up/);
  });

  test('what the planner cannot do is refused (exit 3) naming the object', async () => {
    await writeFile(schema, 'CREATE TABLE pairs (a int, b int);\n');
    expect((await generate('-m', 'init')).code).toBe(0);
    await writeFile(schema, 'CREATE TABLE pairs (b int, a int);\n');
    const r = await generate('-m', 'reorder');
    expect(r.code).toBe(3);
    expect(errorLine(r)).toEqual([expect.stringMatching(/refused: table "pairs": its columns change order \(a, b\) → \(b, a\); ALTER TABLE cannot reorder columns/)]);
    expect(await files()).toEqual(['0001_init.sql']);
  });

  test('--concurrently: an index on an existing table goes into a noTransaction migration of its own, which verify and node-pg-migrate run', async () => {
    await writeFile(schema, USERS);
    expect((await generate('-m', 'init')).code).toBe(0);
    await writeFile(schema, `${USERS}CREATE INDEX users_created ON users (created_at);\nALTER TABLE users ADD COLUMN name text;\n`);
    const r = await generate('-m', 'index created', '--concurrently');
    expect(r.code).toBe(0);
    expect(await files()).toEqual(['0001_init.sql', '0002_index_created.sql', '0003_index_created_concurrently.js']);
    const js = await read('0003_index_created_concurrently.js');
    expect(js).toMatch(/pgm\.noTransaction\(\);\n {2}pgm\.sql\(`CREATE INDEX CONCURRENTLY users_created ON users USING btree \(created_at\)`\);/);
    expect(js).toMatch(/pgm\.sql\(`DROP INDEX CONCURRENTLY users_created`\);/);
    expect(await read('0002_index_created.sql')).not.toMatch(/CONCURRENTLY/);
    expect((await runCli(['verify', '--dir', dir], { env: cleanEnv(), cwd: work })).code).toBe(0);
    const db = await newDatabase('ag_conc');
    expect((await runNodePgMigrate(['up', '-m', dir], { env: cleanEnv({ DATABASE_URL: db.url }) })).code).toBe(0);
    expect(await db.query(`SELECT indexname FROM pg_indexes WHERE indexname = 'users_created'`)).toEqual([{ indexname: 'users_created' }]);
    expect((await runNodePgMigrate(['down', '2', '-m', dir], { env: cleanEnv({ DATABASE_URL: db.url }) })).code).toBe(0);
    expect(await db.query(`SELECT indexname FROM pg_indexes WHERE indexname = 'users_created'`)).toEqual([]);
  });

  test('--desired-url: the desired schema read from a development database, which stays read only', async () => {
    await writeFile(schema, USERS);
    expect((await generate('-m', 'init')).code).toBe(0);
    const dev = await newDatabase('ag_dev');
    await dev.query(USERS);
    await dev.query('CREATE TABLE teams (id int PRIMARY KEY)');
    // Any write there would fail.
    await dev.query(`ALTER DATABASE ${dev.name} SET default_transaction_read_only = on`);
    const r = await runCli(['generate', '-m', 'from dev', '--autogenerate', '--dir', dir, '--desired-url', dev.url], { env: cleanEnv(), cwd: work });
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    const text = await read('0002_from_dev.sql');
    expect(text).toMatch(/^-- Generated by migrate generate --autogenerate from the database at postgres:\/\/.*\/ag_dev_/m);
    expect(text).toMatch(/^CREATE TABLE teams \(/m);
    const both = await runCli(['generate', '-m', 'x', '--autogenerate', '--dir', dir, '--desired', schema, '--desired-url', dev.url], { env: cleanEnv(), cwd: work });
    expect(both.code).toBe(2);
  });

  test('bad input is exit 2 naming it, nothing written: no desired schema, a missing file, a file that does not apply, no message', async () => {
    const none = await runCli(['generate', '-m', 'x', '--autogenerate', '--dir', dir], { env: cleanEnv(), cwd: work });
    expect(none.code).toBe(2);
    expect(errorLine(none)).toEqual([expect.stringMatching(/needs the desired schema \(pass --desired schema\.sql/)]);
    const missing = await generate('-m', 'x');
    expect(missing.code).toBe(2);
    expect(errorLine(missing)).toEqual([expect.stringMatching(/the desired schema .*schema\.sql cannot be read/)]);
    await writeFile(schema, 'CREATE TABLE ok (id int);\nCREATE TABLE broken (id int;\n');
    const bad = await generate('-m', 'x');
    expect(bad.code).toBe(2);
    expect(errorLine(bad)).toEqual([expect.stringMatching(/the desired schema schema\.sql:2 does not apply: syntax error at or near ";"/)]);
    const noMessage = await generate();
    expect(noMessage.code).toBe(2);
    expect(await files()).toEqual([]);
  });

  test('a migration that does not prove out is not written (exit 1), and what differs is printed', async () => {
    // An event trigger (a database object the schema model does not hold) comments every table a
    // migration creates: after up, the schema is not the desired one.
    await mkdir(dir);
    await writeFile(
      join(dir, '0001_hooks.sql'),
      `-- Up Migration
CREATE SCHEMA hooks;
CREATE FUNCTION hooks.tag() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  FOR r IN SELECT * FROM pg_event_trigger_ddl_commands() WHERE command_tag = 'CREATE TABLE' LOOP
    EXECUTE format('COMMENT ON TABLE %s IS %L', r.object_identity, 'tagged');
  END LOOP;
END $$;
CREATE EVENT TRIGGER tag_tables ON ddl_command_end EXECUTE FUNCTION hooks.tag();
-- Down Migration
DROP EVENT TRIGGER tag_tables;
DROP SCHEMA hooks CASCADE;
`,
    );
    await writeFile(schema, 'CREATE TABLE things (id int);\n');
    const r = await generate('-m', 'things');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/changed table "things": comment/);
    expect(errorLine(r)).toEqual([expect.stringMatching(/wrote nothing: the generated migration failed its proof in the scratch database: after up the schema is not the desired one/)]);
    expect(await files()).toEqual(['0001_hooks.sql']);
  });
});
