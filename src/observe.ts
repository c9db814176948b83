/**
 * The read-only half of the runner: settings → files → facts → detection.
 * `status`, `check`, the example backend's /readyz and the first step of
 * `runMigrations` all go through here; nothing in it writes to the database.
 */
import { connect, serverMajorOf, withClient, type Client } from './db/connection.js';
import { readDatabaseFacts } from './db/facts.js';
import { createSilentLogger, type Logger } from './config/logger.js';
import { readMigrationFiles } from './files/migrationFiles.js';
import { requireConnection, resolveSettings, type Settings, type SettingsInput } from './config/settings.js';
import { detectState, probesWanted, type DetectOptions } from './core/stateDetector.js';
import { askProbes } from './db/probes.js';
import type { DatabaseFacts, Detection, MigrationFile } from './core/types.js';
import { findNearestRevision, findStaleness, isCurrentManifest, modelAt, readManifest, toFingerprintManifest, type Manifest } from './fingerprints/manifest.js';
import { computeManifest, readModel, ReplayFailedError, ScratchDatabaseError, ScratchUnavailableError } from './fingerprints/replay.js';
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

export interface ObserveOptions extends Partial<DetectOptions> {
  /**
   * Whether to read the live schema to look for drift when a manifest exists
   * (default true). Reading a large schema costs far more than the rest of a
   * look, so `auto` passes false unless it would refuse on drift (issue 6).
   * With false, the manifest is read only to reconcile a legacy database, and
   * its staleness is not reported.
   */
  readonly checkDrift?: boolean;
  /**
   * How far to go to find the revision a legacy database matches (default
   * `replay`): `replay` computes fingerprints in a scratch database when no
   * usable manifest is at hand; `manifest` only uses one at hand and reports
   * `replayNeeded` otherwise; `none` does not look for the match (the
   * detection then says the live fingerprint was not computed). Under the
   * migration lock a replay, or a read of a large schema, keeps every other
   * runner waiting for it (issue 6; the racing reliability rounds).
   */
  readonly reconcile?: 'replay' | 'manifest' | 'none';
  /** Read when, how long and by whom each migration ran (the `history` command); default false. */
  readonly historyDetails?: boolean;
  /** Read the invalid indexes a failed concurrent build left (default true; runMigrations's looks pass false). */
  readonly invalidIndexes?: boolean;
  /** Stops a replay this look makes (SIGINT/SIGTERM in the CLI): its scratch database goes. */
  readonly signal?: AbortSignal;
  /**
   * Whether JS/TS migration probes may run (they are the file's code): only
   * `auto` acts on the revision a legacy database matches. Default false:
   * read-only commands ask SQL probes only (src/db/probes.ts).
   */
  readonly probeCode?: boolean;
}

/**
 * Reads the files and the database facts and detects the state. The live
 * schema is read only when the answer needs it: to reconcile a legacy
 * database, or to check drift when a manifest exists (issue 4).
 */
export async function observe(
  client: Client,
  settings: Settings,
  files?: readonly MigrationFile[],
  { checkDrift = true, reconcile = 'replay', historyDetails = false, invalidIndexes = true, probeCode = false, signal, ...extra }: ObserveOptions = {},
  logger: Logger = createSilentLogger(),
  /** A manifest computed by an earlier observation of this run, to reuse instead of replaying again. */
  computed: Manifest | null = null,
): Promise<Observation> {
  const migrationFiles = files ?? (await readMigrationFiles(settings.dir));
  const facts = await readDatabaseFacts(client, settings, { details: historyDetails, invalidIndexes });
  const options = detectOptionsOf(settings, extra);
  const first = detectState(facts, migrationFiles, options);
  const reconciling = first.state === 'legacy' && !options.baseline;
  // Not even read when nothing here needs it: a large schema's manifest is hundreds of kilobytes (issue 6).
  const committed = reconciling || checkDrift ? await readManifest(settings.dir) : null;
  const manifestStaleness = committed ? findStaleness(committed, migrationFiles, settings.schema, settings.fingerprintPrivileges) : null;
  const unmatched = { files: migrationFiles, facts, detection: first, manifestStaleness, replayNeeded: false };

  // A manifest of an older format has fingerprints of another model: its staleness is reported, nothing is compared.
  const checkingDrift = checkDrift && committed !== null && isCurrentManifest(committed) && (first.state === 'current' || first.state === 'behind');
  if (!reconciling && !checkingDrift) return { ...unmatched, manifest: committed };

  let manifest = committed;
  let whyNoFingerprints: string | undefined;
  if (reconciling && reconcile === 'none') {
    // Say that the match was not looked for, rather than that nothing was recorded.
    const known = committed && !manifestStaleness ? committed : computed;
    if (!known) return { ...unmatched, manifest: committed };
    const detection = detectState(facts, migrationFiles, { ...options, manifest: toFingerprintManifest(known) });
    return { ...unmatched, detection, manifest: known };
  }
  if (reconciling && (!manifest || manifestStaleness)) {
    manifest = computed;
    if (!manifest && reconcile === 'manifest') return { ...unmatched, manifest: null, replayNeeded: true };
    if (!manifest) ({ manifest, whyNoFingerprints } = await replayForFingerprints(settings, migrationFiles, logger, manifestStaleness, serverMajorOf(client), signal));
  }
  if (!manifest) {
    if (!whyNoFingerprints) return { ...unmatched, manifest: null };
    return { ...unmatched, detection: detectState(facts, migrationFiles, { ...options, whyNoFingerprints }), manifest: null };
  }
  const live = await readModel(client, settings);
  const liveFacts = { ...facts, liveFingerprint: fingerprintSchema(live) };
  const detectLive = (known: DatabaseFacts) => detectState(known, migrationFiles, {
    ...options,
    manifest: toFingerprintManifest(manifest),
    explainDifference: (revision) => {
      const recorded = modelAt(manifest, revision);
      return recorded ? diffSchemas(recorded, live).map(describeDifference) : [];
    },
    nearestRevision: () => findNearestRevision(manifest, live),
  });
  let detection = detectLive(liveFacts);
  // A match the schema cannot settle: the migrations' probes are asked, and their answers are facts.
  const wanted = probesWanted(detection, liveFacts);
  if (wanted.length) {
    const probes = await askProbes(client, migrationFiles, wanted, { schema: settings.schema, runCode: probeCode, logger });
    detection = detectLive({ ...liveFacts, probes });
  }
  return { ...unmatched, detection, manifest };
}

/**
 * Without a usable manifest, fingerprints come from replaying the migrations
 * in a scratch database on the scratch server (README "The scratch server"),
 * never on the target's server unless `scratch: target` chooses it; else none
 * (the detector then reports missing-fingerprints and how to fix it).
 */
export async function computeManifestIfAllowed(
  settings: Settings,
  files: readonly MigrationFile[],
  logger: Logger,
  staleness: string | null,
  targetMajor?: number,
  signal?: AbortSignal,
): Promise<Manifest | null> {
  return (await replayForFingerprints(settings, files, logger, staleness, targetMajor, signal)).manifest;
}

/** The manifest a replay computed, or why there is none (no scratch server, a migration failed in the replay). */
async function replayForFingerprints(
  settings: Settings,
  files: readonly MigrationFile[],
  logger: Logger,
  staleness: string | null,
  targetMajor?: number,
  signal?: AbortSignal,
): Promise<{ manifest: Manifest | null; whyNoFingerprints?: string }> {
  logger.info(
    staleness
      ? `the fingerprint manifest is stale (${staleness}): computing fingerprints in a scratch database`
      : 'no fingerprint manifest: computing fingerprints by replaying the migrations in a scratch database',
  );
  try {
    return { manifest: await computeManifest({ settings, logger, ...(targetMajor !== undefined && { targetMajor }), ...(signal && { signal }) }, files) };
  } catch (error) {
    if (!(error instanceof ScratchDatabaseError || error instanceof ScratchUnavailableError || error instanceof ReplayFailedError)) throw error;
    logger.warn(`${error.message}${error.hint ? ` (${error.hint})` : ''}`);
    return { manifest: null, whyNoFingerprints: `none could be computed (${error.message})` };
  }
}

export async function connectFor(settings: Settings, logger: Logger, waitTimeoutSeconds = settings.waitTimeoutSeconds): Promise<Client> {
  const target = requireConnection(settings);
  return connect(target, {
    waitTimeoutSeconds,
    // Reading is quick; a caller that goes on to wait for the lock calls prepareToWrite first.
    idlesLong: false,
    onRetry: (attempt, reason) => logger.info(`waiting for the database at ${target.display}`, { attempt, reason }),
  });
}

export interface InspectOptions extends RunnerOptions {
  /**
   * Read the live schema to report drift when a manifest exists (default
   * true). A readiness probe that runs every few seconds may pass false: the
   * schema read is most of the cost on a large schema.
   */
  readonly checkDrift?: boolean;
}

/**
 * The database's state relative to the migration files, changing nothing.
 * Settings resolve as for the CLI (DATABASE_URL, DB_*, …, migrate.config.json).
 */
export async function inspectDatabase(options: InspectOptions = {}): Promise<Detection> {
  const settings = settingsOf(options);
  const files = await readMigrationFiles(settings.dir);
  return withClient(
    () => connectFor(settings, options.logger ?? createSilentLogger()),
    async (client) => (await observe(client, settings, files, { checkDrift: options.checkDrift ?? true }, options.logger)).detection,
  );
}
