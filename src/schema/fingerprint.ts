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
 * time of building the text by hand, bench/RESULTS.md). Given an array of
 * keys, it writes every object's members in that array's order and no
 * others (ECMA-262, JSON.stringify, step 4.b: the PropertyList), index-like
 * keys too: the value's own keys, sorted once, put every object's in code-unit
 * order without a sorted copy of each. `__proto__` is the one key an object
 * without it would answer with something else than undefined (its
 * prototype): a value that has one is written by hand.
 */
export function serializeCanonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  const keys = new Set<string>();
  collectKeys(value, keys);
  if (keys.has('__proto__')) return serializeByHand(value);
  // sort() without a comparator orders strings by code unit, as compareCodeUnits does.
  return JSON.stringify(value, [...keys].sort());
}

/** Every own key of every object in `value`, arrays' items included. */
function collectKeys(value: object, keys: Set<string>): void {
  if (Array.isArray(value)) {
    for (const item of value) if (item !== null && typeof item === 'object') collectKeys(item, keys);
    return;
  }
  for (const key of Object.keys(value)) {
    keys.add(key);
    const member = (value as Record<string, unknown>)[key];
    if (member !== null && typeof member === 'object') collectKeys(member, keys);
  }
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
