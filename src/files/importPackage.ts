/**
 * `import()` of a package that is loaded only when used (node-pg-migrate,
 * jiti, sucrase, es-module-lexer, winston's lazy load). One place, because
 * the bundled command replaces it (scripts/build-cli.mjs): the bundle runs
 * from V8's code cache, and on Node 20 code from the cache cannot `import()`
 * itself, so the entry (src/cli.ts) lends it its own.
 */
export function importPackage<T>(specifier: string): Promise<T> {
  return import(specifier) as Promise<T>;
}
