#!/usr/bin/env node
/**
 * The floor of a no-op start (bench/RESULTS.md, "How each contender runs"): a plain script that starts Node,
 * imports pg, connects, reads the history once and exits. `migrate` can start
 * below it: it runs pg bundled from a V8 code cache, and keeps pg from loading
 * Node's undici (src/cli.ts), which this script, as anyone would write it, does not.
 *
 *   node bench/floor.mjs DATABASE_URL
 */
import pg from 'pg';

const client = new pg.Client({ connectionString: process.argv[2] });
await client.connect();
const { rows } = await client.query('SELECT name FROM pgmigrations ORDER BY run_on, id');
await client.end();
process.stdout.write(`${rows.length}\n`);
