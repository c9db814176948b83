/**
 * Executing a batch: every migration of the batch and its history rows in ONE
 * transaction, all or nothing (issue 3). A migration that calls
 * `pgm.noTransaction()` (e.g. CREATE INDEX CONCURRENTLY) splits the batch:
 * what came before commits, it runs alone outside a transaction, and the rest
 * continues in a new transaction.
 *
 * We drive node-pg-migrate's MigrationBuilder ourselves instead of its
 * runner(): the runner leaves singleTransaction off, loads every file, and
 * leaves a passed-in client in an aborted transaction on failure (its
 * issue 1752). Here every failure path rolls back.
 */
import { MigrationFailedError, RunnerError, describeCause } from './errors.js';
import { ensureHistoryTables, recordApplied, recordReverted, type AppliedRecord } from './history.js';
import type { HistoryLocation, Queryable } from './introspect.js';
import type { Logger } from './logger.js';
import { CONNECTION_LOSS_HINT, isConnectionLoss, sleep, useMigrationSearchPath } from './connection.js';
import {
  buildMigration,
  loadMigrationModule,
  mayExportShorthands,
  type BuiltMigration,
  type MigrationModule,
} from './migrationModules.js';
import type { MigrationFile, MigrationRun } from './types.js';

export interface BatchOptions {
  readonly db: Queryable;
  readonly where: HistoryLocation;
  readonly logger: Logger;
  /** lock_timeout for each migration transaction in ms; 0 = off. */
  readonly ddlLockTimeoutMs: number;
  /** How many times a batch whose lock_timeout tripped is retried. */
  readonly ddlLockRetries: number;
  readonly appliedBy: string;
  /** Runs inside the first transaction, before any migration (a stamp, checksum adoption). */
  readonly prelude?: (db: Queryable) => Promise<void>;
  /**
   * Runs right before every COMMIT; throwing rolls the transaction back.
   * runMigrations checks here that its lock session still holds the lock.
   */
  readonly beforeCommit?: () => Promise<void>;
  /** Called after each migration (progress). */
  readonly onMigration?: (run: MigrationRun, index: number, total: number) => void;
}

const LOCK_NOT_AVAILABLE = '55P03';

/**
 * Applies (`up`) or reverts (`down`) `batch` in order. `allFiles` is every file
 * on disk, for the shorthands that earlier files export. Resolves with one run
 * per migration; rejects with MigrationFailedError after rolling back.
 */
export async function executeBatch(
  direction: 'up' | 'down',
  batch: readonly MigrationFile[],
  allFiles: readonly MigrationFile[],
  options: BatchOptions,
): Promise<MigrationRun[]> {
  const { db, logger } = options;
  const runs: MigrationRun[] = [];
  if (!batch.length) {
    if (options.prelude) await inTransaction(db, async () => {
      await ensureHistoryTables(db, options.where);
      await options.prelude!(db);
      await options.beforeCommit?.();
    });
    return runs;
  }
  const modules = new Map<string, MigrationModule>();
  const load = async (file: MigrationFile) => {
    let module = modules.get(file.name);
    if (!module) modules.set(file.name, (module = await loadMigrationModule(file)));
    return module;
  };
  const shorthandsBefore = await collectShorthands(batch, allFiles, load);
  // node-pg-migrate sets search_path to the managed schema (runner.ts:453), so
  // unqualified names land there; our connection is our own, so session-wide is fine.
  await useMigrationSearchPath(db, options.where.schema);

  let next = 0;
  while (next < batch.length) {
    // After a failed multi-migration round trip, the segment is replayed one
    // migration per round trip, so the failure is pinned on the right file.
    let unbatched = false;
    let reportedUpTo = -1;
    for (let attempt = 0; ; attempt++) {
      const segmentRuns: MigrationRun[] = [];
      let current: MigrationFile | undefined;
      const records: AppliedRecord[] = [];
      const report = (run: MigrationRun, index: number) => {
        if (index > reportedUpTo) options.onMigration?.(run, index, batch.length);
      };
      // Built, not yet sent: consecutive migrations go to the server in one round trip.
      let pending: PendingMigration[] = [];
      let pendingChars = 0;
      const flush = async () => {
        if (!pending.length) return;
        const group = pending;
        pending = [];
        pendingChars = 0;
        const sent = performance.now();
        try {
          await executeStatements(group.flatMap((m) => m.sql), db);
        } catch (error) {
          current = group[0]!.file;
          if (group.length > 1 && !isConnectionLoss(error)) throw new ReplayUnbatched(error);
          throw error;
        }
        const share = (performance.now() - sent) / group.length;
        for (const m of group) {
          const run = runOf(m.file, direction, m.buildMs + share);
          segmentRuns.push(run);
          records.push({ name: m.file.name, checksum: m.file.checksum, durationMs: run.durationMs });
          report(run, m.index);
        }
      };
      try {
        await db.query('BEGIN');
        if (options.ddlLockTimeoutMs > 0) {
          await db.query(`SELECT pg_catalog.set_config('lock_timeout', $1::text, true)`, [`${options.ddlLockTimeoutMs}ms`]);
        }
        await ensureHistoryTables(db, options.where);
        if (next === 0) await options.prelude?.(db);
        let index = next;
        for (; index < batch.length; index++) {
          current = batch[index]!;
          const started = performance.now();
          const module = await load(current);
          // A JS/TS migration may query the database while it builds (pgm.db): what came before
          // runs first, on its first query, so migrations that only build SQL stay batched (issue 6).
          // A failure of that earlier SQL is kept, in case the migration catches what its query threw.
          let flushError: unknown;
          const flushingDb: Queryable = {
            query: async (text: string, values?: unknown[]) => {
              await flush().catch((error: unknown) => {
                flushError ??= error;
                throw error;
              });
              return db.query(text, values);
            },
          } as Queryable;
          let built: BuiltMigration;
          try {
            const builderDb = current.extension === '.sql' ? db : flushingDb;
            built = await buildMigration(current, module, direction, builderDb, shorthandsBefore(current), logger);
          } catch (error) {
            throw flushError ?? error;
          }
          if (flushError) throw flushError;
          if (!built.transactional) {
            if (index > next) break; // commit what came before; it runs alone next
            await options.beforeCommit?.();
            await db.query('COMMIT');
            await runOutsideTransaction(current, built, direction, options);
            const run = finish(current, direction, started);
            runs.push(run);
            options.onMigration?.(run, index, batch.length);
            index++;
            break;
          }
          pending.push({ file: current, index, sql: built.sql, buildMs: performance.now() - started });
          pendingChars += built.sql.reduce((n, statement) => n + statement.length, 0);
          if (unbatched || pending.length >= MAX_GROUP || pendingChars >= MAX_GROUP_CHARS) await flush();
        }
        await flush();
        if (records.length) {
          if (direction === 'up') await recordApplied(db, options.where, records, options.appliedBy);
          else await recordReverted(db, options.where, records.map((r) => r.name));
        }
        await options.beforeCommit?.();
        await db.query('COMMIT');
        runs.push(...segmentRuns);
        next = index;
        break;
      } catch (caught) {
        await db.query('ROLLBACK').catch(() => undefined);
        if (caught instanceof ReplayUnbatched) {
          unbatched = true;
          reportedUpTo = Math.max(reportedUpTo, next + segmentRuns.length - 1);
          attempt--;
          continue;
        }
        const error = caught;
        const failed = current ?? batch[next]!;
        if (isLockTimeout(error) && attempt < options.ddlLockRetries) {
          const delay = Math.min(5_000, 250 * 2 ** attempt) * (0.5 + Math.random() / 2);
          logger.warn(`a table lock could not be had within ${options.ddlLockTimeoutMs} ms; retrying the batch`, {
            migration: failed.name,
            attempt: attempt + 1,
            delayMs: Math.round(delay),
          });
          await sleep(delay);
          continue;
        }
        throw failureOf(error, failed, direction, runs, options);
      }
    }
  }
  return runs;
}

/** Runs a non-transactional migration statement by statement, then records it. */
async function runOutsideTransaction(
  file: MigrationFile,
  built: BuiltMigration,
  direction: 'up' | 'down',
  options: BatchOptions,
): Promise<void> {
  const { db } = options;
  options.logger.warn(`${file.name} runs outside a transaction (pgm.noTransaction()); earlier migrations were committed`);
  if (options.ddlLockTimeoutMs > 0) {
    await db.query(`SELECT pg_catalog.set_config('lock_timeout', $1::text, false)`, [`${options.ddlLockTimeoutMs}ms`]);
  }
  try {
    for (const statement of built.sql) await db.query(statement);
  } finally {
    if (options.ddlLockTimeoutMs > 0) await db.query(`SELECT pg_catalog.set_config('lock_timeout', '0', false)`).catch(() => undefined);
  }
  if (direction === 'up') {
    await recordApplied(db, options.where, [{ name: file.name, checksum: file.checksum, durationMs: null }], options.appliedBy);
  } else {
    await recordReverted(db, options.where, [file.name]);
  }
}

/**
 * Sends a migration's statements in one round trip (the simple query protocol
 * takes several statements); on failure, says which statement failed.
 */
async function executeStatements(statements: readonly string[], db: Queryable): Promise<void> {
  if (!statements.length) return;
  const text = statements.join('\n');
  try {
    await db.query(text);
  } catch (error) {
    throw Object.assign(error as object, { failedStatement: locateStatement(statements, (error as { position?: string }).position) });
  }
}

interface StatementLocation {
  readonly statement: string;
  /** 1-based position of the error inside the statement, when PostgreSQL gave one. */
  readonly position: number | null;
}

function locateStatement(statements: readonly string[], position: string | undefined): StatementLocation | null {
  if (!position) return statements.length === 1 ? { statement: statements[0]!, position: null } : null;
  let offset = Number(position);
  for (const statement of statements) {
    if (offset <= statement.length + 1) return { statement, position: offset };
    offset -= statement.length + 1;
  }
  return null;
}

function failureOf(
  error: unknown,
  file: MigrationFile,
  direction: 'up' | 'down',
  done: readonly MigrationRun[],
  options: BatchOptions,
): Error {
  // Unloadable files are usage errors (exit 2), rolled back all the same; a RunnerError of the
  // runner's own statements (the lock, the history) already says who failed.
  if (error instanceof RunnerError) return error;
  if (isConnectionLoss(error)) {
    return new MigrationFailedError(file.name, direction, null, {
      cause: error,
      detail: `lost the connection to the database (${describeCause(error)}) (${file.fileName})`,
      hint: CONNECTION_LOSS_HINT,
      completed: [...done],
    });
  }
  const located = (error as { failedStatement?: StatementLocation | null }).failedStatement ?? null;
  const statement = located ? oneLine(located.statement) : null;
  let detail = describeCause(error);
  let hint: string | undefined;
  if (isLockTimeout(error)) {
    const table = statement ? tableOf(statement) : null;
    detail = `could not lock ${table ? `table ${table}` : 'a table'} within ${options.ddlLockTimeoutMs} ms ` +
      `(${options.ddlLockRetries + 1} attempts)`;
    hint = 'another session holds a conflicting lock on it; retry later or raise --ddl-lock-timeout';
  } else if (statement) {
    detail += ` in statement: ${truncate(statement, 120)}`;
  }
  // The full statement and the error position go to the log, as node-pg-migrate shows them (db.ts:121-134).
  if (located) options.logger.error(`failing SQL of ${file.fileName}:\n${caretAt(located)}`);
  return new MigrationFailedError(file.name, direction, null, {
    cause: error,
    detail: `${detail} (${file.fileName})`,
    hint: hint ?? 'the batch was rolled back; fix the migration and run again',
    completed: [...done],
  });
}

function caretAt(location: StatementLocation): string {
  if (location.position === null) return location.statement;
  const before = location.statement.slice(0, location.position - 1);
  const lineStart = before.lastIndexOf('\n') + 1;
  const lineEnd = location.statement.indexOf('\n', location.position - 1);
  const line = location.statement.slice(lineStart, lineEnd < 0 ? undefined : lineEnd);
  return `${location.statement}\n---\n${line}\n${' '.repeat(location.position - 1 - lineStart)}^`;
}

/** The table a failed DDL statement names: best effort, for the lock-timeout message. */
function tableOf(statement: string): string | null {
  const match =
    /\b(?:TABLE|INTO|UPDATE|FROM|ON)\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?(?:ONLY\s+)?((?:"[^"]+"|[\w$]+)(?:\.(?:"[^"]+"|[\w$]+))?)/i.exec(
      statement,
    );
  return match?.[1] ?? null;
}

async function collectShorthands(
  batch: readonly MigrationFile[],
  allFiles: readonly MigrationFile[],
  load: (f: MigrationFile) => Promise<MigrationModule>,
): Promise<(file: MigrationFile) => Record<string, unknown>> {
  const cumulative = new Map<string, Record<string, unknown>>();
  let shorthands: Record<string, unknown> = {};
  const wanted = new Set(batch.map((f) => f.name));
  for (const file of allFiles) {
    if (wanted.has(file.name) || (await mayExportShorthands(file))) {
      const module = await load(file);
      if (module.shorthands) shorthands = { ...shorthands, ...module.shorthands };
    }
    cumulative.set(file.name, shorthands);
  }
  return (file) => cumulative.get(file.name) ?? shorthands;
}

/**
 * At most this many migrations share a round trip: fewer round trips on a
 * large batch (bench/RESULTS.md, "Apply"), progress still every few.
 */
const MAX_GROUP = 50;
const MAX_GROUP_CHARS = 1_000_000;

interface PendingMigration {
  readonly file: MigrationFile;
  readonly index: number;
  readonly sql: readonly string[];
  /** Time spent loading and building it; its share of the round trip is added when that is done. */
  readonly buildMs: number;
}

/** A round trip of several migrations failed: replay the segment one migration at a time to say which. */
class ReplayUnbatched extends Error {
  constructor(readonly original: unknown) {
    super('a grouped round trip failed');
  }
}

function runOf(file: MigrationFile, direction: 'up' | 'down', durationMs: number): MigrationRun {
  return { name: file.name, direction, status: direction === 'up' ? 'applied' : 'reverted', durationMs: Math.round(durationMs) };
}

function finish(file: MigrationFile, direction: 'up' | 'down', started: number): MigrationRun {
  return {
    name: file.name,
    direction,
    status: direction === 'up' ? 'applied' : 'reverted',
    durationMs: Math.round(performance.now() - started),
  };
}

function isLockTimeout(error: unknown): boolean {
  return (error as { code?: string }).code === LOCK_NOT_AVAILABLE;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function truncate(text: string, length: number): string {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}

/** BEGIN … COMMIT, with ROLLBACK on any failure. */
export async function inTransaction<T>(db: Queryable, work: () => Promise<T>): Promise<T> {
  await db.query('BEGIN');
  try {
    const result = await work();
    await db.query('COMMIT');
    return result;
  } catch (error) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
