/**
 * `node --import ./bench/traceImports.mjs …`: appends every module URL that
 * Node's ESM loader resolves to the file named by BENCH_TRACE_FILE, so the
 * bench can check that a no-op start imports neither node-pg-migrate (nor
 * jiti) nor any migration module.
 */
import { register } from 'node:module';

register(new URL('./traceImportsHooks.mjs', import.meta.url), { data: { file: process.env.BENCH_TRACE_FILE } });
