#!/usr/bin/env node
/**
 * `npm run bench`: the runner against its floor and its peers, on generated
 * workloads, in scratch databases. Prints medians and ratios and writes them
 * to bench/RESULTS.md. A benchmark, not a test: nothing here fails on a time.
 *
 * Environment:
 *   BENCH_RUNS          runs per contender (default 5); the median is reported
 *   BENCH_QUICK_RUNS    runs in the no-op and replicas scenarios (default 15): their runs are short,
 *                       so a noisy neighbour moves a median of five by several percent
 *   BENCH_ONLY          comma list of scenarios: noop,noop-large,apply,replicas,memory,legacy,scratch,demo,autogenerate,scale
 *   BENCH_SCRATCH_RUNS  runs in the scratch scenario (default 3: each replays BENCH_FILES migrations)
 *   BENCH_FILES         migrations in the no-op, apply and memory workloads (default 1000)
 *   BENCH_LARGE_FILES   SQL migrations in the long-history no-op (default 10000)
 *   BENCH_REPLICAS      processes in the replicas scenario (default 16)
 *   BENCH_TABLES        tables in the legacy schema (default 2000)
 *   BENCH_SCALE_SIZES   history lengths in the scale scenario (default 300,600,1000)
 *   BENCH_SCALE_ROUNDS  rounds of each length there (default 3): ratios are paired within a round
 *   BENCH_MEMORY_RUNS   runs in the memory scenario (default 3, at most BENCH_RUNS)
 *   BENCH_DATABASE_URL  server to use (default postgres://postgres@127.0.0.1:5432/postgres)
 *   BENCH_NO_WRITE=1    print only; leave bench/RESULTS.md alone
 *
 * Needs `npm run build` first, psql and pg_dump on PATH; installs its peers
 * (node-pg-migrate 9, dbmate) into bench/.peers on first use.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleOptions } from '../scripts/build-cli.mjs';
import { build } from 'esbuild';
import {
  SERVER_URL, coldCacheEnv, dbmateUrlOf, dropDatabase, freshDatabase, log, median, mustRun, timed, urlOf, withDatabase,
} from './lib.mjs';
import { scaleScenario } from './snapshotScale.mjs';
import {
  LEGACY_PRELUDE, legacyTableDdl, writeConcatenatedSql, writeDbmateMigrations, writeLegacyMigrations,
  writeModuleMigrations, writeSqlMigrations,
} from './workloads.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BENCH = join(ROOT, 'bench');
const WORK = join(BENCH, '.work');
const PEERS = join(BENCH, '.peers');
const CLI = join(ROOT, 'dist', 'cli.js');
const NPM_BIN = join(PEERS, 'node_modules', 'node-pg-migrate', 'bin', 'node-pg-migrate.js');
const DBMATE_BIN = join(PEERS, 'node_modules', '@dbmate', `${process.platform}-${process.arch}`, 'bin', 'dbmate');
const TIME_BIN = '/usr/bin/time';

const RUNS = positive(process.env.BENCH_RUNS, 5);
const QUICK_RUNS = positive(process.env.BENCH_QUICK_RUNS, 15);
const FILES = positive(process.env.BENCH_FILES, 1000);
const LARGE_FILES = positive(process.env.BENCH_LARGE_FILES, 10000);
const REPLICAS = positive(process.env.BENCH_REPLICAS, 16);
const TABLES = positive(process.env.BENCH_TABLES, 2000);
const REPLICA_MIGRATIONS = 50;
/** Peak RSS hardly varies between runs; the TS/JS runs take ~15 s each with a cold jiti cache. */
const MEMORY_RUNS = positive(process.env.BENCH_MEMORY_RUNS, 3);
const SCRATCH_RUNS = positive(process.env.BENCH_SCRATCH_RUNS, 3);
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',').map((s) => s.trim())) : null;
const NODE = process.execPath;

function positive(value, fallback) {
  const n = Number(value);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

// ---------------------------------------------------------------- set-up

function ensureBuilt() {
  if (!existsSync(CLI)) throw new Error('dist/cli.js is missing: run `npm run build` first (npm run bench does)');
}

function ensurePeers() {
  if (existsSync(NPM_BIN) && existsSync(DBMATE_BIN)) return;
  log('installing node-pg-migrate@9 and dbmate into bench/.peers');
  mkdirSync(PEERS, { recursive: true });
  execFileSync('npm', ['install', '--prefix', PEERS, '--no-audit', '--no-fund', '--loglevel=error', 'node-pg-migrate@9', 'dbmate'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (!existsSync(DBMATE_BIN)) throw new Error(`dbmate ships no binary for ${process.platform}-${process.arch} (${DBMATE_BIN})`);
}

const versionOf = (pkgDir) => JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')).version;

async function environment() {
  const server = await withDatabase('postgres', async (c) => (await c.query('SHOW server_version')).rows[0].server_version);
  const git = (args) => {
    try {
      return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
    } catch {
      return '';
    }
  };
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    cores: cpus().length,
    cpu: cpus()[0]?.model?.trim() ?? 'unknown',
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    kernel: release(),
    node: process.version,
    postgres: server,
    psql: execFileSync('psql', ['--version'], { encoding: 'utf8' }).trim(),
    runner: `${versionOf(ROOT)} (${git(['rev-parse', '--short', 'HEAD'])}${git(['status', '--porcelain', '--', 'src']) ? ', src modified' : ''})`,
    runnerNodePgMigrate: versionOf(join(ROOT, 'node_modules', 'node-pg-migrate')),
    nodePgMigrate: versionOf(join(PEERS, 'node_modules', 'node-pg-migrate')),
    dbmate: execFileSync(DBMATE_BIN, ['--version'], { encoding: 'utf8' }).trim().replace(/^dbmate version /, ''),
  };
}

// ---------------------------------------------------------------- contenders

const migrate = (args, dir, url) => [NODE, [CLI, ...args, '--dir', dir, '--database-url', url]];
const nodePgMigrateUp = (dir, extra = []) => [NODE, [NPM_BIN, 'up', '--migrations-dir', dir, ...extra]];
const dbmateUp = (dir, name) => [DBMATE_BIN, ['--url', dbmateUrlOf(name), '--migrations-dir', dir, '--no-dump-schema', 'up']];

/**
 * Runs every contender `runs` times, interleaved (run 1 of each, run 2 of
 * each, …) so that a noisy neighbour hurts all of them alike. `prepare` runs
 * untimed before each timed run (e.g. a fresh database).
 */
async function measure(scenario, contenders, runs = RUNS) {
  const times = new Map(contenders.map((c) => [c.label, []]));
  for (let run = 0; run < runs; run++) {
    for (const c of contenders) {
      const prepared = (await c.prepare?.()) ?? {};
      const cold = coldCacheEnv({ ...process.env, ...c.env });
      try {
        const [command, args] = c.command(prepared);
        const result = await mustRun(command, args, { env: cold.env, cwd: c.cwd, okCodes: c.okCodes });
        await c.check?.(result, prepared);
        times.get(c.label).push(result.ms);
      } finally {
        cold.cleanup();
      }
    }
    log(`${scenario}: run ${run + 1}/${runs} done`);
  }
  return contenders.map((c) => ({ label: c.label, baseline: Boolean(c.baseline), times: times.get(c.label), median: median(times.get(c.label)) }));
}

// ---------------------------------------------------------------- scenarios

/** A no-op `migrate auto` run's check: it saw a current database. */
async function expectCurrent(r) {
  if (!/"state":"current"|state: current/.test(r.stderr)) throw new Error(`migrate auto did not see a current database:\n${r.stderr.slice(-500)}`);
}

/**
 * No-op start with a long history: 10,000 SQL files, all applied. Each
 * creates a function: 10,000 tables built in one transaction would exceed the
 * default max_locks_per_transaction, and the start reads and hashes the
 * files whatever they hold.
 */
async function noopLargeScenario(report) {
  const count = LARGE_FILES;
  const home = join(WORK, 'noop-large');
  const dir = join(home, 'migrations');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const pad = (i) => String(i).padStart(5, '0');
  for (let i = 1; i <= count; i++) {
    writeFileSync(join(dir, `${pad(i)}_f${pad(i)}.sql`), `-- Up Migration\nCREATE FUNCTION f${pad(i)}() RETURNS int LANGUAGE sql AS 'SELECT ${i}';\n\n-- Down Migration\nDROP FUNCTION f${pad(i)}();\n`);
  }
  const db = 'bench_noop_large';
  const url = await freshDatabase(db);
  try {
    log(`noop-large: applying ${count} migrations once (untimed)`);
    await mustRun(...migrate(['auto'], dir, url), { cwd: home });
    const results = await measure('noop-large', [
      { label: 'floor: node + pg, read history once', baseline: true, cwd: home, command: () => [NODE, [join(BENCH, 'floor.mjs'), url]] },
      { label: 'floor + read and hash every file', cwd: home, command: () => [NODE, [join(BENCH, 'floorReadingFiles.mjs'), url, dir]] },
      {
        label: '`migrate auto`',
        cwd: home,
        command: () => migrate(['auto'], dir, url),
        check: expectCurrent,
      },
    ], QUICK_RUNS);
    report.sections.push({ title: `No-op start: ${count} SQL migrations, database current`, results });
    const [floor, auto] = results.map((r) => r.median);
    report.goals.push(goal('No-op start, long history', `\`migrate auto\` ÷ floor, ${count} files`, auto / floor, 1.25));
  } finally {
    await dropDatabase(db);
  }
}

/** No-op start: 1,000 TS/JS migrations, all applied, no warm jiti cache. */
async function noopScenario(report) {
  const home = join(WORK, 'noop');
  const dir = writeModuleMigrations(join(home, 'migrations'), FILES);
  const dbmateDir = writeDbmateMigrations(
    join(home, 'dbmate'),
    FILES,
    (i) => `CREATE TABLE t${String(i).padStart(4, '0')} (id serial PRIMARY KEY, name text NOT NULL);`,
  );
  // jiti caches next to `<cwd>/../node_modules` when that exists, else in $TMPDIR/jiti.
  rmSync(join(WORK, 'node_modules'), { recursive: true, force: true });
  rmSync(join(PEERS, 'node_modules', '.cache', 'jiti'), { recursive: true, force: true });

  const db = 'bench_noop';
  const dbmateDb = 'bench_noop_dbmate';
  const url = await freshDatabase(db);
  await freshDatabase(dbmateDb);
  try {
    log(`noop: applying ${FILES} migrations once (untimed)`);
    const cold = coldCacheEnv();
    const setup = await mustRun(...migrate(['auto'], dir, url), { env: cold.env, cwd: home });
    const jitiCache = existsSync(join(cold.dir, 'jiti')) ? readdirSync(join(cold.dir, 'jiti')).length : 0;
    cold.cleanup();
    await mustRun(...dbmateUp(dbmateDir, dbmateDb));
    log(`noop: set-up took ${(setup.ms / 1000).toFixed(1)} s; ${jitiCache} loader cache files written into the per-run temp folder`);

    report.checks.push(await noopImportCheck(dir, url, home));

    const historyCount = () => withDatabase(db, async (c) => Number((await c.query('SELECT count(*) FROM pgmigrations')).rows[0].count));
    const expectNoop = async () => {
      const n = await historyCount();
      if (n !== FILES) throw new Error(`no-op run changed the history: ${n} rows`);
    };
    const floorWithLibraries = join(WORK, 'floorWithLibraries.js');
    // pg stays a package, as in the floor: the row adds only commander and winston to it.
    await build({
      ...bundleOptions,
      absWorkingDir: ROOT,
      entryPoints: [join(BENCH, 'floorWithLibraries.mjs')],
      outfile: floorWithLibraries,
      external: [...bundleOptions.external, 'pg'],
    });
    const results = await measure('noop', [
      { label: 'floor: node + pg, read history once', baseline: true, cwd: home, command: () => [NODE, [join(BENCH, 'floor.mjs'), url]] },
      {
        label: 'for scale: the floor + commander + winston (bundled as `migrate` is, no code cache)',
        cwd: home,
        command: () => [NODE, [floorWithLibraries, '--database-url', url, 'auto']],
      },
      {
        label: '`migrate auto`',
        cwd: home,
        command: () => migrate(['auto'], dir, url),
        check: expectCurrent,
      },
      { label: '`node-pg-migrate up`', cwd: home, env: { DATABASE_URL: url }, command: () => nodePgMigrateUp(dir), check: expectNoop },
      { label: '`dbmate up` (its own SQL files, same DDL)', cwd: home, command: () => dbmateUp(dbmateDir, dbmateDb) },
    ], QUICK_RUNS);
    report.sections.push({
      title: `No-op start: ${FILES} migrations (half .ts, half .js), database current, cold jiti cache`,
      results,
    });
    const [floor, , auto, npm] = results.map((r) => r.median);
    report.goals.push(
      goal('No-op start', '`migrate auto` ÷ floor', auto / floor, 1.25),
      goal('No-op start', '`migrate auto` ÷ `node-pg-migrate up`', auto / npm, 0.5),
    );
  } finally {
    await dropDatabase(db);
    await dropDatabase(dbmateDb);
  }
}

/** Runs `migrate auto` once on a current database with an import tracer: nothing of node-pg-migrate, the migrations or undici may load. */
async function noopImportCheck(dir, url, home) {
  const traceFile = join(WORK, 'noop-imports.txt');
  rmSync(traceFile, { force: true });
  const cold = coldCacheEnv({ ...process.env, BENCH_TRACE_FILE: traceFile });
  try {
    const [command, args] = migrate(['auto'], dir, url);
    await mustRun(command, ['--import', join(BENCH, 'traceImports.mjs'), ...args], { env: cold.env, cwd: home });
  } finally {
    cold.cleanup();
  }
  const urls = readFileSync(traceFile, 'utf8').split('\n').filter(Boolean);
  const offending = urls.filter((u) => /node-pg-migrate|\/jiti\/|\/\.work\/noop\/migrations\/|undici|\/dist\/embedded\//.test(u));
  return {
    name: 'no-op start imports',
    ok: offending.length === 0,
    detail: offending.length
      ? `imported ${offending.length} forbidden modules, e.g. ${offending[0]}`
      : `${new Set(urls).size} modules resolved; none of node-pg-migrate, jiti, the migration files, the embedded PostgreSQL launcher or Node's undici`,
  };
}

/** Apply: 1,000 pending one-table SQL migrations on a fresh database. */
async function applyScenario(report) {
  const home = join(WORK, 'apply');
  const dir = writeSqlMigrations(join(home, 'migrations'), FILES);
  const allSql = writeConcatenatedSql(join(home, 'all.sql'), FILES);
  const dbmateDir = writeDbmateMigrations(join(home, 'dbmate'), FILES);
  const db = 'bench_apply';
  const fresh = async () => ({ url: await freshDatabase(db) });
  const expectTables = async () => {
    const n = await withDatabase(db, async (c) =>
      Number((await c.query(`SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename ~ '^t[0-9]{4}$'`)).rows[0].count),
    );
    if (n !== FILES) throw new Error(`expected ${FILES} tables after the run, found ${n}`);
  };
  try {
    const results = await measure('apply', [
      {
        label: '`psql --single-transaction -f all.sql`',
        baseline: true,
        cwd: home,
        prepare: fresh,
        command: ({ url }) => ['psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--single-transaction', '-d', url, '-f', allSql]],
        check: expectTables,
      },
      { label: '`migrate auto`', cwd: home, prepare: fresh, command: ({ url }) => migrate(['auto'], dir, url), check: expectTables },
      {
        label: '`node-pg-migrate up` (CLI default: --single-transaction)',
        cwd: home,
        prepare: fresh,
        env: { DATABASE_URL: urlOf(db) },
        command: () => nodePgMigrateUp(dir),
        check: expectTables,
      },
      {
        label: '`node-pg-migrate up --no-single-transaction`',
        cwd: home,
        prepare: fresh,
        env: { DATABASE_URL: urlOf(db) },
        command: () => nodePgMigrateUp(dir, ['--no-single-transaction']),
        check: expectTables,
      },
      { label: '`dbmate up` (a transaction per migration)', cwd: home, prepare: fresh, command: () => dbmateUp(dbmateDir, db), check: expectTables },
    ]);
    report.sections.push({ title: `Apply: ${FILES} pending SQL migrations (one CREATE TABLE each), fresh database`, results });
    report.goals.push(goal('Apply', '`migrate auto` ÷ `psql --single-transaction`', results[1].median / results[0].median, 1.15));
  } finally {
    await dropDatabase(db);
  }
}

/** Replicas: REPLICAS `migrate auto` at once on a fresh database with 50 migrations. */
async function replicasScenario(report) {
  const home = join(WORK, 'replicas');
  const dir = writeSqlMigrations(join(home, 'migrations'), REPLICA_MIGRATIONS, 'r');
  const db = 'bench_replicas';
  const verify = async () =>
    withDatabase(db, async (c) => {
      const { rows } = await c.query(
        `SELECT count(*)::int AS rows, count(DISTINCT name)::int AS names,
                (SELECT count(*)::int FROM pgmigrations_meta) AS meta FROM pgmigrations`,
      );
      return rows[0];
    });
  const single = [];
  const together = [];
  const floors = [];
  const failures = [];
  try {
    for (let run = 0; run < QUICK_RUNS; run++) {
      let url = await freshDatabase(db);
      let cold = coldCacheEnv();
      const one = await mustRun(...migrate(['auto'], dir, url), { env: cold.env, cwd: home });
      cold.cleanup();
      single.push(one.ms);

      url = await freshDatabase(db);
      cold = coldCacheEnv();
      const started = process.hrtime.bigint();
      const all = await Promise.all(
        Array.from({ length: REPLICAS }, () => timed(...migrate(['auto'], dir, url), { env: cold.env, cwd: home })),
      );
      together.push(Number(process.hrtime.bigint() - started) / 1e6);
      cold.cleanup();
      // What 16 Node processes cost on this machine anyway: 16 floors at once.
      const floorsStarted = process.hrtime.bigint();
      await Promise.all(Array.from({ length: REPLICAS }, () => mustRun(NODE, [join(BENCH, 'floor.mjs'), url], { cwd: home })));
      floors.push(Number(process.hrtime.bigint() - floorsStarted) / 1e6);
      const bad = all.filter((r) => r.code !== 0);
      const history = await verify();
      if (bad.length) failures.push(`run ${run + 1}: ${bad.length} processes exited non-zero (${bad[0].stderr.trim().split('\n').pop()})`);
      if (history.rows !== REPLICA_MIGRATIONS || history.names !== REPLICA_MIGRATIONS || history.meta !== REPLICA_MIGRATIONS) {
        failures.push(`run ${run + 1}: history has ${history.rows} rows, ${history.names} distinct names, ${history.meta} meta rows`);
      }
      log(`replicas: run ${run + 1}/${QUICK_RUNS} done`);
    }
  } finally {
    await dropDatabase(db);
  }
  const results = [
    { label: 'one `migrate auto`', baseline: true, times: single, median: median(single) },
    { label: `${REPLICAS} \`migrate auto\` started at once (wall time until the last exits)`, times: together, median: median(together) },
    { label: `for scale: ${REPLICAS} floors (node + pg, read history) started at once`, times: floors, median: median(floors) },
  ];
  report.sections.push({
    title: `Replicas: ${REPLICAS} runners at once, ${REPLICA_MIGRATIONS} SQL migrations, fresh database`,
    results,
    note:
      `Starting ${REPLICAS} Node processes at once on ${cpus().length} cores costs what the last row shows before any runner ` +
      'does any work; the runners themselves wait on the lock, see the database current, and exit.',
  });
  report.checks.push({
    name: `${REPLICAS} replicas at once`,
    ok: failures.length === 0,
    detail: failures.length
      ? failures.join('; ')
      : `every process exited 0 in all ${QUICK_RUNS} runs; history had exactly ${REPLICA_MIGRATIONS} rows, one per migration, every time`,
  });
  const extraMs = results[1].median - results[0].median;
  report.goals.push({
    scenario: 'Replicas',
    what: `${REPLICAS} at once − one runner`,
    value: `${(extraMs / 1000).toFixed(2)} s (${(results[1].median / results[0].median).toFixed(2)}×)`,
    limit: '≤ 1 s',
    met: extraMs <= 1000 && failures.length === 0,
  });
}

/** Memory: peak RSS of `migrate auto` with FILES pending. */
async function memoryScenario(report) {
  const moduleDir = existsSync(join(WORK, 'noop', 'migrations')) && readdirSync(join(WORK, 'noop', 'migrations')).length === FILES
    ? join(WORK, 'noop', 'migrations')
    : writeModuleMigrations(join(WORK, 'memory', 'modules'), FILES);
  const sqlDir = existsSync(join(WORK, 'apply', 'migrations')) && readdirSync(join(WORK, 'apply', 'migrations')).length === FILES
    ? join(WORK, 'apply', 'migrations')
    : writeSqlMigrations(join(WORK, 'memory', 'sql'), FILES);
  const home = join(WORK, 'memory');
  mkdirSync(home, { recursive: true });
  const db = 'bench_memory';
  const useTime = existsSync(TIME_BIN);
  const rssFile = join(home, 'maxrss.txt');

  /** Peak RSS in MiB of one process: /usr/bin/time -v, else process.resourceUsage() at exit. */
  const peak = async (command, args, env) => {
    if (useTime) {
      const r = await mustRun(TIME_BIN, ['-v', command, ...args], { env, cwd: home });
      const kb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1]);
      if (!kb) throw new Error('no "Maximum resident set size" in /usr/bin/time -v output');
      return kb / 1024;
    }
    rmSync(rssFile, { force: true });
    await mustRun(command, ['--import', join(BENCH, 'maxrss.mjs'), ...args], { env: { ...env, BENCH_RSS_FILE: rssFile }, cwd: home });
    return Number(readFileSync(rssFile, 'utf8')) / 1024;
  };

  const contenders = [
    { label: 'floor: node + pg, read history once', baseline: true, run: (url) => [NODE, [join(BENCH, 'floor.mjs'), url]], fresh: false },
    { label: `\`migrate auto\`, ${FILES} pending .ts/.js`, run: (url) => migrate(['auto'], moduleDir, url), fresh: true },
    { label: `\`migrate auto\`, ${FILES} pending .sql`, run: (url) => migrate(['auto'], sqlDir, url), fresh: true },
  ];
  const samples = new Map(contenders.map((c) => [c.label, []]));
  const runs = Math.min(RUNS, MEMORY_RUNS);
  try {
    for (let run = 0; run < runs; run++) {
      for (const c of contenders) {
        const url = await freshDatabase(db);
        if (!c.fresh) await withDatabase(db, (client) => client.query('CREATE TABLE pgmigrations (id serial PRIMARY KEY, name varchar(255) NOT NULL, run_on timestamp NOT NULL)'));
        const cold = coldCacheEnv();
        try {
          const [command, args] = c.run(url);
          samples.get(c.label).push(await peak(command, args, cold.env));
        } finally {
          cold.cleanup();
        }
      }
      log(`memory: run ${run + 1}/${runs} done`);
    }
  } finally {
    await dropDatabase(db);
  }
  const results = contenders.map((c) => ({ label: c.label, baseline: Boolean(c.baseline), times: samples.get(c.label), median: median(samples.get(c.label)) }));
  report.sections.push({
    title: `Memory: peak RSS (${useTime ? '/usr/bin/time -v' : 'process.resourceUsage().maxRSS'}), fresh database, ${runs} runs`,
    unit: 'MiB',
    results,
    note:
      'The runner loads .ts files through jiti with sucrase (src/files/migrationLoader.ts) and writes no loader cache, so every ' +
      "start compiles them; .js/.mjs load natively. With jiti's default Babel transform the .ts/.js row was ~167 MiB.",
  });
  const worst = Math.max(results[1].median, results[2].median);
  report.goals.push({ scenario: 'Memory', what: `peak RSS, ${FILES} pending`, value: `${worst.toFixed(0)} MiB`, limit: '≤ 150 MiB', met: worst <= 150 });
}

/**
 * A large legacy schema without history: `migrate status` (which reads the
 * live schema and matches it against the committed fingerprint manifest)
 * vs `pg_dump --schema-only`.
 */
async function legacyScenario(report) {
  const home = join(WORK, 'legacy');
  const dir = writeLegacyMigrations(join(home, 'migrations'), TABLES);
  const db = 'bench_legacy';
  const url = await freshDatabase(db);
  try {
    log(`legacy: building ${TABLES} tables (untimed)`);
    await withDatabase(db, async (c) => {
      await c.query(LEGACY_PRELUDE);
      for (let i = 0; i < TABLES; i += 100) {
        const batch = [];
        for (let j = i; j < Math.min(i + 100, TABLES); j++) batch.push(legacyTableDdl(j));
        await c.query(batch.join(';\n'));
      }
      await c.query('ANALYZE');
    });
    // The steady state of an adoption: the fingerprint manifest is committed beside the migrations.
    log('legacy: `migrate snapshot` writes the fingerprint manifest (untimed)');
    // On the bench server, as before the scratch server existed (its major may not be installed embedded).
    const snapshot = await mustRun(...migrate(['snapshot', '--scratch-url', SERVER_URL], dir, url), { cwd: home });
    log(`legacy: snapshot took ${(snapshot.ms / 1000).toFixed(1)} s`);
    const head = readdirSync(dir).filter((f) => f.endsWith('.sql')).sort().at(-1).replace(/\.sql$/, '');
    const results = await measure('legacy', [
      { label: '`pg_dump --schema-only`', baseline: true, cwd: home, command: () => ['pg_dump', ['--schema-only', '--dbname', url, '--file', '/dev/null']] },
      {
        label: '`migrate status`',
        cwd: home,
        command: () => migrate(['status', '--json'], dir, url),
        check: (r) => {
          const status = JSON.parse(r.stdout);
          if (status.state !== 'legacy' || status.plan.stampTo !== head) {
            throw new Error(`migrate status: ${status.state}, ${status.plan.action} (${status.plan.reason}); expected legacy matching ${head}`);
          }
        },
      },
    ]);
    report.sections.push({
      title: `Reading a large legacy schema: ${TABLES} tables with indexes, foreign keys, triggers and views; no history; fingerprint manifest committed`,
      results,
      note:
        '`migrate status` here reads the live ' +
        'schema, fingerprints it and finds the matching revision in the committed manifest. Without a committed manifest it ' +
        `first replays every migration in a scratch database (what \`migrate snapshot\` does; ${(snapshot.ms / 1000).toFixed(0)} s here).`,
    });
    const ratio = results[1].median / results[0].median;
    report.goals.push(goal('Legacy schema', '`migrate status` ÷ `pg_dump --schema-only`', ratio, 1.0));
    // README "Performance": the long-history goals ask for 0.8.
    report.goals.push(goal(`Legacy schema, ${TABLES} tables`, '`migrate status` ÷ `pg_dump --schema-only`', ratio, 0.8));
  } finally {
    await dropDatabase(db);
  }
}

/**
 * `migrate snapshot` of BENCH_FILES SQL migrations: on the bench server
 * (`--scratch-url`, a scratch database there) against the embedded scratch
 * server (a throwaway cluster started, replayed in, and removed, with no
 * database given at all).
 */
async function scratchScenario(report) {
  const home = join(WORK, 'scratch');
  const dir = writeSqlMigrations(join(home, 'migrations'), FILES);
  const manifest = join(dir, '.schema-fingerprints.json');
  // Each run writes the manifest afresh: none is there to take a major from.
  const noManifest = () => rmSync(manifest, { force: true });
  const wrote = (r) => {
    if (!existsSync(manifest) || !r.stdout.includes('wrote')) throw new Error(`snapshot wrote no manifest: ${r.stderr.slice(-500)}`);
  };
  const server = await withDatabase('postgres', async (c) => (await c.query('SHOW server_version')).rows[0].server_version);
  // No target and no scratch setting from the bench's own environment (an empty variable counts as unset).
  const env = Object.fromEntries(['DATABASE_URL', 'PGHOST', 'PGPORT', 'PGDATABASE', 'PGUSER', 'MIGRATE_SCRATCH', 'MIGRATE_SCRATCH_URL'].map((n) => [n, '']));
  const results = await measure('scratch', [
    {
      label: `\`migrate snapshot --scratch-url\` (the bench server, PostgreSQL ${server.split(' ')[0]})`,
      baseline: true,
      cwd: home,
      env,
      prepare: noManifest,
      command: () => [NODE, [CLI, 'snapshot', '--dir', dir, '--scratch-url', SERVER_URL]],
      check: wrote,
    },
    {
      label: '`migrate snapshot` (embedded scratch server: a cluster started and removed)',
      cwd: home,
      env,
      prepare: noManifest,
      command: () => [NODE, [CLI, 'snapshot', '--dir', dir]],
      check: wrote,
    },
  ], SCRATCH_RUNS);
  report.sections.push({
    title: `Snapshot: ${FILES} SQL migrations (one CREATE TABLE each) replayed one by one, the schema read after each`,
    results,
    note:
      'The embedded row includes starting the cluster (initdb and start, about a second) and removing it; ' +
      'its server runs with fsync off. No database is given to it: the major is the newest installed.',
  });
}

/** `npm run demo` (scripts/demo.mjs) from spawn to exit: a cluster, a fresh and a legacy database, status, cleanup. */
async function demoScenario(report) {
  const results = await measure('demo', [
    {
      label: '`node scripts/demo.mjs` (the demo after `npm run build`)',
      baseline: true,
      cwd: ROOT,
      command: () => [NODE, [join(ROOT, 'scripts', 'demo.mjs')]],
      check: (r) => {
        if (!/stopped the cluster and removed/.test(r.stdout)) throw new Error(`the demo did not finish: ${r.stdout.slice(-500)}`);
      },
    },
  ]);
  report.sections.push({
    title: 'The demo: start an embedded cluster, build a fresh database, recognise and finish a legacy one, print status, stop and clean up',
    results,
    note: '`npm start` runs `npm run build` first (about 6 s here).',
  });
}

/**
 * `generate --autogenerate` between two revisions of a 200-table schema: the
 * migrations build revision 1 (one CREATE TABLE each, a foreign key to the
 * table before, an index), schema.sql is revision 2 (every tenth table a new
 * column, every twentieth a new index, every fiftieth a changed default, five
 * new tables). Baseline: replaying the migrations once (`migrate up` on a
 * fresh database), the part nothing can skip; generate replays them too, then
 * applies schema.sql, reads both models, plans, proves (up, read, down, read)
 * and writes. Both on the bench server (`--scratch-url`).
 */
async function autogenerateScenario(report) {
  const AUTOGENERATE_TABLES = 200;
  const home = join(WORK, 'autogenerate');
  rmSync(home, { recursive: true, force: true });
  const dir = join(home, 'migrations');
  mkdirSync(dir, { recursive: true });
  const name = (i) => `t${String(i).padStart(4, '0')}`;
  const table = (i, revision) => {
    const columns = [`id bigint PRIMARY KEY`, `label text NOT NULL DEFAULT ${revision === 2 && i % 50 === 0 ? "'none'" : "''"}`, 'created_at timestamptz NOT NULL DEFAULT now()'];
    if (i > 1) columns.push(`${name(i - 1)}_id bigint REFERENCES ${name(i - 1)} (id)`);
    if (revision === 2 && i % 10 === 0) columns.push('note text');
    const ddl = [`CREATE TABLE ${name(i)} (\n  ${columns.join(',\n  ')}\n);`, `CREATE INDEX ON ${name(i)} (created_at);`];
    if (revision === 2 && i % 20 === 0) ddl.push(`CREATE INDEX ON ${name(i)} (label);`);
    return ddl.join('\n');
  };
  for (let i = 1; i <= AUTOGENERATE_TABLES; i++) {
    writeFileSync(join(dir, `${String(i).padStart(4, '0')}_${name(i)}.sql`), `-- Up Migration\n${table(i, 1)}\n\n-- Down Migration\nDROP TABLE ${name(i)};\n`);
  }
  const revision2 = [];
  for (let i = 1; i <= AUTOGENERATE_TABLES; i++) revision2.push(table(i, 2));
  for (let i = 1; i <= 5; i++) revision2.push(`CREATE TABLE extra${i} (id bigint PRIMARY KEY, t0001_id bigint REFERENCES t0001 (id));`);
  writeFileSync(join(home, 'schema.sql'), `${revision2.join('\n\n')}\n`);
  const generatedPrefix = String(AUTOGENERATE_TABLES + 1).padStart(4, '0');
  const removeGenerated = () => {
    for (const f of readdirSync(dir)) if (f.startsWith(generatedPrefix) || f.startsWith('.')) rmSync(join(dir, f), { force: true });
  };
  const env = Object.fromEntries(['DATABASE_URL', 'PGHOST', 'PGPORT', 'PGDATABASE', 'PGUSER', 'MIGRATE_SCRATCH', 'MIGRATE_SCRATCH_URL'].map((n) => [n, '']));
  const results = await measure('autogenerate', [
    {
      label: `\`migrate up\` of the ${AUTOGENERATE_TABLES} migrations on a fresh database (replaying them once)`,
      baseline: true,
      cwd: home,
      env,
      prepare: async () => {
        await freshDatabase('bench_autogenerate');
        return {};
      },
      command: () => [NODE, [CLI, 'up', '--dir', dir, '--database-url', urlOf('bench_autogenerate')]],
    },
    {
      label: '`migrate generate -m … --autogenerate --desired schema.sql` (replay, desired schema, plan, proof, write, lint)',
      cwd: home,
      env,
      prepare: removeGenerated,
      command: () => [NODE, [CLI, 'generate', '-m', 'revision 2', '--autogenerate', '--desired', join(home, 'schema.sql'), '--dir', dir, '--scratch-url', SERVER_URL]],
      check: (r) => {
        if (!readdirSync(dir).some((f) => f.startsWith(generatedPrefix))) throw new Error(`generate wrote no migration: ${r.stdout.slice(-300)} ${r.stderr.slice(-500)}`);
      },
    },
  ]);
  await dropDatabase('bench_autogenerate');
  removeGenerated();
  report.sections.push({
    title: `Autogenerate: the migration between two revisions of a ${AUTOGENERATE_TABLES}-table schema`,
    results,
    note:
      'generate replays the migrations in a scratch database as up does, applies schema.sql in a second one, ' +
      'reads both schemas, plans, runs the migration up and down there reading the schema after each, and lints what it writes.',
  });
}

function goal(scenario, what, ratio, limit) {
  return { scenario, what, value: `${ratio.toFixed(2)}×`, limit: `≤ ${limit.toFixed(2)}×`, met: ratio <= limit };
}

// ---------------------------------------------------------------- report

function renderMarkdown(env, report) {
  const lines = [
    '# Benchmarks',
    '',
    'Produced by `npm run bench` (bench/run.mjs). Medians of each contender over',
    `${RUNS} interleaved runs (${QUICK_RUNS} for the short no-op and replicas runs), each process started from scratch (wall time from spawn to exit,`,
    'so Node start-up is included); ratios are against the row marked *baseline*. The machine',
    'is shared and noisy: read the ratios, not the milliseconds.',
    '',
    `- date: ${env.date}`,
    `- machine: ${env.cores} cores (${env.cpu}), ${env.memory} memory, Linux ${env.kernel}`,
    `- versions: Node ${env.node}; PostgreSQL ${env.postgres} (${env.psql}); node-pg-migrate ${env.nodePgMigrate} (peer) / ${env.runnerNodePgMigrate} (runner's); dbmate ${env.dbmate}; runner ${env.runner}`,
    `- runs per contender: ${RUNS}; no-op and replicas: ${QUICK_RUNS}`,
    '',
    '## Goals',
    '',
    '| scenario | measure | value | goal | met |',
    '|---|---|---:|---:|:---:|',
    ...report.goals.map((g) => `| ${g.scenario} | ${g.what} | ${g.value} | ${g.limit} | ${g.met ? 'yes' : '**no**'} |`),
    '',
    '## Results',
    '',
  ];
  for (const s of report.sections) {
    const unit = s.unit ?? 'ms';
    lines.push(`### ${s.title}`, '', `| command | median (${unit}) | × baseline | spread (${unit}) |`, '|---|---:|---:|---:|');
    const base = s.results.find((r) => r.baseline)?.median;
    for (const r of s.results) {
      const spread = `${Math.min(...r.times).toFixed(0)}–${Math.max(...r.times).toFixed(0)}`;
      lines.push(`| ${r.label}${r.baseline ? ' *(baseline)*' : ''} | ${r.median.toFixed(0)} | ${(r.median / base).toFixed(2)} | ${spread} |`);
    }
    if (s.note) lines.push('', s.note);
    lines.push('');
  }
  if (report.checks.length) {
    lines.push('## Checks', '');
    for (const c of report.checks) lines.push(`- ${c.ok ? 'ok' : '**FAILED**'}: ${c.name}: ${c.detail}`);
    lines.push('');
  }
  lines.push(
    '## How each contender runs',
    '',
    '- Every process gets an empty temporary folder as `TMPDIR` and `XDG_CACHE_HOME`, and no',
    '  `node_modules/.cache/jiti` exists where jiti would look, so TypeScript is compiled cold,',
    '  as in a fresh container.',
    '- `migrate` is `node dist/cli.js` (a small entry and one file bundled by esbuild, pg included, compiled from its V8 code cache: scripts/build-cli.mjs) with its defaults (JSON logs on stderr, level info). Inside its one',
    '  transaction it sends consecutive migrations in one round trip (up to 50, or 1 MB of SQL; a JS/TS',
    '  migration first flushes what came before, since it may query the database while it builds).',
    '- The floor (bench/floor.mjs) starts Node, connects with `pg`, runs',
    '  `SELECT name FROM pgmigrations ORDER BY run_on, id` and exits.',
    '- "The floor + commander + winston" (bench/floorWithLibraries.mjs) is the floor plus the two',
    '  libraries the project requires of the command: it parses its arguments with commander and',
    '  logs one line with winston, bundled by esbuild with the options `migrate` is bundled with',
    '  (scripts/build-cli.mjs) but with pg left a package, as in the floor, and without a code cache.',
    '  What it adds over the floor is spent before the runner does any work.',
    '- "floor + read and hash every file" (bench/floorReadingFiles.mjs), in the no-op row with a long',
    '  history, is the floor plus listing the folder and reading and hashing each .sql file, which a',
    '  start that checks every applied file against its recorded checksum cannot leave out.',
    '- `node-pg-migrate up` is the 9.x CLI from bench/.peers with its defaults: the CLI turns',
    '  `--single-transaction` and `--verbose` on (the API leaves them off), `--check-order` on,',
    '  and it imports every migration file, applied or not, before deciding there is nothing to do.',
    '- `dbmate` is the Go binary that the `dbmate` npm package ships for this platform, called',
    '  directly (`npx dbmate` would add a Node start), with `--no-dump-schema`.',
    '- Apply: each timed run gets a freshly created database (creation untimed).',
    '',
  );
  return lines.join('\n');
}

function renderConsole(report) {
  const rows = [];
  for (const s of report.sections) {
    const base = s.results.find((r) => r.baseline)?.median;
    rows.push(`\n${s.title}`);
    for (const r of s.results) {
      rows.push(`  ${r.label.replaceAll('`', '').padEnd(72)} ${r.median.toFixed(0).padStart(7)} ${s.unit ?? 'ms'}  ${(r.median / base).toFixed(2).padStart(6)}×${r.baseline ? '  (baseline)' : ''}`);
    }
  }
  rows.push('\nGoals');
  for (const g of report.goals) {
    rows.push(`  ${g.met ? 'met ' : 'MISS'}  ${`${g.scenario}: ${g.what}`.replaceAll('`', '').padEnd(66)} ${g.value.padStart(16)}  goal ${g.limit}`);
  }
  for (const c of report.checks) rows.push(`  ${c.ok ? 'ok  ' : 'FAIL'}  ${c.name}: ${c.detail}`);
  return rows.join('\n');
}

// ---------------------------------------------------------------- main

async function main() {
  const begun = Date.now();
  ensureBuilt();
  ensurePeers();
  mkdirSync(WORK, { recursive: true });
  // The generated .js migrations are ESM: say so for Node and jiti, whatever the folder above says.
  writeFileSync(join(WORK, 'package.json'), '{ "private": true, "type": "module" }\n');
  const env = await environment();
  log(`server ${SERVER_URL.replace(/:[^:@/]*@/, ':***@')}, ${RUNS} runs per contender`);

  const report = { sections: [], goals: [], checks: [] };
  const scenarios = {
    noop: noopScenario, 'noop-large': noopLargeScenario, apply: applyScenario, replicas: replicasScenario, memory: memoryScenario, legacy: legacyScenario,
    scratch: scratchScenario, demo: demoScenario, autogenerate: autogenerateScenario, scale: scaleScenario,
  };
  for (const [name, scenario] of Object.entries(scenarios)) {
    if (ONLY && !ONLY.has(name)) continue;
    const t = Date.now();
    await scenario(report);
    log(`${name}: ${((Date.now() - t) / 1000).toFixed(0)} s`);
  }

  console.log(renderConsole(report));
  if (process.env.BENCH_NO_WRITE !== '1') {
    writeFileSync(join(BENCH, 'RESULTS.md'), renderMarkdown(env, report));
    log(`wrote ${resolve(BENCH, 'RESULTS.md')}`);
  }
  log(`total ${((Date.now() - begun) / 1000).toFixed(0)} s`);
}

await main();
