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
import { askEscapeStrings, migrationSearchPathSql, pinSearchPath, pinSearchPathSql, reportedEscapeStrings, sleep, useMigrationSearchPath } from './connection.js';
import {
  HistoryWriteError,
  InterruptedError,
  isConnectionLoss,
  LockLostError,
  MigrationFailedError,
  MigrationFileError,
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
  describeStop,
  isLockTimeout,
  readLockTimeoutFacts,
  type LockTimeoutFacts,
  type OutsideTransactionFacts,
} from './migrationFailure.js';
import { checkBuiltSql, refuseEscapedStrings, type BuiltMigration, type MigrationModule } from '../files/migrationModules.js';
import { boundaryOf, buildChecked, loadBatch, missingDownRefusal, revertsItsUp, type LoadedBatch } from '../files/migrationBatch.js';
import { locateStatement, RoundTripError, RoundTripGroup, sendRoundTrip, type StatementLocation } from './roundTrips.js';
import { parseStatements } from '../files/sqlStatements.js';
import { RunLedger } from './runLedger.js';
import { inTransaction, settledTransactionStatusOf, transactionStatusOf } from './transaction.js';
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
  /**
   * `none`: neither look for, create nor write the history tables. For the
   * batches of a scratch replay (src/fingerprints/replay.ts) after its first,
   * which made the tables (and their schema, which migrations may rely on,
   * as they would in a run): the replay's history goes with its database,
   * and writing it cost two round trips a migration. `first`: as `record`
   * in the batch's first transaction, as `none` after it commits (a replay's
   * first batch, where each migration commits on its own).
   * @default 'record'
   */
  readonly history?: 'record' | 'first' | 'none';
  /** Runs inside the first transaction, before any migration (a stamp, checksum adoption). */
  readonly prelude?: (db: Queryable) => Promise<void>;
  /**
   * Runs right before every COMMIT that writes the history; throwing rolls
   * the transaction back. runMigrations checks here that its lock session
   * still holds the lock.
   */
  readonly beforeCommit?: () => Promise<void>;
  /**
   * A statement (no parameters, naming only pg_catalog's objects, changing
   * nothing, one row of one json value) sent right after each BEGIN of the
   * batch's transactions, in the same round trip, and what takes its value.
   * A replay takes the counts its schema reader compares with before COMMIT
   * (IncrementalSchemaReader.baselineSql).
   */
  readonly onBegin?: { sql(): string; take(value: unknown): void };
  /**
   * A statement (no parameters, naming only pg_catalog's objects, changing
   * nothing, one row of one json value) sent after the migrations of each
   * transaction, in the round trip of the last of them, right after the
   * runner's session settings are restored there (null: only those), and what
   * takes its value. A replay takes the counts its schema reader compares
   * with the baseline (IncrementalSchemaReader.endingSql): a round trip less
   * for the restore, and one for the counts.
   */
  readonly onEnd?: { sql(): string | null; take(value: unknown): void };
  /**
   * Each migration commits in a transaction of its own (a replay reads the
   * schema each one leaves, before its COMMIT), and each COMMIT goes in one
   * round trip with the next transaction's BEGIN (and `onBegin`), and, where
   * the next migration is a .sql file (nothing of the runner's runs before
   * it), with that migration's SQL too: a replay of 1,000 migrations saved a
   * round trip a migration each time (README, "Snapshot and verify at scale").
   */
  readonly commitEach?: boolean;
  /**
   * The caller's own work (no queries) to run while the server runs
   * migration SQL: called right after each round trip of it is sent, before
   * its answer is awaited, so that the two run at once on two cores. A
   * replay fingerprints the revision before there. It must not throw.
   */
  readonly whileRunning?: () => void;
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

/** The last transaction's COMMIT, to go with the next transaction's start (BatchRun.commit), and the records it commits. */
interface PendingOpening {
  readonly start: { readonly statements: readonly string[]; readonly select: string | null };
  readonly records: readonly AppliedRecord[];
}

/** A transaction's start (BatchRun.startStatements) as one text. */
function joinedStart(start: PendingOpening['start']): string {
  return [...start.statements, ...(start.select === null ? [] : [start.select])].join('; ');
}

/** The value of the one column of the one row of the last of the results of a query of several statements (or of its only one). */
function lastValueOf(results: unknown): unknown {
  const last = (Array.isArray(results) ? results.at(-1) : results) as { rows?: Record<string, unknown>[] } | undefined;
  const row = last?.rows?.[0];
  return row === undefined ? null : Object.values(row)[0];
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
  private loaded: LoadedBatch = { modules: new Map(), shorthandsFor: () => ({}) };
  private readonly stopper: Stopper;
  /** The migration whose code or SQL runs now; null while the runner's own statements run. */
  private runningIndex: number | null = null;
  private runningSince = 0;
  private readonly timeoutMs: number;
  /** Whether the history table is written (BatchOptions.history): with `first`, until the first COMMIT. */
  private records: boolean;
  /** The results of the next segment's start, sent with the last COMMIT (commitEach); null: it begins on its own. */
  private begun: unknown[] | null = null;
  /**
   * The last transaction's COMMIT and the next segment's start, waiting to
   * go in that segment's first round trip (commitEach; commit()), with the
   * records the COMMIT commits.
   */
  private opening: PendingOpening | null = null;
  /** The open transaction's last round trip restored the runner's settings (BatchOptions.onEnd). */
  private restored = false;
  /** standard_conforming_strings was off at the start, for a client whose report was not seen (readEscapeStrings). */
  private escapeStringsAtStart = false;

  constructor(
    private readonly direction: 'up' | 'down',
    private readonly batch: readonly MigrationFile[],
    private readonly options: BatchOptions,
  ) {
    this.ledger = new RunLedger(batch, direction, options.onMigration);
    this.timeoutMs = (options.migrationTimeoutSeconds ?? 0) * 1000;
    this.records = (options.history ?? 'record') !== 'none';
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

  /**
   * Whether the runner's own statements run between BEGIN and the
   * migrations' search_path (lock_timeout, the history table, a prelude);
   * where none do (a scratch replay), both go in one round trip.
   */
  private setUpAlone(start: number, records = this.records): boolean {
    const { options } = this;
    return options.ddlLockTimeoutMs > 0 || records || (start === 0 && options.prelude !== undefined);
  }

  /**
   * What starts the transaction of the segment from `start`, in one round
   * trip: BEGIN and, where nothing of the runner's runs between them
   * (setUpAlone), the migrations' search_path; then onBegin's select, last,
   * so that its value says the start went through; `records` as this.records
   * will be then.
   */
  private startStatements(start: number, records = this.records): { statements: string[]; select: string | null } {
    const { options } = this;
    return {
      statements: ['BEGIN', ...(this.setUpAlone(start, records) ? [] : [migrationSearchPathSql(options.where.schema)])],
      select: options.onBegin ? options.onBegin.sql() : null,
    };
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
      // A stamp, a checksum adoption or a repair: its COMMIT writes the history as a batch's does, so it
      // checks what they check before theirs (commit(): the lock, a stop).
      try {
        // Raced against a stop, as a migration's statements are: a write held up by a lock on the history
        // table is cancelled on the server, not left to wait for it. The write sends several statements:
        // once stopped, it sends no more, so none can follow the ROLLBACK and run outside the transaction.
        const stoppableDb = { query: (...args: Parameters<Queryable['query']>) => (this.stopper.throwIfStopped(), db.query(...args)) } as Queryable;
        await inTransaction(db, async () => {
          await this.stopper.guard(this.runnerStatement('creating the history table', () => ensureHistoryTables(stoppableDb, options.where)));
          await this.stopper.guard(this.runnerStatement('writing the history', () => options.prelude!(stoppableDb)));
          await options.beforeCommit?.();
          this.stopper.throwIfStopped();
        });
      } catch (error) {
        // A stop says what became of the write, as a batch's does (describeStop), in an error of its own:
        // the signal's reason is the caller's, and the run's report goes on the error it rejects with.
        throw error instanceof InterruptedError ? error.describing('the history write was rolled back') : error;
      }
      return;
    }
    await this.loadAndCheck(allFiles);
    let next = 0;
    while (next < this.batch.length) next = await this.segmentWithRetries(next);
  }

  /** Every file of the batch loaded and checked before anything runs. */
  private async loadAndCheck(allFiles: readonly MigrationFile[]): Promise<void> {
    this.loaded = await loadBatch(this.batch, allFiles);
    await this.readEscapeStrings();
    for (const [index, file] of this.batch.entries()) {
      const module = this.loaded.modules.get(file.name)!;
      const section = module.sqlText?.[this.direction];
      if (section != null) await this.checkEscapedStrings(file, section, module.sqlFacts![this.direction]!.line);
      if (module.sqlFacts?.[this.direction]?.unwrapped) {
        this.options.logger.info(`${file.fileName}: its enclosing BEGIN … COMMIT was removed; it runs in the batch's transaction`, {
          migration: file.name,
        });
      }
      const refused = this.direction === 'down' ? missingDownRefusal(file, module) : null;
      if (refused) {
        this.ledger.rolledBack(index);
        throw refused;
      }
    }
  }

  /**
   * For a client whose startup report this runner did not see (one the
   * caller connected), standard_conforming_strings is asked once, where a
   * migration may send a backslash: a .sql text holding one, or a JS/TS
   * migration. Changes after that come in the server's reports.
   */
  private async readEscapeStrings(): Promise<void> {
    const { db } = this.options;
    if (reportedEscapeStrings(db) !== undefined) return;
    const sql = this.batch.filter((file) => file.extension === '.sql').map((file) => this.loaded.modules.get(file.name)!.sqlText?.[this.direction] ?? '');
    if (sql.length === this.batch.length && !sql.some((text) => text.includes('\\'))) return;
    this.escapeStringsAtStart = await this.runnerStatement('reading standard_conforming_strings', () => askEscapeStrings(db));
  }

  /**
   * refuseEscapedStrings while the session reads a '…' string's backslash as
   * an escape: checked before anything runs, and again right before each
   * migration's SQL is sent, for one sent before it may have turned the
   * setting off (the server reads a round trip's text with the setting it
   * has when the round trip starts).
   */
  private async checkEscapedStrings(file: MigrationFile, text: string, line: number | null, sending = false): Promise<void> {
    if (!(reportedEscapeStrings(this.options.db) ?? this.escapeStringsAtStart)) return;
    try {
      await refuseEscapedStrings(file, text, line);
    } catch (error) {
      // As it is about to be sent, it is a failure of that migration (exit 1): others may have run, and what
      // a commit let through is said as for any failure.
      if (!sending || !(error instanceof MigrationFileError)) throw error;
      throw new MigrationFailedError(file.name, this.direction, null, { cause: error, detail: error.message, hint: error.hint });
    }
  }

  /** checkEscapedStrings on what a built migration sends (a .sql file's section, where its lines are known), as it is about to be sent. */
  private async checkSentStrings(part: BuiltPart): Promise<void> {
    const file = this.batch[part.index]!;
    const module = this.loaded.modules.get(file.name)!;
    const section = module.sqlText?.[this.direction];
    if (section != null) await this.checkEscapedStrings(file, section, module.sqlFacts![this.direction]!.line, true);
    else await this.checkEscapedStrings(file, part.built.sql.join('\n'), null, true);
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
   * migration must run alone, or one adds an enum value (with commitEach,
   * one migration). Returns where the next segment starts.
   */
  private async segment(start: number): Promise<number> {
    const { options } = this;
    const { db } = options;
    const records: AppliedRecord[] = [];
    // The last transaction's COMMIT and this one's start, where they go with this segment's first round trip.
    let opening = this.opening;
    this.opening = null;
    const takeOpening = () => {
      const taken = opening;
      opening = null;
      return taken;
    };
    const pending = new RoundTripGroup<BuiltPart>((group, last) => this.sendGroup(group, records, last, takeOpening()), { oneEach: this.timeoutMs > 0 });
    this.restored = false;
    const flush = () => pending.flush();
    // Where nothing of the runner's runs between BEGIN and the migrations' search_path (a scratch
    // replay: no history, no lock_timeout), both go in one round trip: a replay starts one per migration.
    const setUpAlone = this.setUpAlone(start);
    // Begun already where the last transaction's COMMIT went with this BEGIN (commitEach).
    const begun = this.begun;
    this.begun = null;
    const started =
      opening !== null ? null
      : (begun ??
        (await this.runnerStatement('starting the transaction', () => db.query(joinedStart(this.startStatements(start)))).catch(async (error: unknown) => {
          await this.rollback();
          throw error;
        })));
    try {
      if (options.onBegin && started !== null) options.onBegin.take(lastValueOf(started));
      // With an opening, nothing of the runner's runs between the BEGIN and the migration (commit() made
      // it only so): nothing may be sent before it either, in the last transaction, which is still open.
      if (opening === null) {
        if (options.ddlLockTimeoutMs > 0) {
          await db.query(`SELECT pg_catalog.set_config('lock_timeout', $1, true)`, [`${options.ddlLockTimeoutMs}ms`]);
        }
        if (this.records) await this.runnerStatement('creating the history table', () => ensureHistoryTables(db, options.where));
        if (start === 0 && options.prelude) await this.runnerStatement('writing the history', () => options.prelude!(db));
        // node-pg-migrate sets search_path to the managed schema (runner.ts:453), so unqualified names land there.
        if (setUpAlone) await useMigrationSearchPath(db, options.where.schema);
      }
      let index = start;
      for (; index < this.batch.length; index++) {
        this.stopper.throwIfStopped();
        const part = await this.build(index, flush);
        const boundary = boundaryOf(part.built);
        if (boundary === 'alone') {
          // What came before commits; it runs alone, outside any transaction.
          const waiting = takeOpening();
          if (waiting !== null) await this.openAlone(waiting);
          await flush();
          await this.commit(records);
          await this.runAlone(part);
          return index + 1;
        }
        await pending.add(part, part.built.sql, part.built.opaque === true);
        if (boundary === 'commit-after' || options.commitEach) {
          index++;
          break;
        }
      }
      await pending.flush(true);
      await this.commit(records, options.commitEach && index < this.batch.length ? index : null);
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
    const module = this.loaded.modules.get(file.name)!;
    const started = performance.now();
    const deadline = this.timeoutMs > 0 ? Date.now() + this.timeoutMs : null;
    this.running = index;
    // A JS/TS migration may query the database while it builds (pgm.db): what came before runs first,
    // on its first query, so migrations that only build SQL stay batched. A failure of that earlier SQL
    // is kept, in case the migration catches what its query threw.
    let flushError: unknown;
    let enumValue = false;
    const open = { now: true };
    const reversing = revertsItsUp(file, module, this.direction);
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
        await this.checkEscapedStrings(file, text, null, true);
        const result = await db.query(textOrConfig as string, values);
        this.expectTransaction(index);
        return result;
      },
    } as Queryable;
    try {
      const builderDb = file.extension === '.sql' ? db : migrationDb;
      const built = await this.stopper.guard(buildChecked(file, module, this.direction, builderDb, this.loaded, logger), deadline);
      if (flushError) throw flushError;
      // SQL sent through pgm.db that added an enum value ends the transaction after it too.
      const checked: BuiltMigration = enumValue && !built.addsEnumValue ? { ...built, addsEnumValue: true } : built;
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
  private async sendGroup(group: readonly BuiltPart[], records: AppliedRecord[], last: boolean, opening: PendingOpening | null = null): Promise<void> {
    const { db, onEnd, onBegin } = this.options;
    for (const part of group) await this.checkSentStrings(part).catch((error: unknown) => Promise.reject(new SegmentFailure(error, part.index)));
    // The transaction's last round trip also restores the runner's settings and takes onEnd's value, where asked.
    const trailer = last && onEnd ? { statements: pinSearchPathSql('RESET ROLE'), select: onEnd.sql() } : null;
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
      // Sent by the time sendRoundTrip returns its promise (pg writes a query when it is the only one).
      const sending = sendRoundTrip(
        db,
        group.map((part) => ({ statements: part.built.sql })),
        (started, previousMs) => {
          if (started > 0 && previousMs !== null) finished(group[started - 1]!, previousMs);
          if (started < group.length) this.setRunning(group[started]!.index);
        },
        trailer,
        opening && {
          statements: ['COMMIT', ...opening.start.statements].join('; '),
          select: opening.start.select,
          // The COMMIT went through, and this transaction began: before any of its migrations runs.
          onOpened: (value) => {
            this.committed(opening.records);
            onBegin?.take(value);
          },
        },
      );
      this.options.whileRunning?.();
      result = await this.stopper.guard(sending, group.at(-1)!.deadline);
    } catch (error) {
      if (!(error instanceof RoundTripError)) throw error;
      if (error.part < 0) throw await this.openingFailure(opening!, error.error);
      // After every part: the trailer's, the runner's own.
      if (error.part >= group.length) throw new SegmentFailure(this.runnerFailure("restoring the runner's session settings", error.error), null);
      // The parts before the failed one ran (reported as the markers came); the rollback will undo them.
      const part = group[error.part]!;
      const location = error.location?.position == null && error.statementsDone !== null ? ((await locateFailedStatement(part.built.sql, error.statementsDone)) ?? error.location) : error.location;
      throw new SegmentFailure(error.error, part.index, location);
    }
    if (trailer !== null) {
      this.restored = true;
      if (trailer.select !== null) onEnd!.take(result.trailer);
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
    // What ran in the transaction took effect with its COMMIT (or went with its ROLLBACK), and so did what came
    // after it in the same round trip: not recorded either way.
    const ran = this.ledger.uncommittedNames();
    if (!ran.includes(file.name)) ran.push(file.name);
    this.ledger.committed();
    throw new SegmentFailure(
      new MigrationFailedError(file.name, this.direction, null, {
        detail: `its SQL ended the runner's transaction (a COMMIT or ROLLBACK the checks before running could not see) (${file.fileName}); ` +
          `what ran in that transaction (${ran.join(', ')}) may be committed, and none of it is recorded`,
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

  /**
   * Records what ran in the open transaction, checks the lock, commits.
   * `next`: the segment that starts there begins in the same round trip
   * (commitEach), where the server says whether the COMMIT went through.
   */
  private async commit(records: readonly AppliedRecord[], next: number | null = null): Promise<void> {
    const { options } = this;
    const { db } = options;
    this.running = null;
    if (!this.restored) await this.restoreRunnerSettings();
    this.restored = false;
    if (records.length && this.records) await this.runnerStatement('writing the history', () => this.record(records));
    await options.beforeCommit?.();
    // Stopped while the last migration finished: nothing commits.
    this.stopper.throwIfStopped();
    const recordsAfter = this.records && !(this.options.history === 'first' && records.length > 0);
    const start = next !== null && transactionStatusOf(db) === 'in-transaction' ? this.startStatements(next, recordsAfter) : null;
    if (start !== null && !this.setUpAlone(next!, recordsAfter) && this.batch[next!]!.extension === '.sql' && !options.signal && this.timeoutMs === 0) {
      // A .sql file builds without the database, and nothing of the runner's runs between the BEGIN and its
      // SQL: the COMMIT and the start go with its round trip (sendGroup), one round trip fewer. Not where
      // a stop or a timeout can cancel that round trip: the COMMIT is never cancelled, and one cancelled
      // between it and the start would leave the report unsure of what committed.
      this.opening = { start, records };
      return;
    }
    if (start !== null) {
      this.begun = await this.sendOpening({ start, records });
      return;
    }
    await db.query('COMMIT');
    this.committed(records);
  }

  /** The opening (commit()) where what comes next cannot take it in its round trip: sent alone, as commit() sends it. */
  private async openAlone(opening: PendingOpening): Promise<void> {
    this.options.onBegin?.take(lastValueOf(await this.sendOpening(opening)));
  }

  /** Sends an opening in a round trip of its own; resolves, once its COMMIT is counted, with the results of the start after it. */
  private async sendOpening(opening: PendingOpening): Promise<unknown[]> {
    let results: unknown;
    try {
      results = await this.options.db.query(`COMMIT; ${joinedStart(opening.start)}`);
    } catch (error) {
      throw await this.openingFailure(opening, error);
    }
    this.committed(opening.records);
    // COMMIT's result first, then those of the start.
    return (results as unknown[]).slice(1);
  }

  /**
   * What the failure of a COMMIT sent with the next transaction's start
   * (an opening) was: an error after the COMMIT leaves the next transaction
   * open and failed, and is the start's, as where it begins alone; one of the
   * COMMIT leaves none, and nothing of the last transaction committed.
   */
  private async openingFailure(opening: PendingOpening, error: unknown): Promise<unknown> {
    if ((await settledTransactionStatusOf(this.options.db)) !== 'failed') return new SegmentFailure(error, null);
    this.committed(opening.records);
    return new SegmentFailure(this.runnerFailure('starting the transaction', error), null);
  }

  private committed(records: readonly AppliedRecord[]): void {
    this.ledger.committed();
    if (records.length) this.recordedOnce(records);
  }

  /** `records` are committed, and recorded where the history is written: logged; with history `first`, the last written. */
  private recordedOnce(records: readonly AppliedRecord[]): void {
    if (this.options.history === 'first') this.records = false;
    this.logCommitted(records);
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
      await this.checkSentStrings(part);
      await useMigrationSearchPath(db, this.options.where.schema);
      if (ddlLockTimeoutMs > 0) await db.query(`SELECT pg_catalog.set_config('lock_timeout', $1, false)`, [`${ddlLockTimeoutMs}ms`]);
      for (const statement of statements) {
        // Each statement is a round trip of its own: one before it may have turned the setting off.
        if (done > 0) await this.checkEscapedStrings(file, statement, null, true);
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
      await inTransaction(db, async () => {
        this.running = null;
        await this.restoreRunnerSettings();
        await this.options.assertLock?.();
        if (this.records) await this.runnerStatement('writing the history', () => this.record(records));
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
    this.recordedOnce(records);
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
      throw this.runnerFailure(what, error);
    } finally {
      this.running = running;
    }
  }

  /** A failure of the runner's own statement `what`, as runnerStatement gives it. */
  private runnerFailure(what: string, error: unknown): unknown {
    if (error instanceof RunnerError || isConnectionLoss(error)) return error;
    return new HistoryWriteError(`${what} (${qualify(this.options.where.schema, this.options.where.table)})`, { cause: error });
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
    const stopped = describeStop(error, { file, direction: this.direction, committed: this.ledger.committedNames(), outside: failure.outside });
    if (stopped) return stopped;
    if (!file || error instanceof RunnerError) {
      return error as Error;
    }
    const module = this.loaded.modules.get(file.name);
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
        committedBefore: this.ledger.committedNames(),
      },
      this.options.logger,
    );
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

/**
 * The statement that failed, of those `steps` hold, when `done` of them
 * completed before it (as the server split their text: the grammar's split,
 * the same); null where the grammar cannot read them or counts fewer.
 */
async function locateFailedStatement(steps: readonly string[], done: number): Promise<StatementLocation | null> {
  const text = steps.join('\n');
  const statements = await parseStatements(text);
  const failed = statements?.[done];
  if (!failed || statements!.length < 2) return null;
  const location = locateStatement(steps, failed.start + 1);
  return location && { ...location, failedStatementEnd: location.position! - 1 + (failed.end - failed.start) };
}

function positionOf(error: unknown): number | null {
  const position = (error as { position?: string } | null)?.position;
  return position ? Number(position) : null;
}

