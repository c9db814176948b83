#!/usr/bin/env node
/**
 * The `migrate` command's entry. Every container start of every replica pays
 * what happens here before any work (issue 6, bench/), so it does two things:
 *
 * - pg 8 tells Cloudflare Workers apart when it loads (pg/lib/stream.js): with
 *   no global `navigator` it asks `typeof Response`, and on Node 20, which has
 *   no `navigator` before 21, that loads Node's bundled undici (~12 ms). A
 *   `navigator` that is not Cloudflare's answers first; it exists only while
 *   pg loads, so nothing else (a migration, node-pg-migrate) ever sees it.
 * - The command's code is one bundle, dist/cliMain.cjs (scripts/build-cli.mjs),
 *   compiled with the V8 code cache the build wrote beside it (bundleLoader.ts).
 *   Without the bundle (a plain `tsc` build), or to debug with source maps,
 *   the modules load as they are.
 */
import { fileURLToPath } from 'node:url';
import { loadBundle } from './bundleLoader.js';

if (!('navigator' in globalThis)) {
  const global = globalThis as { navigator?: unknown };
  Object.defineProperty(global, 'navigator', { value: { userAgent: `Node.js/${process.versions.node}` }, configurable: true });
  try {
    await import('pg');
  } finally {
    delete global.navigator;
  }
}
// Set by the build only: run once without the cache, then write what V8 compiled.
const writingCache = process.env.MIGRATE_WRITE_CODE_CACHE === '1';
// With --enable-source-maps, the modules as tsc built them, whose maps lead to
// src/: Node does not map code that vm compiled (README, Troubleshooting).
const bundle = process.sourceMapsEnabled
  ? null
  : loadBundle(fileURLToPath(new URL('./cliMain.cjs', import.meta.url)), { ignoreCache: writingCache });
const main = bundle?.main ?? (await import('./cli/main.js')).main;
process.exitCode = await main(process.argv.slice(2));
if (writingCache) bundle?.writeCache();
