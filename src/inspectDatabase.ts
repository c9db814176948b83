/**
 * The library's read-only recipe: the database's state relative to the
 * migration files, changing nothing (src/observe.ts looks; a legacy database
 * is matched by a replay in a scratch database, src/replayFingerprints.ts).
 */
import { rejectAsRunnerError } from './core/errors.js';
import { createSilentLogger } from './config/logger.js';
import type { Detection } from './core/types.js';
import { observe, readWhileConnecting, settingsOf, type RunnerOptions } from './observe.js';
import { replayFingerprintsFor } from './replayFingerprints.js';

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
  const logger = options.logger ?? createSilentLogger();
  const replay = replayFingerprintsFor(settings, logger);
  return readWhileConnecting(
    settings,
    logger,
    async (client, files) => (await observe({ client, settings, files, logger, replay, checkDrift: options.checkDrift ?? true })).detection,
  ).catch(rejectAsRunnerError);
}
