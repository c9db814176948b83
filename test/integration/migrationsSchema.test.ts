/**
 * node-pg-migrate's `--migrations-schema`: the history in a schema of its own,
 * apart from the managed one. The runner reads and writes it there in every
 * command (README "Settings"), and agrees with plain node-pg-migrate given
 * the same flag.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { ABC, createMigrationsFolder, type MigrationsFolder } from '../helpers/migrationsFolder.js';
import { cleanEnv, runCli, runNodePgMigrate, type ProcessResult } from '../helpers/processes.js';

const databases: TestDatabase[] = [];
const folders: MigrationsFolder[] = [];
afterAll(async () => {
  await Promise.all(databases.map((d) => d.drop()));
  await Promise.all(folders.map((f) => f.dispose()));
});

async function setUp(prefix: string): Promise<{ db: TestDatabase; folder: MigrationsFolder }> {
  const db = await createTestDatabase(prefix);
  databases.push(db);
  const folder = await createMigrationsFolder(ABC);
  folders.push(folder);
  return { db, folder };
}

function expectOk(result: ProcessResult, what: string): ProcessResult {
  expect({ what, code: result.code, stderr: result.code === 0 ? '' : result.stderr }).toEqual({ what, code: 0, stderr: '' });
  return result;
}

/** The names in the history table of `schema`, in node-pg-migrate's order; null when there is none. */
async function history(db: TestDatabase, schema: string): Promise<string[] | null> {
  const [table] = await db.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [`"${schema}".pgmigrations`]);
  if (!table?.t) return null;
  return (await db.query<{ name: string }>(`SELECT name FROM "${schema}".pgmigrations ORDER BY run_on, id`)).map((r) => r.name);
}

async function state(db: TestDatabase, dir: string, ...flags: string[]): Promise<{ state: string; applied: string[] }> {
  const r = expectOk(await runCli(['status', '--json', '--dir', dir, ...flags], { env: cleanEnv({ DATABASE_URL: db.url }) }), 'status');
  return JSON.parse(r.stdout) as { state: string; applied: string[] };
}

test('plain node-pg-migrate and the runner, both given --migrations-schema, read and write the same history', async () => {
  const { db, folder } = await setUp('mschema');
  const env = cleanEnv({ DATABASE_URL: db.url });
  const plain = (...args: string[]) =>
    runNodePgMigrate([...args, '-m', folder.dir, '--migrations-schema', 'history', '--create-migrations-schema'], { env });
  const migrate = (...args: string[]) => runCli([...args, '--dir', folder.dir, '--migrations-schema', 'history'], { env });

  expectOk(await plain('up', '1'), 'node-pg-migrate up 1');
  expect(await state(db, folder.dir, '--migrations-schema', 'history')).toMatchObject({ state: 'behind', applied: ['0001_a'] });
  expectOk(await migrate('up', '+1'), 'migrate up +1');
  expect(await history(db, 'history')).toEqual(['0001_a', '0002_b']);
  expect(await history(db, 'public')).toBeNull();

  // node-pg-migrate sees what the runner applied: it applies only the rest.
  const rest = expectOk(await plain('up'), 'node-pg-migrate up');
  expect(rest.stdout).toContain('0003_c');
  expect(rest.stdout).not.toMatch(/MIGRATION 000[12]/);
  expect(await state(db, folder.dir, '--migrations-schema', 'history')).toMatchObject({ state: 'current' });

  // The runner reverts what node-pg-migrate applied, and the other way round.
  expectOk(await migrate('down'), 'migrate down');
  expect(await history(db, 'history')).toEqual(['0001_a', '0002_b']);
  expectOk(await plain('down'), 'node-pg-migrate down');
  expect(await history(db, 'history')).toEqual(['0001_a']);
  expectOk(await migrate('up'), 'migrate up');
  expect(await history(db, 'history')).toEqual(['0001_a', '0002_b', '0003_c']);
  // A stamp the runner writes, then one node-pg-migrate writes (--fake), each read by the other.
  expectOk(await migrate('stamp', '0001_a'), 'migrate stamp 0001_a');
  expect(await history(db, 'history')).toEqual(['0001_a']);
  expectOk(await plain('up', '1', '--fake'), 'node-pg-migrate up 1 --fake');
  expect(await state(db, folder.dir, '--migrations-schema', 'history')).toMatchObject({ state: 'behind', applied: ['0001_a', '0002_b'] });

  // Without the setting the runner looks in public: no history there, and tables, so legacy.
  expect((await state(db, folder.dir)).state).toBe('legacy');
  expect(await history(db, 'public')).toBeNull();
});

test('MIGRATIONS_SCHEMA and the config key migrationsSchema do the same; status, snapshot, verify, down base and reset keep to it', async () => {
  const { db, folder } = await setUp('mschema_env');
  const env = cleanEnv({ DATABASE_URL: db.url, MIGRATIONS_SCHEMA: 'history' });
  const migrate = (...args: string[]) => runCli([...args, '--dir', folder.dir], { env });

  expectOk(await migrate('auto'), 'auto');
  expect(await history(db, 'history')).toEqual(['0001_a', '0002_b', '0003_c']);
  expect(await history(db, 'public')).toBeNull();
  const info = expectOk(await migrate('info'), 'info');
  expect(info.stdout).toMatch(/^table:\s+history\.pgmigrations$/m);

  // Fingerprints: the replays write their history where the setting says, and leave it out of public's model.
  expectOk(await migrate('snapshot'), 'snapshot');
  expectOk(await migrate('verify'), 'verify');
  expectOk(await migrate('check', '--strict'), 'check --strict');

  const configDir = await mkdtemp(join(tmpdir(), 'mschema-config-'));
  try {
    await writeFile(join(configDir, 'migrate.config.json'), JSON.stringify({ migrationsSchema: 'history' }));
    const fromConfig = await runCli(['status', '--json', '--dir', folder.dir], { env: cleanEnv({ DATABASE_URL: db.url }), cwd: configDir });
    expect(JSON.parse(expectOk(fromConfig, 'status with the config file').stdout)).toMatchObject({ state: 'current' });
  } finally {
    await rm(configDir, { recursive: true, force: true });
  }

  expectOk(await migrate('down', 'base'), 'down base');
  expect(await history(db, 'history')).toEqual([]);
  // public holds nothing of the runner's: fresh, not legacy.
  expect(JSON.parse(expectOk(await migrate('status', '--json'), 'status').stdout)).toMatchObject({ state: 'fresh' });

  expectOk(await migrate('auto'), 'auto again');
  expectOk(await migrate('reset', '--confirm'), 'reset');
  expect(await history(db, 'history')).toBeNull();
  const [schema] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'history'`);
  expect(schema!.n).toBe(1);
  expect(JSON.parse(expectOk(await migrate('status', '--json'), 'status after reset').stdout)).toMatchObject({ state: 'fresh' });
});
