/**
 * Every error a user of the command or the library can meet: small classes
 * that carry data, each with its exit code (docs/CONTRACT.md "Exit codes")
 * and, where there is something to do, a hint. The CLI turns each into one
 * line in one place (src/cli/main.ts). Messages never copy a stack; the
 * driver's error is the `cause`, never changed.
 */
import { wording } from '../config/redact.js';
import type { PlanRefusal, RunReport } from './types.js';
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

/** A setting, the config file, or a file or server a setting names cannot be used (exit 2); `source` names which. */
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

/** A migration file that cannot be used: misnamed, duplicated, unreadable, not loadable, a .sql file that cannot mean what it says. */
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
  readonly exitCode: ExitCode;
  constructor(what: string, options: { cause?: unknown; hint?: string } = {}) {
    const refused = sqlStateOf(options.cause) === INSUFFICIENT_PRIVILEGE;
    super(`${what} failed: ${describeCause(options.cause)}; the batch was rolled back`, {
      ...options,
      hint:
        options.hint ??
        (refused
          ? "no migration is at fault; grant the role what it lacks on the history table and its schema, then run again"
          : /^(?:writing|creating) the history/.test(what)
            ? 'no migration is at fault; migrate status says what the history holds'
            : "no migration is at fault: the runner's own statement failed; run again"),
    });
    // A missing grant is the role's configuration (exit 2), as ServerStatementError says it.
    this.exitCode = refused ? EXIT.usage : EXIT.failed;
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

/** The plan needs a decision (a rename, data loss) or holds what cannot be planned: exit 3, nothing written. */
export class GenerateRefusedError extends RunnerError {
  readonly exitCode = EXIT.refused;
  constructor(readonly refusals: readonly PlanRefusal[]) {
    const first = refusals[0]!;
    const more = refusals.length > 1 ? ` (and ${refusals.length - 1} more, listed above)` : '';
    super(`generate --autogenerate refused: ${first.message}${more}`, { hint: first.hint });
  }
}

/** The generated migration did not prove out in the scratch database: exit 1, nothing written. */
export class ProofFailedError extends RunnerError {
  readonly exitCode = EXIT.failed;
  constructor(
    readonly step: string,
    readonly differences: readonly string[],
    options: { cause?: unknown } = {},
  ) {
    super(`generate --autogenerate wrote nothing: the generated migration failed its proof in the scratch database: ${step}${differences.length ? ` (${differences[0]}${differences.length > 1 ? ', …' : ''})` : ''}`, {
      ...options,
      hint: 'the remaining differences are listed above; write this migration by hand, or change the desired schema in smaller steps',
    });
  }
}

/** The role may not create the scratch database. */
export class ScratchDatabaseError extends ConfigError {}

/** No scratch server can be had: embedded is not installed (or not of this major) and no URL is set. Exit 2. */
export class ScratchUnavailableError extends ConfigError {}

/** A replay failed in the scratch database: not a failed migration of the target. */
export class ReplayFailedError extends RunnerError {
  readonly exitCode = EXIT.failed;
  constructor(cause: unknown, options: { hint?: string } = {}) {
    super(`while computing fingerprints in a scratch database: ${describeCause(cause)}`, { cause, ...options });
  }
}

/** `verify` found a problem: exit 1 (something to fix, like a failed migration). */
export class VerifyFailedError extends RunnerError {
  readonly exitCode = EXIT.failed;
}

/** squawk is not installed, or did not run: exit 2. */
export class LintUnavailableError extends ConfigError {}

/** `repair` found a checksum other than the one it read: something wrote the side table meanwhile. */
export class ChecksumConflictError extends RunnerError {
  readonly exitCode = EXIT.failed;
  constructor(readonly names: readonly string[], readonly table: string) {
    super(`the side table ${table} changed meanwhile for ${names.join(', ')}: nothing was recorded`, {
      hint: 'check with `migrate status`, then run migrate repair again',
    });
  }
}

/** A probe that cannot be used: the file is at fault (exit 2), named with its line where there is one. */
export class ProbeError extends MigrationFileError {}

/** PostgreSQL's insufficient_privilege: the role lacks a grant, which its owner or an admin settles. */
export const INSUFFICIENT_PRIVILEGE = '42501';

/** A PostgreSQL error as pg gives it: a severity and a five-character SQLSTATE. */
function sqlStateOf(error: unknown): string | null {
  const e = (error ?? {}) as { code?: unknown; severity?: unknown };
  return typeof e.severity === 'string' && typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : null;
}

/**
 * Reading the managed schema's catalogs failed (drift, reconcile, snapshot,
 * checkSchema, autogenerate); `step` names the object kind being read. A
 * missing grant is the role's configuration (exit 2); anything else exit 1.
 */
export class SchemaCatalogError extends RunnerError {
  readonly exitCode: ExitCode;
  constructor(
    readonly step: string,
    readonly schema: string,
    cause: unknown,
  ) {
    const denied = sqlStateOf(cause) === INSUFFICIENT_PRIVILEGE;
    super(wording`could not read the ${step} of schema "${schema}": ${describeCause(cause)}`, {
      cause,
      hint: denied
        ? wording`the role the runner connects as must be able to read the system catalogs (pg_catalog) of the database; grant it back, or connect as another role`
        : isConnectionLoss(cause)
          ? CONNECTION_LOSS_HINT
          : wording`no migration is at fault; check the server's log, then run again (--log-level debug shows more)`,
    });
    this.exitCode = denied ? EXIT.usage : EXIT.failed;
  }
}

/**
 * The connection to the database went away outside a migration (reading
 * facts, taking the lock, reading the catalogs); a migration that loses it is
 * a MigrationFailedError naming it.
 */
export class ConnectionLostError extends RunnerError {
  readonly exitCode = EXIT.failed;
  constructor(cause: unknown) {
    super(`lost the connection to the database: ${describeCause(cause)}`, { cause, hint: CONNECTION_LOSS_HINT });
  }
}

/**
 * Whether an error means the connection went away mid-run (reset, closed, the
 * backend terminated) rather than that a statement was wrong.
 */
export function isConnectionLoss(error: unknown): boolean {
  const e = (error ?? {}) as { code?: string; message?: string; severity?: string };
  if (e.code && ['ECONNRESET', 'EPIPE', 'ETIMEDOUT', '57P01', '57P02', '57P03', '57P05', '25P03'].includes(e.code)) return true;
  // The server ends the session after any FATAL (idle_in_transaction_session_timeout is 25P03).
  if (e.severity === 'FATAL' || e.severity === 'PANIC') return true;
  return /Connection terminated|connection error|not queryable|Client was closed/i.test(e.message ?? '');
}

/** What to do after a lost connection, for the error line. */
export const CONNECTION_LOSS_HINT =
  wording`the server rolls back whatever did not commit; check with \`migrate status\`, then run again`;

/**
 * The server refused one of the runner's own statements (reading the history,
 * taking the lock, dropping the schema's objects), not a migration's: a
 * missing grant is the role's configuration (exit 2), anything else exit 1.
 * `ServerStatementError.from` makes one of a PostgreSQL error, else null.
 */
export class ServerStatementError extends RunnerError {
  readonly exitCode: ExitCode;
  constructor(
    /** The SQLSTATE the server answered with. */
    readonly sqlState: string,
    cause: unknown,
  ) {
    const denied = sqlState === INSUFFICIENT_PRIVILEGE;
    super(wording`the database refused one of the runner's own statements: ${describeCause(cause)}`, {
      cause,
      hint: denied
        ? wording`the role the runner connects as lacks a privilege: run as the owner of the history table and the managed schema, or have them grant it`
        : wording`no migration is at fault; check the server's log, then run again (--log-level debug shows more)`,
    });
    this.exitCode = denied ? EXIT.usage : EXIT.failed;
  }

  static from(error: unknown): ServerStatementError | null {
    const sqlState = sqlStateOf(error);
    return sqlState === null ? null : new ServerStatementError(sqlState, error);
  }
}

/**
 * The RunnerError an error is to its user: itself; a lost connection; a
 * statement the server refused; null for anything else (a bug in the runner).
 */
export function asRunnerError(error: unknown): RunnerError | null {
  if (error instanceof RunnerError) return error;
  if (isConnectionLoss(error)) return new ConnectionLostError(error);
  return ServerStatementError.from(error);
}

/**
 * For the library's entry points (`.catch(rejectAsRunnerError)`): what the
 * CLI would print as one line, a library caller meets as the same RunnerError
 * rather than the driver's raw error. Anything else (a bug) goes on as it is.
 */
export function rejectAsRunnerError(error: unknown): never {
  throw asRunnerError(error) ?? error;
}

export function describeCause(cause: unknown): string {
  if (cause instanceof Error) return cause.message.split('\n')[0] ?? cause.name;
  return String(cause);
}
