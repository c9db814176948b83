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
 * Where the committed manifest records every file (replayVerifyRecorded),
 * the first up runs as one batch too, and each down is compared with the
 * fingerprint the manifest records for the revision before it instead of
 * with a schema read after each first up: the downs then pay for the reads,
 * the ups do not (README, "Snapshot and verify at scale").
 */
import { describeCause } from '../core/errors.js';
import { describeDifference, diffSchemas } from '../schema/diff.js';
import { fingerprintSchema } from '../schema/fingerprint.js';
import { IncrementalSchemaReader } from '../schema/incrementalCatalog.js';
import type { ReadSchemaModelOptions } from '../schema/catalog.js';
import type { SchemaModel } from '../schema/model.js';
import type { MigrationFile } from '../core/types.js';
import { applyAndRead, applyEachAndRead, prepareScratchSession, type ReplayHooks, type ReplayTarget } from './manifestBuilder.js';
import { SchemaCatalogError } from '../core/errors.js';

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

/** Thrown by a check inside a batch to stop it there (applyEachAndRead): its step is already recorded. */
class StopReplay extends Error {}

/** The steps of the replay, and the schema before any migration and after each first up (for the manifest check). */
export async function replayVerify(
  target: VerifyTarget,
  files: readonly MigrationFile[],
  read: ReadSchemaModelOptions,
): Promise<{ steps: VerifyStep[]; models: SchemaModel[] }> {
  await prepareScratchSession(target.db);
  const reader = new IncrementalSchemaReader(target.db, read);
  const steps: VerifyStep[] = [];
  const models: SchemaModel[] = [await reader.read()];
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
            take: (rows) => hooks.onBegin.take(rows),
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
      const differences = fingerprintSchema(model) === fingerprintSchema(models[i]!) ? [] : diffSchemas(models[i]!, model).map(describeDifference);
      const step = { phase: 'down' as const, migration: files[i]!.name, ok: differences.length === 0 };
      if (differences.length === 0) return () => steps.push(step);
      steps.push({ ...step, problem: 'down does not restore the schema before up', differences });
      // A down that leaves objects behind would make the next ones fail for the wrong reason.
      throw new StopReplay();
    });

  if (files.length === 0) return { steps, models };
  const upped = await attemptEach('up', files, 'up', (index, model) => () => {
    models.push(model);
    steps.push({ phase: 'up', migration: files[index]!.name, ok: true });
  });
  if (!upped) return { steps, models };
  if (!(await downAll(true))) return { steps, models };

  // Up again in one batch; the first up's schema at the end means each one matched.
  const again = await attempt('up again', files, 'up', files.at(-1)!.name);
  if (again === null) return { steps, models };
  if (fingerprintSchema(again) === fingerprintSchema(models[files.length]!)) {
    for (const file of files) steps.push({ phase: 'up again', migration: file.name, ok: true });
    return { steps, models };
  }
  // Some up after its down gives another schema: down again (each down was checked above; from the second
  // up's schema they need not restore the first up's), then up one by one to name it.
  if (!(await downAll(false))) return { steps, models };
  await attemptEach('up again', files, 'up', (i, model) => {
    const same = fingerprintSchema(model) === fingerprintSchema(models[i + 1]!);
    const step: VerifyStep = {
      phase: 'up again',
      migration: files[i]!.name,
      ok: same,
      ...(!same && { problem: 'up after down gives another schema than the first up', differences: diffSchemas(models[i + 1]!, model).map(describeDifference) }),
    };
    return () => steps.push(step);
  });
  return { steps, models };
}

/** What a committed manifest that records every file says of them: the base's fingerprint and each revision's, in file order. */
export interface RecordedFingerprints {
  readonly base: string;
  readonly revisions: readonly string[];
}

/**
 * up, down, up against the fingerprints the committed manifest records: the
 * first up as one batch, whose schema must have the last revision's recorded
 * fingerprint; every down, each read, must give the recorded fingerprint of
 * the revision before it (the base's, for the first); the second up as one
 * batch, which must give the last one's again. Every recorded fingerprint is
 * so the fingerprint of a schema this replay reached, which is what the
 * manifest check of a full replay asks. Null at the first difference or
 * failure: the caller replays again in a new scratch database, reading every
 * schema (replayVerify), which names the step and what differs. A down that
 * is wrong and a manifest that is wrong in the very same way would pass: the
 * manifest comes from a replay of these files (their checksums), so that
 * takes a manifest edited by hand or a migration that builds another schema
 * from one replay to the next.
 */
export async function replayVerifyRecorded(
  target: VerifyTarget,
  files: readonly MigrationFile[],
  read: ReadSchemaModelOptions,
  recorded: RecordedFingerprints,
): Promise<VerifyStep[] | null> {
  if (recorded.revisions.length !== files.length) throw new Error('the recorded fingerprints are not those of the files');
  await prepareScratchSession(target.db);
  const reader = new IncrementalSchemaReader(target.db, read);
  if (fingerprintSchema(await reader.read()) !== recorded.base) return null;
  if (files.length === 0) return [];
  const head = recorded.revisions.at(-1)!;
  const before = (i: number) => (i === 0 ? recorded.base : recorded.revisions[i - 1]!);
  const steps: VerifyStep[] = [];
  /** Runs a phase; false where it failed or differed (a read that fails is the replay's failure, not the phase's). */
  const attempt = async (phase: () => Promise<boolean>): Promise<boolean> => {
    try {
      return await phase();
    } catch (error) {
      if (error instanceof SchemaCatalogError) throw error;
      return false;
    }
  };
  const upAll = async () => fingerprintSchema(await applyAndRead((batch, hooks) => target.apply('up', batch, hooks), reader, files)) === head;
  if (!(await attempt(upAll))) return null;
  for (const file of files) steps.push({ phase: 'up', migration: file.name, ok: true });
  const downs = [...files].reverse();
  const downAll = async () => {
    await applyEachAndRead((batch, hooks) => target.apply('down', batch, hooks), reader, downs, (k, model) => {
      const i = files.length - 1 - k;
      if (fingerprintSchema(model) !== before(i)) throw new StopReplay();
      steps.push({ phase: 'down', migration: files[i]!.name, ok: true });
    });
    return true;
  };
  if (!(await attempt(downAll))) return null;
  if (!(await attempt(upAll))) return null;
  for (const file of files) steps.push({ phase: 'up again', migration: file.name, ok: true });
  return steps;
}
