/** Catalog introspection, fingerprint and diff of one managed schema. */
export { readSchemaModel, SchemaCatalogError, type ReadSchemaModelOptions } from './catalog.js';
export type { Queryable } from '../core/types.js';
export { fingerprintSchema, serializeCanonicalJson } from './fingerprint.js';
export { diffSchemas, describeDifference, type SchemaDifference, type SchemaObjectKind } from './diff.js';
export * from './model.js';
