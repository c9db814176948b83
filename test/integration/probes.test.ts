/**
 * A legacy schema that matches several revisions (data-only migrations
 * between them) is a human decision, or the migrations' probes settle it:
 * through the CLI as a process on real PostgreSQL.
 */
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, closeQuietly } from '../../src/db/connection.js';
import { createSilentLogger } from '../../src/config/logger.js';
import { readMigrationFiles } from '../../src/files/migrationFiles.js';
import { askProbes, ProbeError } from '../../src/db/probes.js';
import { resolveConnection } from '../../src/config/settings.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { createMigrationsFolder, sqlMigration, type MigrationsFolder } from '../helpers/migrationsFolder.js';
import { cleanEnv, runCli } from '../helpers/processes.js';

let db: TestDatabase;
let folder: MigrationsFolder;

const PROBE_X = "-- migrate:probe SELECT EXISTS (SELECT 1 FROM settings WHERE key = 'x')\n";
const PROBE_Y = "/* migrate:probe\nSELECT EXISTS (\n  SELECT 1 FROM settings WHERE key = 'y')\n*/\n";
const MIGRATIONS = {
  '0001_settings.sql': sqlMigration('CREATE TABLE settings (key text PRIMARY KEY, value text);', 'DROP TABLE settings;'),
  '0002_x.sql': sqlMigration("INSERT INTO settings VALUES ('x', '1');", "DELETE FROM settings WHERE key = 'x';"),
  '0003_y.sql': sqlMigration("INSERT INTO settings VALUES ('y', '1');", "DELETE FROM settings WHERE key = 'y';"),
  '0004_other.sql': sqlMigration('CREATE TABLE other (id int);', 'DROP TABLE other;'),
};

beforeEach(async () => {
  db = await createTestDatabase('probes');
  folder = await createMigrationsFolder(MIGRATIONS);
  // Built by hand through 0002_x: the schema is that of 0001, 0002 and 0003 alike.
  await db.query("CREATE TABLE settings (key text PRIMARY KEY, value text); INSERT INTO settings VALUES ('x', '1')");
});
afterEach(async () => {
  await db.drop();
  await folder.dispose();
});

const migrate = (...args: string[]) => runCli([...args, '--dir', folder.dir], { env: cleanEnv({ DATABASE_URL: db.url }) });
const settings = async () => (await db.query<{ key: string }>('SELECT key FROM settings ORDER BY key')).map((r) => r.key);
const relations = async () =>
  (await db.query<{ r: string }>(`SELECT relname AS r FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' ORDER BY 1`)).map((r) => r.r);
const history = async () => (await db.query<{ name: string }>('SELECT name FROM pgmigrations ORDER BY run_on, id')).map((r) => r.name);

describe('without probes', () => {
  test('auto refuses (exit 3), listing the candidates and the auto --baseline of each; the database stays as it was', async () => {
    const status = JSON.parse((await migrate('status', '--json')).stdout);
    expect(status).toMatchObject({
      state: 'legacy',
      plan: { action: 'refuse', stampTo: null, apply: [] },
      findings: [{ kind: 'ambiguous-match', revisions: ['0001_settings', '0002_x', '0003_y'], chosen: null, probes: [], decidedBy: [] }],
    });
    const r = await migrate('auto');
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/migrate: error: legacy schema matches 0001_settings, 0002_x, 0003_y \(the migrations between them change data, not the schema\)/);
    expect(r.stderr).toMatch(
      /to settle it: decide how many of them ran, then one of: migrate auto --baseline 0001_settings; migrate auto --baseline 0002_x; migrate auto --baseline 0003_y /,
    );
    expect(await relations()).toEqual(['settings']);
    expect(await settings()).toEqual(['x']);

    const decided = await migrate('auto', '--baseline', '0002_x');
    expect(decided.code).toBe(0);
    expect(await history()).toEqual(['0001_settings', '0002_x', '0003_y', '0004_other']);
    expect(await settings()).toEqual(['x', 'y']);
  });

  test('ambiguousLegacy "latest" in the config keeps stamping the latest', async () => {
    const config = join(folder.dir, '..', `${db.name}.config.json`);
    await writeFile(config, JSON.stringify({ ambiguousLegacy: 'latest' }));
    try {
      const r = await migrate('auto', '--json', '--config', config);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({
        plan: { action: 'stamp-then-apply', stampTo: '0003_y', apply: ['0004_other'] },
        before: { findings: [{ kind: 'ambiguous-match', chosen: '0003_y', decidedBy: [] }] },
      });
      // What "latest" means: 0003_y's row is not there. Those who set it chose so.
      expect(await settings()).toEqual(['x']);
      await writeFile(config, JSON.stringify({ ambiguousLegacy: 'first' }));
      const bad = await migrate('status', '--config', config);
      expect([bad.code, bad.stderr]).toEqual([2, expect.stringMatching(/key "ambiguousLegacy" must be equal to one of the allowed values/)]);
    } finally {
      await rm(config, { force: true });
    }
  });
});

describe('SQL probes', () => {
  beforeEach(async () => {
    await folder.write('0002_x.sql', PROBE_X + MIGRATIONS['0002_x.sql']);
    await folder.write('0003_y.sql', PROBE_Y + MIGRATIONS['0003_y.sql']);
  });

  test('status (read only) asks them and says which decided; auto stamps that revision and applies the rest', async () => {
    const status = await migrate('status', '--json');
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      state: 'legacy',
      plan: { action: 'stamp-then-apply', stampTo: '0002_x', apply: ['0003_y', '0004_other'] },
      findings: [{
        kind: 'ambiguous-match',
        chosen: '0002_x',
        decidedBy: ['0002_x', '0003_y'],
        probes: [{ name: '0002_x', kind: 'sql', present: true }, { name: '0003_y', kind: 'sql', present: false }],
      }],
    });
    const text = (await migrate('status')).stdout;
    expect(text).toMatch(/^plan: +stamp-then-apply: legacy schema matches 0001_settings, 0002_x, 0003_y .*; the probe of 0002_x says present, the probe of 0003_y says absent: 0002_x: stamp it, then apply 2 migrations$/m);
    expect(text).toMatch(/^finding: +ambiguous-match: .* \(stamping 0002_x, as the probes of 0002_x and 0003_y say\); probes: 0002_x: present, 0003_y: absent$/m);
    expect(await relations()).toEqual(['settings']);

    const r = await migrate('auto');
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/probe of 0003_y \(0003_y\.sql:1\) says absent/);
    expect(await history()).toEqual(['0001_settings', '0002_x', '0003_y', '0004_other']);
    expect(await settings()).toEqual(['x', 'y']);
  });

  test.each([
    ['writes', "-- migrate:probe WITH gone AS (DELETE FROM settings RETURNING 1) SELECT count(*) = 0 FROM gone", /the probe of 0002_x\.sql failed: cannot execute SELECT in a read-only transaction/],
    ['answers a number', '-- migrate:probe SELECT 1', /the probe of 0002_x\.sql must return one row of one boolean, not 1/],
    ['answers no row', '-- migrate:probe SELECT true WHERE false', /the probe of 0002_x\.sql must return one row of one boolean, not 0 rows/],
    ['is two statements', '-- migrate:probe COMMIT; DELETE FROM settings; SELECT true', /the probe of 0002_x\.sql failed: cannot insert multiple commands into a prepared statement/],
    ['has a syntax error', '-- migrate:probe SELEC true', /the probe of 0002_x\.sql failed: syntax error at or near "SELEC"/],
  ])('a probe that %s is the file\'s error (exit 2, one line), and changes nothing', async (_title, probe, message) => {
    await folder.write('0002_x.sql', `${probe}\n${MIGRATIONS['0002_x.sql']}`);
    for (const command of ['status', 'auto']) {
      const r = await migrate(command);
      expect([command, r.code]).toEqual([command, 2]);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.split('\n').filter((line) => line.startsWith('migrate: error:'))).toHaveLength(1);
    }
    expect(await settings()).toEqual(['x']);
    expect(await relations()).toEqual(['settings']);
  });

  test('a probe runs read only with statement_timeout and the managed schema, and leaves the session as it was', async () => {
    await folder.write('0002_x.sql', `-- migrate:probe SELECT pg_sleep(5) IS NULL\n${MIGRATIONS['0002_x.sql']}`);
    const target = resolveConnection(db.url, {}, undefined)!;
    const client = await connect(target, { waitTimeoutSeconds: 0, idlesLong: false });
    try {
      const files = await readMigrationFiles(folder.dir);
      const ask = (names: string[], timeoutMs?: number) =>
        askProbes(client, files, names, { schema: 'public', runCode: false, logger: createSilentLogger(), ...(timeoutMs !== undefined && { timeoutMs }) });
      const timedOut = ask(['0002_x'], 200);
      await expect(timedOut).rejects.toBeInstanceOf(ProbeError);
      await expect(timedOut).rejects.toThrow(/^the probe of 0002_x\.sql failed: it ran past 200 ms$/);
      expect(await ask(['0003_y', '0004_other'])).toEqual([{ name: '0003_y', kind: 'sql', present: false }]);
      const { rows } = await client.query<{ path: string; timeout: string; readOnly: string }>(
        `SELECT current_setting('search_path') AS path, current_setting('statement_timeout') AS timeout, current_setting('transaction_read_only') AS "readOnly"`,
      );
      expect(rows).toEqual([{ path: 'pg_catalog, pg_temp', timeout: '0', readOnly: 'off' }]);
    } finally {
      await closeQuietly(client);
    }
  });
});

describe('JS/TS probes', () => {
  test('read-only commands never import the file to ask it; auto does, and it decides', async () => {
    const marker = join(folder.dir, '..', `${db.name}.imported`);
    await folder.remove('0003_y.sql');
    await folder.write(
      '0003_y.js',
      `import { writeFileSync } from 'node:fs';\n` +
        `writeFileSync(${JSON.stringify(marker)}, 'imported');\n` +
        `export function up(pgm) { pgm.sql("INSERT INTO settings VALUES ('y', '1')"); }\n` +
        `export function down(pgm) { pgm.sql("DELETE FROM settings WHERE key = 'y'"); }\n` +
        `export async function probe(db) { const { rows } = await db.query("SELECT EXISTS (SELECT 1 FROM settings WHERE key = $1) AS present", ['y']); return rows[0].present; }\n`,
    );
    await folder.write('0002_x.sql', PROBE_X + MIGRATIONS['0002_x.sql']);
    // A committed manifest, so no replay imports the file either.
    expect((await migrate('snapshot')).code).toBe(0);
    await rm(marker, { force: true });
    try {
      const status = await migrate('status', '--json');
      expect(status.code).toBe(0);
      expect(existsSync(marker)).toBe(false);
      const doc = JSON.parse(status.stdout);
      expect(doc).toMatchObject({ state: 'legacy', plan: { action: 'refuse' } });
      expect(doc.findings[0].probes).toEqual([
        { name: '0002_x', kind: 'sql', present: true },
        { name: '0003_y', kind: 'code', present: null, unanswered: '0003_y.js is JS/TS, whose probe read-only commands never run (migrate auto does)' },
      ]);
      expect(doc.plan.reason).toMatch(/the probe of 0002_x says present, which leaves 0002_x, 0003_y; the probe of 0003_y was not asked/);
      expect((await migrate('check')).code).toBe(1);
      expect(existsSync(marker)).toBe(false);

      const r = await migrate('auto', '--json');
      expect(r.code).toBe(0);
      expect(existsSync(marker)).toBe(true);
      expect(JSON.parse(r.stdout)).toMatchObject({
        plan: { action: 'stamp-then-apply', stampTo: '0002_x', apply: ['0003_y', '0004_other'] },
        before: { findings: [{ kind: 'ambiguous-match', chosen: '0002_x', decidedBy: ['0002_x', '0003_y'] }] },
      });
      expect(await settings()).toEqual(['x', 'y']);
    } finally {
      await rm(marker, { force: true });
    }
  });
});
