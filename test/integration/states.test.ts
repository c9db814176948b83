/**
 * Every state of docs/CONTRACT.md "The states", built with plain node-pg-migrate (or by hand
 * for legacy), named by `migrate status --json` run as a process; and
 * `status` creates nothing, not even the history table.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { ABC, createMigrationsFolder, type MigrationsFolder } from '../helpers/migrationsFolder.js';
import { cleanEnv, runCli, runNodePgMigrate } from '../helpers/processes.js';

let db: TestDatabase;
let folder: MigrationsFolder;

beforeEach(async () => {
  db = await createTestDatabase('states');
  folder = await createMigrationsFolder(ABC);
});
afterEach(async () => {
  await db.drop();
  await folder.dispose();
});

const env = () => cleanEnv({ DATABASE_URL: db.url });

/** Plain node-pg-migrate, as its users run it. */
async function nodePgMigrate(...args: string[]): Promise<void> {
  const result = await runNodePgMigrate([...args, '-m', folder.dir], { env: env() });
  expect(result.code).toBe(0);
}

/** Everything in the database that status could have created: relations of every schema but the catalogs. */
async function catalogSnapshot(): Promise<string[]> {
  const rows = await db.query<{ obj: string }>(
    `SELECT n.nspname || '.' || c.relname || ':' || c.relkind::text AS obj FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1`,
  );
  return rows.map((r) => r.obj);
}

async function status(): Promise<Record<string, unknown>> {
  const before = await catalogSnapshot();
  const result = await runCli(['status', '--json', '--dir', folder.dir], { env: env() });
  expect(result.stderr).not.toMatch(/error/i);
  expect(result.code).toBe(0);
  expect(await catalogSnapshot()).toEqual(before);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

test('fresh: an empty database', async () => {
  const doc = await status();
  expect(doc).toEqual({
    state: 'fresh',
    current: null,
    head: '0003_c',
    applied: [],
    pending: ['0001_a', '0002_b', '0003_c'],
    unknown: [],
    plan: { action: 'apply', stampTo: null, apply: ['0001_a', '0002_b', '0003_c'], reason: expect.any(String) },
    findings: [],
  });
  expect(await catalogSnapshot()).toEqual([]);
});

test('fresh: an empty history table counts as no history', async () => {
  await folder.dispose();
  folder = await createMigrationsFolder({});
  await nodePgMigrate('up'); // creates the table, applies nothing
  folder = await createMigrationsFolder(ABC);
  expect((await status()).state).toBe('fresh');
});

test('fresh: extensions are not application objects', async () => {
  await db.query('CREATE EXTENSION IF NOT EXISTS pg_trgm');
  expect((await status()).state).toBe('fresh');
});

test('legacy: tables but no history, matched to the revision they are at', async () => {
  // The folder has no manifest: fingerprints are computed in a scratch database.
  await db.query('CREATE TABLE a (id int PRIMARY KEY)');
  const doc = await status();
  expect(doc.state).toBe('legacy');
  expect(doc.plan).toMatchObject({ action: 'stamp-then-apply', stampTo: '0001_a', apply: ['0002_b', '0003_c'] });
});

test('legacy: a schema that matches no revision is refused', async () => {
  await db.query('CREATE TABLE a (id bigint PRIMARY KEY)');
  const doc = await status();
  expect(doc.state).toBe('legacy');
  expect(doc.plan).toMatchObject({ action: 'refuse', stampTo: null });
});

test.each([
  ['a view', 'CREATE VIEW v AS SELECT 1 AS one'],
  ['a sequence', 'CREATE SEQUENCE s'],
  ['an enum type', "CREATE TYPE mood AS ENUM ('ok')"],
  ['a domain', 'CREATE DOMAIN posint AS int CHECK (VALUE > 0)'],
  ['a function', 'CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$'],
  ['a materialized view', 'CREATE MATERIALIZED VIEW mv AS SELECT 1 AS one'],
])('legacy: %s alone is an application object', async (_what, ddl) => {
  await db.query(ddl);
  expect((await status()).state).toBe('legacy');
});

test('legacy: objects and an empty history table', async () => {
  await db.query('CREATE TABLE pgmigrations (id SERIAL PRIMARY KEY, name varchar(255) NOT NULL, run_on timestamp NOT NULL)');
  await db.query('CREATE TABLE users (id int)');
  expect((await status()).state).toBe('legacy');
});

test('objects in another schema do not make public legacy', async () => {
  await db.query('CREATE SCHEMA other; CREATE TABLE other.t (id int)');
  expect((await status()).state).toBe('fresh');
});

test('behind: a prefix applied by node-pg-migrate', async () => {
  await nodePgMigrate('up', '1');
  const doc = await status();
  expect(doc).toMatchObject({
    state: 'behind',
    current: '0001_a',
    applied: ['0001_a'],
    pending: ['0002_b', '0003_c'],
    plan: { action: 'apply', apply: ['0002_b', '0003_c'], reason: '2 migrations pending' },
  });
});

test('current: everything applied by node-pg-migrate', async () => {
  await nodePgMigrate('up');
  const doc = await status();
  expect(doc).toMatchObject({ state: 'current', current: '0003_c', pending: [], plan: { action: 'none' } });
});

test('diverged: an applied migration no longer on disk is named', async () => {
  await nodePgMigrate('up');
  await folder.remove('0003_c.sql');
  const doc = await status();
  expect(doc).toMatchObject({
    state: 'diverged',
    unknown: ['0003_c'],
    plan: { action: 'refuse', settleCommand: 'migrate stamp 0002_b' },
  });
});

// node-pg-migrate records no checksum, so a file renamed after it ran cannot be told from one deleted:
// the stamp that drops its row would let the next run apply it again under its new name.
test('diverged: a file renamed after plain node-pg-migrate ran it: the stamp is offered only for a deletion', async () => {
  await nodePgMigrate('up');
  await folder.write('0004_c_renamed.sql', await readFile(join(folder.dir, '0003_c.sql'), 'utf8'));
  await folder.remove('0003_c.sql');
  const doc = await status();
  expect(doc).toMatchObject({
    state: 'diverged',
    unknown: ['0003_c'],
    pending: ['0004_c_renamed'],
    plan: { action: 'refuse', settleCommand: 'migrate stamp 0002_b, only if 0003_c was deleted: a file renamed after it ran is to be renamed back, or the next run applies it again under its new name' },
  });
});

test('diverged: an older file merged after newer ones were applied (a gap)', async () => {
  await folder.remove('0002_b.sql');
  await nodePgMigrate('up'); // applies 0001_a and 0003_c
  await folder.write('0002_b.sql', 'CREATE TABLE late (id int);');
  const doc = await status();
  expect(doc).toMatchObject({ state: 'diverged', unknown: [], plan: { action: 'refuse' } });
  expect((doc.plan as { reason: string }).reason).toMatch(/0002_b/);
});

test('a custom history table and schema are honoured', async () => {
  await runNodePgMigrate(['up', '-m', folder.dir, '--migrations-table', 'history', '--schema', 'app', '--create-schema'], {
    env: env(),
  });
  const result = await runCli(['status', '--json', '--dir', folder.dir, '--table', 'history', '--schema', 'app'], { env: env() });
  expect(JSON.parse(result.stdout)).toMatchObject({ state: 'current' });
  const wrongTable = await runCli(['status', '--json', '--dir', folder.dir, '--schema', 'app'], { env: env() });
  expect(JSON.parse(wrongTable.stdout)).toMatchObject({ state: 'legacy' });
});
