/**
 * Read-only means read-only (RELIABILITY.md): replaying migrations to compute
 * fingerprints runs migration code, and a migration's CREATE ROLE, ALTER ROLE
 * or ALTER DATABASE reaches past its database to the whole server. So
 * replays run on a scratch server, never on the target's unless chosen
 * (`--scratch target`); `current`, `pending`, `history`, `info` and `sql`
 * replay nothing at all; a failure inside a replay is said as such; scratch
 * databases go on SIGINT/SIGTERM and a killed run's go at the next replay.
 *
 * The target ("the user's server") is an embedded cluster this file starts,
 * so the default scratch server (another embedded cluster, of its major) is
 * never the target's, wherever the test server is.
 */
import { cp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import pg from 'pg';
import { startEmbeddedCluster, type EmbeddedCluster } from '../../src/embedded/index.js';
import { cleanEnv, PROJECT_ROOT } from '../helpers/processes.js';
import { sqlMigration } from '../helpers/migrationsFolder.js';
import { cleanupTemp, expectOneLineError, migrate, migrationsDir, spawnCli, tempDir, until, type CliResult } from './support.js';

let server: EmbeddedCluster;
let counter = 0;

beforeAll(async () => {
  server = await startEmbeddedCluster();
});
afterAll(async () => {
  await server?.stop();
  await cleanupTemp();
});

async function onServer<R extends pg.QueryResultRow>(database: string, text: string, params?: unknown[]): Promise<R[]> {
  const client = new pg.Client({ connectionString: server.url(database) });
  await client.connect();
  try {
    return (await client.query<R>(text, params)).rows;
  } finally {
    await client.end();
  }
}

/** A database on the target's server, with a name of its own. */
async function newDatabase(prefix: string): Promise<string> {
  const name = `${prefix}_${process.pid}_${++counter}`;
  await onServer('postgres', `CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  return name;
}

/** The CLI against `database` on the target's server; replays go where the settings say (default: embedded). */
function run(database: string, args: string[], extra: Record<string, string | undefined> = {}): Promise<CliResult> {
  return migrate(args, { env: cleanEnv({ DATABASE_URL: server.url(database), MIGRATE_SCRATCH_URL: undefined, ...extra }) });
}

const scratchDatabases = async () =>
  (await onServer<{ datname: string }>('postgres', `SELECT datname FROM pg_database WHERE datname LIKE 'migrate\\_scratch\\_%'`)).map((r) => r.datname);

test('status on a legacy database without a manifest does not run ALTER DATABASE … SET of a migration on the real server; the failed replay is said as such', async () => {
  const app = await newDatabase('settings_app');
  const dir = await migrationsDir({
    '0001_tables.sql': sqlMigration('CREATE TABLE t (id int);', 'DROP TABLE t;'),
    // Written for this application's database, by name, as such migrations are.
    '0002_settings.sql': sqlMigration(`ALTER DATABASE ${pg.escapeIdentifier(app)} SET work_mem = '7MB';`, `ALTER DATABASE ${pg.escapeIdentifier(app)} RESET work_mem;`),
  });
  await onServer(app, 'CREATE TABLE t (id int)');

  const status = await run(app, ['status', '--json', '--dir', dir]);
  expect(status.code).toBe(0);
  const doc = JSON.parse(status.stdout);
  expect(doc.state).toBe('legacy');
  expect(doc.findings).toEqual([
    {
      kind: 'missing-fingerprints',
      reason: expect.stringMatching(/none could be computed \(while computing fingerprints in a scratch database: migration 0002_settings \(up\) failed: database ".*" does not exist/),
    },
  ]);
  expect(await onServer(app, `SELECT setconfig FROM pg_db_role_setting WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = $1)`, [app])).toEqual([]);

  // snapshot says the same, and exits 1: the migrations need fixing, the target failed nothing.
  const snapshot = await run(app, ['snapshot', '--dir', dir]);
  expect(snapshot.code).toBe(1);
  expectOneLineError(snapshot, /^migrate: error: while computing fingerprints in a scratch database: migration 0002_settings \(up\) failed/);
  expect(await onServer(app, `SELECT setconfig FROM pg_db_role_setting WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = $1)`, [app])).toEqual([]);
});

test('a CREATE ROLE migration does not make status exit 1: the role the real server has is not created again there', async () => {
  const app = await newDatabase('role_app');
  const role = `app_reader_${process.pid}_${counter}`;
  const dir = await migrationsDir({
    '0001_reader.sql': sqlMigration(`CREATE ROLE ${role} NOLOGIN;\nCREATE TABLE t (id int);`, `DROP TABLE t;\nDROP ROLE ${role};`),
    '0002_more.sql': sqlMigration('CREATE TABLE u (id int);', 'DROP TABLE u;'),
  });
  // The migration ran here once; the history was lost (legacy).
  await onServer(app, `CREATE ROLE ${role} NOLOGIN`);
  await onServer(app, 'CREATE TABLE t (id int)');
  try {
    const status = await run(app, ['status', '--json', '--dir', dir]);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ state: 'legacy', plan: { action: 'stamp-then-apply', stampTo: '0001_reader', apply: ['0002_more'] } });
    expect(status.stderr).toMatch(/started an embedded PostgreSQL \d+[.\d]* cluster for the replay/);
    const check = await run(app, ['check', '--dir', dir]);
    expect(check.code).toBe(1); // legacy: work to do, not a failed migration
    expect(check.stdout).toMatch(/not ok: legacy/);
  } finally {
    await onServer('postgres', `DROP ROLE IF EXISTS ${role}`);
  }
});

test('verify does not turn an existing LOGIN role into NOLOGIN on the real server', async () => {
  const app = await newDatabase('verify_app');
  const role = `app_login_${process.pid}_${counter}`;
  const dir = await migrationsDir({
    '0001_role.sql': sqlMigration(`DROP ROLE IF EXISTS ${role};\nCREATE ROLE ${role} NOLOGIN;`, `DROP ROLE IF EXISTS ${role};`),
    '0002_table.sql': sqlMigration('CREATE TABLE t (id int);', 'DROP TABLE t;'),
  });
  await onServer('postgres', `CREATE ROLE ${role} LOGIN`);
  try {
    const verify = await run(app, ['verify', '--dir', dir]);
    expect(verify.stdout).toMatch(/^ok {3}up again 0002_table$/m);
    expect(verify.code).toBe(1); // no manifest committed: verify says so
    expect(verify.stdout).toMatch(/manifest: missing/);
    expect(await onServer('postgres', 'SELECT rolcanlogin FROM pg_roles WHERE rolname = $1', [role])).toEqual([{ rolcanlogin: true }]);
  } finally {
    await onServer('postgres', `DROP ROLE IF EXISTS ${role}`);
  }
});

test('current, pending, history, info and sql on a legacy database without a manifest replay nothing', async () => {
  const app = await newDatabase('names_app');
  const dir = await migrationsDir({ '0001_t.sql': sqlMigration('CREATE TABLE t (id int);', 'DROP TABLE t;') });
  await onServer(app, 'CREATE TABLE t (id int)');
  for (const command of [['current'], ['pending'], ['history'], ['info'], ['sql']]) {
    const r = await run(app, [...command, '--dir', dir, '--log-level', 'debug']);
    expect([command[0], r.code === 0 || (command[0] === 'sql' && r.code === 3)]).toEqual([command[0], true]);
    expect(r.stderr).not.toMatch(/scratch|computing fingerprints|embedded PostgreSQL/);
  }
  const info = await run(app, ['info', '--dir', dir]);
  expect(info.stdout).toMatch(/^scratch: +embedded \(default\)$/m);
});

test('without any scratch server (the package absent, no URL), auto on a legacy database refuses with exit 3 and the command that fixes it, changing nothing', async () => {
  // The command as a production image without dev dependencies has it: dist/ and package.json, no embedded package.
  const bare = await tempDir();
  await cp(join(PROJECT_ROOT, 'dist'), join(bare, 'dist'), { recursive: true });
  await cp(join(PROJECT_ROOT, 'package.json'), join(bare, 'package.json'));
  const app = await newDatabase('bare_app');
  const dir = await migrationsDir({ '0001_t.sql': sqlMigration('CREATE TABLE t (id int);', 'DROP TABLE t;') });
  await onServer(app, 'CREATE TABLE t (id int)');
  const env = cleanEnv({ DATABASE_URL: server.url(app), MIGRATE_SCRATCH_URL: undefined });
  const auto = await migrateWith(join(bare, 'dist', 'cli.js'), ['auto', '--dir', dir], env, bare);
  expect(auto.code).toBe(3);
  const line = auto.stderr.split('\n').find((l) => l.startsWith('migrate: error:'))!;
  expect(line).toMatch(/legacy database \(table t\) and no schema fingerprints recorded for these migrations, and none could be computed \(no scratch server for the replay: the embedded PostgreSQL package .* is not installed/);
  expect(line).toMatch(/migrate snapshot \(then commit the manifest\)/);
  expect(await onServer(app, `SELECT to_regclass('public.pgmigrations') AS t`)).toEqual([{ t: null }]);
});

// A migration added since the snapshot, in a production image: the revisions the manifest still records
// as the files are decide, where a replay cannot be had; the message said no fingerprints were recorded.
test('without any scratch server, a legacy database is matched against the revisions a stale manifest still records', async () => {
  const bare = await tempDir();
  await cp(join(PROJECT_ROOT, 'dist'), join(bare, 'dist'), { recursive: true });
  await cp(join(PROJECT_ROOT, 'package.json'), join(bare, 'package.json'));
  const dir = await migrationsDir({
    '0001_t.sql': sqlMigration('CREATE TABLE t (id int);', 'DROP TABLE t;'),
    '0002_u.sql': sqlMigration('CREATE TABLE u (id int);', 'DROP TABLE u;'),
  });
  const snapshot = await run(await newDatabase('stale_snap'), ['snapshot', '--dir', dir]);
  expect(snapshot.code).toBe(0);
  await writeFile(join(dir, '0003_v.sql'), sqlMigration('CREATE TABLE v (id int);', 'DROP TABLE v;'));
  const env = (app: string) => cleanEnv({ DATABASE_URL: server.url(app), MIGRATE_SCRATCH_URL: undefined });

  // At 0001_t: 0002_u is recorded, and the schema is not at it, so it is at 0001_t.
  const atFirst = await newDatabase('stale_first');
  await onServer(atFirst, 'CREATE TABLE t (id int)');
  const auto = await migrateWith(join(bare, 'dist', 'cli.js'), ['auto', '--dir', dir], env(atFirst), bare);
  expect({ code: auto.code, errors: auto.errorLines }).toEqual({ code: 0, errors: [] });
  expect((await onServer<{ name: string }>(atFirst, 'SELECT name FROM pgmigrations ORDER BY id')).map((r) => r.name)).toEqual(['0001_t', '0002_u', '0003_v']);

  // At 0002_u, the last one recorded: it may be at 0003_v, which the manifest does not record.
  const atLast = await newDatabase('stale_last');
  await onServer(atLast, 'CREATE TABLE t (id int); CREATE TABLE u (id int)');
  const refused = await migrateWith(join(bare, 'dist', 'cli.js'), ['auto', '--dir', dir], env(atLast), bare);
  expect(refused.code).toBe(3);
  expect(refused.errorLines).toEqual([
    expect.stringMatching(/legacy database \(table t, table u\) matches 0002_u, the last revision recorded, and may be at a later one: the committed manifest is stale \(no fingerprint for 0003_v\): it records the revisions through 0002_u as the files are now; for the rest, none could be computed \(no scratch server/),
  ]);
  expect(await onServer(atLast, `SELECT to_regclass('public.pgmigrations') AS t`)).toEqual([{ t: null }]);

  // Stale only by a file gone since (0003_v was snapshotted, then deleted): the revisions it records cover every
  // file there is, and a schema at the last of them is at head.
  const snapshotAll = await run(await newDatabase('stale_snap_all'), ['snapshot', '--dir', dir]);
  expect(snapshotAll.code).toBe(0);
  await rm(join(dir, '0003_v.sql'));
  const atHead = await newDatabase('stale_head');
  await onServer(atHead, 'CREATE TABLE t (id int); CREATE TABLE u (id int)');
  const stamped = await migrateWith(join(bare, 'dist', 'cli.js'), ['auto', '--dir', dir], env(atHead), bare);
  expect({ code: stamped.code, errors: stamped.errorLines }).toEqual({ code: 0, errors: [] });
  expect((await onServer<{ name: string }>(atHead, 'SELECT name FROM pgmigrations ORDER BY id')).map((r) => r.name)).toEqual(['0001_t', '0002_u']);
});

test('a killed run\'s scratch databases are dropped by the next replay; a recent one is left alone', async () => {
  const app = await newDatabase('stale_app');
  const dir = await migrationsDir({ '0001_t.sql': sqlMigration('CREATE TABLE t (id int);', 'DROP TABLE t;') });
  await onServer(app, 'CREATE TABLE t (id int)');
  const now = Math.floor(Date.now() / 1000);
  const stale = `migrate_scratch_${now - 3600}_0badc0de`;
  const recent = `migrate_scratch_${now}_0fedcba9`;
  for (const name of [stale, recent]) await onServer('postgres', `CREATE DATABASE ${name}`);
  try {
    // A server kept for throwaway databases: this one.
    const status = await run(app, ['status', '--json', '--dir', dir], { MIGRATE_SCRATCH_URL: server.url() });
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout).plan).toMatchObject({ action: 'stamp', stampTo: '0001_t' });
    expect(status.stderr).toMatch(new RegExp(`dropped scratch database ${stale}, left by a run that was killed`));
    expect(await scratchDatabases()).toEqual([recent]);
  } finally {
    await onServer('postgres', `DROP DATABASE IF EXISTS ${recent}`);
  }
});

describe('a signal during a replay', () => {
  const sleepy = { '0001_sleep.sql': sqlMigration('CREATE TABLE t (id int);\nSELECT pg_sleep(60);', 'DROP TABLE t;') };
  /** SIGTERM once a scratch database's session sleeps in a migration; what the run then ends with. */
  const termWhileSleeping = async (running: ReturnType<typeof spawnCli>): Promise<CliResult> => {
    const sleeping = () =>
      onServer('postgres', `SELECT 1 FROM pg_stat_activity WHERE datname LIKE 'migrate\\_scratch\\_%' AND query LIKE '%pg_sleep%'`).then((r) => r.length > 0);
    expect(await until(sleeping, 30_000)).toBe(true);
    running.child.kill('SIGTERM');
    return running.done;
  };

  test('SIGTERM drops the scratch database on a scratch server kept for them, and exits 143', async () => {
    const app = await newDatabase('sigterm_app');
    const dir = await migrationsDir(sleepy);
    const env = cleanEnv({ DATABASE_URL: server.url(app), MIGRATE_SCRATCH_URL: server.url() });
    const r = await termWhileSleeping(spawnCli(['snapshot', '--dir', dir], { env }));
    expect([r.code, r.signal]).toEqual([143, null]);
    expect(await scratchDatabases()).toEqual([]);
  });

  test('SIGTERM while verify --against-manifest compares the downs with the manifest stops it there: no second replay, exit 143', async () => {
    const app = await newDatabase('sigterm_verify');
    // The ups are quick, so snapshot writes the manifest; the down sleeps, in verify's first replay.
    const dir = await migrationsDir({ '0001_sleep.sql': sqlMigration('CREATE TABLE t (id int);', 'DROP TABLE t;\nSELECT pg_sleep(60);') });
    expect((await run(app, ['snapshot', '--dir', dir], { MIGRATE_SCRATCH_URL: server.url() })).code).toBe(0);
    const env = cleanEnv({ DATABASE_URL: server.url(app), MIGRATE_SCRATCH_URL: server.url(), LOG_LEVEL: 'info' });
    const r = await termWhileSleeping(spawnCli(['verify', '--against-manifest', '--dir', dir], { env }));
    expect([r.code, r.signal]).toEqual([143, null]);
    expect(r.stderr).not.toMatch(/replaying again/);
    expect(await scratchDatabases()).toEqual([]);
  });

  test('SIGINT stops the embedded scratch cluster and removes its folder, and exits 130', async () => {
    const app = await newDatabase('sigint_app');
    const dir = await migrationsDir(sleepy);
    const running = spawnCli(['snapshot', '--dir', dir], { env: cleanEnv({ DATABASE_URL: server.url(app), MIGRATE_SCRATCH_URL: undefined }) });
    /** The scratch cluster's folder (its marker names the runner as owner), postmaster and port (its log's name). */
    const clusterOf = async () => {
      for (const name of (await readdir(tmpdir())).filter((n) => n.startsWith('migrate-embedded-'))) {
        const folder = join(tmpdir(), name);
        const marker = await readFile(join(folder, 'owner.json'), 'utf8').catch(() => '{}');
        const { ownerPid, postmasterPid } = JSON.parse(marker) as { ownerPid?: number; postmasterPid?: number };
        const log = (await readdir(folder).catch(() => [])).find((f) => /^postgres-\d+\.log$/.test(f));
        if (ownerPid === running.child.pid && postmasterPid && log) return { folder, postmasterPid, port: Number(/\d+/.exec(log)![0]) };
      }
      return null;
    };
    let cluster: { folder: string; postmasterPid: number; port: number } | null = null;
    expect(await until(async () => (cluster = await clusterOf()) !== null, 30_000)).toBe(true);
    const { folder, postmasterPid, port } = cluster!;
    const sleeping = async () => {
      const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
      try {
        await client.connect();
        return (await client.query(`SELECT 1 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()`)).rows.length > 0;
      } catch {
        return false;
      } finally {
        await client.end().catch(() => undefined);
      }
    };
    expect(await until(sleeping, 30_000, 100)).toBe(true);
    running.child.kill('SIGINT');
    const r = await running.done;
    expect([r.code, r.signal]).toEqual([130, null]);
    expect(await until(async () => !isAlive(postmasterPid), 10_000)).toBe(true);
    expect(await readdir(folder).catch(() => null)).toBeNull();
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The CLI at another path (a copy of dist/), as support.ts's migrate runs dist/cli.js. */
async function migrateWith(cli: string, args: string[], env: Record<string, string | undefined>, cwd: string): Promise<CliResult> {
  const { runProcess } = await import('../helpers/processes.js');
  const r = await runProcess(process.execPath, [cli, ...args], { env, cwd });
  return { ...r, ms: 0, errorLines: r.stderr.split('\n').filter((l) => l.startsWith('migrate:')), logs: [] };
}
