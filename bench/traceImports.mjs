/**
 * `node --import ./bench/traceImports.mjs …`: appends every module URL that
 * Node's ESM loader resolves to the file named by BENCH_TRACE_FILE, so the
 * bench can check that a no-op start imports neither node-pg-migrate (nor
 * jiti) nor any migration module; at exit, also Node's own undici if it was
 * loaded (pg's Cloudflare check loads it on Node 20 unless src/cli.ts stops it).
 */
import { appendFileSync } from 'node:fs';
import { register } from 'node:module';

register(new URL('./traceImportsHooks.mjs', import.meta.url), { data: { file: process.env.BENCH_TRACE_FILE } });

process.on('exit', () => {
  const file = process.env.BENCH_TRACE_FILE;
  const undici = process.moduleLoadList.filter((m) => m.includes('undici'));
  if (file && undici.length) appendFileSync(file, `${undici.map((m) => `node builtin ${m}`).join('\n')}\n`);
});
