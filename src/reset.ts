/**
 * `migrate reset --confirm`: drops every object of the managed schema and the
 * history, under the migration lock, in one transaction. The schema itself
 * stays (its owner and grants are not ours to lose). Extensions stay.
 */
import { allowLongIdle, closeQuietly } from './connection.js';
import { RefusedError, UsageError } from './errors.js';
import { inTransaction } from './transaction.js';
import { connectFor, settingsOf, type RunnerOptions } from './inspect.js';
import { acquireMigrationLock } from './lock.js';
import { createSilentLogger } from './logger.js';
import { requireConnection } from './settings.js';

export interface ResetOptions extends RunnerOptions {
  readonly confirm?: boolean;
  /** Allow it where NODE_ENV or APP_ENV is production. */
  readonly force?: boolean;
}

/**
 * Objects of the schema as DROP statements; names come quoted from
 * regclass/regtype/regprocedure. Left out: objects of extensions (deptype 'e'),
 * and objects PostgreSQL made as part of another one (deptype 'i': an identity
 * column's sequence, a range type's constructors and multirange), which it
 * refuses to drop on their own even with CASCADE; they go with their owner.
 */
const DROPS_SQL = `
WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname = $1),
ext AS (SELECT objid FROM pg_depend WHERE deptype = 'e'),
-- A partitioned table depends on its own columns (the key) this way: not "part of another".
part AS (SELECT classid, objid FROM pg_depend WHERE deptype = 'i' AND (classid, objid) <> (refclassid, refobjid))
SELECT stmt FROM (
  SELECT 1 AS ord, format('DROP %s IF EXISTS %s CASCADE',
           CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE'
                          WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, c.oid::regclass) AS stmt
  FROM pg_class c JOIN ns ON c.relnamespace = ns.oid
  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND c.oid NOT IN (SELECT objid FROM ext)
    AND ('pg_class'::regclass, c.oid) NOT IN (SELECT classid, objid FROM part)
  UNION ALL
  SELECT 2, format('DROP ROUTINE IF EXISTS %s CASCADE', p.oid::regprocedure)
  FROM pg_proc p JOIN ns ON p.pronamespace = ns.oid WHERE p.oid NOT IN (SELECT objid FROM ext)
    AND ('pg_proc'::regclass, p.oid) NOT IN (SELECT classid, objid FROM part)
  UNION ALL
  SELECT 3, format('DROP %s IF EXISTS %s CASCADE', CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, t.oid::regtype)
  FROM pg_type t JOIN ns ON t.typnamespace = ns.oid
  WHERE t.typtype IN ('c', 'd', 'e', 'r', 'm') AND t.oid NOT IN (SELECT objid FROM ext)
    AND ('pg_type'::regclass, t.oid) NOT IN (SELECT classid, objid FROM part)
    AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
) drops ORDER BY ord, stmt`;

export async function resetDatabase(options: ResetOptions): Promise<{ dropped: number }> {
  if (!options.confirm) {
    throw new UsageError('reset drops every object in the managed schema and the history; it needs --confirm');
  }
  const env = options.env ?? process.env;
  const production = [env.NODE_ENV, env.APP_ENV].some((v) => v?.toLowerCase() === 'production');
  if (production && !options.force) {
    throw new RefusedError('reset refused: NODE_ENV or APP_ENV is production', null, {
      hint: 'add --force if you really mean to wipe this database',
    });
  }
  const settings = settingsOf(options);
  const logger = options.logger ?? createSilentLogger();
  const client = await connectFor(settings, logger);
  const lock = await allowLongIdle(client).then(() => acquireMigrationLock(requireConnection(settings), {
    timeoutSeconds: settings.lockTimeoutSeconds,
    waitTimeoutSeconds: settings.waitTimeoutSeconds,
    logger,
  })).catch(async (error) => {
    await closeQuietly(client);
    throw error;
  });
  try {
    return await inTransaction(client, async () => {
      const { rows } = await client.query<{ stmt: string }>(DROPS_SQL, [settings.schema]);
      for (const { stmt } of rows) await client.query(stmt);
      logger.info(`reset: dropped ${rows.length} objects in schema ${settings.schema}`);
      return { dropped: rows.length };
    });
  } finally {
    await lock.release().catch(() => undefined);
    await closeQuietly(client);
  }
}
