#!/usr/bin/env node
/**
 * Compares the time readSchemaModel takes with `pg_dump --schema-only` on a
 * generated schema of N tables (default 2000). Needs `npm run build` first and
 * pg_dump on PATH.
 *
 *   node bench/schemaCatalog.mjs [tables] [server-url]
 *
 * Creates and drops a scratch database on the server
 * (default postgres://postgres@127.0.0.1:5432/postgres).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import pg from 'pg';
import { readSchemaModel } from '../dist/schema/catalog.js';
import { fingerprintSchema } from '../dist/schema/fingerprint.js';

const run = promisify(execFile);
const tableCount = Number(process.argv[2] ?? 2000);
const serverUrl = process.argv[3] ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const RUNS = 5;

/** DDL for table i: serial key, unique, check, FK to the previous table, index; a trigger and a view every 10th. */
function buildTableDdl(i) {
  const statements = [
    `CREATE TABLE t${i} (id serial PRIMARY KEY, code text NOT NULL UNIQUE, amount numeric(12,2) DEFAULT 0 CHECK (amount >= 0),
       created_at timestamptz NOT NULL DEFAULT now(), parent_id int ${i > 0 ? `REFERENCES t${i - 1}(id) ON DELETE CASCADE` : ''},
       note varchar(200))`,
    `CREATE INDEX ON t${i} (created_at)`,
    `COMMENT ON TABLE t${i} IS 'table ${i}'`,
  ];
  if (i % 10 === 0) {
    statements.push(`CREATE TRIGGER t${i}_touch BEFORE UPDATE ON t${i} FOR EACH ROW EXECUTE FUNCTION touch()`);
    statements.push(`CREATE VIEW v${i} AS SELECT id, code FROM t${i} WHERE amount > 0`);
  }
  return statements.join(';\n');
}

async function timeIt(fn) {
  const times = [];
  let result;
  for (let run = 0; run < RUNS; run++) {
    const start = process.hrtime.bigint();
    result = await fn();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(RUNS / 2)], min: times[0], result };
}

async function main() {
  const name = `bench_schema_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const db = new pg.Client({ connectionString: url.toString() });
  try {
    await db.connect();
    await db.query(`CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$`);
    for (let i = 0; i < tableCount; i += 100) {
      const batch = [];
      for (let j = i; j < Math.min(i + 100, tableCount); j++) batch.push(buildTableDdl(j));
      await db.query(batch.join(';\n'));
    }
    await db.query('ANALYZE');

    const catalog = await timeIt(() => readSchemaModel(db, { schema: 'public', excludeTables: ['pgmigrations'] }));
    const dump = await timeIt(() => run('pg_dump', ['--schema-only', '--dbname', url.toString()], { maxBuffer: 1 << 28 }));
    const model = catalog.result;
    console.log(`tables: ${model.tables.length}, views: ${model.views.length}, model JSON: ${JSON.stringify(model).length} bytes, dump: ${dump.result.stdout.length} bytes`);
    console.log(`fingerprint: ${fingerprintSchema(model)}`);
    console.log(`readSchemaModel        median ${catalog.median.toFixed(0)} ms (min ${catalog.min.toFixed(0)} ms) over ${RUNS} runs`);
    console.log(`pg_dump --schema-only  median ${dump.median.toFixed(0)} ms (min ${dump.min.toFixed(0)} ms) over ${RUNS} runs`);
  } finally {
    await db.end().catch(() => undefined);
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    await admin.end();
  }
}

await main();
