#!/usr/bin/env node
/**
 * The floor (bench/floor.mjs) plus what no start that checks every applied
 * file against its recorded checksum can leave out: list the folder, read
 * each .sql file and hash it (sha256, as src/files/migrationFiles.ts does).
 * The no-op row with 10,000 files shows it beside the floor and `migrate
 * auto` (bench/RESULTS.md, "No-op start: 10000 SQL migrations"), so that
 * what the runner adds over reading the files is told from the reading itself.
 *
 *   node bench/floorReadingFiles.mjs DATABASE_URL DIR
 */
import { hash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';

const [url, dir] = process.argv.slice(2);
const client = new pg.Client({ connectionString: url });
const connected = client.connect();
let hashed = 0;
for (const name of readdirSync(dir).filter((n) => n.endsWith('.sql')).sort()) {
  hash('sha256', readFileSync(join(dir, name)), 'hex');
  hashed++;
}
await connected;
const { rows } = await client.query('SELECT name FROM pgmigrations ORDER BY run_on, id');
await client.end();
process.stdout.write(`${rows.length} ${hashed}\n`);
