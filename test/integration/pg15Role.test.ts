/**
 * The role PostgreSQL 15 recommends for an application: USAGE and CREATE on
 * schema public, no CREATE on the database, no CREATEDB
 * (https://www.postgresql.org/docs/15/ddl-schemas.html#DDL-SCHEMAS-PATTERNS).
 * Every command plain node-pg-migrate can run works for it; the ones that
 * need a scratch database say so in one line (exit 2).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createTestDatabase, serverUrl, type TestDatabase } from '../helpers/database.js';
import { ABC, createMigrationsFolder, sqlMigration, type MigrationsFolder } from '../helpers/migrationsFolder.js';
import { cleanEnv, runCli, runNodePgMigrate, type ProcessResult } from '../helpers/processes.js';

const ROLE = `app_${randomBytes(4).toString('hex')}`;

let db: TestDatabase;
let appUrl: string;
const folders: MigrationsFolder[] = [];

beforeAll(async () => {
  db = await createTestDatabase('pg15role');
  await db.query(`CREATE ROLE ${ROLE} LOGIN NOCREATEDB`);
  await db.query(`REVOKE CREATE ON DATABASE ${db.name} FROM PUBLIC`);
  await db.query(`REVOKE ALL ON SCHEMA public FROM PUBLIC`);
  await db.query(`GRANT USAGE, CREATE ON SCHEMA public TO ${ROLE}`);
  const url = new URL(db.url);
  url.username = ROLE;
  url.password = '';
  appUrl = url.toString();
});
afterAll(async () => {
  await Promise.all(folders.map((f) => f.dispose()));
  // What the role owns goes with the database; then the role, which is the server's.
  await db.drop();
  const server = new pg.Client({ connectionString: serverUrl() });
  await server.connect();
  await server.query(`DROP ROLE IF EXISTS ${ROLE}`).finally(() => server.end());
});

async function folderOf(files: Record<string, string>): Promise<MigrationsFolder> {
  const folder = await createMigrationsFolder(files);
  folders.push(folder);
  return folder;
}

function expectCode(result: ProcessResult, code: number, what: string): ProcessResult {
  expect({ what, code: result.code, stderr: result.code === code ? '' : result.stderr }).toEqual({ what, code, stderr: '' });
  return result;
}

test('the role has what PostgreSQL 15 recommends, and no more', async () => {
  const [privileges] = await db.query<{ database: boolean; schema: boolean; createdb: boolean }>(
    `SELECT has_database_privilege($1, current_database(), 'CREATE') AS database,
            has_schema_privilege($1, 'public', 'CREATE') AS schema,
            (SELECT rolcreatedb FROM pg_roles WHERE rolname = $1) AS createdb`,
    [ROLE],
  );
  expect(privileges).toEqual({ database: false, schema: true, createdb: false });
});

test('plain node-pg-migrate works for it, and so does every command of the runner that it can run', async () => {
  const folder = await folderOf({ '0001_a.sql': ABC['0001_a.sql']!, '0002_b.sql': ABC['0002_b.sql']! });
  const env = cleanEnv({ DATABASE_URL: appUrl });
  const migrate = (...args: string[]) => runCli([...args, '--dir', folder.dir, '--log-level', 'warn'], { env });

  // The control: plain node-pg-migrate, in a schema of its own so the runner's database stays fresh.
  await db.query(`CREATE SCHEMA plain AUTHORIZATION ${ROLE}`);
  expectCode(await runNodePgMigrate(['up', '-m', folder.dir, '--schema', 'plain'], { env }), 0, 'node-pg-migrate up');

  expectCode(await migrate('auto'), 0, 'auto on a fresh database');
  expect(JSON.parse(expectCode(await migrate('status', '--json'), 0, 'status').stdout)).toMatchObject({ state: 'current' });
  expectCode(await migrate('check'), 0, 'check');
  expectCode(await migrate('history'), 0, 'history');

  await folder.write('0003_c.sql', sqlMigration('CREATE TABLE c (id int PRIMARY KEY);', 'DROP TABLE c;'));
  expect(JSON.parse(expectCode(await migrate('status', '--json'), 0, 'status behind').stdout)).toMatchObject({ state: 'behind' });
  expectCode(await migrate('sql'), 0, 'sql');
  expectCode(await migrate('auto'), 0, 'auto on a behind database');
  expectCode(await migrate('down'), 0, 'down');
  expectCode(await migrate('up'), 0, 'up');
  expectCode(await migrate('stamp', '0001_a'), 0, 'stamp 0001_a');
  expectCode(await migrate('stamp', 'head'), 0, 'stamp head');
  expectCode(await migrate('down', 'base'), 0, 'down base');
  expectCode(await migrate('auto'), 0, 'auto after down base');
  expectCode(await migrate('reset', '--confirm'), 0, 'reset');
  expect(JSON.parse(expectCode(await migrate('status', '--json'), 0, 'status after reset').stdout)).toMatchObject({ state: 'fresh' });
  expectCode(await migrate('auto'), 0, 'auto after reset');

  const [tables] = await db.query<{ owners: string[] }>(
    `SELECT array_agg(DISTINCT tableowner::text) AS owners FROM pg_tables WHERE schemaname = 'public'`,
  );
  expect(tables!.owners).toEqual([ROLE]);
});

test('snapshot and verify on the target\'s server need a scratch database: one line saying which privilege is missing, exit 2; on the scratch server they work', async () => {
  const folder = await folderOf(ABC);
  const env = cleanEnv({ DATABASE_URL: appUrl });
  for (const command of ['snapshot', 'verify']) {
    expectCode(await runCli([command, '--dir', folder.dir], { env }), 0, `${command} on the scratch server`);
    const result = await runCli([command, '--dir', folder.dir, '--scratch', 'target'], { env });
    expect({ command, code: result.code }).toEqual({ command, code: 2 });
    const errors = result.stderr.split('\n').filter((l) => l.startsWith('migrate: '));
    expect(errors).toEqual([expect.stringMatching(new RegExp(`role ${ROLE} may not create databases`))]);
  }
});

test('a history schema the role may not create: one line naming the table and what to grant, exit 2, nothing applied', async () => {
  const folder = await folderOf(ABC);
  const env = cleanEnv({ DATABASE_URL: appUrl });
  // A fresh managed schema of its own, so that the run gets as far as writing the history.
  await db.query(`CREATE SCHEMA appdata AUTHORIZATION ${ROLE}`);
  const result = await runCli(['auto', '--dir', folder.dir, '--schema', 'appdata', '--migrations-schema', 'app_history'], { env });
  expect(result.code).toBe(2);
  const errors = result.stderr.split('\n').filter((l) => l.startsWith('migrate: '));
  expect(errors).toEqual([
    expect.stringMatching(/cannot create the history table "app_history"\."pgmigrations": permission denied for database .*create schema "app_history" for it/),
  ]);
  expect(await db.query(`SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'appdata'::regnamespace`)).toEqual([{ n: 0 }]);
});

test('a history the role may read but not write: stamp is one line saying permission denied, exit 2 (a privilege the role lacks), the history as it was', async () => {
  const folder = await folderOf(ABC);
  const schema = `ro_${randomBytes(3).toString('hex')}`;
  await db.query(`CREATE SCHEMA ${schema}`);
  expectCode(await runCli(['up', '0001_a', '--dir', folder.dir, '--schema', schema, '--migrations-schema', schema], { env: cleanEnv({ DATABASE_URL: db.url }) }), 0, 'up as the owner');
  await db.query(`GRANT USAGE ON SCHEMA ${schema} TO ${ROLE}`);
  await db.query(`GRANT SELECT ON ALL TABLES IN SCHEMA ${schema} TO ${ROLE}`);
  const result = await runCli(['stamp', 'head', '--dir', folder.dir, '--schema', schema, '--migrations-schema', schema], { env: cleanEnv({ DATABASE_URL: appUrl }) });
  expect(result.code).toBe(2);
  const errors = result.stderr.split('\n').filter((l) => l.startsWith('migrate: '));
  expect(errors).toEqual([expect.stringMatching(/permission denied for table pgmigrations/)]);
  expect(await db.query(`SELECT name FROM ${schema}.pgmigrations ORDER BY id`)).toEqual([{ name: '0001_a' }]);
});
