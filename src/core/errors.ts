/**
 * Small error classes that carry data; the CLI turns each into one line and
 * an exit code in one place (src/cli/main.ts). Messages never copy a stack.
 */
import { wording } from '../config/redact.js';
import type { MigrationRun, RunReport } from './types.js';
import { listDifferences } from './lists.js';

export const EXIT = {
  ok: 0,
  /** A migration failed and was rolled back, or `check` found work to do. */
  failed: 1,
  /** Usage or configuration error. */
  usage: 2,
  /** The database needs a human decision. */
  refused: 3,
  /** The database did not accept connections within the wait timeout. */
  unreachable: 4,
  /** Another runner held the lock past the lock timeout. */
  locked: 5,
  /** Interrupted by SIGINT (128 + 2, as shells report it). */
  interrupted: 130,
  /** Ended by SIGTERM (128 + 15). */
  terminated: 143,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export abstract class RunnerError extends Error {
  abstract readonly exitCode: ExitCode;
  /** What to do next, shown after the message. */
  readonly hint: string | undefined;
  /** The run so far, when the error ended a run (runMigrations attaches it). */
  report: RunReport | null = null;
  constructor(message: string, options: { cause?: unknown; hint?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
  }

  /** Attaches the run's report (frozen data) and returns the error. */
  withReport(report: RunReport): this {
    this.report = report;
    return this;
  }
}

/** Bad flags, settings or config file. */
export class UsageError extends RunnerError {
  readonly exitCode = EXIT.usage;
}

export class ConfigError extends RunnerError {
  readonly exitCode = EXIT.usage;
  constructor(
    message: string,
    readonly source: string,
    options: { cause?: unknown; hint?: string } = {},
  ) {
    super(message, options);
  }
}

/** No database given by flags, environment or config. */
export class NoDatabaseError extends RunnerError {
  readonly exitCode = EXIT.usage;
  constructor() {
    super(wording`no database given`, {
      hint: wording`set DATABASE_URL (or DB_HOST/DB_NAME/..., POSTGRES_*, PG*), or pass --database-url`,
    });
  }
}

/** A migration file that cannot be used: misnamed, duplicated, unreadable. */
export class MigrationFileError extends RunnerError {
  readonly exitCode = EXIT.usage;
  constructor(
    message: string,
    readonly file: string,
    options: { cause?: unknown; hint?: string } = {},
  ) {
    super(message, options);
  }
}

export class UnknownRevisionError extends RunnerError {
  readonly exitCode = EXIT.usage;
  constructor(
    readonly revision: string,
    hint = 'use a migration name from `migrate history` (or a unique prefix of one), `head` or `base`',
  ) {
    super(`unknown revision ${JSON.stringify(revision)}`, { hint });
  }
}

/** The server refused us for a reason waiting will not fix (auth, missing database, TLS). */
export class ConnectionConfigError extends RunnerError {
  readonly exitCode = EXIT.usage;
}

export class DatabaseUnreachableError extends RunnerError {
  readonly exitCode = EXIT.unreachable;
  constructor(
    readonly target: string,
    readonly timeoutSeconds: number,
    options: { cause?: unknown } = {},
  ) {
    // The last attempt's reason (connection refused, the system is starting up, …) says which fix applies.
    const reason = options.cause === undefined ? '' : `: ${describeCause(options.cause)}`;
    super(wording`database ${target} did not accept connections within ${timeoutSeconds}s` + reason, {
      ...options,
      hint: wording`check that the server is up and the host and port are right, or raise --wait-timeout`,
    });
  }
}

/**
 * Every attempt within the wait timeout met "too many connections" (53300):
 * the server is at max_connections, or the role or database at its CONNECTION
 * LIMIT. Exit 4 like any wait that ran out: waiting longer can settle it.
 */
export class TooManyConnectionsError extends RunnerError {
  readonly exitCode = EXIT.unreachable;
  constructor(
    readonly target: string,
    readonly timeoutSeconds: number,
    options: { cause?: unknown } = {},
  ) {
    super(wording`database ${target} has too many connections: ${describeCause(options.cause)} (still so after ${timeoutSeconds}s)`, {
      ...options,
      hint: wording`close idle sessions, or raise max_connections or the role's or database's CONNECTION LIMIT; --wait-timeout keeps trying`,
    });
  }
}

/**
 * The server accepts no writes: a hot standby (in recovery), or
 * default_transaction_read_only on for the server, database or role. Found
 * before anything is tried, so no migration is blamed. Exit 3, refused: it
 * needs the primary, or someone to lift the setting (README "How it behaves").
 */
export class ServerReadOnlyError extends RunnerError {
  readonly exitCode = EXIT.refused;
  constructor(
    readonly target: string,
    readonly reason: 'hot-standby' | 'default_transaction_read_only',
  ) {
    super(
      reason === 'hot-standby'
        ? wording`database ${target} is a read-only hot standby (the server is in recovery); nothing was changed`
        : wording`database ${target} is read-only for this session (default_transaction_read_only is on); nothing was changed`,
      {
        hint: reason === 'hot-standby'
          ? wording`point the runner at the primary`
          : wording`turn it off for the role or database the runner uses (ALTER ROLE … SET default_transaction_read_only = off), or connect as one that may write`,
      },
    );
  }
}

export class LockTimeoutError extends RunnerError {
  readonly exitCode = EXIT.locked;
  constructor(
    readonly timeoutSeconds: number,
    readonly holder: string | null,
  ) {
    super(
      `another runner held the migration lock for more than ${timeoutSeconds}s` +
        (holder ? ` (held by ${holder})` : ''),
      { hint: 'wait for it to finish, or raise --lock-timeout' },
    );
  }
}

/**
 * The migration lock's session ended (pg_terminate_backend, idle_session_timeout,
 * a pooler) while a batch was open; the batch was rolled back, since another
 * runner may already hold the lock and apply the same migrations.
 */
export class LockLostError extends RunnerError {
  readonly exitCode = EXIT.failed;
  constructor(options: { cause?: unknown; detail?: string } = {}) {
    super(`lost the migration lock before COMMIT (its database session ended); ${options.detail ?? 'the batch was rolled back'}`, {
      ...(options.cause !== undefined && { cause: options.cause }),
      hint: 'run again; if a pooler or idle_session_timeout ends idle sessions, exempt the migration role',
    });
  }
}

/**
 * A history write found the migration recorded already: another run applied
 * it meanwhile (one whose lock session had ended, or plain node-pg-migrate
 * without the lock). Nothing was recorded, so the history never names a
 * migration twice; in a batch the transaction is rolled back.
 */
export class HistoryConflictError extends RunnerError {
  readonly exitCode = EXIT.failed;
  constructor(readonly names: readonly string[], readonly table: string) {
    super(`the history ${table} records ${names.join(', ')} already: another run applied ${names.length > 1 ? 'them' : 'it'} meanwhile; nothing was recorded`, {
      hint: 'check with `migrate status` and `migrate history`, then run again',
    });
  }
}

/** The database needs a human decision. */
export class RefusedError extends RunnerError {
  readonly exitCode = EXIT.refused;
  constructor(message: string, report: RunReport | null, options: { hint?: string } = {}) {
    super(message, options);
    this.report = report;
  }
}

/** A migration failed; its transaction was rolled back. */
export class MigrationFailedError extends RunnerError {
  readonly exitCode = EXIT.failed;
  readonly detail: string;
  constructor(
    readonly migration: string,
    readonly direction: 'up' | 'down',
    /** The run so far; runMigrations attaches it once the executor has said what happened. */
    report: RunReport | null,
    options: { cause?: unknown; detail?: string; hint?: string } = {},
  ) {
    const detail = options.detail ?? describeCause(options.cause);
    super(`migration ${migration} (${direction}) failed: ${detail}`, options);
    this.detail = detail;
    this.report = report;
  }
}

/**
 * One of the runner's own statements inside a batch failed (creating or
 * writing the history): the batch was rolled back, and no migration is blamed.
 */
export class HistoryWriteError extends RunnerError {
  readonly exitCode = EXIT.failed;
  constructor(what: string, options: { cause?: unknown; hint?: string } = {}) {
    super(`${what} failed: ${describeCause(options.cause)}; the batch was rolled back`, {
      ...options,
      hint: options.hint ?? "no migration is at fault; check the role's privileges on the history table and its schema, then run again",
    });
  }
}

/**
 * Why a run was stopped from outside a migration's own code path: the
 * reasons an AbortSignal carries into the executor, which cancels the
 * running statement on the server, rolls back, and reports the migration.
 */
export type StopReason = InterruptedError | MigrationEscapeError | MigrationTimeoutError;

/** SIGINT or SIGTERM arrived during a run (exit 130 or 143, as a shell reports a signal). */
export class InterruptedError extends RunnerError {
  readonly exitCode: ExitCode;
  constructor(
    readonly signal: 'SIGINT' | 'SIGTERM',
    /** What was interrupted and what became of it, when known. */
    detail = '',
  ) {
    super(`interrupted by ${signal}${detail ? `: ${detail}` : ''}`, {
      hint: 'check with `migrate status`, then run again',
    });
    this.exitCode = signal === 'SIGINT' ? EXIT.interrupted : EXIT.terminated;
  }

  /** The same interruption, saying what it stopped. */
  describing(detail: string): InterruptedError {
    return new InterruptedError(this.signal, detail);
  }
}

/**
 * Migration code left the path the runner awaits: an exception thrown from a
 * timer or callback, an unhandled rejection, or a call to process.exit().
 */
export class MigrationEscapeError extends RunnerError {
  readonly exitCode = EXIT.failed;
}

/** A migration ran longer than --migration-timeout. */
export class MigrationTimeoutError extends RunnerError {
  readonly exitCode = EXIT.failed;
  constructor(readonly seconds: number) {
    super(`did not finish within ${seconds} s (--migration-timeout) and was cancelled`, {
      hint: 'find out why it hangs, or raise --migration-timeout',
    });
  }
}

/**
 * `checkSchema`: the schema a batch was about to commit is not the one the
 * manifest recorded for the revision it reached; the batch was rolled back.
 */
export class SchemaCheckError extends RunnerError {
  readonly exitCode = EXIT.failed;
  constructor(
    readonly revision: string | null,
    readonly differences: readonly string[],
    /** What became of the run; default: the batch was rolled back. */
    detail = 'the batch was rolled back',
  ) {
    const shown = listDifferences(differences, 5);
    super(
      `the schema after ${revision ?? 'base'} is not the one the manifest recorded (${shown || 'the fingerprints differ'}); ${detail}`,
      { hint: 'the database had drifted before the run (migrate status shows it), or a migration does something else here than in the snapshot; fix that, or run migrate snapshot if the manifest is wrong' },
    );
  }
}

/** `migrate sql` cannot show a migration's SQL without running what it depends on. */
export class SqlPreviewError extends RunnerError {
  readonly exitCode = EXIT.failed;
  constructor(
    readonly migration: string,
    message: string,
    options: { cause?: unknown; hint?: string } = {},
  ) {
    super(message, options);
  }
}

/** `check` found work to do. */
export class CheckFailedError extends RunnerError {
  readonly exitCode = EXIT.failed;
}

export function describeCause(cause: unknown): string {
  if (cause instanceof Error) return cause.message.split('\n')[0] ?? cause.name;
  return String(cause);
}
