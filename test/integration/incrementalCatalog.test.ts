/**
 * The incremental reader (src/schema/incrementalCatalog.ts) against full
 * reads: after every migration of real histories and of a corpus of
 * renames and alters, the model read incrementally equals the one a full
 * read gives, and so does the fingerprint. Correctness never depends on the
 * shortcut; these show the shortcut is taken (few full reads) and right.
 * A full and an incremental snapshot write the same manifest.
 */
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { executeBatch, runBatch } from '../../src/db/execute.js';
import { HistoryWriteError } from '../../src/core/errors.js';
import { createSilentLogger } from '../../src/config/logger.js';
import { readMigrationFiles } from '../../src/files/migrationFiles.js';
import { readSchemaModel } from '../../src/schema/catalog.js';
import { fingerprintSchema } from '../../src/schema/fingerprint.js';
import { describeDifference, diffSchemas } from '../../src/schema/diff.js';
import { IncrementalSchemaReader } from '../../src/schema/incrementalCatalog.js';
import { buildManifest, readManifest } from '../../src/fingerprints/manifest.js';
import { applyAndRead, applyEachAndRead, type ReplayHooks } from '../../src/fingerprints/manifestBuilder.js';
import type { SchemaModel } from '../../src/schema/model.js';
import type { MigrationFile } from '../../src/core/types.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { PROJECT_ROOT, cleanEnv, runCli } from '../helpers/processes.js';
import { sqlMigration } from '../helpers/migrationsFolder.js';

const databases: TestDatabase[] = [];
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(databases.map((d) => d.drop()));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function connected(prefix: string, keep = true): Promise<{ db: TestDatabase; client: pg.Client }> {
  const db = await createTestDatabase(prefix);
  if (keep) databases.push(db);
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  return { db, client };
}

const RUNNER_TABLES = ['pgmigrations', 'pgmigrations_meta'];

function fullRead(client: pg.Client, schema: string): Promise<SchemaModel> {
  return readSchemaModel(client, { schema, excludeTables: RUNNER_TABLES });
}

/** What a batch sends with each BEGIN (BatchOptions.onBegin). */
type OnBegin = { sql(): string; take(value: unknown): void };

/**
 * A step of a comparison. `run` is given `beforeCommit` where the step is a
 * batch of migrations (it reads inside the batch's transaction, as a replay
 * does: BatchOptions.beforeCommit), and `onBegin` where the reader takes a
 * baseline at each BEGIN (BatchOptions.onBegin); other steps are plain SQL.
 */
interface Step {
  readonly label: string;
  readonly run: (beforeCommit: () => Promise<void>, onBegin?: OnBegin) => Promise<unknown>;
  readonly batch?: true;
}

/**
 * After each step, the incremental model must equal a full read's; returns
 * the reader's counts. `inside`: the incremental read runs in the step's own
 * transaction before its COMMIT (how snapshot and verify read:
 * IncrementalSchemaReader.read('ending')), plain SQL steps being wrapped in
 * BEGIN … COMMIT for it; else after it, in a transaction of its own.
 * `baseline` (with `inside`): each BEGIN also takes the reader's baseline
 * (IncrementalSchemaReader.baselineSql), so that the read before COMMIT
 * reads only the catalogs the transaction changed.
 */
async function compareAfterEachStep(client: pg.Client, schema: string, steps: readonly Step[], inside = false, baseline = false) {
  const reader = new IncrementalSchemaReader(client, { schema, excludeTables: RUNNER_TABLES });
  const mismatches: { step: string; differences: string[] }[] = [];
  const fullReads: string[] = [];
  let reads = 0;
  /**
   * `inside`: the model read inside the step's transaction, and whether that
   * read was a full one; `fullInside`: the full read made there too.
   */
  const check = async (label: string, readInside?: { model: SchemaModel; full: boolean }, fullInside?: SchemaModel) => {
    const before = reader.stats.full;
    const incremental = readInside?.model ?? (reads++, await reader.read());
    if (readInside ? readInside.full : reader.stats.full > before) fullReads.push(label);
    const full = fullInside ?? (await fullRead(client, schema));
    if (fingerprintSchema(incremental) !== fingerprintSchema(full) || JSON.stringify(incremental) !== JSON.stringify(full)) {
      mismatches.push({ step: label, differences: diffSchemas(full, incremental).map(describeDifference) });
    }
  };
  await check('base');
  /** Steps of plain SQL with a baseline: the next one's BEGIN went with the last COMMIT. */
  let begun = false;
  for (const [i, step] of steps.entries()) {
    if (!inside) {
      await step.run(async () => undefined);
      await check(step.label);
      continue;
    }
    let model: SchemaModel | null = null;
    let full = false;
    const readInside = async () => {
      const before = reader.stats.full;
      reads++;
      model = await reader.read('ending');
      full ||= reader.stats.full > before;
    };
    const onBegin: OnBegin | undefined = baseline ? { sql: () => reader.baselineSql(), take: (value) => reader.takeBaseline(value) } : undefined;
    if (step.batch) await step.run(readInside, onBegin);
    else if (onBegin) {
      // As a replay's batch does (BatchOptions.commitEach): read in full inside the transaction too, and send
      // each COMMIT with the next BEGIN, so that the backend is never idle outside a transaction between
      // steps, where it may send its counts to the shared statistics (every 0.5 s before PostgreSQL 15).
      if (!begun) onBegin.take(((await client.query(`BEGIN; ${onBegin.sql()}`)) as unknown as pg.QueryResult[])[1]!.rows[0]!.counts);
      await step.run(async () => undefined);
      await readInside();
      const fullInside = await readSchemaModel(client, { schema, excludeTables: RUNNER_TABLES, transaction: 'existing' });
      begun = i + 1 < steps.length && steps[i + 1]!.batch !== true;
      if (begun) onBegin.take(((await client.query(`COMMIT; BEGIN; ${onBegin.sql()}`)) as unknown as pg.QueryResult[])[2]!.rows[0]!.counts);
      else await client.query('COMMIT');
      expect(model).not.toBeNull();
      await check(step.label, { model: model!, full }, fullInside);
      continue;
    } else {
      await client.query('BEGIN');
      await step.run(async () => undefined);
      await readInside();
      await client.query('COMMIT');
    }
    // A batch reads before each of its COMMITs: one that never committed would leave nothing read.
    expect(model).not.toBeNull();
    await check(step.label, { model: model!, full });
  }
  expect(mismatches).toEqual([]);
  return { ...reader.stats, fullReads, reads };
}

/** A batch's options for the tests' replays: no lock timeout, no retries, nothing logged. */
function batchOptionsOf(client: pg.Client, schema = 'public') {
  return {
    db: client,
    where: { schema, migrationsSchema: schema, table: 'pgmigrations' },
    logger: createSilentLogger(),
    ddlLockTimeoutMs: 0,
    ddlLockRetries: 0,
    appliedBy: 'test',
  };
}

function migrationSteps(client: pg.Client, files: readonly MigrationFile[], schema: string, direction: 'up' | 'down' = 'up'): Step[] {
  const options = batchOptionsOf(client, schema);
  const ordered = direction === 'up' ? files : [...files].reverse();
  return ordered.map((file) => ({
    label: `${direction} ${file.name}`,
    run: (beforeCommit: () => Promise<void>, onBegin?: OnBegin) => executeBatch(direction, [file], files, { ...options, beforeCommit, ...(onBegin && { onBegin }) }),
    batch: true as const,
  }));
}

const FOLDERS = [
  { title: 'the example migrations', dir: join(PROJECT_ROOT, 'migrations'), schema: 'public', down: true },
  { title: 'the hostile-schema fixture', dir: join(PROJECT_ROOT, 'test', 'fixtures', 'hostile-schema'), schema: 'public', down: true },
  { title: 'the node-pg-migrate traps fixture', dir: join(PROJECT_ROOT, 'test', 'fixtures', 'node-pg-migrate-traps', 'migrations'), schema: 'public', down: false },
];

describe('incremental and full reads give the same model after every migration', () => {
  test.each(FOLDERS)('$title (up, then down)', async ({ dir, schema, down }) => {
    const { client, db } = await connected('incremental_folder', false);
    const other = await createTestDatabase('incremental_roles');
    databases.push(other);
    // The traps fixture makes roles, which are the server's: a prefix of this run's own, dropped after.
    const prefix = `incr_${randomBytes(3).toString('hex')}`;
    process.env.COMPAT_ROLE_PREFIX = prefix;
    try {
      // The hostile fixture's traps record into a schema of their own.
      await client.query(`CREATE SCHEMA traps; CREATE TABLE traps.hits (trap text, application_name text, query text); CREATE SEQUENCE traps.fired`);
      const files = await readMigrationFiles(dir);
      const steps = [...migrationSteps(client, files, schema), ...(down ? migrationSteps(client, files, schema, 'down') : [])];
      const stats = await compareAfterEachStep(client, schema, steps, true, true);
      // The baseline is taken and used (a few scans read everything: the counts were sent meanwhile, or a read is full).
      expect(stats.ranged).toBeGreaterThan(steps.length / 2);
      // Every read was one or the other; a batch that commits more than once (a migration that runs alone) reads at each commit.
      expect(stats.full + stats.incremental).toBe(stats.reads);
      expect(stats.reads).toBeGreaterThanOrEqual(steps.length + 1);
    } finally {
      const roles = await client.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1)', [`${prefix}_`]);
      for (const { rolname } of roles.rows) await client.query(`DROP OWNED BY ${pg.escapeIdentifier(rolname)}`);
      await client.end();
      await db.drop();
      for (const { rolname } of roles.rows) await other.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(rolname)}`);
      delete process.env.COMPAT_ROLE_PREFIX;
    }
  });

  test('graphile-worker 0.16.6, its 18 migrations one by one', async () => {
    const { client } = await connected('incremental_graphile');
    try {
      const dir = join(PROJECT_ROOT, 'test', 'fixtures', 'graphile-worker', 'sql');
      const files = (await import('node:fs/promises')).readdir(dir);
      const names = (await files).filter((f) => f.endsWith('.sql')).sort();
      // The schema does not exist at the first read: its creation is a step too.
      const steps = [{ label: 'CREATE SCHEMA', run: () => client.query('CREATE SCHEMA graphile_worker') }, ...names.map((name) => ({
        label: name,
        run: async () => {
          await client.query('SET search_path TO graphile_worker');
          await client.query(await readFile(join(dir, name), 'utf8'));
          await client.query('RESET search_path');
        },
      }))];
      const stats = await compareAfterEachStep(client, 'graphile_worker', steps);
      expect(stats.incremental).toBeGreaterThan(0);
    } finally {
      await client.end();
    }
  });
});

/** Each statement changes what other objects' deparsed text says, or leaves a trace only outside the object's own row. */
const RENAMES_AND_ALTERS = [
  `CREATE TABLE a (id int PRIMARY KEY, v text, n int)`,
  `CREATE VIEW va AS SELECT id, v FROM a WHERE n > 0`,
  `ALTER TABLE a RENAME TO b`,
  `ALTER TABLE b RENAME COLUMN v TO w`,
  `CREATE TABLE c (id int REFERENCES b (id), note text)`,
  `ALTER TABLE b RENAME TO d`,
  `CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$`,
  `CREATE TRIGGER d_touch BEFORE UPDATE ON d FOR EACH ROW EXECUTE FUNCTION touch()`,
  `ALTER FUNCTION touch() RENAME TO touched`,
  `ALTER TABLE d ENABLE ROW LEVEL SECURITY`,
  `CREATE POLICY d_positive ON d USING (id > 0)`,
  // A new table with every kind of child at once: each is a new row of its catalog, which must be read.
  `CREATE TABLE guarded (id int PRIMARY KEY CHECK (id > 0), v text); CREATE INDEX guarded_v ON guarded (v);
   CREATE POLICY guarded_own ON guarded USING (id > 0);
   CREATE TRIGGER guarded_touch BEFORE UPDATE ON guarded FOR EACH ROW EXECUTE FUNCTION touched();
   CREATE RULE guarded_keep AS ON DELETE TO guarded DO INSTEAD NOTHING`,
  `ALTER TABLE d RENAME COLUMN id TO ident`,
  `CREATE SEQUENCE s`,
  `ALTER TABLE c ADD COLUMN k int DEFAULT nextval('s')`,
  `ALTER SEQUENCE s RENAME TO s2`,
  `ALTER SEQUENCE s2 OWNED BY c.k`,
  `ALTER SEQUENCE s2 OWNED BY NONE`,
  `CREATE TYPE mood AS ENUM ('sad', 'ok')`,
  `ALTER TABLE c ADD COLUMN m mood`,
  `ALTER TYPE mood RENAME TO feeling`,
  `ALTER TYPE feeling ADD VALUE 'happy'`,
  `ALTER TYPE feeling RENAME VALUE 'sad' TO 'blue'`,
  `CREATE DOMAIN positive AS int CHECK (VALUE > 0)`,
  `ALTER TABLE c ADD COLUMN p positive`,
  `ALTER DOMAIN positive RENAME TO strictly_positive`,
  `COMMENT ON COLUMN c.note IS 'free text'`,
  `COMMENT ON COLUMN c.note IS NULL`,
  `COMMENT ON TABLE c IS 'children'`,
  `CREATE INDEX c_note_idx ON c (lower(note))`,
  `COMMENT ON INDEX c_note_idx IS 'search'`,
  `ALTER INDEX c_note_idx RENAME TO c_note_lower_idx`,
  `DROP INDEX c_note_lower_idx`,
  `ALTER TABLE c ALTER COLUMN note SET STATISTICS 200`,
  `ALTER TABLE c ALTER COLUMN note SET STORAGE EXTERNAL`,
  `ALTER TABLE c REPLICA IDENTITY FULL`,
  `CREATE UNIQUE INDEX d_w_idx ON d (w)`,
  `ALTER TABLE d CLUSTER ON d_w_idx`,
  `ALTER TABLE d SET WITHOUT CLUSTER`,
  `CREATE SCHEMA other`,
  `CREATE TABLE other.t (id int)`,
  `CREATE VIEW vo AS SELECT id FROM other.t`,
  `ALTER TABLE other.t RENAME TO t2`,
  `ALTER TABLE other.t2 SET SCHEMA public`,
  `CREATE STATISTICS c_stats (ndistinct) ON k, note FROM c`,
  `ALTER TABLE c RENAME TO e`,
  `ALTER STATISTICS c_stats SET STATISTICS 50`,
  `CREATE RULE e_keep AS ON DELETE TO e DO INSTEAD NOTHING`,
  `ALTER TABLE e DISABLE RULE e_keep`,
  `DROP RULE e_keep ON e`,
  `CREATE TABLE parent (id int, at date) PARTITION BY RANGE (at)`,
  `CREATE TABLE child (id int, at date)`,
  `ALTER TABLE parent ATTACH PARTITION child FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')`,
  `ALTER TABLE parent DETACH PARTITION child`,
  `CREATE TABLE base_t (x int)`,
  `ALTER TABLE child ADD COLUMN x int`,
  `ALTER TABLE child INHERIT base_t`,
  `ALTER TABLE child NO INHERIT base_t`,
  `CREATE AGGREGATE total(int) (SFUNC = int4pl, STYPE = int, INITCOND = '0')`,
  `ALTER AGGREGATE total(int) RENAME TO grand_total`,
  `CREATE TEXT SEARCH CONFIGURATION my_ts (COPY = simple)`,
  `ALTER TEXT SEARCH CONFIGURATION my_ts DROP MAPPING FOR email`,
  `CREATE COLLATION my_c (locale = 'C')`,
  `ALTER TABLE e ADD COLUMN label text COLLATE my_c`,
  `ALTER COLLATION my_c RENAME TO my_collation`,
  `ALTER TABLE d RENAME CONSTRAINT a_pkey TO d_primary`,
  // Named like pg_catalog's: its overloads can make calls elsewhere print qualified (read in full).
  `CREATE FUNCTION lower(varchar) RETURNS text LANGUAGE sql AS 'SELECT pg_catalog.lower($1::text)'`,
  `DROP FUNCTION lower(varchar)`,
  `CREATE OPERATOR === (LEFTARG = int, RIGHTARG = int, FUNCTION = int4eq)`,
  `DROP VIEW va`,
  `ALTER TABLE e DROP COLUMN note`,
  `DROP TABLE e CASCADE`,
  `DROP SCHEMA other CASCADE`,
];

describe('incremental and full reads give the same model after each rename and alter', () => {
  test.each([
    ['read after each commit', false, false],
    ['read inside each transaction, before its commit', true, false],
    ['read inside each transaction, before its commit, with the counts taken at its BEGIN', true, true],
  ])('a corpus of statements, one at a time: %s', async (_how, inside, baseline) => {
    const { client } = await connected('incremental_corpus');
    try {
      await client.query('CREATE SCHEMA app');
      const steps = RENAMES_AND_ALTERS.map((sql) => ({
        label: sql,
        run: async () => {
          await client.query('SET search_path TO app');
          try {
            await client.query(sql);
          } finally {
            await client.query('RESET search_path');
          }
        },
      }));
      const stats = await compareAfterEachStep(client, 'app', steps, inside, baseline);
      if (baseline) {
        expect(stats.ranged).toBeGreaterThan(steps.length / 2);
        // Rows inserted for old objects (a column added to an old table) are not in the range of new OIDs: read again in full.
        expect(stats.rangedAgain).toBeGreaterThan(0);
      }
      // The shortcut is taken: full reads only first, where the schema appears and where a pg_catalog name is overloaded.
      expect(stats.fullReads).toEqual([
        'base',
        `CREATE FUNCTION lower(varchar) RETURNS text LANGUAGE sql AS 'SELECT pg_catalog.lower($1::text)'`,
        'DROP FUNCTION lower(varchar)',
        'CREATE OPERATOR === (LEFTARG = int, RIGHTARG = int, FUNCTION = int4eq)',
      ]);
    } finally {
      await client.end();
    }
  });
});

describe('incremental and full reads give the same model after drops in a large schema', () => {
  // Deleted rows are looked for among the newest first (64, then 1,024, then all): drops of the newest,
  // of one in the middle and of the oldest of some 1,500 catalog rows each settle at another stage.
  test('300 tables, then drops of the newest, a middle and the oldest', async () => {
    const { client } = await connected('incremental_drops');
    try {
      await client.query('CREATE SCHEMA app');
      const create = Array.from({ length: 300 }, (_, i) => `CREATE TABLE app.t${i} (id int PRIMARY KEY, v text); COMMENT ON TABLE app.t${i} IS 'table ${i}';`).join('\n');
      const steps = [
        { label: 'create 300 tables', run: () => client.query(create) },
        { label: 'drop the newest', run: () => client.query('DROP TABLE app.t299') },
        { label: 'drop one in the middle', run: () => client.query('DROP TABLE app.t150') },
        { label: 'drop the oldest', run: () => client.query('DROP TABLE app.t0') },
        { label: 'drop the oldest and the newest', run: () => client.query('DROP TABLE app.t1, app.t298') },
        { label: 'drop a comment of an old one', run: () => client.query('COMMENT ON TABLE app.t2 IS NULL') },
      ];
      const stats = await compareAfterEachStep(client, 'app', steps, true, true);
      expect(stats.fullReads).toEqual(['base']);
    } finally {
      await client.end();
    }
  });
});

describe('a read with the counts taken at BEGIN', () => {
  // Each step changes only rows of objects older than the last scan: a read that took the counts for
  // "nothing but new objects" would miss them. Updates read the catalog in full; inserts of an old
  // object's rows are outside the range of new OIDs, fewer than were inserted, and read again in full.
  test('sees rows of old objects: updated, inserted, deleted', async () => {
    const { client } = await connected('incremental_counts');
    try {
      await client.query('CREATE SCHEMA app; CREATE TABLE app.old (id int PRIMARY KEY, v text); CREATE TABLE app.other (id int)');
      const step = (sql: string) => ({ label: sql, run: () => client.query(sql) });
      const steps = [
        step('ALTER TABLE app.old RENAME COLUMN v TO w'),
        step('ALTER TABLE app.old ADD COLUMN extra int'),
        step(`COMMENT ON COLUMN app.old.extra IS 'added'`),
        step(`COMMENT ON COLUMN app.old.extra IS 'changed'`),
        step('ALTER TABLE app.old ALTER COLUMN extra SET DEFAULT 7'),
        step('ALTER TABLE app.other ADD CONSTRAINT other_id CHECK (id > 0)'),
        step('CREATE TABLE app.fresh (id int PRIMARY KEY REFERENCES app.old (id), v text)'),
        step('ALTER TABLE app.old ALTER COLUMN extra DROP DEFAULT'),
        step('ALTER TABLE app.old DROP COLUMN extra'),
        step('SELECT 1'),
      ];
      const stats = await compareAfterEachStep(client, 'app', steps, true, true);
      expect(stats.fullReads).toEqual(['base']);
      expect(stats.ranged).toBe(steps.length);
      expect(stats.rangedAgain).toBeGreaterThan(0);
    } finally {
      await client.end();
    }
  });
});

describe('a read inside the transaction that made the changes', () => {
  test('counts them as seen: the next read, after a step that changes nothing, reads nothing again', async () => {
    const { client } = await connected('incremental_inside');
    try {
      await client.query('CREATE SCHEMA app');
      const reader = new IncrementalSchemaReader(client, { schema: 'app', excludeTables: RUNNER_TABLES });
      await reader.read();
      const inTransaction = async (sql: string) => {
        await client.query('BEGIN');
        await client.query(sql);
        const model = await reader.read('ending');
        await client.query('COMMIT');
        return model;
      };
      const created = await inTransaction('CREATE TABLE app.t (id int PRIMARY KEY, v text)');
      expect(created.tables.map((t) => t.name)).toEqual(['t']);
      const reread = reader.stats.reread;
      const unchanged = await inTransaction('SELECT 1');
      expect(reader.stats.reread).toBe(reread);
      expect(fingerprintSchema(unchanged)).toBe(fingerprintSchema(created));
    } finally {
      await client.end();
    }
  });
});

describe('snapshot: full and incremental give the same manifest', () => {
  test('the example migrations: a snapshot from scratch, then one after a new migration, equal a manifest of full reads', async () => {
    const db = await createTestDatabase('incremental_snapshot');
    databases.push(db);
    const dir = await mkdtemp(join(tmpdir(), 'incremental-snapshot-'));
    dirs.push(dir);
    await cp(join(PROJECT_ROOT, 'migrations'), dir, { recursive: true });
    await rm(join(dir, '.schema-fingerprints.json'), { force: true });
    const env = cleanEnv({ DATABASE_URL: db.url });
    const fromScratch = await runCli(['snapshot', '--dir', dir], { env });
    expect(fromScratch.code).toBe(0);

    await writeFile(join(dir, '0005_tags.sql'), '-- Up Migration\nCREATE TABLE tags (id int PRIMARY KEY, name text);\n-- Down Migration\nDROP TABLE tags;\n');
    const incremental = await runCli(['snapshot', '--dir', dir], { env });
    expect(incremental.code).toBe(0);
    const written = await readManifest(dir);

    // The same revisions by full reads, in a database of our own.
    const { client } = await connected('incremental_snapshot_full');
    try {
      const files = await readMigrationFiles(dir);
      const base = await fullRead(client, 'public');
      const after: { file: MigrationFile; model: SchemaModel }[] = [];
      for (const step of migrationSteps(client, files, 'public')) {
        await step.run(async () => undefined);
        after.push({ file: files[after.length]!, model: await fullRead(client, 'public') });
      }
      expect(written).toEqual(buildManifest({ schema: 'public' }, base, after));
    } finally {
      await client.end();
    }
  });

  test('a fingerprint edited by hand before the last revision is not kept: snapshot writes the manifest a replay gives', async () => {
    const db = await createTestDatabase('incremental_snapshot_edited');
    databases.push(db);
    const dir = await mkdtemp(join(tmpdir(), 'incremental-snapshot-'));
    dirs.push(dir);
    await cp(join(PROJECT_ROOT, 'migrations'), dir, { recursive: true });
    const path = join(dir, '.schema-fingerprints.json');
    const replayed = await readFile(path, 'utf8');
    const edited = JSON.parse(replayed) as { revisions: { fingerprint: string }[] };
    edited.revisions[1]!.fingerprint = edited.revisions[2]!.fingerprint;
    await writeFile(path, JSON.stringify(edited, null, 2));
    const r = await runCli(['snapshot', '--dir', dir], { env: cleanEnv({ DATABASE_URL: db.url }) });
    expect(r.code).toBe(0);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(JSON.parse(replayed));
  });
});

describe("a replay's work while the server runs a migration (applyAndRead's meanwhile)", () => {
  const options = (client: pg.Client) => batchOptionsOf(client);
  const files = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meanwhile-'));
    dirs.push(dir);
    await writeFile(join(dir, '0001_t.sql'), '-- Up Migration\nCREATE TABLE t (id int);\n\n-- Down Migration\nDROP TABLE t;\n');
    return readMigrationFiles(dir);
  };

  test('runs once, after the migration is sent and before the schema is read', async () => {
    const { client } = await connected('meanwhile_order');
    try {
      const batch = await files();
      const order: string[] = [];
      const reader = new IncrementalSchemaReader(client, { excludeTables: RUNNER_TABLES });
      await reader.read();
      const apply = (list: readonly MigrationFile[], hooks: ReplayHooks) =>
        executeBatch('up', list, batch, { ...options(client), ...hooks, beforeCommit: async () => (order.push('read'), hooks.beforeCommit()) });
      const model = await applyAndRead(apply, reader, batch, () => order.push('meanwhile'));
      expect(order).toEqual(['meanwhile', 'read']);
      expect(model.tables.map((t) => t.name)).toEqual(['t']);
    } finally {
      await client.end();
    }
  });

  test('a failure of it comes after the batch, which it does not stop, and is not the migration\'s', async () => {
    const { client } = await connected('meanwhile_failure');
    try {
      const batch = await files();
      const reader = new IncrementalSchemaReader(client, { excludeTables: RUNNER_TABLES });
      await reader.read();
      const apply = (list: readonly MigrationFile[], hooks: ReplayHooks) => executeBatch('up', list, batch, { ...options(client), ...hooks });
      const failure = new Error('the work failed');
      await expect(applyAndRead(apply, reader, batch, () => { throw failure; })).rejects.toBe(failure);
      // The migration committed: the work's failure is the caller's, after the batch.
      const { rows } = await client.query(`SELECT name FROM public.pgmigrations`);
      expect(rows.map((r) => r.name)).toEqual(['0001_t']);
      expect((await client.query(`SELECT pg_catalog.to_regclass('public.t') IS NOT NULL AS made`)).rows[0].made).toBe(true);
    } finally {
      await client.end();
    }
  });
});

describe('a replay batch in which each migration commits on its own (applyEachAndRead, BatchOptions.commitEach)', () => {
  const options = (client: pg.Client) => ({ ...batchOptionsOf(client), history: 'first' as const });
  const folder = async (migrations: Record<string, string>) => {
    const dir = await mkdtemp(join(tmpdir(), 'commit-each-'));
    dirs.push(dir);
    for (const [name, sql] of Object.entries(migrations)) await writeFile(join(dir, name), sql);
    return readMigrationFiles(dir);
  };
  /** A migration that makes table `name` (and drops it), `alone` outside a transaction. */
  const table = (name: string, alone = false) => `${alone ? '-- migrate:no-transaction\n' : ''}${sqlMigration(`CREATE TABLE ${name} (id int);`, `DROP TABLE ${name};`)}`;
  const exists = async (client: pg.Client, name: string) =>
    (await client.query(`SELECT pg_catalog.to_regclass($1) IS NOT NULL AS made`, [`public.${name}`])).rows[0].made as boolean;

  test('gives the schema each migration leaves, in order, one migration outside a transaction included; only the first is recorded', async () => {
    const { client } = await connected('commit_each_models');
    try {
      const files = await folder({
        '0001_a.sql': table('a'),
        '0002_b.sql': table('b', true),
        '0003_c.sql': table('c'),
      });
      const reader = new IncrementalSchemaReader(client, { excludeTables: RUNNER_TABLES });
      await reader.read();
      const seen: [number, string[]][] = [];
      const apply = (list: readonly MigrationFile[], hooks: ReplayHooks) => executeBatch('up', list, files, { ...options(client), ...hooks });
      await applyEachAndRead(apply, reader, files, (index, model) => seen.push([index, model.tables.map((t) => t.name)]));
      expect(seen).toEqual([
        [0, ['a']],
        [1, ['a', 'b']],
        [2, ['a', 'b', 'c']],
      ]);
      expect((await client.query(`SELECT name FROM public.pgmigrations`)).rows.map((r) => r.name)).toEqual(['0001_a']);
    } finally {
      await client.end();
    }
  });

  test('with history `first`, a first migration that runs outside a transaction is recorded, and nothing after it', async () => {
    const { client } = await connected('commit_each_alone_first');
    try {
      const files = await folder({
        '0001_a.sql': table('a', true),
        '0002_b.sql': table('b'),
      });
      const outcome = await runBatch('up', files, files, { ...options(client), commitEach: true });
      expect(outcome.error).toBeNull();
      expect((await client.query(`SELECT name FROM public.pgmigrations`)).rows.map((r) => r.name)).toEqual(['0001_a']);
    } finally {
      await client.end();
    }
  });

  /** `client`, with the text of every query it is sent, and `mark(text)` to put the caller's own between them. */
  const recording = (client: pg.Client) => {
    const sent: string[] = [];
    const db = new Proxy(client, {
      get(target, key, receiver) {
        if (key !== 'query') return Reflect.get(target, key, receiver);
        return (query: unknown, ...rest: unknown[]) => {
          sent.push(typeof query === 'string' ? query : String((query as { text?: unknown }).text));
          return (target.query as (...args: unknown[]) => unknown)(query, ...rest);
        };
      },
    });
    return { db, sent, mark: (text: string) => sent.push(text) };
  };

  test('a COMMIT goes with the next migration\'s round trip, and nothing is sent between the read before it and it (history `first`, as a replay)', async () => {
    const { client } = await connected('commit_each_opening');
    try {
      const files = await folder(failing);
      const { db, sent, mark } = recording(client);
      let reads = 0;
      const outcome = await runBatch('up', files, files, {
        ...options(client),
        db,
        history: 'first',
        commitEach: true,
        beforeCommit: async () => {
          mark(`read ${++reads}`);
        },
      });
      expect(outcome.error).toBeNull();
      expect(outcome.runs.map((r) => r.status)).toEqual(['applied', 'applied', 'applied']);
      // After each read but the last: the COMMIT, sent with the next BEGIN and the next migration's SQL.
      for (const read of [1, 2]) {
        const next = sent[sent.indexOf(`read ${read}`) + 1]!;
        expect(next).toMatch(/^COMMIT; BEGIN;/);
        expect(next).toContain(`CREATE TABLE ${['b', 'c'][read - 1]} (id int);`);
      }
      expect(sent.at(-1)).toBe('COMMIT');
      expect((await client.query(`SELECT name FROM public.pgmigrations`)).rows.map((r) => r.name)).toEqual(['0001_a']);
    } finally {
      await client.end();
    }
  });

  test.each([
    ['a signal that can stop the run', { signal: new AbortController().signal }],
    ['a migration timeout', { migrationTimeoutSeconds: 60 }],
  ])('with %s, a COMMIT goes on its own, with the next BEGIN: a cancel then never lands between the COMMIT and the start', async (_, stoppable) => {
    const { client } = await connected('commit_each_stoppable');
    try {
      const files = await folder(failing);
      const { db, sent, mark } = recording(client);
      let reads = 0;
      const outcome = await runBatch('up', files, files, { ...options(client), ...stoppable, db, commitEach: true, beforeCommit: async () => { mark(`read ${++reads}`); } });
      expect(outcome.error).toBeNull();
      const next = sent[sent.indexOf('read 1') + 1]!;
      expect(next).toMatch(/^COMMIT; BEGIN;/);
      expect(next).not.toContain('CREATE TABLE b');
    } finally {
      await client.end();
    }
  });

  test("a migration's session settings (a 1 ms statement_timeout, another search_path and role) are the runner's again before the read, in the migration's own round trip", async () => {
    const { client } = await connected('commit_each_settings');
    const role = `migrate_test_nobody_${randomBytes(4).toString('hex')}`;
    try {
      await client.query(`CREATE ROLE ${role} NOLOGIN`);
      const files = await folder({
        '0001_a.sql': table('a'),
        '0002_b.sql':
          `-- Up Migration\nCREATE TABLE b (id int);\nSET search_path TO nowhere;\nSET ROLE ${role};\nSET statement_timeout = 1;\n\n-- Down Migration\nDROP TABLE public.b;\n`,
      });
      const reader = new IncrementalSchemaReader(client, { excludeTables: RUNNER_TABLES });
      await reader.read();
      const seen: string[][] = [];
      const apply = (list: readonly MigrationFile[], hooks: ReplayHooks) => executeBatch('up', list, files, { ...options(client), ...hooks });
      await applyEachAndRead(apply, reader, files, (_, model) => seen.push(model.tables.map((t) => t.name)));
      expect(seen).toEqual([['a'], ['a', 'b']]);
      // Both reads read only what their transaction changed, with the counts taken in the migration's round trip.
      expect(reader.stats.ranged).toBe(2);
    } finally {
      await client.query(`RESET ROLE; DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
      await client.end();
    }
  });

  test("a failure of what goes after the last migration's SQL in its round trip (onEnd) is the runner's, not the migration's", async () => {
    const { client } = await connected('commit_each_trailer_fails');
    try {
      const files = await folder({ '0001_a.sql': table('a') });
      const onEnd = { sql: () => 'SELECT 1 OPERATOR(pg_catalog./) 0', take: () => undefined };
      const outcome = await runBatch('up', files, files, { ...options(client), commitEach: true, onEnd });
      expect(outcome.error).toBeInstanceOf(HistoryWriteError);
      expect(outcome.error!.message).toMatch(/^restoring the runner's session settings .*division by zero/);
      expect(outcome.runs.map((r) => r.status)).toEqual(['rolled-back']);
      expect(await exists(client, 'a')).toBe(false);
    } finally {
      await client.end();
    }
  });

  test('what another session in the database commits meanwhile is read too (its changes are not in the counts): the scan is then a whole one', async () => {
    const { db, client } = await connected('commit_each_others');
    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    try {
      const files = await folder({
        '0001_a.sql': table('a'),
        '0002_b.sql': table('b'),
      });
      const reader = new IncrementalSchemaReader(client, { excludeTables: RUNNER_TABLES });
      await reader.read();
      const seen: string[][] = [];
      let first = true;
      const apply = (list: readonly MigrationFile[], hooks: ReplayHooks) =>
        executeBatch('up', list, files, {
          ...options(client),
          ...hooks,
          beforeCommit: async () => {
            if (first) await other.query('CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$');
            first = false;
            await hooks.beforeCommit();
          },
        });
      await applyEachAndRead(apply, reader, files, (_, model) => seen.push([...model.tables.map((t) => t.name), ...model.functions.map((f) => f.name)]));
      expect(seen).toEqual([
        ['a', 'f'],
        ['a', 'b', 'f'],
      ]);
      expect(reader.stats.ranged).toBe(0);
    } finally {
      await other.end();
      await client.end();
    }
  });

  const failing = {
    '0001_a.sql': table('a'),
    '0002_b.sql': table('b'),
    '0003_c.sql': table('c'),
  };

  test('a COMMIT that fails (a deferred foreign key) commits nothing of its transaction, and nothing after it runs', async () => {
    const { client } = await connected('commit_each_commit_fails');
    try {
      const files = await folder({
        ...failing,
        '0002_b.sql':
          '-- Up Migration\nCREATE TABLE p (id int PRIMARY KEY);\nCREATE TABLE b (p int REFERENCES p DEFERRABLE INITIALLY DEFERRED);\nINSERT INTO b VALUES (1);\n\n-- Down Migration\nDROP TABLE b, p;\n',
      });
      const outcome = await runBatch('up', files, files, { ...options(client), commitEach: true });
      expect((outcome.error as { code?: string } | null)?.code).toBe('23503');
      expect(outcome.runs.map((r) => r.status)).toEqual(['applied', 'rolled-back', 'not-run']);
      expect([await exists(client, 'a'), await exists(client, 'b'), await exists(client, 'c')]).toEqual([true, false, false]);
      expect(client.getTransactionStatus()).toBe('I');
    } finally {
      await client.end();
    }
  });

  test('a start of the next transaction that fails after the COMMIT it went with: that migration stays committed, and the failure is the runner\'s', async () => {
    const { client } = await connected('commit_each_begin_fails');
    try {
      const files = await folder(failing);
      let begins = 0;
      const onBegin = { sql: () => (++begins === 2 ? 'SELECT 1 OPERATOR(pg_catalog./) 0' : 'SELECT NULL::pg_catalog.json AS counts'), take: () => undefined };
      const outcome = await runBatch('up', files, files, { ...options(client), commitEach: true, onBegin });
      expect(begins).toBe(2);
      expect(outcome.error).toBeInstanceOf(HistoryWriteError);
      expect(outcome.error!.message).toMatch(/^starting the transaction .*division by zero/);
      expect(outcome.runs.map((r) => r.status)).toEqual(['applied', 'not-run', 'not-run']);
      expect([await exists(client, 'a'), await exists(client, 'b'), await exists(client, 'c')]).toEqual([true, false, false]);
      expect(client.getTransactionStatus()).toBe('I');
    } finally {
      await client.end();
    }
  });
});
