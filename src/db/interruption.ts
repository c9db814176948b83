/**
 * Stopping a batch from outside the migration's own code path: SIGINT or
 * SIGTERM, migration code that escaped (an exception from a timer,
 * process.exit()), or a migration past --migration-timeout. Whatever the
 * executor awaits for a migration is raced against the stop; when it comes,
 * the statement running on the server is cancelled first (from another
 * session: a cancel request, as psql's Ctrl-C sends one), then the executor
 * rolls back and reports the migration. A hung promise is left behind, and
 * its pgm.db is closed (src/db/execute.ts), so nothing it does later runs.
 */
import { closeQuietly, connect } from './connection.js';
import { MigrationTimeoutError, type StopReason } from '../core/errors.js';
import type { ConnectionTarget } from '../config/settings.js';

export interface Stopper {
  /**
   * Settles as `work` does, unless the run is stopped (or `deadline`, a
   * Date.now() time, passes) first: then the running statement is cancelled
   * and it rejects with the reason.
   */
  guard<T>(work: Promise<T>, deadline?: number | null): Promise<T>;
  /** Throws the stop reason if the run was stopped. */
  throwIfStopped(): void;
}

export interface StopperOptions {
  readonly signal?: AbortSignal | undefined;
  /** Seconds a migration may take (for the timeout's message). */
  readonly timeoutSeconds: number;
  /** Cancels what the batch's connection runs now. */
  readonly cancel?: (() => Promise<void>) | undefined;
}

export function createStopper({ signal, timeoutSeconds, cancel }: StopperOptions): Stopper {
  return {
    guard<T>(work: Promise<T>, deadline?: number | null): Promise<T> {
      if (!signal && !deadline) return work;
      return new Promise<T>((resolve, reject) => {
        let settled = false;
        let timer: NodeJS.Timeout | undefined;
        const cleanup = () => {
          settled = true;
          signal?.removeEventListener('abort', onAbort);
          if (timer) clearTimeout(timer);
        };
        const stop = (reason: unknown) => {
          if (settled) return;
          cleanup();
          // The ROLLBACK that follows must not be what the cancel hits: it is sent once the cancel has been.
          void (cancel ? cancel().catch(() => undefined) : Promise.resolve()).then(() => reject(reason));
        };
        const onAbort = () => stop(signal!.reason);
        signal?.addEventListener('abort', onAbort, { once: true });
        if (deadline) timer = setTimeout(() => stop(new MigrationTimeoutError(timeoutSeconds)), Math.max(0, deadline - Date.now()));
        work.then(
          (value) => {
            if (settled) return;
            cleanup();
            resolve(value);
          },
          (error: unknown) => {
            if (settled) return;
            cleanup();
            reject(error);
          },
        );
        if (signal?.aborted) onAbort();
      });
    },
    throwIfStopped() {
      if (signal?.aborted) throw signal.reason as StopReason;
    },
  };
}

/**
 * Cancels the statement that backend `pid` runs now, from a session of its
 * own (pg_cancel_backend: a role may cancel its own sessions). A backend
 * that is idle ignores it, so the ROLLBACK sent after it is not cancelled.
 */
export async function cancelBackend(target: ConnectionTarget, pid: number | null | undefined): Promise<void> {
  if (!pid) return;
  const client = await connect(target, { waitTimeoutSeconds: 0, applicationName: 'migrate cancel', idlesLong: false });
  try {
    await client.query('SELECT pg_catalog.pg_cancel_backend($1)', [pid]);
  } finally {
    await closeQuietly(client);
  }
}
