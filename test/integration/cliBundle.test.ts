/**
 * The bundled command and its V8 code cache (scripts/build-cli.mjs,
 * src/bundleLoader.ts): the build's cache is one this Node accepts, and a
 * cache that does not fit is ignored, not fatal. Runs after `npm run build`
 * (pretest), each check in a Node process of its own.
 */
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTestDatabase } from '../helpers/database.js';
import { ABC, createMigrationsFolder } from '../helpers/migrationsFolder.js';
import { CLI_PATH, PROJECT_ROOT, cleanEnv, runCli, runNodePgMigrate, runProcess } from '../helpers/processes.js';

const DIST = join(PROJECT_ROOT, 'dist');

/** Loads `bundle` with dist/bundleLoader.js, prints how its cache went, then runs `migrate --help`. */
const loadAndRun = (bundle: string) =>
  runProcess(process.execPath, [
    '--input-type=module',
    '-e',
    `const { loadBundle } = await import(${JSON.stringify(join(DIST, 'bundleLoader.js'))});
     const loaded = loadBundle(${JSON.stringify(bundle)});
     const code = await loaded.main(['--help']);
     console.error('cache: ' + loaded.cache + ', exit ' + code);`,
  ]);

test('the build writes a code cache this Node compiles the bundle from', async () => {
  const r = await loadAndRun(join(DIST, 'cliMain.cjs'));
  expect(r.stderr).toContain('cache: used, exit 0');
});

test('a code cache that does not fit is ignored and the command still runs', async () => {
  // A sibling of dist/: the copy finds the project's packages and package.json as the bundle does.
  const dir = await mkdtemp(join(PROJECT_ROOT, '.bundle-test-'));
  try {
    await copyFile(join(DIST, 'cliMain.cjs'), join(dir, 'cliMain.cjs'));
    await writeFile(join(dir, 'cliMain.cjs.v8cache'), Buffer.alloc(4096, 7));
    const r = await loadAndRun(join(dir, 'cliMain.cjs'));
    expect(r.stderr).toContain('cache: rejected, exit 0');
    expect(r.stdout).toMatch(/^Usage: migrate/m);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('with NODE_OPTIONS=--enable-source-maps a debug stack names src/ files (README, Troubleshooting)', async () => {
  const args = ['status', '--dir', '/nonexistent-migrations', '--database-url', 'postgres://x@127.0.0.1:1/x', '--log-level', 'debug'];
  const env = cleanEnv({ LOG_FORMAT: 'pretty' });
  const mapped = await runCli(args, { env: { ...env, NODE_OPTIONS: '--enable-source-maps' } });
  expect(mapped.code).toBe(2);
  expect(mapped.stderr).toMatch(/src\/cli\/main\.ts:\d+:\d+/);
  const bundled = await runCli(args, { env });
  expect(bundled.stderr).toMatch(/dist\/cliMain\.cjs:\d+:\d+/);
});

/** Node loader hooks, as a --import data: URL, that make `import('node-pg-migrate')` throw. */
const FORBID_NODE_PG_MIGRATE =
  'data:text/javascript,' +
  encodeURIComponent(
    `import { register } from 'node:module';
     register('data:text/javascript,' + encodeURIComponent(
       'export async function resolve(s, c, next) { if (s === "node-pg-migrate") throw new Error("node-pg-migrate was imported"); return next(s, c); }'));`,
  );

test('applying .sql migrations never imports node-pg-migrate; a .js one does', async () => {
  const db = await createTestDatabase('sqlonly');
  const folder = await createMigrationsFolder(ABC);
  try {
    const auto = () =>
      runProcess(process.execPath, ['--import', FORBID_NODE_PG_MIGRATE, CLI_PATH, 'auto', '--dir', folder.dir], {
        env: cleanEnv({ DATABASE_URL: db.url }),
      });
    const sqlOnly = await auto();
    expect(sqlOnly.stderr).not.toContain('node-pg-migrate was imported');
    expect(sqlOnly.code).toBe(0);
    expect(await db.query('SELECT name FROM pgmigrations ORDER BY id')).toHaveLength(3);
    // The hook works: a JavaScript migration needs MigrationBuilder, so the same run fails.
    await folder.write('0004_d.js', 'export const up = (pgm) => { pgm.createTable("d", { id: "id" }); };\n');
    const withJs = await auto();
    expect(withJs.code).toBe(1);
    expect(withJs.stderr).toContain('node-pg-migrate was imported');
  } finally {
    await folder.dispose();
    await db.drop();
  }
});

/** Node loader hooks that make any import of the embedded PostgreSQL launcher (dist/embedded/) throw. */
const FORBID_EMBEDDED =
  'data:text/javascript,' +
  encodeURIComponent(
    `import { register } from 'node:module';
     register('data:text/javascript,' + encodeURIComponent(
       'export async function resolve(s, c, next) { const r = await next(s, c); if (r.url.includes("/dist/embedded/")) throw new Error("the embedded launcher was imported"); return r; }'));`,
  );

test('a start never imports the embedded PostgreSQL launcher; a replay on the embedded scratch server does', async () => {
  const db = await createTestDatabase('noembedded');
  const folder = await createMigrationsFolder(ABC);
  try {
    const run = (...args: string[]) =>
      runProcess(process.execPath, ['--import', FORBID_EMBEDDED, CLI_PATH, ...args, '--dir', folder.dir], {
        env: cleanEnv({ DATABASE_URL: db.url, MIGRATE_SCRATCH_URL: undefined }),
      });
    for (const args of [['auto'], ['auto'], ['status']]) {
      const r = await run(...args);
      expect([args, r.code, r.stderr.includes('the embedded launcher was imported')]).toEqual([args, 0, false]);
    }
    // The hook works: a snapshot replays on an embedded cluster, so the same run fails.
    const snapshot = await run('snapshot');
    expect(snapshot.code).not.toBe(0);
    expect(snapshot.stderr).toContain('the embedded launcher was imported');
  } finally {
    await folder.dispose();
    await db.drop();
  }
});

test('pgm.db parses rows with the installed pg\'s type parsers, as plain node-pg-migrate does (the command bundles its own pg)', async () => {
  // The same file the package 'pg' resolves to, so the same module instance.
  const installedPg = join(PROJECT_ROOT, 'node_modules', 'pg', 'lib', 'index.js');
  const migration =
    `import pg from ${JSON.stringify(installedPg)};\n` +
    'pg.types.setTypeParser(20, (text) => Number(text));\n' +
    'export async function up(pgm) {\n' +
    "  const [row] = await pgm.db.select('SELECT 7::int8 AS n');\n" +
    '  pgm.sql(`CREATE TABLE int8_parsed_as_${typeof row.n} ()`);\n' +
    '}\n';
  const folder = await createMigrationsFolder({ '0001_types.js': migration });
  const ours = await createTestDatabase('types');
  const theirs = await createTestDatabase('types');
  const tables = (db: typeof ours) =>
    db.query<{ name: string }>("SELECT relname AS name FROM pg_class WHERE relname LIKE 'int8_parsed_as_%'");
  try {
    expect((await runCli(['auto', '--dir', folder.dir], { env: cleanEnv({ DATABASE_URL: ours.url }) })).code).toBe(0);
    expect((await runNodePgMigrate(['up', '-m', folder.dir], { env: cleanEnv({ DATABASE_URL: theirs.url }) })).code).toBe(0);
    expect(await tables(theirs)).toEqual([{ name: 'int8_parsed_as_number' }]);
    expect(await tables(ours)).toEqual(await tables(theirs));
  } finally {
    await folder.dispose();
    await ours.drop();
    await theirs.drop();
  }
});
