/** The library's public surface. */
export { detectState, type DetectOptions, type FingerprintManifest } from './stateDetector.js';
export { inspectDatabase, type RunnerOptions } from './inspect.js';
export { readMigrationFiles, compareMigrationNames, checksumOf } from './migrationFiles.js';
export { readDatabaseFacts, type Queryable } from './introspect.js';
export { resolveSettings, type Settings, type SettingsInput } from './settings.js';
export * from './errors.js';
export type * from './types.js';
