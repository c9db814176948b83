/**
 * The fingerprint manifest: for each revision, the fingerprint of the schema
 * right after it, what it changed, and the schema itself delta-encoded (only
 * the top-level objects a revision added, changed or dropped), so the file
 * grows with the number of changes, not revisions × tables (issue 4).
 *
 * It lives in the migrations folder as a dot-file, which node-pg-migrate and
 * our discovery both ignore, so it travels with the migrations (images too).
 * Deterministic: no dates, canonical JSON, one revision per line.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import {
  createEmptySchemaModel,
  formatFunctionSignature,
  SCHEMA_MODEL_FORMAT,
  sortSchemaModel,
  type SchemaModel,
} from '../schema/model.js';
import { describeDifference, diffSchemas } from '../schema/diff.js';
import { fingerprintSchema, serializeCanonicalJson } from '../schema/fingerprint.js';
import type { FingerprintManifest } from '../stateDetector.js';
import type { MigrationFile } from '../types.js';

export const MANIFEST_FILE_NAME = '.schema-fingerprints.json';
export const MANIFEST_FORMAT = 1;

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
  readonly format: typeof MANIFEST_FORMAT;
  readonly modelFormat: number;
  readonly schema: string;
  /** PostgreSQL major version the fingerprints were taken on: deparsed SQL differs between majors. */
  readonly serverMajor: number;
  readonly base: { readonly fingerprint: string; readonly objects: ObjectMap };
  readonly revisions: readonly ManifestRevision[];
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
    if (manifest.format !== MANIFEST_FORMAT || !Array.isArray(manifest.revisions)) throw new Error('unknown format');
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
    serverMajor: m.serverMajor,
    base: m.base,
  };
  const lines = m.revisions.map((r) => `    ${serializeCanonicalJson(r)}`);
  const headText = serializeCanonicalJson(head).slice(0, -1);
  return `${headText},\n  "revisions": [\n${lines.join(',\n')}\n  ]\n}\n`;
}

/** Builds a manifest from the model before any migration and the model after each. */
export function buildManifest(
  schema: string,
  serverMajor: number,
  base: SchemaModel,
  after: readonly { readonly file: MigrationFile; readonly model: SchemaModel }[],
): Manifest {
  let previousModel = base;
  let previous = objectsOf(base);
  const revisions = after.map(({ file, model }) => {
    const objects = objectsOf(model);
    const set: ObjectMap = {};
    for (const [key, value] of Object.entries(objects)) {
      if (serializeCanonicalJson(previous[key]) !== serializeCanonicalJson(value)) set[key] = value;
    }
    const drop = Object.keys(previous).filter((key) => !(key in objects)).sort();
    const changes = diffSchemas(previousModel, model).map(describeDifference).map(asChange);
    previous = objects;
    previousModel = model;
    return { name: file.name, checksum: file.checksum, fingerprint: fingerprintSchema(model), changes, set, drop };
  });
  return {
    format: MANIFEST_FORMAT,
    modelFormat: SCHEMA_MODEL_FORMAT,
    schema,
    serverMajor,
    base: { fingerprint: fingerprintSchema(base), objects: objectsOf(base) },
    revisions,
  };
}

/** The schema model recorded for `revision` (null = base), rebuilt from the deltas. */
export function modelAt(manifest: Manifest, revision: string | null): SchemaModel | null {
  const objects: ObjectMap = { ...manifest.base.objects };
  if (revision !== null) {
    const index = manifest.revisions.findIndex((r) => r.name === revision);
    if (index < 0) return null;
    for (const r of manifest.revisions.slice(0, index + 1)) {
      for (const key of r.drop) delete objects[key];
      Object.assign(objects, r.set);
    }
  }
  return modelOf(objects);
}

/** What the detector needs: fingerprints only. */
export function toFingerprintManifest(manifest: Manifest): FingerprintManifest {
  return {
    base: manifest.base.fingerprint,
    revisions: manifest.revisions.map((r) => ({ name: r.name, fingerprint: r.fingerprint })),
  };
}

/** Why the manifest no longer describes the files, or null when it does. */
export function findStaleness(manifest: Manifest, files: readonly MigrationFile[], schema: string): string | null {
  if (manifest.schema !== schema) return `it was written for schema ${manifest.schema}, not ${schema}`;
  if (manifest.modelFormat !== SCHEMA_MODEL_FORMAT) return 'it was written by another version of the runner';
  const recorded = new Map(manifest.revisions.map((r) => [r.name, r]));
  const missing = files.filter((f) => !recorded.has(f.name)).map((f) => f.name);
  const edited = files.filter((f) => recorded.has(f.name) && recorded.get(f.name)!.checksum !== f.checksum).map((f) => f.name);
  const onDisk = new Set(files.map((f) => f.name));
  const gone = manifest.revisions.filter((r) => !onDisk.has(r.name)).map((r) => r.name);
  const parts = [
    missing.length && `no fingerprint for ${missing.join(', ')}`,
    edited.length && `edited since: ${edited.join(', ')}`,
    gone.length && `not on disk: ${gone.join(', ')}`,
  ].filter(Boolean);
  return parts.length ? parts.join('; ') : null;
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
  const objects: ObjectMap = {};
  const put = (kind: string, key: string, value: unknown) => (objects[`${kind}:${key}`] = value);
  for (const e of model.extensions) put('extension', e, true);
  for (const t of model.tables) put('table', t.name, t);
  for (const v of model.views) put('view', v.name, v);
  for (const s of model.sequences) put('sequence', s.name, s);
  for (const e of model.enums) put('enum', e.name, e);
  for (const d of model.domains) put('domain', d.name, d);
  for (const c of model.compositeTypes) put('composite', c.name, c);
  for (const f of model.functions) put('function', formatFunctionSignature(f), f);
  return objects;
}

function modelOf(objects: ObjectMap): SchemaModel {
  const empty = createEmptySchemaModel();
  const lists: Record<string, unknown[]> = {
    extension: [], table: [], view: [], sequence: [], enum: [], domain: [], composite: [], function: [],
  };
  for (const [key, value] of Object.entries(objects)) {
    const kind = key.slice(0, key.indexOf(':'));
    lists[kind]?.push(kind === 'extension' ? key.slice(kind.length + 1) : value);
  }
  return sortSchemaModel({
    ...empty,
    extensions: lists.extension as string[],
    tables: lists.table as SchemaModel['tables'],
    views: lists.view as SchemaModel['views'],
    sequences: lists.sequence as SchemaModel['sequences'],
    enums: lists.enum as SchemaModel['enums'],
    domains: lists.domain as SchemaModel['domains'],
    compositeTypes: lists.composite as SchemaModel['compositeTypes'],
    functions: lists.function as SchemaModel['functions'],
  });
}

/** "extra in the database" reads oddly for a change a migration made: say "added"/"dropped". */
function asChange(line: string): string {
  return line.replace(/ is extra in the database/, ' added').replace(/ is missing from the database/, ' dropped');
}
