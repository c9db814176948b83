import pg from 'pg';
import { executeBatch } from './dist/execute.js';
import { createSilentLogger } from './dist/logger.js';
import { readMigrationFiles } from './dist/migrationFiles.js';
import { IncrementalSchemaReader } from './dist/schema/incrementalCatalog.js';
import { buildRevision } from './dist/fingerprints/manifest.js';
const admin = new pg.Client('postgres://postgres@127.0.0.1:5432/postgres'); await admin.connect();
await admin.query('DROP DATABASE IF EXISTS prof'); await admin.query('CREATE DATABASE prof'); await admin.end();
const c = new pg.Client('postgres://postgres@127.0.0.1:5432/prof'); await c.connect();
const files = await readMigrationFiles('bench/.work/scale/300');
const opts = { db: c, where: { schema: 'public', migrationsSchema: 'public', table: 'pgmigrations' }, logger: createSilentLogger(), ddlLockTimeoutMs: 0, ddlLockRetries: 0, appliedBy: 'x' };
const reader = new IncrementalSchemaReader(c, { schema: 'public', excludeTables: ['pgmigrations', 'pgmigrations_meta'] });
let tApply = 0, tRead = 0, tBuild = 0;
let prev = await reader.read();
const origQuery = c.query.bind(c);
const qt = new Map();
let inRead = false;
c.query = (...a) => { const t0 = performance.now(); const p = origQuery(...a); const k = String(typeof a[0] === 'object' ? a[0].text : a[0]).slice(0, 60).replace(/\s+/g,' '); return p.then((r) => { qt.set(k, (qt.get(k) ?? 0) + performance.now() - t0); return r; }); };
for (const f of files) {
  let t = performance.now(); await executeBatch('up', [f], files, opts); tApply += performance.now() - t;
  t = performance.now(); inRead = true; const m = await reader.read(); inRead = false; tRead += performance.now() - t;
  t = performance.now(); buildRevision(f, prev, m); tBuild += performance.now() - t; prev = m;
}
console.log({ tApply, tRead, tBuild, stats: reader.stats });
console.log([...qt].sort((a, b) => b[1] - a[1]).slice(0, 12));
await c.end();
