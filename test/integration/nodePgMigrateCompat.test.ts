/**
 * What node-pg-migrate's own integration migrations do (salsita/node-pg-migrate
 * v9.0.0, test/migrations: up, then down to 0), in migrations of our own
 * writing (test/fixtures/node-pg-migrate-traps/README.md): callbacks, SAVEPOINTs
 * through pgm.db, noTransaction, roles created, renamed and dropped, SET ROLE,
 * grants, an operator, the recursive text to integer cast of 090_create_cast,
 * a temporary table, partitions. Run with plain node-pg-migrate and with the
 * runner, up, down to base and up again: the same schema each time, and no
 * role left behind.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { schemaSnapshot } from '../helpers/pgDump.js';
import { PROJECT_ROOT, cleanEnv, runCli, runNodePgMigrate, type ProcessResult } from '../helpers/processes.js';

const MIGRATIONS = join(PROJECT_ROOT, 'test', 'fixtures', 'node-pg-migrate-traps', 'migrations');
/** Roles are the server's: a prefix of this run's own keeps parallel runs apart. */
const PREFIX = `compat_${randomBytes(3).toString('hex')}`;

const databases: TestDatabase[] = [];
afterAll(async () => {
  // Whatever a failed run left: the roles the fixture makes, then the databases.
  const leftover = await ourRoles();
  for (const db of databases) {
    for (const role of leftover) await db.query(`DROP OWNED BY "${role}"`).catch(() => undefined);
  }
  await Promise.all(databases.map((d) => d.drop()));
  for (const role of leftover) await databases[0]?.query(`DROP ROLE IF EXISTS "${role}"`);
});

async function newDatabase(prefix: string): Promise<TestDatabase> {
  const db = await createTestDatabase(prefix);
  databases.push(db);
  return db;
}

async function ourRoles(): Promise<string[]> {
  const probe = databases[0];
  if (!probe) return [];
  const rows = await probe.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1) ORDER BY 1', [`${PREFIX}_`]);
  return rows.map((r) => r.rolname);
}

const env = (db: TestDatabase) => cleanEnv({ DATABASE_URL: db.url, COMPAT_ROLE_PREFIX: PREFIX });

function expectOk(result: ProcessResult, what: string): void {
  expect({ what, code: result.code, stderr: result.code === 0 ? '' : result.stderr }).toEqual({ what, code: 0, stderr: '' });
}

/**
 * The schema as pg_dump prints it, grants included, without the runner's side
 * table; on a server newer than pg_dump, the catalog listing (test/helpers/pgDump.ts).
 */
function dumpSchema(db: TestDatabase): Promise<string> {
  return schemaSnapshot(db.url, { excludeTables: 'pgmigrations_meta' });
}

test('plain node-pg-migrate and the runner build the same schema, up, down to base and up again; roles are cleaned up', async () => {
  const plain = await newDatabase('compat_plain');
  expectOk(await runNodePgMigrate(['up', '-m', MIGRATIONS], { env: env(plain) }), 'node-pg-migrate up');
  const builtByPlain = await dumpSchema(plain);
  expect(await ourRoles()).toEqual([`${PREFIX}_admin`, `${PREFIX}_alice`, `${PREFIX}_bob1`, `${PREFIX}_bob2`]);
  expectOk(await runNodePgMigrate(['down', '0', '-m', MIGRATIONS], { env: env(plain) }), 'node-pg-migrate down 0');
  const baseByPlain = await dumpSchema(plain);
  expect(await ourRoles()).toEqual([]);

  const runner = await newDatabase('compat_runner');
  const migrate = (...args: string[]) => runCli([...args, '--dir', MIGRATIONS, '--log-level', 'warn'], { env: env(runner) });
  expectOk(await migrate('auto'), 'migrate auto');
  expect(await dumpSchema(runner)).toBe(builtByPlain);
  for (const command of ['status', 'check', 'history']) expectOk(await migrate(command), `migrate ${command}`);

  expectOk(await migrate('down', 'base'), 'migrate down base');
  expect(await dumpSchema(runner)).toBe(baseByPlain);
  expect(await ourRoles()).toEqual([]);
  const fresh = await migrate('status', '--json');
  expect(JSON.parse(fresh.stdout)).toMatchObject({ state: 'fresh', applied: [] });

  expectOk(await migrate('up'), 'migrate up (again)');
  expect(await dumpSchema(runner)).toBe(builtByPlain);
  const current = await migrate('status', '--json');
  expect(JSON.parse(current.stdout)).toMatchObject({ state: 'current', pending: [] });

  expectOk(await migrate('down', 'base'), 'migrate down base (again)');
  expect(await ourRoles()).toEqual([]);
});
