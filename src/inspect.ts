/**
 * The read-only half of the runner: settings → files → facts → detection.
 * `status`, `check`, the example backend's /readyz and the first step of
 * `runMigrations` all go through here; nothing in it writes to the database.
 */
import { connect, closeQuietly, type Client } from './connection.js';
import { readDatabaseFacts } from './introspect.js';
import { createSilentLogger, type Logger } from './logger.js';
import { readMigrationFiles } from './migrationFiles.js';
import { requireConnection, resolveSettings, type Settings, type SettingsInput } from './settings.js';
import { detectState, type DetectOptions } from './stateDetector.js';
import type { DatabaseFacts, Detection, MigrationFile } from './types.js';

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
}

export function settingsOf(options: RunnerOptions): Settings {
  return resolveSettings(options, options.env ?? process.env, options.cwd ?? process.cwd());
}

export function detectOptionsOf(settings: Settings, extra: Partial<DetectOptions> = {}): DetectOptions {
  return {
    baseline: settings.baseline,
    allowModified: settings.allowModified,
    refuseOnDrift: settings.refuseOnDrift,
    ...extra,
  };
}

/** Reads the files and the database facts and detects the state. */
export async function observe(
  client: Client,
  settings: Settings,
  files?: readonly MigrationFile[],
  extra: Partial<DetectOptions> = {},
): Promise<Observation> {
  const migrationFiles = files ?? (await readMigrationFiles(settings.dir));
  const facts = await readDatabaseFacts(client, settings);
  const detection = detectState(facts, migrationFiles, detectOptionsOf(settings, extra));
  return { files: migrationFiles, facts, detection };
}

export async function connectFor(settings: Settings, logger: Logger, waitTimeoutSeconds = settings.waitTimeoutSeconds): Promise<Client> {
  const target = requireConnection(settings);
  return connect(target, {
    waitTimeoutSeconds,
    onRetry: (attempt, reason) => logger.info(`waiting for the database at ${target.display}`, { attempt, reason }),
  });
}

/**
 * The database's state relative to the migration files, changing nothing.
 * Settings resolve as for the CLI (DATABASE_URL, DB_*, …, migrate.config.json).
 */
export async function inspectDatabase(options: RunnerOptions = {}): Promise<Detection> {
  const settings = settingsOf(options);
  const files = await readMigrationFiles(settings.dir);
  const client = await connectFor(settings, options.logger ?? createSilentLogger());
  try {
    return (await observe(client, settings, files)).detection;
  } finally {
    await closeQuietly(client);
  }
}
