/**
 * A stable fingerprint of a schema model. Each top-level object (a table
 * with its columns, constraints, indexes, ...; a view; a function; ...) is
 * hashed on its own: sha256 of its canonical JSON (its lists in canonical
 * order, object keys sorted, absent optional fields left out). The
 * fingerprint is sha256 (hex) of the model format and the sorted lines
 * `key<TAB>object hash`, keys as in the manifest (`table:users`).
 *
 * Equal schemas give equal fingerprints on any machine; the fingerprint
 * only changes when the schema (or SCHEMA_MODEL_FORMAT) does. Hashing per
 * object lets a replay that reads only what each migration changed
 * (incrementalCatalog.ts) fingerprint each revision without serialising the
 * objects it did not touch again: an object's hash is kept as long as the
 * object itself (a WeakMap), and unchanged objects are the same objects.
 */
import { compareCodeUnits } from '../core/lists.js';
import { hash } from 'node:crypto';
import {
  SCHEMA_OBJECT_KEY,
  sortTopLevelObject,
  TOP_LEVEL_LISTS,
  TOP_LEVEL_PREFIXES,
  topLevelObjectsOf,
  type SchemaModel,
  type TopLevelList,
} from './model.js';

export function fingerprintSchema(model: SchemaModel): string {
  return fingerprintOfObjects(model, topLevelObjectsOf(model));
}

/** fingerprintSchema, given the model's `topLevelObjectsOf` (a replay has it at hand already). */
export function fingerprintOfObjects(model: Pick<SchemaModel, 'format'>, objects: ReadonlyMap<string, unknown>): string {
  const lines: string[] = [];
  for (const [key, value] of objects) lines.push(`${key}\t${hashTopLevelObject(key, value)}`);
  lines.sort(compareCodeUnits);
  return sha256(`format ${String(model.format)}\n${lines.join('\n')}`);
}

const hashes = new WeakMap<object, string>();
const LIST_OF_PREFIX = new Map<string, TopLevelList>(TOP_LEVEL_LISTS.map((list) => [TOP_LEVEL_PREFIXES[list], list]));

/** sha256 of one top-level object's canonical JSON, `key` as `topLevelObjectsOf` gives it; computed once per object. */
export function hashTopLevelObject(key: string, value: unknown): string {
  if (value === null || typeof value !== 'object') return sha256(serializeCanonicalJson(value));
  const known = hashes.get(value);
  if (known !== undefined) return known;
  const list = key === SCHEMA_OBJECT_KEY ? undefined : LIST_OF_PREFIX.get(key.slice(0, key.indexOf(':')));
  const hash = sha256(serializeCanonicalJson(list === undefined ? value : sortTopLevelObject(list, value)));
  hashes.set(value, hash);
  return hash;
}

function sha256(text: string): string {
  // The one-shot hash(): a third of createHash()'s cost on small inputs (src/files/migrationFiles.ts checksumOf).
  return hash('sha256', text, 'hex');
}

/**
 * JSON with object keys sorted by code unit and `undefined` members left out,
 * so two equal values always serialise to the same text.
 *
 * JSON.stringify does the writing (a 2,000-table model in a fraction of the
 * time of building the text by hand, bench/RESULTS.md), with each object's
 * keys put in order first. An object whose keys look like array indexes
 * cannot be re-ordered (the engine lists those first, numerically), so such a
 * value is written by hand instead; schema models have none.
 *
 * Not JSON.stringify's array form (one sorted list of every key in the
 * value): it looks each listed key up on every object, and a manifest's maps
 * are keyed by object names, so writing one became quadratic in the tables.
 */
export function serializeCanonicalJson(value: unknown): string {
  try {
    return JSON.stringify(value, withSortedKeys) ?? 'null';
  } catch (error) {
    if (error !== INDEX_LIKE_KEY) throw error;
    return serializeByHand(value);
  }
}

const INDEX_LIKE_KEY = Symbol('an object key that looks like an array index');
const INDEX_LIKE = /^(0|[1-9][0-9]*)$/;

function withSortedKeys(_key: string, member: unknown): unknown {
  if (member === null || typeof member !== 'object' || Array.isArray(member)) return member;
  const sorted: Record<string, unknown> = {};
  // sort() without a comparator orders strings by code unit, as compareCodeUnits does, without a call per comparison.
  for (const key of Object.keys(member).sort()) {
    if (startsWithDigit(key) && INDEX_LIKE.test(key)) throw INDEX_LIKE_KEY;
    sorted[key] = (member as Record<string, unknown>)[key];
  }
  return sorted;
}

function startsWithDigit(key: string): boolean {
  const code = key.charCodeAt(0);
  return code >= 0x30 && code <= 0x39;
}

function serializeByHand(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    // JSON.stringify(undefined) is undefined; inside arrays JSON writes null.
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) return `[${value.map(serializeByHand).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, member]) => member !== undefined)
    .sort(([a], [b]) => compareCodeUnits(a, b))
    .map(([key, member]) => `${JSON.stringify(key)}:${serializeByHand(member)}`);
  return `{${entries.join(',')}}`;
}
