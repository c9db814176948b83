/**
 * The runner's own statements resolve nothing outside pg_catalog, whatever
 * the managed schema holds (README "How it behaves", search_path).
 *
 * The fixture (test/fixtures/hostile-schema) is a migration folder whose
 * first migration fills `public` with traps: functions, aggregates and
 * operators named like the ones the runner calls, with signatures that beat
 * pg_catalog's or equal them, and casts that no search_path keeps out (the
 * recursive text to integer cast of node-pg-migrate's 090_create_cast.js,
 * and bigint, oid, regclass and timestamp to text). Its fourth migration
 * puts public before pg_catalog on the session's search_path, and the fifth
 * runs outside a transaction after it. Each trap records its call in
 * traps.hits (and bumps traps.fired, which a rollback does not undo) and then
 * behaves as pg_catalog's would; where the record cannot be written (a
 * read-only transaction, a scratch database) the call fails.
 *
 * Every command runs against it as a process, and no trap fires.
 */
import { appendFile, cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { PROJECT_ROOT, cleanEnv, runCli, type ProcessResult } from '../helpers/processes.js';

const FIXTURE = join(PROJECT_ROOT, 'test', 'fixtures', 'hostile-schema');

let db: TestDatabase;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase('hostile');
  dir = await mkdtemp(join(tmpdir(), 'hostile-'));
  await cp(FIXTURE, dir, { recursive: true });
  // Outside the managed schema: not an application object, and it outlives `reset`.
  await db.query(`CREATE SCHEMA traps;
    CREATE TABLE traps.hits (trap text, application_name text, query text);
    CREATE SEQUENCE traps.fired`);
});
afterAll(async () => {
  await db.drop();
  await rm(dir, { recursive: true, force: true });
});

async function migrate(...args: string[]): Promise<ProcessResult> {
  return runCli([...args, '--dir', dir, '--log-level', 'warn'], { env: cleanEnv({ DATABASE_URL: db.url }) });
}

/** Every trap call so far, whether or not its transaction committed. */
async function trapHits(): Promise<{ recorded: string[]; fired: boolean }> {
  const recorded = await db.query<{ hit: string }>(`SELECT trap || ' by ' || application_name || ': ' || query AS hit FROM traps.hits`);
  const [sequence] = await db.query<{ is_called: boolean }>('SELECT is_called FROM traps.fired');
  return { recorded: recorded.map((r) => r.hit), fired: sequence!.is_called };
}

/** Runs a command, expects its exit code, and that no trap fired. */
async function expectClean(expectedCode: number, ...args: string[]): Promise<ProcessResult> {
  const result = await migrate(...args);
  const context = `migrate ${args.join(' ')}: exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`;
  expect({ context, code: result.code }).toEqual({ context, code: expectedCode });
  expect({ context, trap: /traps\.|public\.trap|stack depth|read-only transaction/i.test(result.stderr + result.stdout) }).toEqual({ context, trap: false });
  expect({ after: args.join(' '), ...(await trapHits()) }).toEqual({ after: args.join(' '), recorded: [], fired: false });
  return result;
}

test('the traps are armed: each catches the call it is made for (then the record is cleared)', async () => {
  await expectClean(0, 'auto', '--ddl-lock-timeout', '10000');
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    // With public on the path after pg_catalog, as migrations (and the catalog reads) have it.
    await client.query('SET search_path TO public');
    const better = [
      `SELECT quote_ident('x'::name)`,
      `SELECT * FROM unnest('{a}'::text[])`,
      `SELECT * FROM unnest('{1}'::smallint[])`,
      `SELECT * FROM unnest('{1}'::oid[])`,
      `SELECT format('%s', 1::bigint)`,
      `SELECT format('%s', 1::oid)`,
      `SELECT format('%s', 'pg_class'::regclass)`,
      `SELECT format('%s', 'x'::text)`,
      `SELECT format('%s.%I', 'pg_class'::regclass, 'x'::name)`,
      `SELECT format('%s %s', 'x'::text, 'pg_class'::regclass)`,
      `SELECT format('%s %s', 'x'::text, 'x'::name)`,
      `SELECT format('%I.%I', 'x'::name, 'y'::name)`,
      `SELECT array_agg(x) FROM (VALUES ('a'::text)) v(x)`,
      `SELECT json_agg(x) FROM (VALUES ('{}'::json)) v(x)`,
      `SELECT count(x) FROM (VALUES ('a'::text)) v(x)`,
      `SELECT 'a'::varchar = 'a'::varchar`,
      `SELECT 1::oid = 1`,
      `SELECT 'a'::text || 'b'::name`,
      `SELECT 1::bigint::text`,
      `SELECT 1::oid::text`,
      `SELECT 'pg_class'::regclass::text`,
      `SELECT '2020-01-01'::timestamp::text`,
    ];
    // Where public comes first, as 0004 leaves the session.
    const same = [
      `SELECT current_setting('search_path')`,
      `SELECT current_setting('search_path', true)`,
      `SELECT set_config('application_name', 'armed', false)`,
      `SELECT now()`,
      `SELECT pg_backend_pid()`,
      `SELECT current_database()`,
      `SELECT pg_advisory_lock(1)`,
      `SELECT pg_advisory_unlock(1)`,
      `SELECT pg_advisory_lock_shared(1)`,
      `SELECT pg_advisory_unlock_shared(1)`,
      `SELECT pg_try_advisory_lock(1)`,
      `SELECT pg_advisory_unlock_all()`,
      `SELECT quote_ident('x'::text)`,
      `SELECT 'a'::text = 'a'::text`,
      `SELECT 'a'::name = 'a'::name`,
      `SELECT 'a'::name = 'a'::text`,
    ];
    for (const sql of better) await client.query(sql);
    await client.query('SET search_path TO public, pg_catalog');
    for (const sql of same) await client.query(sql);
    const { rows } = await client.query<{ n: number }>('SELECT pg_catalog.count(DISTINCT query)::int AS n FROM traps.hits');
    expect(rows[0]!.n).toBe(better.length + same.length);
    // 090's cast: text to integer recurses.
    await expect(client.query(`SELECT '1'::text::integer`)).rejects.toThrow(/stack depth/);
  } finally {
    await client.end();
  }
  await db.query(`TRUNCATE traps.hits; SELECT pg_catalog.setval('traps.fired', 1, false)`);
  expect(await trapHits()).toEqual({ recorded: [], fired: false });
});

test('every command runs against it and no trap fires', async () => {
  // auto built it (above): read it every way.
  for (const command of [['status'], ['status', '--json'], ['check'], ['history'], ['current'], ['pending'], ['info']]) {
    await expectClean(0, ...command);
  }
  // Fingerprints: replays in scratch databases, the live schema read for drift.
  await expectClean(0, 'snapshot');
  await expectClean(0, 'status');
  await expectClean(0, 'check', '--strict');
  await expectClean(0, 'verify');
  // Back and forth, through the noTransaction migrations and the one that turns the search_path.
  await expectClean(0, 'down', '--steps', '3');
  const sql = await expectClean(0, 'sql');
  expect(sql.stdout).toContain('0003_items_status_index');
  await expectClean(0, 'up', '--ddl-lock-timeout', '10000');
  await expectClean(0, 'stamp', '0002_items');
  await expectClean(0, 'stamp', 'head');
  await expectClean(0, 'check', '--strict');
  await expectClean(0, 'down', 'base');
  await expectClean(0, 'auto', '--ddl-lock-timeout', '10000');
  await expectClean(0, 'up');
  // A file merged late, applied out of order after migration SQL that put public first on the
  // search_path: the history's rows go back into file order on that connection.
  await writeFile(
    join(dir, '0001_z_late.sql'),
    "-- Up Migration\nSELECT pg_catalog.set_config('search_path', 'public, pg_catalog', false);\nCREATE TABLE public.late (id int);\n" +
      '-- Down Migration\nDROP TABLE public.late;\n',
  );
  await expectClean(3, 'auto');
  await expectClean(0, 'up', '--out-of-order');
  await expectClean(0, 'check');
  // An applied file edited: repair records its checksum.
  await appendFile(join(dir, '0002_items.sql'), '\n-- edited\n');
  await expectClean(3, 'auto');
  await expectClean(0, 'repair', '--dry-run');
  await expectClean(0, 'repair');
  await expectClean(0, 'check');
  await expectClean(0, 'reset', '--confirm');
  const status = await expectClean(0, 'status', '--json');
  expect(JSON.parse(status.stdout).state).toBe('fresh');
});
