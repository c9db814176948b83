/**
 * verify's second up runs as one batch (src/fingerprints/verifyReplay.ts):
 * when it does not reach the first up's schema, the migrations are taken
 * down and up again one by one, and the one whose up after its down gives
 * another schema is named, as before.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { createMigrationsFolder, sqlMigration, type MigrationsFolder } from '../helpers/migrationsFolder.js';
import { cleanEnv, runCli } from '../helpers/processes.js';

let db: TestDatabase;
let folder: MigrationsFolder;
/** Databases and folders the tests below made, each through targetAndFolder. */
const made: { databases: TestDatabase[]; folders: MigrationsFolder[] } = { databases: [], folders: [] };
afterAll(async () => {
  await db?.drop();
  await folder?.dispose();
  for (const d of made.databases) await d.drop();
  for (const f of made.folders) await f.dispose();
});

/** A target database and a migrations folder of `files`, dropped and removed after the tests. */
async function targetAndFolder(name: string, files: Record<string, string>): Promise<{ target: TestDatabase; dir: string }> {
  const target = await createTestDatabase(name);
  made.databases.push(target);
  const migrations = await createMigrationsFolder(files);
  made.folders.push(migrations);
  return { target, dir: migrations.dir };
}

test('an up that builds another schema the second time is named, with what differs', async () => {
  db = await createTestDatabase('verify_up_again');
  // The first up leaves a schema outside the managed one (not in its fingerprint), and every later up adds an index.
  const remembers = `CREATE TABLE t (id int);
DO $$ BEGIN
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'seen_once') THEN CREATE INDEX t_id_idx ON t (id);
  ELSE CREATE SCHEMA seen_once; END IF;
END $$;`;
  folder = await createMigrationsFolder({
    '0001_plain.sql': sqlMigration('CREATE TABLE a (id int);', 'DROP TABLE a;'),
    '0002_remembers.sql': sqlMigration(remembers, 'DROP TABLE t;'),
    '0003_plain.sql': sqlMigration('CREATE TABLE b (id int);', 'DROP TABLE b;'),
  });
  const r = await runCli(['verify', '--dir', folder.dir], { env: cleanEnv({ DATABASE_URL: db.url }) });
  expect(r.code).toBe(1);
  const lines = r.stdout.split('\n');
  expect(lines.filter((l) => / up again /.test(l))).toEqual([
    'ok   up again 0001_plain',
    'FAIL up again 0002_remembers: up after down gives another schema than the first up',
    // The index 0002's second up made is still there: as the one-by-one verify always said.
    'FAIL up again 0003_plain: up after down gives another schema than the first up',
  ]);
  expect(r.stdout).toMatch(/index CREATE INDEX ON t USING btree \(id\) is extra in the database/);
  expect(r.stderr).toMatch(/verify failed at up again of 0002_remembers/);
});

/**
 * The first up and the downs run as one batch each, every migration
 * committing on its own: what verify reports of a failure must be what it
 * reported when each file was a batch of its own.
 */
describe('failures name the migration at fault, as one file per batch did', () => {
  const verify = async (name: string, files: Record<string, string>) => {
    const { target, dir } = await targetAndFolder(name, files);
    const r = await runCli(['verify', '--dir', dir], { env: cleanEnv({ DATABASE_URL: target.url }) });
    return { ...r, steps: r.stdout.split('\n').filter((l) => /^(ok|FAIL) /.test(l)).map((l) => l.replace(/: .*/, ':')) };
  };

  test("a COMMIT that fails (a deferred foreign key) is that migration's failure; the one after it never ran", async () => {
    const orphan = 'CREATE TABLE p (id int PRIMARY KEY);\nCREATE TABLE ch (pid int REFERENCES p DEFERRABLE INITIALLY DEFERRED);\nINSERT INTO ch VALUES (1);';
    const r = await verify('verify_commit_fails', {
      '0001_a.sql': sqlMigration('CREATE TABLE a (id int);', 'DROP TABLE a;'),
      '0002_orphan.sql': sqlMigration(orphan, 'DROP TABLE ch, p;'),
      '0003_b.sql': sqlMigration('CREATE TABLE b (id int);', 'DROP TABLE b;'),
    });
    expect(r.code).toBe(1);
    expect(r.steps).toEqual(['ok   up       0001_a', 'FAIL up       0002_orphan:']);
    expect(r.stdout).toMatch(/violates foreign key constraint/);
    expect(r.stderr).toMatch(/verify failed at up of 0002_orphan/);
  });

  test('a file that cannot be loaded is named after the ones before it went up', async () => {
    const r = await verify('verify_load_fails', {
      '0001_a.sql': sqlMigration('CREATE TABLE a (id int);', 'DROP TABLE a;'),
      '0002_broken.js': 'export const up = (pgm) => { pgm.sql(\n',
    });
    expect(r.code).toBe(1);
    expect(r.steps).toEqual(['ok   up       0001_a', 'FAIL up       0002_broken:']);
    expect(r.stderr).toMatch(/verify failed at up of 0002_broken/);
  });

  test('a first migration that fails outside a transaction, after statements that took effect, is not run again', async () => {
    const r = await verify('verify_alone_fails', {
      '0001_half.sql': '-- migrate:no-transaction\n-- Up Migration\nCREATE TABLE a (id int);\nSELECT 1 / 0;\n\n-- Down Migration\nDROP TABLE a;\n',
    });
    expect(r.code).toBe(1);
    expect(r.steps).toEqual(['FAIL up       0001_half:']);
    expect(r.stdout).toMatch(/division by zero/);
    expect(r.stdout).not.toMatch(/already exists/);
  });

  test('a missing down is reached in turn: a later down that leaves objects behind is the first failure', async () => {
    const r = await verify('verify_missing_down', {
      '0001_nodown.sql': '-- Up Migration\nCREATE TABLE a (id int);\n',
      '0002_b.sql': sqlMigration('CREATE TABLE b (id int);', 'DROP TABLE b;'),
      '0003_leaky.sql': sqlMigration('CREATE TABLE c (id int);\nCREATE TABLE c2 (id int);', 'DROP TABLE c;'),
    });
    expect(r.code).toBe(1);
    expect(r.steps).toEqual(['ok   up       0001_nodown', 'ok   up       0002_b', 'ok   up       0003_leaky', 'FAIL down     0003_leaky:']);
    expect(r.stdout).toMatch(/table "c2" is extra/);
  });
});

/**
 * `verify --against-manifest` takes the schema after each first up from the
 * committed manifest: the first up runs as one batch, which must reach the
 * manifest's last schema, and each down is compared with the schema the
 * manifest records before its up. Where the manifest cannot stand for the
 * replay, the replay reads every schema, as without the flag.
 */
describe('verify --against-manifest', () => {
  const snapshotThenVerify = async (name: string, files: Record<string, string>, edit?: (manifest: { revisions: { fingerprint: string }[] }) => void, flags = ['--against-manifest']) => {
    const { target, dir } = await targetAndFolder(name, files);
    const env = cleanEnv({ DATABASE_URL: target.url });
    expect((await runCli(['snapshot', '--dir', dir], { env })).code).toBe(0);
    const path = join(dir, '.schema-fingerprints.json');
    if (edit) {
      const manifest = JSON.parse(await readFile(path, 'utf8'));
      edit(manifest);
      await writeFile(path, JSON.stringify(manifest, null, 2));
    }
    const r = await runCli(['verify', '--json', ...flags, '--dir', dir], { env });
    const result = JSON.parse(r.stdout) as { ok: boolean; compared: string; manifest: string | null; steps: { phase: string; migration: string; ok: boolean; problem?: string; differences?: string[] }[] };
    return { ...r, result, steps: result.steps.map((s) => `${s.ok ? 'ok' : 'FAIL'} ${s.phase} ${s.migration}`) };
  };
  const plain = {
    '0001_a.sql': sqlMigration('CREATE TABLE a (id int);', 'DROP TABLE a;'),
    '0002_b.sql': sqlMigration('CREATE TABLE b (id int PRIMARY KEY);\nCREATE INDEX ON a (id);', 'DROP TABLE b;\nDROP INDEX a_id_idx;'),
  };
  const all = ['ok up 0001_a', 'ok up 0002_b', 'ok down 0002_b', 'ok down 0001_a', 'ok up again 0001_a', 'ok up again 0002_b'];

  test('every down gives the schema the manifest records before its up: verify passes, compared with the manifest', async () => {
    const r = await snapshotThenVerify('verify_recorded', plain);
    expect(r.code).toBe(0);
    expect(r.result).toMatchObject({ ok: true, compared: 'recorded', manifest: null });
    expect(r.steps).toEqual(all);
  });

  test('without it, verify reads the schema after every first up, manifest or not', async () => {
    const r = await snapshotThenVerify('verify_replayed', plain, undefined, []);
    expect(r.code).toBe(0);
    expect(r.result).toMatchObject({ ok: true, compared: 'replayed', manifest: null });
    expect(r.steps).toEqual(all);
  });

  test('a down that leaves objects behind is named, with what it leaves', async () => {
    const r = await snapshotThenVerify('verify_recorded_leaky', {
      ...plain,
      '0003_leaky.sql': sqlMigration('CREATE TABLE c (id int);\nCREATE TABLE c2 (id int);', 'DROP TABLE c;'),
    });
    expect(r.code).toBe(1);
    expect(r.result.compared).toBe('recorded');
    expect(r.steps).toEqual(['ok up 0001_a', 'ok up 0002_b', 'ok up 0003_leaky', 'FAIL down 0003_leaky']);
    expect(r.result.steps.at(-1)).toMatchObject({
      problem: 'down does not restore the schema the manifest records before its up',
      differences: [expect.stringMatching(/table "c2" is extra/)],
    });
    expect(r.stderr).toMatch(/verify failed at down of 0003_leaky/);
  });

  test('without a manifest it reads every schema and fails as plain verify does, in one line, the target untouched', async () => {
    const { target, dir } = await targetAndFolder('verify_recorded_missing', plain);
    const r = await runCli(['verify', '--json', '--against-manifest', '--dir', dir], { env: cleanEnv({ DATABASE_URL: target.url }) });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, compared: 'replayed', manifest: 'missing' });
    expect(r.stderr.split('\n').filter((line) => line.startsWith('migrate: error:'))).toEqual([
      'migrate: error: verify failed: the fingerprint manifest is missing (run migrate snapshot and commit the manifest)',
    ]);
    expect(await target.query(`SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace`)).toEqual([]);
  });

  test('a fingerprint edited by hand is not taken: the replay reads every schema and finds the manifest stale', async () => {
    const r = await snapshotThenVerify('verify_recorded_edited', plain, (manifest) => {
      manifest.revisions[0]!.fingerprint = manifest.revisions[1]!.fingerprint;
    });
    expect(r.code).toBe(1);
    expect(r.result).toMatchObject({ ok: false, compared: 'replayed', manifest: 'recorded fingerprints differ from a replay for 0001_a' });
    expect(r.steps).toEqual(all);
    expect(r.stderr).toMatch(/manifest is stale \(recorded fingerprints differ from a replay for 0001_a\)/);
  });

  test("a first up that does not reach the manifest's last schema: the replay that reads every schema finds the manifest stale", async () => {
    // An up that builds more where a database of some name exists: the manifest is written there, verify runs where it is gone.
    const flag = await createTestDatabase('verify_flag');
    const { target, dir } = await targetAndFolder('verify_recorded_elsewhere', {
      '0001_a.sql': sqlMigration(
        `CREATE TABLE a (id int);\nDO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_catalog.pg_database WHERE datname = '${flag.name}') THEN CREATE TABLE extra (id int); END IF; END $$;`,
        'DROP TABLE IF EXISTS extra;\nDROP TABLE a;',
      ),
      '0002_b.sql': sqlMigration('CREATE TABLE b (id int);', 'DROP TABLE b;'),
    });
    const env = cleanEnv({ DATABASE_URL: target.url });
    expect((await runCli(['snapshot', '--dir', dir], { env })).code).toBe(0);
    await flag.drop();
    const r = await runCli(['verify', '--json', '--against-manifest', '--dir', dir], { env: { ...env, LOG_LEVEL: 'info' } });
    expect(r.code).toBe(1);
    const result = JSON.parse(r.stdout) as { compared: string; manifest: string | null; steps: { ok: boolean }[] };
    expect(result).toMatchObject({ compared: 'replayed', manifest: 'recorded fingerprints differ from a replay for 0001_a, 0002_b' });
    expect(result.steps.every((s) => s.ok)).toBe(true);
    expect(r.stderr).toMatch(/does not reach the manifest's schema; replaying again/);
  });
});
