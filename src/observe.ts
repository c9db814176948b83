/**
 * The read-only half of the runner: settings → files → facts → detection.
 * `status`, `check`, the example backend's /readyz and the first step of
 * `runMigrations` all go through here; nothing in it writes to the database.
 */
import { connect, serverMajorOf, withClient, type Client } from './db/connection.js';
import { readDatabaseFacts } from './db/facts.js';
import { createSilentLogger, type Logger } from './config/logger.js';
import { listMigrationFiles, readListedFiles, readMigrationFiles } from './files/migrationFiles.js';
import { requireConnection, resolveSettings, type Settings, type SettingsInput } from './config/settings.js';
import { detectState, type DetectOptions } from './core/stateDetector.js';
import { nextRead, type LookSoFar, type ManifestChoice, type Reconcile } from './core/nextRead.js';
import { askProbes } from './db/probes.js';
import type { DatabaseFacts, Detection, MigrationFile } from './core/types.js';
import { comparesWithLive, describedRevisions, findNearestRevision, findStaleness, leadingRevisionsOf, modelAt, readManifest, toFingerprintManifest, type Manifest } from './fingerprints/manifest.js';
import { readModel } from './fingerprints/liveSchema.js';
import type { SchemaModel } from './schema/model.js';
import { describeDifference, diffSchemas } from './schema/diff.js';
import { fingerprintSchema } from './schema/fingerprint.js';

export interface RunnerOptions extends SettingsInput {
  /** Environment to read settings from. Default: process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Folder that relative paths and migrate.config.json are resolved from. Default: process.cwd(). */
  readonly cwd?: string;
  readonly logger?: Logger;
}

/** Everything one detection needs, gathered from disk and one connection. */
export interface Observation {
  readonly files: readonly MigrationFile[];
  readonly facts: DatabaseFacts;
  readonly detection: Detection;
  /** The fingerprint manifest used (committed, or computed in a scratch database), or null. */
  readonly manifest: Manifest | null;
  /** Why the committed manifest is stale against the files, or null. */
  readonly manifestStaleness: string | null;
  /** A legacy database needs fingerprints from a replay that `reconcile: 'manifest'` did not allow. */
  readonly replayNeeded: boolean;
}

export function settingsOf(options: RunnerOptions): Settings {
  return resolveSettings(options, options.env ?? process.env, options.cwd ?? process.cwd());
}

export function detectOptionsOf(settings: Settings, extra: Partial<DetectOptions> = {}): DetectOptions {
  return {
    baseline: settings.baseline,
    allowModified: settings.allowModified,
    refuseOnDrift: settings.refuseOnDrift,
    outOfOrder: settings.outOfOrder,
    ambiguousLegacy: settings.ambiguousLegacy,
    ...extra,
  };
}

/**
 * Fingerprints for a legacy database without a usable manifest, from a
 * replay of the migrations somewhere else than the target (README "The
 * scratch server"): the manifest, or why there is none. The recipes pass one
 * in (src/replayFingerprints.ts); this module runs no migration itself.
 */
export type ReplayFingerprints = (request: {
  readonly files: readonly MigrationFile[];
  /** Why the committed manifest is stale, or null when there is none. */
  readonly staleness: string | null;
  /** The target's major, for an embedded scratch server to match. */
  readonly targetMajor?: number;
}) => Promise<{ readonly manifest: Manifest; readonly whyNoFingerprints?: undefined } | { readonly manifest: null; readonly whyNoFingerprints: string }>;

export interface ObserveOptions {
  readonly client: Client;
  readonly settings: Settings;
  /**
   * The migration files, read or being read (readWhileConnecting); else read
   * from settings.dir. The history is read while they are.
   */
  readonly files?: readonly MigrationFile[] | Promise<readonly MigrationFile[]>;
  readonly logger?: Logger;
  /**
   * Whether to read the live schema to look for drift when a manifest exists
   * (default true). Reading a large schema costs far more than the rest of a
   * look, so `auto` passes false unless it would refuse on drift.
   * With false, the manifest is read only to reconcile a legacy database, and
   * its staleness is not reported.
   */
  readonly checkDrift?: boolean;
  /**
   * How far to go to find the revision a legacy database matches
   * (src/core/nextRead.ts `Reconcile`); default `replay` when a `replay` is
   * given, else `manifest`. Under the migration lock a replay, or a read of a
   * large schema, keeps every other runner waiting for it.
   */
  readonly reconcile?: Reconcile;
  /** Computes fingerprints by a replay; needed for `reconcile: 'replay'`. */
  readonly replay?: ReplayFingerprints;
  /** A manifest computed by an earlier observation of this run, to reuse instead of replaying again. */
  readonly computed?: Manifest | null;
  /** Read when, how long and by whom each migration ran (the `history` command); default false. */
  readonly historyDetails?: boolean;
  /** Read the invalid indexes a failed concurrent build left (default true; runMigrations's looks pass false). */
  readonly invalidIndexes?: boolean;
  /**
   * Whether JS/TS migration probes may run (they are the file's code): only
   * `auto` acts on the revision a legacy database matches. Default false:
   * read-only commands ask SQL probes only (src/db/probes.ts).
   */
  readonly probeCode?: boolean;
}

/** What a caller chooses about a look, beside the connection, settings and files it looks with. */
export type LookChoices = Omit<ObserveOptions, 'client' | 'settings' | 'files' | 'logger' | 'replay' | 'computed'>;

/**
 * Reads the files and the database facts and detects the state, then reads
 * what src/core/nextRead.ts says the answer needs, detecting again after
 * each read: the live schema only to reconcile a legacy database, or to
 * check drift when a manifest exists.
 */
export async function observe(options: ObserveOptions): Promise<Observation> {
  const { client, settings, replay, checkDrift = true, historyDetails = false, invalidIndexes = true, probeCode = false } = options;
  const logger = options.logger ?? createSilentLogger();
  const reconcile = options.reconcile ?? (replay ? 'replay' : 'manifest');
  if (reconcile === 'replay' && !replay) throw new TypeError("observe: reconcile 'replay' needs a replay");
  // A look that checks drift reads the committed manifest first, whatever the facts say (src/core/nextRead.ts):
  // it is read, and parsed, while the server answers the facts' queries.
  const manifestRead = checkDrift ? readManifest(settings.dir) : null;
  manifestRead?.catch(() => undefined);
  const [files, facts] = await bothOrFirstError(
    options.files ?? readMigrationFiles(settings.dir),
    readDatabaseFacts(client, settings, { details: historyDetails, invalidIndexes }),
  );
  const detectOptions = detectOptionsOf(settings);
  const first = detectState(facts, files, detectOptions);

  let committed: Manifest | null = null;
  let computed = options.computed ?? null;
  let manifestStaleness: string | null = null;
  /** The manifest reported: the one the detection was made against, else the committed one read. */
  let manifest: Manifest | null = null;
  let live: { model: SchemaModel; facts: DatabaseFacts } | null = null;
  let look: LookSoFar = {
    detection: first,
    facts,
    baseline: Boolean(detectOptions.baseline),
    checkDrift,
    reconcile,
    committed: 'unread',
    computed: computed !== null,
    replayFailed: false,
    liveSchemaRead: false,
  };
  /** How many of the committed manifest's first revisions still describe the files (describedRevisions). */
  let leading = 0;
  /** Why the replay gave no fingerprints, where it was tried and failed. */
  let noReplay: string | null = null;
  /** Where the detection is made against a stale manifest's leading revisions: why they stop there (FingerprintManifest.partly). */
  let partly: string | undefined;
  const against = (choice: ManifestChoice): Manifest =>
    choice === 'committed' ? committed! : choice === 'computed' ? computed! : leadingRevisionsOf(committed!, leading);
  const detectLive = (known: DatabaseFacts, used: Manifest, model: SchemaModel) => detectState(known, files, {
    ...detectOptions,
    manifest: toFingerprintManifest(used, partly),
    explainDifference: (revision) => {
      const recorded = modelAt(used, revision);
      return recorded ? diffSchemas(recorded, model).map(describeDifference) : [];
    },
    nearestRevision: () => findNearestRevision(used, model),
  });

  for (;;) {
    const next = nextRead(look);
    switch (next.read) {
      case 'manifest': {
        committed = await (manifestRead ?? readManifest(settings.dir));
        manifestStaleness = committed ? findStaleness(committed, files, settings.schema, settings.fingerprintPrivileges) : null;
        leading = committed && manifestStaleness !== null ? describedRevisions(committed, files, { schema: settings.schema, privileges: settings.fingerprintPrivileges }) : 0;
        manifest = committed;
        look = {
          ...look,
          // One written for another schema, or with privileges where they are off now, compares with nothing here.
          committed: committed
            ? {
                stale: manifestStaleness !== null,
                currentFormat: comparesWithLive(committed, { schema: settings.schema, privileges: settings.fingerprintPrivileges }),
                ...(leading > 0 && { leading: true }),
              }
            : 'absent',
        };
        break;
      }
      case 'replay': {
        const replayed = await replay!({ files, staleness: manifestStaleness, targetMajor: serverMajorOf(client) });
        if (replayed.manifest) {
          computed = replayed.manifest;
          look = { ...look, computed: true };
        } else {
          manifest = null;
          noReplay = replayed.whyNoFingerprints;
          const detection = detectState(facts, files, { ...detectOptions, whyNoFingerprints: replayed.whyNoFingerprints });
          look = { ...look, detection, replayFailed: true };
        }
        break;
      }
      case 'live-schema': {
        manifest = against(next.against);
        // Leading revisions that cover every file (the manifest is stale only by files gone since) stop nowhere.
        if (next.against === 'leading' && leading < files.length) {
          const through = manifest.revisions.at(-1)!.name;
          partly = `the committed manifest is stale (${manifestStaleness}): it records the revisions through ${through} as the files are now${noReplay ? `; for the rest, ${noReplay}` : ''}`;
        }
        const model = await readModel(client, settings);
        live = { model, facts: { ...facts, liveFingerprint: fingerprintSchema(model) } };
        look = { ...look, facts: live.facts, detection: detectLive(live.facts, manifest, model), liveSchemaRead: true };
        break;
      }
      case 'probes': {
        const probes = await askProbes(client, files, next.names, { schema: settings.schema, runCode: probeCode, logger });
        const known = { ...live!.facts, probes };
        look = { ...look, facts: known, detection: detectLive(known, manifest!, live!.model) };
        break;
      }
      case 'nothing': {
        const result = { files, facts, manifestStaleness, replayNeeded: false };
        if ('replayNeeded' in next) return { ...result, detection: look.detection, manifest: null, replayNeeded: true };
        if ('detectAgainst' in next) {
          const used = against(next.detectAgainst);
          return { ...result, detection: detectState(facts, files, { ...detectOptions, manifest: toFingerprintManifest(used) }), manifest: used };
        }
        return { ...result, detection: look.detection, manifest };
      }
    }
  }
}

/**
 * Both values; when both fail, the first one's error, whichever failed first
 * in time: a folder's problem is reported before the database's, as when
 * the files were read before connecting. The first one's failure is thrown
 * at once, without waiting for the second (a history read held up by a lock).
 */
export async function bothOrFirstError<A, B>(first: A | Promise<A>, second: Promise<B>): Promise<[A, B]> {
  // Awaited below unless the first fails; then the caller's connection closes under it.
  second.catch(() => undefined);
  const a = await first;
  return [a, await second];
}

/**
 * Lists the migration files (a refusal about the folder comes before any
 * connection), then connects while they are read: the reading yields to the
 * event loop (src/files/migrationFiles.ts), so the connection is made, and
 * observe's history read goes out, while the files are still being read;
 * on a long history that is most of a no-op start (README "Performance",
 * the 10,000-file no-op start). `work` gets the files as they are being
 * read, for observe. A file that cannot be read is reported, at once, rather
 * than the connection or the wait for it.
 */
export async function readWhileConnecting<T>(
  settings: Settings,
  logger: Logger,
  work: (client: Client, files: Promise<readonly MigrationFile[]>) => Promise<T>,
): Promise<T> {
  const reading = readListedFiles(await listMigrationFiles(settings.dir));
  // A file that cannot be read ends the wait for the server at once, as when the files were read first.
  const unreadable = new AbortController();
  reading.catch((error: unknown) => unreadable.abort(error));
  const open = async () => {
    try {
      return await connectFor(settings, logger, settings.waitTimeoutSeconds, unreadable.signal);
    } catch (error) {
      await reading;
      throw error;
    }
  };
  return withClient(open, (client) => work(client, reading));
}

export async function connectFor(settings: Settings, logger: Logger, waitTimeoutSeconds = settings.waitTimeoutSeconds, signal?: AbortSignal): Promise<Client> {
  const target = requireConnection(settings);
  return connect(target, {
    waitTimeoutSeconds,
    ...(signal && { signal }),
    // Reading is quick; a caller that goes on to wait for the lock calls prepareToWrite first.
    idlesLong: false,
    onRetry: (attempt, reason) => logger.info(`waiting for the database at ${target.display}`, { attempt, reason }),
  });
}
