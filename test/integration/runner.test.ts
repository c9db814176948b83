/**
 * The acting commands through the CLI as a process, on real PostgreSQL
 * (docs/CONTRACT.md "Commands", README "How it behaves").
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { ABC, createMigrationsFolder, sqlMigration, type MigrationsFolder } from '../helpers/migrationsFolder.js';
import { schemaSnapshot } from '../helpers/pgDump.js';
import { CLI_PATH, cleanEnv, runCli, runNodePgMigrate, runProcess, testWithPsql } from '../helpers/processes.js';

let db: TestDatabase;
let folder: MigrationsFolder;

beforeEach(async () => {
  db = await createTestDatabase('run');
  folder = await createMigrationsFolder(ABC);
});
afterEach(async () => {
  await db.drop();
  await folder.dispose();
});

const env = (extra: Record<string, string> = {}) => cleanEnv({ DATABASE_URL: db.url, ...extra });
const migrate = (...args: string[]) => runCli([...args, '--dir', folder.dir], { env: env() });
const history = async () => (await db.query<{ name: string }>('SELECT name FROM pgmigrations ORDER BY run_on, id')).map((r) => r.name);
const schemaDump = () => schemaSnapshot(db.url);
/** Advisory locks in this test's database (pg_locks shows every database's). */
const advisoryLocks = (granted = false) =>
  db.query(
    `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' ${granted ? 'AND granted ' : ''}` +
      `AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  );
/** A session of the test's own holding the migration lock (node-pg-migrate's key), as another runner would. */
const holdMigrationLock = async () => {
  const holder = new pg.Client({ connectionString: db.url });
  await holder.connect();
  await holder.query('SELECT pg_advisory_lock(7241865325823964)');
  return holder;
};
const tables = async () =>
  (await db.query<{ t: string }>(`SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)).map((r) => r.t);

// docs/CONTRACT.md "Commands": with no command, `auto`, with options or without.
describe('no command', () => {
  test.each([
    ['nothing at all', [], { MIGRATIONS_DIR: 'FOLDER' }],
    ['only options', ['--dir', 'FOLDER', '--json'], {}],
    ['an option of auto', ['--dir', 'FOLDER', '--baseline', '0001_a', '--json'], {}],
  ])('%s runs auto', async (_title, args, extraEnv) => {
    const withFolder = (v: string) => v.replace('FOLDER', folder.dir);
    const r = await runCli(args.map(withFolder), {
      env: env(Object.fromEntries(Object.entries(extraEnv).map(([k, v]) => [k, withFolder(v)]))),
    });
    expect(r.code).toBe(0);
    expect(await history()).toEqual(['0001_a', '0002_b', '0003_c']);
    if ((args as string[]).includes('--json')) expect(JSON.parse(r.stdout)).toMatchObject({ command: 'auto', after: { state: 'current' } });
  });

  test('a first word that is not a command is still an unknown command, and --help is the program\'s', async () => {
    const unknown = await runCli(['--dir', folder.dir, 'statuz'], { env: env() });
    expect([unknown.code, unknown.stderr.trim()]).toEqual([2, "migrate: error: unknown command 'statuz' (Did you mean status?)"]);
    const help = await runCli(['--dir', folder.dir, '--help'], { env: env() });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: migrate \[options\] \[command\]/);
    expect(await tables()).toEqual([]);
  });
});

describe('auto', () => {
  test('on a fresh database builds head and records every migration; run again it does nothing', async () => {
    const first = await migrate('auto', '--json');
    expect(first.code).toBe(0);
    const report = JSON.parse(first.stdout);
    expect(report).toMatchObject({
      command: 'auto',
      before: { state: 'fresh' },
      plan: { action: 'apply', apply: ['0001_a', '0002_b', '0003_c'] },
      after: { state: 'current', current: '0003_c' },
    });
    expect(report.migrations.map((m: { name: string; status: string }) => `${m.name}:${m.status}`)).toEqual([
      '0001_a:applied', '0002_b:applied', '0003_c:applied',
    ]);
    expect(report.migrations.every((m: { durationMs: number }) => Number.isInteger(m.durationMs))).toBe(true);
    expect(await history()).toEqual(['0001_a', '0002_b', '0003_c']);
    const meta = await db.query<{ name: string; checksum: string; applied_by: string }>('SELECT name, checksum, applied_by FROM pgmigrations_meta ORDER BY name');
    expect(meta.map((m) => m.name)).toEqual(['0001_a', '0002_b', '0003_c']);
    expect(meta.every((m) => /^[0-9a-f]{64}$/.test(m.checksum) && /^migrate /.test(m.applied_by))).toBe(true);
    const { migrations } = JSON.parse((await migrate('history', '--json')).stdout);
    expect(migrations).toHaveLength(3);
    for (const m of migrations) {
      expect(m).toMatchObject({ status: 'applied', checksum: 'ok', appliedAt: expect.stringMatching(/^\d{4}-/), appliedBy: expect.stringMatching(/^migrate /) });
      expect(Number.isInteger(m.durationMs)).toBe(true);
    }

    const again = await migrate('auto', '--json');
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ plan: { action: 'none' }, migrations: [] });
    expect(await history()).toEqual(['0001_a', '0002_b', '0003_c']);
  });

  test('the example migrations build, revert to base and build again', async () => {
    const examples = await createMigrationsFolder();
    try {
      const run = (...args: string[]) => runCli([...args, '--dir', examples.dir], { env: env() });
      expect((await run('auto')).code).toBe(0);
      await db.query(`INSERT INTO users (email, display_name) VALUES ('ada@example.com', 'ada')`);
      expect((await run('down', 'base')).code).toBe(0);
      expect(await tables()).toEqual(['pgmigrations', 'pgmigrations_meta']);
      expect((await run('auto')).code).toBe(0);
      expect(await tables()).toEqual(['orders', 'pgmigrations', 'pgmigrations_meta', 'users']);
    } finally {
      await examples.dispose();
    }
  });

  test('a batch whose third migration fails exits 1 and leaves schema and history as they were', async () => {
    expect((await migrate('up', '+1')).code).toBe(0);
    await folder.write('0004_d.sql', 'CREATE TABLE d (id int);');
    await folder.write('0005_broken.sql', 'CREATE TABLE e (id int);\nALTER TABLE no_such_table ADD COLUMN x int;');
    await folder.write('0006_f.sql', 'CREATE TABLE f (id int);');
    const before = await schemaDump();
    const historyBefore = await history();

    const r = await migrate('auto');
    expect(r.code).toBe(1);
    const errorLine = r.stderr.split('\n').find((l) => l.startsWith('migrate: error:'));
    expect(errorLine).toMatch(/migration 0005_broken \(up\) failed: relation "no_such_table" does not exist/);
    expect(errorLine).toMatch(/0005_broken\.sql/);
    expect(errorLine).toMatch(/ALTER TABLE no_such_table/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(await schemaDump()).toEqual(before);
    expect(await history()).toEqual(historyBefore);

    const json = await migrate('auto', '--json');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout).migrations.map((m: { name: string; status: string }) => `${m.name}:${m.status}`)).toEqual([
      '0002_b:rolled-back', '0003_c:rolled-back', '0004_d:rolled-back', '0005_broken:failed', '0006_f:not-run',
    ]);
  });

  test('SQL migrations that share a round trip but only run one by one still apply, each reported once', async () => {
    // Alone, a file ending in a comment without a newline is fine; glued to the next one it is not.
    await folder.write('0004_d.sql', 'CREATE TABLE d (id int) -- trailing comment, no semicolon');
    await folder.write('0005_e.sql', 'CREATE TABLE e (id int);');
    const r = await migrate('auto', '--json', '--log-level', 'info');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).migrations.map((m: { name: string }) => m.name)).toEqual([
      '0001_a', '0002_b', '0003_c', '0004_d', '0005_e',
    ]);
    const applied = r.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { message: string })
      .filter((l) => l.message.startsWith('applied '));
    expect(applied.map((l) => l.message.split(' ')[1])).toEqual(['0001_a', '0002_b', '0003_c', '0004_d', '0005_e']);
    expect(await history()).toEqual(['0001_a', '0002_b', '0003_c', '0004_d', '0005_e']);
    expect(await tables()).toEqual(expect.arrayContaining(['d', 'e']));
  });

  test('the failing SQL and the error position go to the log', async () => {
    await folder.write('0004_bad.sql', 'CREATE TABLE d (id int);\nSELECT nope FROM a;');
    const r = await migrate('auto', '--log-level', 'info');
    expect(r.code).toBe(1);
    const logged = r.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { message: string });
    const sqlLog = logged.find((l) => l.message.startsWith('failing SQL of 0004_bad.sql'));
    expect(sqlLog?.message).toMatch(/SELECT nope FROM a;\n\s*\^/);
  });

  // A runtime error has no position: the statements the server completed before it say which one it was.
  test('a runtime error in a file of several statements names the line of the one that failed, in a round trip with other migrations', async () => {
    await folder.write('0004_d.sql', 'CREATE TABLE d (id int);');
    await folder.write('0005_fill.sql', '-- Up Migration\nINSERT INTO d VALUES (1);\nINSERT INTO d VALUES (2);\n\n-- the third\nINSERT INTO d\n  VALUES (1/0);\nCREATE TABLE e (id int);\n\n-- Down Migration\nDELETE FROM d;\n');
    const r = await migrate('auto');
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('migrate: error:'))).toEqual([expect.stringMatching(/migration 0005_fill \(up\) failed: division by zero at 0005_fill\.sql:6: INSERT INTO d \(the batch was rolled back/)]);
    expect(await tables()).not.toContain('d');
  });

  test('a runtime error in a JS migration\'s SQL of several statements quotes the one that failed', async () => {
    await folder.write('0004_js.js', 'export async function up(pgm) { pgm.sql("CREATE TABLE d (id int); INSERT INTO d VALUES (1); SELECT 4711/0 FROM d; CREATE TABLE e (id int);"); }\nexport async function down() {}\n');
    const r = await migrate('auto');
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('migrate: error:'))).toEqual([expect.stringMatching(/migration 0004_js \(up\) failed: division by zero in statement: SELECT 4711\/0 FROM d \(0004_js\.js\)/)]);
    expect(await tables()).not.toContain('d');
  });

  test('a failed run leaves no lock and no open transaction behind', async () => {
    await folder.write('0004_bad.sql', 'SELECT 1/0;');
    expect((await migrate('auto')).code).toBe(1);
    const locks = await advisoryLocks();
    const sessions = await db.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`);
    expect([locks.length, sessions.length]).toEqual([0, 0]);
  });

  test('eight runners at once: all exit 0 and every migration, data migrations included, ran once', async () => {
    await folder.write('0004_counter.sql', 'CREATE TABLE runs (n int);');
    await folder.write('0005_count.sql', "INSERT INTO runs VALUES (1);");
    await folder.write('0006_count_js.js', 'export async function up(pgm) { await pgm.db.query("INSERT INTO runs VALUES (2)"); }\nexport async function down() {}\n');
    const results = await Promise.all(Array.from({ length: 8 }, () => migrate('auto')));
    expect(results.map((r) => r.code)).toEqual(Array(8).fill(0));
    expect(await history()).toEqual(['0001_a', '0002_b', '0003_c', '0004_counter', '0005_count', '0006_count_js']);
    expect((await db.query<{ n: number }>('SELECT n FROM runs ORDER BY n')).map((r) => r.n)).toEqual([1, 2]);
  });

  test('a JS migration that queries runs after the SQL before it; a failure there names that SQL migration, even if the JS catches it', async () => {
    await folder.write('0004_bad.sql', 'SELECT 1/0;');
    await folder.write(
      '0005_reads.js',
      'export async function up(pgm) { try { await pgm.db.query("SELECT 1"); } catch {} pgm.sql("SELECT 2"); }\nexport async function down() {}\n',
    );
    const r = await migrate('auto', '--json');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/0004_bad/);
    expect(JSON.parse(r.stdout).migrations.map((m: { name: string; status: string }) => `${m.name}:${m.status}`)).toEqual([
      '0001_a:rolled-back', '0002_b:rolled-back', '0003_c:rolled-back', '0004_bad:failed', '0005_reads:not-run',
    ]);
    expect(await db.query(`SELECT to_regclass('pgmigrations') AS t`)).toEqual([{ t: null }]);
  });

  test('migrations see the globals a plain Node process has (the CLI entry\'s navigator for pg is gone by then)', async () => {
    await folder.write(
      '0004_globals.js',
      'export async function up(pgm) { pgm.sql(`CREATE TABLE seen AS SELECT ${pgm.func(`\'${typeof globalThis.navigator}\'`)}::text AS navigator`); }\nexport async function down() {}\n',
    );
    expect((await migrate('auto')).code).toBe(0);
    const plain = await runProcess(process.execPath, ['-e', 'process.stdout.write(typeof globalThis.navigator)']);
    expect(await db.query('SELECT navigator FROM seen')).toEqual([{ navigator: plain.stdout }]);
  });

  test('a runner that waited while another applied finds the database current and applies nothing', async () => {
    await folder.write('0004_slow.sql', 'SELECT pg_sleep(3);');
    const holder = migrate('auto');
    await waitFor(async () => (await advisoryLocks(true)).length > 0);
    const waiting = migrate('auto', '--json', '--log-level', 'info');
    // It waits on the connection it reads with: the holder's is the only lock session (bench/RESULTS.md, replicas).
    await waitFor(async () => (await advisoryLocks()).length > (await advisoryLocks(true)).length);
    expect(
      await db.query(
        `SELECT a.application_name AS app, l.granted FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
         ORDER BY l.granted`,
      ),
    ).toEqual([{ app: 'migrate', granted: false }, { app: expect.stringMatching(/^migrate lock /), granted: true }]);
    expect(await db.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'migrate lock%'`)).toHaveLength(1);
    const waiter = await waiting;
    expect(waiter.code).toBe(0);
    expect(waiter.stderr).toMatch(/waiting for the migration lock/);
    // It looked holding the lock shared, and never took it to apply anything.
    expect(waiter.stderr).toMatch(/got the migration lock \(shared, to look\)/);
    expect(waiter.stderr).toMatch(/state: current; plan: none \(up to date\)/);
    const report = JSON.parse(waiter.stdout);
    expect([report.before.state, report.plan.action, report.after.state, report.migrations]).toEqual(['current', 'none', 'current', []]);
    expect((await holder).code).toBe(0);
    expect(await history()).toEqual(['0001_a', '0002_b', '0003_c', '0004_slow']);
    expect(await advisoryLocks()).toEqual([]);
  });

  test('runners that wait for a held lock wait for it shared, all at once; those that still have work then take it in turn', async () => {
    await migrate('up', '0001_a');
    const holder = await holdMigrationLock();
    try {
      const runners = Array.from({ length: 3 }, () => migrate('auto', '--json'));
      const sharedWaiters = () =>
        db.query(
          `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND mode = 'ShareLock' AND NOT granted ` +
            `AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        );
      await waitFor(async () => (await sharedWaiters()).length === 3);
      // Let go without changing anything: all three look, see work, and queue for the lock.
      await holder.query('SELECT pg_advisory_unlock(7241865325823964)');
      const results = await Promise.all(runners);
      expect(results.map((r) => r.code)).toEqual([0, 0, 0]);
      const applied = results.map((r) => JSON.parse(r.stdout).migrations.length).sort();
      expect(applied).toEqual([0, 0, 2]);
      expect(await history()).toEqual(['0001_a', '0002_b', '0003_c']);
    } finally {
      await holder.end();
    }
    expect(await advisoryLocks()).toEqual([]);
  });

  test('waiting for the lock on the reading connection leaves its lock_timeout as the server set it', async () => {
    await db.query(`ALTER DATABASE ${pg.escapeIdentifier(db.name)} SET lock_timeout = '7s'`);
    try {
      await folder.write('0004_setting.sql', `CREATE TABLE setting AS SELECT current_setting('lock_timeout') AS lock_timeout;`);
      const holder = await holdMigrationLock();
      const waiting = migrate('auto');
      await waitFor(async () => (await advisoryLocks()).length > 1);
      await holder.end();
      expect((await waiting).code).toBe(0);
      expect(await db.query('SELECT lock_timeout FROM setting')).toEqual([{ lock_timeout: '7s' }]);
    } finally {
      await db.query(`ALTER DATABASE ${pg.escapeIdentifier(db.name)} RESET lock_timeout`);
    }
  });

  test('a runner that cannot get the lock within --lock-timeout exits 5; the holder finishes', async () => {
    await folder.write('0004_slow.sql', 'SELECT pg_sleep(4);');
    const holder = migrate('auto');
    await waitFor(async () => (await advisoryLocks(true)).length > 0);
    const started = Date.now();
    const waiter = await migrate('auto', '--lock-timeout', '1');
    expect(waiter.code).toBe(5);
    expect(Date.now() - started).toBeLessThan(3_900);
    expect(waiter.stderr).toMatch(/another runner held the migration lock for more than 1s \(held by pid \d+ \(migrate lock/);
    expect((await holder).code).toBe(0);
    expect(await history()).toContain('0004_slow');
  });

  test('plain node-pg-migrate and this runner exclude each other with the same lock', async () => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query('SELECT pg_advisory_lock(7241865325823964)');
      const r = await migrate('auto', '--lock-timeout', '1');
      expect(r.code).toBe(5);
      expect(await tables()).toEqual([]);
    } finally {
      await client.end();
    }
  });

  test('editing an applied file makes auto exit 3 naming it; --allow-modified goes on', async () => {
    expect((await migrate('up', '+2')).code).toBe(0);
    await folder.write('0001_a.sql', sqlMigration('CREATE TABLE a (id bigint PRIMARY KEY);', 'DROP TABLE a;'));
    const refused = await migrate('auto');
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/applied migration edited since it ran: 0001_a/);
    expect(await history()).toEqual(['0001_a', '0002_b']);
    expect((await migrate('up')).code).toBe(3);
    expect((await migrate('check')).code).toBe(1);
    expect((await migrate('auto', '--allow-modified')).code).toBe(0);
    expect(await history()).toEqual(['0001_a', '0002_b', '0003_c']);
  });

  test('a line-ending change is not an edit', async () => {
    expect((await migrate('auto')).code).toBe(0);
    const path = `${folder.dir}/0001_a.sql`;
    await folder.write('0001_a.sql', (await readFile(path, 'utf8')).replace(/\n/g, '\r\n'));
    expect((await migrate('check')).code).toBe(0);
  });

  test('rows applied by plain node-pg-migrate are adopted: their checksums recorded on the next run', async () => {
    expect((await runNodePgMigrate(['up', '2', '-m', folder.dir], { env: env() })).code).toBe(0);
    expect((await migrate('auto')).code).toBe(0);
    const meta = await db.query<{ name: string; checksum: string | null }>('SELECT name, checksum FROM pgmigrations_meta ORDER BY name');
    expect(meta.map((m) => [m.name, m.checksum !== null])).toEqual([['0001_a', true], ['0002_b', true], ['0003_c', true]]);
    await folder.write('0002_b.sql', 'CREATE TABLE b (id int);');
    expect((await migrate('auto')).code).toBe(3);
  });

  test('plain node-pg-migrate keeps working on a database this runner manages', async () => {
    expect((await migrate('up', '+2')).code).toBe(0);
    expect((await runNodePgMigrate(['up', '-m', folder.dir], { env: env() })).code).toBe(0);
    expect((await runNodePgMigrate(['down', '1', '-m', folder.dir], { env: env() })).code).toBe(0);
    expect(await history()).toEqual(['0001_a', '0002_b']);
    const status = JSON.parse((await migrate('status', '--json')).stdout);
    expect(status).toMatchObject({ state: 'behind', pending: ['0003_c'] });
  });

  // Two plain node-pg-migrate runs with --no-lock at once record a migration twice; node-pg-migrate then refuses
  // to run ("Not run migration … is preceding already run migration …"), and status said all was well.
  test('a history naming a migration twice: status says so with the stamp that clears it, after which plain node-pg-migrate runs', async () => {
    expect((await migrate('auto')).code).toBe(0);
    await db.query(`INSERT INTO pgmigrations (name, run_on) VALUES ('0002_b', now())`);
    await folder.write('0004_d.sql', sqlMigration('CREATE TABLE d (id int);', 'DROP TABLE d;'));
    const status = JSON.parse((await migrate('status', '--json')).stdout);
    expect(status).toMatchObject({ state: 'behind', findings: [{ kind: 'duplicate-history', names: ['0002_b'], settle: 'migrate stamp 0003_c' }] });
    expect((await migrate('status')).stdout).toMatch(/finding: {2}duplicate-history: the history names 0002_b more than once, which plain node-pg-migrate refuses to run on; migrate stamp 0003_c writes each name once/);
    expect((await runNodePgMigrate(['up', '--dry-run', '-m', folder.dir], { env: env() })).code).not.toBe(0);
    expect((await migrate('stamp', '0003_c')).code).toBe(0);
    expect(await history()).toEqual(['0001_a', '0002_b', '0003_c']);
    expect(JSON.parse((await migrate('status', '--json')).stdout).findings).toEqual([]);
    expect((await runNodePgMigrate(['up', '--dry-run', '-m', folder.dir], { env: env() })).code).toBe(0);
  });

  // Adoption wrote each row's checksum once per history row: a name held twice failed the whole run with
  // "ON CONFLICT DO UPDATE command cannot affect row a second time".
  test('a history that plain node-pg-migrate wrote naming a migration twice: the next run records each checksum once and applies what is pending', async () => {
    expect((await runNodePgMigrate(['up', '2', '-m', folder.dir], { env: env() })).code).toBe(0);
    await db.query(`INSERT INTO pgmigrations (name, run_on) VALUES ('0002_b', now())`);
    const run = await migrate('auto');
    expect(run.stderr).not.toMatch(/migrate: error/);
    expect(run.code).toBe(0);
    expect(await history()).toEqual(['0001_a', '0002_b', '0002_b', '0003_c']);
    const meta = await db.query<{ name: string; checksum: string | null }>('SELECT name, checksum FROM pgmigrations_meta ORDER BY name');
    expect(meta.map((m) => [m.name, m.checksum !== null])).toEqual([['0001_a', true], ['0002_b', true], ['0003_c', true]]);
    expect(JSON.parse((await migrate('status', '--json')).stdout).findings).toEqual([{ kind: 'duplicate-history', names: ['0002_b'], settle: 'migrate stamp 0003_c' }]);
  });

  test('a manifest written for another schema is reported stale, and no drift is looked for against it', async () => {
    expect((await migrate('snapshot')).code).toBe(0);
    await db.query('CREATE SCHEMA app');
    expect((await migrate('auto', '--schema', 'app')).code).toBe(0);
    const check = JSON.parse((await migrate('check', '--json', '--schema', 'app')).stdout);
    expect(check).toMatchObject({ ok: true, state: 'current', findings: [], manifestStaleness: 'it was written for schema public, not app' });
  });

  test('diverged: auto refuses with exit 3 and prints the stamp command that settles it', async () => {
    expect((await migrate('auto')).code).toBe(0);
    await folder.remove('0003_c.sql');
    const r = await migrate('auto');
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/applied but not on disk: 0003_c/);
    expect(r.stderr).toMatch(/migrate stamp 0002_b/);
    expect((await migrate('up')).code).toBe(3);
    expect((await migrate('stamp', '0002_b')).code).toBe(0);
    expect((await migrate('check')).code).toBe(0);
  });

  // `stamp 0001_a` would drop 0002's row, and the next auto would run the seed again under its new name.
  test('diverged by a renamed data migration: the printed command records it under its new name, and it does not run twice', async () => {
    await folder.write('0002_seed.sql', sqlMigration('INSERT INTO a VALUES (1);', 'DELETE FROM a WHERE id = 1;'));
    await folder.remove('0002_b.sql');
    await folder.remove('0003_c.sql');
    expect((await migrate('auto')).code).toBe(0);
    await folder.write('0002_seed_rows.sql', await readFile(join(folder.dir, '0002_seed.sql'), 'utf8'));
    await folder.remove('0002_seed.sql');
    const r = await migrate('auto');
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/applied but not on disk: 0002_seed; renamed, the same content: 0002_seed → 0002_seed_rows\) \(to settle it: migrate stamp 0002_seed_rows, which records 0002_seed_rows as applied under the new name\)/);
    expect((await migrate('stamp', '0002_seed_rows')).code).toBe(0);
    expect((await migrate('auto')).code).toBe(0);
    expect(await history()).toEqual(['0001_a', '0002_seed_rows']);
    expect(await db.query('SELECT id FROM a')).toEqual([{ id: 1 }]);
  });

  test('legacy: matching no revision, refused; --baseline stamps it and applies the rest', async () => {
    await db.query('CREATE TABLE a (id int PRIMARY KEY, note text)');
    const refused = await migrate('auto');
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/nearest is 0001_a, which differs: column "a"\."note" is extra in the database/);
    expect(await tables()).toEqual(['a']);
    const r = await migrate('auto', '--baseline', '0001_a', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ plan: { action: 'stamp-then-apply', stampTo: '0001_a', apply: ['0002_b', '0003_c'] }, stamped: '0001_a' });
    expect(await history()).toEqual(['0001_a', '0002_b', '0003_c']);
    expect((await migrate('auto', '--baseline', 'no_such_rev')).code).toBe(0); // current: the baseline is not consulted
  });

  test('legacy: matched by fingerprint, auto stamps it and applies the rest', async () => {
    await db.query('CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a)');
    const r = await migrate('auto', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ before: { state: 'legacy' }, plan: { action: 'stamp-then-apply', stampTo: '0002_b', apply: ['0003_c'] } });
    expect(await history()).toEqual(['0001_a', '0002_b', '0003_c']);
  });

  test('a database stamped back to legacy while a runner waited: fingerprints are computed with the lock let go, then it reconciles', async () => {
    await migrate('up', '0002_b');
    const holder = await holdMigrationLock();
    try {
      const waiter = migrate('auto', '--json', '--log-level', 'info');
      await waitFor(async () => (await advisoryLocks()).length > (await advisoryLocks(true)).length);
      // As `stamp base` by someone else would: the tables stay, the history goes.
      await holder.query('DELETE FROM pgmigrations; DELETE FROM pgmigrations_meta');
      await holder.query('SELECT pg_advisory_unlock(7241865325823964)');
      const r = await waiter;
      expect(r.code).toBe(0);
      const lines = r.stderr.split('\n');
      const letGo = lines.findIndex((l) => /became legacy while this run waited for the lock; computing fingerprints without holding it/.test(l));
      const replay = lines.findIndex((l) => /computing fingerprints by replaying the migrations/.test(l));
      const relocked = lines.findLastIndex((l) => /got the migration lock|waiting for the migration lock/.test(l));
      expect(letGo).toBeGreaterThan(-1);
      expect(replay).toBeGreaterThan(letGo);
      // Exactly one replay, and none while the lock was held the first time.
      expect(lines.filter((l) => /computing fingerprints by replaying/.test(l))).toHaveLength(1);
      expect(relocked === -1 || relocked < letGo).toBe(true);
      expect(JSON.parse(r.stdout)).toMatchObject({ before: { state: 'legacy' }, plan: { action: 'stamp-then-apply', stampTo: '0002_b', apply: ['0003_c'] } });
      expect(await history()).toEqual(['0001_a', '0002_b', '0003_c']);
    } finally {
      await holder.end();
    }
    expect(await advisoryLocks()).toEqual([]);
  });

  test('stamp base on built tables reports legacy without replaying the migrations under the lock', async () => {
    expect((await migrate('auto')).code).toBe(0);
    const r = await migrate('stamp', 'base', '--json', '--log-level', 'info');
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/scratch database|computing fingerprints/);
    const report = JSON.parse(r.stdout);
    expect(report.after).toMatchObject({ state: 'legacy', current: null, findings: [{ kind: 'missing-fingerprints' }] });
    expect(await history()).toEqual([]);
    // The next auto does the replay, without any lock held, and reconciles.
    const next = await migrate('auto', '--json');
    expect(next.code).toBe(0);
    expect(JSON.parse(next.stdout)).toMatchObject({ before: { state: 'legacy' }, plan: { action: 'stamp', stampTo: '0003_c' } });
  });

  test('legacy: an unknown baseline is exit 2', async () => {
    await db.query('CREATE TABLE a (id int PRIMARY KEY)');
    const r = await migrate('auto', '--baseline', '0042_nope');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown revision "0042_nope"/);
  });

  /** `auto --ddl-lock-timeout 100` while another session holds table a (ACCESS SHARE, which ALTER TABLE waits for). */
  const autoWhileALocked = async () => {
    const blocker = new pg.Client({ connectionString: db.url });
    await blocker.connect();
    try {
      await blocker.query('BEGIN; LOCK TABLE a IN ACCESS SHARE MODE');
      return await runCli(['auto', '--dir', folder.dir, '--ddl-lock-timeout', '100'], { env: env() });
    } finally {
      await blocker.end();
    }
  };

  test('a lock_timeout that trips is retried, then fails with exit 1 naming the table', async () => {
    expect((await migrate('up', '+1')).code).toBe(0);
    await folder.write('0004_alter.sql', 'ALTER TABLE a ADD COLUMN note text;');
    const r = await autoWhileALocked();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/could not lock table a within 100 ms \(4 attempts\)/);
    expect(r.stderr.match(/retrying the batch/g)).toHaveLength(3);
    expect(await history()).toEqual(['0001_a']);
    // Once the blocker has gone, the same command succeeds.
    expect((await runCli(['auto', '--dir', folder.dir, '--ddl-lock-timeout', '100'], { env: env() })).code).toBe(0);
  });

  test('a lock_timeout after a migration that ran alone says which migrations before it committed and stay', async () => {
    await folder.write('0002_b.sql', '-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY a_id_idx ON a (id);\n');
    await folder.write('0003_c.sql', 'ALTER TABLE a ADD COLUMN note text;');
    expect((await migrate('up', '0001_a')).code).toBe(0);
    const r = await autoWhileALocked();
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n').filter((line) => line.startsWith('migrate: '))).toEqual([
      expect.stringMatching(/could not lock table a within 100 ms .*; 0002_b, before it, committed and stays applied\)$/),
    ]);
    expect(await history()).toEqual(['0001_a', '0002_b']);
  });
});

describe('a COMMIT no check can read', () => {
  // Up to PostgreSQL 14 a number with letters after it is a number and a name (`SELECT 1abc`), which the lexer, as
  // servers from 15 on, rejects; the text is read as 14 reads it, at each place the grammar names
  // (src/files/sqlStatements.ts lexAsUpTo14). Up to 13 `5 !` is a factorial, where the grammar (18's) stops
  // before the number and names no word: on 13 a COMMIT after both is one no check before running can read. Only
  // the server's transaction status tells, and the run fails naming the migration, none of it recorded. From 14 on
  // the server refuses the text, and nothing of the batch commits.
  test('a COMMIT in text neither the grammar nor the lexer can read: caught from the transaction status (13), or never run (14 on)', async () => {
    await folder.write('0004_hidden.sql', 'CREATE TABLE hidden (id int);\nSELECT 5 !;\nSELECT 1abc;\nCOMMIT;\n');
    const major = (await db.query<{ major: number }>(`SELECT current_setting('server_version_num')::int / 10000 AS major`))[0]!.major;
    const r = await migrate('auto');
    expect(r.code).toBe(1);
    if (major < 14) {
      expect(r.stderr).toMatch(/migrate: error: migration 0004_hidden \(up\) failed: its SQL ended the runner's transaction .*what ran in that transaction \(0001_a, 0002_b, 0003_c, 0004_hidden\) may be committed, and none of it is recorded/);
      expect(await tables()).toEqual(['a', 'b', 'c', 'hidden', 'pgmigrations', 'pgmigrations_meta']);
      expect(await history()).toEqual([]);
    } else {
      expect(r.stderr).toMatch(/migrate: error: migration 0004_hidden \(up\) failed: syntax error at or near ";"/);
      // Not even the history table: it is made in the batch's transaction.
      expect(await tables()).toEqual([]);
    }
    expect(await advisoryLocks()).toEqual([]);
  });

  test.each([
    ['CREATE TABLE hidden (id int);\nSELECT 1abc;\nCOMMIT;\nBEGIN;\n'],
    // The grammar stops at the name first (a name up to 15), then reads on to the number.
    ['CREATE TABLE system_user (id int);\nSELECT 1abc;\nCOMMIT;\nBEGIN;\n'],
  ])('a COMMIT after a number with letters after it, which 13 and 14 run: refused before anything runs (%j)', async (text) => {
    await folder.write('0004_hidden.sql', text);
    const r = await migrate('auto');
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n').filter((line) => line.startsWith('migrate: '))).toEqual([
      expect.stringMatching(/^migrate: error: 0004_hidden\.sql:3: COMMIT would end the batch's transaction/),
    ]);
    expect(await tables()).toEqual([]);
    expect(await advisoryLocks()).toEqual([]);
  });
});

describe('noTransaction migrations split the batch', () => {
  test('what comes before commits, it runs alone, the rest continues', async () => {
    await folder.write(
      '0004_index_concurrently.js',
      `export function up(pgm) { pgm.noTransaction(); pgm.createIndex('c', 'id', { name: 'c_id_idx', concurrently: true }); }\n` +
        `export function down(pgm) { pgm.noTransaction(); pgm.dropIndex('c', 'id', { name: 'c_id_idx', concurrently: true }); }\n`,
    );
    await folder.write('0005_e.sql', sqlMigration('CREATE TABLE e (id int);', 'DROP TABLE e;'));
    const r = await migrate('auto', '--json');
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/0004_index_concurrently runs outside a transaction/);
    expect(await history()).toEqual(['0001_a', '0002_b', '0003_c', '0004_index_concurrently', '0005_e']);
    expect((await db.query(`SELECT 1 FROM pg_indexes WHERE indexname = 'c_id_idx'`)).length).toBe(1);
    expect((await migrate('down', '--steps', '2')).code).toBe(0);
    expect((await db.query(`SELECT 1 FROM pg_indexes WHERE indexname = 'c_id_idx'`)).length).toBe(0);
  });
});

describe('stamp, down, up +N', () => {
  test('upgrade and downgrade are up and down, with the run report on --json; logs are JSON when stderr is not a terminal', async () => {
    // LOG_FORMAT empty counts as unset: the default applies.
    const upgrade = await runCli(['upgrade', '+2', '--json', '--dir', folder.dir], { env: env({ LOG_FORMAT: '' }) });
    expect(upgrade.code).toBe(0);
    expect(JSON.parse(upgrade.stdout)).toMatchObject({
      command: 'up',
      before: { state: 'fresh' },
      plan: { action: 'apply', apply: ['0001_a', '0002_b'] },
      migrations: [{ name: '0001_a', direction: 'up', status: 'applied' }, { name: '0002_b', direction: 'up', status: 'applied' }],
      after: { state: 'behind', current: '0002_b', pending: ['0003_c'] },
    });
    expect(upgrade.stderr.trim().split('\n').every((line) => JSON.parse(line).level)).toBe(true);
    const downgrade = await migrate('downgrade', '--json');
    expect(downgrade.code).toBe(0);
    expect(JSON.parse(downgrade.stdout)).toMatchObject({
      command: 'down',
      migrations: [{ name: '0002_b', direction: 'down', status: 'reverted' }],
      after: { current: '0001_a' },
    });
    expect(await history()).toEqual(['0001_a']);
  });

  test('stamp moves the history without running anything', async () => {
    const r = await migrate('stamp', '0002_b', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ plan: { action: 'stamp', stampTo: '0002_b' }, migrations: [] });
    expect(await history()).toEqual(['0001_a', '0002_b']);
    expect(await tables()).toEqual(['pgmigrations', 'pgmigrations_meta']);
    expect((await migrate('stamp', 'head')).code).toBe(0);
    expect(await history()).toEqual(['0001_a', '0002_b', '0003_c']);
    expect((await migrate('stamp', 'base')).code).toBe(0);
    expect(await history()).toEqual([]);
  });

  test.each([
    ["x'; DROP TABLE pgmigrations; --"],
    ['0001_a"; DROP TABLE a; --'],
    ['ünïcødé_rev'],
    ['0001_a; SELECT 1'],
  ])('a hostile revision name %j is just an unknown revision (exit 2)', async (name) => {
    expect((await migrate('auto')).code).toBe(0);
    for (const args of [['stamp', name], ['up', name], ['down', name]]) {
      const r = await migrate(...args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/unknown revision/);
    }
    expect(await history()).toEqual(['0001_a', '0002_b', '0003_c']);
    expect(await tables()).toEqual(['a', 'b', 'c', 'pgmigrations', 'pgmigrations_meta']);
  });

  // node-pg-migrate reads the history in (run_on, id) order and refuses to run when that is not
  // file order (its check-order); stamp writes it in file order (docs/CONTRACT.md "The states": plain node-pg-migrate keeps working).
  test.each([
    ['a gap (a row deleted)', `DELETE FROM pgmigrations WHERE name = '0002_b'; DELETE FROM pgmigrations_meta WHERE name = '0002_b'`, true],
    ['rows out of order (an out-of-order merge)', `UPDATE pgmigrations SET run_on = run_on + interval '1 second' WHERE name = '0002_b'`, false],
  ])('stamp over %s leaves the history in file order for node-pg-migrate', async (_title, damage, diverged) => {
    expect((await migrate('auto')).code).toBe(0);
    await db.query(damage);
    const runOn = async () => Object.fromEntries((await db.query<{ name: string; run_on: string }>('SELECT name, run_on::text FROM pgmigrations')).map((r) => [r.name, r.run_on]));
    const before = await runOn();
    // The runner cannot tell a lost row from a late merge, so it never advises a stamp over a gap;
    // here b exists, and the human who knows it stamps.
    if (diverged) expect((await migrate('auto')).stderr).toMatch(/to settle it: migrate up --out-of-order/);
    expect((await migrate('stamp', '0003_c')).code).toBe(0);
    expect(await history()).toEqual(['0001_a', '0002_b', '0003_c']);
    const after = await runOn();
    expect(after['0001_a']).toBe(before['0001_a']);
    // A stamped gap row takes the time of the applied migration after it; times never go backwards.
    expect(after['0002_b']).toBe(before['0002_b'] ?? before['0003_c']);
    expect(after['0003_c']! >= after['0002_b']!).toBe(true);
    expect((await runNodePgMigrate(['up', '-m', folder.dir], { env: env() })).code).toBe(0);
    const down = await runNodePgMigrate(['down', '1', '-m', folder.dir], { env: env() });
    expect(down.code).toBe(0);
    expect(await tables()).toEqual(['a', 'b', 'pgmigrations', 'pgmigrations_meta']);
    expect((await migrate('auto')).code).toBe(0);
    expect((await migrate('check')).code).toBe(0);
  });

  // The refusal names --allow-modified: every command it can come from takes the flag.
  test.each([['down'], ['sql'], ['up']])('%s on an edited applied file refuses (exit 3); --allow-modified lets it run', async (command) => {
    expect((await migrate('up', '+2')).code).toBe(0);
    await folder.write('0001_a.sql', '-- Up Migration\nCREATE TABLE a (id int PRIMARY KEY, edited int);\n-- Down Migration\nDROP TABLE a;\n');
    const refused = await migrate(command);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/applied migration edited since it ran: 0001_a \(to settle it: restore the file, or record it as it is now with migrate repair \(--allow-modified passes this run only\)\)/);
    expect(await history()).toEqual(['0001_a', '0002_b']);
    const allowed = await migrate(command, '--allow-modified');
    expect([allowed.code, allowed.stderr]).toEqual([0, expect.not.stringMatching(/error/)]);
    expect(await history()).toEqual({ down: ['0001_a'], sql: ['0001_a', '0002_b'], up: ['0001_a', '0002_b', '0003_c'] }[command]);
  });

  test('down --steps N, down TARGET, down base and up +1', async () => {
    expect((await migrate('auto')).code).toBe(0);
    const down2 = await migrate('down', '--steps', '2', '--json');
    expect(down2.code).toBe(0);
    expect(JSON.parse(down2.stdout).migrations.map((m: { name: string; direction: string }) => `${m.name}:${m.direction}`)).toEqual(['0003_c:down', '0002_b:down']);
    expect(await history()).toEqual(['0001_a']);
    expect((await migrate('up', '+1')).code).toBe(0);
    expect(await history()).toEqual(['0001_a', '0002_b']);
    expect((await migrate('up')).code).toBe(0);
    expect((await migrate('down', '0001_a')).code).toBe(0);
    expect(await history()).toEqual(['0001_a']);
    expect(await tables()).toEqual(['a', 'pgmigrations', 'pgmigrations_meta']);
    expect((await migrate('down', 'base')).code).toBe(0);
    expect(await history()).toEqual([]);
    expect(await tables()).toEqual(['pgmigrations', 'pgmigrations_meta']);
  });

  test.each([['0'], ['-1'], ['two']])('down --steps %s is exit 2', async (steps) => {
    const r = await migrate('down', '--steps', steps);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  test('a failure after a migration that ran alone says which migrations before it committed and stay, not that the batch was rolled back', async () => {
    await folder.write('0002_b.sql', '-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY a_id_idx ON a (id);\n');
    await folder.write('0003_c.sql', sqlMigration('CREATE TABLE c (id int PRIMARY KEY);\nSELECT 1 / 0;', 'DROP TABLE c;'));
    const r = await migrate('up');
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n').filter((line) => line.startsWith('migrate: '))).toEqual([
      expect.stringMatching(/^migrate: error: migration 0003_c \(up\) failed: division by zero .*\(its transaction was rolled back; the 2 migrations before it \(0001_a, 0002_b\) committed and stay applied; fix the migration and run again\)$/),
    ]);
    expect(await history()).toEqual(['0001_a', '0002_b']);
    expect(await tables()).toEqual(['a', 'pgmigrations', 'pgmigrations_meta']);
  });

  test('a down that fails rolls the whole batch back', async () => {
    await folder.write('0004_no_down.sql', 'CREATE TABLE d (id int);'); // no down section
    expect((await migrate('auto')).code).toBe(0);
    const r = await migrate('down', '--steps', '2');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/0004_no_down has no down migration \(add a "-- Down Migration" section\)/);
    expect(await history()).toEqual(['0001_a', '0002_b', '0003_c', '0004_no_down']);
  });
});

describe('sql', () => {
  test('prints what up would run and touches nothing', async () => {
    await folder.write('0004_data.js', 'export async function up(pgm) { const rows = await pgm.db.select("SELECT 1 AS one"); pgm.sql(`SELECT ${rows[0].one} AS from_query`); }\n');
    const before = await db.query(`SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace`);
    const r = await migrate('sql');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^BEGIN;$/m);
    expect(r.stdout).toMatch(/CREATE TABLE a \(id int PRIMARY KEY\);/);
    expect(r.stdout).toMatch(/INSERT INTO "public"\."pgmigrations" \(name, run_on\) VALUES \('0004_data', NOW\(\)\);/);
    expect(r.stdout).toMatch(/SELECT 1 AS from_query/);
    expect(r.stdout).not.toMatch(/DROP TABLE/);
    expect(await db.query(`SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace`)).toEqual(before);
    expect(await advisoryLocks()).toEqual([]);
  });

  // With standard_conforming_strings off, a '…' string with a backslash ends elsewhere than the checks read it
  // (README "Transaction control in migrations"): the script sets it on at its top, for a session that has it
  // off, and again before a migration with such a string, which one before it may have turned off.
  testWithPsql('the script reads its strings as the checks did, in a session with standard_conforming_strings off', async () => {
    await folder.write('0004_paths.sql', "CREATE TABLE paths (p text, q text);\nINSERT INTO paths VALUES ('C:\\dir\\new');\n");
    await folder.write('0005_off.sql', 'SET standard_conforming_strings = off;\n');
    // Read with it off, the first string is "x', " and a DROP TABLE follows.
    await folder.write('0006_quote.sql', "INSERT INTO paths VALUES ('x\\', '); DROP TABLE paths; --');\n");
    const script = await migrate('sql', '--offline');
    expect(script.code).toBe(0);
    await db.query(`ALTER DATABASE ${pg.escapeIdentifier(db.name)} SET standard_conforming_strings = off`);
    const psql = await runProcess('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--dbname', db.url], { input: script.stdout });
    expect(psql).toMatchObject({ code: 0 });
    expect(await db.query('SELECT p, q FROM paths ORDER BY p')).toEqual([
      { p: 'C:\\dir\\new', q: null },
      { p: 'x\\', q: '); DROP TABLE paths; --' },
    ]);
    expect(await history()).toEqual(['0001_a', '0002_b', '0003_c', '0004_paths', '0005_off', '0006_quote']);
  });

  test('a migration that writes while being built cannot run under sql', async () => {
    await folder.write('0004_writes.js', 'export async function up(pgm) { await pgm.db.query("CREATE TABLE sneaky (id int)"); }\n');
    const r = await migrate('sql');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/read-only transaction/);
    expect(await tables()).toEqual([]);
  });

  // A JS migration's own COMMIT through pgm.db (an old way to build an index CONCURRENTLY) ended sql's READ
  // ONLY transaction, and what it sent after ran, and stayed, outside it: sql and lint are read-only commands.
  test.each([['sql'], ['lint']])('%s refuses a pgm.db COMMIT before sending it, as up does (exit 2), and changes nothing', async (command) => {
    expect((await migrate('up')).code).toBe(0);
    await folder.write(
      '0004_concurrently.js',
      "exports.up = async (pgm) => {\n  await pgm.db.query('COMMIT');\n  await pgm.db.query('CREATE INDEX CONCURRENTLY a_id_idx ON public.a (id)');\n  await pgm.db.query('INSERT INTO public.a VALUES (1)');\n  await pgm.db.query('BEGIN');\n};\nexports.down = false;\n",
    );
    const before = await schemaDump();
    const r = await migrate(command);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/migrate: error: migration file 0004_concurrently\.js sends through pgm\.db COMMIT, which would end or change the batch's transaction/);
    expect(await schemaDump()).toEqual(before);
    expect(await db.query('SELECT * FROM a')).toEqual([]);
    expect(await advisoryLocks()).toEqual([]);
  });

  test('sql cannot make its read-only transaction read-write through pgm.db: a sequence keeps its value', async () => {
    await folder.write('0004_counter.sql', sqlMigration('CREATE SEQUENCE counter;', 'DROP SEQUENCE counter;'));
    expect((await migrate('up')).code).toBe(0);
    await folder.write(
      '0005_bumps.js',
      "exports.up = async (pgm) => {\n  await pgm.db.query('SET TRANSACTION READ WRITE');\n  await pgm.db.query(\"SELECT nextval('public.counter')\");\n};\nexports.down = false;\n",
    );
    const r = await migrate('sql');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/sql cannot show 0005_bumps: .*read-write mode must be set before any query/);
    expect(await db.query('SELECT last_value, is_called FROM counter')).toEqual([{ last_value: '1', is_called: false }]);
  });

  // docs/CONTRACT.md "Commands": sql touches nothing, not even a scratch database; up refuses a legacy database
  // whatever it matches, so neither replays the migrations to find the match.
  test.each([['sql'], ['up']])('%s on a legacy database refuses (exit 3) without replaying the migrations', async (command) => {
    await db.query('CREATE TABLE a (id int PRIMARY KEY)');
    const r = await migrate(command, '--log-level', 'info');
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/refused: legacy database/);
    expect(r.stderr).not.toMatch(/scratch database|computing fingerprints/);
    expect(await tables()).toEqual(['a']);
  });

  // node-pg-migrate's shorthands accumulate over every file in order, applied or not: a pending
  // migration may use a column shorthand an applied one exports, and sql must build it as up does.
  test('sql and up agree on a column shorthand exported by an applied migration', async () => {
    await folder.write('0004_shorthands.js',
      `export const shorthands = { note: { type: 'integer', notNull: true, default: 0 } };\nexport async function up(pgm) { pgm.sql('SELECT 1'); }\n`);
    expect((await migrate('up')).code).toBe(0);
    await folder.write('0005_memo.js', `export async function up(pgm) { pgm.addColumn('a', { memo: 'note' }); }\n`);
    const sql = await migrate('sql');
    expect(sql.code).toBe(0);
    expect(sql.stdout).toMatch(/ADD "memo" integer DEFAULT 0 NOT NULL;/);
    expect((await migrate('up')).code).toBe(0);
    expect(await db.query(
      `SELECT data_type, is_nullable, column_default FROM information_schema.columns WHERE table_name = 'a' AND column_name = 'memo'`,
    )).toEqual([{ data_type: 'integer', is_nullable: 'NO', column_default: '0' }]);
    // Offline, sql builds it the same way.
    const offline = await migrate('sql', '--offline', '0004_shorthands:0005_memo');
    expect(offline.stdout).toMatch(/ADD "memo" integer DEFAULT 0 NOT NULL;/);
  });

  test('sql up to a target', async () => {
    const r = await migrate('sql', '0001_a');
    expect(r.stdout).toMatch(/CREATE TABLE a/);
    expect(r.stdout).not.toMatch(/CREATE TABLE b/);
  });
});

describe('create', () => {
  test.each([
    ['sql', /-- Up Migration[\s\S]*-- Down Migration/],
    ['ts', /export async function up\(pgm: MigrationBuilder\)/],
    ['js', /export async function up\(pgm\)/],
  ])('create --lang %s writes a template with the next index prefix', async (lang, content) => {
    const r = await migrate('create', 'Add Orders', '--lang', lang);
    expect(r.code).toBe(0);
    const path = r.stdout.trim();
    expect(path).toBe(`${folder.dir}/0004_add_orders.${lang}`);
    expect(await readFile(path, 'utf8')).toMatch(content);
    const status = JSON.parse((await migrate('status', '--json')).stdout);
    expect(status.pending).toContain('0004_add_orders');
  });

  test('generate -m is an alias', async () => {
    const r = await migrate('generate', '-m', 'backfill users');
    expect(r.stdout.trim()).toBe(`${folder.dir}/0004_backfill_users.sql`);
  });

  test('create needs no database', async () => {
    const r = await runCli(['create', 'x', '--dir', folder.dir], { env: cleanEnv() });
    expect(r.code).toBe(0);
  });

  test('a created migration runs', async () => {
    const path = (await migrate('create', 'noop', '--lang', 'ts')).stdout.trim();
    expect(path).toMatch(/0004_noop\.ts$/);
    expect((await migrate('auto')).code).toBe(0);
    expect(await history()).toContain('0004_noop');
  });
});

describe('reset', () => {
  test('refuses without --confirm (exit 2) and in production without --force (exit 3)', async () => {
    expect((await migrate('auto')).code).toBe(0);
    const noConfirm = await migrate('reset');
    expect(noConfirm.code).toBe(2);
    expect(noConfirm.stderr).toMatch(/needs --confirm/);
    for (const variable of ['NODE_ENV', 'APP_ENV']) {
      const prod = await runCli(['reset', '--confirm', '--dir', folder.dir], { env: env({ [variable]: 'production' }) });
      expect(prod.code).toBe(3);
      expect(prod.stderr).toMatch(/production/);
    }
    expect(await tables()).toEqual(['a', 'b', 'c', 'pgmigrations', 'pgmigrations_meta']);
  });

  test('--confirm drops every object and the history; extensions stay', async () => {
    await db.query('CREATE EXTENSION IF NOT EXISTS pg_trgm');
    expect((await migrate('auto')).code).toBe(0);
    await db.query(`CREATE VIEW v AS SELECT * FROM a; CREATE TYPE mood AS ENUM ('ok'); CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'`);
    const r = await migrate('reset', '--confirm');
    expect(r.code).toBe(0);
    expect(await tables()).toEqual([]);
    const status = JSON.parse((await migrate('status', '--json')).stdout);
    expect(status.state).toBe('fresh');
    expect((await db.query(`SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'`)).length).toBe(1);
    const forced = await runCli(['reset', '--confirm', '--force', '--dir', folder.dir], { env: env({ NODE_ENV: 'production' }) });
    expect(forced.code).toBe(0);
  });

  // Objects PostgreSQL made for another object (an identity column's sequence, a range type's
  // constructors and multirange) cannot be dropped on their own, even with CASCADE.
  test('--confirm drops identity columns, range types, aggregates, partitions and domains too', async () => {
    expect((await migrate('auto')).code).toBe(0);
    await db.query(`
      CREATE TABLE ident (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, n bigint GENERATED BY DEFAULT AS IDENTITY);
      CREATE TYPE floatrange AS RANGE (subtype = float8, subtype_diff = float8mi);
      CREATE TABLE booking (during floatrange);
      CREATE AGGREGATE total(int) (sfunc = int4pl, stype = int);
      CREATE TABLE measure (at date, v int) PARTITION BY RANGE (at);
      CREATE TABLE measure_2026 PARTITION OF measure FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
      CREATE DOMAIN positive AS int CHECK (VALUE > 0);
      CREATE TYPE pair AS (a int, b positive);
      CREATE SEQUENCE free_standing;
      CREATE MATERIALIZED VIEW mv AS SELECT count(*) FROM ident;`);
    const r = await migrate('reset', '--confirm');
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    const left = await db.query<{ kind: string; name: string }>(`
      SELECT 'relation' AS kind, relname AS name FROM pg_class WHERE relnamespace = 'public'::regnamespace
      UNION ALL SELECT 'routine', proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace
      UNION ALL SELECT 'type', typname FROM pg_type WHERE typnamespace = 'public'::regnamespace`);
    expect(left).toEqual([]);
    expect(JSON.parse((await migrate('status', '--json')).stdout).state).toBe('fresh');
  });
});

describe('kill -9', () => {
  test('a killed runner leaves the database wholly before the batch, and the next run succeeds', async () => {
    await folder.write('0002_b.sql', 'CREATE TABLE b (id int);\nSELECT pg_sleep(30);\nCREATE TABLE b2 (id int);');
    const child = spawn(process.execPath, [CLI_PATH, 'auto', '--dir', folder.dir], { env: env(), stdio: 'ignore' });
    await waitFor(async () => (await db.query(`SELECT 1 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()`)).length > 0);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.on('exit', resolve));
    // The server notices the dead client once its backend finishes the statement it is in.
    await db.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()`);
    await waitFor(async () => (await advisoryLocks()).length === 0);
    expect(await tables()).toEqual([]);
    await folder.write('0002_b.sql', 'CREATE TABLE b (id int);');
    const next = await migrate('auto');
    expect(next.code).toBe(0);
    expect(await history()).toEqual(['0001_a', '0002_b', '0003_c']);
  });
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
