/**
 * Schema comparisons for the tests, and pg_dump for those that need it
 * itself. pg_dump refuses to dump a server newer than itself, and a bare
 * machine has none: globalSetup.mjs checks once and says why
 * (TEST_PG_DUMP_SKIP). Then `schemaSnapshot` lists the schema from the
 * catalog with PostgreSQL's own deparsers instead (never the runner's model,
 * which the tests check), and the tests of pg_dump itself are skipped.
 */
import pg from 'pg';
import { runProcess, type ProcessResult } from './processes.js';

/** Why pg_dump cannot be used against the test server, or null when it can. */
export const PG_DUMP_SKIP: string | null = process.env.TEST_PG_DUMP_SKIP || null;

/** `test`, or `test.skip` when pg_dump cannot be used (globalSetup prints why, once). */
export const testWithPgDump: jest.It = PG_DUMP_SKIP ? test.skip : test;

/** pg_dump ARGS, as a process (PG_DUMP names another binary). */
export function pgDump(args: readonly string[]): Promise<ProcessResult> {
  return runProcess(process.env.PG_DUMP || 'pg_dump', args);
}

export interface SnapshotOptions {
  /** Only this schema (pg_dump -n). Default: every schema but the system's. */
  readonly schema?: string;
  /** Tables left out, as pg_dump -T takes them: `pgmigrations*` (a trailing * matches any rest). */
  readonly excludeTables?: string;
}

/** The schema of the database at `url` as text, equal for equal schemas: pg_dump --schema-only where it can be used. */
export async function schemaSnapshot(url: string, options: SnapshotOptions = {}): Promise<string> {
  if (!PG_DUMP_SKIP) {
    const qualified = options.excludeTables && options.schema ? `${options.schema}.${options.excludeTables}` : options.excludeTables;
    const r = await pgDump([
      '--schema-only',
      '--no-owner',
      ...(options.schema ? ['-n', options.schema] : []),
      ...(qualified ? ['-T', qualified] : []),
      url,
    ]);
    if (r.code !== 0 || r.stderr !== '') throw new Error(`pg_dump failed (${String(r.code)}): ${r.stderr}`);
    // pg_dump 15.14+ opens and closes with a random \restrict key.
    return r.stdout.replace(/^\\(un)?restrict .*$/gm, '');
  }
  return catalogListing(url, options);
}

/** One line per object, in a fixed order, from pg_catalog and PostgreSQL's pg_get_*def functions. */
async function catalogListing(url: string, options: SnapshotOptions): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const exclude = options.excludeTables ? `^${options.excludeTables.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$` : '^$';
    const { rows } = await client.query<{ line: string }>(
      `WITH ns AS (
         SELECT oid, nspname FROM pg_namespace
         WHERE ($1::text IS NULL AND nspname NOT IN ('pg_catalog', 'information_schema') AND nspname !~ '^pg_(toast|temp)')
            OR nspname = $1
       ), rel AS (
         SELECT c.* FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
         WHERE NOT (c.relkind IN ('r', 'p', 'S') AND c.relname ~ $2)
           AND NOT (c.relkind = 'i' AND EXISTS (SELECT 1 FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid WHERE i.indexrelid = c.oid AND t.relname ~ $2))
           AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid WHERE d.objid = c.oid AND d.deptype IN ('a', 'i') AND t.relname ~ $2))
       )
       SELECT line FROM (
         SELECT format('%s %s %s', c.relkind, c.oid::regclass, coalesce(pg_get_indexdef(i.indexrelid), pg_get_viewdef(c.oid), '')) AS line
         FROM rel c LEFT JOIN pg_index i ON i.indexrelid = c.oid
         UNION ALL
         SELECT format('column %s.%s %s%s%s', c.oid::regclass, a.attname, format_type(a.atttypid, a.atttypmod),
                       CASE WHEN a.attnotnull THEN ' not null' ELSE '' END, ' default ' || pg_get_expr(d.adbin, d.adrelid))
         FROM rel c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
         UNION ALL
         SELECT format('constraint %s %s %s', c.oid::regclass, k.conname, pg_get_constraintdef(k.oid))
         FROM rel c JOIN pg_constraint k ON k.conrelid = c.oid
         UNION ALL
         SELECT format('trigger %s %s', c.oid::regclass, pg_get_triggerdef(t.oid))
         FROM rel c JOIN pg_trigger t ON t.tgrelid = c.oid AND NOT t.tgisinternal
         UNION ALL
         SELECT format('type %s %s %s', t.oid::regtype, t.typtype,
                       (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid))
         FROM pg_type t JOIN ns ON ns.oid = t.typnamespace
         WHERE t.typtype IN ('e', 'd') OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
         UNION ALL
         SELECT format('function %s', pg_get_functiondef(p.oid))
         FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace WHERE p.prokind IN ('f', 'p')
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
       ) objects ORDER BY line COLLATE "C"`,
      [options.schema ?? null, exclude],
    );
    return rows.map((r) => r.line).join('\n');
  } finally {
    await client.end();
  }
}
