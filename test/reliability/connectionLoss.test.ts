/**
 * Promise: a connection lost mid-run ends the runner with a non-zero exit and
 * one clear line, leaves the database all-or-nothing and no lock behind, and
 * the next run completes; a server that refuses connections is exit 4 after
 * the wait timeout; one that comes up late is waited for (RELIABILITY.md,
 * promise 2). Everything goes through test/helpers/tcpProxy.ts.
 */
import { jest } from '@jest/globals';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { freePort, startTcpProxy, type TcpProxy } from '../helpers/tcpProxy.js';
import {
  cleanupTemp,
  dump,
  expectNoLeftovers,
  expectOneLineError,
  historyNames,
  isRunning,
  leftovers,
  migrate,
  migrationsDir,
  SERVER_HOST,
  SERVER_PORT,
  sleep,
  spawnCli,
  until,
  urlFor,
} from './support.js';

jest.setTimeout(120_000);

const FILES = {
  '0001_accounts.sql': `CREATE TABLE accounts (id serial PRIMARY KEY, name text NOT NULL);\n`,
  '0002_slow.sql': `CREATE TABLE ledger (id integer NOT NULL);\nSELECT pg_sleep(1);\nALTER TABLE accounts ADD COLUMN balance integer;\n`,
  '0003_seed.sql': `INSERT INTO accounts (name) VALUES ('seed');\n`,
};
const ALL = ['0001_accounts', '0002_slow', '0003_seed'];

let dir: string;
let fresh: string;
let full: string;
const proxies: TcpProxy[] = [];

beforeAll(async () => {
  dir = await migrationsDir(FILES);
  const ref = await createTestDatabase('rel_net_ref');
  try {
    fresh = await dump(ref.name, 'schema');
    expect((await migrate(['auto', '--database-url', urlFor(ref.name), '--dir', dir])).code).toBe(0);
    full = await dump(ref.name, 'schema');
  } finally {
    await ref.drop();
  }
});
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});
afterAll(cleanupTemp);

async function proxy(listen = true, port?: number): Promise<TcpProxy> {
  const p = await startTcpProxy({ targetHost: SERVER_HOST, targetPort: SERVER_PORT, listen, ...(port && { port }) });
  proxies.push(p);
  return p;
}

const viaProxy = (db: TestDatabase, p: { port: number }, ...command: string[]) => [
  ...command, '--database-url', urlFor(db.name, { host: '127.0.0.1', port: p.port }), '--dir', dir, '--lock-timeout', '60',
];
const direct = (db: TestDatabase, ...command: string[]) => [...command, '--database-url', urlFor(db.name), '--dir', dir, '--lock-timeout', '60'];

async function expectAllOrNothing(db: TestDatabase): Promise<'nothing' | 'all'> {
  const schema = (await dump(db.name, 'schema')).replace(/pgmigrations_id_seq\d+/g, 'pgmigrations_id_seq');
  const history = await historyNames(db);
  if (schema === fresh && history.length === 0) return 'nothing';
  if (schema === full && JSON.stringify(history) === JSON.stringify(ALL)) {
    const [row] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM accounts WHERE name = 'seed'`);
    expect(row!.n).toBe(1);
    return 'all';
  }
  throw new Error(`half-applied: history ${JSON.stringify(history)}\n${schema}`);
}

const figures: Record<string, number> = {};
afterAll(() => process.stdout.write(`connection loss: ${JSON.stringify(figures)}\n`));

async function cutTrial(label: string, cut: (db: TestDatabase, p: TcpProxy) => Promise<void>): Promise<void> {
  const db = await createTestDatabase('rel_net');
  try {
    const p = await proxy();
    const running = spawnCli(viaProxy(db, p, 'auto'));
    await Promise.race([cut(db, p), running.done]);
    p.cutAll();
    const result = await running.done;
    expect(result.signal).toBeNull();
    const outcome = await expectAllOrNothing(db);
    const key = `${label}: exit ${result.code}, ${outcome}`;
    figures[key] = (figures[key] ?? 0) + 1;
    if (result.code !== 0) {
      // A cut after COMMIT leaves 'all' with a non-zero exit; either way the
      // message says the connection went, not that the SQL is wrong. When the
      // lock session's loss is seen first (the check right before COMMIT), the
      // line says the lock went with its session; a faster start makes that
      // more likely at a given cut time.
      expectOneLineError(result, /lost the connection|lost the migration lock .*session ended/i);
      expect(result.errorLines[0]).not.toMatch(/fix the migration/);
    }
    await expectNoLeftovers(db.name);
    const next = await migrate(direct(db, 'auto'));
    expect(next.code).toBe(0);
    expect(await expectAllOrNothing(db)).toBe('all');
    await expectNoLeftovers(db.name);
  } finally {
    await db.drop();
  }
}

describe('all connections cut', () => {
  test('mid-batch, in the sleep between two DDL statements', async () => {
    await cutTrial('mid-batch', async (db) => {
      expect(await until(() => isRunning(db.name, '%pg_sleep%'), 20_000, 10)).toBe(true);
      await sleep(300);
    });
  });

  test('while it holds the lock, before the batch', async () => {
    await cutTrial('lock held', async (db) => {
      await until(async () => (await serverAdvisory(db.name)) > 0, 20_000, 5);
    });
  });

  test.each([150, 400, 800, 1200])('at %i ms after start', async (ms) => {
    await cutTrial(`timed`, async (_db, p) => {
      await until(async () => p.accepted > 0, 20_000, 5);
      await sleep(ms);
    });
  });
});

async function serverAdvisory(database: string): Promise<number> {
  return (await leftovers(database)).advisoryLocks;
}

describe('a server that is not there', () => {
  test('refusing connections: auto is exit 4 after --wait-timeout, with one line naming the masked target', async () => {
    const db = await createTestDatabase('rel_net_refuse');
    try {
      const port = await freePort();
      const started = Date.now();
      const result = await migrate(viaProxy(db, { port }, 'auto', '--wait-timeout', '2'));
      expect(result.code).toBe(4);
      expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
      expect(Date.now() - started).toBeLessThan(15_000);
      expectOneLineError(result, `127.0.0.1:${port}`);
      expect(result.errorLines[0]).toContain('****');
      const wait = await migrate(viaProxy(db, { port }, 'wait', '--timeout', '2'));
      expect(wait.code).toBe(4);
      expectOneLineError(wait, `127.0.0.1:${port}`);
      expect(await historyNames(db)).toEqual([]);
      await expectNoLeftovers(db.name);
    } finally {
      await db.drop();
    }
  });

  test('accepting TCP but never answering: exit 4, bounded', async () => {
    const db = await createTestDatabase('rel_net_hole');
    try {
      const p = await proxy();
      p.blackhole(true);
      const result = await migrate(viaProxy(db, p, 'auto', '--wait-timeout', '3'), { timeoutMs: 40_000 });
      expect(result.signal).toBeNull();
      expect(result.code).toBe(4);
      expect(result.ms).toBeLessThan(30_000);
      expectOneLineError(result, `127.0.0.1:${p.port}`);
    } finally {
      await Promise.all(proxies.splice(0).map((x) => x.close()));
      await expectNoLeftovers(db.name).catch(() => undefined);
      await db.drop();
    }
  });

  test('starting to listen late: wait --timeout 10 and auto --wait-timeout 10 both succeed', async () => {
    const db = await createTestDatabase('rel_net_late');
    try {
      const p = await proxy(false);
      const wait = spawnCli(viaProxy(db, p, 'wait', '--timeout', '10'));
      const auto = spawnCli(viaProxy(db, p, 'auto', '--wait-timeout', '10'));
      await sleep(3_000);
      expect(p.accepted).toBe(0);
      await p.listen();
      const [w, a] = await Promise.all([wait.done, auto.done]);
      expect(w.code).toBe(0);
      expect(a.code).toBe(0);
      expect(w.ms).toBeGreaterThanOrEqual(3_000);
      expect(await expectAllOrNothing(db)).toBe('all');
      await expectNoLeftovers(db.name);
    } finally {
      await db.drop();
    }
  });
});

/**
 * A network partition mid-batch (packets stop, nothing is closed): the runner
 * sets no TCP keepalive and no client-side timeout, so it waits for the
 * server's answer for as long as the OS keeps the socket (hours with the
 * Linux defaults). Known limitation, see RELIABILITY.md.
 */
test.failing('a partition mid-batch ends the runner within 20 s', async () => {
  const db = await createTestDatabase('rel_net_partition');
  try {
    const p = await proxy();
    const running = spawnCli(viaProxy(db, p, 'auto'), { timeoutMs: 20_000 });
    expect(await until(() => isRunning(db.name, '%pg_sleep%'), 20_000, 10)).toBe(true);
    p.blackhole(true);
    const result = await running.done;
    expect(result.signal).toBeNull();
    expect(result.code).not.toBe(0);
  } finally {
    await Promise.all(proxies.splice(0).map((x) => x.close()));
    await expectNoLeftovers(db.name).catch(() => undefined);
    await db.drop();
  }
});
