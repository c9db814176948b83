/**
 * The migration lock: a session advisory lock on a connection of its own,
 * so a failed migration transaction can never take the lock down with it,
 * and a killed runner's lock goes when the server notices its session ended.
 *
 * It uses node-pg-migrate's own key, so plain node-pg-migrate and this runner
 * exclude each other (node-pg-migrate's src/runner.ts, its advisory lock). A runner
 * changes the database only holding it exclusively; a runner that finds it
 * held waits for it shared, to look once the holder is done, so that many
 * waiting replicas look at once (bench/RESULTS.md, replicas; runMigrations.ts). It waits on the
 * connection it reads with, and opens the lock's own session only when it
 * has to hold the lock exclusively: a replica that finds the work done uses
 * one connection, not two. Session locks do not survive transaction-mode
 * PgBouncer: point the runner at the server or a session-mode pool.
 *
 * Functions and operators are named with their schema (pg_catalog.fn,
 * OPERATOR(pg_catalog.=)): the reading connection also runs migrations, and
 * nothing they create may stand in for pg_catalog's.
 */
import { hostname } from 'node:os';
import { closeQuietly, connect, sleep, type Client } from './connection.js';
import { LockLostError, LockTimeoutError } from '../core/errors.js';
import type { Logger } from '../config/logger.js';
import type { ConnectionTarget } from '../config/settings.js';

/** node-pg-migrate's PG_MIGRATE_LOCK_ID (runner.ts). */
export const MIGRATION_LOCK_KEY = '7241865325823964';

/** pg_locks keys a bigint advisory lock as classid (high 32 bits), objid (low 32 bits), objsubid 1. */
const IS_MIGRATION_LOCK = (alias: string) =>
  `${alias}locktype OPERATOR(pg_catalog.=) 'advisory' ` +
  `AND ${alias}classid OPERATOR(pg_catalog.=) ($1::bigint OPERATOR(pg_catalog.>>) 32)::oid ` +
  `AND ${alias}objid OPERATOR(pg_catalog.=) ($1::bigint OPERATOR(pg_catalog.&) 4294967295)::oid ` +
  `AND ${alias}objsubid OPERATOR(pg_catalog.=) 1`;

/** This database, by oid, for pg_locks. */
const THIS_DATABASE = '(SELECT oid FROM pg_database WHERE datname OPERATOR(pg_catalog.=) pg_catalog.current_database())';

/** How long one blocking attempt waits before we log and look again. */
const ATTEMPT_MS = 1_000;

export interface MigrationLock {
  /** Throws LockLostError unless this session still holds the lock (call it right before COMMIT). */
  assertHeld(): Promise<void>;
  release(): Promise<void>;
}

/**
 * The lock, held exclusively by a session of its own (to change the database)
 * or shared by the runner's reading connection (to look at it while no runner
 * changes it). Every wait counts against one lock timeout, from when it was made.
 */
export interface MigrationLockSession extends MigrationLock {
  /** Takes the lock exclusively if no other session holds it in any mode; false at once otherwise. */
  tryTake(): Promise<boolean>;
  /** Waits for the lock, exclusively (LockTimeoutError at the lock timeout). */
  take(): Promise<void>;
  /**
   * Waits until no session holds the lock exclusively, then holds it shared
   * on the reading connection: a look then sees a database no runner is
   * changing, and any number of waiters look at once.
   */
  share(): Promise<void>;
  /** Lets go of the hold `share` or `take` got, keeping the connections. */
  letGo(mode: 'shared' | 'exclusive'): Promise<void>;
}

export interface LockOptions {
  readonly timeoutSeconds: number;
  readonly waitTimeoutSeconds: number;
  readonly logger: Logger;
}

/**
 * The lock for a runner that reads with `reader` (which it keeps open, and
 * whose session settings the waits leave as they were). Nothing is held yet,
 * and the lock's own session connects when first needed: `tryTake` on a free
 * lock, or `take`. Without a reader, everything happens on that session.
 */
export function createMigrationLock(target: ConnectionTarget, reader: Client | null, options: LockOptions): MigrationLockSession {
  const deadline = Date.now() + options.timeoutSeconds * 1000;
  const waiting = { announced: false };
  let session: Client | null = null;
  let sharing: Client | null = null;
  // Let go of while its session connects, or while a wait for it goes on (a stopped run does not wait
  // for the look it stopped): the connect gives up at once rather than retrying up to the wait
  // timeout, and neither the session nor the reader may then take the lock with no one left to let it go.
  const letGoOf = new AbortController();
  const ownSession = async () => {
    if (session) return session;
    const opened = await connect(target, {
      waitTimeoutSeconds: options.waitTimeoutSeconds,
      applicationName: lockApplicationName(),
      signal: letGoOf.signal,
    });
    // Connected just as it was let go of: the release found no session to end.
    if (letGoOf.signal.aborted) {
      await closeQuietly(opened);
      throw letGoOf.signal.reason;
    }
    return (session = opened);
  };
  return {
    async tryTake() {
      // Held already (another runner applies, or looks): the wait is shared, on the reader.
      if (reader && (await isHeldByAnyone(reader))) return false;
      const client = await ownSession();
      const { rows } = await client.query<{ taken: boolean }>('SELECT pg_catalog.pg_try_advisory_lock($1::bigint) AS taken', [MIGRATION_LOCK_KEY]);
      return rows[0]?.taken === true;
    },
    take: async () => waitForLock(await ownSession(), 'exclusive', deadline, waiting, options, letGoOf.signal),
    async share() {
      const client = reader ?? (await ownSession());
      await waitForLock(client, 'shared', deadline, waiting, options, letGoOf.signal);
      if (letGoOf.signal.aborted) {
        // Got after the release, which had no hold of it to end: the reader would keep it until it closes.
        await client.query(`SELECT pg_catalog.${MODES.shared.unlock}($1::bigint)`, [MIGRATION_LOCK_KEY]).catch(() => undefined);
        throw letGoOf.signal.reason;
      }
      sharing = client;
    },
    async letGo(mode) {
      const client = mode === 'shared' ? sharing : session;
      if (!client) return;
      await client.query(`SELECT pg_catalog.${MODES[mode].unlock}($1::bigint)`, [MIGRATION_LOCK_KEY]);
      if (mode === 'shared') sharing = null;
    },
    async assertHeld() {
      let held: boolean;
      try {
        held = session !== null && (await holds(session, 'exclusive'));
      } catch (error) {
        throw new LockLostError({ cause: error });
      }
      if (!held) throw new LockLostError();
    },
    async release() {
      letGoOf.abort(new Error('the migration lock was let go of while it was being taken'));
      // The reader stays open (it is the runner's): only its shared hold goes.
      if (sharing && sharing !== session) await sharing.query('SELECT pg_catalog.pg_advisory_unlock_shared($1::bigint)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
      sharing = null;
      if (!session) return;
      try {
        // Every hold, whatever its mode: the next waiter goes on before this session has ended.
        await session.query('SELECT pg_catalog.pg_advisory_unlock_all()');
      } finally {
        // Ending the session releases them even if the unlock failed.
        await closeQuietly(session);
      }
    },
  };
}

/**
 * Runs `work` with the lock (createMigrationLock: nothing held yet), and lets
 * go of whatever it holds when `work` settles, however it settles; the
 * reader stays open. Ending the lock's session releases the lock even where
 * the unlock fails, so that failure is not the run's.
 */
export async function withLock<T>(
  target: ConnectionTarget,
  reader: Client | null,
  options: LockOptions,
  work: (lock: MigrationLockSession) => Promise<T>,
): Promise<T> {
  const lock = createMigrationLock(target, reader, options);
  try {
    return await work(lock);
  } finally {
    await lock.release().catch(() => undefined);
  }
}

const MODES = {
  exclusive: { lock: 'pg_advisory_lock', unlock: 'pg_advisory_unlock', pgLocksMode: 'ExclusiveLock' },
  shared: { lock: 'pg_advisory_lock_shared', unlock: 'pg_advisory_unlock_shared', pgLocksMode: 'ShareLock' },
} as const;

/** Whether any session of this database holds the lock, in any mode. */
async function isHeldByAnyone(client: Client): Promise<boolean> {
  const { rows } = await client.query<{ held: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE ${IS_MIGRATION_LOCK('')} AND granted
       AND database OPERATOR(pg_catalog.=) ${THIS_DATABASE}) AS held`,
    [MIGRATION_LOCK_KEY],
  );
  return rows[0]?.held === true;
}

async function holds(client: Client, mode: 'shared' | 'exclusive'): Promise<boolean> {
  const { rows } = await client.query<{ held: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE ${IS_MIGRATION_LOCK('')} AND pid OPERATOR(pg_catalog.=) pg_catalog.pg_backend_pid()
       AND granted AND mode OPERATOR(pg_catalog.=) $2::text) AS held`,
    [MIGRATION_LOCK_KEY, MODES[mode].pgLocksMode],
  );
  return rows[0]?.held === true;
}

async function waitForLock(
  client: Client,
  mode: 'shared' | 'exclusive',
  deadline: number,
  waiting: { announced: boolean },
  options: LockOptions,
  /** Aborted when the lock is let go of: no further attempt is made. */
  signal: AbortSignal,
): Promise<void> {
  for (;;) {
    signal.throwIfAborted();
    const remaining = deadline - Date.now();
    // A blocking attempt bounded by lock_timeout wakes the moment the holder
    // releases, unlike polling pg_try_advisory_lock.
    const wait = Math.max(1, Math.min(ATTEMPT_MS, remaining));
    // lock_timeout for this attempt only (a transaction's), so the reader's own
    // setting, which its migrations run with, stays as it was. A session lock
    // taken in a transaction is kept when the transaction ends, whichever way.
    let got = false;
    await client.query('BEGIN');
    try {
      await client.query(`SELECT pg_catalog.set_config('lock_timeout', $1::text, true)`, [`${wait}ms`]);
      await client.query(`SELECT pg_catalog.${MODES[mode].lock}($1::bigint)`, [MIGRATION_LOCK_KEY]);
      got = true;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      if ((error as { code?: string }).code !== '55P03') throw error;
    }
    if (got) await client.query('COMMIT');
    // PostgreSQL may grant the lock just as lock_timeout fires: the statement
    // fails, yet the session holds it. Count that as got, not as a second hold.
    if (got || (await holds(client, mode))) {
      if (waiting.announced) options.logger.info(`got the migration lock${mode === 'shared' ? ' (shared, to look)' : ''}`);
      return;
    }
    const holder = await describeLockHolder(client);
    if (Date.now() >= deadline) throw new LockTimeoutError(options.timeoutSeconds, holder);
    if (!waiting.announced) {
      options.logger.info(`waiting for the migration lock${holder ? ` held by ${holder}` : ''}`, {
        lockTimeoutSeconds: options.timeoutSeconds,
      });
      waiting.announced = true;
    }
    await sleep(10);
  }
}

/** Who holds the lock, from pg_locks and pg_stat_activity (null when it cannot be seen). */
async function describeLockHolder(client: Client): Promise<string | null> {
  try {
    const { rows } = await client.query<{ pid: number; application_name: string; client_addr: string | null; since: string }>(
      `SELECT a.pid, a.application_name, pg_catalog.host(a.client_addr) AS client_addr,
              pg_catalog.to_char(a.backend_start, 'YYYY-MM-DD"T"HH24:MI:SSOF') AS since
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid OPERATOR(pg_catalog.=) l.pid
       WHERE ${IS_MIGRATION_LOCK('l.')} AND l.granted
         AND l.database OPERATOR(pg_catalog.=) ${THIS_DATABASE}
       ORDER BY l.mode OPERATOR(pg_catalog.=) 'ExclusiveLock' DESC
       LIMIT 1`,
      [MIGRATION_LOCK_KEY],
    );
    const row = rows[0];
    if (!row) return null;
    return `pid ${row.pid}${row.application_name ? ` (${row.application_name})` : ''}` +
      `${row.client_addr ? ` from ${row.client_addr}` : ''} since ${row.since}`;
  } catch {
    return null;
  }
}

function lockApplicationName(): string {
  return `migrate lock ${hostname()} pid ${process.pid}`.slice(0, 63);
}
