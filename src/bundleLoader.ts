/**
 * Runs the bundled command (dist/cliMain.cjs, scripts/build-cli.mjs) compiled
 * with the V8 code cache the build wrote beside it. Node 20 has no compile
 * cache for modules of its own; compiling the bundle from the cache saves
 * ~12 ms of every start (issue 6, bench/). V8 ignores a cache made by another
 * Node or with other flags and compiles as usual.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import vm from 'node:vm';

export type Main = (argv: string[]) => Promise<number>;

export interface LoadedBundle {
  readonly main: Main;
  /** `used`: compiled from the cache; `rejected`: V8 refused it; `absent`: none (or being written). */
  readonly cache: 'used' | 'rejected' | 'absent';
  /** Writes what V8 compiled so far (the build calls it after one run). */
  writeCache(): void;
}

/** The bundle's `main`, or null when the bundle is not there (a plain `tsc` build). */
export function loadBundle(filename: string, options: { readonly ignoreCache?: boolean } = {}): LoadedBundle | null {
  let source: string;
  try {
    source = readFileSync(filename, 'utf8');
  } catch {
    return null;
  }
  const cacheFile = `${filename}.v8cache`;
  let cachedData: Buffer | undefined;
  try {
    cachedData = options.ignoreCache ? undefined : readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  // A CommonJS wrapper on the bundle's first line, so its line numbers stay.
  const script = new vm.Script(
    `(function (exports, require, module, __filename, __dirname, __importMetaUrl, __importPackage) {${source}\n})`,
    { filename, cachedData },
  );
  const module = { exports: {} as { main: Main } };
  const run = script.runInThisContext() as (...args: unknown[]) => void;
  // Code compiled from the cache cannot import() on Node 20: it borrows this module's (src/files/importPackage.ts).
  const importPackage = (specifier: string): Promise<unknown> => import(specifier);
  run(module.exports, createRequire(filename), module, filename, dirname(filename), pathToFileURL(filename).href, importPackage);
  return {
    main: module.exports.main,
    cache: cachedData === undefined ? 'absent' : script.cachedDataRejected ? 'rejected' : 'used',
    writeCache: () => writeFileSync(cacheFile, script.createCachedData()),
  };
}
