/**
 * Builds the fingerprint manifest from a replay in a scratch database, at
 * the cost of what the history adds rather than of its length squared:
 * - each revision's schema is read incrementally (IncrementalSchemaReader:
 *   only the objects the migration changed are read again);
 * - when an earlier manifest already records the first K revisions with the
 *   files unchanged (names, order, checksums, same model format and
 *   settings), those K migrations are applied in one batch, as `migrate auto`
 *   would, and their entries are kept; only revisions from K on are
 *   fingerprinted. The kept entries are trusted only after the replay
 *   confirms them: the schema after revision K must have the recorded
 *   fingerprint (and so must the empty schema before the first), else the
 *   caller replays again without them. So the manifest is the one a full
 *   replay writes, whatever the earlier one says.
 */
import { IncrementalSchemaReader } from '../schema/incrementalCatalog.js';
import { fingerprintSchema } from '../schema/fingerprint.js';
import type { ReadSchemaModelOptions } from '../schema/catalog.js';
import { topLevelObjectsOf, type SchemaModel } from '../schema/model.js';
import type { MigrationFile } from '../core/types.js';
import type { BatchOptions } from '../db/execute.js';
import { assembleManifest, buildRevision, describedRevisions, leadingRevisionsOf, recordedSchemas, type Manifest, type ManifestOptions, type ManifestRevision } from './manifest.js';

/** What a replay needs from its caller: a connection to the scratch database, and a way to apply migrations in it. */
export interface ReplayTarget {
  readonly db: ConstructorParameters<typeof IncrementalSchemaReader>[0];
  /** Applies `files` (in order, as one batch) to the scratch database, with `hooks` (ReplayHooks). */
  apply(files: readonly MigrationFile[], hooks: ReplayHooks): Promise<unknown>;
}

/**
 * What a replay does inside each batch (BatchOptions): `beforeCommit` reads
 * the schema inside each of its transactions right before it commits, which
 * saves the round trips of a transaction of its own; `onBegin` goes with each
 * BEGIN: the reader's baseline, by which it reads only the catalogs the
 * transaction changed, and `onEnd` with the last migration's SQL: the
 * counts to compare it with; `whileRunning`, where given, is the replay's own work
 * to do while the server runs the migration; `commitEach` and `onMigration`
 * where each migration's schema is read (applyEachAndRead).
 */
export type ReplayHooks = Required<Pick<BatchOptions, 'beforeCommit' | 'onBegin' | 'onEnd'>> & Pick<BatchOptions, 'whileRunning' | 'commitEach' | 'onMigration'>;

/**
 * What the reader sends with each BEGIN and after each transaction's
 * migrations, and takes back: its baseline and the counts it compares with
 * it (IncrementalSchemaReader.baselineSql, endingSql).
 */
function countHooksOf(reader: IncrementalSchemaReader): Pick<ReplayHooks, 'onBegin' | 'onEnd'> {
  return {
    onBegin: { sql: () => reader.baselineSql(), take: (value) => reader.takeBaseline(value) },
    onEnd: { sql: () => reader.endingSql(), take: (value) => reader.takeEnding(value) },
  };
}

/**
 * Applies `files` and reads the schema they leave, inside the transaction
 * that commits them (the last one, where the batch has several). `meanwhile`
 * runs once: while the server runs the migrations' SQL, or else after; what
 * it throws is thrown after the batch, not as the migration's failure.
 */
export async function applyAndRead(
  apply: ReplayTarget['apply'],
  reader: IncrementalSchemaReader,
  files: readonly MigrationFile[],
  meanwhile?: () => void,
  /**
   * Sees the schema the batch leaves, before the COMMIT of the transaction of
   * its last migration: what it throws rolls that transaction back and is thrown.
   */
  check?: (model: SchemaModel) => void,
): Promise<SchemaModel> {
  let last = -1;
  let model: SchemaModel | null = null;
  let ran = meanwhile === undefined;
  let failure: { error: unknown } | null = null;
  const runMeanwhile = () => {
    if (ran) return;
    ran = true;
    try {
      meanwhile!();
    } catch (error) {
      failure = { error };
    }
  };
  await apply(files, {
    beforeCommit: async () => {
      model = await reader.read('ending');
      // A batch of several transactions (a migration that runs alone, an enum value) commits before its end too.
      if (last === files.length - 1) check?.(model);
    },
    onMigration: (_run, index) => {
      last = index;
    },
    ...countHooksOf(reader),
    whileRunning: runMeanwhile,
  });
  runMeanwhile();
  if (failure !== null) throw (failure as { error: unknown }).error;
  return model ?? (await reader.read());
}

/**
 * Applies `files` as one batch in which each migration commits on its own
 * (BatchOptions.commitEach: one round trip carries each COMMIT and the next
 * BEGIN), reading the schema each one leaves inside its transaction, before
 * its COMMIT; `each(index, model)` takes them in order, as they are read, and
 * what it throws stops the batch (the transaction it was read in rolls back).
 * `meanwhile` is called while the server runs each migration's SQL (it must
 * not throw).
 */
export async function applyEachAndRead(
  apply: ReplayTarget['apply'],
  reader: IncrementalSchemaReader,
  files: readonly MigrationFile[],
  each: (index: number, model: SchemaModel) => void,
  meanwhile?: () => void,
): Promise<void> {
  let ran = -1;
  let read = -1;
  await apply(files, {
    commitEach: true,
    onMigration: (_run, index) => {
      ran = index;
    },
    // A migration that runs outside a transaction is read in the transaction that records it; the empty
    // one committed before it is read too, and gives the schema of the one before, already taken.
    beforeCommit: async () => {
      const model = await reader.read('ending');
      if (ran > read) {
        read = ran;
        each(ran, model);
      }
    },
    ...countHooksOf(reader),
    ...(meanwhile && { whileRunning: meanwhile }),
  });
  if (read !== files.length - 1) throw new Error(`the replay read the schema of ${read + 1} of ${files.length} migrations`);
}

/**
 * A replay commits once per migration in a database that is thrown away:
 * waiting for each commit to reach the disk (synchronous_commit) was a third
 * of a replay of one table per migration. Only this session's commits.
 */
export async function prepareScratchSession(db: ReplayTarget['db']): Promise<void> {
  await db.query(`SELECT pg_catalog.set_config('synchronous_commit', 'off', false)`);
}

/**
 * Replays `files` and returns their manifest, keeping what `previous`
 * records for unchanged leading files. Null when a kept entry turned out
 * not to match the replay: the caller then replays again in a new scratch
 * database with `previous` null.
 */
export async function replayManifest(
  target: ReplayTarget,
  files: readonly MigrationFile[],
  read: ReadSchemaModelOptions,
  options: ManifestOptions,
  previous: Manifest | null,
): Promise<Manifest | null> {
  await prepareScratchSession(target.db);
  const reader = new IncrementalSchemaReader(target.db, read);
  const base = await reader.read();
  let kept = previous === null ? 0 : describedRevisions(previous, files, options);
  if (kept > 0 && fingerprintSchema(base) !== previous!.base.fingerprint) kept = 0;
  // Only the last kept entry is confirmed by the replay: the ones before must add up to what they record
  // (a fingerprint edited by hand does not), else `snapshot`, which a stale manifest's advice names, keeps it.
  if (kept > 0 && recordedSchemas(leadingRevisionsOf(previous!, kept)) === null) kept = 0;

  const revisions: ManifestRevision[] = [];
  let before: SchemaModel = base;
  const apply = target.apply.bind(target);
  if (kept > 0) {
    before = await applyAndRead(apply, reader, files.slice(0, kept));
    if (fingerprintSchema(before) !== previous!.revisions[kept - 1]!.fingerprint) return null;
    revisions.push(...previous!.revisions.slice(0, kept));
  }
  // Each revision's entry is built while the server runs the next migration (applyEachAndRead's
  // `meanwhile`): the runner's share of a replay, on the other core.
  let objectsBefore = topLevelObjectsOf(before);
  const entries: (() => void)[] = [];
  let failure: { error: unknown } | null = null;
  const buildEntries = () => {
    while (entries.length > 0 && failure === null) {
      try {
        entries.shift()!();
      } catch (error) {
        failure = { error };
      }
    }
  };
  const rest = files.slice(kept);
  if (rest.length > 0) {
    await applyEachAndRead(
      apply,
      reader,
      rest,
      (index, after) => {
        const previousModel = before;
        before = after;
        entries.push(() => {
          const objectsAfter = topLevelObjectsOf(after);
          revisions.push(buildRevision(rest[index]!, previousModel, after, objectsBefore, objectsAfter));
          objectsBefore = objectsAfter;
        });
      },
      buildEntries,
    );
  }
  buildEntries();
  if (failure !== null) throw (failure as { error: unknown }).error;
  return assembleManifest(options, base, revisions);
}
