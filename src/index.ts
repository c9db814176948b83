/**
 * The library's public surface: the pure detector and planner, the read-only
 * inspection, and the acting recipe, with their data types and errors.
 */
export { detectState, isUpToDate, type DetectOptions } from './core/stateDetector.js';
export { planCommand, type RunCommand } from './core/commandPlanner.js';
export { inspectDatabase, type InspectOptions } from './inspectDatabase.js';
export type { RunnerOptions } from './observe.js';
export { runMigrations, type RunMigrationsOptions } from './runMigrations.js';
export { previewSql } from './sqlPreview.js';
export { resetDatabase, type ResetOptions } from './reset.js';
export { createMigration } from './files/createMigration.js';
export { readMigrationFiles, compareMigrationNames, checksumOf } from './files/migrationFiles.js';
export { readDatabaseFacts } from './db/facts.js';
export { resolveSettings, type Settings, type SettingsInput } from './config/settings.js';
export { readManifest, type Manifest } from './fingerprints/manifest.js';
export { computeManifest, verifyMigrations, type VerifyResult } from './fingerprints/replay.js';
export { readSchemaModel, fingerprintSchema, diffSchemas, describeDifference, type SchemaModel } from './schema/index.js';
export * from './core/errors.js';
export type * from './core/types.js';
