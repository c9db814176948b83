/**
 * Promise: a runner that lets go of the migration lock holds nothing after
 * (RELIABILITY.md, promise 3d). A stopped run lets go at once, without
 * waiting for the look it stopped (src/runMigrations.ts, untilStopped); when
 * that look was still connecting the lock's own session, the session must not
 * take the lock once it connects, with no one left to let it go.
 */
import { jest } from '@jest/globals';
import { createSilentLogger } from '../../src/config/logger.js';
import { requireConnection, resolveSettings } from '../../src/config/settings.js';
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

test('let go of while its session is still connecting: the session, once connected, takes nothing and is closed', async () => {
  const viaProxy = new URL(db.url);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  const target = requireConnection(resolveSettings({ databaseUrl: viaProxy.toString() }, {}));
  const lock = createMigrationLock(target, null, { timeoutSeconds: 30, waitTimeoutSeconds: 30, logger: createSilentLogger() });
  // Nothing listens yet: the lock's session retries, as against a server that is starting.
  const taking = lock.tryTake().then(
    () => null,
    (error: unknown) => error,
  );
  await new Promise((resolve) => setTimeout(resolve, 300));
  await lock.release();
  await proxy.listen();
  expect(await taking).toEqual(expect.objectContaining({ message: expect.stringMatching(/let go of while its session connected/) }));
  expect(await lockHolders()).toEqual([]);
  // The session it opened is closed, not left idle holding a connection.
  for (let i = 0; i < 50 && proxy.open > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  expect(proxy.open).toBe(0);
  expect(proxy.accepted).toBe(1);
});
