/**
 * Reads a schema over and over while migrations change it (a replay for
 * `snapshot` or `verify`), re-reading only the top-level objects each
 * migration changed, so fingerprinting a revision costs what changed rather
 * than the whole schema.
 *
 * What changed is found in the catalogs themselves, never assumed: every
 * catalog row a migration inserts or updates carries the migration's
 * transaction id in `xmin`. Each read
 * 1. scans the catalogs the model is built from for user rows (OID 16384 and
 *    up, FirstNormalObjectId) whose xmin is not older than the marker the
 *    previous read took (MARKER; `age(xmin) <= age(marker)`: xids are
 *    compared by age, which wraps as they do), and counts those rows: a count below the
 *    previous rows plus the new ones means rows were deleted, and the keys
 *    of that catalog are listed again to find which (each key remembers the
 *    top-level objects it belongs to). A read before the COMMIT of the
 *    transaction that made the changes, given the backend's row counts at
 *    its BEGIN (baselineSql), reads only the catalogs the transaction
 *    changed, and where it only inserted, only the rows of new OIDs, as
 *    many as it inserted (changedScanSql);
 * 2. adds every object that depends on a changed one that existed before
 *    (pg_depend, to a fixpoint): a renamed table changes the text of the
 *    views, foreign keys, triggers and policies that name it (a new object
 *    has only new dependents, which changed themselves);
 * 3. maps all of them to the top-level objects of the model (an index to its
 *    table, a constraint to its table or domain, ...) and re-reads those
 *    with the same queries as a full read (catalog.ts), filtered to their
 *    OIDs; every other object is kept as it was, the same object, so its
 *    hash is not computed again (fingerprint.ts).
 * Where a change can alter how objects print without touching their rows (a
 * function or operator named like one of pg_catalog's, whose new overload
 * can make deparsed calls of others qualified; a cast), the read is a full
 * read. Tests compare incremental and full reads over real histories
 * (test/integration/incrementalCatalog.test.ts).
 */
import {
  assembleSchemaModel,
  mergeCatalogParts,
  namedQuery,
  PART_KIND_OF_LIST,
  partsContextOf,
  readCatalogParts,
  pinnedSettingsSql,
  plannedFor,
  withPinnedCatalog,
  type CatalogParts,
  type PinRequest,
  type PartKind,
  type ReadSchemaModelOptions,
} from './catalog.js';
import type { Queryable } from '../core/types.js';
import type { SchemaModel } from './model.js';

const EQ = 'OPERATOR(pg_catalog.=)';
const GE = 'OPERATOR(pg_catalog.>=)';
const LE = 'OPERATOR(pg_catalog.<=)';
const NE = 'OPERATOR(pg_catalog.<>)';

/** FirstNormalObjectId: objects initdb made have smaller OIDs. */
const USER_OID = `'16384'::pg_catalog.oid`;

function asText(expr: string): string {
  return `pg_catalog.format('%s', ${expr})`;
}

/** `'pg_catalog.x'::regclass` as the OID text a seed carries. */
function classOf(catalog: string): string {
  return `${asText(`'pg_catalog.${catalog}'::pg_catalog.regclass::pg_catalog.oid`)}`;
}

interface TrackedCatalog {
  readonly name: string;
  /** FROM clause; the catalog itself is `x`. */
  readonly from: string;
  /** Which rows are the user's. */
  readonly where: string;
  /** Text that identifies a row within the catalog. */
  readonly key: string;
  /** text[] of the OIDs of the top-level objects the row belongs to (NULLs allowed). */
  readonly owners: string;
  /** text[] of `classid/objid` pairs whose dependents change with this row (pg_depend closure). */
  readonly seeds: string;
  /** Rows can be deleted without a trace elsewhere: keys are kept and counted. */
  readonly counted: boolean;
  /** A change of this row can change how other objects print: read everything. */
  readonly shadows?: string;
  /**
   * text[] of the part kinds a change of this row needs read again, where the
   * row can tell (a table's column is never a type's); NULL, or absent, for
   * the catalog's own list (KINDS_OF_CATALOG).
   */
  readonly kinds?: string;
  /** The OID column the key starts with (its `leadPart`-th dot-separated part), by which rows are looked up. */
  readonly lead: string;
  /** Which part of the key `lead` is (default 0). */
  readonly leadPart?: number;
  /**
   * What else fixes the index's leading columns when rows are looked up by
   * `lead` > an OID (a range: changedScanSql), where `lead` is not the index's
   * first column.
   */
  readonly rangeWith?: string;
  /**
   * A condition that holds only for a row the transaction that inserted it
   * has updated since (at least once): where as many new rows meet it as the
   * transaction updated rows, none of its updates was of an old row, and
   * the catalog can be read by range still (changedScanSql).
   */
  readonly updatedSinceInsert?: string;
  /**
   * Deletes from the relation are, as a rule, also of rows that are not the
   * catalog's (pg_depend: every dependency of a dropped object): their count
   * would not tell how many of the catalog's rows are gone.
   */
  readonly deletesOthers?: true;
}

const arr = (...items: string[]): string => `ARRAY[${items.map(asText).join(', ')}]::pg_catalog.text[]`;
const seed = (catalog: string, oid: string): string => `pg_catalog.format('%s/%s', ${classOf(catalog)}, ${oid})`;
const seeds = (...items: string[]): string => `ARRAY[${items.join(', ')}]::pg_catalog.text[]`;

/** A function or operator named like one of pg_catalog's: its overloads change which calls print qualified. */
const SHADOWS_PROC = `EXISTS (SELECT 1 FROM pg_proc b WHERE b.proname ${EQ} x.proname AND b.pronamespace ${EQ} 'pg_catalog'::pg_catalog.regnamespace)`;

/**
 * The table a TOAST table belongs to: through its internal dependency on the
 * table (indexed; src/backend/catalog/toasting.c records it), else by
 * looking for the table that names it.
 */
const TOAST_OWNER = `CASE WHEN x.relkind ${EQ} 't' THEN COALESCE(
    (SELECT t.oid FROM pg_depend d JOIN pg_class t ON t.oid ${EQ} d.refobjid
     WHERE d.classid ${EQ} 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid ${EQ} x.oid AND d.objsubid ${EQ} 0
       AND d.refclassid ${EQ} 'pg_catalog.pg_class'::pg_catalog.regclass AND t.reltoastrelid ${EQ} x.oid),
    (SELECT t.oid FROM pg_class t WHERE t.reltoastrelid ${EQ} x.oid)) END`;

/**
 * A table's row type, and the array type of a table's row type, are parts of
 * the table alone; every other type may be one of the model's types.
 */
const TYPE_KINDS = `CASE
    WHEN x.typtype ${EQ} 'c' AND EXISTS (SELECT 1 FROM pg_class r WHERE r.oid ${EQ} x.typrelid AND r.relkind ${NE} 'c') THEN '{relations}'::pg_catalog.text[]
    WHEN x.typelem ${NE} 0::pg_catalog.oid AND EXISTS (SELECT 1 FROM pg_type e JOIN pg_class r ON r.oid ${EQ} e.typrelid
                                                  WHERE e.oid ${EQ} x.typelem AND e.typarray ${EQ} x.oid AND r.relkind ${NE} 'c') THEN '{}'::pg_catalog.text[] END`;

/**
 * The catalogs a new object's dependencies are looked for in (pg_depend.classid;
 * changedScanSql's $7: those the transaction inserted into): the depender
 * index (classid, objid, objsubid) is searched for each, so that rows by
 * objid alone are found through it. Another catalog's new object (a
 * conversion, say) leaves rows there that are not found, and so are
 * fewer than were inserted: pg_depend is then read in full.
 */
const CATALOG_CLASSES = `x.classid ${EQ} ANY ($7::pg_catalog.oid[])`;

const TRACKED: readonly TrackedCatalog[] = [
  {
    // Who owns an index or a TOAST table is looked up for changed rows only (indexed): joining every row was most of the scan.
    name: 'pg_class',
    from: 'pg_class x',
    where: `x.oid ${GE} ${USER_OID}`,
    key: asText('x.oid'),
    owners: arr('x.oid', 'x.reltype', `(SELECT ix.indrelid FROM pg_index ix WHERE ix.indexrelid ${EQ} x.oid)`, TOAST_OWNER),
    seeds: seeds(seed('pg_class', 'x.oid')),
    counted: true,
    kinds: `CASE WHEN x.relkind ${EQ} ANY ('{r,p,v,m,i,I,t}'::"char"[]) THEN '{relations}'::pg_catalog.text[]
                 WHEN x.relkind ${EQ} 'S' THEN '{sequences}'::pg_catalog.text[]
                 WHEN x.relkind ${EQ} 'c' THEN '{types}'::pg_catalog.text[] END`,
    lead: 'x.oid',
    // A relation is inserted without its TOAST table (RelationBuildLocalRelation zeroes reltoastrelid,
    // src/backend/utils/cache/relcache.c), which create_toast_table then stores by an update of the
    // row (src/backend/catalog/toasting.c): a table with a TOAST table made in this transaction.
    updatedSinceInsert: `x.reltoastrelid ${NE} 0::pg_catalog.oid`,
  },
  {
    name: 'pg_attribute',
    from: 'pg_attribute x',
    where: `x.attrelid ${GE} ${USER_OID} AND x.attnum OPERATOR(pg_catalog.>) 0`,
    key: `pg_catalog.format('%s.%s', x.attrelid, x.attnum)`,
    owners: arr('x.attrelid', `(SELECT c.reltype FROM pg_class c WHERE c.oid ${EQ} x.attrelid)`),
    seeds: seeds(seed('pg_class', 'x.attrelid')),
    counted: false,
    kinds: `CASE (SELECT c.relkind FROM pg_class c WHERE c.oid ${EQ} x.attrelid) WHEN 'c' THEN '{types}'::pg_catalog.text[] ELSE '{relations}'::pg_catalog.text[] END`,
    lead: 'x.attrelid',
  },
  { name: 'pg_attrdef', from: 'pg_attrdef x', where: `x.oid ${GE} ${USER_OID}`, key: asText('x.oid'), owners: arr('x.adrelid'), seeds: seeds(seed('pg_attrdef', 'x.oid')), counted: true, lead: 'x.oid' },
  { name: 'pg_constraint', from: 'pg_constraint x', where: `x.oid ${GE} ${USER_OID}`, key: asText('x.oid'), owners: arr('x.conrelid', 'x.contypid'), seeds: seeds(seed('pg_constraint', 'x.oid')), counted: true, lead: 'x.oid', kinds: `CASE WHEN x.contypid OPERATOR(pg_catalog.<>) 0::pg_catalog.oid THEN '{types}'::pg_catalog.text[] ELSE '{relations}'::pg_catalog.text[] END` },
  { name: 'pg_index', from: 'pg_index x', where: `x.indexrelid ${GE} ${USER_OID}`, key: asText('x.indexrelid'), owners: arr('x.indrelid'), seeds: seeds(seed('pg_class', 'x.indexrelid')), counted: false, lead: 'x.indexrelid' },
  { name: 'pg_trigger', from: 'pg_trigger x', where: `x.oid ${GE} ${USER_OID}`, key: asText('x.oid'), owners: arr('x.tgrelid'), seeds: seeds(seed('pg_trigger', 'x.oid')), counted: true, lead: 'x.oid' },
  { name: 'pg_policy', from: 'pg_policy x', where: `x.oid ${GE} ${USER_OID}`, key: asText('x.oid'), owners: arr('x.polrelid'), seeds: seeds(seed('pg_policy', 'x.oid')), counted: true, lead: 'x.oid' },
  { name: 'pg_rewrite', from: 'pg_rewrite x', where: `x.oid ${GE} ${USER_OID}`, key: asText('x.oid'), owners: arr('x.ev_class'), seeds: seeds(seed('pg_rewrite', 'x.oid')), counted: true, lead: 'x.oid' },
  { name: 'pg_type', from: 'pg_type x', where: `x.oid ${GE} ${USER_OID}`, key: asText('x.oid'), owners: arr('x.oid', 'x.typrelid'), seeds: seeds(seed('pg_type', 'x.oid')), counted: true, lead: 'x.oid', kinds: TYPE_KINDS },
  { name: 'pg_enum', from: 'pg_enum x', where: `x.oid ${GE} ${USER_OID}`, key: asText('x.oid'), owners: arr('x.enumtypid'), seeds: seeds(seed('pg_type', 'x.enumtypid')), counted: false, lead: 'x.oid' },
  { name: 'pg_range', from: 'pg_range x', where: `x.rngtypid ${GE} ${USER_OID}`, key: asText('x.rngtypid'), owners: arr('x.rngtypid'), seeds: seeds(seed('pg_type', 'x.rngtypid')), counted: false, lead: 'x.rngtypid' },
  { name: 'pg_proc', from: 'pg_proc x', where: `x.oid ${GE} ${USER_OID}`, key: asText('x.oid'), owners: arr('x.oid'), seeds: seeds(seed('pg_proc', 'x.oid')), counted: true, shadows: SHADOWS_PROC, lead: 'x.oid' },
  { name: 'pg_aggregate', from: 'pg_aggregate x', where: `x.aggfnoid ${GE} ${USER_OID}`, key: asText('x.aggfnoid::pg_catalog.oid'), owners: arr('x.aggfnoid::pg_catalog.oid'), seeds: seeds(seed('pg_proc', 'x.aggfnoid::pg_catalog.oid')), counted: false, lead: 'x.aggfnoid::pg_catalog.oid' },
  { name: 'pg_operator', from: 'pg_operator x', where: `x.oid ${GE} ${USER_OID}`, key: asText('x.oid'), owners: arr('x.oid'), seeds: seeds(seed('pg_operator', 'x.oid')), counted: true, shadows: 'true', lead: 'x.oid' },
  { name: 'pg_cast', from: 'pg_cast x', where: `x.oid ${GE} ${USER_OID}`, key: asText('x.oid'), owners: 'ARRAY[]::pg_catalog.text[]', seeds: 'ARRAY[]::pg_catalog.text[]', counted: true, shadows: 'true', lead: 'x.oid' },
  { name: 'pg_opclass', from: 'pg_opclass x', where: `x.oid ${GE} ${USER_OID}`, key: asText('x.oid'), owners: arr('x.oid'), seeds: seeds(seed('pg_opclass', 'x.oid')), counted: true, lead: 'x.oid' },
  { name: 'pg_opfamily', from: 'pg_opfamily x', where: `x.oid ${GE} ${USER_OID}`, key: asText('x.oid'), owners: arr('x.oid'), seeds: seeds(seed('pg_opfamily', 'x.oid')), counted: true, lead: 'x.oid' },
  { name: 'pg_amop', from: 'pg_amop x', where: `x.oid ${GE} ${USER_OID}`, key: asText('x.oid'), owners: arr('x.amopfamily'), seeds: seeds(seed('pg_opfamily', 'x.amopfamily')), counted: true, lead: 'x.oid' },
  { name: 'pg_amproc', from: 'pg_amproc x', where: `x.oid ${GE} ${USER_OID}`, key: asText('x.oid'), owners: arr('x.amprocfamily'), seeds: seeds(seed('pg_opfamily', 'x.amprocfamily')), counted: true, lead: 'x.oid' },
  { name: 'pg_collation', from: 'pg_collation x', where: `x.oid ${GE} ${USER_OID}`, key: asText('x.oid'), owners: arr('x.oid'), seeds: seeds(seed('pg_collation', 'x.oid')), counted: true, lead: 'x.oid' },
  { name: 'pg_ts_config', from: 'pg_ts_config x', where: `x.oid ${GE} ${USER_OID}`, key: asText('x.oid'), owners: arr('x.oid'), seeds: seeds(seed('pg_ts_config', 'x.oid')), counted: true, lead: 'x.oid' },
  {
    name: 'pg_ts_config_map',
    from: 'pg_ts_config_map x',
    where: `x.mapcfg ${GE} ${USER_OID}`,
    key: `pg_catalog.format('%s.%s.%s', x.mapcfg, x.maptokentype, x.mapseqno)`,
    owners: arr('x.mapcfg'),
    seeds: seeds(seed('pg_ts_config', 'x.mapcfg')),
    counted: true,
    lead: 'x.mapcfg',
  },
  { name: 'pg_ts_dict', from: 'pg_ts_dict x', where: `x.oid ${GE} ${USER_OID}`, key: asText('x.oid'), owners: arr('x.oid'), seeds: seeds(seed('pg_ts_dict', 'x.oid')), counted: true, lead: 'x.oid' },
  { name: 'pg_ts_parser', from: 'pg_ts_parser x', where: `x.oid ${GE} ${USER_OID}`, key: asText('x.oid'), owners: arr('x.oid'), seeds: seeds(seed('pg_ts_parser', 'x.oid')), counted: true, lead: 'x.oid' },
  { name: 'pg_ts_template', from: 'pg_ts_template x', where: `x.oid ${GE} ${USER_OID}`, key: asText('x.oid'), owners: arr('x.oid'), seeds: seeds(seed('pg_ts_template', 'x.oid')), counted: true, lead: 'x.oid' },
  { name: 'pg_statistic_ext', from: 'pg_statistic_ext x', where: `x.oid ${GE} ${USER_OID}`, key: asText('x.oid'), owners: arr('x.oid'), seeds: seeds(seed('pg_statistic_ext', 'x.oid')), counted: true, lead: 'x.oid' },
  { name: 'pg_extension', from: 'pg_extension x', where: `x.oid ${GE} ${USER_OID}`, key: asText('x.oid'), owners: arr('x.oid'), seeds: seeds(seed('pg_extension', 'x.oid')), counted: true, lead: 'x.oid' },
  {
    name: 'pg_inherits',
    from: 'pg_inherits x',
    where: `x.inhrelid ${GE} ${USER_OID}`,
    key: `pg_catalog.format('%s.%s', x.inhrelid, x.inhseqno)`,
    owners: arr('x.inhrelid'),
    seeds: seeds(seed('pg_class', 'x.inhrelid')),
    counted: true,
    lead: 'x.inhrelid',
  },
  { name: 'pg_sequence', from: 'pg_sequence x', where: `x.seqrelid ${GE} ${USER_OID}`, key: asText('x.seqrelid'), owners: arr('x.seqrelid'), seeds: seeds(seed('pg_class', 'x.seqrelid')), counted: false, lead: 'x.seqrelid' },
  {
    name: 'pg_description',
    from: 'pg_description x',
    // The managed schema may be one initdb made (public): its comment counts too.
    where: `(x.objoid ${GE} ${USER_OID} OR x.classoid ${EQ} 'pg_catalog.pg_namespace'::pg_catalog.regclass)`,
    key: `pg_catalog.format('%s.%s.%s', x.classoid, x.objoid, x.objsubid)`,
    owners: arr('x.objoid'),
    seeds: seeds(`pg_catalog.format('%s/%s', x.classoid, x.objoid)`),
    counted: true,
    lead: 'x.objoid',
    leadPart: 1,
  },
  {
    // Sequence ownership (OWNED BY) lives only here; by the depender index.
    name: 'pg_depend',
    from: 'pg_depend x',
    where: `x.classid ${EQ} 'pg_catalog.pg_class'::pg_catalog.regclass AND x.objid ${GE} ${USER_OID} AND x.deptype ${EQ} ANY ('{a,i}'::"char"[]) AND x.refclassid ${EQ} 'pg_catalog.pg_class'::pg_catalog.regclass`,
    key: `pg_catalog.format('%s.%s.%s.%s.%s', x.objid, x.objsubid, x.refobjid, x.refobjsubid, x.deptype)`,
    owners: arr('x.objid', 'x.refobjid'),
    seeds: seeds(seed('pg_class', 'x.objid')),
    counted: true,
    // An index's or TOAST table's tie to its table changes only the table; a sequence's ownership, the sequence too.
    kinds: `CASE WHEN (SELECT c.relkind FROM pg_class c WHERE c.oid ${EQ} x.objid) ${NE} 'S' THEN '{relations}'::pg_catalog.text[] END`,
    lead: 'x.objid',
    rangeWith: CATALOG_CLASSES,
    deletesOthers: true,
  },
  {
    // Extension membership (ALTER EXTENSION ADD and DROP) lives only here; by the referenced index.
    name: 'pg_depend_extension',
    from: 'pg_depend x',
    where: `x.refclassid ${EQ} 'pg_catalog.pg_extension'::pg_catalog.regclass AND x.refobjid ${GE} ${USER_OID} AND x.deptype ${EQ} 'e'`,
    key: `pg_catalog.format('%s.%s.%s', x.classid, x.objid, x.refobjid)`,
    owners: arr('x.objid', 'x.refobjid'),
    seeds: seeds(`pg_catalog.format('%s/%s', x.classid, x.objid)`),
    counted: true,
    lead: 'x.objid',
    leadPart: 1,
    rangeWith: CATALOG_CLASSES,
    deletesOthers: true,
  },
  // The managed schema's own fields (comment, ACL, default privileges): re-read when one of these changes.
  { name: 'pg_namespace', from: 'pg_namespace x', where: `x.nspname ${EQ} $2::pg_catalog.text`, key: asText('x.oid'), owners: 'ARRAY[]::pg_catalog.text[]', seeds: 'ARRAY[]::pg_catalog.text[]', counted: false, lead: 'x.oid' },
  { name: 'pg_default_acl', from: 'pg_default_acl x', where: 'true', key: asText('x.oid'), owners: 'ARRAY[]::pg_catalog.text[]', seeds: 'ARRAY[]::pg_catalog.text[]', counted: true, lead: 'x.oid' },
];

/**
 * The xid every catalog change committed after this scan has at least.
 * Catalogs are per database, so only transactions of this database count:
 * with no other session in it (a scratch database), that is the next xid
 * to be assigned; with others, the oldest transaction still running
 * anywhere, which is older still. Other databases' transactions, which on
 * a shared server are always running, then do not make every read see old
 * changes again. A scan inside the transaction that made the changes (a
 * replayed migration's, read before its COMMIT) counts its own xid as
 * seen: the snapshot's xmax is only past the transactions that ended.
 */
const OTHERS_IN_DATABASE = `EXISTS (SELECT 1 FROM pg_stat_activity a
                    WHERE a.datname ${EQ} pg_catalog.current_database() AND a.pid ${NE} pg_catalog.pg_backend_pid()
                      AND a.backend_type ${EQ} 'client backend')
              OR EXISTS (SELECT 1 FROM pg_prepared_xacts p WHERE p.database ${EQ} pg_catalog.current_database())`;
const markerGiven = (others: string) => `CASE WHEN ${others}
         THEN pg_catalog.txid_snapshot_xmin(pg_catalog.txid_current_snapshot())
         ELSE GREATEST(pg_catalog.txid_snapshot_xmax(pg_catalog.txid_current_snapshot()),
                       pg_catalog.txid_current_if_assigned() OPERATOR(pg_catalog.+) 1) END`;

/** The relations of the tracked catalogs (pg_depend is two of them), in the order of COUNTS' arrays. */
const RELATIONS = [...new Set(TRACKED.map((t) => t.from.split(' ')[0]!))];
const relationOf = (t: TrackedCatalog): number => RELATIONS.indexOf(t.from.split(' ')[0]!);

/** The transaction's start, as text whatever the session's settings (DateStyle, TimeZone). */
const TRANSACTION_START = asText(`(pg_catalog.date_part('epoch', pg_catalog.transaction_timestamp()) OPERATOR(pg_catalog.*) 1000000)::pg_catalog.int8`);

/**
 * COUNTS of the relations whose OIDs are the expressions `oids` (RELATIONS'
 * order), as one json value. The function is called once per relation over
 * an array of them, not written out per relation: a baseline is a simple
 * query, parsed anew after every BEGIN, and 99 calls took longer to parse
 * than to run.
 */
function countsJson(oids: readonly string[]): string {
  const calls = (['inserted', 'updated', 'deleted'] as const).map((kind) => `pg_catalog.array_agg(pg_catalog.pg_stat_get_xact_tuples_${kind}(u.o) ORDER BY u.n)`);
  return `(SELECT pg_catalog.json_build_array(${TRANSACTION_START}, ${calls.join(', ')})
     FROM pg_catalog.unnest(ARRAY[${oids.join(', ')}]::pg_catalog.oid[]) WITH ORDINALITY AS u(o, n))`;
}

const RELATION_OIDS = RELATIONS.map((r) => `'pg_catalog.${r}'::pg_catalog.regclass::pg_catalog.oid`);
/** As text[] by format(), not a cast: a cast from oid to text is one a schema may define (test/fixtures/hostile-schema). */
const RELATION_OIDS_AS_TEXT = `ARRAY[${RELATION_OIDS.map(asText).join(', ')}]::pg_catalog.text[]`;

/**
 * This backend's counts of rows inserted, updated and deleted in each of
 * RELATIONS, as json [transaction start, inserted[], updated[], deleted[]].
 * They are the current transaction's (its live subtransactions' included)
 * plus what earlier transactions of the backend counted and the backend has
 * not yet sent to the shared statistics, which it does only while idle
 * outside a transaction (pg_stat_get_xact_tuples_inserted and friends:
 * src/backend/utils/activity/pgstat_relation.c, pgstat.c before 15). Every
 * catalog row is written by heap_insert, heap_update or heap_delete, which
 * count it (src/backend/access/heap/heapam.c); an in-place update does not,
 * and neither does it change xmin, so the scan does not see it either.
 */
const COUNTS = countsJson(RELATION_OIDS);

/**
 * What IncrementalSchemaReader.baselineSql sends right after BEGIN: the
 * counts before the transaction changes anything. It goes as a simple query,
 * parsed each time: the relations are OID literals (`oids`, learned from a
 * scan), not names to look up.
 */
function baselineSql(oids: readonly string[]): string {
  return `SELECT ${countsJson(oids.map((oid) => `'${Number(oid)}'::pg_catalog.oid`))} AS counts`;
}

/**
 * An OID every object made after this scan has a larger one than (unless
 * OIDs wrapped around): OIDs come from one counter of the cluster, which
 * only grows (GetNewObjectId, src/backend/access/transam/varsup.c), so the
 * largest OID in use of some catalogs is below it. Each max() is an
 * index's last entry.
 */
const LARGEST_OID = `GREATEST(${['pg_class', 'pg_type', 'pg_proc', 'pg_constraint', 'pg_attrdef', 'pg_trigger', 'pg_rewrite', 'pg_policy', 'pg_operator', 'pg_namespace']
  .map((c) => `(SELECT pg_catalog.max(y.oid) FROM ${c} y)`)
  .join(', ')})`;

/** A changed row as the scan gives it (ChangedRow): key, owners, seeds, whether it shadows, part kinds. */
function changedRowJson(t: TrackedCatalog): string {
  return `pg_catalog.json_build_array(${t.key}, ${t.owners}, ${t.seeds}, ${t.shadows ?? 'false'}, ${t.kinds ?? 'NULL::pg_catalog.text[]'})`;
}

/** A catalog's row of the scan: its user rows' count, and those changed since the marker `$1` (`all`: every row). */
function fullPart(t: TrackedCatalog, all: boolean): string {
  return `SELECT '${t.name}' AS catalog, 'full' AS mode, 0 AS updated, pg_catalog.count(*) AS rows,
       pg_catalog.json_agg(${changedRowJson(t)})
         FILTER (WHERE ${all ? '$1::pg_catalog.xid IS NOT NULL' : `pg_catalog.age(x.xmin) ${LE} pg_catalog.age($1::pg_catalog.xid)`}) AS changed
     FROM ${t.from} WHERE ${t.where}`;
}

/**
 * The rows of every scan after the catalogs': the next marker (MARKER),
 * the managed schema's OID and whether other sessions are in the database
 * (OTHERS_IN_DATABASE), the settings pinned, the counts (COUNTS) and LARGEST_OID.
 */
function scanTail(counts: string): string {
  return `
   UNION ALL SELECT 'marker', 'info', 0, 0, (SELECT pg_catalog.json_build_array(${asText(markerGiven('o.others'))},
     (SELECT ${asText('n.oid')} FROM pg_namespace n WHERE n.nspname ${EQ} $2::pg_catalog.text), o.others)
     FROM (SELECT ${OTHERS_IN_DATABASE} AS others) o)
   UNION ALL SELECT 'settings', 'info', 0, 0, pg_catalog.json_build_array(${pinnedSettingsSql(2, 3, 4)})
   UNION ALL SELECT 'counts', 'info', 0, 0, ${counts}
   UNION ALL SELECT 'oid', 'info', 0, 0, pg_catalog.json_build_array(${asText(LARGEST_OID)})
   UNION ALL SELECT 'relations', 'info', 0, 0, pg_catalog.to_json(${RELATION_OIDS_AS_TEXT})`;
}

/**
 * One scan of every tracked catalog: each one's user rows changed since the
 * marker `$1` (an xid; `all` lists every row instead), its row count, and
 * the next marker (MARKER). It also pins the read's settings ($2 the schema,
 * $3 and $4 the names and values: withPinnedCatalog's `readPins`), which
 * nothing it returns depends on, for the queries after it; so it names
 * every relation and type with its schema, being parsed before they are set.
 */
function scanSql(all: boolean): string {
  return memo(`scan:${all}`, () => qualifyCatalogs(`${TRACKED.map((t) => fullPart(t, all)).join('\n UNION ALL ')}${scanTail(COUNTS)}`));
}

/** The scans' texts, built once each: a replay scans after every migration. */
const texts = new Map<string, string>();
function memo(key: string, build: () => string): string {
  let text = texts.get(key);
  if (text === undefined) texts.set(key, (text = build()));
  return text;
}


/** scanSql's rows of `catalogs` alone (a ranged scan's that did not add up); $2 is referenced whatever they are. */
function partsSql(catalogs: readonly TrackedCatalog[]): string {
  return qualifyCatalogs(`${catalogs.map((t) => fullPart(t, false)).join('\n UNION ALL ')}
   UNION ALL SELECT 'params', 'info', 0, 0, NULL::pg_catalog.json WHERE $2::pg_catalog.text IS NULL`);
}

/**
 * COUNTS now (of RELATIONS, whose OIDs are `oids`), as json [counts,
 * tracked]: tracked whether track_counts is on. They tell what this
 * transaction changed since a baseline where they start with the same
 * transaction start (Counts.at; the scan compares). Whether another session is in the database
 * (whose changes they would not count) the ranged scan itself says
 * (scanTail). A simple query without parameters, short to parse, so that a
 * replay sends it in the round trip of the migration it reads after
 * (BatchOptions.onEnd). It sets plan_cache_mode for the rest of the
 * transaction (the read's, the migration's statements ran): a statement's
 * setting takes effect after it is planned, and the scan after it, planned
 * for the OIDs it is given, would be planned anew each time.
 */
function countsNowSql(oids: readonly string[]): string {
  return `SELECT pg_catalog.json_build_array(${countsJson(oids.map((oid) => `'${Number(oid)}'::pg_catalog.oid`))},
    pg_catalog.current_setting('track_counts') ${EQ} 'on',
    pg_catalog.set_config('plan_cache_mode', 'force_generic_plan', true)) AS now`;
}

/**
 * scanSql where the transaction it runs in changed only some catalogs
 * (COUNTS_NOW_SQL): `modes` gives each one read and how,
 * - `full`: as scanSql (it updated rows there, or deleted rows of
 *   pg_depend, whose deletes are mostly of rows it does not count);
 * - `range`: it inserted or deleted rows, and updated only rows it inserted
 *   (TrackedCatalog.updatedSinceInsert); the count of deletes stands for
 *   the rows lost (readChanges), which it is never below: only rows whose lead OID is above $5
 *   (LARGEST_OID of the previous scan; $6 the largest OID, so that the
 *   planner takes the range as narrow: clauselist_selectivity,
 *   src/backend/optimizer/path/clausesel.c) are read, through the lead's
 *   index, with `rows` counting every row there (not only the user's): the
 *   caller checks they are as many as were inserted. An insert of an old
 *   object's row (a column added to an old table) is not there, and so
 *   the catalog is then read in full. $7: the catalogs a depending object
 *   can be in where pg_depend is looked up by objid (rangeWith).
 */
function changedScanSql(modes: readonly (readonly [TrackedCatalog, 'full' | 'range'])[]): string {
  return memo(`changed:${modes.map(([t, mode]) => `${t.name}:${mode}`).join(',')}`, () => changedScanText(modes));
}

function changedScanText(modes: readonly (readonly [TrackedCatalog, 'full' | 'range'])[]): string {
  const parts = modes.map(([t, mode]) =>
    mode === 'full'
      ? fullPart(t, false)
      : `SELECT '${t.name}' AS catalog, 'range' AS mode, ${t.updatedSinceInsert === undefined ? '0' : `pg_catalog.count(*) FILTER (WHERE ${t.updatedSinceInsert})`} AS updated, pg_catalog.count(*) AS rows,
       pg_catalog.json_agg(${changedRowJson(t)})
         FILTER (WHERE ${t.where}) AS changed
     FROM ${t.from} WHERE ${t.rangeWith ?? 'true'} AND ${t.lead} OPERATOR(pg_catalog.>) $5::pg_catalog.oid AND ${t.lead} ${LE} $6::pg_catalog.oid
       AND pg_catalog.age(x.xmin) ${LE} pg_catalog.age($1::pg_catalog.xid)`,
  );
  // Every parameter is referenced, whatever the catalogs read.
  const params = `SELECT 'params' AS catalog, 'info' AS mode, 0 AS updated, 0 AS rows, NULL::pg_catalog.json AS changed
     WHERE $1::pg_catalog.xid IS NULL AND $5::pg_catalog.oid IS NULL AND $6::pg_catalog.oid IS NULL AND $7::pg_catalog.oid[] IS NULL`;
  return qualifyCatalogs(`${[...parts, params].join('\n UNION ALL ')}${scanTail(`NULL::pg_catalog.json`)}`);
}

/** `FROM pg_class` as `FROM pg_catalog.pg_class`, and "char" as pg_catalog."char". */
function qualifyCatalogs(sql: string): string {
  return sql.replace(/\b(FROM|JOIN) (pg_[a-z_]+)\b(?!\.)/g, '$1 pg_catalog.$2').replace(/::"char"/g, '::pg_catalog."char"');
}

/**
 * The keys of the catalogs that lost rows: of every row (`leads` false), or
 * of the rows whose lead OID is in the catalog's list ($1, $2, ... in the
 * order of the catalogs looked up by lead).
 */
function keysSql(catalogs: readonly (readonly [TrackedCatalog, boolean])[]): string {
  let param = 0;
  return catalogs
    .map(([t, leads]) => `SELECT '${t.name}' AS catalog, ${t.key} AS key FROM ${t.from} WHERE ${t.where}${leads ? ` AND ${t.lead} ${EQ} ANY ($${++param}::pg_catalog.oid[])` : ''}`)
    .join('\n UNION ALL ');
}

/**
 * The top-level objects that `seeds` and what depends on them (pg_depend,
 * to a fixpoint) belong to, with the kind of part each one is read as.
 * $1/$2: seeds as class and object OIDs; $3: owners known already; $4: the
 * managed schema's OID.
 */
const AFFECTED_SQL = `
  WITH RECURSIVE closure(classid, objid) AS (
    SELECT s.classid, s.objid FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.oid[]), pg_catalog.unnest($2::pg_catalog.oid[])) AS s(classid, objid)
    UNION
    SELECT d.classid, d.objid FROM closure c
      JOIN pg_depend d ON d.refclassid ${EQ} c.classid AND d.refobjid ${EQ} c.objid
  ),
  owner(oid) AS (
    SELECT c.objid FROM closure c
    UNION SELECT x.indrelid FROM closure c JOIN pg_index x ON x.indexrelid ${EQ} c.objid WHERE c.classid ${EQ} 'pg_catalog.pg_class'::pg_catalog.regclass
    UNION SELECT x.reltype FROM closure c JOIN pg_class x ON x.oid ${EQ} c.objid WHERE c.classid ${EQ} 'pg_catalog.pg_class'::pg_catalog.regclass
    UNION SELECT x.typrelid FROM closure c JOIN pg_type x ON x.oid ${EQ} c.objid WHERE c.classid ${EQ} 'pg_catalog.pg_type'::pg_catalog.regclass
    UNION SELECT x.conrelid FROM closure c JOIN pg_constraint x ON x.oid ${EQ} c.objid WHERE c.classid ${EQ} 'pg_catalog.pg_constraint'::pg_catalog.regclass
    UNION SELECT x.contypid FROM closure c JOIN pg_constraint x ON x.oid ${EQ} c.objid WHERE c.classid ${EQ} 'pg_catalog.pg_constraint'::pg_catalog.regclass
    UNION SELECT x.tgrelid FROM closure c JOIN pg_trigger x ON x.oid ${EQ} c.objid WHERE c.classid ${EQ} 'pg_catalog.pg_trigger'::pg_catalog.regclass
    UNION SELECT x.polrelid FROM closure c JOIN pg_policy x ON x.oid ${EQ} c.objid WHERE c.classid ${EQ} 'pg_catalog.pg_policy'::pg_catalog.regclass
    UNION SELECT x.ev_class FROM closure c JOIN pg_rewrite x ON x.oid ${EQ} c.objid WHERE c.classid ${EQ} 'pg_catalog.pg_rewrite'::pg_catalog.regclass
    UNION SELECT x.adrelid FROM closure c JOIN pg_attrdef x ON x.oid ${EQ} c.objid WHERE c.classid ${EQ} 'pg_catalog.pg_attrdef'::pg_catalog.regclass
    UNION SELECT x.amopfamily FROM closure c JOIN pg_amop x ON x.oid ${EQ} c.objid WHERE c.classid ${EQ} 'pg_catalog.pg_amop'::pg_catalog.regclass
    UNION SELECT x.amprocfamily FROM closure c JOIN pg_amproc x ON x.oid ${EQ} c.objid WHERE c.classid ${EQ} 'pg_catalog.pg_amproc'::pg_catalog.regclass
    UNION SELECT o.oid FROM pg_catalog.unnest($3::pg_catalog.oid[]) AS o(oid)
  )
  SELECT ${asText('o.oid')} AS oid,
         CASE WHEN cl.relkind ${EQ} ANY ('{r,p,v,m}'::"char"[]) AND cl.relnamespace ${EQ} $4::pg_catalog.oid THEN 'relations'
              WHEN cl.relkind ${EQ} 'S' AND cl.relnamespace ${EQ} $4::pg_catalog.oid THEN 'sequences'
              WHEN ty.typnamespace ${EQ} $4::pg_catalog.oid THEN 'types'
              WHEN pr.pronamespace ${EQ} $4::pg_catalog.oid THEN 'functions'
              WHEN op.oprnamespace ${EQ} $4::pg_catalog.oid THEN 'operators'
              WHEN oc.opcnamespace ${EQ} $4::pg_catalog.oid THEN 'operatorClasses'
              WHEN ofa.opfnamespace ${EQ} $4::pg_catalog.oid THEN 'operatorFamilies'
              WHEN co.collnamespace ${EQ} $4::pg_catalog.oid THEN 'collations'
              WHEN tc.cfgnamespace ${EQ} $4::pg_catalog.oid OR td.dictnamespace ${EQ} $4::pg_catalog.oid
                OR tp.prsnamespace ${EQ} $4::pg_catalog.oid OR tt.tmplnamespace ${EQ} $4::pg_catalog.oid THEN 'textSearch'
              WHEN st.stxnamespace ${EQ} $4::pg_catalog.oid THEN 'statistics'
              WHEN ex.extnamespace ${EQ} $4::pg_catalog.oid THEN 'extensions'
         END AS kind
  FROM owner o
  LEFT JOIN pg_class cl ON cl.oid ${EQ} o.oid
  LEFT JOIN pg_type ty ON ty.oid ${EQ} o.oid AND (ty.typrelid ${EQ} 0::pg_catalog.oid OR EXISTS (SELECT 1 FROM pg_class tr WHERE tr.oid ${EQ} ty.typrelid AND tr.relkind ${EQ} 'c'))
  LEFT JOIN pg_proc pr ON pr.oid ${EQ} o.oid
  LEFT JOIN pg_operator op ON op.oid ${EQ} o.oid
  LEFT JOIN pg_opclass oc ON oc.oid ${EQ} o.oid
  LEFT JOIN pg_opfamily ofa ON ofa.oid ${EQ} o.oid
  LEFT JOIN pg_collation co ON co.oid ${EQ} o.oid
  LEFT JOIN pg_ts_config tc ON tc.oid ${EQ} o.oid
  LEFT JOIN pg_ts_dict td ON td.oid ${EQ} o.oid
  LEFT JOIN pg_ts_parser tp ON tp.oid ${EQ} o.oid
  LEFT JOIN pg_ts_template tt ON tt.oid ${EQ} o.oid
  LEFT JOIN pg_statistic_ext st ON st.oid ${EQ} o.oid
  LEFT JOIN pg_extension ex ON ex.oid ${EQ} o.oid
  WHERE o.oid IS NOT NULL AND o.oid ${GE} ${USER_OID}`;

interface ScanRow {
  catalog: string;
  /** How the catalog was read (changedScanSql), or 'info' for the rows after the catalogs'. */
  mode: 'full' | 'range' | 'info';
  /** Of a range read, how many of the rows the transaction surely updated (TrackedCatalog.updatedSinceInsert). */
  updated: string | number;
  /** The user rows' count; null where it was not counted (a ranged read). */
  rows: string | null;
  changed: ChangedRow[] | null;
  /** Of a ranged read, how many of the catalog's rows the transaction deleted at most (its count of deletes). */
  lost?: number;
}

/** COUNTS, parsed; `at` is the start of the transaction they were taken in (TRANSACTION_START). */
interface Counts {
  readonly at: string;
  readonly inserted: readonly number[];
  readonly updated: readonly number[];
  readonly deleted: readonly number[];
}

function countsOf(json: unknown): Counts {
  const [at, inserted, updated, deleted] = json as [string, number[], number[], number[]];
  return { at, inserted: inserted.map(Number), updated: updated.map(Number), deleted: deleted.map(Number) };
}

const sameCounts = (a: Counts, b: Counts): boolean =>
  (['inserted', 'updated', 'deleted'] as const).every((kind) => a[kind].length === b[kind].length && a[kind].every((n, i) => n === b[kind][i]));

/** Key, top-level owners, pg_depend seeds (`classid/objid`), whether a change of it needs a full read, its part kinds (null: the catalog's). */
type ChangedRow = [string, (string | null)[], string[], boolean, PartKind[] | null];

/** A counted catalog's user rows as last seen: each key with the top-level objects it belongs to, and in the order they appeared. */
class TrackedKeys {
  readonly owners = new Map<string, readonly string[]>();
  /** Keys as they appeared, newest last; deleted ones are skipped (and dropped now and then). */
  private order: string[] = [];

  get size(): number {
    return this.owners.size;
  }

  has(key: string): boolean {
    return this.owners.has(key);
  }

  set(key: string, owners: readonly string[]): void {
    if (!this.owners.has(key)) this.order.push(key);
    this.owners.set(key, owners);
  }

  delete(key: string): void {
    this.owners.delete(key);
    if (this.order.length > 64 && this.order.length > 2 * this.owners.size) this.order = this.order.filter((k) => this.owners.has(k));
  }

  /** The `count` newest keys (fewer when there are fewer), newest first. */
  newest(count: number): string[] {
    const keys = new Set<string>();
    for (let i = this.order.length - 1; i >= 0 && keys.size < count; i--) {
      const key = this.order[i]!;
      if (this.owners.has(key)) keys.add(key);
    }
    return [...keys];
  }
}

/**
 * Rows a migration deletes are most often the newest (a down drops what its
 * up made): the newest keys are looked up first, as many as these, before
 * the whole catalog is listed.
 */
const DELETED_LOOKUPS = [64, 1024];

interface Scan {
  readonly catalogs: readonly ScanRow[];
  readonly marker: string;
  /** The managed schema's OID now, null when there is none. */
  readonly namespaceOid: string | null;
}

/** Counts of the reads an incremental reader made, for the bench and tests. */
export interface IncrementalReadStats {
  full: number;
  incremental: number;
  /** Top-level objects re-read by incremental reads, in all. */
  reread: number;
  /** Scans that read only what their transaction changed (changedScanSql), and catalogs of those read again in full. */
  ranged: number;
  rangedAgain: number;
}

type PartsContext = ReturnType<typeof partsContextOf>;

export class IncrementalSchemaReader {
  readonly stats: IncrementalReadStats = { full: 0, incremental: 0, reread: 0, ranged: 0, rangedAgain: 0 };
  private parts: CatalogParts | null = null;
  private marker = '0';
  /** Keys of the counted catalogs' user rows, each with the top-level objects it belongs to. */
  private tracked = new Map<string, TrackedKeys>();
  /** `catalog:key` of rows whose change or deletion needs a full read (functions named like pg_catalog's). */
  private shadowing = new Set<string>();
  /** COUNTS as the last scan saw them, and its LARGEST_OID. */
  private counts: Counts | null = null;
  private largestOid: string | null = null;
  /** The OIDs of RELATIONS, as a scan gave them. */
  private relationOids: string[] | null = null;
  /** COUNTS at the start of the transaction the next read('ending') reads in (takeBaseline). */
  private baseline: Counts | null = null;
  /** countsNowSql's value at the end of that transaction, where the batch took it (takeEnding). */
  private ending: unknown = null;

  constructor(
    private readonly db: Queryable,
    private readonly options: ReadSchemaModelOptions,
  ) {}

  /**
   * The schema now: a full read the first time (and when a change needs one),
   * else what changed since the last read. `ending`: inside the caller's
   * transaction, which it ends right after (ReadSchemaModelOptions.transaction),
   * e.g. a replayed migration's, before its COMMIT.
   */
  async read(transaction: 'own' | 'ending' = 'own'): Promise<SchemaModel> {
    const context = partsContextOf(this.options);
    // A baseline is of one transaction, the one this read ends.
    const baseline = transaction === 'ending' ? this.baseline : null;
    const ending = transaction === 'ending' ? this.ending : null;
    this.baseline = null;
    this.ending = null;
    this.parts = await withPinnedCatalog(
      this.db,
      transaction === 'own' ? this.options : { ...this.options, transaction },
      async (pin) => {
        const next = this.parts === null ? null : await this.readChanges(context, this.parts, pin, baseline, ending);
        // A full read after an incremental one's scan: the settings are pinned already.
        return next ?? this.readFully(context, this.parts === null ? pin : null);
      },
      // The same statements run after every migration: one plan each, kept for the session (namedQuery).
      [['plan_cache_mode', 'force_generic_plan']],
      true,
    );
    return assembleSchemaModel(this.parts);
  }

  /**
   * SQL (no parameters) to send right after the BEGIN of a transaction that
   * the next read('ending') reads in, in the same round trip; its rows go to
   * takeBaseline. With them, that read's scan reads only the catalogs the
   * transaction changed, and of those that it only inserted into, only the
   * rows of objects newer than the last scan (changedScanSql).
   */
  baselineSql(): string {
    // Before the first scan, nothing to compare with: no baseline.
    return this.relationOids === null ? 'SELECT NULL::pg_catalog.json AS counts' : baselineSql(this.relationOids);
  }

  /** The value of baselineSql, for the next read('ending') alone. */
  takeBaseline(value: unknown): void {
    this.baseline = value === null || value === undefined ? null : countsOf(value);
    this.ending = null;
  }

  /**
   * SQL (no parameters; one row of one json value) to send after the
   * migrations of the transaction the next read('ending') reads in, in their
   * round trip: the counts then (countsNowSql), which that read's scan
   * would otherwise ask for first; null before the first scan. It may be
   * sent before the baseline is taken (in the round trip of its BEGIN):
   * the scan uses it only where the baseline turns out to be the one the
   * last scan counted, and of the same transaction. Its value goes to
   * takeEnding.
   */
  endingSql(): string | null {
    return this.relationOids === null ? null : countsNowSql(this.relationOids);
  }

  /** The value of endingSql, for the next read('ending') alone. */
  takeEnding(value: unknown): void {
    this.ending = value;
  }

  /** Whether a scan given `baseline` can read only what its transaction changed (scan). */
  private rangeable(baseline: Counts): boolean {
    return this.counts !== null && this.largestOid !== null && this.relationOids !== null && sameCounts(baseline, this.counts);
  }

  /** Reads everything, and takes note of every tracked row and of the marker. */
  private async readFully(context: PartsContext, pin: PinRequest | null): Promise<CatalogParts> {
    this.stats.full += 1;
    const scan = await this.scan(true, pin);
    this.tracked = new Map();
    this.shadowing = new Set();
    for (const row of scan.catalogs) {
      if (!TRACKED.find((t) => t.name === row.catalog)!.counted) continue;
      const keys = new TrackedKeys();
      for (const [key, owners, , shadows] of row.changed ?? []) {
        keys.set(key, presentOwners(owners));
        if (shadows) this.shadowing.add(`${row.catalog}:${key}`);
      }
      this.tracked.set(row.catalog, keys);
    }
    this.marker = scan.marker;
    return readCatalogParts(this.db, context, null);
  }

  /** How many user rows of the counted catalogs there are (as of the last scan). */
  private trackedRows(): number {
    let rows = 0;
    for (const keys of this.tracked.values()) rows += keys.size;
    return rows;
  }

  /** The parts after what changed since the last read, or null when only a full read is sure to be right. */
  private async readChanges(context: PartsContext, previous: CatalogParts, pin: PinRequest | null, baseline: Counts | null, ending: unknown): Promise<CatalogParts | null> {
    const scan = await this.scan(false, pin, baseline, ending);
    // The schema itself was created, dropped or made anew: everything in it is new.
    if (scan.namespaceOid !== previous.namespaceOid) return null;
    const owners = new Set<string>();
    const seedClasses: string[] = [];
    const seedObjects: string[] = [];

    // Catalogs with fewer rows than the known ones plus the new ones lost some: find which (deletedKeys).
    const lost = new Map<TrackedCatalog, number>();
    for (const t of TRACKED) {
      const keys = this.tracked.get(t.name);
      const row = scan.catalogs.find((c) => c.catalog === t.name);
      if (keys === undefined || row === undefined) continue;
      if (row.rows === null) {
        if (row.lost) lost.set(t, row.lost);
        continue;
      }
      const added = (row.changed ?? []).filter(([key]) => !keys.has(key)).length;
      // More rows than known and new ones is not expected: listing them all settles it (Infinity).
      if (Number(row.rows) !== keys.size + added) lost.set(t, Math.max(keys.size + added - Number(row.rows), 0) || Infinity);
    }
    const shrunk = [...lost.keys()];
    const touched = new Set([...shrunk.map((t) => t.name), ...scan.catalogs.filter((c) => (c.changed ?? []).length > 0).map((c) => c.catalog)]);
    let vanishedSchemaComment = false;
    /** OIDs whose object's own row was deleted. */
    const gone = new Set<string>();
    for (const [catalog, deleted] of await this.deletedKeys(lost)) {
      const keys = this.tracked.get(catalog.name)!;
      for (const key of deleted) {
        const id = `${catalog.name}:${key}`;
        if (this.shadowing.has(id)) return null;
        if (catalog.name === 'pg_description' && key.startsWith(NAMESPACE_DESCRIPTION)) vanishedSchemaComment = true;
        for (const owner of keys.owners.get(key) ?? []) owners.add(owner);
        keys.delete(key);
        if (OID_KEYED.includes(catalog.name)) gone.add(key);
      }
    }

    // Objects that existed before this scan: only their changes can change others (a new object has new dependents only).
    const known = (oid: string) => OID_KEYED.some((catalog) => this.tracked.get(catalog)?.has(oid) === true);
    let ownChanged = shrunk.some((t) => t.name === 'pg_default_acl') || vanishedSchemaComment;
    const kinds = new Set<PartKind>();

    for (const row of scan.catalogs) {
      for (const [key, rowOwners, rowSeeds, shadows, rowKinds] of row.changed ?? []) {
        if (shadows || this.shadowing.has(`${row.catalog}:${key}`)) return null;
        if (OWN_CATALOGS.has(row.catalog) || (row.catalog === 'pg_description' && key.startsWith(NAMESPACE_DESCRIPTION))) ownChanged = true;
        for (const owner of presentOwners(rowOwners)) owners.add(owner);
        for (const kind of rowKinds ?? KINDS_OF_CATALOG[row.catalog] ?? []) kinds.add(kind);
        for (const pair of rowSeeds) {
          const slash = pair.indexOf('/');
          const objid = pair.slice(slash + 1);
          if (!known(objid)) continue;
          seedClasses.push(pair.slice(0, slash));
          seedObjects.push(objid);
        }
      }
    }
    // Only now the new keys become known: the seeds above are of objects that existed before this scan.
    for (const row of scan.catalogs) {
      const keys = this.tracked.get(row.catalog);
      if (keys === undefined) continue;
      for (const [key, rowOwners] of row.changed ?? []) keys.set(key, presentOwners(rowOwners));
    }
    this.marker = scan.marker;
    this.stats.incremental += 1;
    const knownParts = { namespace: previous.namespace!, plannedFor: this.trackedRows(), ...(ownChanged ? {} : { own: previous.own }) };
    if (owners.size === 0 && seedObjects.length === 0) {
      // Nothing of the user's objects changed; the schema's own fields may have.
      if (!ownChanged) return previous;
      const own = await readCatalogParts(this.db, context, [], new Set(), knownParts);
      return { ...previous, own: own.own };
    }
    const reread = new Set(owners);
    if (seedObjects.length > 0 || kinds.has(UNKNOWN)) {
      // What depends on a changed object that existed before, and the kind of everything to read again.
      const affected = (
        await this.db.query<{ oid: string; kind: PartKind | null }>(namedQuery(AFFECTED_SQL, [seedClasses, seedObjects, [...owners], previous.namespaceOid ?? '0']))
      ).rows;
      for (const a of affected) {
        reread.add(a.oid);
        if (a.kind !== null) kinds.add(a.kind);
      }
    }
    kinds.delete(UNKNOWN);
    // A part that is re-read must be read again as what it was, even when it is gone now (then it is dropped).
    for (const oid of reread) {
      const list = previous.objects.get(oid)?.[0]?.list;
      if (list !== undefined) kinds.add(PART_KIND_OF_LIST[list]);
    }
    // All of them are gone (their own rows were deleted, and no catalog has their OID now, new rows included):
    // reading them again would find nothing, and merging nothing drops them.
    if ([...reread].every((oid) => gone.has(oid) && !known(oid))) kinds.clear();
    // None of them existed before: their columns, constraints, indexes, ... are all new rows, so a query
    // of a catalog without any changed row would find nothing of theirs.
    const allNew = [...reread].every((oid) => !previous.objects.has(oid));
    const skip = allNew ? new Set(CHILD_STEPS.filter(([catalog]) => !touched.has(catalog)).map(([, step]) => step)) : undefined;
    const fresh = await readCatalogParts(this.db, context, [...reread], kinds, knownParts, skip);
    this.stats.reread += fresh.objects.size;
    return mergeCatalogParts(previous, reread, fresh);
  }

  /**
   * The keys each catalog of `lost` no longer has, `lost` giving how many it
   * lost at most (Infinity: unknown). The newest known keys are looked up
   * first, by their lead OID (indexed): as many as it lost, then more
   * (DELETED_LOOKUPS); a catalog is settled once as many are missing as it
   * lost, else all its keys are listed. Exact either way: the count says how
   * many to find.
   */
  private async deletedKeys(lost: ReadonlyMap<TrackedCatalog, number>): Promise<Map<TrackedCatalog, string[]>> {
    const deleted = new Map<TrackedCatalog, string[]>();
    // A down drops what its up made, the newest keys: the first lookup, of as many as were lost, most often settles it.
    const limits = new Map([...lost].map(([t, count]) => [t, [...new Set([count, ...DELETED_LOOKUPS, Infinity])].sort((a, b) => a - b)]));
    let pending = [...lost.keys()];
    while (pending.length > 0) {
      const looked = pending.map((t) => {
        const keys = this.tracked.get(t.name)!;
        const limit = limits.get(t)!.shift()!;
        return { t, byLead: limit !== Infinity, settles: limit >= keys.size, candidates: limit >= keys.size ? [...keys.owners.keys()] : keys.newest(limit) };
      });
      const params = looked.filter((l) => l.byLead).map(({ t, candidates }) => [...new Set(candidates.map((key) => key.split('.')[t.leadPart ?? 0]!))]);
      const { rows } = await this.db.query<{ catalog: string; key: string }>(namedQuery(keysSql(looked.map((l) => [l.t, l.byLead] as const)), params));
      const present = new Set(rows.map((r) => `${r.catalog}:${r.key}`));
      const unsettled: TrackedCatalog[] = [];
      for (const { t, settles, candidates } of looked) {
        const gone = candidates.filter((key) => !present.has(`${t.name}:${key}`));
        if (settles || gone.length >= lost.get(t)!) deleted.set(t, gone);
        else unsettled.push(t);
      }
      pending = unsettled;
    }
    return deleted;
  }

  /**
   * The scan (scanSql); with `pin`, it pins the read's settings too (else
   * they are already, or the caller's). With `baseline`, the counts at the
   * start of the transaction it runs in, only the catalogs the transaction
   * changed are read (changedScanSql), where the baseline is what the last
   * scan counted (else the backend changed catalogs in between, or sent its
   * counts to the shared statistics: they start again from 0).
   */
  private async scan(all: boolean, pin: PinRequest | null, baseline: Counts | null = null, ending: unknown = null): Promise<Scan> {
    const schema = this.options.schema ?? 'public';
    const settings = pin ?? { names: [], values: [] };
    const params: unknown[] = [this.marker, schema, settings.names, settings.values];
    const planned = (text: string) => (all ? text : plannedFor(text, this.trackedRows()));
    let query = namedQuery(planned(scanSql(all)), params);
    let counts: Counts | null = null;
    const modes = new Map<TrackedCatalog, 'full' | 'range'>();
    /** What each catalog's counts say it changed by: [inserted, updated, deleted]. */
    const changes = new Map<TrackedCatalog, number[]>();
    let ranged = false;
    if (!all && baseline !== null && this.rangeable(baseline)) {
      const relations = this.relationOids!;
      const [nowCounts, tracked] = (ending ?? (await this.db.query<{ now: unknown }>(countsNowSql(relations))).rows[0]!.now) as [unknown, boolean];
      // Counts of the baseline's transaction, the one this read ends (they start with its start).
      if (tracked && countsOf(nowCounts).at === baseline.at) {
        counts = countsOf(nowCounts);
        const classes = new Set<string>();
        for (const t of TRACKED) {
          const k = relationOf(t);
          const change = (['inserted', 'updated', 'deleted'] as const).map((kind) => counts![kind][k]! - baseline[kind][k]!);
          changes.set(t, change);
          if (change[0] !== 0) classes.add(relations[k]!);
          const [inserted, updated, deleted] = change as [number, number, number];
          // Updates can be of old rows, anywhere: unless the catalog can tell they were of its new ones.
          // Deletes matter where rows are counted (readChanges' lost rows, which their number can stand
          // for: never fewer than the catalog's rows deleted); elsewhere they are not looked for.
          const lost = t.counted && deleted !== 0;
          if (inserted < 0 || updated < 0 || deleted < 0 || (lost && t.deletesOthers) || (updated !== 0 && (t.updatedSinceInsert === undefined || inserted === 0))) {
            modes.set(t, 'full');
          } else if (inserted !== 0 || lost) modes.set(t, 'range');
        }
        ranged = true;
        query = namedQuery(planned(changedScanSql([...modes])), [...params, this.largestOid, '4294967295', [...classes]]);
      }
    }
    let { rows } = await this.db.query<ScanRow>(query);
    if (ranged && (rows.find((row) => row.catalog === 'marker')!.changed as unknown as [string, string | null, boolean])[2]) {
      // Another session is in the database: what it changed is not in this backend's counts.
      ranged = false;
      counts = null;
      rows = (await this.db.query<ScanRow>(namedQuery(planned(scanSql(false)), params))).rows;
    }
    if (ranged) this.stats.ranged += 1;
    let marker = this.marker;
    let namespaceOid: string | null = null;
    let largestOid: string | null = null;
    const catalogs: ScanRow[] = [];
    /** Catalogs where a ranged read found fewer (or more) rows than were inserted: read again as scanSql does. */
    const again: TrackedCatalog[] = [];
    for (const row of rows) {
      if (row.catalog === 'settings' || row.catalog === 'params') continue;
      if (row.catalog === 'counts') {
        if (row.changed !== null) counts = countsOf(row.changed);
      } else if (row.catalog === 'oid') largestOid = (row.changed as unknown as [string])[0];
      else if (row.catalog === 'relations') this.relationOids = row.changed as unknown as string[];
      else if (row.catalog === 'marker') {
        // A 64-bit txid (epoch and xid); the xid is its low 32 bits.
        const [next, namespace] = row.changed as unknown as [string, string | null];
        marker = (BigInt(next) % 4294967296n).toString();
        namespaceOid = namespace;
      } else if (row.mode !== 'range') catalogs.push(row);
      else {
        const t = TRACKED.find((c) => c.name === row.catalog)!;
        const [inserted, updated] = changes.get(t)!;
        // Every row inserted is there, and every update was of one of them.
        if (Number(row.rows) === inserted && Number(row.updated) >= updated!) catalogs.push({ ...row, rows: null, lost: t.counted ? changes.get(t)![2]! : 0 });
        else again.push(t);
      }
    }
    this.stats.rangedAgain += again.length;
    if (again.length > 0) catalogs.push(...(await this.db.query<ScanRow>(namedQuery(partsSql(again), [this.marker, schema]))).rows.filter((r) => r.mode === 'full'));
    this.counts = counts;
    this.largestOid = largestOid;
    return { catalogs, marker, namespaceOid };
  }
}

/** A kind whose objects' part kinds only the catalog can tell (AFFECTED_SQL). */
const UNKNOWN = 'unknown' as unknown as PartKind;

/** The part kinds a changed row of each catalog can belong to; rows of the others need AFFECTED_SQL to tell. */
const KINDS_OF_CATALOG: Readonly<Record<string, readonly PartKind[]>> = {
  pg_class: ['relations', 'sequences', 'types'],
  pg_attribute: ['relations', 'types'],
  pg_attrdef: ['relations'],
  pg_constraint: ['relations', 'types'],
  pg_index: ['relations'],
  pg_trigger: ['relations'],
  pg_policy: ['relations'],
  pg_rewrite: ['relations'],
  pg_type: ['types', 'relations'],
  pg_enum: ['types'],
  pg_range: ['types'],
  pg_proc: ['functions'],
  pg_aggregate: ['functions'],
  pg_operator: ['operators'],
  pg_opclass: ['operatorClasses'],
  pg_opfamily: ['operatorFamilies'],
  pg_amop: ['operatorFamilies'],
  pg_amproc: ['operatorFamilies'],
  pg_collation: ['collations'],
  pg_ts_config: ['textSearch'],
  pg_ts_config_map: ['textSearch'],
  pg_ts_dict: ['textSearch'],
  pg_ts_parser: ['textSearch'],
  pg_ts_template: ['textSearch'],
  pg_statistic_ext: ['statistics'],
  pg_extension: ['extensions'],
  pg_inherits: ['relations'],
  pg_sequence: ['sequences'],
  pg_description: [UNKNOWN],
  pg_depend: ['sequences', 'relations'],
  pg_depend_extension: [UNKNOWN],
  pg_cast: [],
  pg_namespace: [],
  pg_default_acl: [],
};

/** Catalogs keyed by the rows' own OIDs: their keys are the objects that exist. */
const OID_KEYED = TRACKED.filter((t) => t.counted && t.key === asText('x.oid')).map((t) => t.name);

/** readCatalogParts' steps of a table's children, each with the catalog their rows are in. */
const CHILD_STEPS: readonly (readonly [string, string])[] = [
  ['pg_attribute', 'columns'],
  ['pg_constraint', 'constraints'],
  ['pg_index', 'indexes'],
  ['pg_trigger', 'triggers'],
  ['pg_policy', 'policies'],
  ['pg_rewrite', 'rules'],
];

/** Catalogs whose rows are the managed schema's own fields. */
const OWN_CATALOGS = new Set(['pg_namespace', 'pg_default_acl']);

/** Keys of pg_description rows of schemas start with pg_namespace's OID (2615, fixed since PostgreSQL 7.3: src/include/catalog/pg_namespace.h). */
const NAMESPACE_DESCRIPTION = '2615.';

/** OIDs of owners that exist (the catalogs use 0 for "none"). */
function presentOwners(owners: readonly (string | null)[]): string[] {
  return owners.filter((o): o is string => o !== null && o !== '' && o !== '0');
}
