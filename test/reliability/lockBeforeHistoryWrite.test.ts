/**
 * Promise: a history row is written only by the runner that holds the lock
 * (RELIABILITY.md, promise 3b), also after a migration that ran outside a
 * transaction: if the lock session ended meanwhile, another runner may be
 * running that migration again, and only it records it.
 */
import { jest } from '@jest/globals';
import pg from 'pg';
import { createSilentLogger } from '../../src/config/logger.js';
import { InterruptedError, LockLostError } from '../../src/core/errors.js';
import type { Queryable } from '../../src/core/types.js';
import { runBatch, type BatchOptions } from '../../src/db/execute.js';
import { transactionStatusOf } from '../../src/db/transaction.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import {
  cleanupTemp,
  envWith,
  expectNoLeftovers,
  expectOneLineError,
  isRunning,
  migrate,
  migrationsDir,
  serverQuery,
  spawnCli,
  until,
  urlFor,
} from './support.js';

jest.setTimeout(120_000);

let db: TestDatabase;
beforeEach(async () => {
  db = await createTestDatabase('rel_hist');
});
afterEach(async () => {
  await db.drop();
});
afterAll(cleanupTemp);

test('the lock session killed during a noTransaction migration: that runner does not record it, the next one records it once', async () => {
  const dir = await migrationsDir({
    '0001_t.sql': 'CREATE TABLE t (id int);\n',
    '0002_index.js': `export const up = (pgm) => {
  pgm.noTransaction();
  pgm.sql('SELECT pg_sleep(2)');
  pgm.sql('CREATE INDEX CONCURRENTLY IF NOT EXISTS t_id ON t (id)');
};
export const down = (pgm) => { pgm.noTransaction(); pgm.sql('DROP INDEX CONCURRENTLY t_id'); };
`,
  });
  const args = ['auto', '--database-url', urlFor(db.name), '--dir', dir];
  const first = spawnCli(args, { env: envWith() });
  expect(await until(() => isRunning(db.name, '%pg_sleep(2)%'), 30_000)).toBe(true);
  // As a pooler or idle_session_timeout would: the first runner's lock session ends mid-migration.
  await serverQuery(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'migrate lock%'`,
    [db.name],
  );
  // A second runner takes the free lock and runs the same migration, which the first has not recorded.
  const second = spawnCli(args, { env: envWith() });
  const [a, b] = await Promise.all([first.done, second.done]);
  expect(a.code).toBe(1);
  expectOneLineError(a, /lost the migration lock before COMMIT .*0002_index ran outside a transaction and took effect, but is not recorded as applied/);
  expect(b.code).toBe(0);
  const rows = await db.query<{ name: string }>('SELECT name FROM pgmigrations ORDER BY id');
  expect(rows.map((r) => r.name)).toEqual(['0001_t', '0002_index']);
  await expectNoLeftovers(db.name);
  // Plain node-pg-migrate's order check, and ours, see a clean history.
  expect((await migrate(['check', '--database-url', urlFor(db.name), '--dir', dir], { env: envWith() })).code).toBe(0);
});

describe('a history write with no migration to run (a stamp, a checksum adoption, a repair)', () => {
  // What a stamp writes, in the transaction the runner opens for it.
  const stampA = async (client: Queryable) => {
    await client.query(`INSERT INTO pgmigrations (name, run_on) VALUES ('0001_t', now())`);
  };
  const withClient = async (work: (client: pg.Client) => Promise<void>) => {
    const client = new pg.Client({ connectionString: urlFor(db.name) });
    await client.connect();
    try {
      await work(client);
    } finally {
      await client.end();
    }
  };
  const options = (client: pg.Client, more: Partial<BatchOptions>): BatchOptions => ({
    db: client,
    where: { schema: 'public', table: 'pgmigrations' },
    logger: createSilentLogger(),
    ddlLockTimeoutMs: 0,
    ddlLockRetries: 0,
    appliedBy: 'test',
    ...more,
  });
  /** The history's names; null where there is no history table (the database as it was). */
  const stamped = async () => {
    const [{ there }] = (await db.query<{ there: boolean }>(`SELECT to_regclass('public.pgmigrations') IS NOT NULL AS there`)) as [{ there: boolean }];
    return there ? (await db.query<{ name: string }>('SELECT name FROM pgmigrations')).map((r) => r.name) : null;
  };

  test('does not commit once the lock is lost: the check before COMMIT runs for it as for a batch', async () => {
    await withClient(async (client) => {
      const outcome = await runBatch('up', [], [], options(client, { prelude: stampA, beforeCommit: () => Promise.reject(new LockLostError()) }));
      expect(outcome.error).toBeInstanceOf(LockLostError);
      expect(await stamped()).toBeNull();
      expect(transactionStatusOf(client)).toBe('idle');
    });
  });

  test('does not commit once the run is stopped while it writes', async () => {
    await withClient(async (client) => {
      const stop = new AbortController();
      const reason = new InterruptedError('SIGTERM');
      const prelude = async (q: Queryable) => {
        await stampA(q);
        stop.abort(reason);
      };
      const outcome = await runBatch('up', [], [], options(client, { prelude, signal: stop.signal }));
      expect(outcome.error).toBeInstanceOf(InterruptedError);
      expect(outcome.error!.message).toBe('interrupted by SIGTERM: the history write was rolled back');
      // The signal's reason is left as it was: a report goes on the error the run rejects with.
      expect(outcome.error).not.toBe(reason);
      expect(await stamped()).toBeNull();
    });
  });

  // A cancel that reaches the server between two of the write's statements cancels nothing: the next
  // statements must not be sent, or they would run after the ROLLBACK, outside any transaction.
  test('sends none of the write\'s statements once stopped: nothing can run after its ROLLBACK', async () => {
    await db.query('CREATE SEQUENCE sent_after_stop');
    await withClient(async (client) => {
      const stop = new AbortController();
      const prelude = async (q: Queryable) => {
        await stampA(q);
        stop.abort(new InterruptedError('SIGTERM'));
        // nextval is not transactional: had it been sent, the ROLLBACK would not undo it.
        await q.query(`SELECT nextval('sent_after_stop')`);
      };
      const outcome = await runBatch('up', [], [], options(client, { prelude, signal: stop.signal }));
      expect(outcome.error!.message).toBe('interrupted by SIGTERM: the history write was rolled back');
      expect(await stamped()).toBeNull();
      expect(await db.query('SELECT last_value, is_called FROM sent_after_stop')).toEqual([{ last_value: '1', is_called: false }]);
      expect(transactionStatusOf(client)).toBe('idle');
    });
  });

  test('commits what it wrote otherwise', async () => {
    await withClient(async (client) => {
      const outcome = await runBatch('up', [], [], options(client, { prelude: stampA, beforeCommit: () => Promise.resolve() }));
      expect(outcome.error).toBeNull();
      expect(await stamped()).toEqual(['0001_t']);
    });
  });
});
