/**
 * One manifest for every server version (README "Fingerprints across
 * PostgreSQL versions"): manifests written once, on one major, must match
 * the same migrations replayed on the test server, whatever its major from
 * 13 to 18. Run it against each major by pointing TEST_DATABASE_URL at a
 * server of that major (the version matrix does).
 *
 * And manifests of format 1, which an older runner wrote, are still read:
 * reported stale, never compared, their fingerprints computed again.
 */
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { readManifest, findStaleness, modelAt, isCurrentManifest } from '../../src/fingerprints/manifest.js';
import { readMigrationFiles } from '../../src/files/migrationFiles.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { PROJECT_ROOT, cleanEnv, runCli } from '../helpers/processes.js';

const databases: TestDatabase[] = [];
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(databases.map((d) => d.drop()));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function newDatabase(prefix: string): Promise<TestDatabase> {
  const db = await createTestDatabase(prefix);
  databases.push(db);
  return db;
}

async function copyOf(dir: string): Promise<string> {
  const copy = await mkdtemp(join(tmpdir(), 'every-major-'));
  dirs.push(copy);
  await cp(dir, copy, { recursive: true });
  return copy;
}

async function serverMajor(db: TestDatabase): Promise<number> {
  const [row] = await db.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`);
  return Math.floor(Number(row!.v) / 10000);
}

const FOLDERS = [
  { title: 'the example migrations', dir: join(PROJECT_ROOT, 'migrations'), args: [] as string[] },
  { title: 'every kind, with the forms PostgreSQL prints differently between majors', dir: join(PROJECT_ROOT, 'test', 'fixtures', 'every-major', 'migrations'), args: [] },
];

describe('a manifest written on one major matches the same migrations on this one', () => {
  test.each(FOLDERS)('$title: verify finds the committed manifest up to date', async ({ dir, args }) => {
    const db = await newDatabase('every_major');
    const r = await runCli(['verify', '--dir', await copyOf(dir), ...args], { env: cleanEnv({ DATABASE_URL: db.url }) });
    expect({ major: await serverMajor(db), code: r.code, manifest: /^manifest: .*$/m.exec(r.stdout)?.[0] }).toEqual({
      major: await serverMajor(db),
      code: 0,
      manifest: 'manifest: up to date',
    });
  });

  test('graphile-worker 0.16.6 (no downs): a snapshot here writes the committed manifest byte for byte', async () => {
    const db = await newDatabase('every_major_gw');
    const dir = await copyOf(join(PROJECT_ROOT, 'test', 'fixtures', 'graphile-worker', 'sql'));
    const committed = await readFile(join(dir, '.schema-fingerprints.json'), 'utf8');
    await rm(join(dir, '.schema-fingerprints.json'));
    const r = await runCli(['snapshot', '--dir', dir, '--schema', 'graphile_worker'], { env: cleanEnv({ DATABASE_URL: db.url }) });
    expect(r.code).toBe(0);
    expect(await readFile(join(dir, '.schema-fingerprints.json'), 'utf8')).toBe(committed);
  });
});

describe('a manifest of format 1 (an older runner) is read, reported stale, and never compared', () => {
  const FORMAT_1 = join(PROJECT_ROOT, 'test', 'fixtures', 'manifest-format-1', 'schema-fingerprints.json');

  async function exampleWithFormat1(): Promise<string> {
    const dir = await copyOf(join(PROJECT_ROOT, 'migrations'));
    await cp(FORMAT_1, join(dir, '.schema-fingerprints.json'));
    return dir;
  }

  test('read: stale for its format, no recorded model is used', async () => {
    const dir = await exampleWithFormat1();
    const manifest = (await readManifest(dir))!;
    expect(manifest.format).toBe(1);
    expect(isCurrentManifest(manifest)).toBe(false);
    expect(findStaleness(manifest, await readMigrationFiles(dir), 'public')).toMatch(/manifest format 1/);
    expect(modelAt(manifest, '0004_orders_created_at_index')).toBeNull();
  });

  test('check reports it stale rather than drift; a legacy database is recognised by a replay; verify asks for a snapshot', async () => {
    const dir = await exampleWithFormat1();
    const env = (db: TestDatabase) => cleanEnv({ DATABASE_URL: db.url });
    const current = await newDatabase('format1_current');
    expect((await runCli(['auto', '--dir', dir], { env: env(current) })).code).toBe(0);
    const status = JSON.parse((await runCli(['status', '--json', '--dir', dir], { env: env(current) })).stdout);
    expect(status.findings.map((f: { kind: string }) => f.kind)).not.toContain('drift');
    const check = await runCli(['check', '--dir', dir], { env: env(current) });
    expect(check.stdout + check.stderr).toMatch(/manifest format 1/);

    // A database built by hand to 0002: the old fingerprints are not compared; a replay finds the revision.
    const legacy = await newDatabase('format1_legacy');
    const client = new pg.Client({ connectionString: legacy.url });
    await client.connect();
    try {
      await client.query(await readFile(join(dir, '0001_create_users.sql'), 'utf8').then((sql) => sql.split('-- Down Migration')[0]!));
    } finally {
      await client.end();
    }
    const legacyStatus = await runCli(['status', '--json', '--dir', dir, '--log-level', 'info'], { env: env(legacy) });
    expect(legacyStatus.code).toBe(0);
    expect(JSON.parse(legacyStatus.stdout).plan).toMatchObject({ action: 'stamp-then-apply', stampTo: '0001_create_users' });
    expect(legacyStatus.stderr).toMatch(/the fingerprint manifest is stale \(it was written in manifest format 1/);

    const verify = await runCli(['verify', '--dir', dir], { env: env(await newDatabase('format1_verify')) });
    expect(verify.code).toBe(1);
    expect(verify.stdout).toMatch(/manifest: stale \(it was written in manifest format 1 .*\); run migrate snapshot/);
  });

  test('snapshot writes format 2 over it: the committed manifest', async () => {
    const dir = await exampleWithFormat1();
    const db = await newDatabase('format1_snapshot');
    expect((await runCli(['snapshot', '--dir', dir], { env: cleanEnv({ DATABASE_URL: db.url }) })).code).toBe(0);
    expect(await readFile(join(dir, '.schema-fingerprints.json'), 'utf8')).toBe(
      await readFile(join(PROJECT_ROOT, 'migrations', '.schema-fingerprints.json'), 'utf8'),
    );
  });
});
