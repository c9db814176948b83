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
 */
export function serializeCanonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    // JSON.stringify(undefined) is undefined; inside arrays JSON writes null.
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) return `[${value.map(serializeCanonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, member]) => member !== undefined)
    .sort(([a], [b]) => compareStrings(a, b))
    .map(([key, member]) => `${JSON.stringify(key)}:${serializeCanonicalJson(member)}`);
  return `{${entries.join(',')}}`;
}
