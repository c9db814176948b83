/**
 * Schema fingerprints through the CLI (README "How it behaves", Fingerprints): legacy
 * databases recognised at the exact revision they are at, refused with the
 * difference when they match none, drift, verify, snapshot.
 */
import { cp, mkdtemp, readFile, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { inspectDatabase } from '../../src/inspectDatabase.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { createMigrationsFolder, sqlMigration, type MigrationsFolder } from '../helpers/migrationsFolder.js';
import { schemaSnapshot } from '../helpers/pgDump.js';
import { PROJECT_ROOT, cleanEnv, runCli } from '../helpers/processes.js';

const GRAPHILE = join(PROJECT_ROOT, 'test', 'fixtures', 'graphile-worker', 'sql');
const SCHEMA = 'graphile_worker';

const databases: TestDatabase[] = [];
async function newDatabase(prefix: string): Promise<TestDatabase> {
  const db = await createTestDatabase(prefix);
  databases.push(db);
  return db;
}
afterAll(async () => {
  await Promise.all(databases.map((d) => d.drop()));
});

const env = (db: TestDatabase) => cleanEnv({ DATABASE_URL: db.url });

/** The schema as pg_dump prints it (or the catalog lists it, test/helpers/pgDump.ts), without the runner's own tables. */
function dumpSchema(db: TestDatabase, schema: string): Promise<string> {
  return schemaSnapshot(db.url, { schema, excludeTables: 'pgmigrations*' });
}

/** Applies SQL files by hand, as someone would without any migration tool. */
async function applyByHand(db: TestDatabase, dir: string, files: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${SCHEMA}`);
    await client.query(`SET search_path TO ${SCHEMA}`);
    for (const file of files) await client.query(await readFile(join(dir, file), 'utf8'));
  } finally {
    await client.end();
  }
}

describe('a real history: graphile-worker 0.16.6 applied by hand at several depths', () => {
  let files: string[];
  let cleanBuild: string;

  beforeAll(async () => {
    files = (await readdir(GRAPHILE)).filter((f) => f.endsWith('.sql')).sort();
    expect(files).toHaveLength(18);
    const clean = await newDatabase('gw_clean');
    const r = await runCli(['auto', '--dir', GRAPHILE, '--schema', SCHEMA], { env: env(clean) });
    expect(r.code).toBe(0);
    cleanBuild = await dumpSchema(clean, SCHEMA);
  });

  test.each([
    [1, '000001', []],
    [5, '000005', []],
    [16, '000016', []],
    [18, '000018', []],
  ])('applied through file %i: legacy, stamped at %s, brought to head', async (depth, stampTo, findings) => {
    const db = await newDatabase(`gw_${depth}`);
    await applyByHand(db, GRAPHILE, files.slice(0, depth));

    const status = await runCli(['status', '--json', '--dir', GRAPHILE, '--schema', SCHEMA], { env: env(db) });
    expect(status.code).toBe(0);
    const doc = JSON.parse(status.stdout);
    expect(doc.state).toBe('legacy');
    expect(doc.plan.stampTo).toBe(stampTo);
    expect(doc.plan.action).toBe(stampTo === '000018' ? 'stamp' : 'stamp-then-apply');
    expect(doc.findings.map((f: { kind: string }) => f.kind)).toEqual(findings);

    const auto = await runCli(['auto', '--dir', GRAPHILE, '--schema', SCHEMA], { env: env(db) });
    expect(auto.code).toBe(0);
    expect(await dumpSchema(db, SCHEMA)).toEqual(cleanBuild);
    const check = await runCli(['check', '--strict', '--dir', GRAPHILE, '--schema', SCHEMA], { env: env(db) });
    expect(check.code).toBe(0);
  });

  // 000010 changes no schema (it drops a default the column does not have): 000009 and 000010 have
  // one fingerprint, and stamping the latest would skip 000010 on a database at 000009. Refused,
  // with the baseline for each; the human's choice then brings it to head.
  test.each([[9], [10]])('applied through file %i: matches 000009 and 000010, refused with a baseline for each', async (depth) => {
    const db = await newDatabase(`gw_${depth}`);
    await applyByHand(db, GRAPHILE, files.slice(0, depth));
    const run = (...args: string[]) => runCli([...args, '--dir', GRAPHILE, '--schema', SCHEMA], { env: env(db) });
    const doc = JSON.parse((await run('status', '--json')).stdout);
    expect(doc).toMatchObject({ state: 'legacy', plan: { action: 'refuse', stampTo: null } });
    expect(doc.findings).toEqual([{ kind: 'ambiguous-match', revisions: ['000009', '000010'], chosen: null, probes: [], decidedBy: [] }]);
    const refused = await run('auto');
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/one of: migrate auto --baseline 000009; migrate auto --baseline 000010 /);
    const auto = await run('auto', '--baseline', depth === 9 ? '000009' : '000010');
    expect(auto.code).toBe(0);
    expect(await dumpSchema(db, SCHEMA)).toEqual(cleanBuild);
    expect((await run('check', '--strict')).code).toBe(0);
  });

  test('without a manifest the fingerprints are computed in a scratch database, and it says so', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gw-nomanifest-'));
    try {
      await cp(GRAPHILE, dir, { recursive: true });
      await unlink(join(dir, '.schema-fingerprints.json'));
      const db = await newDatabase('gw_nomanifest');
      await applyByHand(db, dir, files.slice(0, 7));
      const r = await runCli(['status', '--json', '--dir', dir, '--schema', SCHEMA], { env: env(db) });
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).plan).toMatchObject({ action: 'stamp-then-apply', stampTo: '000007' });
      expect(r.stderr).toMatch(/no fingerprint manifest: computing fingerprints by replaying the migrations in a scratch database/);
      // Nothing is left behind on the server.
      const scratchName = /created scratch database (migrate_scratch_\d+_[0-9a-f]+)/.exec(r.stderr)?.[1];
      expect(scratchName).toBeDefined();
      expect(await db.query(`SELECT datname FROM pg_database WHERE datname = $1`, [scratchName])).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the example migrations', () => {
  let folder: MigrationsFolder;
  beforeEach(async () => {
    folder = await createMigrationsFolder();
  });
  afterEach(async () => {
    await folder.dispose();
  });

  test('the committed manifest is up to date: verify passes', async () => {
    const db = await newDatabase('verify');
    const r = await runCli(['verify', '--dir', folder.dir], { env: env(db) });
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ok {3}down {5}0002_create_orders$/m);
    expect(r.stdout).toMatch(/manifest: up to date/);
    expect(await db.query(`SELECT 1 FROM pg_class WHERE relnamespace = 'public'::regnamespace`)).toEqual([]);
  });

  test('stamp base with a committed manifest: the report says the match was not looked for; the next auto finds it', async () => {
    const db = await newDatabase('stampbase');
    const run = (...args: string[]) => runCli([...args, '--dir', folder.dir], { env: env(db) });
    expect((await run('auto')).code).toBe(0);
    const stamped = await run('stamp', 'base', '--json', '--log-level', 'info');
    expect(stamped.code).toBe(0);
    expect(JSON.parse(stamped.stdout).after).toMatchObject({
      state: 'legacy',
      findings: [{ kind: 'missing-fingerprints', reason: 'the live schema fingerprint was not computed' }],
    });
    const next = await run('auto', '--json');
    expect(next.code).toBe(0);
    expect(JSON.parse(next.stdout)).toMatchObject({ before: { state: 'legacy' }, plan: { action: 'stamp' }, after: { state: 'current' } });
  });

  test('snapshot is deterministic', async () => {
    const db = await newDatabase('snap');
    const committed = await readFile(join(folder.dir, '.schema-fingerprints.json'), 'utf8');
    expect((await runCli(['snapshot', '--dir', folder.dir], { env: env(db) })).code).toBe(0);
    const first = await readFile(join(folder.dir, '.schema-fingerprints.json'), 'utf8');
    expect((await runCli(['snapshot', '--dir', folder.dir], { env: env(db) })).code).toBe(0);
    expect(await readFile(join(folder.dir, '.schema-fingerprints.json'), 'utf8')).toBe(first);
    // One manifest for every major this runs on: byte for byte the committed one, which records no major.
    expect(first).toBe(committed);
    expect(JSON.parse(first).serverMajor).toBeUndefined();
  });

  test('snapshot prints each revision on one line: five changes, then a count (--json lists them all)', async () => {
    const db = await newDatabase('snapsum');
    const many = await createMigrationsFolder({
      '0001_many.sql': Array.from({ length: 7 }, (_, i) => `CREATE TABLE t${i} (id int);`).join('\n'),
      '0002_data.sql': 'SELECT 1;',
    });
    try {
      const r = await runCli(['snapshot', '--dir', many.dir], { env: env(db) });
      expect(r.code).toBe(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines[0]).toMatch(/^0001_many {2}[0-9a-f]{12} {2}table "t0" added; .*; table "t4" added; and 2 more$/);
      expect(lines[1]).toMatch(/^0002_data {2}[0-9a-f]{12} {2}\(no schema change\)$/);
      const json = await runCli(['snapshot', '--json', '--dir', many.dir], { env: env(db) });
      expect(JSON.parse(json.stdout).revisions[0].changes).toHaveLength(7);
    } finally {
      await many.dispose();
    }
  });

  test('a hand-built database with one extra table is refused, untouched, naming the table; --baseline settles it', async () => {
    // Built to 0003 and its history removed: the schema of 0003, as a hand-built database would have it.
    const db = await newDatabase('extra');
    expect((await runCli(['up', '0003_add_user_display_name', '--dir', folder.dir], { env: env(db) })).code).toBe(0);
    await db.query('DROP TABLE pgmigrations, pgmigrations_meta');
    await db.query('CREATE TABLE audit_log (id int)');
    const before = await dumpSchema(db, 'public');

    const refused = await runCli(['auto', '--dir', folder.dir], { env: env(db) });
    expect(refused.code).toBe(3);
    const line = refused.stderr.split('\n').find((l) => l.startsWith('migrate: error:'))!;
    expect(line).toMatch(/matches no recorded revision; nearest is 0003_add_user_display_name, which differs: table "audit_log" is extra in the database/);
    expect(await dumpSchema(db, 'public')).toBe(before);
    expect(await db.query(`SELECT 1 FROM pg_class WHERE relname = 'pgmigrations'`)).toEqual([]);

    const settled = await runCli(['auto', '--baseline', '0003_add_user_display_name', '--dir', folder.dir], { env: env(db) });
    expect(settled.code).toBe(0);
    const status = JSON.parse((await runCli(['status', '--json', '--dir', folder.dir], { env: env(db) })).stdout);
    expect(status).toMatchObject({ state: 'current', current: '0004_orders_created_at_index' });
    // The extra table is still there, and now it is drift.
    expect(status.findings).toEqual([
      { kind: 'drift', revision: '0004_orders_created_at_index', differences: ['table "audit_log" is extra in the database'] },
    ]);
  });

  test('drift on a current database: a finding in status --json, check --strict exits 3, auto refuses with --refuse-on-drift and else does not look', async () => {
    const db = await newDatabase('drift');
    expect((await runCli(['auto', '--dir', folder.dir], { env: env(db) })).code).toBe(0);
    expect((await runCli(['check', '--strict', '--dir', folder.dir], { env: env(db) })).code).toBe(0);
    await db.query('ALTER TABLE users ADD COLUMN nickname text; DROP INDEX orders_created_at_idx');

    const status = JSON.parse((await runCli(['status', '--json', '--dir', folder.dir], { env: env(db) })).stdout);
    expect(status.state).toBe('current');
    expect(status.findings).toHaveLength(1);
    expect(status.findings[0].kind).toBe('drift');
    expect(status.findings[0].differences).toEqual(
      expect.arrayContaining([expect.stringMatching(/column "users"\."nickname" is extra/), expect.stringMatching(/index .*created_at DESC.* is missing/)]),
    );
    expect((await runCli(['check', '--dir', folder.dir], { env: env(db) })).code).toBe(0);
    const strict = await runCli(['check', '--strict', '--dir', folder.dir], { env: env(db) });
    expect(strict.code).toBe(3);
    expect(strict.stdout).toMatch(/finding: drift/);
    // Where the config makes drift refuse, it is a finding that refuses: check fails as auto would refuse.
    const cwd = await mkdtemp(join(tmpdir(), 'cfg-'));
    try {
      await writeFile(join(cwd, 'migrate.config.json'), JSON.stringify({ refuseOnDrift: true }));
      expect((await runCli(['check', '--dir', folder.dir], { cwd, env: env(db) })).code).toBe(1);
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }

    await folder.write('0005_more.sql', sqlMigration('CREATE TABLE more (id int);', 'DROP TABLE more;'));
    const refused = await runCli(['auto', '--refuse-on-drift', '--dir', folder.dir], { env: env(db) });
    expect(refused.code).toBe(3);
    // The line says what differs, and what would settle it (status lists, it settles nothing).
    expect(refused.stderr.split('\n').filter((line) => line.startsWith('migrate: '))).toEqual([
      expect.stringMatching(/^migrate: error: live schema drifted from the recorded schema of \S+: .+ \(to settle it: undo the change by hand, or write the migration that makes it and run migrate snapshot; migrate status lists every difference\)$/),
    ]);
    // Without --refuse-on-drift, auto does not read the live schema (README "The states", findings): it applies, and says nothing of drift.
    const applied = await runCli(['auto', '--log-level', 'debug', '--dir', folder.dir], { env: env(db) });
    expect(applied.code).toBe(0);
    expect(applied.stderr).not.toMatch(/drift/);
    expect(await db.query(`SELECT 1 FROM pg_tables WHERE tablename = 'more'`)).toHaveLength(1);
  });

  test('inspectDatabase reports drift unless asked not to read the schema (a readiness probe)', async () => {
    const db = await newDatabase('drift_lib');
    expect((await runCli(['auto', '--dir', folder.dir], { env: env(db) })).code).toBe(0);
    await db.query('ALTER TABLE users ADD COLUMN nickname text');
    const options = { databaseUrl: db.url, dir: folder.dir, env: {} };
    expect((await inspectDatabase(options)).findings.map((f) => f.kind)).toEqual(['drift']);
    const probe = await inspectDatabase({ ...options, checkDrift: false });
    expect([probe.state, probe.findings]).toEqual(['current', []]);
  });

  test('verify fails naming the migration whose down does not undo its up', async () => {
    await folder.write('0005_leaky.sql', sqlMigration('CREATE TABLE leaky (id int); CREATE INDEX leaky_id ON leaky (id);', 'DROP INDEX leaky_id;'));
    const db = await newDatabase('verify_bad');
    const r = await runCli(['verify', '--dir', folder.dir], { env: env(db) });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL down {5}0005_leaky: down does not restore the schema before up$/m);
    expect(r.stdout).toMatch(/table "leaky" is extra in the database/);
    expect(r.stderr).toMatch(/verify failed at down of 0005_leaky/);
  });

  test('a stale manifest is reported by check and verify; it fails check --strict and verify only', async () => {
    const db = await newDatabase('stale');
    expect((await runCli(['auto', '--dir', folder.dir], { env: env(db) })).code).toBe(0);
    await folder.write('0005_new.sql', sqlMigration('CREATE TABLE n (id int);', 'DROP TABLE n;'));
    expect((await runCli(['auto', '--dir', folder.dir], { env: env(db) })).code).toBe(0);
    // docs/CONTRACT.md "Commands": check exits 0 when current with no findings that refuse.
    const check = await runCli(['check', '--dir', folder.dir], { env: env(db) });
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(/manifest: stale \(no fingerprint for 0005_new\)/);
    const strict = await runCli(['check', '--strict', '--dir', folder.dir], { env: env(db) });
    expect(strict.code).toBe(1);
    expect(strict.stdout).toMatch(/manifest: stale \(no fingerprint for 0005_new\)/);
    const verify = await runCli(['verify', '--dir', folder.dir], { env: env(db) });
    expect(verify.code).toBe(1);
    expect(verify.stderr).toMatch(/manifest is stale \(no fingerprint for 0005_new\)/);
    expect((await runCli(['snapshot', '--dir', folder.dir], { env: env(db) })).code).toBe(0);
    expect((await runCli(['check', '--strict', '--dir', folder.dir], { env: env(db) })).code).toBe(0);
  });

  // Scratch databases on the target's own server (--scratch target) are created by the target's role.
  test('a role that may not create databases: snapshot --scratch target exits 2 saying what privilege is missing', async () => {
    const db = await newDatabase('nocreatedb');
    const role = `nocreate_${db.name.slice(-6)}`;
    await db.query(`CREATE ROLE ${role} LOGIN NOCREATEDB`);
    try {
      const url = new URL(db.url);
      url.username = role;
      const r = await runCli(['snapshot', '--scratch', 'target', '--dir', folder.dir, '--database-url', url.toString()], { env: cleanEnv() });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`role ${role} may not create databases.*CREATEDB`));
    } finally {
      await db.query(`DROP ROLE ${role}`);
    }
  });

  test('without a manifest and without CREATEDB on the target\'s server (--scratch target), a legacy database is refused with missing-fingerprints', async () => {
    await unlink(join(folder.dir, '.schema-fingerprints.json'));
    const db = await newDatabase('nofp');
    await db.query('CREATE TABLE users (id int)');
    const role = `nofp_${db.name.slice(-6)}`;
    await db.query(`CREATE ROLE ${role} LOGIN NOCREATEDB`);
    try {
      const url = new URL(db.url);
      url.username = role;
      const r = await runCli(['status', '--json', '--scratch', 'target', '--dir', folder.dir, '--database-url', url.toString()], { env: cleanEnv() });
      expect(r.code).toBe(0);
      const doc = JSON.parse(r.stdout);
      expect(doc.findings.map((f: { kind: string }) => f.kind)).toEqual(['missing-fingerprints']);
      expect(doc.plan).toMatchObject({ action: 'refuse', settleCommand: expect.stringMatching(/migrate snapshot/) });
      expect(r.stderr).toMatch(/may not create databases/);
    } finally {
      await db.query(`DROP ROLE ${role}`);
    }
  });
});

