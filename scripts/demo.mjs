#!/usr/bin/env node
/**
 * `npm run demo` (and `npm start`): the runner on a machine with nothing but
 * Node and `npm ci`. It starts a throwaway PostgreSQL cluster from the
 * binaries npm installed (src/embedded/), then, with the example migrations
 * in migrations/:
 *   1. a fresh database: `migrate auto` builds it to head;
 *   2. a legacy database (the tables of 0002 and no history, as a database
 *      built by hand or by another tool has them): `migrate status`
 *      recognises the revision by the committed fingerprint manifest, and
 *      `migrate auto` stamps it and applies the rest;
 *   3. `migrate status` of both;
 * and stops the cluster, removing its folder. Runs the built command
 * (dist/cli.js) as a process, as a container start runs it.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startEmbeddedCluster } from '../dist/embedded/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const started = performance.now();
const say = (text) => process.stdout.write(`${text}\n`);

const cluster = await startEmbeddedCluster();
say(`started PostgreSQL ${cluster.installation.version.replace(/-.*/, '')} (embedded, ${cluster.host}:${cluster.port}, as ${cluster.runsAs?.name ?? 'this user'}) in ${ms(started)}`);
try {
  await sql('postgres', 'CREATE DATABASE shop');
  await sql('postgres', 'CREATE DATABASE shop_legacy');

  say('\n== a fresh database');
  migrate('shop', 'auto');

  say('\n== a legacy database: the tables of 0002_create_orders, no history');
  migrate('shop_legacy', 'up', '0002_create_orders', { quiet: true });
  await sql('shop_legacy', 'DROP TABLE pgmigrations, pgmigrations_meta');
  migrate('shop_legacy', 'status');
  migrate('shop_legacy', 'auto');

  say('\n== both, now');
  migrate('shop', 'status');
  migrate('shop_legacy', 'status');
} finally {
  const stopping = performance.now();
  await cluster.stop();
  say(`\nstopped the cluster and removed ${cluster.dir} in ${ms(stopping)}; the demo took ${ms(started)}`);
}

function migrate(database, ...args) {
  const options = typeof args.at(-1) === 'object' ? args.pop() : {};
  if (!options.quiet) say(`$ migrate ${args.join(' ')}${' '.repeat(Math.max(1, 24 - args.join(' ').length))}# DATABASE_URL=…/${database}`);
  const run = spawnSync(process.execPath, [`${root}dist/cli.js`, ...args], {
    cwd: root,
    encoding: 'utf8',
    // Only warnings and errors on stderr: the commands' own output tells the story.
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: cluster.url(database), LOG_LEVEL: 'warn', LOG_FORMAT: 'pretty' },
  });
  if (!options.quiet) say(run.stdout.trimEnd().replace(/^/gm, '  '));
  process.stderr.write(run.stderr);
  if (run.status !== 0) throw new Error(`migrate ${args.join(' ')} exited ${run.status ?? run.signal}`);
}

async function sql(database, text) {
  const client = new pg.Client({ connectionString: cluster.url(database) });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

function ms(since) {
  const elapsed = performance.now() - since;
  return elapsed < 1000 ? `${Math.round(elapsed)} ms` : `${(elapsed / 1000).toFixed(1)} s`;
}
