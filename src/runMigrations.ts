/**
 * runMigrations: the recipe every acting command follows (issue 3):
 * introspect, detect, lock, detect again under the lock (another replica may
 * have finished meanwhile), execute, report. Every run resolves with a
 * report; a failure rejects with an error that carries the partial report.
 */
import { planCommand, type RunCommand } from './commandPlanner.js';
import { allowLongIdle, closeQuietly, type Client } from './connection.js';
import { MigrationFailedError, RefusedError } from './errors.js';
import { executeBatch } from './execute.js';
import { adoptChecksums, appliedBy, stampHistory } from './history.js';
import { connectFor, observe, settingsOf, type Observation, type RunnerOptions } from './inspect.js';
import type { Queryable } from './introspect.js';
import { acquireMigrationLock, type MigrationLock } from './lock.js';
import { createSilentLogger, type Logger } from './logger.js';
import { readMigrationFiles } from './migrationFiles.js';
import { describeFinding } from './findings.js';
import { requireConnection, type Settings } from './settings.js';
import type { Detection, MigrationFile, MigrationRun, Plan, RunReport } from './types.js';

export type { RunCommand } from './commandPlanner.js';

export interface RunMigrationsOptions extends RunnerOptions {
  /** What to do. Default: `{ kind: 'auto' }`. */
  readonly command?: RunCommand;
  /** Called after each migration, for progress output. */
  readonly onMigration?: (run: MigrationRun, index: number, total: number) => void;
}

export async function runMigrations(options: RunMigrationsOptions = {}): Promise<RunReport> {
  const started = performance.now();
  const settings = settingsOf(options);
  const logger = options.logger ?? createSilentLogger();
  const command = options.command ?? { kind: 'auto' };
  const files = await readMigrationFiles(settings.dir);
  const client = await connectFor(settings, logger);
  let lock: MigrationLock | null = null;
  let before: Observation | null = null;
  let plan: Plan | null = null;
  const reportOf = (runs: readonly MigrationRun[], after: Detection | null, stamped: string | null): RunReport => ({
    command: command.kind,
    before: before!.detection,
    plan: plan!,
    stamped,
    migrations: runs,
    after,
    durationMs: Math.round(performance.now() - started),
  });

  try {
    // Drift is looked for only when it would stop the run: reading the whole
    // live schema on every start cost a 1,000-table database more than the
    // rest of the start (issue 6); `status` and `check` always look.
    const drift = { checkDrift: settings.refuseOnDrift };
    before = await observe(client, settings, files, drift, logger);
    plan = planCommand(command, before.detection, files.map((f) => f.name));
    logger.info(`state: ${before.detection.state}; plan: ${plan.action} (${plan.reason})`, {
      state: before.detection.state,
      current: before.detection.current,
      head: before.detection.head,
    });
    for (const finding of before.detection.findings) logger.warn(describeFinding(finding), { finding: finding.kind });
    refuseIf(plan, reportOf([], null, null));
    if (hasNothingToDo(plan, before, files)) return freeze(reportOf([], before.detection, null));

    // Under the lock, again: another runner may have finished meanwhile. Every
    // other runner waits while we hold it, so a legacy database that now needs
    // fingerprints from a replay (someone stamped base meanwhile) is replayed
    // with the lock let go; only a second such change replays under it.
    await allowLongIdle(client);
    for (let look = 1; ; look++) {
      lock = await acquireMigrationLock(requireConnection(settings), {
        timeoutSeconds: settings.lockTimeoutSeconds,
        waitTimeoutSeconds: settings.waitTimeoutSeconds,
        logger,
      });
      const reconcile = look === 1 ? 'manifest' : 'replay';
      const underLock = await observe(client, settings, files, { ...drift, reconcile }, logger, before.manifest);
      if (!underLock.replayNeeded) {
        before = underLock;
        break;
      }
      await lock.release();
      lock = null;
      logger.info('the database became legacy while this run waited for the lock; computing fingerprints without holding it');
      before = await observe(client, settings, files, drift, logger);
    }
    plan = planCommand(command, before.detection, files.map((f) => f.name));
    refuseIf(plan, reportOf([], null, null));
    if (hasNothingToDo(plan, before, files)) {
      // The replica that waited while another applied: nothing left, so let the
      // next waiter in now rather than after an empty batch and another look
      // (issue 6, replicas). The log says so, as it would have without the wait.
      logger.info(`state: ${before.detection.state}; plan: none (${plan.reason})`, { state: before.detection.state });
      return freeze(reportOf([], before.detection, null));
    }

    const runs = await executePlan(client, plan, before, files, settings, logger, options, lock);
    // What the run left, as read: not worth a replay or a schema read under the lock.
    const after = await observe(client, settings, files, { checkDrift: false, reconcile: 'none' }, logger, before.manifest);
    const report = freeze(reportOf(runs, after.detection, plan.stampTo));
    logger.info(`done: ${after.detection.state} at ${after.detection.current ?? 'base'}`, {
      migrations: runs.length,
      durationMs: report.durationMs,
    });
    return report;
  } catch (error) {
    if (error instanceof MigrationFailedError && before && plan) {
      // In plan order: committed ones (a noTransaction split), those its
      // transaction rolled back, the failed one, and what never ran.
      const planned = plan.action === 'revert' ? (plan.revert ?? []) : plan.apply;
      const committed = new Map(error.completed.map((r) => [r.name, r]));
      const failedAt = planned.indexOf(error.migration);
      const runs: MigrationRun[] = planned.map(
        (name, i) =>
          committed.get(name) ?? {
            name,
            direction: error.direction,
            status: i === failedAt ? 'failed' : i < failedAt ? 'rolled-back' : 'not-run',
            durationMs: 0,
          },
      );
      throw error.withReport(freeze(reportOf(runs, null, null)));
    }
    throw error;
  } finally {
    await lock?.release().catch(() => undefined);
    await closeQuietly(client);
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
  lock: MigrationLock,
): Promise<MigrationRun[]> {
  const byName = new Map(files.map((f) => [f.name, f]));
  const where = { schema: settings.schema, table: settings.table };
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
  };
  const batchOptions = {
    db: client,
    where,
    logger,
    ddlLockTimeoutMs: settings.ddlLockTimeoutMs,
    ddlLockRetries: settings.ddlLockRetries,
    appliedBy: by,
    prelude,
    // A lock whose session ended may already be another runner's: never commit then.
    beforeCommit: () => lock.assertHeld(),
    onMigration: (run: MigrationRun, index: number, total: number) => {
      logger.info(`${run.status} ${run.name} (${index + 1}/${total}, ${run.durationMs} ms)`, {
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
      return executeBatch('up', plan.apply.map((n) => byName.get(n)!), files, batchOptions);
    case 'revert':
      return executeBatch('down', (plan.revert ?? []).map((n) => byName.get(n)!), files, batchOptions);
    case 'stamp':
    case 'none':
      await executeBatch('up', [], files, batchOptions);
      return [];
    case 'refuse':
      return [];
  }
}

/** Nothing to apply, stamp or record: the run ends without a transaction. */
function hasNothingToDo(plan: Plan, observed: Observation, files: readonly MigrationFile[]): boolean {
  return plan.action === 'none' && unrecordedChecksums(observed, files).length === 0;
}

/** Applied rows without a checksum (plain node-pg-migrate applied them), with their file's checksum. */
function unrecordedChecksums(observed: Observation, files: readonly MigrationFile[]) {
  const byName = new Map(files.map((f) => [f.name, f]));
  return observed.facts.applied
    .filter((row) => row.checksum === null && byName.has(row.name))
    .map((row) => ({ name: row.name, checksum: byName.get(row.name)!.checksum, durationMs: null }));
}

function refuseIf(plan: Plan, report: RunReport): void {
  if (plan.action !== 'refuse') return;
  throw new RefusedError(plan.reason, report, plan.settleCommand ? { hint: `to settle it: ${plan.settleCommand}` } : {});
}

function freeze<T extends object>(value: T): T {
  return Object.freeze(value);
}

