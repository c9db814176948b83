/**
 * A stable fingerprint of a schema model: sha256 (hex) of its canonical
 * JSON, i.e. lists in canonical order (`sortSchemaModel`), object keys sorted,
 * absent optional fields left out. Equal schemas give equal fingerprints on
 * any machine; the fingerprint only changes when the schema (or
 * SCHEMA_MODEL_FORMAT) does.
 */
import { createHash } from 'node:crypto';
import { compareStrings, sortSchemaModel, type SchemaModel } from './model.js';

export function fingerprintSchema(model: SchemaModel): string {
  return createHash('sha256').update(serializeCanonicalJson(sortSchemaModel(model)), 'utf8').digest('hex');
}

/**
 * JSON with object keys sorted by code unit and `undefined` members left out,
 * so two equal values always serialise to the same text.
 *
 * JSON.stringify does the writing (a 2,000-table model in a fraction of the
 * time of building the text by hand, issue 6), with each object's keys put in
 * order first. An object whose keys look like array indexes cannot be
 * re-ordered (the engine lists those first, numerically), so such a value is
 * written by hand instead; schema models have none.
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

function withSortedKeys(_key: string, member: unknown): unknown {
  if (member === null || typeof member !== 'object' || Array.isArray(member)) return member;
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(member).sort(compareStrings)) {
    if (/^(0|[1-9][0-9]*)$/.test(key)) throw INDEX_LIKE_KEY;
    sorted[key] = (member as Record<string, unknown>)[key];
  }
  return sorted;
}

function serializeByHand(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    // JSON.stringify(undefined) is undefined; inside arrays JSON writes null.
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) return `[${value.map(serializeByHand).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, member]) => member !== undefined)
    .sort(([a], [b]) => compareStrings(a, b))
    .map(([key, member]) => `${JSON.stringify(key)}:${serializeByHand(member)}`);
  return `{${entries.join(',')}}`;
}
