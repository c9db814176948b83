/**
 * Replaying the migrations in a scratch database, created (and always
 * dropped) on the scratch server (scratchServer.ts), never next to the real
 * database unless `scratch: target` chooses it: the source of the
 * fingerprint manifest (`snapshot`), of fingerprints computed on the fly for
 * a legacy database without one, and of `verify` (up, down, up: every down
 * restores the previous schema).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { closeQuietly, connect, serverMajorOf, withClient, type Client } from '../db/connection.js';
import { InterruptedError, ReplayFailedError, RunnerError, ScratchDatabaseError, describeCause, EXIT } from '../core/errors.js';
import { executeBatch } from '../db/execute.js';
import { runnerTablesIn } from '../db/facts.js';
import { createSilentLogger, type Logger } from '../config/logger.js';
import { readSchemaModel } from '../schema/catalog.js';
import { fingerprintSchema } from '../schema/fingerprint.js';
import type { SchemaModel } from '../schema/model.js';
import type { Settings } from '../config/settings.js';
import type { MigrationFile } from '../core/types.js';
import { describedRevisions, findStaleness, readManifest, recordedSchemas, type Manifest } from './manifest.js';
import { replayManifest, type ReplayHooks } from './manifestBuilder.js';
import { replayVerify, type RecordedSchemas, type VerifyStep, type VerifyTarget } from './verifyReplay.js';
import { openScratchServer, type ScratchRequest } from './scratchServer.js';

export { readModel, readOptionsOf } from './liveSchema.js';
import { readOptionsOf } from './liveSchema.js';

export interface ReplayContext extends ScratchRequest {
  readonly settings: Settings;
  readonly logger: Logger;
  /**
   * Stops the replay (the CLI aborts it on SIGINT/SIGTERM): the scratch
   * database and cluster are removed and the replay rejects with the
   * signal's reason. Without one, the process's own SIGINT/SIGTERM do the same.
   */
  readonly signal?: AbortSignal;
}

/** Scratch databases are named so, with their creation time, so that the next replay can tell a killed run's. */
const SCRATCH_NAME = /^migrate_scratch_(\d+)_[0-9a-f]+$/;
/** Older than this and not in use: left by a killed run. A live replay holds its connection from create to drop. */
const STALE_SCRATCH_SECONDS = 60;

export function scratchDatabaseName(now: Date = new Date()): string {
  return `migrate_scratch_${Math.floor(now.getTime() / 1000)}_${randomBytes(4).toString('hex')}`;
}

/** Pure: the scratch databases among `names` that a killed run left (by the time in their name). */
export function staleScratchDatabases(names: readonly string[], now: Date = new Date()): string[] {
  const nowSeconds = Math.floor(now.getTime() / 1000);
  return names.filter((name) => {
    const created = SCRATCH_NAME.exec(name)?.[1];
    return created !== undefined && nowSeconds - Number(created) > STALE_SCRATCH_SECONDS;
  });
}

/**
 * Opens the scratch server, creates a scratch database there, runs `work`
 * connected to it, and drops it on every path, on SIGINT and SIGTERM too.
 * `another` creates one more scratch database on the same server (generate
 * --autogenerate applies the desired schema in one), dropped alike.
 * Stale scratch databases of killed runs are dropped first.
 */
export async function withScratchDatabase<T>(
  context: ReplayContext,
  work: (client: Client, serverMajor: number, another: () => Promise<Client>) => Promise<T>,
): Promise<T> {
  // A stop that came before: its listener would never hear it.
  context.signal?.throwIfAborted();
  const cleanUp = cleanUpOnSignal(context.signal);
  try {
    const server = await openScratchServer(context);
    const closeServer = cleanUp.add(() => server.close());
    try {
      const result = await withClient(() => connect(server.target, { waitTimeoutSeconds: context.settings.waitTimeoutSeconds }), async (admin) => {
        const opened: (() => Promise<void>)[] = [];
        const createDatabase = async (): Promise<Client> => {
          const name = scratchDatabaseName();
          try {
            await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
          } catch (error) {
            throw scratchCreateError(error, server.target.config.user ?? 'this role', server.description);
          }
          const drop = cleanUp.add(() =>
            admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`).catch((error: unknown) => {
              context.logger.warn(`could not drop scratch database ${name}: ${describeCause(error)}`);
            }),
          );
          context.logger.info(`created scratch database ${name} on ${server.description}; it is dropped when done`);
          let scratch: Client;
          try {
            scratch = await connect({ ...server.target, config: { ...server.target.config, database: name } }, { waitTimeoutSeconds: 5 });
          } catch (error) {
            await drop();
            throw error;
          }
          opened.push(async () => {
            await closeQuietly(scratch);
            await drop();
          });
          return scratch;
        };
        try {
          await dropStaleScratchDatabases(admin, context.logger);
          const scratch = await createDatabase();
          const major = serverMajorOf(scratch);
          if (context.targetMajor !== undefined && major !== context.targetMajor) {
            context.logger.warn(
              `the scratch server runs PostgreSQL ${major} and the target ${context.targetMajor}: fingerprints from another major may differ where it deparses expressions differently`,
            );
          }
          return await work(scratch, major, createDatabase);
        } finally {
          for (const close of opened.reverse()) await close();
        }
      });
      // Work that ends well after a stop removed its database (one that takes a failure as an answer, as
      // verify's first replay does) must not let the caller go on to another.
      cleanUp.throwIfStopped();
      return result;
    } finally {
      await closeServer();
    }
  } catch (error) {
    // Removing the scratch database ends the replay's session: what it failed with is the stop.
    if (context.signal?.aborted) throw context.signal.reason;
    throw error;
  } finally {
    cleanUp.stop();
  }
}

function scratchCreateError(error: unknown, user: string, where: string): ScratchDatabaseError {
  const code = (error as { code?: string }).code;
  return new ScratchDatabaseError(
    code === '42501'
      ? `role ${user} may not create databases on ${where}, and fingerprints need a scratch database`
      : `cannot create a scratch database on ${where}: ${describeCause(error)}`,
    'scratch database',
    {
      cause: error,
      hint: code === '42501' ? `grant it CREATEDB (ALTER ROLE ${user} CREATEDB), or run snapshot where it may` : undefined,
    },
  );
}

/**
 * Drops the scratch databases a killed run left. One in use (a replay still
 * running) refuses a DROP without FORCE and is left; so is one another role
 * owns.
 */
async function dropStaleScratchDatabases(admin: Client, logger: Logger): Promise<void> {
  const { rows } = await admin.query<{ datname: string }>(
    `SELECT datname FROM pg_catalog.pg_database WHERE datname LIKE 'migrate\\_scratch\\_%'`,
  );
  for (const name of staleScratchDatabases(rows.map((r) => r.datname))) {
    try {
      await admin.query(`DROP DATABASE ${pg.escapeIdentifier(name)}`);
      logger.info(`dropped scratch database ${name}, left by a run that was killed`);
    } catch (error) {
      logger.debug(`left scratch database ${name}: ${describeCause(error)}`);
    }
  }
}

/**
 * While a scratch database (or cluster) exists, a stop removes it first (the
 * last made first). The stop is `signal`'s abort where the caller gives one
 * (the CLI's SIGINT/SIGTERM: its error then says so, exit 130/143); else the
 * process's SIGINT and SIGTERM, which, where nothing else listens for them,
 * are raised again once the steps are done, so the process ends as the
 * signal would have ended it; where something does (an application's own
 * shutdown), what happens next stays its decision.
 */
function cleanUpOnSignal(signal?: AbortSignal) {
  const steps: (() => Promise<unknown>)[] = [];
  let receivedSignal: 'SIGINT' | 'SIGTERM' | null = null;
  const runSteps = async () => {
    for (const step of [...steps].reverse()) await step().catch(() => undefined);
  };
  const onAbort = () => void runSteps();
  const handler = (received: 'SIGINT' | 'SIGTERM') => {
    receivedSignal = received;
    stop();
    const alone = process.listenerCount(received) === 0;
    void runSteps().finally(() => {
      if (alone) process.kill(process.pid, received);
    });
  };
  const stop = () => {
    signal?.removeEventListener('abort', onAbort);
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
  if (signal) signal.addEventListener('abort', onAbort, { once: true });
  else {
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  }
  return {
    /** Throws the stop, where there was one: the signal's reason, or the process's signal. */
    throwIfStopped(): void {
      signal?.throwIfAborted();
      if (receivedSignal !== null) throw new InterruptedError(receivedSignal);
    },
    /** Adds a step; returns it, run once and taken off the list (a second call waits for the first). */
    add(step: () => Promise<unknown>): () => Promise<void> {
      let running: Promise<void> | undefined;
      const once = () =>
        (running ??= (async () => {
          steps.splice(steps.indexOf(once), 1);
          await step();
        })());
      steps.push(once);
      return once;
    },
    stop,
  };
}

/**
 * How a replay runs its batches. `later`: a batch after the first, which
 * made the history tables as a run does (BatchOptions.history).
 */
export function batchOptions(client: Client, context: ReplayContext, hooks?: ReplayHooks, later = false) {
  return {
    db: client,
    // A batch that commits each migration writes the history only in its first transaction, as the batches after it do not.
    history: later ? ('none' as const) : hooks?.commitEach ? ('first' as const) : ('record' as const),
    ...hooks,
    where: { schema: context.settings.schema, migrationsSchema: context.settings.migrationsSchema, table: context.settings.table },
    // Progress of a replay is noise; failures come back as errors.
    logger: createSilentLogger(),
    ddlLockTimeoutMs: 0,
    ddlLockRetries: 0,
    appliedBy: 'migrate snapshot',
  };
}

/**
 * Applies every migration one by one in a scratch database, reading the
 * schema after each (manifestBuilder.ts: only what each one changed, and
 * only from the first file the committed manifest does not already record).
 */
export async function computeManifest(context: ReplayContext, files: readonly MigrationFile[]): Promise<Manifest> {
  const previous = await readManifest(context.settings.dir).catch(() => null);
  const options = { schema: context.settings.schema, privileges: context.settings.fingerprintPrivileges };
  const replay = (reuse: Manifest | null) =>
    withScratchDatabase(context, (client) => {
      let applied = false;
      const apply = async (batch: readonly MigrationFile[], hooks: ReplayHooks) => {
        try {
          await executeBatch('up', batch, files, batchOptions(client, context, hooks, applied));
          applied = true;
        } catch (error) {
          // Not a failed migration of the target: the replay of one, elsewhere. A bad file stays what it is.
          throw error instanceof RunnerError && error.exitCode !== EXIT.failed ? error : new ReplayFailedError(error);
        }
      };
      return replayManifest({ db: client, apply }, files, readOptionsOf(context.settings), options, reuse);
    });
  return (previous !== null ? await replay(previous) : null) ?? (await replay(null))!;
}

export type { VerifyStep } from './verifyReplay.js';

/**
 * What `manifest` records of `files` (recordedSchemas): null unless it
 * records every one of them, and only them, unchanged.
 */
function recordedSchemasOf(manifest: Manifest, files: readonly MigrationFile[], context: ReplayContext): RecordedSchemas | null {
  const options = { schema: context.settings.schema, privileges: context.settings.fingerprintPrivileges };
  if (manifest.revisions.length !== files.length || describedRevisions(manifest, files, options) !== files.length) return null;
  return recordedSchemas(manifest);
}

export interface VerifyResult {
  readonly ok: boolean;
  readonly steps: readonly VerifyStep[];
  /** Why the committed manifest is stale, null when it is up to date, 'missing' when there is none. */
  readonly manifest: string | null;
  /**
   * What each down was compared with: `recorded`, the schema the committed
   * manifest records before its up (`--against-manifest`); `replayed`, the
   * schema read after each first up.
   */
  readonly compared: 'recorded' | 'replayed';
}

/** up, down, up in a scratch database; every down must restore the previous fingerprint exactly. */
export async function verifyMigrations(
  context: ReplayContext,
  files: readonly MigrationFile[],
  manifest: Manifest | null,
  /** `againstManifest`: take the schema after each first up from the manifest, where it records every file (`verify --against-manifest`). */
  options: { readonly againstManifest?: boolean } = {},
): Promise<VerifyResult> {
  const targetIn = (client: Client): VerifyTarget => {
    let applied = false;
    return {
      db: client,
      apply: async (direction, batch, hooks) => {
        await executeBatch(direction, batch, files, batchOptions(client, context, hooks, applied));
        applied = true;
      },
    };
  };
  let stale = manifest ? findStaleness(manifest, files, context.settings.schema, context.settings.fingerprintPrivileges) : 'missing';
  // --against-manifest: the schemas after each first up are the manifest's, where it records every file
  // (verifyReplay.ts); a replay that does not reach them is done again reading every schema.
  const recorded = options.againstManifest === true && manifest !== null && stale === null ? recordedSchemasOf(manifest, files, context) : null;
  if (options.againstManifest === true && recorded === null) {
    context.logger.info('verify: the manifest does not record every file as it is; reading the schema after every first up');
  }
  if (recorded !== null) {
    const result = await withScratchDatabase(context, (client) => replayVerify(targetIn(client), files, readOptionsOf(context.settings), recorded));
    if (result !== null) return { ok: result.steps.every((s) => s.ok), steps: result.steps, manifest: null, compared: 'recorded' };
    context.logger.info("verify: the first up fails or does not reach the manifest's schema; replaying again, reading the schema after every first up, to say where");
  }
  // verifyReplay.ts: each schema read incrementally, the second up as one batch.
  const { steps, models } = (await withScratchDatabase(context, (client) => replayVerify(targetIn(client), files, readOptionsOf(context.settings))))!;
  if (manifest && stale === null && models.length === files.length + 1) {
    const recordedByName = new Map(manifest.revisions.map((r) => [r.name, r.fingerprint]));
    const differing = files.filter((f, i) => recordedByName.get(f.name) !== fingerprintSchema(models[i + 1]!)).map((f) => f.name);
    if (manifest.base.fingerprint !== fingerprintSchema(models[0]!)) differing.unshift('base');
    if (differing.length) stale = `recorded fingerprints differ from a replay for ${differing.join(', ')}`;
  }
  return { ok: steps.every((s) => s.ok) && stale === null, steps, manifest: stale, compared: 'replayed' };
}

