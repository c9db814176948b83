/**
 * The library's public surface: the pure detector and planner, the read-only
 * inspection, and the acting recipe, with their data types and errors.
 */
export { detectState, isUpToDate, type DetectOptions, type FingerprintManifest } from './stateDetector.js';
export { planCommand, type RunCommand } from './commandPlanner.js';
export { inspectDatabase, type InspectOptions, type RunnerOptions } from './inspect.js';
export { runMigrations, type RunMigrationsOptions } from './runMigrations.js';
export { previewSql } from './sqlPreview.js';
export { resetDatabase, type ResetOptions } from './reset.js';
export { createMigration } from './createMigration.js';
export { readMigrationFiles, compareMigrationNames, checksumOf } from './migrationFiles.js';
export { readDatabaseFacts, type Queryable } from './introspect.js';
export { resolveSettings, type Settings, type SettingsInput } from './settings.js';
export { readManifest, type Manifest } from './fingerprints/manifest.js';
export { computeManifest, verifyMigrations, type VerifyResult } from './fingerprints/replay.js';
export { readSchemaModel, fingerprintSchema, diffSchemas, describeDifference, type SchemaModel } from './schema/index.js';
export * from './errors.js';
export type * from './types.js';
