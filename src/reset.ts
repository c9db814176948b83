/**
 * `migrate reset --confirm`: drops every object of the managed schema and the
 * history, under the migration lock, in one transaction. The schema itself
 * stays (its owner and grants are not ours to lose). Extensions stay.
 */
import { prepareToWrite, withClient } from './db/connection.js';
import { RefusedError, UsageError, rejectAsRunnerError } from './core/errors.js';
import { inTransaction } from './db/transaction.js';
import { historyLocationOf, qualify, runnerTablesOf } from './db/facts.js';
import { connectFor, settingsOf, type RunnerOptions } from './observe.js';
import { withLock } from './db/lock.js';
import { createSilentLogger } from './config/logger.js';
import { requireConnection } from './config/settings.js';

export interface ResetOptions extends RunnerOptions {
  readonly confirm?: boolean;
  /** Allow it where NODE_ENV or APP_ENV is production. */
  readonly force?: boolean;
}

/**
 * Objects of the schema as DROP statements, one for each kind of object a
 * schema holds (README "How it behaves": what reset drops); names come quoted
 * from regclass/regtype/regprocedure/regoperator, or from format('%I').
 * Left out: objects of extensions (deptype 'e'), and objects PostgreSQL made
 * as part of another one (deptype 'i': an identity column's sequence, a
 * table's row type, array types, a range type's constructors and
 * multirange), which it refuses to drop on their own even with CASCADE;
 * they go with their owner. Triggers, rules, policies and indexes go with
 * their table. Every statement has IF EXISTS: an earlier CASCADE may have
 * taken the object along. Runs with the connection's pinned search_path,
 * so regclass and friends print every name outside pg_catalog qualified; the
 * functions and operators are named with their schema all the same.
 */
const DROPS_SQL = `
WITH ns AS (SELECT oid, nspname FROM pg_namespace WHERE nspname OPERATOR(pg_catalog.=) $1),
-- A partitioned table depends on its own columns (the key) this way: not "part of another".
owned AS (
  SELECT classid, objid FROM pg_depend
  WHERE deptype OPERATOR(pg_catalog.=) 'e'
     OR (deptype OPERATOR(pg_catalog.=) 'i' AND (classid, objid) OPERATOR(pg_catalog.<>) (refclassid, refobjid))
),
drops AS (
  SELECT 1 AS ord, 'pg_class'::regclass AS classid, c.oid AS objid, pg_catalog.format('DROP %s IF EXISTS %s CASCADE',
           CASE WHEN c.relkind OPERATOR(pg_catalog.=) 'v' THEN 'VIEW'
                WHEN c.relkind OPERATOR(pg_catalog.=) 'm' THEN 'MATERIALIZED VIEW'
                WHEN c.relkind OPERATOR(pg_catalog.=) 'f' THEN 'FOREIGN TABLE'
                WHEN c.relkind OPERATOR(pg_catalog.=) 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, c.oid::regclass) AS stmt
  FROM pg_class c JOIN ns ON c.relnamespace OPERATOR(pg_catalog.=) ns.oid
  WHERE c.relkind OPERATOR(pg_catalog.=) ANY ('{r,p,v,m,f,S}'::"char"[])
  UNION ALL
  -- DROP ROUTINE takes functions, procedures and aggregates alike.
  SELECT 2, 'pg_proc'::regclass, p.oid, pg_catalog.format('DROP ROUTINE IF EXISTS %s CASCADE', p.oid::regprocedure)
  FROM pg_proc p JOIN ns ON p.pronamespace OPERATOR(pg_catalog.=) ns.oid
  UNION ALL
  SELECT 3, 'pg_type'::regclass, t.oid,
         pg_catalog.format('DROP %s IF EXISTS %s CASCADE', CASE WHEN t.typtype OPERATOR(pg_catalog.=) 'd' THEN 'DOMAIN' ELSE 'TYPE' END, t.oid::regtype)
  FROM pg_type t JOIN ns ON t.typnamespace OPERATOR(pg_catalog.=) ns.oid
  -- a relation's row type goes with the relation; a free-standing composite type (relkind 'c') here
  WHERE t.typrelid OPERATOR(pg_catalog.=) 0::oid
     OR (SELECT relkind FROM pg_class WHERE oid OPERATOR(pg_catalog.=) t.typrelid) OPERATOR(pg_catalog.=) 'c'
  UNION ALL
  SELECT 4, 'pg_operator'::regclass, o.oid, pg_catalog.format('DROP OPERATOR IF EXISTS %s CASCADE', o.oid::regoperator)
  FROM pg_operator o JOIN ns ON o.oprnamespace OPERATOR(pg_catalog.=) ns.oid
  UNION ALL
  SELECT 5, 'pg_opclass'::regclass, o.oid,
         pg_catalog.format('DROP OPERATOR CLASS IF EXISTS %I.%I USING %I CASCADE', ns.nspname, o.opcname, am.amname)
  FROM pg_opclass o JOIN ns ON o.opcnamespace OPERATOR(pg_catalog.=) ns.oid JOIN pg_am am ON am.oid OPERATOR(pg_catalog.=) o.opcmethod
  UNION ALL
  SELECT 6, 'pg_opfamily'::regclass, o.oid,
         pg_catalog.format('DROP OPERATOR FAMILY IF EXISTS %I.%I USING %I CASCADE', ns.nspname, o.opfname, am.amname)
  FROM pg_opfamily o JOIN ns ON o.opfnamespace OPERATOR(pg_catalog.=) ns.oid JOIN pg_am am ON am.oid OPERATOR(pg_catalog.=) o.opfmethod
  UNION ALL
  SELECT 7, 'pg_statistic_ext'::regclass, o.oid, pg_catalog.format('DROP STATISTICS IF EXISTS %I.%I CASCADE', ns.nspname, o.stxname)
  FROM pg_statistic_ext o JOIN ns ON o.stxnamespace OPERATOR(pg_catalog.=) ns.oid
  UNION ALL
  SELECT 8, 'pg_ts_config'::regclass, o.oid, pg_catalog.format('DROP TEXT SEARCH CONFIGURATION IF EXISTS %I.%I CASCADE', ns.nspname, o.cfgname)
  FROM pg_ts_config o JOIN ns ON o.cfgnamespace OPERATOR(pg_catalog.=) ns.oid
  UNION ALL
  SELECT 9, 'pg_ts_dict'::regclass, o.oid, pg_catalog.format('DROP TEXT SEARCH DICTIONARY IF EXISTS %I.%I CASCADE', ns.nspname, o.dictname)
  FROM pg_ts_dict o JOIN ns ON o.dictnamespace OPERATOR(pg_catalog.=) ns.oid
  UNION ALL
  SELECT 10, 'pg_ts_template'::regclass, o.oid, pg_catalog.format('DROP TEXT SEARCH TEMPLATE IF EXISTS %I.%I CASCADE', ns.nspname, o.tmplname)
  FROM pg_ts_template o JOIN ns ON o.tmplnamespace OPERATOR(pg_catalog.=) ns.oid
  UNION ALL
  SELECT 11, 'pg_ts_parser'::regclass, o.oid, pg_catalog.format('DROP TEXT SEARCH PARSER IF EXISTS %I.%I CASCADE', ns.nspname, o.prsname)
  FROM pg_ts_parser o JOIN ns ON o.prsnamespace OPERATOR(pg_catalog.=) ns.oid
  UNION ALL
  SELECT 12, 'pg_collation'::regclass, o.oid, pg_catalog.format('DROP COLLATION IF EXISTS %I.%I CASCADE', ns.nspname, o.collname)
  FROM pg_collation o JOIN ns ON o.collnamespace OPERATOR(pg_catalog.=) ns.oid
  UNION ALL
  SELECT 13, 'pg_conversion'::regclass, o.oid, pg_catalog.format('DROP CONVERSION IF EXISTS %I.%I CASCADE', ns.nspname, o.conname)
  FROM pg_conversion o JOIN ns ON o.connamespace OPERATOR(pg_catalog.=) ns.oid
)
SELECT stmt FROM drops d
WHERE NOT EXISTS (SELECT 1 FROM owned WHERE owned.classid OPERATOR(pg_catalog.=) d.classid AND owned.objid OPERATOR(pg_catalog.=) d.objid)
ORDER BY ord, stmt`;

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
  return withClient(() => connectFor(settings, logger), async (client) => {
    await prepareToWrite(client);
    const lockOptions = { timeoutSeconds: settings.lockTimeoutSeconds, waitTimeoutSeconds: settings.waitTimeoutSeconds, logger };
    return withLock(requireConnection(settings), null, lockOptions, async (lock) => {
      await lock.take();
      return inTransaction(client, async () => {
        const { rows } = await client.query<{ stmt: string }>(DROPS_SQL, [settings.schema]);
        for (const { stmt } of rows) await client.query(stmt);
        // A history kept in a schema of its own (--migrations-schema) goes too; that schema stays.
        const history = historyLocationOf(settings);
        if (history.schema !== settings.schema) {
          await client.query(`DROP TABLE IF EXISTS ${runnerTablesOf(history.table).map((t) => qualify(history.schema, t)).join(', ')}`);
        }
        logger.info(`reset: dropped ${rows.length} objects in schema ${settings.schema}`);
        return { dropped: rows.length };
      });
    });
  }).catch(rejectAsRunnerError);
}
