import pg from 'pg';
import { executeBatch } from './dist/execute.js';
import { createSilentLogger } from './dist/logger.js';
import { readMigrationFiles } from './dist/migrationFiles.js';
const files = await readMigrationFiles('bench/.work/scale/300');
for (const mode of ['one', 'each', 'one', 'each']) {
  const admin = new pg.Client('postgres://postgres@127.0.0.1:5432/postgres'); await admin.connect();
  await admin.query('DROP DATABASE IF EXISTS prof2'); await admin.query('CREATE DATABASE prof2'); await admin.end();
  const c = new pg.Client('postgres://postgres@127.0.0.1:5432/prof2'); await c.connect();
  if (process.env.ASYNC) await c.query("SELECT pg_catalog.set_config('synchronous_commit', 'off', false)");
  const opts = { db: c, where: { schema: 'public', migrationsSchema: 'public', table: 'pgmigrations' }, logger: createSilentLogger(), ddlLockTimeoutMs: 0, ddlLockRetries: 0, appliedBy: 'x' };
  const t = performance.now();
  if (mode === 'one') await executeBatch('up', files, files, opts); else for (const f of files) await executeBatch('up', [f], files, opts);
  console.log(mode, performance.now() - t);
  await c.end();
}
