/**
 * checkSchema (README, "How it behaves"): after applying or reverting, inside
 * the batch's transaction, the live schema must have the fingerprint the
 * manifest recorded for the revision reached; on a mismatch the batch is
 * rolled back (exit 1, the difference named) and the database is as it was.
 * Without a manifest that describes the files the run is refused (exit 2)
 * before it changes anything.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { ABC, createMigrationsFolder, sqlMigration, type MigrationsFolder } from '../helpers/migrationsFolder.js';
import { cleanEnv, runCli, type ProcessResult } from '../helpers/processes.js';

let db: TestDatabase;
let folder: MigrationsFolder;

beforeEach(async () => {
  db = await createTestDatabase('check_schema');
  folder = await createMigrationsFolder(ABC);
});
afterEach(async () => {
  await db.drop();
  await folder.dispose();
});

const env = (extra: Record<string, string> = {}) => cleanEnv({ DATABASE_URL: db.url, ...extra });
const migrate = (args: string[], extra: Record<string, string> = {}) => runCli([...args, '--dir', folder.dir], { env: env(extra) });

function expectExit(result: ProcessResult, code: number): void {
  if (result.code !== code) throw new Error(`exit ${result.code}, expected ${code}\n${result.stderr}`);
}

async function snapshot(): Promise<void> {
  expectExit(await migrate(['snapshot']), 0);
}

async function history(): Promise<string[]> {
  return (await db.query<{ name: string }>('SELECT name FROM pgmigrations ORDER BY run_on, id')).map((r) => r.name);
}

async function tables(): Promise<string[]> {
  return (await db.query<{ t: string }>(`SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)).map((r) => r.t);
}

function errorLines(result: ProcessResult): string[] {
  return result.stderr.split('\n').filter((line) => line.startsWith('migrate: '));
}

test('a run that reaches the recorded schema commits, up and down', async () => {
  await snapshot();
  expectExit(await migrate(['auto', '--check-schema']), 0);
  expect(await history()).toEqual(['0001_a', '0002_b', '0003_c']);
  expectExit(await migrate(['down', '--steps', '2', '--check-schema']), 0);
  expect(await history()).toEqual(['0001_a']);
});

test('a database that drifted before the run: the batch is rolled back, exit 1, the difference named', async () => {
  await snapshot();
  expectExit(await migrate(['up', '0001_a']), 0);
  await db.query('ALTER TABLE a ADD COLUMN extra int');
  for (const [how, args, extra] of [
    ['the flag', ['auto', '--check-schema'], {}],
    ['MIGRATE_CHECK_SCHEMA', ['auto'], { MIGRATE_CHECK_SCHEMA: 'true' }],
  ] as const) {
    const result = await migrate([...args], { ...extra });
    expect({ how, code: result.code }).toEqual({ how, code: 1 });
    expect(errorLines(result)).toEqual([
      expect.stringMatching(/^migrate: error: the schema after 0003_c is not the one the manifest recorded \(.*"extra".*\); the batch was rolled back/),
    ]);
    expect(await history()).toEqual(['0001_a']);
    expect(await tables()).toEqual(['a', 'pgmigrations', 'pgmigrations_meta']);
  }
  // Without the check the same run applies (the drift is status's to report).
  expectExit(await migrate(['auto']), 0);
  expect(await history()).toEqual(['0001_a', '0002_b', '0003_c']);
});

test('the config key turns it on; without an up-to-date manifest the run is refused (exit 2) and nothing changes', async () => {
  const configDir = await mkdtemp(join(tmpdir(), 'check-schema-config-'));
  await writeFile(join(configDir, 'migrate.config.json'), JSON.stringify({ checkSchema: true }));
  const config = ['--config', join(configDir, 'migrate.config.json')];
  const missing = await migrate(['auto', ...config]);
  expectExit(missing, 2);
  expect(errorLines(missing)).toEqual([expect.stringMatching(/checkSchema needs the fingerprint manifest .*, and there is none \(run migrate snapshot/)]);
  expect(await tables()).toEqual([]);

  await snapshot();
  await folder.write('0004_d.sql', sqlMigration('CREATE TABLE d (id int);', 'DROP TABLE d;'));
  const stale = await migrate(['auto', ...config]);
  expectExit(stale, 2);
  expect(errorLines(stale)).toEqual([expect.stringMatching(/checkSchema needs the fingerprint manifest .*, and no fingerprint for 0004_d/)]);
  expect(await tables()).toEqual([]);

  await snapshot();
  expectExit(await migrate(['auto', ...config]), 0);
  expect(await history()).toEqual(['0001_a', '0002_b', '0003_c', '0004_d']);
  await rm(configDir, { recursive: true, force: true });
});

test('a migration that does something else here than in the snapshot; outside a transaction it stays, unrecorded, and the error says so', async () => {
  // Only outside a scratch database (where snapshot replays) does it make a table the manifest never saw.
  const surprise = (table: string) =>
    `DO $$ BEGIN IF current_database() NOT LIKE 'migrate\\_scratch\\_%' THEN EXECUTE 'CREATE TABLE ${table} (id int)'; END IF; END $$;`;
  await folder.write('0004_d.sql', sqlMigration(`CREATE TABLE d (id int);\n${surprise('surprise_in')}`, 'DROP TABLE d;'));
  await folder.write('0005_e.sql', `-- migrate:no-transaction\n${surprise('surprise_out')}\n`);
  await snapshot();

  const inside = await migrate(['up', '0004_d', '--check-schema']);
  expectExit(inside, 1);
  expect(errorLines(inside)).toEqual([expect.stringMatching(/the schema after 0004_d is not the one the manifest recorded \(.*"surprise_in".*\); the batch was rolled back/)]);
  expect(await tables()).toEqual([]);

  await folder.write('0004_d.sql', sqlMigration('CREATE TABLE d (id int);', 'DROP TABLE d;'));
  await snapshot();
  const outside = await migrate(['auto', '--check-schema']);
  expectExit(outside, 1);
  expect(errorLines(outside)).toEqual([
    expect.stringMatching(/the schema after 0005_e is not the one the manifest recorded \(.*"surprise_out".*\); 0005_e ran outside a transaction and took effect, but is not recorded as applied/),
  ]);
  expect(await history()).toEqual(['0001_a', '0002_b', '0003_c', '0004_d']);
  expect(await tables()).toContain('surprise_out');
});
