/**
 * The history tells the truth, through the CLI as a process on real
 * PostgreSQL: a file merged late is applied, never stamped as applied; an
 * accepted edit is recorded once and for all (`repair`); `history` lists
 * rows whose file is missing where they ran; `status` never cuts a short list.
 */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { createMigrationsFolder, sqlMigration, type MigrationsFolder } from '../helpers/migrationsFolder.js';
import { cleanEnv, runCli, runNodePgMigrate } from '../helpers/processes.js';

let db: TestDatabase;
let folder: MigrationsFolder;

const T1 = sqlMigration('CREATE TABLE t1 (id int);', 'DROP TABLE t1;');
const T2 = sqlMigration('CREATE TABLE t2 (id int);', 'DROP TABLE t2;');
const T3 = sqlMigration('CREATE TABLE t3 (id int);', 'DROP TABLE t3;');

beforeEach(async () => {
  db = await createTestDatabase('truth');
  folder = await createMigrationsFolder({ '0001_t1.sql': T1, '0003_t3.sql': T3 });
});
afterEach(async () => {
  await db.drop();
  await folder.dispose();
});

const env = () => cleanEnv({ DATABASE_URL: db.url });
const migrate = (...args: string[]) => runCli([...args, '--dir', folder.dir], { env: env() });
const nodePgMigrate = (...args: string[]) => runNodePgMigrate([...args, '-m', folder.dir], { env: env() });
/** The history as node-pg-migrate reads it. */
const history = async () => (await db.query<{ name: string }>('SELECT name FROM pgmigrations ORDER BY run_on, id')).map((r) => r.name);
const tables = async () =>
  (await db.query<{ t: string }>(`SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)).map((r) => r.t);

/** 0001 and 0003 applied by plain node-pg-migrate, then 0002 arrives from another branch. */
async function lateMerge(): Promise<void> {
  expect((await nodePgMigrate('up')).code).toBe(0);
  await folder.write('0002_t2.sql', T2);
}

describe('a late merge is applied, never stamped', () => {
  test('status, auto and up say how to apply it; nothing they print stamps it', async () => {
    await lateMerge();
    const status = await migrate('status');
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^gap: +0002_t2 /m);
    expect(status.stdout).toMatch(/^settle: +migrate up --out-of-order, which applies them in file order with the rest$/m);
    expect(status.stdout).not.toMatch(/stamp/);
    const doc = JSON.parse((await migrate('status', '--json')).stdout);
    expect(doc).toMatchObject({ state: 'diverged', pending: ['0002_t2'], plan: { action: 'refuse', settleCommand: expect.stringMatching(/^migrate up --out-of-order/) } });
    for (const args of [['auto'], ['up'], ['up', '0002_t2'], ['down'], ['sql']]) {
      const r = await migrate(...args);
      expect([args, r.code]).toEqual([args, 3]);
      expect(r.stderr).toMatch(/on disk, not applied, before applied ones: 0002_t2/);
      expect(r.stderr).toMatch(/to settle it: migrate up --out-of-order/);
      expect(r.stderr).not.toMatch(/migrate stamp|already applied/);
    }
    expect(await history()).toEqual(['0001_t1', '0003_t3']);
    expect(await tables()).toEqual(['pgmigrations', 't1', 't3']);
  });

  test('up --out-of-order applies it, records it in file order, keeps when it ran, and plain node-pg-migrate agrees', async () => {
    await lateMerge();
    const before = await db.query<{ name: string; run_on: string }>('SELECT name, run_on::text FROM pgmigrations ORDER BY id');
    const r = await migrate('up', '--out-of-order', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      before: { state: 'diverged' },
      plan: { action: 'apply', apply: ['0002_t2'] },
      migrations: [{ name: '0002_t2', status: 'applied' }],
      after: { state: 'current' },
    });
    expect(await tables()).toEqual(['pgmigrations', 'pgmigrations_meta', 't1', 't2', 't3']);
    // In file order by (run_on, id), as node-pg-migrate reads it: the late row takes the time of the row after it.
    const rows = await db.query<{ name: string; run_on: string; ran_at: string | null }>(
      `SELECT h.name, h.run_on::text, m.ran_at::text FROM pgmigrations h LEFT JOIN pgmigrations_meta m USING (name) ORDER BY h.run_on, h.id`,
    );
    expect(rows.map((row) => row.name)).toEqual(['0001_t1', '0002_t2', '0003_t3']);
    const t3 = before.find((row) => row.name === '0003_t3')!.run_on;
    expect(rows.map((row) => row.run_on)).toEqual([before[0]!.run_on, t3, t3]);
    // When it really ran is beside the history, and is what `history` shows.
    const ranAt = rows[1]!.ran_at;
    expect(ranAt).not.toBeNull();
    const [later] = await db.query<{ later: boolean }>(`SELECT $1::timestamptz > $2::timestamp::timestamptz AS later`, [ranAt, t3]);
    expect(later).toEqual({ later: true });
    const shown = JSON.parse((await migrate('history', '--json')).stdout).migrations as { name: string; appliedAt: string }[];
    expect(shown.map((m) => m.name)).toEqual(['0001_t1', '0002_t2', '0003_t3']);
    const [same] = await db.query<{ same: boolean }>(`SELECT $1::timestamptz = date_trunc('milliseconds', $2::timestamptz) AS same`, [shown[1]!.appliedAt, ranAt]);
    expect(same).toEqual({ same: true });

    const plain = await nodePgMigrate('up');
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/No migrations to run!/);
    expect(plain.stdout + plain.stderr).not.toMatch(/preceding already run migration/);
    expect((await migrate('check')).code).toBe(0);
    // And it reverts in file order like any other.
    expect((await nodePgMigrate('down', '2')).code).toBe(0);
    expect(await tables()).toEqual(['pgmigrations', 'pgmigrations_meta', 't1']);
  });

  test('the gap and the pending files after it go in one transaction: one failing, none is applied', async () => {
    await lateMerge();
    await folder.write('0004_fails.sql', sqlMigration('CREATE TABLE t4 (id int); SELECT 1/0;', 'DROP TABLE t4;'));
    const r = await migrate('up', '--out-of-order');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/migration 0004_fails \(up\) failed: division by zero/);
    // Not even the side table stays: it was made in the transaction that rolled back.
    expect(await tables()).toEqual(['pgmigrations', 't1', 't3']);
    expect(await history()).toEqual(['0001_t1', '0003_t3']);
    await folder.write('0004_fails.sql', sqlMigration('CREATE TABLE t4 (id int);', 'DROP TABLE t4;'));
    const fixed = await migrate('up', '--out-of-order', '--json');
    expect(fixed.code).toBe(0);
    expect(JSON.parse(fixed.stdout).plan.apply).toEqual(['0002_t2', '0004_fails']);
    expect(await history()).toEqual(['0001_t1', '0002_t2', '0003_t3', '0004_fails']);
    expect((await nodePgMigrate('up')).stdout).toMatch(/No migrations to run!/);
  });

  test('a late migration that runs outside a transaction (noTransaction), last of its batch, is put in file order too', async () => {
    expect((await nodePgMigrate('up')).code).toBe(0);
    await folder.write(
      '0002_index.js',
      `export function up(pgm) { pgm.noTransaction(); pgm.createIndex('t1', 'id', { name: 't1_id_idx', concurrently: true }); }\n` +
        `export function down(pgm) { pgm.noTransaction(); pgm.dropIndex('t1', 'id', { name: 't1_id_idx', concurrently: true }); }\n`,
    );
    const r = await migrate('up', '--out-of-order');
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/0002_index runs outside a transaction/);
    expect(await history()).toEqual(['0001_t1', '0002_index', '0003_t3']);
    expect((await nodePgMigrate('up')).stdout).toMatch(/No migrations to run!/);
  });

  test('config outOfOrder: auto applies late merges at every start', async () => {
    await lateMerge();
    const config = join(folder.dir, '..', `${db.name}.config.json`);
    await writeFile(config, JSON.stringify({ outOfOrder: true }));
    const status = JSON.parse((await migrate('status', '--json', '--config', config)).stdout);
    expect(status).toMatchObject({ state: 'diverged', plan: { action: 'apply', apply: ['0002_t2'] } });
    const r = await migrate('auto', '--config', config);
    expect([r.code, r.stderr]).toEqual([0, expect.not.stringMatching(/error/)]);
    expect(await history()).toEqual(['0001_t1', '0002_t2', '0003_t3']);
    expect((await nodePgMigrate('up')).stdout).toMatch(/No migrations to run!/);
    // A bad value is the config's error, named.
    await writeFile(config, JSON.stringify({ outOfOrder: 'yes' }));
    const bad = await migrate('status', '--config', config);
    expect([bad.code, bad.stderr]).toEqual([2, expect.stringMatching(/key "outOfOrder" must be boolean/)]);
  });

  test('a file gone and a late merge: restore the file, never a stamp; --out-of-order refuses too', async () => {
    await folder.write('0004_gone.sql', sqlMigration('CREATE TABLE t4 (id int);', 'DROP TABLE t4;'));
    await lateMerge();
    await folder.remove('0004_gone.sql');
    for (const args of [['auto'], ['up', '--out-of-order']]) {
      const r = await migrate(...args);
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/applied but not on disk: 0004_gone; on disk, not applied, before applied ones: 0002_t2/);
      expect(r.stderr).toMatch(/to settle it: restore the files of 0004_gone \(a renamed file: its old name\), then migrate up --out-of-order/);
      expect(r.stderr).not.toMatch(/migrate stamp/);
    }
    expect(await tables()).toEqual(['pgmigrations', 't1', 't3', 't4']);
  });

  test('a file gone and no gap: stamp is offered, and records no file that did not run', async () => {
    await folder.write('0002_t2.sql', T2);
    expect((await migrate('auto')).code).toBe(0);
    await folder.remove('0003_t3.sql');
    const r = await migrate('auto');
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/to settle it: migrate stamp 0002_t2/);
    expect((await migrate('stamp', '0002_t2')).code).toBe(0);
    expect(await history()).toEqual(['0001_t1', '0002_t2']);
  });

  test('a side table made before ran_at existed is read as it is, and given the column under the lock by the next run', async () => {
    await folder.write('0002_t2.sql', T2);
    expect((await migrate('up', '+1')).code).toBe(0);
    await db.query('ALTER TABLE pgmigrations_meta DROP COLUMN ran_at');
    const shown = await migrate('history', '--json');
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout).migrations[0]).toMatchObject({ name: '0001_t1', status: 'applied', appliedAt: expect.stringMatching(/^\d{4}-/) });
    const columns = async () => (await db.query<{ c: string }>(`SELECT column_name AS c FROM information_schema.columns WHERE table_name = 'pgmigrations_meta' ORDER BY ordinal_position`)).map((r) => r.c);
    expect(await columns()).not.toContain('ran_at');
    expect((await migrate('auto')).code).toBe(0);
    expect(await columns()).toContain('ran_at');
    const rows = await db.query<{ name: string; ran: boolean }>('SELECT name, ran_at IS NOT NULL AS ran FROM pgmigrations_meta ORDER BY name');
    expect(rows).toEqual([{ name: '0001_t1', ran: false }, { name: '0002_t2', ran: true }, { name: '0003_t3', ran: true }]);
  });

  test('an old side table the role may not alter: exit 2 naming the ALTER its owner runs, nothing applied', async () => {
    await folder.write('0002_t2.sql', T2);
    expect((await migrate('up', '+1')).code).toBe(0);
    await db.query('ALTER TABLE pgmigrations_meta DROP COLUMN ran_at');
    const role = `truth_${db.name.slice(-10)}`;
    await db.query(`CREATE ROLE ${role} LOGIN; GRANT USAGE, CREATE ON SCHEMA public TO ${role};
      GRANT SELECT, INSERT, UPDATE, DELETE ON pgmigrations, pgmigrations_meta TO ${role}; GRANT USAGE ON SEQUENCE pgmigrations_id_seq TO ${role}`);
    try {
      const url = new URL(db.url);
      url.username = role;
      const r = await runCli(['auto', '--dir', folder.dir], { env: cleanEnv({ DATABASE_URL: url.toString() }) });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/migrate: error: cannot add column ran_at to the side table "public"\."pgmigrations_meta": must be owner of table pgmigrations_meta \(have its owner run ALTER TABLE "public"\."pgmigrations_meta" ADD COLUMN ran_at timestamptz, or run migrate once as its owner\)/);
      expect(await history()).toEqual(['0001_t1']);
      expect(await tables()).toEqual(['pgmigrations', 'pgmigrations_meta', 't1']);
    } finally {
      await db.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`);
    }
  });
});

describe('repair: accepting an edited file lasts', () => {
  const EDITED = sqlMigration('-- reformatted\nCREATE TABLE t1 (id int);', 'DROP TABLE t1;');
  const checksums = async () => db.query<{ name: string; checksum: string }>('SELECT name, checksum FROM pgmigrations_meta ORDER BY name');

  test('auto refuses and points at repair; --dry-run lists and changes nothing; repair records; the next auto is clean', async () => {
    expect((await migrate('auto')).code).toBe(0);
    await folder.write('0001_t1.sql', EDITED);
    const refused = await migrate('auto');
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/applied migration edited since it ran: 0001_t1 \(to settle it: restore the file, or record it as it is now with migrate repair \(--allow-modified passes this run only\)\)/);
    // --allow-modified passes once; the next start refuses again.
    expect((await migrate('auto', '--allow-modified')).code).toBe(0);
    expect((await migrate('auto')).code).toBe(3);

    const recorded = await checksums();
    const dry = await migrate('repair', '--dry-run');
    expect([dry.code, dry.stdout.trim()]).toEqual([0, 'would record 0001_t1 as it is now (0001_t1.sql was edited after it ran)']);
    const dryJson = JSON.parse((await migrate('repair', '--dry-run', '--json')).stdout);
    expect(dryJson).toEqual({
      dryRun: true,
      repair: [{ name: '0001_t1', file: join(folder.dir, '0001_t1.sql'), recorded: recorded[0]!.checksum, actual: expect.stringMatching(/^[0-9a-f]{64}$/) }],
    });
    expect(await checksums()).toEqual(recorded);

    const repaired = await migrate('repair', '--json');
    expect(repaired.code).toBe(0);
    expect(JSON.parse(repaired.stdout)).toMatchObject({ command: 'repair', plan: { action: 'repair', repair: ['0001_t1'] }, migrations: [] });
    expect(repaired.stderr).toMatch(/recorded the checksum of 0001_t1 as the file is now/);
    const after = await checksums();
    expect(after[0]!.checksum).toBe(dryJson.repair[0].actual);
    expect(after.slice(1)).toEqual(recorded.slice(1));
    expect(await history()).toEqual(['0001_t1', '0003_t3']);

    const next = await migrate('auto', '--json');
    expect(next.code).toBe(0);
    expect(JSON.parse(next.stdout)).toMatchObject({ before: { state: 'current', findings: [] }, plan: { action: 'none' } });
    const again = await migrate('repair');
    expect(again.code).toBe(0);
    expect((await migrate('repair', '--dry-run')).stdout.trim()).toBe('nothing to repair: no applied migration was edited since it ran');
  });

  test('a history that names the edited migration twice (plain node-pg-migrate wrote it): one finding, one repair', async () => {
    expect((await migrate('auto')).code).toBe(0);
    await db.query(`INSERT INTO pgmigrations (name, run_on) VALUES ('0001_t1', now())`);
    await folder.write('0001_t1.sql', EDITED);
    expect((await migrate('repair', '--dry-run')).stdout.trim()).toBe('would record 0001_t1 as it is now (0001_t1.sql was edited after it ran)');
    const repaired = await migrate('repair');
    expect([repaired.code, repaired.stderr]).toEqual([0, expect.stringMatching(/recorded the checksum of 0001_t1 as the file is now/)]);
    const next = await migrate('auto', '--json');
    expect(JSON.parse(next.stdout)).toMatchObject({ before: { findings: [expect.objectContaining({ kind: 'duplicate-history' })] }, plan: { action: 'none' } });
  });

  test('repair records under the migration lock, and touches nothing else', async () => {
    expect((await migrate('auto')).code).toBe(0);
    await folder.write('0001_t1.sql', EDITED);
    await folder.write('0004_t4.sql', sqlMigration('CREATE TABLE t4 (id int);', 'DROP TABLE t4;'));
    const recorded = await checksums();
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock(7241865325823964)'); // node-pg-migrate's key, as another runner holds it
      const locked = await migrate('repair', '--lock-timeout', '1');
      expect([locked.code, locked.stderr]).toEqual([5, expect.stringMatching(/another runner held the migration lock for more than 1s/)]);
      expect(await checksums()).toEqual(recorded);
    } finally {
      await holder.end();
    }
    const r = await migrate('repair', '--log-level', 'warn');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^repaired 0001_t1 \(its checksum recorded as the file is now\)$/m);
    // Pending files stay pending: repair records checksums, nothing else.
    expect(await history()).toEqual(['0001_t1', '0003_t3']);
    expect(await tables()).toEqual(['pgmigrations', 'pgmigrations_meta', 't1', 't3']);
    expect(JSON.parse((await migrate('status', '--json')).stdout)).toMatchObject({ state: 'behind', findings: [] });
  });
});

describe('a byte order mark is not an edit', () => {
  // An editor on Windows may add one on save (src/files/migrationFiles.ts checksumOf).
  const MARK = '\ufeff';
  const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

  test('a mark added to an applied file after it ran: auto goes on, history says ok; a pending file with one applies', async () => {
    expect((await migrate('auto')).code).toBe(0);
    await folder.write('0001_t1.sql', MARK + T1);
    await folder.write('0004_t4.sql', MARK + sqlMigration('CREATE TABLE t4 (id int);', 'DROP TABLE t4;'));
    const r = await migrate('auto', '--json');
    expect([r.code, r.stderr]).toEqual([0, expect.not.stringMatching(/edited/)]);
    expect(JSON.parse(r.stdout)).toMatchObject({ before: { state: 'behind', findings: [] }, migrations: [{ name: '0004_t4', status: 'applied' }], after: { state: 'current' } });
    expect(await tables()).toEqual(['pgmigrations', 'pgmigrations_meta', 't1', 't3', 't4']);
    expect((await migrate('history')).stdout).toMatch(/^0001_t1 +applied .* ok$/m);
    expect((await migrate('repair', '--dry-run')).stdout.trim()).toBe('nothing to repair: no applied migration was edited since it ran');
  });

  test('a file with a mark, recorded with it by an earlier runner: no edit; an edit of its text still is one', async () => {
    await folder.write('0001_t1.sql', MARK + T1);
    expect((await migrate('auto')).code).toBe(0);
    // What runners before the mark was left out recorded: the sha256 of the file's bytes, mark included.
    await db.query(`UPDATE pgmigrations_meta SET checksum = $1 WHERE name = '0001_t1'`, [sha256(MARK + T1)]);
    const r = await migrate('auto', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ before: { state: 'current', findings: [] }, plan: { action: 'none' } });
    expect((await migrate('history')).stdout).toMatch(/^0001_t1 +applied .* ok$/m);

    await folder.write('0001_t1.sql', MARK + sqlMigration('CREATE TABLE t1 (id bigint);', 'DROP TABLE t1;'));
    const refused = await migrate('auto');
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/applied migration edited since it ran: 0001_t1/);
  });
});

describe('histories read as they happened', () => {
  test('history lists a migration whose file is missing where it ran; status lists a short list whole', async () => {
    await folder.write('0002_gone.sql', T2);
    expect((await nodePgMigrate('up')).code).toBe(0);
    await folder.remove('0002_gone.sql');
    for (const name of ['0004_d', '0005_e', '0006_f', '0007_g']) await folder.write(`${name}.sql`, sqlMigration('SELECT 1;', 'SELECT 1;'));
    const entries = JSON.parse((await migrate('history', '--json')).stdout).migrations as { name: string; status: string }[];
    expect(entries.map((e) => `${e.name} ${e.status}`)).toEqual([
      '0001_t1 applied', '0002_gone applied, file missing', '0003_t3 applied',
      '0004_d pending', '0005_e pending', '0006_f pending', '0007_g pending',
    ]);
    const text = (await migrate('history')).stdout.trim().split('\n').slice(1).map((line) => line.split(/\s+/)[0]);
    expect(text).toEqual(['0001_t1', '0002_gone', '0003_t3', '0004_d', '0005_e', '0006_f', '0007_g']);
    const verbose = (await migrate('history', '--verbose')).stdout;
    expect([...verbose.matchAll(/^revision: +(\S+)$/gm)].map((m) => m[1])).toEqual(['0001_t1', '0002_gone', '0003_t3', '0004_d', '0005_e', '0006_f', '0007_g']);

    const status = (await migrate('status')).stdout;
    expect(status).toMatch(/^pending: +4 \(0004_d, 0005_e, 0006_f, 0007_g\)$/m);
    expect(status).toMatch(/^unknown: +0002_gone \(applied, not on disk\)$/m);
  });

  test('status names a long list in part and says where it is whole', async () => {
    for (let i = 4; i <= 15; i++) await folder.write(`${String(i).padStart(4, '0')}_m.sql`, sqlMigration('SELECT 1;', 'SELECT 1;'));
    const status = (await migrate('status')).stdout;
    expect(status).toMatch(/^pending: +14 \(0001_t1, 0003_t3, 0004_m, 0005_m, 0006_m, 0007_m, 0008_m, 0009_m, 0010_m, … 0015_m; 4 more: migrate pending lists them all\)$/m);
    expect((await migrate('pending')).stdout.trim().split('\n')).toHaveLength(14);
  });
});
