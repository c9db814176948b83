// Decides once per jest run where the tests' PostgreSQL lives, first of:
//   1. TEST_DATABASE_URL;
//   2. the local server, when it answers: TEST_LOCAL_SERVER_URL, else libpq's
//      PGHOST/PGPORT/PGUSER, else postgres://postgres@127.0.0.1:5432/postgres;
//   3. a testcontainers PostgreSQL, when a Docker engine answers;
//   4. an embedded cluster of the installed major (src/embedded/, started from
//      dist/: `npm test` builds first), so that a machine with no server, no
//      Docker and no PostgreSQL client tools runs the suite too.
// Also decides whether pg_dump can be used against that server (it refuses a
// server newer than itself), for the tests that compare with it
// (test/helpers/pgDump.ts).
// Plain JavaScript: jest loads global setup outside the ts-jest ESM pipeline.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import pg from 'pg';

function localServerUrl() {
  if (process.env.TEST_LOCAL_SERVER_URL) return process.env.TEST_LOCAL_SERVER_URL;
  const host = process.env.PGHOST || '127.0.0.1';
  const url = new URL('postgres://localhost');
  // A socket folder (PGHOST=/var/run/postgresql) goes in the query, as libpq takes it.
  if (host.startsWith('/')) url.searchParams.set('host', host);
  else url.hostname = host;
  url.port = process.env.PGPORT || '5432';
  url.username = process.env.PGUSER || 'postgres';
  url.pathname = '/postgres';
  return url.toString();
}

/** The server's major, or null when it does not answer within a few seconds. */
async function serverMajor(url) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query('SHOW server_version_num');
    return Math.floor(Number(rows[0].server_version_num) / 10000);
  } catch {
    return null;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function isDockerEngineAnswering() {
  if (process.env.TESTCONTAINERS_DISABLE === '1') return false;
  if (!process.env.DOCKER_HOST && !existsSync('/var/run/docker.sock')) return false;
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await Promise.race([
      getContainerRuntimeClient(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 5_000)),
    ]);
    return true;
  } catch {
    return false;
  }
}

async function chooseServer() {
  if (process.env.TEST_DATABASE_URL) return { url: process.env.TEST_DATABASE_URL, kind: 'TEST_DATABASE_URL' };
  const local = localServerUrl();
  if ((await serverMajor(local)) !== null) return { url: local, kind: 'the local server' };
  if (await isDockerEngineAnswering()) {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const container = await new PostgreSqlContainer('postgres:15').start();
    globalThis.__PG_CONTAINER__ = container;
    return { url: container.getConnectionUri(), kind: 'a testcontainers PostgreSQL' };
  }
  const { startEmbeddedCluster } = await import('../../dist/embedded/index.js');
  const cluster = await startEmbeddedCluster();
  globalThis.__PG_EMBEDDED__ = cluster;
  return { url: cluster.url(), kind: `an embedded PostgreSQL ${cluster.installation.version} (no server at ${local.replace(/:[^:@/]*@/, ':****@')}, no Docker)` };
}

/** Why pg_dump cannot be used against a server of `major`, or '' when it can. */
function pgDumpProblem(major) {
  let version;
  try {
    version = execFileSync(process.env.PG_DUMP || 'pg_dump', ['--version'], { encoding: 'utf8' });
  } catch {
    return 'pg_dump is not on PATH';
  }
  const dumpMajor = Number(/(\d+)(?:\.\d+)?/.exec(version)?.[1]);
  return dumpMajor < major
    ? `pg_dump ${dumpMajor} is older than the server (PostgreSQL ${major}), and pg_dump refuses to dump a newer server`
    : '';
}

export default async function globalSetup() {
  const { url, kind } = await chooseServer();
  process.env.TEST_SERVER_URL = url;
  // Replays in the tests run in throwaway databases on the test server, a server kept for them; the
  // tests of the scratch server itself choose theirs (test/reliability/readOnly.test.ts).
  process.env.TEST_SCRATCH_URL = url;
  const major = await serverMajor(url);
  process.env.TEST_SERVER_MAJOR = String(major);
  const problem = pgDumpProblem(major);
  if (problem) process.env.TEST_PG_DUMP_SKIP = problem;
  else delete process.env.TEST_PG_DUMP_SKIP;
  console.log(`\ntests use PostgreSQL ${major} at ${url.replace(/:[^:@/]*@/, ':****@')}: ${kind}`);
  if (problem) console.log(`pg_dump cannot be used (${problem}): schemas are compared by a catalog listing instead, and the pg_dump round trips are skipped`);
  // psql, to run the scripts `migrate sql` prints (test/integration/runner.test.ts): any version reads them.
  const psql = spawnSync('psql', ['--version'], { stdio: 'ignore', timeout: 30_000 });
  if (psql.error || psql.status !== 0) {
    process.env.TEST_PSQL_SKIP = `psql ${psql.error ? 'is not on PATH' : 'does not answer'}`;
    console.log(`${process.env.TEST_PSQL_SKIP}: the test that runs a printed script through it is skipped`);
  } else delete process.env.TEST_PSQL_SKIP;
  // The compose files are resolved by Docker Compose itself (test/integration/composeConfig.test.ts); .ci/run installs it.
  const compose = process.env.DOCKER_COMPOSE_BIN ?? 'docker-compose';
  const found = spawnSync(compose, ['version'], { stdio: 'ignore', timeout: 30_000 });
  if (found.error || found.status !== 0) {
    process.env.TEST_COMPOSE_SKIP = `${compose} ${found.error ? 'is not installed' : 'does not answer'}`;
    console.log(`${process.env.TEST_COMPOSE_SKIP}: the compose file tests are skipped${process.env.TEST_REQUIRE_COMPOSE === '1' ? ', except that TEST_REQUIRE_COMPOSE=1 makes them fail' : ''}`);
  } else delete process.env.TEST_COMPOSE_SKIP;
}
