#!/usr/bin/env node
/**
 * Bundles the `migrate` command into one file, dist/cliMain.cjs, behind its
 * small entry dist/cli.js, after tsc has built the library into dist/, and
 * writes the V8 code cache the entry compiles the bundle with.
 *
 * Why: every container start pays the command's start-up. Node resolves and
 * loads each module file on its own; our ~30 modules plus commander and
 * winston's ~100 CommonJS files were a third of a no-op start. One file cuts
 * most of that (bench/RESULTS.md, issue 6).
 *
 * Bundled with our modules: what every start loads, commander, winston and
 * pg (with pg-connection-string and pg's own dependencies). pg alone was ~19 ms
 * of CPU of a start loaded as a package, ~15% of a no-op; 16 replicas started
 * at once ran 0.2 s faster with it bundled (issue 6). So the command carries
 * the pg that was installed when it was built (the Docker image builds it from
 * the lockfile). Migration files that import pg get the installed one;
 * `pgm.db` results use its type parsers (src/files/migrationModules.ts).
 *
 * Every other dependency stays a package: node-pg-migrate (loaded only when a
 * JS/TS migration runs; the instance migration files import), jiti and
 * sucrase (TypeScript migrations), ajv (only with a config file). The library
 * (dist/index.js) is not bundled: applications import it with their own
 * dependencies.
 */
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const { dependencies } = JSON.parse(readFileSync(`${root}package.json`, 'utf8'));

/** Loaded on every start, so worth bundling; every other dependency stays a package, loaded when used. */
const BUNDLED = new Set(['commander', 'winston', 'pg', 'pg-connection-string']);

/** Shared with bench/, which bundles its "floor with the CLI's libraries" the same way. */
export const bundleOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: [...Object.keys(dependencies).filter((name) => !BUNDLED.has(name)), 'pg-native'],
  // winston and its dependencies are CommonJS and require() Node's built-ins;
  // an ES module has no require of its own.
  banner: { js: "import { createRequire as createRequireForBundle } from 'node:module';\nconst require = createRequireForBundle(import.meta.url);" },
  // Smaller is faster to parse. Identifiers are not mangled, so a --log-level
  // debug stack still names real functions; NODE_OPTIONS=--enable-source-maps
  // maps it back to src/ (README, Troubleshooting).
  minifyWhitespace: true,
  minifySyntax: true,
  // winston's internal debug channel, @dabh/diagnostics, picks its development
  // build unless NODE_ENV=production; that build loads a colour library at
  // start-up (~5 ms) to colour output only DEBUG=winston* would show. Use the
  // production build always.
  alias: { '@dabh/diagnostics': '@dabh/diagnostics/node/production.js' },
  logLevel: 'warning',
};

export async function buildCli() {
  // The entry stays a file of its own: it must run before pg loads, and it
  // compiles the bundle with the code cache (src/cli.ts).
  await build({
    ...bundleOptions,
    absWorkingDir: root,
    entryPoints: ['src/cli.ts'],
    outfile: 'dist/cli.js',
    external: [...bundleOptions.external, './cli/main.js'],
    banner: {},
  });
  // CommonJS, run by src/cli.ts inside a function that supplies require,
  // import.meta.url and import() (code from V8's code cache cannot import()
  // on Node 20: src/files/importPackage.ts).
  await build({
    ...bundleOptions,
    absWorkingDir: root,
    entryPoints: ['src/cliMain.ts'],
    outfile: 'dist/cliMain.cjs',
    format: 'cjs',
    banner: {},
    define: { 'import.meta.url': '__importMetaUrl' },
    plugins: [lendImportPackage, keepEmbeddedOut],
    // No map: with --enable-source-maps the entry loads dist/cli/main.js and its tsc maps instead.
  });
  chmodSync(`${root}dist/cli.js`, 0o755);
  rmSync(`${root}dist/cliMain.cjs.v8cache`, { force: true });
  writeCodeCache();
}

/**
 * Runs the command once so that V8 compiles what a start runs, then writes
 * it out for every later start. The run is an `auto` as a container start
 * makes it, up to where it needs a server (there is none at build time): it
 * resolves its settings, logs, reads and hashes a folder of migrations, and
 * fails to connect. A cache warmed so saved ~2.5 ms of CPU of a no-op start
 * over one warmed by `--help` (issue 6).
 */
function writeCodeCache() {
  const folder = mkdtempSync(join(tmpdir(), 'migrate-warm-up-'));
  try {
    writeFileSync(join(folder, '0001_first.sql'), 'CREATE TABLE first (id int);\n');
    writeFileSync(join(folder, '0002_second.js'), 'export const up = (pgm) => pgm.sql("SELECT 1");\n');
    const run = spawnSync(
      process.execPath,
      [`${root}dist/cli.js`, 'auto', '--dir', folder, '--database-url', 'postgres://warm-up@127.0.0.1:1/warm-up'],
      // Only what Node needs: the run must take the path a start takes (no NODE_OPTIONS, no settings).
      { env: { PATH: process.env.PATH, HOME: process.env.HOME, MIGRATE_WRITE_CODE_CACHE: '1' }, stdio: 'ignore' },
    );
    if (!existsSync(`${root}dist/cliMain.cjs.v8cache`)) {
      throw new Error(`the code cache was not written (the warm-up run exited ${run.status ?? run.signal ?? run.error})`);
    }
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

/** src/files/importPackage.ts in the bundle: the entry's import(), passed in as __importPackage. */
const lendImportPackage = {
  name: 'lend-import-package',
  setup(build) {
    build.onLoad({ filter: /[\\/]src[\\/]files[\\/]importPackage\.ts$/ }, () => ({
      contents: 'export const importPackage = (specifier) => __importPackage(specifier);',
      loader: 'js',
    }));
  },
};

/**
 * src/fingerprints/loadEmbedded.ts in the bundle: the embedded PostgreSQL
 * launcher is imported from dist/embedded/ when a replay needs it, never
 * bundled, so the bundle every start compiles does not carry it.
 */
const keepEmbeddedOut = {
  name: 'keep-embedded-out',
  setup(build) {
    build.onLoad({ filter: /[\\/]src[\\/]fingerprints[\\/]loadEmbedded\.ts$/ }, () => ({
      contents: "export const loadEmbedded = () => __importPackage(new URL('./embedded/index.js', __importMetaUrl).href);",
      loader: 'js',
    }));
  },
};

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildCli();
