/**
 * The detector, at the path the project's users asked for; it lives with the
 * other pure decisions in src/core/ (README, "Layout").
 */
export * from './core/stateDetector.js';
export type { FingerprintManifest } from './core/types.js';
