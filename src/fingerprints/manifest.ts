/**
 * The fingerprint manifest: for each revision, the fingerprint of the schema
 * right after it, what it changed, and the schema itself delta-encoded (only
 * the top-level objects a revision added, changed or dropped), so the file
 * grows with the number of changes, not revisions × tables.
 *
 * It lives in the migrations folder as a dot-file, which node-pg-migrate and
 * our discovery both ignore, so it travels with the migrations (images too).
 * Deterministic: no dates, canonical JSON, one revision per line.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../core/errors.js';
import { matchesRecorded } from '../core/checksums.js';
import {
  modelOfTopLevelObjects,
  SCHEMA_MODEL_FORMAT,
  topLevelObjectsOf,
  type SchemaModel,
} from '../schema/model.js';
import { describeDifference, diffSchemas } from '../schema/diff.js';
import { fingerprintOfObjects, fingerprintSchema, hashTopLevelObject, serializeCanonicalJson } from '../schema/fingerprint.js';
import type { FingerprintManifest } from '../core/types.js';
import type { MigrationFile } from '../core/types.js';

export const MANIFEST_FILE_NAME = '.schema-fingerprints.json';
/**
 * 2: model format 2 (more kinds, deparsed text the same on every major), no
 * serverMajor (the fingerprints no longer depend on it), `privileges` when
 * owners and ACLs are part of them. Format 1 is still read: its fingerprints
 * follow the old model, so such a manifest is reported stale and the
 * fingerprints are computed again by a replay (they are not compared by the
 * old rule) until `migrate snapshot` writes format 2.
 */
export const MANIFEST_FORMAT = 2;

/** Top-level objects by key (`table:users`, `function:f(integer)`, `extension:pg_trgm`). */
type ObjectMap = Record<string, unknown>;

export interface ManifestRevision {
  readonly name: string;
  /** Checksum of the migration file when the manifest was written: staleness. */
  readonly checksum: string;
  readonly fingerprint: string;
  /** What the revision changed, one readable line each. */
  readonly changes: readonly string[];
  /** Objects the revision added or changed (full definitions). */
  readonly set: ObjectMap;
  /** Keys of objects the revision dropped. */
  readonly drop: readonly string[];
}

export interface Manifest {
  /** 1 only for a manifest an older runner wrote (read, reported stale, never written). */
  readonly format: typeof MANIFEST_FORMAT | 1;
  readonly modelFormat: number;
  readonly schema: string;
  /** Format 1 only: the PostgreSQL major its fingerprints were taken on. */
  readonly serverMajor?: number;
  /** Owners and privileges are part of the fingerprints (`fingerprintPrivileges`). */
  readonly privileges?: true;
  readonly base: { readonly fingerprint: string; readonly objects: ObjectMap };
  readonly revisions: readonly ManifestRevision[];
}

/** True for a manifest whose fingerprints this runner computes the same way (not an older format). */
export function isCurrentManifest(manifest: Manifest): boolean {
  return manifest.format === MANIFEST_FORMAT && manifest.modelFormat === SCHEMA_MODEL_FORMAT;
}

export function manifestPath(dir: string): string {
  return join(dir, MANIFEST_FILE_NAME);
}

/** The manifest, or null when there is none. */
export async function readManifest(dir: string): Promise<Manifest | null> {
  const path = manifestPath(dir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ConfigError(`fingerprint manifest ${path} cannot be read`, path, { cause: error });
  }
  try {
    const manifest = JSON.parse(text) as Manifest;
    if ((manifest.format !== MANIFEST_FORMAT && manifest.format !== 1) || !Array.isArray(manifest.revisions)) throw new Error('unknown format');
    return manifest;
  } catch (error) {
    throw new ConfigError(`fingerprint manifest ${path} is not valid`, path, {
      cause: error,
      hint: 'run migrate snapshot to write it again',
    });
  }
}

export async function writeManifest(dir: string, manifest: Manifest): Promise<string> {
  const path = manifestPath(dir);
  await writeFile(path, serializeManifest(manifest));
  return path;
}

/** Canonical JSON, one revision a line, so diffs of the committed file stay readable. */
export function serializeManifest(m: Manifest): string {
  const head = {
    format: m.format,
    modelFormat: m.modelFormat,
    schema: m.schema,
    ...(m.serverMajor === undefined ? {} : { serverMajor: m.serverMajor }),
    ...(m.privileges ? { privileges: true } : {}),
    base: m.base,
  };
  const lines = m.revisions.map((r) => `    ${serializeCanonicalJson(r)}`);
  const headText = serializeCanonicalJson(head).slice(0, -1);
  return `${headText},\n  "revisions": [\n${lines.join(',\n')}\n  ]\n}\n`;
}

/** One revision's entry, from the model before it and the model after it. */
export function buildRevision(
  file: MigrationFile,
  before: SchemaModel,
  after: SchemaModel,
  /** `topLevelObjectsOf` of each, where the caller has them (a replay: the last revision's are this one's before). */
  previous: ReadonlyMap<string, unknown> = topLevelObjectsOf(before),
  objects: ReadonlyMap<string, unknown> = topLevelObjectsOf(after),
): ManifestRevision {
  const set: ObjectMap = {};
  const changedKeys: string[] = [];
  for (const [key, value] of objects) {
    const old = previous.get(key);
    // The same object (an incremental read keeps what did not change) or the same hash.
    if (old === value || (old !== undefined && hashTopLevelObject(key, old) === hashTopLevelObject(key, value))) continue;
    set[key] = value;
    changedKeys.push(key);
  }
  const drop = [...previous.keys()].filter((key) => !objects.has(key)).sort();
  // The diff of only what changed gives the same lines as the diff of the whole models, at the cost of the change.
  const touched = new Set([...changedKeys, ...drop]);
  const beforePart = modelOfTopLevelObjects(entriesOf(previous, touched));
  const afterPart = modelOfTopLevelObjects(entriesOf(objects, touched));
  const changes = diffSchemas(beforePart, afterPart).map(describeDifference).map(asChange);
  return { name: file.name, checksum: file.checksum, fingerprint: fingerprintOfObjects(after, objects), changes, set, drop };
}

/** The entries of `objects` with the keys in `keys` (those it has). */
function entriesOf(objects: ReadonlyMap<string, unknown>, keys: ReadonlySet<string>): [string, unknown][] {
  const entries: [string, unknown][] = [];
  for (const key of keys) if (objects.has(key)) entries.push([key, objects.get(key)]);
  return entries;
}

export interface ManifestOptions {
  readonly schema: string;
  /** Owners and privileges are part of the models (`fingerprintPrivileges`). */
  readonly privileges?: boolean;
}

/** A manifest from the model before any migration and each revision's entry (`buildRevision`). */
export function assembleManifest(options: ManifestOptions, base: SchemaModel, revisions: readonly ManifestRevision[]): Manifest {
  return {
    format: MANIFEST_FORMAT,
    modelFormat: SCHEMA_MODEL_FORMAT,
    schema: options.schema,
    ...(options.privileges ? { privileges: true as const } : {}),
    base: { fingerprint: fingerprintSchema(base), objects: objectsOf(base) },
    revisions,
  };
}

/** Builds a manifest from the model before any migration and the model after each. */
export function buildManifest(
  options: ManifestOptions,
  base: SchemaModel,
  after: readonly { readonly file: MigrationFile; readonly model: SchemaModel }[],
): Manifest {
  let previous = base;
  const revisions = after.map(({ file, model }) => {
    const revision = buildRevision(file, previous, model);
    previous = model;
    return revision;
  });
  return assembleManifest(options, base, revisions);
}

/** The schema model recorded for `revision` (null = base), rebuilt from the deltas. */
export function modelAt(manifest: Manifest, revision: string | null): SchemaModel | null {
  if (!isCurrentManifest(manifest)) return null;
  const objects: ObjectMap = { ...manifest.base.objects };
  if (revision !== null) {
    const index = manifest.revisions.findIndex((r) => r.name === revision);
    if (index < 0) return null;
    for (const r of manifest.revisions.slice(0, index + 1)) {
      for (const key of r.drop) delete objects[key];
      Object.assign(objects, r.set);
    }
  }
  return modelOfTopLevelObjects(Object.entries(objects));
}

/**
 * What the manifest records of its base and each revision, in order: the
 * fingerprint of the objects its entries add up to (each object hashed once,
 * the same object from one revision to the next), and the schema itself,
 * rebuilt where asked (modelAt). Null unless every one of those fingerprints
 * is the one recorded beside it: a fingerprint edited by hand is not.
 */
export function recordedSchemas(manifest: Manifest): { readonly fingerprints: readonly string[]; model(index: number): SchemaModel } | null {
  if (!isCurrentManifest(manifest)) return null;
  const objects = new Map<string, unknown>(Object.entries(manifest.base.objects));
  const format = { format: SCHEMA_MODEL_FORMAT } as const;
  const fingerprints = [fingerprintOfObjects(format, objects)];
  for (const r of manifest.revisions) {
    for (const key of r.drop) objects.delete(key);
    for (const [key, value] of Object.entries(r.set)) objects.set(key, value);
    fingerprints.push(fingerprintOfObjects(format, objects));
  }
  const recorded = [manifest.base.fingerprint, ...manifest.revisions.map((r) => r.fingerprint)];
  if (fingerprints.some((fingerprint, i) => fingerprint !== recorded[i])) return null;
  return { fingerprints, model: (index) => modelAt(manifest, index === 0 ? null : manifest.revisions[index - 1]!.name)! };
}

/** What the detector needs: fingerprints only; `partly`, why it records only the first of the files' revisions (FingerprintManifest.partly). */
export function toFingerprintManifest(manifest: Manifest, partly?: string): FingerprintManifest {
  return {
    base: manifest.base.fingerprint,
    revisions: manifest.revisions.map((r) => ({ name: r.name, fingerprint: r.fingerprint })),
    ...(partly !== undefined && { partly }),
  };
}

/**
 * How many leading revisions of `manifest` still describe `files` as they
 * are (0 when it cannot be used at all): written for the same schema, model
 * format and privileges setting, and each of them the file of its place,
 * unedited. A revision's fingerprint depends only on the files up to it, so
 * these hold however the files after them changed (a file added since the
 * snapshot, one edited later on): an incremental snapshot keeps them, and a
 * legacy database is matched against them where no replay can be had.
 */
export function describedRevisions(manifest: Manifest, files: readonly MigrationFile[], options: ManifestOptions): number {
  if (!comparesWithLive(manifest, options)) return 0;
  let count = 0;
  while (count < files.length && count < manifest.revisions.length) {
    const recorded = manifest.revisions[count]!;
    const file = files[count]!;
    if (recorded.name !== file.name || !matchesRecorded(recorded.checksum, file)) break;
    count++;
  }
  return count;
}

/**
 * Whether the manifest's fingerprints compare with those of the live schema
 * as `options` read it: the current model format, of the same schema, with
 * owners and privileges in them or not as now.
 */
export function comparesWithLive(manifest: Manifest, options: ManifestOptions): boolean {
  return isCurrentManifest(manifest) && manifest.schema === options.schema && (manifest.privileges ?? false) === (options.privileges ?? false);
}

/** `manifest` with its first `count` revisions only (describedRevisions). */
export function leadingRevisionsOf(manifest: Manifest, count: number): Manifest {
  return { ...manifest, revisions: manifest.revisions.slice(0, count) };
}

/** Why the manifest no longer describes the files, or null when it does. */
export function findStaleness(
  manifest: Manifest,
  files: readonly MigrationFile[],
  schema: string,
  privileges = false,
): string | null {
  if (manifest.schema !== schema) return `it was written for schema ${manifest.schema}, not ${schema}`;
  if (!isCurrentManifest(manifest)) {
    return manifest.format === 1
      ? 'it was written in manifest format 1 by an older runner, whose fingerprints this runner computes another way'
      : 'it was written by another version of the runner';
  }
  if ((manifest.privileges ?? false) !== privileges) {
    return privileges ? 'it was written without owners and privileges, and fingerprintPrivileges is on' : 'it was written with owners and privileges (fingerprintPrivileges), which is off now';
  }
  const recorded = new Map(manifest.revisions.map((r) => [r.name, r]));
  const missing = files.filter((f) => !recorded.has(f.name)).map((f) => f.name);
  const edited = files.filter((f) => recorded.has(f.name) && !matchesRecorded(recorded.get(f.name)!.checksum, f)).map((f) => f.name);
  const onDisk = new Set(files.map((f) => f.name));
  const gone = manifest.revisions.filter((r) => !onDisk.has(r.name)).map((r) => r.name);
  const parts = [
    missing.length && `no fingerprint for ${missing.join(', ')}`,
    edited.length && `edited since: ${edited.join(', ')}`,
    gone.length && `not on disk: ${gone.join(', ')}`,
  ].filter(Boolean);
  if (parts.length) return parts.join('; ');
  // The same files, each recorded as it is, can still be recorded in another order, or one of them twice: each
  // revision's schema is the one its migration leaves after those before it (modelAt, describedRevisions).
  const misplaced = manifest.revisions.findIndex((r, i) => r.name !== files[i]?.name);
  if (misplaced !== -1) {
    return `its revisions are not in the files' order: it records ${manifest.revisions[misplaced]!.name} where ${files[misplaced]?.name ?? 'no file'} comes`;
  }
  return null;
}

/**
 * The revision whose recorded schema is closest to `live` (fewest object
 * differences; the latest on a tie), with the differences from it.
 */
export function findNearestRevision(
  manifest: Manifest,
  live: SchemaModel,
): { revision: string | null; differences: string[] } {
  let best: { revision: string | null; differences: string[] } | null = null;
  for (const revision of [null, ...manifest.revisions.map((r) => r.name)]) {
    const model = modelAt(manifest, revision);
    if (!model) continue;
    const differences = diffSchemas(model, live).map(describeDifference);
    if (!best || differences.length <= best.differences.length) best = { revision, differences };
  }
  return best ?? { revision: null, differences: [] };
}

export function objectsOf(model: SchemaModel): ObjectMap {
  return Object.fromEntries(topLevelObjectsOf(model));
}

/** "extra in the database" reads oddly for a change a migration made: say "added"/"dropped". */
function asChange(line: string): string {
  return line.replace(/ is extra in the database/, ' added').replace(/ is missing from the database/, ' dropped');
}
