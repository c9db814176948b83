/**
 * runMigrations: the recipe every acting command follows (README "How it behaves"):
 * introspect, detect, lock, detect again under the lock (another replica may
 * have finished meanwhile), execute, report. Every run resolves with a
 * report; a failure rejects with an error that carries the partial report.
 */
import { planCommand, refusalOf, type RunCommand } from './core/commandPlanner.js';
import { migrationsOf } from './core/plans.js';
import { prepareToWrite, serverMajorOf, withClient, type Client } from './db/connection.js';
import { InterruptedError, RunnerError, rejectAsRunnerError } from './core/errors.js';
import { runBatch, type BatchOutcome } from './db/execute.js';
import { cancelBackend, createStopper } from './db/interruption.js';
import { adoptChecksums, appliedBy, orderHistoryAsFiles, recordChecksums, stampHistory } from './db/history.js';
import { observe, readWhileConnecting, settingsOf, type Observation, type RunnerOptions } from './observe.js';
import { replayFingerprintsFor } from './replayFingerprints.js';
import type { Manifest } from './fingerprints/manifest.js';
import { readDatabaseFacts } from './db/facts.js';
import type { Queryable } from './core/types.js';
import { checkSchemaAt, manifestForSchemaCheck } from './fingerprints/schemaCheck.js';
import { withLock, type MigrationLockSession } from './db/lock.js';
import { createSilentLogger, type Logger } from './config/logger.js';
import { describeFinding } from './core/findings.js';
import { requireConnection, type Settings } from './config/settings.js';
import type { Detection, MigrationFile, MigrationRun, Plan, RunReport } from './core/types.js';

export type { RunCommand } from './core/commandPlanner.js';

export interface RunMigrationsOptions extends RunnerOptions {
  /** What to do. Default: `{ kind: 'auto' }`. */
  readonly command?: RunCommand;
  /** Called after each migration, for progress output. */
  readonly onMigration?: (run: MigrationRun, index: number, total: number) => void;
  /**
   * Stops the run: the running statement is cancelled on the server, the
   * batch rolled back, the lock released; the run rejects with the signal's
   * reason (the CLI aborts it on SIGINT/SIGTERM and when migration code escapes).
   */
  readonly signal?: AbortSignal;
}

export async function runMigrations(options: RunMigrationsOptions = {}): Promise<RunReport> {
  const started = performance.now();
  const settings = settingsOf(options);
  const logger = options.logger ?? createSilentLogger();
  const command = options.command ?? { kind: 'auto' };
  return readWhileConnecting(settings, logger, async (client, reading) => {
    // What the run saw and decided, for the report of whatever ends it.
    const seen: { before: Observation | null; plan: Plan | null } = { before: null, plan: null };
    const reportOf = (runs: readonly MigrationRun[], after: Detection | null, stamped: string | null): RunReport => ({
      command: command.kind,
      before: seen.before!.detection,
      plan: seen.plan!,
      stamped,
      migrations: runs,
      after,
      durationMs: Math.round(performance.now() - started),
    });
    // Drift is looked for only when it would stop the run: reading the whole
    // live schema on every start cost a 1,000-table database more than the
    // rest of the start (bench/RESULTS.md, the legacy schema); `status` and `check` always look.
    // Invalid indexes are status's to report: a start does not read them. Only auto runs JS/TS probes
    // (code of the migration files): it alone acts on a legacy match (below).
    const choices = { client, settings, logger, checkDrift: settings.refuseOnDrift, invalidIndexes: false, probeCode: command.kind === 'auto' };
    // SIGINT/SIGTERM stop a replay too: its scratch database goes.
    const replay = replayFingerprintsFor(settings, logger, options.signal);
    // Only auto acts on the revision a legacy database matches: up and down refuse a legacy
    // database and stamp is told its revision, so none of them replays the migrations to find it.
    const reconcile = command.kind === 'auto' ? 'replay' : 'none';

    // The first look has the files as they are being read; the looks after it, as it read them.
    const underLock = async (lock: MigrationLockSession, first: Observation): Promise<RunReport> => {
      const { files } = first;
      const names = files.map((f) => f.name);
      const look = { ...choices, files };
      const before = await untilStopped(() => lookUnderLock(lock, first.manifest, logger, {
        look: (how, computed) => observe({ ...look, reconcile: reconcile === 'none' ? 'none' : how, replay, computed }),
        replay: async (staleness) => (await replay({ files, staleness, targetMajor: serverMajorOf(client) })).manifest,
        needsLock: (look) => {
          const next = planCommand(command, look.detection, names);
          return next.action !== 'refuse' && !hasNothingToDo(next, look, files);
        },
      }), options.signal);
      const plan = planCommand(command, before.detection, names);
      seen.before = before;
      seen.plan = plan;
      refuseIf(plan, reportOf([], null, null));
      if (hasNothingToDo(plan, before, files)) {
        // The replica that waited while another applied: nothing left. The log
        // says so, as it would have without the wait.
        logger.info(`state: ${before.detection.state}; plan: none (${plan.reason})`, { state: before.detection.state });
        return freeze(reportOf([], before.detection, null));
      }

      // checkSchema compares with the manifest: one that does not describe the files is refused before anything changes.
      const schemaCheck = settings.checkSchema && runsMigrations(plan) ? await manifestForSchemaCheck(settings, files) : null;
      const outcome = await executePlan(client, plan, before, files, settings, logger, options, lock, schemaCheck);
      if (outcome.error) {
        // The executor says what became of every migration; the error carries it.
        if (outcome.error instanceof RunnerError) throw outcome.error.withReport(freeze(reportOf(outcome.runs, null, null)));
        throw outcome.error;
      }
      const runs = outcome.runs;
      // What the run left, as read: not worth a replay or a schema read under the lock.
      const after = await observe({ client, settings, files, logger, checkDrift: false, reconcile: 'none', invalidIndexes: false, computed: before.manifest });
      const report = freeze(reportOf(runs, after.detection, plan.stampTo));
      logger.info(`done: ${after.detection.state} at ${after.detection.current ?? 'base'}`, {
        migrations: runs.length,
        durationMs: report.durationMs,
      });
      return report;
    };

    try {
      const before = await untilStopped(() => observe({ ...choices, files: reading, reconcile, replay }), options.signal);
      const plan = planCommand(command, before.detection, before.files.map((f) => f.name));
      seen.before = before;
      seen.plan = plan;
      logger.info(`state: ${before.detection.state}; plan: ${plan.action} (${plan.reason})`, {
        state: before.detection.state,
        current: before.detection.current,
        head: before.detection.head,
      });
      for (const finding of before.detection.findings) logger.warn(describeFinding(finding), { finding: finding.kind });
      refuseIf(plan, reportOf([], null, null));
      if (hasNothingToDo(plan, before, before.files)) return freeze(reportOf([], before.detection, null));

      await prepareToWrite(client);
      const lockOptions = { timeoutSeconds: settings.lockTimeoutSeconds, waitTimeoutSeconds: settings.waitTimeoutSeconds, logger };
      return await withLock(requireConnection(settings), client, lockOptions, (lock) => underLock(lock, before));
    } catch (error) {
      if (error instanceof InterruptedError && !error.report && seen.before && seen.plan) {
        throw error.describing('before any migration ran; nothing was changed').withReport(freeze(reportOf([], null, null)));
      }
      throw error;
    }
  }).catch(rejectAsRunnerError);
}

interface LockedLook {
  /** Observes the database; `computed` is a manifest an earlier look computed. */
  readonly look: (reconcile: 'manifest' | 'replay', computed: Manifest | null) => Promise<Observation>;
  /** Computes fingerprints in a scratch database (null when the role may not create one). */
  readonly replay: (staleness: string | null) => Promise<Manifest | null>;
  /** Whether what was seen needs the lock held exclusively (something to apply, stamp or record). */
  readonly needsLock: (look: Observation) => boolean;
}

/**
 * Takes the lock and looks again, since another runner may have finished
 * meanwhile (README "How it behaves", The lock). Returns that look, made holding the lock exclusively,
 * or, when it needs no exclusive hold, a look made holding it shared.
 *
 * - If another runner holds the lock, this one waits for it holding the lock
 *   shared and looks then: no runner can change the database meanwhile, and
 *   every replica that waited looks at the same time rather than one after
 *   the other (bench/RESULTS.md, replicas); most find nothing left and end there,
 *   having waited on their reading connection without opening the lock's.
 * - A scratch replay under the lock would keep every other runner waiting, so
 *   when the database became legacy meanwhile and needs fingerprints, they are
 *   computed with the lock let go; only a second such change replays under it.
 */
async function lookUnderLock(lock: MigrationLockSession, computed: Manifest | null, logger: Logger, { look, needsLock, replay }: LockedLook): Promise<Observation> {
  // Only the replay: the live schema is read under the lock, where no runner changes it mid-read.
  const replayWithoutLock = (seen: Observation) => {
    logger.info('the database became legacy while this run waited for the lock; computing fingerprints without holding it');
    return replay(seen.manifestStaleness);
  };
  if (!(await lock.tryTake())) {
    await lock.share();
    const settled = await look('manifest', computed);
    await lock.letGo('shared');
    if (!settled.replayNeeded && !needsLock(settled)) return settled;
    if (settled.replayNeeded) computed = await replayWithoutLock(settled);
    await lock.take();
  }
  for (let attempt = 1; ; attempt++) {
    const underLock = await look(attempt === 1 ? 'manifest' : 'replay', computed);
    if (!underLock.replayNeeded) return underLock;
    await lock.letGo('exclusive');
    computed = await replayWithoutLock(underLock);
    await lock.take();
  }
}

async function executePlan(
  client: Client,
  plan: Plan,
  observed: Observation,
  files: readonly MigrationFile[],
  settings: Settings,
  logger: Logger,
  options: RunMigrationsOptions,
  lock: MigrationLockSession,
  schemaCheck: Manifest | null,
): Promise<BatchOutcome> {
  const byName = new Map(files.map((f) => [f.name, f]));
  const where = { schema: settings.schema, migrationsSchema: settings.migrationsSchema, table: settings.table };
  const by = appliedBy();
  const unrecorded = unrecordedChecksums(observed, files);
  const prelude = async (db: Queryable) => {
    if (plan.stampTo !== null) {
      const upTo = plan.stampTo === 'base' ? 0 : files.findIndex((f) => f.name === plan.stampTo) + 1;
      await stampHistory(db, where, files.slice(0, upTo), appliedBy('stamped by migrate'));
      logger.info(`stamped the history at ${plan.stampTo}`);
    } else if (unrecorded.length) {
      await adoptChecksums(db, where, unrecorded);
      logger.info(`recorded checksums of ${unrecorded.length} migrations applied without them`);
    }
    if (plan.action === 'repair') {
      const recorded = new Map(observed.facts.applied.map((row) => [row.name, row.checksum]));
      await recordChecksums(db, where, plan.repair.map((name) => ({ name, recorded: recorded.get(name)!, checksum: byName.get(name)!.checksum })));
      for (const name of plan.repair) logger.info(`recorded the checksum of ${name} as the file is now (it was edited after it ran)`);
    }
  };
  // Files merged late, applied now: their rows go back into file order before each COMMIT (history.ts).
  const late = plan.apply.filter((name) => observed.detection.outOfOrder.includes(name));
  const batchOptions = {
    db: client,
    where,
    logger,
    ddlLockTimeoutMs: settings.ddlLockTimeoutMs,
    ddlLockRetries: settings.ddlLockRetries,
    appliedBy: by,
    prelude,
    // A lock whose session ended may already be another runner's: never commit then.
    // Every commit that writes the history (a noTransaction migration's own too) leaves it in file order.
    // With checkSchema, the schema must be the one recorded for the revision the history now reaches.
    beforeCommit: async () => {
      if (late.length) await orderHistoryAsFiles(client, where, files.map((f) => f.name), late);
      if (schemaCheck) await checkSchemaAt(client, settings, schemaCheck, await revisionReached(client, settings, files));
      await lock.assertHeld();
    },
    assertLock: () => lock.assertHeld(),
    ...(options.signal && { signal: options.signal }),
    migrationTimeoutSeconds: settings.migrationTimeoutSeconds,
    cancelStatement: () => cancelBackend(requireConnection(settings), (client as { processID?: number | null }).processID),
    onMigration: (run: MigrationRun, index: number, total: number, committed: boolean) => {
      // Until its transaction commits, a migration that ran may still be rolled back: the line says so.
      logger.info(`${run.status} ${run.name} (${index + 1}/${total}, ${run.durationMs} ms${committed ? '' : ', not committed yet'})`, {
        migration: run.name,
        direction: run.direction,
        durationMs: run.durationMs,
      });
      options.onMigration?.(run, index, total);
    },
  };
  switch (plan.action) {
    case 'apply':
    case 'stamp-then-apply':
      return runBatch('up', plan.apply.map((n) => byName.get(n)!), files, batchOptions);
    case 'revert':
      return runBatch('down', plan.revert.map((n) => byName.get(n)!), files, batchOptions);
    case 'stamp':
    case 'repair':
    case 'none':
      return runBatch('up', [], files, batchOptions);
    case 'refuse':
      return { runs: [], error: null };
  }
}

/**
 * `start()`'s work, unless the run is stopped first (then its reason; the
 * finally block lets go of the lock and the connection). A run already
 * stopped does not start it: work left running would fail on the closed
 * connection with no one to take its rejection, and the CLI takes an
 * unhandled rejection for migration code that escaped.
 */
function untilStopped<T>(start: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal?.aborted) return Promise.reject(signal.reason as Error);
  // The executor's own race of work against the stop (no timeout, nothing to cancel: a look's queries end with its connection).
  return createStopper({ signal, timeoutSeconds: 0 }).guard(start());
}

/** Whether the plan runs migrations (applies or reverts), which checkSchema then checks. */
function runsMigrations(plan: Plan): boolean {
  return migrationsOf(plan).length > 0;
}

/** The last file, in file order, that the history (as this transaction sees it) records: the revision reached. */
async function revisionReached(client: Client, settings: Settings, files: readonly MigrationFile[]): Promise<string | null> {
  const applied = new Set((await readDatabaseFacts(client, settings)).applied.map((row) => row.name));
  return files.filter((f) => applied.has(f.name)).at(-1)?.name ?? null;
}

/** Nothing to apply, stamp or record: the run ends without a transaction. */
function hasNothingToDo(plan: Plan, observed: Observation, files: readonly MigrationFile[]): boolean {
  return plan.action === 'none' && unrecordedChecksums(observed, files).length === 0;
}

/** Applied rows without a checksum (plain node-pg-migrate applied them), with their file's checksum. */
function unrecordedChecksums(observed: Observation, files: readonly MigrationFile[]) {
  const unrecorded = observed.facts.applied.filter((row) => row.checksum === null);
  // Usually none: then no map of every file is made (a no-op start's cost, bench/RESULTS.md).
  if (!unrecorded.length) return [];
  const byName = new Map(files.map((f) => [f.name, f]));
  // A name the history holds twice (two plain node-pg-migrate runs at once) has one side row: record it once.
  return [...new Set(unrecorded.map((row) => row.name))]
    .filter((name) => byName.has(name))
    .map((name) => ({ name, checksum: byName.get(name)!.checksum, durationMs: null }));
}

function refuseIf(plan: Plan, report: RunReport): void {
  const refusal = refusalOf(plan, report);
  if (refusal) throw refusal;
}

function freeze<T extends object>(value: T): T {
  return Object.freeze(value);
}

