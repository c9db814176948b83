/**
 * Executing a batch: every migration of the batch and its history rows in ONE
 * transaction, all or nothing (README, "How it behaves"). The batch splits
 * only where a migration cannot run inside it: one that runs outside a
 * transaction (`pgm.noTransaction()`, a .sql file's `-- migrate:no-transaction`)
 * commits what came before and runs alone; one that adds an enum value ends
 * its transaction, so the next migration may use the value.
 *
 * We drive node-pg-migrate's MigrationBuilder ourselves instead of its
 * runner(): the runner leaves singleTransaction off, loads every file, and
 * leaves a passed-in client in an aborted transaction on failure
 * (https://github.com/salsita/node-pg-migrate/issues/1752). Here every
 * failure path rolls back.
 *
 * The executor records what happens as it happens: every migration of the
 * batch starts `not-run` and moves to `applied`/`reverted`, `failed` or
 * `rolled-back`, so the run's report is this ledger, whatever stopped it.
 */
import { isConnectionLoss, pinSearchPath, sleep, useMigrationSearchPath } from './connection.js';
import {
  HistoryWriteError,
  InterruptedError,
  LockLostError,
  MigrationEscapeError,
  MigrationFailedError,
  MigrationFileError,
  MigrationTimeoutError,
  RunnerError,
  SchemaCheckError,
} from '../core/errors.js';
import { ensureHistoryTables, recordApplied, recordReverted, type AppliedRecord } from './history.js';
import { qualify, type HistoryLocation } from './facts.js';
import type { Queryable } from '../core/types.js';
import { createStopper, type Stopper } from './interruption.js';
import type { Logger } from '../config/logger.js';
import {
  describeMigrationFailure,
  describeOutsideTransaction,
  isLockTimeout,
  readLockTimeoutFacts,
  type LockTimeoutFacts,
  type OutsideTransactionFacts,
} from './migrationFailure.js';
import {
  buildMigration,
  checkBuiltSql,
  loadMigrationModule,
  mayExportShorthands,
  type BuiltMigration,
  type MigrationModule,
} from '../files/migrationModules.js';
import { RoundTripError, sendRoundTrip, type StatementLocation } from './roundTrips.js';
import { transactionStatusOf } from './transaction.js';
import type { MigrationFile, MigrationRun } from '../core/types.js';

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
   * Runs right before every COMMIT that writes the history; throwing rolls
   * the transaction back. runMigrations checks here that its lock session
   * still holds the lock.
   */
  readonly beforeCommit?: () => Promise<void>;
  /**
   * Throws LockLostError unless the run still holds the migration lock. Asked
   * before the history write of a migration that ran outside a transaction:
   * with the lock gone, another runner may have run and recorded it meanwhile.
   */
  readonly assertLock?: () => Promise<void>;
  /** Called as each migration's SQL has run, before it commits (progress); the commit is logged when it happens. */
  readonly onMigration?: (run: MigrationRun, index: number, total: number, committed: boolean) => void;
  /** Stops the batch (SIGINT/SIGTERM, migration code that escaped: src/cli/main.ts); its reason is the error. */
  readonly signal?: AbortSignal;
  /** Seconds one migration may take, building and running (0: no limit). */
  readonly migrationTimeoutSeconds?: number;
  /** Cancels the statement the batch's connection runs now, from another session. */
  readonly cancelStatement?: () => Promise<void>;
}

/** What a batch did: every migration with what became of it, and why it stopped (null: it completed). */
export interface BatchOutcome {
  readonly runs: readonly MigrationRun[];
  readonly error: Error | null;
}

/**
 * At most this many migrations share a round trip: fewer round trips on a
 * large batch (bench/RESULTS.md, "Apply"), progress still every few.
 */
const MAX_GROUP = 50;
const MAX_GROUP_CHARS = 1_000_000;
/** How often a migration that runs long says so. */
const LONG_RUNNING_NOTICE_MS = 5_000;

/**
 * Applies (`up`) or reverts (`down`) `batch` in order. `allFiles` is every file
 * on disk, for the shorthands that earlier files export. Every file of the
 * batch is loaded and checked before the first BEGIN (a .sql file that would
 * end the transaction is refused then, exit 2). Resolves, whatever happened,
 * with what became of every migration and the error that stopped it.
 */
export async function runBatch(
  direction: 'up' | 'down',
  batch: readonly MigrationFile[],
  allFiles: readonly MigrationFile[],
  options: BatchOptions,
): Promise<BatchOutcome> {
  const run = new BatchRun(direction, batch, options);
  try {
    await run.execute(allFiles);
    return { runs: run.ledger.snapshot(), error: null };
  } catch (error) {
    return { runs: run.ledger.snapshot(), error: error as Error };
  }
}

/** runBatch for callers that want no report (scratch replays): resolves with the runs, rejects with the error. */
export async function executeBatch(
  direction: 'up' | 'down',
  batch: readonly MigrationFile[],
  allFiles: readonly MigrationFile[],
  options: BatchOptions,
): Promise<readonly MigrationRun[]> {
  const outcome = await runBatch(direction, batch, allFiles, options);
  if (outcome.error) throw outcome.error;
  return outcome.runs;
}

/** The statuses of a batch's migrations, updated as they run. */
export class RunLedger {
  private readonly runs: { name: string; direction: 'up' | 'down'; status: MigrationRun['status']; durationMs: number }[];
  /** Migrations whose SQL ran in the open transaction, not yet committed. */
  private uncommitted: number[] = [];

  constructor(
    batch: readonly MigrationFile[],
    private readonly direction: 'up' | 'down',
    private readonly onMigration?: (run: MigrationRun, index: number, total: number, committed: boolean) => void,
  ) {
    this.runs = batch.map((file) => ({ name: file.name, direction, status: 'not-run', durationMs: 0 }));
  }

  /** Its SQL ran, in the open transaction (or outside any, for a migration that runs alone). */
  ran(index: number, durationMs: number): void {
    const run = this.runs[index]!;
    run.status = this.direction === 'up' ? 'applied' : 'reverted';
    run.durationMs = Math.round(durationMs);
    this.uncommitted.push(index);
    // Not committed yet: it commits with its transaction (or, run alone, once it is recorded).
    this.onMigration?.({ ...run }, index, this.runs.length, false);
  }

  committed(): void {
    this.uncommitted = [];
  }

  /** The open transaction was rolled back: what ran in it is undone; `failed` (if any) is the one that failed. */
  rolledBack(failed: number | null, durationMs = 0): void {
    for (const index of this.uncommitted) this.runs[index]!.status = 'rolled-back';
    this.uncommitted = [];
    if (failed !== null) {
      this.runs[failed]!.status = 'failed';
      this.runs[failed]!.durationMs = Math.round(durationMs);
    }
  }

  /** It took effect outside any transaction, but was not recorded: failed, whatever it changed. */
  failed(index: number): void {
    this.uncommitted = this.uncommitted.filter((i) => i !== index);
    this.runs[index]!.status = 'failed';
  }

  /** Before a retry: everything from `from` on is not run again. */
  reset(from: number): void {
    for (const run of this.runs.slice(from)) {
      run.status = 'not-run';
      run.durationMs = 0;
    }
  }

  /** Names of the migrations whose SQL ran in the open transaction. */
  uncommittedNames(): string[] {
    return this.uncommitted.map((index) => this.runs[index]!.name);
  }

  /** Names of the migrations committed so far. */
  committedNames(): string[] {
    const done = this.direction === 'up' ? 'applied' : 'reverted';
    return this.runs.filter((r, i) => r.status === done && !this.uncommitted.includes(i)).map((r) => r.name);
  }

  snapshot(): readonly MigrationRun[] {
    return Object.freeze(this.runs.map((run) => Object.freeze({ ...run })));
  }
}

/** A migration failed; `index` is the one to blame, null when it was the runner's own statement. */
class SegmentFailure extends Error {
  constructor(
    readonly error: unknown,
    readonly index: number | null,
    readonly location: StatementLocation | null = null,
    readonly outside: OutsideTransactionFacts | null = null,
  ) {
    super('segment failed');
  }
}

/** A migration's SQL as built, waiting for its round trip. */
interface BuiltPart {
  readonly index: number;
  readonly built: BuiltMigration;
  readonly buildMs: number;
  readonly deadline: number | null;
}

class BatchRun {
  readonly ledger: RunLedger;
  private readonly modules = new Map<string, MigrationModule>();
  private readonly stopper: Stopper;
  private shorthandsBefore: (file: MigrationFile) => Record<string, unknown> = () => ({});
  /** The migration whose code or SQL runs now; null while the runner's own statements run. */
  private runningIndex: number | null = null;
  private runningSince = 0;
  private readonly timeoutMs: number;

  constructor(
    private readonly direction: 'up' | 'down',
    private readonly batch: readonly MigrationFile[],
    private readonly options: BatchOptions,
  ) {
    this.ledger = new RunLedger(batch, direction, options.onMigration);
    this.timeoutMs = (options.migrationTimeoutSeconds ?? 0) * 1000;
    this.stopper = createStopper({
      signal: options.signal,
      timeoutSeconds: options.migrationTimeoutSeconds ?? 0,
      cancel: options.cancelStatement,
    });
  }

  private get running(): number | null {
    return this.runningIndex;
  }

  private set running(index: number | null) {
    if (index === this.runningIndex) return;
    this.runningIndex = index;
    this.runningSince = performance.now();
  }

  private setRunning(index: number): void {
    this.running = index;
  }

  async execute(allFiles: readonly MigrationFile[]): Promise<void> {
    // A long migration says it is still running, every few seconds.
    const notices = setInterval(() => {
      const seconds = Math.round((performance.now() - this.runningSince) / 1000);
      if (this.running !== null && seconds >= LONG_RUNNING_NOTICE_MS / 1000) {
        this.options.logger.info(`${this.batch[this.running]!.name} still running (${seconds} s)`, { migration: this.batch[this.running]!.name });
      }
    }, LONG_RUNNING_NOTICE_MS);
    notices.unref();
    try {
      await this.executeAll(allFiles);
    } finally {
      clearInterval(notices);
    }
  }

  private async executeAll(allFiles: readonly MigrationFile[]): Promise<void> {
    const { options } = this;
    const { db } = options;
    if (!this.batch.length) {
      if (!options.prelude) return;
      await this.inRunnerTransaction(async () => {
        await this.runnerStatement('creating the history table', () => ensureHistoryTables(db, options.where));
        await this.runnerStatement('writing the history', () => options.prelude!(db));
      });
      return;
    }
    await this.loadAndCheck(allFiles);
    let next = 0;
    while (next < this.batch.length) next = await this.segmentWithRetries(next);
  }

  /** Every file of the batch loaded and checked before anything runs. */
  private async loadAndCheck(allFiles: readonly MigrationFile[]): Promise<void> {
    const wanted = new Set(this.batch.map((f) => f.name));
    const cumulative = new Map<string, Record<string, unknown>>();
    let shorthands: Record<string, unknown> = {};
    for (const file of allFiles) {
      // node-pg-migrate accumulates shorthands over every file in order, applied or not.
      if (wanted.has(file.name) || (await mayExportShorthands(file))) {
        const module = await loadMigrationModule(file);
        this.modules.set(file.name, module);
        if (module.shorthands) shorthands = { ...shorthands, ...module.shorthands };
      }
      cumulative.set(file.name, shorthands);
    }
    this.shorthandsBefore = (file) => cumulative.get(file.name) ?? shorthands;
    for (const [index, file] of this.batch.entries()) {
      const module = this.modules.get(file.name)!;
      if (module.sqlFacts?.[this.direction]?.unwrapped) {
        this.options.logger.info(`${file.fileName}: its enclosing BEGIN … COMMIT was removed; it runs in the batch's transaction`, {
          migration: file.name,
        });
      }
      if (this.direction === 'down') this.refuseMissingDown(index, file, module);
    }
  }

  /** `down` of a migration that has no down: refused before anything runs; its history row stays. */
  private refuseMissingDown(index: number, file: MigrationFile, module: MigrationModule): void {
    const sql = file.extension === '.sql';
    const none = sql ? module.sqlText?.down === undefined || module.sqlFacts?.down?.blank === true : module.down === false;
    if (!none) return;
    this.ledger.rolledBack(index);
    const what = !sql
      ? `${file.name} has no down migration (${file.fileName} exports down = false)`
      : module.sqlText?.down === undefined
        ? `${file.name} has no down migration (add a "-- Down Migration" section)`
        : `${file.name} has an empty down migration (its "-- Down Migration" section holds no statement)`;
    throw new MigrationFailedError(file.name, 'down', null, {
      detail: `${what}; nothing was reverted and its history row stays`,
      hint: sql ? 'write the down SQL under "-- Down Migration" (SELECT 1; if reverting really needs nothing)' : 'write a down function',
    });
  }

  private async segmentWithRetries(start: number): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.segment(start);
      } catch (caught) {
        const failure = caught instanceof SegmentFailure ? caught : new SegmentFailure(caught, this.running);
        if (isLockTimeout(failure.error) && attempt < this.options.ddlLockRetries && failure.index !== null) {
          const delay = Math.min(5_000, 250 * 2 ** attempt) * (0.5 + Math.random() / 2);
          this.options.logger.warn(`a table lock could not be had within ${this.options.ddlLockTimeoutMs > 0 ? `${this.options.ddlLockTimeoutMs} ms` : 'lock_timeout'}; retrying the batch`, {
            migration: this.batch[failure.index]!.name,
            attempt: attempt + 1,
            delayMs: Math.round(delay),
          });
          this.ledger.reset(start);
          await this.stopper.guard(sleep(delay));
          continue;
        }
        throw await this.describe(failure, attempt + 1);
      }
    }
  }

  /**
   * One transaction: migrations from `start` until the batch ends, a
   * migration must run alone, or one adds an enum value. Returns where the
   * next segment starts.
   */
  private async segment(start: number): Promise<number> {
    const { options } = this;
    const { db } = options;
    let pending: BuiltPart[] = [];
    let pendingChars = 0;
    const records: AppliedRecord[] = [];
    const flush = async () => {
      if (!pending.length) return;
      const group = pending;
      pending = [];
      pendingChars = 0;
      await this.sendGroup(group, records);
    };
    await this.runnerStatement('starting the transaction', () => db.query('BEGIN'));
    try {
      if (options.ddlLockTimeoutMs > 0) {
        await db.query(`SELECT pg_catalog.set_config('lock_timeout', $1, true)`, [`${options.ddlLockTimeoutMs}ms`]);
      }
      await this.runnerStatement('creating the history table', () => ensureHistoryTables(db, options.where));
      if (start === 0 && options.prelude) await this.runnerStatement('writing the history', () => options.prelude!(db));
      // node-pg-migrate sets search_path to the managed schema (runner.ts:453), so unqualified names land there.
      await useMigrationSearchPath(db, options.where.schema);
      let index = start;
      for (; index < this.batch.length; index++) {
        this.stopper.throwIfStopped();
        const part = await this.build(index, flush);
        if (!part.built.transactional) {
          // What came before commits; it runs alone, outside any transaction.
          await flush();
          await this.commit(records);
          await this.runAlone(part);
          return index + 1;
        }
        // SQL that may end the transaction where no check could see it goes alone: nothing after it runs with it.
        if (part.built.opaque) await flush();
        pending.push(part);
        pendingChars += part.built.sql.reduce((n, statement) => n + statement.length, 0);
        // With a migration timeout, each migration is its own round trip, so the time is its own.
        if (this.timeoutMs > 0 || part.built.opaque || pending.length >= MAX_GROUP || pendingChars >= MAX_GROUP_CHARS) await flush();
        if (part.built.addsEnumValue) {
          // A new enum value cannot be used before its transaction commits ("unsafe use of new value").
          index++;
          break;
        }
      }
      await flush();
      await this.commit(records);
      return index;
    } catch (error) {
      await this.rollback();
      const failure = error instanceof SegmentFailure ? error : new SegmentFailure(error, this.running);
      this.ledger.rolledBack(failure.index);
      throw failure;
    }
  }

  /** Loads nothing (that happened before BEGIN): runs the migration's up or down against a builder. */
  private async build(index: number, flush: () => Promise<void>): Promise<BuiltPart> {
    const { db, logger } = this.options;
    const file = this.batch[index]!;
    const module = this.modules.get(file.name)!;
    const started = performance.now();
    const deadline = this.timeoutMs > 0 ? Date.now() + this.timeoutMs : null;
    this.running = index;
    // A JS/TS migration may query the database while it builds (pgm.db): what came before runs first,
    // on its first query, so migrations that only build SQL stay batched. A failure of that earlier SQL
    // is kept, in case the migration catches what its query threw.
    let flushError: unknown;
    let enumValue = false;
    const open = { now: true };
    const reversing = this.direction === 'down' && module.down === undefined && file.extension !== '.sql';
    const migrationDb = {
      query: async (textOrConfig: unknown, values?: unknown[]) => {
        if (!open.now) throw new Error(`${file.name} queried the database after the runner had finished with it`);
        if (reversing) {
          throw new Error(`${file.name} has no down, and its up queries the database (pgm.db), which reversing it would run again; write a down`);
        }
        await flush().catch((error: unknown) => {
          flushError ??= error;
          throw error;
        });
        this.running = index;
        const text = typeof textOrConfig === 'string' ? textOrConfig : String((textOrConfig as { text?: unknown }).text ?? '');
        enumValue = (await checkBuiltSql(file, [text], 'sends through pgm.db')).addsEnumValue || enumValue;
        const result = await db.query(textOrConfig as string, values);
        this.expectTransaction(index);
        return result;
      },
    } as Queryable;
    try {
      const builderDb = file.extension === '.sql' ? db : migrationDb;
      const built = await this.stopper.guard(
        buildMigration(file, module, this.direction, builderDb, this.shorthandsBefore(file), logger),
        deadline,
      );
      if (flushError) throw flushError;
      if (file.extension === '.sql') return { index, built, buildMs: performance.now() - started, deadline };
      if (reversing && !built.sql.length) {
        throw new MigrationFailedError(file.name, 'down', null, {
          detail: `${file.name} has no down migration, and its up reverses to nothing (${file.fileName}); nothing was reverted and its history row stays`,
          hint: 'write a down function',
        });
      }
      const facts = await checkBuiltSql(file, built.sql);
      enumValue ||= facts.addsEnumValue;
      const checked: BuiltMigration = {
        ...built,
        ...(enumValue && { addsEnumValue: true as const }),
        ...(facts.opaque && { opaque: true as const }),
      };
      return { index, built: checked, buildMs: performance.now() - started, deadline };
    } catch (error) {
      throw flushError ?? error;
    } finally {
      open.now = false;
    }
  }

  /**
   * Sends built migrations in one round trip. Each is recorded as run the
   * moment the server starts the next one (the markers say so), with its own
   * time by the server's clock: progress is logged as it happens, and the
   * duration kept in the history is the migration's, not a share of the group's.
   */
  private async sendGroup(group: readonly BuiltPart[], records: AppliedRecord[]): Promise<void> {
    const { db } = this.options;
    this.setRunning(group[0]!.index);
    let reported = 0;
    const finished = (part: BuiltPart, serverMs: number) => {
      const durationMs = part.buildMs + serverMs;
      records.push({ name: this.batch[part.index]!.name, checksum: this.batch[part.index]!.checksum, durationMs: Math.round(durationMs) });
      this.ledger.ran(part.index, durationMs);
      reported++;
    };
    const sent = performance.now();
    let result: Awaited<ReturnType<typeof sendRoundTrip>>;
    try {
      result = await this.stopper.guard(
        sendRoundTrip(db, group.map((part) => ({ statements: part.built.sql })), (started, previousMs) => {
          if (started > 0 && previousMs !== null) finished(group[started - 1]!, previousMs);
          if (started < group.length) this.setRunning(group[started]!.index);
        }),
        group.at(-1)!.deadline,
      );
    } catch (error) {
      if (!(error instanceof RoundTripError)) throw error;
      // The parts before the failed one ran (reported as the markers came); the rollback will undo them.
      throw new SegmentFailure(error.error, group[error.part]!.index, error.location);
    }
    this.expectTransaction(group[result.transactionEndedIn ?? group.length - 1]!.index, result.transactionEndedIn !== null);
    // A part alone has no markers: its time is the round trip's.
    for (const part of group.slice(reported)) finished(part, performance.now() - sent);
  }

  /**
   * The server says after every round trip whether a transaction is open: a
   * COMMIT or ROLLBACK the checks before sending could not see (a migration's
   * own pgm.db, a grammar the parser does not know) ended the runner's.
   */
  private expectTransaction(index: number, ended = false): void {
    if (!ended && transactionStatusOf(this.options.db) !== 'idle') return;
    const file = this.batch[index]!;
    const before = this.ledger.uncommittedNames();
    // What ran before it in the transaction took effect with its COMMIT (or went with its ROLLBACK): not recorded either way.
    this.ledger.committed();
    throw new SegmentFailure(
      new MigrationFailedError(file.name, this.direction, null, {
        detail: `its SQL ended the runner's transaction (a COMMIT or ROLLBACK the checks before running could not see) (${file.fileName}); ` +
          `the SQL before it in that transaction${before.length ? ` (${before.join(', ')})` : ''} and its own may be committed, and none of it is recorded`,
        hint: 'remove the COMMIT or ROLLBACK from the migration, compare the schema with `migrate status`, then run again',
      }),
      index,
    );
  }

  /**
   * The runner's own statements after migration SQL run with the runner's
   * settings: a migration's SET ROLE or SET search_path must not make the
   * history write fail, nor be blamed for it.
   */
  private async restoreRunnerSettings(): Promise<void> {
    // One round trip: a replay runs this after every migration.
    await this.runnerStatement('restoring the runner\'s session settings', () => pinSearchPath(this.options.db, 'RESET ROLE'));
  }

  /** Records what ran in the open transaction, checks the lock, commits. */
  private async commit(records: readonly AppliedRecord[]): Promise<void> {
    const { options } = this;
    const { db } = options;
    this.running = null;
    await this.restoreRunnerSettings();
    if (records.length) await this.runnerStatement('writing the history', () => this.record(records));
    await options.beforeCommit?.();
    // Stopped while the last migration finished: nothing commits.
    this.stopper.throwIfStopped();
    await db.query('COMMIT');
    this.ledger.committed();
    if (records.length) this.logCommitted(records);
  }

  private logCommitted(records: readonly AppliedRecord[]): void {
    const names = records.length === 1 ? records[0]!.name : `${records[0]!.name} … ${records.at(-1)!.name}`;
    this.options.logger.info(`committed ${records.length} migration${records.length === 1 ? '' : 's'} (${names})`, {
      migrations: records.length,
    });
  }

  private async record(records: readonly AppliedRecord[]): Promise<void> {
    const { options } = this;
    const { db } = options;
    if (this.direction === 'up') await recordApplied(db, options.where, records, options.appliedBy);
    else await recordReverted(db, options.where, records.map((r) => r.name));
  }

  /**
   * A migration that cannot run in a transaction: statement by statement,
   * then recorded in a transaction of its own that checks the lock first (a
   * runner whose lock went meanwhile must not record what another runner
   * may be running again).
   */
  private async runAlone(part: BuiltPart): Promise<void> {
    const { db, logger, ddlLockTimeoutMs } = this.options;
    const file = this.batch[part.index]!;
    const how = file.extension === '.sql' ? '-- migrate:no-transaction' : 'pgm.noTransaction()';
    logger.warn(`${file.name} runs outside a transaction (${how}); earlier migrations were committed`);
    this.running = part.index;
    const started = performance.now();
    const statements = part.built.sql;
    let done = 0;
    try {
      await useMigrationSearchPath(db, this.options.where.schema);
      if (ddlLockTimeoutMs > 0) await db.query(`SELECT pg_catalog.set_config('lock_timeout', $1, false)`, [`${ddlLockTimeoutMs}ms`]);
      for (const statement of statements) {
        await this.stopper.guard(db.query(statement), part.deadline);
        done++;
      }
      if (transactionStatusOf(db) === 'in-transaction') {
        throw new Error('it left a transaction open (a BEGIN without its COMMIT)');
      }
    } catch (error) {
      await this.rollback();
      const location = done < statements.length ? { statement: statements[done]!, index: done, position: positionOf(error) } : null;
      throw new SegmentFailure(error, part.index, location, {
        done,
        total: statements.length,
        committedBefore: this.ledger.committedNames(),
        invalidIndexes: await this.invalidIndexes().catch(() => []),
      });
    } finally {
      if (ddlLockTimeoutMs > 0) await db.query(`SELECT pg_catalog.set_config('lock_timeout', '0', false)`).catch(() => undefined);
    }
    const durationMs = part.buildMs + performance.now() - started;
    this.ledger.ran(part.index, durationMs);
    const records = [{ name: file.name, checksum: file.checksum, durationMs: Math.round(durationMs) }];
    try {
      await this.inRunnerTransaction(async () => {
        this.running = null;
        await this.restoreRunnerSettings();
        await this.options.assertLock?.();
        await this.runnerStatement('writing the history', () => this.record(records));
        await this.options.beforeCommit?.();
      });
    } catch (error) {
      // Its statements took effect; only the record of it did not.
      this.ledger.failed(part.index);
      const unrecorded = `${file.name} ran outside a transaction and took effect, but is not recorded as applied, so the next run runs it again`;
      const said =
        error instanceof LockLostError ? new LockLostError({ cause: error.cause, detail: unrecorded })
        : error instanceof SchemaCheckError ? new SchemaCheckError(error.revision, error.differences, unrecorded)
        : error;
      throw new SegmentFailure(said, null);
    }
    this.ledger.committed();
    this.logCommitted(records);
  }

  private async inRunnerTransaction(work: () => Promise<void>): Promise<void> {
    const { db } = this.options;
    await db.query('BEGIN');
    try {
      await work();
      await db.query('COMMIT');
    } catch (error) {
      await this.rollback();
      throw error;
    }
  }

  private async rollback(): Promise<void> {
    await this.options.db.query('ROLLBACK').catch(() => undefined);
  }

  /** Runs one of the runner's own statements; its failure is the runner's, not the last migration's. */
  private async runnerStatement<T>(what: string, work: () => Promise<T>): Promise<T> {
    const running = this.running;
    this.running = null;
    try {
      return await work();
    } catch (error) {
      if (error instanceof RunnerError || isConnectionLoss(error)) throw error;
      throw new HistoryWriteError(`${what} (${qualify(this.options.where.schema, this.options.where.table)})`, { cause: error });
    } finally {
      this.running = running;
    }
  }

  /** `DROP INDEX CONCURRENTLY …` for each invalid index of the managed schema (a failed concurrent build leaves one). */
  private async invalidIndexes(): Promise<string[]> {
    await pinSearchPath(this.options.db);
    const { rows } = await this.options.db.query<{ drop: string }>(
      `SELECT pg_catalog.format('DROP INDEX CONCURRENTLY %s', i.indexrelid::pg_catalog.regclass) AS drop
       FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       WHERE NOT i.indisvalid AND n.nspname = $1 ORDER BY 1`,
      [this.options.where.schema],
    );
    return rows.map((r) => r.drop);
  }

  /** The error the run ends with, after the rollback. */
  private async describe(failure: SegmentFailure, attempts: number): Promise<Error> {
    const { error, index } = failure;
    const file = index === null ? null : this.batch[index]!;
    const stopped = this.stopOf(error, file, failure.outside);
    if (stopped) return stopped;
    if (!file || error instanceof RunnerError) {
      return error as Error;
    }
    const module = this.modules.get(file.name);
    const lockTimeout = isLockTimeout(error) ? await this.lockTimeoutFacts(failure, module, attempts) : null;
    return describeMigrationFailure(
      {
        file,
        direction: this.direction,
        cause: error,
        location: failure.location,
        sectionLine: file.extension === '.sql' && !module?.sqlFacts?.noTransaction ? (module?.sqlFacts?.[this.direction]?.line ?? null) : null,
        lockTimeout,
        outsideTransaction: failure.outside,
      },
      this.options.logger,
    );
  }

  /** A stop (signal, escaped code, timeout), said for the migration it stopped and what became of the batch. */
  private stopOf(error: unknown, file: MigrationFile | null, outside: OutsideTransactionFacts | null): Error | null {
    const committed = this.ledger.committedNames();
    const before = committed.length ? `; ${committed.length} migration${committed.length === 1 ? '' : 's'} before it committed` : '';
    const what = outside ? describeOutsideTransaction(outside).detail : `its transaction was rolled back${before}`;
    if (error instanceof InterruptedError) {
      const between = committed.length
        ? `stopped between transactions: ${committed.length} migration${committed.length === 1 ? '' : 's'} committed, the rest did not run`
        : 'the batch was rolled back';
      return error.describing(file ? `${file.name} (${this.direction}) was cancelled; ${what}` : between);
    }
    if ((error instanceof MigrationEscapeError || error instanceof MigrationTimeoutError) && file) {
      return new MigrationFailedError(file.name, this.direction, null, {
        cause: error,
        detail: `${error.message} (${file.fileName}); ${what}`,
        ...(error.hint !== undefined && { hint: error.hint }),
      });
    }
    return null;
  }

  private async lockTimeoutFacts(failure: SegmentFailure, module: MigrationModule | undefined, attempts: number): Promise<LockTimeoutFacts | null> {
    const statement = failure.location?.statement ?? module?.sqlText?.[this.direction] ?? null;
    try {
      await pinSearchPath(this.options.db);
      return await readLockTimeoutFacts(this.options.db, {
        statement,
        schema: this.options.where.schema,
        ownTimeoutMs: this.options.ddlLockTimeoutMs,
        attempts,
      });
    } catch {
      return { value: `${this.options.ddlLockTimeoutMs} ms`, source: '--ddl-lock-timeout', attempts, table: null, holders: [] };
    }
  }

}

function positionOf(error: unknown): number | null {
  const position = (error as { position?: string } | null)?.position;
  return position ? Number(position) : null;
}

