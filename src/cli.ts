#!/usr/bin/env node
/**
 * The `migrate` command. The body is cliMain.ts (bundled into dist/cliMain.js
 * by scripts/build-cli.mjs); this entry only makes pg load cheaply first.
 *
 * pg 8 tells Cloudflare Workers apart when it loads (pg/lib/stream.js): with
 * no global `navigator` it asks `typeof Response`, and on Node 20, which has
 * no `navigator` before 21, that loads Node's bundled undici: ~12 ms of every
 * start, a tenth of a no-op one (issue 6, bench/). A `navigator` that is not
 * Cloudflare's answers first; it exists only while pg loads, so nothing else
 * (a migration, node-pg-migrate) ever sees it.
 */
if (!('navigator' in globalThis)) {
  const global = globalThis as { navigator?: unknown };
  Object.defineProperty(global, 'navigator', { value: { userAgent: `Node.js/${process.versions.node}` }, configurable: true });
  try {
    await import('pg');
  } finally {
    delete global.navigator;
  }
}
await import('./cliMain.js');
