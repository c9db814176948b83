/**
 * What the one error line says when a migration fails: the server's message,
 * where in the file (or which statement), and for a lock timeout which
 * setting tripped and who held the lock. The full statement with a caret
 * under the error position, as node-pg-migrate prints it (db.ts:121-134),
 * goes to the log only when it says more than the error line (a position,
 * or a statement the line cut short): a statement is not printed twice.
 */
import pg from 'pg';
import { CONNECTION_LOSS_HINT, InterruptedError, MigrationEscapeError, MigrationFailedError, MigrationTimeoutError, describeCause, isConnectionLoss } from '../core/errors.js';
import type { Queryable } from '../core/types.js';
import type { Logger } from '../config/logger.js';
import type { StatementLocation } from './roundTrips.js';
import type { MigrationFile } from '../core/types.js';
import { listFirst } from '../core/lists.js';

export const LOCK_NOT_AVAILABLE = '55P03';

export function isLockTimeout(error: unknown): boolean {
  return (error as { code?: string } | null)?.code === LOCK_NOT_AVAILABLE;
}

/** Which lock_timeout tripped, and the sessions that held a lock on the table. */
export interface LockTimeoutFacts {
  /** The lock_timeout in force, as PostgreSQL shows it (`500ms`). */
  readonly value: string;
  /** Where it came from: pg_settings.source (`database`, `user`, `configuration file`, …), or `--ddl-lock-timeout`. */
  readonly source: string;
  readonly attempts: number;
  readonly table: string | null;
  readonly holders: readonly LockHolder[];
}

export interface LockHolder {
  readonly pid: number;
  readonly applicationName: string;
  readonly state: string | null;
  readonly query: string;
}

export interface FailureFacts {
  readonly file: MigrationFile;
  readonly direction: 'up' | 'down';
  readonly cause: unknown;
  readonly location: StatementLocation | null;
  /** For a .sql section sent whole: the file line its text starts on, so a position becomes `file:line`. */
  readonly sectionLine: number | null;
  readonly lockTimeout: LockTimeoutFacts | null;
  /** For a migration that ran outside a transaction: what took effect before it failed. */
  readonly outsideTransaction: OutsideTransactionFacts | null;
  /** Migrations of this run committed before it (a migration that runs alone commits what came before). */
  readonly committedBefore: readonly string[];
}

export interface OutsideTransactionFacts {
  /** Statements that ran to completion (and so stay), of `total`. */
  readonly done: number;
  readonly total: number;
  /** Migrations of this run committed before it. */
  readonly committedBefore: readonly string[];
  /** `DROP INDEX CONCURRENTLY …` for each invalid index a failed concurrent build left. */
  readonly invalidIndexes: readonly string[];
}

export function describeMigrationFailure(facts: FailureFacts, logger: Logger): MigrationFailedError {
  const { file, direction, cause, location } = facts;
  if (isConnectionLoss(cause)) {
    return new MigrationFailedError(file.name, direction, null, {
      cause,
      detail: `lost the connection to the database (${describeCause(cause)}) (${file.fileName})`,
      hint: CONNECTION_LOSS_HINT,
    });
  }
  let detail = describeCause(cause);
  // Only the batch's open transaction rolls back: what a migration that ran alone made commit stays applied.
  const committed = facts.committedBefore;
  const stays = committed.length
    ? `${committed.length === 1 ? `${committed[0]}, before it, committed and stays` : `the ${committed.length} migrations before it (${listFirst(committed)}) committed and stay`} applied`
    : null;
  let hint = stays ? `its transaction was rolled back; ${stays}; fix the migration and run again` : 'the batch was rolled back; fix the migration and run again';
  if (facts.lockTimeout) {
    ({ detail, hint } = describeLockTimeout(facts.lockTimeout));
    if (stays) hint = `${hint}; ${stays}`;
  } else if (location) {
    detail += ` ${whereOf(location, facts)}`;
  }
  // Only when it says more than the error line: the position in the statement, or a statement the line cut short.
  if (location && (location.position !== null || oneLine(location.statement).length > 120)) {
    logger.error(`failing SQL of ${file.fileName}:\n${caretAt(location)}`, { migration: file.name });
  }
  if (facts.outsideTransaction) {
    const outside = describeOutsideTransaction(facts.outsideTransaction);
    detail += `; ${outside.detail}`;
    hint = outside.hint;
  }
  const named = detail.includes(`${file.fileName}:`) ? detail : `${detail} (${file.fileName})`;
  return new MigrationFailedError(file.name, direction, null, { cause, detail: named, hint });
}

/** `at 0002_x.sql:3: <that line>` for a .sql section, else `in statement: <statement>`. */
function whereOf(location: StatementLocation, facts: FailureFacts): string {
  if (facts.sectionLine !== null && location.position !== null) {
    const before = location.statement.slice(0, location.position - 1);
    const line = facts.sectionLine + (before.match(/\n/g)?.length ?? 0);
    const lineStart = before.lastIndexOf('\n') + 1;
    const lineEnd = location.statement.indexOf('\n', location.position - 1);
    const text = location.statement.slice(lineStart, lineEnd < 0 ? undefined : lineEnd);
    return `at ${facts.file.fileName}:${line}: ${truncate(oneLine(text), 120)}`;
  }
  const failed = location.failedStatementEnd === undefined ? location.statement : location.statement.slice(location.position! - 1, location.failedStatementEnd);
  return `in statement: ${truncate(oneLine(failed), 120)}`;
}

export function describeOutsideTransaction(facts: OutsideTransactionFacts): { detail: string; hint: string } {
  const took = facts.done === 0
    ? 'none of its statements took effect'
    : facts.done === 1
      ? `its statement 1 of ${facts.total} took effect and stays`
      : `its statements 1–${facts.done} of ${facts.total} took effect and stay`;
  const before = facts.committedBefore.length
    ? `the ${facts.committedBefore.length} migration${facts.committedBefore.length === 1 ? '' : 's'} before it committed`
    : 'nothing before it in this run was committed';
  const index = facts.invalidIndexes.length ? `; it left an invalid index: ${facts.invalidIndexes.join('; ')} clears it` : '';
  return {
    detail: `it ran outside a transaction: ${took}, the migrations after it did not run, ${before}${index}`,
    hint: 'it is not recorded as applied; make it safe to run again (IF NOT EXISTS), then run again',
  };
}

/** Where a stop found the batch. */
export interface StopFacts {
  /** The migration it stopped; null between migrations (or in the runner's own statements). */
  readonly file: MigrationFile | null;
  readonly direction: 'up' | 'down';
  /** Migrations of this run committed before it. */
  readonly committed: readonly string[];
  /** For a migration that ran outside a transaction: what took effect before the stop. */
  readonly outside: OutsideTransactionFacts | null;
}

/**
 * A stop (a signal, migration code that escaped, a migration timeout), said
 * for the migration it stopped and what became of the batch; null when
 * `error` is no stop.
 */
export function describeStop(error: unknown, { file, direction, committed, outside }: StopFacts): Error | null {
  const before = committed.length ? `; ${committed.length} migration${committed.length === 1 ? '' : 's'} before it committed` : '';
  const what = outside ? describeOutsideTransaction(outside).detail : `its transaction was rolled back${before}`;
  if (error instanceof InterruptedError) {
    const between = committed.length
      ? `stopped between transactions: ${committed.length} migration${committed.length === 1 ? '' : 's'} committed, the rest did not run`
      : 'the batch was rolled back';
    return error.describing(file ? `${file.name} (${direction}) was cancelled; ${what}` : between);
  }
  if ((error instanceof MigrationEscapeError || error instanceof MigrationTimeoutError) && file) {
    return new MigrationFailedError(file.name, direction, null, {
      cause: error,
      detail: `${error.message} (${file.fileName}); ${what}`,
      ...(error.hint !== undefined && { hint: error.hint }),
    });
  }
  return null;
}

/** Reads which lock_timeout tripped and who holds a lock on the table, after the rollback. */
export async function readLockTimeoutFacts(
  db: Queryable,
  options: { readonly statement: string | null; readonly schema: string; readonly ownTimeoutMs: number; readonly attempts: number },
): Promise<LockTimeoutFacts> {
  const table = options.statement ? tableOf(options.statement) : null;
  let value = `${options.ownTimeoutMs} ms`;
  let source = '--ddl-lock-timeout';
  if (options.ownTimeoutMs <= 0) {
    // The runner set none: it came from the role, the database, the server's configuration or the client.
    const { rows } = await db.query<{ value: string; source: string }>(
      `SELECT pg_catalog.current_setting('lock_timeout') AS value, source FROM pg_catalog.pg_settings WHERE name = 'lock_timeout'`,
    );
    value = rows[0]?.value ?? 'lock_timeout';
    source = rows[0]?.source ?? 'unknown';
  }
  let holders: LockHolder[] = [];
  if (table) {
    const qualified = /^(?:"[^"]*"|[^".]+)\./.test(table) ? table : `${pg.escapeIdentifier(options.schema)}.${table}`;
    const { rows } = await db.query<{ pid: number; application_name: string; state: string | null; query: string }>(
      `SELECT a.pid, a.application_name, a.state, a.query
       FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
       WHERE l.locktype = 'relation' AND l.relation = pg_catalog.to_regclass($1) AND l.granted
         AND l.pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid()
       ORDER BY a.xact_start NULLS LAST LIMIT 3`,
      [qualified],
    );
    holders = rows.map((r) => ({ pid: r.pid, applicationName: r.application_name, state: r.state, query: r.query }));
  }
  return { value, source, attempts: options.attempts, table, holders };
}

function describeLockTimeout(facts: LockTimeoutFacts): { detail: string; hint: string } {
  const what = facts.table ? `table ${facts.table}` : 'a table';
  const setting = facts.source === '--ddl-lock-timeout' ? '' : `: lock_timeout = ${facts.value}, ${sourceOf(facts.source)}`;
  const holders = facts.holders.map((h) =>
    `pid ${h.pid}${h.applicationName ? ` (${h.applicationName})` : ''}${h.state ? ` ${h.state}` : ''}: ${truncate(oneLine(h.query), 80)}`,
  );
  const detail = `could not lock ${what} within ${facts.value} (${facts.attempts} attempts)${setting}` +
    (holders.length ? `; held by ${holders.join('; ')}` : '');
  const hint = facts.source === '--ddl-lock-timeout'
    ? 'another session holds a conflicting lock on it; retry later or raise --ddl-lock-timeout'
    : 'another session holds a conflicting lock on it; retry later, or give migrations their own wait with --ddl-lock-timeout MS ' +
      '(or lift the setting where it is made)';
  return { detail, hint };
}

/** pg_settings.source in words (https://www.postgresql.org/docs/current/view-pg-settings.html). */
function sourceOf(source: string): string {
  switch (source) {
    case 'database':
      return 'set for the database (ALTER DATABASE … SET)';
    case 'user':
      return 'set for the role (ALTER ROLE … SET)';
    case 'database user':
      return 'set for the role in this database (ALTER ROLE … IN DATABASE … SET)';
    case 'configuration file':
      return 'set in the server\'s configuration file';
    case 'client':
      return 'set by the client (PGOPTIONS or the connection\'s options)';
    case 'session':
      return 'set by a SET in the session';
    default:
      return `source: ${source}`;
  }
}

/** The full statement and a caret under the error position. */
function caretAt(location: StatementLocation): string {
  if (location.position === null) return location.statement;
  const before = location.statement.slice(0, location.position - 1);
  const lineStart = before.lastIndexOf('\n') + 1;
  const lineEnd = location.statement.indexOf('\n', location.position - 1);
  const line = location.statement.slice(lineStart, lineEnd < 0 ? undefined : lineEnd);
  return `${location.statement}\n---\n${line}\n${' '.repeat(location.position - 1 - lineStart)}^`;
}

/** The table a failed DDL statement names: best effort, for the lock-timeout message. */
export function tableOf(statement: string): string | null {
  const match =
    /\b(?:TABLE|INTO|UPDATE|FROM|ON)\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?(?:ONLY\s+)?((?:"[^"]+"|[\w$]+)(?:\.(?:"[^"]+"|[\w$]+))?)/i.exec(
      statement,
    );
  return match?.[1] ?? null;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function truncate(text: string, length: number): string {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}
