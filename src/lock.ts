/**
 * The migration lock: a session advisory lock on a connection of its own,
 * so a failed migration transaction can never take the lock down with it,
 * and a killed runner's lock goes when the server notices its session ended.
 *
 * It uses node-pg-migrate's own key, so plain node-pg-migrate and this runner
 * exclude each other (shared/reference/node-pg-migrate-9.md §4). Session locks
 * do not survive transaction-mode PgBouncer: point the runner at the server
 * or a session-mode pool.
 */
import { hostname } from 'node:os';
import { closeQuietly, connect, sleep, type Client } from './connection.js';
import { LockLostError, LockTimeoutError } from './errors.js';
import type { Logger } from './logger.js';
import type { ConnectionTarget } from './settings.js';

/** node-pg-migrate's PG_MIGRATE_LOCK_ID (runner.ts). */
export const MIGRATION_LOCK_KEY = '7241865325823964';

/** pg_locks keys a bigint advisory lock as classid (high 32 bits), objid (low 32 bits), objsubid 1. */
const IS_MIGRATION_LOCK = (alias: string) =>
  `${alias}locktype = 'advisory' AND ${alias}classid = ($1::bigint >> 32)::oid ` +
  `AND ${alias}objid = ($1::bigint & 4294967295)::oid AND ${alias}objsubid = 1`;

/** How long one blocking attempt waits before we log and look again. */
const ATTEMPT_MS = 1_000;

export interface MigrationLock {
  /** Throws LockLostError unless this session still holds the lock (call it right before COMMIT). */
  assertHeld(): Promise<void>;
  release(): Promise<void>;
}

export interface LockOptions {
  readonly timeoutSeconds: number;
  readonly waitTimeoutSeconds: number;
  readonly logger: Logger;
}

export async function acquireMigrationLock(target: ConnectionTarget, options: LockOptions): Promise<MigrationLock> {
  const client = await connect(target, {
    waitTimeoutSeconds: options.waitTimeoutSeconds,
    applicationName: lockApplicationName(),
  });
  try {
    await waitForLock(client, options);
  } catch (error) {
    await closeQuietly(client);
    throw error;
  }
  return {
    async assertHeld() {
      let held: boolean;
      try {
        const { rows } = await client.query<{ held: boolean }>(
          `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE ${IS_MIGRATION_LOCK('')} AND pid = pg_backend_pid() AND granted) AS held`,
          [MIGRATION_LOCK_KEY],
        );
        held = rows[0]?.held === true;
      } catch (error) {
        throw new LockLostError({ cause: error });
      }
      if (!held) throw new LockLostError();
    },
    async release() {
      try {
        await client.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY]);
      } finally {
        // Ending the session releases the lock even if the unlock failed.
        await closeQuietly(client);
      }
    },
  };
}

async function waitForLock(client: Client, options: LockOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutSeconds * 1000;
  let announced = false;
  for (;;) {
    const remaining = deadline - Date.now();
    // A blocking attempt bounded by lock_timeout wakes the moment the holder
    // releases, unlike polling pg_try_advisory_lock.
    const wait = Math.max(1, Math.min(ATTEMPT_MS, remaining));
    await client.query(`SELECT set_config('lock_timeout', $1, false)`, [`${wait}ms`]);
    try {
      await client.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
      await client.query(`SELECT set_config('lock_timeout', '0', false)`);
      if (announced) options.logger.info('got the migration lock');
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== '55P03') throw error;
    }
    const holder = await describeLockHolder(client);
    if (Date.now() >= deadline) throw new LockTimeoutError(options.timeoutSeconds, holder);
    if (!announced) {
      options.logger.info(`waiting for the migration lock${holder ? ` held by ${holder}` : ''}`, {
        lockTimeoutSeconds: options.timeoutSeconds,
      });
      announced = true;
    }
    await sleep(10);
  }
}

/** Who holds the lock, from pg_locks and pg_stat_activity (null when it cannot be seen). */
async function describeLockHolder(client: Client): Promise<string | null> {
  try {
    const { rows } = await client.query<{ pid: number; application_name: string; client_addr: string | null; since: string }>(
      `SELECT a.pid, a.application_name, host(a.client_addr) AS client_addr,
              to_char(a.backend_start, 'YYYY-MM-DD"T"HH24:MI:SSOF') AS since
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
       WHERE ${IS_MIGRATION_LOCK('l.')} AND l.granted
         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
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
