#!/usr/bin/env node
/**
 * The floor of a no-op start: start Node, connect with pg, read the history
 * once, exit. Nothing a migration runner does on a current database can be
 * cheaper than this.
 *
 *   node bench/floor.mjs DATABASE_URL
 */
import pg from 'pg';

const client = new pg.Client({ connectionString: process.argv[2] });
await client.connect();
const { rows } = await client.query('SELECT name FROM pgmigrations ORDER BY run_on, id');
await client.end();
process.stdout.write(`${rows.length}\n`);
