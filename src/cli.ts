#!/usr/bin/env node
/**
 * The `migrate` command's entry. Every container start of every replica pays
 * what happens here before any work (README "Performance"), so it does two things:
 *
 * - The command's code is one bundle, dist/cliMain.cjs (scripts/build-cli.mjs),
 *   pg included, compiled with the V8 code cache the build wrote beside it
 *   (bundleLoader.ts). Without the bundle (a plain `tsc` build), or to debug
 *   with source maps, the modules load as they are.
 * - pg 8 tells Cloudflare Workers apart when it loads (pg/lib/stream.js): with
 *   no global `navigator` it asks `typeof Response`, and on Node 20, which has
 *   no `navigator` before 21, that loads Node's bundled undici (~12 ms). A
 *   `navigator` that is not Cloudflare's answers first; it exists only while
 *   the command's modules load, so nothing else (a migration, node-pg-migrate)
 *   ever sees it.
 */
import { fileURLToPath } from 'node:url';
import { loadBundle, type LoadedBundle, type Main } from './bundleLoader.js';

// Set by the build only: run once without the cache, then write what V8 compiled.
const writingCache = process.env.MIGRATE_WRITE_CODE_CACHE === '1';
const global = globalThis as { navigator?: unknown };
const lendsNavigator = !('navigator' in global);
if (lendsNavigator) {
  Object.defineProperty(global, 'navigator', { value: { userAgent: `Node.js/${process.versions.node}` }, configurable: true });
}
let main: Main;
let bundle: LoadedBundle | null = null;
try {
  // With --enable-source-maps, the modules as tsc built them, whose maps lead to
  // src/: Node does not map code that vm compiled (README, Troubleshooting).
  bundle = process.sourceMapsEnabled
    ? null
    : loadBundle(fileURLToPath(new URL('./cliMain.cjs', import.meta.url)), { ignoreCache: writingCache });
  main = bundle?.main ?? (await import('./cli/main.js')).main;
} finally {
  if (lendsNavigator) delete global.navigator;
}
process.exitCode = await main(process.argv.slice(2));
if (writingCache) bundle?.writeCache();
