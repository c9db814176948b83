/**
 * Promise: a runner that lets go of the migration lock holds nothing after
 * (RELIABILITY.md, promise 3d). A stopped run lets go at once, without
 * waiting for the look it stopped (src/runMigrations.ts, untilStopped); when
 * that look was still connecting the lock's own session, or waiting on the
 * reader for a shared hold, neither may take the lock after, with no one left
 * to let it go, and the connect does not go on retrying.
 */
import { jest } from '@jest/globals';
import { createSilentLogger } from '../../src/config/logger.js';
import { requireConnection, resolveSettings } from '../../src/config/settings.js';
import { closeQuietly, connect } from '../../src/db/connection.js';
import { MIGRATION_LOCK_KEY, createMigrationLock } from '../../src/db/lock.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcpProxy.js';

jest.setTimeout(60_000);

let db: TestDatabase;
let proxy: TcpProxy;
beforeEach(async () => {
  db = await createTestDatabase('rel_lockgo');
  const server = new URL(db.url);
  proxy = await startTcpProxy({ targetHost: server.hostname, targetPort: Number(server.port || 5432), listen: false });
});
afterEach(async () => {
  await proxy.close();
  await db.drop();
});

const lockHolders = () =>
  db.query(
    `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
       AND classid = ($1::bigint >> 32)::oid AND objid = ($1::bigint & 4294967295)::oid AND objsubid = 1
       AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [MIGRATION_LOCK_KEY],
  );

/** Settles with what `promise` rejected with, or 'still waiting' when it has not settled within `ms`. */
async function settledWithin(promise: Promise<unknown>, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise.then(
        () => 'resolved',
        (error: unknown) => error,
      ),
      new Promise((resolve) => (timer = setTimeout(() => resolve('still waiting'), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

test('let go of while its session is still connecting: the connect gives up at once, and nothing is taken', async () => {
  const viaProxy = new URL(db.url);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  const target = requireConnection(resolveSettings({ databaseUrl: viaProxy.toString() }, {}));
  const lock = createMigrationLock(target, null, { timeoutSeconds: 30, waitTimeoutSeconds: 30, logger: createSilentLogger() });
  // Nothing listens yet: the lock's session retries, as against a server that is starting.
  const taking = lock.tryTake();
  await new Promise((resolve) => setTimeout(resolve, 300));
  await lock.release();
  // It does not go on retrying for the 30 s of the wait timeout (a library process stayed busy that long).
  expect(await settledWithin(taking, 3_000)).toEqual(expect.objectContaining({ message: expect.stringMatching(/let go of/) }));
  // A server that answers now gets no connection from it.
  await proxy.listen();
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  expect(proxy.accepted).toBe(0);
  expect(await lockHolders()).toEqual([]);
});

test('let go of while the reader waits to share it: the reader does not hold it once the holder is done', async () => {
  const target = requireConnection(resolveSettings({ databaseUrl: db.url }, {}));
  const holder = await connect(target, { waitTimeoutSeconds: 5 });
  const reader = await connect(target, { waitTimeoutSeconds: 5 });
  try {
    await holder.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
    const lock = createMigrationLock(target, reader, { timeoutSeconds: 30, waitTimeoutSeconds: 30, logger: createSilentLogger() });
    const sharing = lock.share();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await lock.release();
    await holder.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY]);
    expect(await settledWithin(sharing, 3_000)).toEqual(expect.objectContaining({ message: expect.stringMatching(/let go of/) }));
    // The reader stays open (it is the runner's) and holds nothing.
    expect(await lockHolders()).toEqual([]);
  } finally {
    await closeQuietly(holder);
    await closeQuietly(reader);
  }
});
