/**
 * Promise: any number of runners started at once apply every migration
 * exactly once (history rows unique, a data migration's effect once), with
 * no deadlock and none stuck past its lock timeout; racing `stamp` and `down`
 * never leave a history that is not a prefix of the files (RELIABILITY.md,
 * promise 3).
 */
import { jest } from '@jest/globals';
import pg from 'pg';
import { createTestDatabase, databaseUrl, serverUrl, type TestDatabase } from '../helpers/database.js';
import {
  cleanupTemp,
  expectNoLeftovers,
  expectOneLineError,
  historyNames,
  isRunning,
  migrate,
  migrationsDir,
  serverQuery,
  sleep,
  spawnCli,
  until,
  urlFor,
  type CliResult,
} from './support.js';

jest.setTimeout(180_000);

const RUNNERS = 16;
const LOCK_TIMEOUT = 60;
const FILES = {
  '0001_events.sql': `-- Up Migration
CREATE TABLE events (id serial PRIMARY KEY, kind text NOT NULL);
-- Down Migration
DROP TABLE events;
`,
  '0002_widgets.sql': `-- Up Migration
CREATE TABLE widgets (id integer PRIMARY KEY, name text);
SELECT pg_sleep(0.2);
-- Down Migration
DROP TABLE widgets;
`,
  '0003_seed.sql': `-- Up Migration
INSERT INTO events (kind) VALUES ('seed');
-- Down Migration
DELETE FROM events WHERE kind = 'seed';
`,
  '0004_widget_index.js': `export const up = (pgm) => { pgm.createIndex('widgets', 'name'); };
export const down = (pgm) => { pgm.dropIndex('widgets', 'name'); };
`,
};
const ALL = ['0001_events', '0002_widgets', '0003_seed', '0004_widget_index'];

let dir: string;
beforeAll(async () => {
  dir = await migrationsDir(FILES);
});
afterAll(cleanupTemp);

const figures = { rounds: 0, runners: 0, exitCodes: {} as Record<string, number> };
afterAll(() => {
  process.stdout.write(`concurrency: ${JSON.stringify(figures)}\n`);
});

const args = (db: TestDatabase, ...command: string[]) => [
  ...command, '--database-url', urlFor(db.name), '--dir', dir, '--lock-timeout', String(LOCK_TIMEOUT),
];

async function all(db: TestDatabase, commands: string[][]): Promise<CliResult[]> {
  const running = commands.map((c) => spawnCli(args(db, ...c), { timeoutMs: (LOCK_TIMEOUT + 60) * 1000 }));
  const recorder = recordLockHolders(db, new Map(running.map((r, i) => [r.child.pid!, commands[i]!.join(' ')])));
  const results = await Promise.all(running.map((r) => r.done));
  const holds = await recorder.stop();
  figures.rounds++;
  figures.runners += results.length;
  for (const r of results) figures.exitCodes[String(r.code)] = (figures.exitCodes[String(r.code)] ?? 0) + 1;
  results.forEach((r, i) => {
    // Nobody killed by the harness, nobody past its lock timeout, no deadlock reported.
    if (r.signal === null && r.code !== 5 && r.ms < (LOCK_TIMEOUT + 20) * 1000 && !/deadlock/i.test(r.stderr)) return;
    // Say who held the lock how long, and what the sessions waited on, so a rare failure explains itself.
    throw new Error(
      `\`${commands[i]!.join(' ')}\` ended with exit ${r.code}, signal ${r.signal}, after ${r.ms} ms\n` +
        `stderr: ${r.stderr.split('\n').slice(-8).join('\n')}\n${holds}`,
    );
  });
  return results;
}

/**
 * Samples the migration lock's holder every 100 ms while a round runs; on
 * stop, lists the longest holds (by the runner's command) and the sessions
 * seen when some round first went past 20 s.
 */
function recordLockHolders(db: TestDatabase, commandByPid: Map<number, string>) {
  const holds: { who: string; ms: number }[] = [];
  const started = Date.now();
  let holder: string | null = null;
  let since = started;
  let slowRound = '';
  let stopped = false;
  // One session for the whole round: a connection per sample would add churn to what is measured.
  const client = new pg.Client({ connectionString: serverUrl(), application_name: 'reliability lock recorder' });
  const query = async <R extends pg.QueryResultRow>(text: string, values: unknown[]) => (await client.query<R>(text, values)).rows;
  const sample = async () => {
    const rows = await query<{ app: string }>(
      `SELECT a.application_name AS app FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
       WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = $1)`,
      [db.name],
    );
    const now = rows[0]?.app ?? null;
    if (now !== holder) {
      if (holder) holds.push({ who: holder, ms: Date.now() - since });
      holder = now;
      since = Date.now();
    }
    if (!slowRound && Date.now() - started > 20_000) {
      const sessions = await query(
        `SELECT pid, application_name, state, wait_event_type, wait_event, xact_start IS NOT NULL AS xact, left(query, 100) AS query
         FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
        [db.name],
      );
      slowRound = `sessions after 20 s: ${JSON.stringify(sessions)}`;
    }
  };
  const loop = (async () => {
    await client.connect();
    while (!stopped) {
      await sample().catch(() => undefined);
      await sleep(100);
    }
  })();
  const name = (app: string) => {
    const pid = Number(/pid (\d+)$/.exec(app)?.[1]);
    return commandByPid.get(pid) ?? app;
  };
  return {
    async stop(): Promise<string> {
      stopped = true;
      await loop.catch(() => undefined);
      await client.end().catch(() => undefined);
      if (holder) holds.push({ who: holder, ms: Date.now() - since });
      const longest = [...holds].sort((a, b) => b.ms - a.ms).slice(0, 5);
      return `longest lock holds: ${longest.map((h) => `${name(h.who)} ${h.ms} ms`).join(', ') || 'none seen'}\n${slowRound}`;
    },
  };
}

async function seeds(db: TestDatabase): Promise<number> {
  const [t] = await db.query<{ t: string | null }>(`SELECT to_regclass('public.events') AS t`);
  if (!t?.t) return 0;
  return (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE kind = 'seed'`))[0]!.n;
}

async function metaNames(db: TestDatabase): Promise<string[]> {
  const [t] = await db.query<{ t: string | null }>(`SELECT to_regclass('public.pgmigrations_meta') AS t`);
  if (!t?.t) return [];
  return (await db.query<{ name: string }>(`SELECT name FROM pgmigrations_meta ORDER BY name`)).map((r) => r.name);
}

function applied(results: CliResult[]): number[] {
  return results.map((r) => (JSON.parse(r.stdout) as { migrations: unknown[] }).migrations.length);
}

describe(`${RUNNERS} runners at once`, () => {
  test.each([1, 2, 3])('fresh database, round %i: one runner applies everything, the others find it current', async () => {
    const db = await createTestDatabase('rel_conc');
    try {
      const results = await all(db, Array.from({ length: RUNNERS }, () => ['auto', '--json']));
      expect(results.map((r) => r.code)).toEqual(Array(RUNNERS).fill(0));
      expect(applied(results).sort((a, b) => b - a)).toEqual([ALL.length, ...Array(RUNNERS - 1).fill(0)]);
      expect(await historyNames(db)).toEqual(ALL);
      expect(await metaNames(db)).toEqual(ALL);
      expect(await seeds(db)).toBe(1);
      await expectNoLeftovers(db.name);
    } finally {
      await db.drop();
    }
  });

  test.each([1, 2])('behind database, round %i: the data migration runs exactly once', async () => {
    const db = await createTestDatabase('rel_conc');
    try {
      expect((await migrate(args(db, 'up', '0002_widgets'))).code).toBe(0);
      const results = await all(db, Array.from({ length: RUNNERS }, () => ['auto', '--json']));
      expect(results.map((r) => r.code)).toEqual(Array(RUNNERS).fill(0));
      expect(applied(results).sort((a, b) => b - a)).toEqual([2, ...Array(RUNNERS - 1).fill(0)]);
      expect(await historyNames(db)).toEqual(ALL);
      expect(await seeds(db)).toBe(1);
      await expectNoLeftovers(db.name);
    } finally {
      await db.drop();
    }
  });

  test.each([1, 2, 3])('auto, up, down, stamp head and stamp base racing, round %i', async (round) => {
    const db = await createTestDatabase('rel_conc');
    try {
      if (round > 1) expect((await migrate(args(db, 'auto'))).code).toBe(0);
      const commands = [
        ...Array.from({ length: 5 }, () => ['auto']),
        ['up'], ['up'],
        ['down'], ['down'], ['down', '--steps', '2'],
        ['stamp', 'head'], ['stamp', 'head'], ['stamp', 'head'],
        ['stamp', 'base'], ['stamp', 'base'], ['stamp', '0002_widgets'],
      ];
      const results = await all(db, commands);
      for (const [index, r] of results.entries()) {
        const command = commands[index]!.join(' ');
        // 0 done; 1 a migration failed and was rolled back (a down after a lying stamp);
        // 3 refused (legacy after stamp base); 2 only for down --steps 2 that finds one migration applied
        // (a count past the first is refused, README "Commands"). Never 4 or 5.
        const expected = [0, 1, 3].includes(r.code ?? -1) ||
          (r.code === 2 && command === 'down --steps 2' && /down --steps 2: 2 migrations asked for, only 1 migration is applied; nothing was changed/.test(r.stderr));
        // The command and what it said, where the exit is another.
        const seen = { command, code: expected ? 'expected' : r.code, stderr: r.stderr };
        expect(seen).toEqual({ ...seen, code: 'expected' });
        if (r.code !== 0) expectOneLineError(r, /^migrate: error: /);
      }
      const history = await historyNames(db);
      expect(new Set(history).size).toBe(history.length);
      expect(history).toEqual(ALL.slice(0, history.length));
      expect(await metaNames(db)).toEqual([...history].sort());
      expect(await seeds(db)).toBeLessThanOrEqual(1);
      await expectNoLeftovers(db.name);
    } finally {
      await db.drop();
    }
  });
});

test('a runner waiting on a held lock gives up at its lock timeout: exit 5, one line naming the holder', async () => {
  const db = await createTestDatabase('rel_conc_lock');
  const holder = new pg.Client({ connectionString: databaseUrl(db.name), application_name: 'reliability holder' });
  await holder.connect();
  try {
    await holder.query('SELECT pg_advisory_lock(7241865325823964)');
    const result = await migrate([...args(db, 'auto').slice(0, -2), '--lock-timeout', '2']);
    expect(result.code).toBe(5);
    expectOneLineError(result, /lock.*reliability holder/);
    expect(result.ms).toBeLessThan(2_000 + 8_000);
    expect(await historyNames(db)).toEqual([]);
  } finally {
    await holder.end();
  }
  await expectNoLeftovers(db.name);
  await db.drop();
});

/**
 * The lock lives on its own session. If that session ends mid-batch (an
 * admin's pg_terminate_backend, idle_session_timeout, a pooler or load
 * balancer closing an idle connection), another runner can take the lock
 * while the first one's batch is still open: both then apply the same
 * pending migrations.
 */
test('a runner whose lock session dies mid-batch does not commit a batch another runner also applies', async () => {
  const db = await createTestDatabase('rel_conc_lost');
  const slow = await migrationsDir({
    '0001_events.sql': FILES['0001_events.sql'],
    '0002_slow_seed.sql': `INSERT INTO events (kind) VALUES ('slow seed');\nSELECT pg_sleep(2);\n`,
  });
  const run = (...command: string[]) =>
    spawnCli([...command, '--database-url', urlFor(db.name), '--dir', slow, '--lock-timeout', '30']);
  try {
    expect((await run('up', '0001_events').done).code).toBe(0);
    const first = run('auto');
    expect(await until(() => isRunning(db.name, '%pg_sleep%'), 20_000, 10)).toBe(true);
    const killed = await serverQuery(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'migrate lock%'`,
      [db.name],
    );
    expect(killed).toHaveLength(1);
    const second = run('auto');
    const [a, b] = await Promise.all([first.done, second.done]);
    const history = await historyNames(db);
    const [row] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE kind = 'slow seed'`);
    // Exactly once, whichever runner did it; the other one either waited or failed cleanly.
    expect({ history, slowSeeds: row!.n }).toEqual({ history: ['0001_events', '0002_slow_seed'], slowSeeds: 1 });
    expect([a.code, b.code]).toContain(0);
    for (const r of [a, b]) if (r.code !== 0) expectOneLineError(r, /lock/);
    await expectNoLeftovers(db.name);
  } finally {
    await db.drop();
  }
});

test('a server idle_session_timeout shorter than the batch does not take the lock away', async () => {
  const db = await createTestDatabase('rel_conc_idle');
  const slow = await migrationsDir({
    '0001_events.sql': FILES['0001_events.sql'],
    '0002_slow_seed.sql': `INSERT INTO events (kind) VALUES ('slow seed');\nSELECT pg_sleep(2);\n`,
  });
  try {
    await serverQuery(`ALTER DATABASE ${pg.escapeIdentifier(db.name)} SET idle_session_timeout = '500ms'`);
    const run = () => spawnCli(['auto', '--database-url', urlFor(db.name), '--dir', slow, '--lock-timeout', '30']).done;
    const first = run();
    // A second runner arrives while the first one's lock session idles.
    await sleep(1_500);
    const [a, b] = await Promise.all([first, run()]);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(await historyNames(db)).toEqual(['0001_events', '0002_slow_seed']);
    const [row] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE kind = 'slow seed'`);
    expect(row!.n).toBe(1);
    await expectNoLeftovers(db.name);
  } finally {
    await db.drop();
  }
});
