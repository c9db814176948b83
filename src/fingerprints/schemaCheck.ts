/**
 * `checkSchema` (README, "How it behaves"): before a batch commits, the live
 * schema, read inside the batch's own transaction, must have the fingerprint
 * the manifest recorded for the revision the history now reaches; otherwise
 * the batch is rolled back, naming what differs. The check needs a manifest
 * that describes the files, so a run that asks for it without one is refused
 * before it changes anything.
 */
import { ConfigError, SchemaCheckError } from '../core/errors.js';
import type { Client } from '../db/connection.js';
import { readSchemaModel } from '../schema/catalog.js';
import { describeDifference, diffSchemas } from '../schema/diff.js';
import { fingerprintSchema } from '../schema/fingerprint.js';
import type { Settings } from '../config/settings.js';
import type { MigrationFile } from '../core/types.js';
import { findStaleness, manifestPath, modelAt, readManifest, type Manifest } from './manifest.js';
import { readOptionsOf } from './replay.js';

/** The manifest the check compares with: present and up to date, else a usage error (exit 2). */
export async function manifestForSchemaCheck(settings: Settings, files: readonly MigrationFile[]): Promise<Manifest> {
  const manifest = await readManifest(settings.dir);
  const staleness = manifest ? findStaleness(manifest, files, settings.schema, settings.fingerprintPrivileges) : 'there is none';
  if (!manifest || staleness) {
    throw new ConfigError(`checkSchema needs the fingerprint manifest ${manifestPath(settings.dir)}, and ${staleness}`, 'checkSchema', {
      hint: 'run migrate snapshot and commit the manifest, or turn checkSchema off',
    });
  }
  return manifest;
}

/** Throws SchemaCheckError unless the schema `db` sees (inside its open transaction) is `revision`'s as recorded. */
export async function checkSchemaAt(db: Client, settings: Settings, manifest: Manifest, revision: string | null): Promise<void> {
  const expected = revision === null ? manifest.base.fingerprint : manifest.revisions.find((r) => r.name === revision)?.fingerprint;
  const live = await readSchemaModel(db, { ...readOptionsOf(settings), transaction: 'existing' });
  if (fingerprintSchema(live) === expected) return;
  const recorded = modelAt(manifest, revision);
  throw new SchemaCheckError(revision, recorded ? diffSchemas(recorded, live).map(describeDifference) : []);
}
