/**
 * `verify`'s replay: up, down, up in a scratch database, where every down
 * must restore the schema before its up exactly and every up after a down
 * must give the schema of the first up.
 *
 * At the cost of a history's length rather than its square: each schema is
 * read incrementally (IncrementalSchemaReader); the first up and the downs
 * each run as one batch in which every migration commits on its own, read
 * before its COMMIT (applyEachAndRead); the second up runs as one batch, as
 * `migrate auto` would, compared once at the end: with every
 * down restoring the schema before its up, the schema after the batch is
 * the first up's exactly when each up after a down is. Only when it is not
 * are the migrations taken down and up again one by one, to name the first
 * that differs.
 *
 * `verify --against-manifest` takes the schema after each first up from the
 * committed manifest instead (`recorded`, rebuilt from its entries): the
 * first up runs as one batch too, which must reach the manifest's last
 * schema, and only the downs pay for reads. The manifest is then trusted for
 * every schema between: one written elsewhere (another server's roles,
 * extensions or settings) or by hand can make a wrong down pass (README,
 * "Snapshot and verify at scale").
 */
import { describeCause } from '../core/errors.js';
import { describeDifference, diffSchemas } from '../schema/diff.js';
import { fingerprintSchema } from '../schema/fingerprint.js';
import { IncrementalSchemaReader } from '../schema/incrementalCatalog.js';
import type { ReadSchemaModelOptions } from '../schema/catalog.js';
import type { SchemaModel } from '../schema/model.js';
import type { MigrationFile } from '../core/types.js';
import { applyAndRead, applyEachAndRead, prepareScratchSession, type ReplayHooks, type ReplayTarget } from './manifestBuilder.js';
import { RunnerError, SchemaCatalogError } from '../core/errors.js';

export interface VerifyStep {
  readonly phase: 'up' | 'down' | 'up again';
  readonly migration: string;
  readonly ok: boolean;
  readonly problem?: string;
  readonly differences?: readonly string[];
}

export interface VerifyTarget {
  readonly db: ReplayTarget['db'];
  /** Runs `files` in `direction`, as one batch, with `hooks` (ReplayTarget.apply). */
  apply(direction: 'up' | 'down', files: readonly MigrationFile[], hooks: ReplayHooks): Promise<unknown>;
}

/** What the committed manifest records of the base and each revision (recordedSchemas, manifest.ts). */
export interface RecordedSchemas {
  readonly fingerprints: readonly string[];
  model(index: number): SchemaModel;
}

/** Thrown by a check inside a batch to stop it there (applyEachAndRead): its step is already recorded. */
class StopReplay extends Error {}

/**
 * The steps of the replay, and the schema before any migration and after
 * each first up (for the manifest check). With `recorded` (the base's schema
 * and each revision's, as the manifest records them), those are taken from
 * it: null where the replay does not reach them at the base or after the
 * first up, whose batch is then rolled back, so that the caller replays
 * again, reading every schema, in a new scratch database.
 */
export async function replayVerify(
  target: VerifyTarget,
  files: readonly MigrationFile[],
  read: ReadSchemaModelOptions,
  recorded: RecordedSchemas | null = null,
): Promise<{ steps: VerifyStep[]; models: SchemaModel[] } | null> {
  if (recorded !== null && recorded.fingerprints.length !== files.length + 1) throw new Error('the recorded schemas are not those of the files');
  await prepareScratchSession(target.db);
  const reader = new IncrementalSchemaReader(target.db, read);
  const steps: VerifyStep[] = [];
  const base = await reader.read();
  if (recorded !== null && fingerprintSchema(base) !== recorded.fingerprints[0]) return null;
  /** The schema after each first up (the base's first), as read; with `recorded`, none is read. */
  const models: SchemaModel[] = recorded === null ? [base] : [];
  /** The schema before any migration (0) and after each first up, and its fingerprint: read, or the manifest's. */
  const modelAt = (i: number): SchemaModel => (recorded === null ? models[i]! : recorded.model(i));
  const fingerprintAt = (i: number): string => (recorded === null ? fingerprintSchema(models[i]!) : recorded.fingerprints[i]!);
  /** What each comparison is with: the first up's schema, or the one the manifest records for it. */
  const firstUp = recorded === null ? 'the first up' : 'the manifest records';
  /** What a failed batch says: its step, unless a check stopped it (its step is there). A failure of the read itself stops the replay. */
  const failed = (phase: VerifyStep['phase'], error: unknown, name: string) => {
    if (error instanceof SchemaCatalogError) throw error;
    if (!(error instanceof StopReplay)) steps.push({ phase, migration: (error as { migration?: string }).migration ?? name, ok: false, problem: describeCause(error) });
  };
  /** Runs the batch and reads the schema it leaves (null: it failed, and the step says so). */
  const attempt = async (phase: VerifyStep['phase'], batch: readonly MigrationFile[], direction: 'up' | 'down', name = batch[0]!.name) => {
    try {
      return await applyAndRead((files, hooks) => target.apply(direction, files, hooks), reader, batch);
    } catch (error) {
      failed(phase, error, name);
      return null;
    }
  };
  /**
   * Runs `batch`, each migration committing on its own, with the schema each
   * one leaves for `check` (false: it failed or was stopped). `check` throws
   * StopReplay once it has recorded a failed step; else it returns what to
   * record once the migration's COMMIT has gone through, which the next
   * migration's read (or the batch's end) shows: a COMMIT that fails (a
   * deferred constraint) is that migration's failure. Where the batch is
   * refused before anything runs (a file that cannot be loaded, a missing
   * down), the files go one batch each, so that those before the refused
   * one are checked, and named, first.
   */
  const attemptEach = async (
    phase: VerifyStep['phase'],
    batch: readonly MigrationFile[],
    direction: 'up' | 'down',
    check: (index: number, model: SchemaModel) => () => void,
  ): Promise<boolean> => {
    let begun = false;
    let pending = null as { readonly index: number; readonly record: () => void } | null;
    let next = 0;
    const settle = () => {
      if (pending === null) return;
      pending.record();
      next = pending.index + 1;
      pending = null;
    };
    try {
      // Every file is loaded and checked before the first BEGIN, which takes the reader's baseline.
      const apply: ReplayTarget['apply'] = (files, hooks) =>
        target.apply(direction, files, {
          ...hooks,
          onBegin: {
            sql: () => {
              begun = true;
              return hooks.onBegin.sql();
            },
            take: (value) => hooks.onBegin.take(value),
          },
        });
      await applyEachAndRead(apply, reader, batch, (index, model) => {
        settle();
        pending = { index, record: check(index, model) };
      });
      settle();
      return true;
    } catch (error) {
      if (!begun && !(error instanceof SchemaCatalogError)) return oneByOne(phase, batch, direction, check);
      const named = (error as { migration?: string }).migration;
      // A later migration failed: the last one read had committed. Else the failure is at that one's COMMIT.
      if (pending !== null && named !== undefined && named !== batch[pending.index]!.name) settle();
      failed(phase, error, batch[pending?.index ?? next]?.name ?? batch.at(-1)!.name);
      return false;
    }
  };
  /** attemptEach one file at a time, each in a batch of its own. */
  const oneByOne = async (phase: VerifyStep['phase'], batch: readonly MigrationFile[], direction: 'up' | 'down', check: (index: number, model: SchemaModel) => () => void) => {
    for (const [index, file] of batch.entries()) {
      const model = await attempt(phase, [file], direction);
      if (model === null) return false;
      try {
        check(index, model)();
      } catch (error) {
        if (error instanceof StopReplay) return false;
        throw error;
      }
    }
    return true;
  };
  /** Every down, last first; with `compare`, each must give the schema before its first up. */
  const downAll = (compare: boolean): Promise<boolean> =>
    attemptEach('down', [...files].reverse(), 'down', (k, model) => {
      if (!compare) return () => undefined;
      const i = files.length - 1 - k;
      const differences = fingerprintSchema(model) === fingerprintAt(i) ? [] : diffSchemas(modelAt(i), model).map(describeDifference);
      const step = { phase: 'down' as const, migration: files[i]!.name, ok: differences.length === 0 };
      if (differences.length === 0) return () => steps.push(step);
      steps.push({ ...step, problem: recorded === null ? 'down does not restore the schema before up' : 'down does not restore the schema the manifest records before its up', differences });
      // A down that leaves objects behind would make the next ones fail for the wrong reason.
      throw new StopReplay();
    });

  if (files.length === 0) return { steps, models };
  if (recorded === null) {
    const upped = await attemptEach('up', files, 'up', (index, model) => () => {
      models.push(model);
      steps.push({ phase: 'up', migration: files[index]!.name, ok: true });
    });
    if (!upped) return { steps, models };
  } else {
    // One batch, checked before it commits: where it fails, or does not reach the recorded schema, it is
    // rolled back (with what it did to the server, a role it made) and the replay that reads every schema says why.
    const head = recorded.fingerprints.at(-1)!;
    try {
      await applyAndRead((batch, hooks) => target.apply('up', batch, hooks), reader, files, undefined, (model) => {
        if (fingerprintSchema(model) !== head) throw new StopReplay();
      });
    } catch (error) {
      // A migration's failure, or the check's: the replay that reads every schema names it. Anything else is the replay's own.
      if (!(error instanceof StopReplay) && !(error instanceof RunnerError)) throw error;
      if (error instanceof SchemaCatalogError) throw error;
      return null;
    }
    for (const file of files) steps.push({ phase: 'up', migration: file.name, ok: true });
  }
  if (!(await downAll(true))) return { steps, models };

  // Up again in one batch; the first up's schema at the end means each one matched.
  const again = await attempt('up again', files, 'up', files.at(-1)!.name);
  if (again === null) return { steps, models };
  if (fingerprintSchema(again) === fingerprintAt(files.length)) {
    for (const file of files) steps.push({ phase: 'up again', migration: file.name, ok: true });
    return { steps, models };
  }
  // Some up after its down gives another schema: down again (each down was checked above; from the second
  // up's schema they need not restore the first up's), then up one by one to name it.
  if (!(await downAll(false))) return { steps, models };
  await attemptEach('up again', files, 'up', (i, model) => {
    const same = fingerprintSchema(model) === fingerprintAt(i + 1);
    const step: VerifyStep = {
      phase: 'up again',
      migration: files[i]!.name,
      ok: same,
      ...(!same && { problem: `up after down gives another schema than ${firstUp}`, differences: diffSchemas(modelAt(i + 1), model).map(describeDifference) }),
    };
    return () => steps.push(step);
  });
  return { steps, models };
}
