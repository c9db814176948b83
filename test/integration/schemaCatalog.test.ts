/**
 * readSchemaModel + fingerprintSchema + diffSchemas against real PostgreSQL.
 *
 * Most cases build two schemas of the same name in two databases (A and B)
 * and compare them: "equal" cases must give the same fingerprint and no
 * differences; "mutation" cases apply one change to B only and must give a
 * different fingerprint and exactly the expected differences.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createTestDatabase, serverUrl, type TestDatabase } from '../helpers/database.js';
import { testWithPgDump } from '../helpers/pgDump.js';
import { runProcess } from '../helpers/processes.js';
import { readSchemaModel, SchemaCatalogError } from '../../src/schema/catalog.js';
import type { Queryable } from '../../src/core/types.js';
import { fingerprintSchema } from '../../src/schema/fingerprint.js';
import { describeDifference, diffSchemas, type SchemaDifference } from '../../src/schema/diff.js';
import type { SchemaModel } from '../../src/schema/model.js';

const RUNNER_TABLES = ['pgmigrations', 'pgmigrations_meta'] as const;

/** A schema with one of each object kind; statements in dependency order. */
const BASE_DDL = [
  `CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`,
  `CREATE DOMAIN positive_int AS integer NOT NULL DEFAULT 1 CHECK (VALUE > 0)`,
  `CREATE TYPE address AS (street text, city text COLLATE "C")`,
  `CREATE TABLE orgs (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL UNIQUE)`,
  `CREATE TABLE users (
     id serial PRIMARY KEY,
     org_id bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
     email varchar(255) NOT NULL,
     name text COLLATE "C",
     mood mood DEFAULT 'ok',
     score positive_int,
     home address,
     created_at timestamptz NOT NULL DEFAULT now(),
     email_lower text GENERATED ALWAYS AS (lower(email)) STORED,
     CONSTRAINT users_email_format CHECK (email LIKE '%@%'),
     UNIQUE (org_id, email)
   )`,
  `CREATE INDEX users_created_idx ON users (created_at DESC)`,
  `CREATE INDEX ON users (lower(name))`,
  `COMMENT ON TABLE users IS 'People'`,
  `COMMENT ON COLUMN users.email IS 'Login'`,
  `CREATE SEQUENCE invoice_numbers AS integer START 1000 INCREMENT 10 CACHE 5`,
  `CREATE TABLE pairs (a int, b int)`,
  `CREATE TABLE events (id bigint, at date NOT NULL, payload jsonb, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)`,
  `CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')`,
  `CREATE TABLE bookings (id int PRIMARY KEY, during tsrange, EXCLUDE USING gist (during WITH &&))`,
  `CREATE VIEW active_users AS SELECT id, email FROM users WHERE mood <> 'sad'`,
  `CREATE MATERIALIZED VIEW user_counts AS SELECT org_id, count(*) AS n FROM users GROUP BY org_id`,
  `CREATE UNIQUE INDEX ON user_counts (org_id)`,
  `CREATE FUNCTION touch_created() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.created_at := now(); RETURN NEW; END $$`,
  `CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch_created()`,
  `CREATE FUNCTION add(a integer, b integer) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT a + b'`,
  `CREATE PROCEDURE reset_scores() LANGUAGE sql AS $$ UPDATE users SET score = 1 $$`,
  `ALTER TABLE users ENABLE ROW LEVEL SECURITY`,
  `CREATE POLICY users_same_org ON users FOR SELECT TO public USING (org_id = current_setting('app.org_id')::bigint)`,
];

/**
 * BASE_DDL in another order: functions before the tables they use, foreign
 * keys and constraints added afterwards, views before the comments, etc.
 */
const BASE_DDL_REORDERED = [
  `SET check_function_bodies = off`,
  `CREATE PROCEDURE reset_scores() LANGUAGE sql AS $$ UPDATE users SET score = 1 $$`,
  `CREATE FUNCTION add(a integer, b integer) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT a + b'`,
  `CREATE FUNCTION touch_created() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.created_at := now(); RETURN NEW; END $$`,
  `CREATE TABLE bookings (id int PRIMARY KEY, during tsrange)`,
  `CREATE SEQUENCE invoice_numbers AS integer START 1000 INCREMENT 10 CACHE 5`,
  `CREATE TYPE address AS (street text, city text COLLATE "C")`,
  `CREATE DOMAIN positive_int AS integer NOT NULL DEFAULT 1 CHECK (VALUE > 0)`,
  `CREATE TABLE pairs (a int, b int)`,
  `CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`,
  `CREATE TABLE events (id bigint, at date NOT NULL, payload jsonb) PARTITION BY RANGE (at)`,
  `CREATE TABLE events_2024 (id bigint NOT NULL, at date NOT NULL, payload jsonb)`,
  `CREATE TABLE users (
     id serial,
     org_id bigint NOT NULL,
     email varchar(255) NOT NULL,
     name text COLLATE "C",
     mood mood DEFAULT 'ok',
     score positive_int,
     home address,
     created_at timestamptz NOT NULL DEFAULT now(),
     email_lower text GENERATED ALWAYS AS (lower(email)) STORED
   )`,
  `CREATE INDEX ON users (lower(name))`,
  `ALTER TABLE users ENABLE ROW LEVEL SECURITY`,
  `CREATE POLICY users_same_org ON users FOR SELECT TO public USING (org_id = current_setting('app.org_id')::bigint)`,
  `CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch_created()`,
  `ALTER TABLE users ADD UNIQUE (org_id, email)`,
  `ALTER TABLE users ADD CONSTRAINT users_email_format CHECK (email LIKE '%@%')`,
  `CREATE VIEW active_users AS SELECT id, email FROM users WHERE mood <> 'sad'`,
  `CREATE MATERIALIZED VIEW user_counts AS SELECT org_id, count(*) AS n FROM users GROUP BY org_id`,
  `CREATE UNIQUE INDEX ON user_counts (org_id)`,
  `CREATE TABLE orgs (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL UNIQUE)`,
  `ALTER TABLE users ADD FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE`,
  `ALTER TABLE users ADD PRIMARY KEY (id)`,
  `CREATE INDEX users_created_idx ON users (created_at DESC)`,
  `ALTER TABLE bookings ADD EXCLUDE USING gist (during WITH &&)`,
  `ALTER TABLE events ADD PRIMARY KEY (id, at)`,
  `ALTER TABLE events ATTACH PARTITION events_2024 FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')`,
  `COMMENT ON COLUMN users.email IS 'Login'`,
  `COMMENT ON TABLE users IS 'People'`,
];

const RUNNER_TABLES_DDL = [
  `CREATE TABLE pgmigrations (id serial PRIMARY KEY, name varchar(255) NOT NULL UNIQUE, run_on timestamp NOT NULL)`,
  `CREATE INDEX pgmigrations_run_on_idx ON pgmigrations (run_on)`,
  `COMMENT ON TABLE pgmigrations IS 'runner'`,
  `CREATE TABLE pgmigrations_meta (key text PRIMARY KEY CHECK (key <> ''), value jsonb, migration_id int REFERENCES pgmigrations (id))`,
  `ALTER TABLE pgmigrations_meta ENABLE ROW LEVEL SECURITY`,
  `CREATE TRIGGER meta_touch BEFORE UPDATE ON pgmigrations_meta FOR EACH ROW EXECUTE FUNCTION touch_created()`,
];

interface EqualCase {
  readonly title: string;
  readonly ddlA: readonly string[];
  readonly ddlB: readonly string[];
}

const EQUAL_CASES: readonly EqualCase[] = [
  { title: 'the same DDL in a different order', ddlA: BASE_DDL, ddlB: BASE_DDL_REORDERED },
  {
    title: 'explicit names equal to the generated ones',
    ddlA: [
      `CREATE TABLE orgs (id int PRIMARY KEY)`,
      `CREATE TABLE users (id serial PRIMARY KEY, email text UNIQUE, age int CHECK (age > 0), lo int, hi int,
         org_id int REFERENCES orgs (id), CHECK (lo < hi), span int4range, EXCLUDE USING gist (span WITH &&))`,
      `CREATE INDEX ON users (lower(email))`,
      `CREATE INDEX ON users (lo, hi) INCLUDE (age)`,
      `CREATE INDEX ON users ((lo + hi))`,
      `ALTER TABLE users ADD UNIQUE (lo)`,
      `ALTER TABLE users ADD UNIQUE (lo)`,
      `CREATE TABLE a_table_name_long_enough_that_postgresql_must_truncate_it_x (a_column_name_long_enough_that_postgresql_truncates_it_too int UNIQUE)`,
      `CREATE DOMAIN percent AS int CHECK (VALUE BETWEEN 0 AND 100)`,
    ],
    ddlB: [
      `CREATE TABLE orgs (id int CONSTRAINT orgs_pkey PRIMARY KEY)`,
      `CREATE SEQUENCE users_id_seq AS integer`,
      `CREATE TABLE users (id int NOT NULL DEFAULT nextval('users_id_seq'), email text, age int, lo int, hi int,
         org_id int, span int4range,
         CONSTRAINT users_pkey PRIMARY KEY (id), CONSTRAINT users_email_key UNIQUE (email),
         CONSTRAINT users_age_check CHECK (age > 0), CONSTRAINT users_org_id_fkey FOREIGN KEY (org_id) REFERENCES orgs (id),
         CONSTRAINT users_check CHECK (lo < hi), CONSTRAINT users_span_excl EXCLUDE USING gist (span WITH &&))`,
      `ALTER SEQUENCE users_id_seq OWNED BY users.id`,
      `CREATE INDEX users_lower_idx ON users (lower(email))`,
      `CREATE INDEX users_lo_hi_age_idx ON users (lo, hi) INCLUDE (age)`,
      `CREATE INDEX users_expr_idx ON users ((lo + hi))`,
      `ALTER TABLE users ADD CONSTRAINT users_lo_key1 UNIQUE (lo)`,
      `ALTER TABLE users ADD CONSTRAINT users_lo_key UNIQUE (lo)`,
      `CREATE TABLE a_table_name_long_enough_that_postgresql_must_truncate_it_x (a_column_name_long_enough_that_postgresql_truncates_it_too int
         CONSTRAINT a_table_name_long_enough_that_a_column_name_long_enough_tha_key UNIQUE)`,
      `CREATE DOMAIN percent AS int CONSTRAINT percent_check CHECK (VALUE BETWEEN 0 AND 100)`,
    ],
  },
  {
    // PostgreSQL appends 1, 2, ... on a name collision, so the same objects
    // created in another order get each other's names.
    title: 'generated names that differ only by creation order',
    ddlA: [
      `CREATE TABLE t (a int, b int, CHECK (a > 0), CHECK (a < 100))`,
      `CREATE INDEX ON t (a)`,
      `CREATE INDEX ON t (a) WHERE b > 0`,
    ],
    ddlB: [
      `CREATE TABLE t (a int, b int, CHECK (a < 100), CHECK (a > 0))`,
      `CREATE INDEX ON t (a) WHERE b > 0`,
      `CREATE INDEX ON t (a)`,
    ],
  },
  {
    title: 'a dropped and re-added column and a clean table with the same logical columns',
    ddlA: [
      `CREATE TABLE items (id int, obsolete text, name text, other int)`,
      `ALTER TABLE items DROP COLUMN obsolete`,
      `ALTER TABLE items DROP COLUMN other`,
      `ALTER TABLE items ADD COLUMN price numeric(10,2) NOT NULL DEFAULT 0`,
    ],
    ddlB: [`CREATE TABLE items (id int, name text, price numeric(10,2) NOT NULL DEFAULT 0)`],
  },
  {
    title: "the runner's own tables and what depends on them",
    ddlA: [...BASE_DDL, ...RUNNER_TABLES_DDL],
    ddlB: BASE_DDL,
  },
];

interface MutationCase {
  readonly title: string;
  /** The oldest PostgreSQL major the DDL runs on. */
  readonly minMajor?: number;
  /** Applied to B only, after BASE_DDL. */
  readonly ddl: readonly string[];
  /** `[change, kind, name]` of every expected difference, in diffSchemas order. */
  readonly expected: readonly (readonly [SchemaDifference['change'], SchemaDifference['kind'], string])[];
}

const MUTATION_CASES: readonly MutationCase[] = [
  { title: 'table added', ddl: [`CREATE TABLE audit_log (id int)`], expected: [['added', 'table', '"audit_log"']] },
  {
    title: 'partition added',
    ddl: [`CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')`],
    expected: [['added', 'table', '"events_2025"']],
  },
  { title: 'table comment', ddl: [`COMMENT ON TABLE orgs IS 'Tenants'`], expected: [['changed', 'table', '"orgs"']] },
  { title: 'table unlogged', ddl: [`ALTER TABLE pairs SET UNLOGGED`], expected: [['changed', 'table', '"pairs"']] },
  { title: 'table storage option', ddl: [`ALTER TABLE pairs SET (fillfactor = 70)`], expected: [['changed', 'table', '"pairs"']] },
  {
    title: 'column order',
    ddl: [`DROP TABLE pairs`, `CREATE TABLE pairs (b int, a int)`],
    expected: [['changed', 'table', '"pairs"']],
  },
  { title: 'column added', ddl: [`ALTER TABLE users ADD COLUMN nickname text`], expected: [['added', 'column', '"users"."nickname"']] },
  { title: 'column dropped', ddl: [`ALTER TABLE pairs DROP COLUMN b`], expected: [['removed', 'column', '"pairs"."b"']] },
  { title: 'column type', ddl: [`ALTER TABLE orgs ALTER COLUMN name TYPE varchar(200)`], expected: [['changed', 'column', '"orgs"."name"']] },
  { title: 'column nullability', ddl: [`ALTER TABLE pairs ALTER COLUMN a SET NOT NULL`], expected: [['changed', 'column', '"pairs"."a"']] },
  { title: 'column default', ddl: [`ALTER TABLE users ALTER COLUMN mood SET DEFAULT 'happy'`], expected: [['changed', 'column', '"users"."mood"']] },
  { title: 'column collation', ddl: [`ALTER TABLE orgs ALTER COLUMN name TYPE text COLLATE "C"`], expected: [['changed', 'column', '"orgs"."name"']] },
  { title: 'column comment', ddl: [`COMMENT ON COLUMN orgs.name IS 'Display name'`], expected: [['changed', 'column', '"orgs"."name"']] },
  { title: 'column identity', ddl: [`ALTER TABLE orgs ALTER COLUMN id SET GENERATED BY DEFAULT`], expected: [['changed', 'column', '"orgs"."id"']] },
  {
    title: 'generated column expression',
    ddl: [`ALTER TABLE users DROP COLUMN email_lower`, `ALTER TABLE users ADD COLUMN email_lower text GENERATED ALWAYS AS (upper(email)) STORED`],
    expected: [['changed', 'column', '"users"."email_lower"']],
  },
  {
    title: 'check constraint added',
    ddl: [`ALTER TABLE orgs ADD CHECK (length(name) > 1)`],
    expected: [['added', 'constraint', '"orgs" CHECK ((length(name) > 1))']],
  },
  {
    title: 'foreign key action',
    ddl: [`ALTER TABLE users DROP CONSTRAINT users_org_id_fkey, ADD FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE RESTRICT`],
    expected: [
      ['removed', 'constraint', '"users" FOREIGN KEY (org_id) REFERENCES orgs(id) ON DELETE CASCADE'],
      ['added', 'constraint', '"users" FOREIGN KEY (org_id) REFERENCES orgs(id) ON DELETE RESTRICT'],
    ],
  },
  {
    title: 'constraint renamed to a chosen name',
    ddl: [`ALTER TABLE orgs RENAME CONSTRAINT orgs_name_key TO orgs_name_unique`],
    expected: [
      ['removed', 'constraint', '"orgs" UNIQUE (name)'],
      ['added', 'constraint', '"orgs"."orgs_name_unique"'],
    ],
  },
  {
    title: 'exclusion constraint dropped',
    ddl: [`ALTER TABLE bookings DROP CONSTRAINT bookings_during_excl`],
    expected: [['removed', 'constraint', '"bookings" EXCLUDE USING gist (during WITH &&)']],
  },
  {
    title: 'index added',
    ddl: [`CREATE INDEX ON orgs (name DESC)`],
    expected: [['added', 'index', 'CREATE INDEX ON orgs USING btree (name DESC)']],
  },
  {
    title: 'index renamed to the generated form',
    ddl: [`ALTER INDEX users_created_idx RENAME TO users_created_at_idx`],
    expected: [
      ['removed', 'index', '"users"."users_created_idx"'],
      ['added', 'index', 'CREATE INDEX ON users USING btree (created_at DESC)'],
    ],
  },
  {
    title: 'unique index on a partitioned table (ON ONLY)',
    ddl: [`CREATE UNIQUE INDEX ON events (id, at, payload)`],
    expected: [
      ['added', 'index', 'CREATE UNIQUE INDEX ON ONLY events USING btree (id, at, payload)'],
      ['added', 'index', 'CREATE UNIQUE INDEX ON events_2024 USING btree (id, at, payload)'],
    ],
  },
  {
    title: 'constraint trigger',
    ddl: [
      `CREATE CONSTRAINT TRIGGER users_check_late AFTER INSERT ON users DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION touch_created()`,
    ],
    expected: [['added', 'trigger', '"users"."users_check_late"']],
  },
  {
    title: 'index of a materialized view',
    ddl: [`CREATE INDEX ON user_counts (n)`],
    expected: [['added', 'index', 'CREATE INDEX ON user_counts USING btree (n)']],
  },
  {
    title: 'view definition',
    ddl: [`CREATE OR REPLACE VIEW active_users AS SELECT id, email, name FROM users WHERE mood <> 'sad'`],
    expected: [['changed', 'view', '"active_users"']],
  },
  { title: 'view dropped', ddl: [`DROP VIEW active_users`], expected: [['removed', 'view', '"active_users"']] },
  {
    title: 'materialized view added',
    ddl: [`CREATE MATERIALIZED VIEW org_names AS SELECT name FROM orgs`],
    expected: [['added', 'materialized view', '"org_names"']],
  },
  { title: 'sequence added', ddl: [`CREATE SEQUENCE extra_seq`], expected: [['added', 'sequence', '"extra_seq"']] },
  { title: 'sequence increment', ddl: [`ALTER SEQUENCE invoice_numbers INCREMENT 20`], expected: [['changed', 'sequence', '"invoice_numbers"']] },
  { title: 'identity sequence options', ddl: [`ALTER TABLE orgs ALTER COLUMN id SET START 100`], expected: [['changed', 'sequence', '"orgs_id_seq"']] },
  { title: 'enum added', ddl: [`CREATE TYPE colour AS ENUM ('red')`], expected: [['added', 'enum', '"colour"']] },
  { title: 'enum label inserted', ddl: [`ALTER TYPE mood ADD VALUE 'meh' BEFORE 'ok'`], expected: [['changed', 'enum', '"mood"']] },
  { title: 'domain default', ddl: [`ALTER DOMAIN positive_int SET DEFAULT 2`], expected: [['changed', 'domain', '"positive_int"']] },
  {
    title: 'domain check added',
    ddl: [`ALTER DOMAIN positive_int ADD CHECK (VALUE < 1000)`],
    expected: [['added', 'constraint', '"positive_int" CHECK ((VALUE < 1000))']],
  },
  { title: 'composite attribute', ddl: [`ALTER TYPE address ADD ATTRIBUTE zip text`], expected: [['changed', 'composite type', '"address"']] },
  {
    title: 'function body',
    ddl: [`CREATE OR REPLACE FUNCTION add(a integer, b integer) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT b + a'`],
    expected: [['changed', 'function', '"add"(a integer, b integer)']],
  },
  { title: 'function volatility', ddl: [`ALTER FUNCTION add(integer, integer) STABLE`], expected: [['changed', 'function', '"add"(a integer, b integer)']] },
  {
    title: 'function overload added',
    ddl: [`CREATE FUNCTION add(a bigint, b bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS 'SELECT a + b'`],
    expected: [['added', 'function', '"add"(a bigint, b bigint)']],
  },
  { title: 'procedure added', ddl: [`CREATE PROCEDURE noop() LANGUAGE sql AS 'SELECT 1'`], expected: [['added', 'procedure', '"noop"()']] },
  {
    title: 'trigger function body',
    ddl: [`CREATE OR REPLACE FUNCTION touch_created() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$`],
    expected: [['changed', 'function', '"touch_created"()']],
  },
  {
    title: 'trigger added',
    ddl: [`CREATE TRIGGER orgs_touch BEFORE INSERT ON orgs FOR EACH ROW EXECUTE FUNCTION touch_created()`],
    expected: [['added', 'trigger', '"orgs"."orgs_touch"']],
  },
  { title: 'trigger disabled', ddl: [`ALTER TABLE users DISABLE TRIGGER users_touch`], expected: [['changed', 'trigger', '"users"."users_touch"']] },
  {
    title: 'trigger event changed',
    ddl: [`DROP TRIGGER users_touch ON users`, `CREATE TRIGGER users_touch BEFORE INSERT OR UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch_created()`],
    expected: [['changed', 'trigger', '"users"."users_touch"']],
  },
  { title: 'row level security enabled', ddl: [`ALTER TABLE orgs ENABLE ROW LEVEL SECURITY`], expected: [['changed', 'table', '"orgs"']] },
  { title: 'row level security forced', ddl: [`ALTER TABLE users FORCE ROW LEVEL SECURITY`], expected: [['changed', 'table', '"users"']] },
  { title: 'policy added', ddl: [`CREATE POLICY orgs_all ON orgs USING (true)`], expected: [['added', 'policy', '"orgs"."orgs_all"']] },
  {
    title: 'policy expression',
    ddl: [`ALTER POLICY users_same_org ON users USING (org_id = 1)`],
    expected: [['changed', 'policy', '"users"."users_same_org"']],
  },
  // Kinds and attributes pg_dump prints that model format 1 did not see.
  { title: 'column statistics target', ddl: [`ALTER TABLE orgs ALTER COLUMN name SET STATISTICS 500`], expected: [['changed', 'column', '"orgs"."name"']] },
  { title: 'column storage', ddl: [`ALTER TABLE orgs ALTER COLUMN name SET STORAGE EXTERNAL`], expected: [['changed', 'column', '"orgs"."name"']] },
  { title: 'column compression', minMajor: 14, ddl: [`ALTER TABLE orgs ALTER COLUMN name SET COMPRESSION pglz`], expected: [['changed', 'column', '"orgs"."name"']] },
  { title: 'column attribute option', ddl: [`ALTER TABLE orgs ALTER COLUMN name SET (n_distinct = 100)`], expected: [['changed', 'column', '"orgs"."name"']] },
  { title: 'replica identity full', ddl: [`ALTER TABLE pairs REPLICA IDENTITY FULL`], expected: [['changed', 'table', '"pairs"']] },
  {
    title: 'replica identity using an index',
    ddl: [`ALTER TABLE orgs REPLICA IDENTITY USING INDEX orgs_name_key`],
    expected: [['changed', 'table', '"orgs"'], ['changed', 'constraint', '"orgs" UNIQUE (name)']],
  },
  { title: 'CLUSTER ON', ddl: [`ALTER TABLE users CLUSTER ON users_created_idx`], expected: [['changed', 'index', '"users"."users_created_idx"']] },
  { title: 'TOAST storage parameter', ddl: [`ALTER TABLE orgs SET (toast.autovacuum_enabled = false)`], expected: [['changed', 'table', '"orgs"']] },
  { title: 'rule added', ddl: [`CREATE RULE orgs_keep AS ON DELETE TO orgs DO INSTEAD NOTHING`], expected: [['added', 'rule', '"orgs"."orgs_keep"']] },
  { title: 'extended statistics added', ddl: [`CREATE STATISTICS pairs_stats (ndistinct) ON a, b FROM pairs`], expected: [['added', 'statistics', '"pairs_stats"']] },
  { title: 'aggregate added', ddl: [`CREATE AGGREGATE my_sum(integer) (SFUNC = int4pl, STYPE = integer, INITCOND = '0')`], expected: [['added', 'aggregate', '"my_sum"(integer)']] },
  { title: 'operator added', ddl: [`CREATE OPERATOR === (LEFTARG = integer, RIGHTARG = integer, FUNCTION = int4eq, COMMUTATOR = ===)`], expected: [['added', 'operator', '===(integer, integer)']] },
  { title: 'operator family added', ddl: [`CREATE OPERATOR FAMILY int_fam USING btree`], expected: [['added', 'operator family', '"int_fam" USING btree']] },
  {
    title: 'operator class added',
    ddl: [`CREATE OPERATOR CLASS int_ops FOR TYPE integer USING btree AS OPERATOR 1 <, OPERATOR 3 =, FUNCTION 1 btint4cmp(integer, integer)`],
    expected: [['added', 'operator family', '"int_ops" USING btree'], ['added', 'operator class', '"int_ops" USING btree']],
  },
  { title: 'collation added', ddl: [`CREATE COLLATION my_c (locale = 'C')`], expected: [['added', 'collation', '"my_c"']] },
  { title: 'text search dictionary added', ddl: [`CREATE TEXT SEARCH DICTIONARY my_dict (TEMPLATE = simple, STOPWORDS = english)`], expected: [['added', 'text search dictionary', '"my_dict"']] },
  { title: 'text search configuration added', ddl: [`CREATE TEXT SEARCH CONFIGURATION my_ts (COPY = english)`], expected: [['added', 'text search configuration', '"my_ts"']] },
  { title: 'range type added', ddl: [`CREATE TYPE float_range AS RANGE (subtype = float8, subtype_diff = float8mi)`], expected: [['added', 'range type', '"float_range"']] },
  { title: 'comment on a policy', ddl: [`COMMENT ON POLICY users_same_org ON users IS 'Tenants'`], expected: [['changed', 'policy', '"users"."users_same_org"']] },
  { title: 'comment on a view column', ddl: [`COMMENT ON COLUMN active_users.email IS 'Login'`], expected: [['changed', 'view', '"active_users"']] },
  { title: 'comment on a composite attribute', ddl: [`COMMENT ON COLUMN address.city IS 'Town'`], expected: [['changed', 'composite type', '"address"']] },
  { title: 'comment on an index', ddl: [`COMMENT ON INDEX users_created_idx IS 'Recent first'`], expected: [['changed', 'index', '"users"."users_created_idx"']] },
  {
    title: 'comment on the managed schema',
    ddl: [`DO $$ BEGIN EXECUTE pg_catalog.format('COMMENT ON SCHEMA %I IS %L', pg_catalog.current_schema(), 'App'); END $$`],
    expected: [['changed', 'schema', 'managed']],
  },
  {
    title: 'policy made restrictive',
    ddl: [
      `DROP POLICY users_same_org ON users`,
      `CREATE POLICY users_same_org ON users AS RESTRICTIVE FOR SELECT TO public USING (org_id = current_setting('app.org_id')::bigint)`,
    ],
    expected: [['changed', 'policy', '"users"."users_same_org"']],
  },
];

let databaseA: TestDatabase;
let databaseB: TestDatabase;
let clientA: pg.Client;
let clientB: pg.Client;
let schemaCounter = 0;

/** A fresh schema name, the same in A and B for one case. */
function nextSchema(): string {
  schemaCounter += 1;
  return `case_${schemaCounter}`;
}

async function connect(database: TestDatabase): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  return client;
}

/** Creates `schema` and runs `ddl` in it (unqualified names land there). */
async function buildSchema(client: pg.Client, schema: string, ddl: readonly string[]): Promise<void> {
  const quoted = pg.escapeIdentifier(schema);
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoted}`);
  await client.query(`SET search_path TO ${quoted}`);
  try {
    for (const statement of ddl) await client.query(statement);
  } finally {
    await client.query('RESET search_path');
    await client.query('RESET check_function_bodies');
  }
}

function readModel(client: Queryable, schema: string): Promise<SchemaModel> {
  return readSchemaModel(client, { schema, excludeTables: RUNNER_TABLES });
}

function summarise(differences: readonly SchemaDifference[]): [string, string, string][] {
  return differences.map((d) => [d.change, d.kind, d.name]);
}

let serverMajor: number;

beforeAll(async () => {
  [databaseA, databaseB] = await Promise.all([createTestDatabase('schema_a'), createTestDatabase('schema_b')]);
  [clientA, clientB] = await Promise.all([connect(databaseA), connect(databaseB)]);
  serverMajor = Math.floor(Number((await clientA.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`)).rows[0]!.v) / 10000);
});

afterAll(async () => {
  await Promise.all([clientA?.end(), clientB?.end()]);
  await Promise.all([databaseA?.drop(), databaseB?.drop()]);
});

describe('readSchemaModel: equal schemas give equal fingerprints', () => {
  test.each(EQUAL_CASES)('$title', async ({ ddlA, ddlB }) => {
    const schema = nextSchema();
    await buildSchema(clientA, schema, ddlA);
    await buildSchema(clientB, schema, ddlB);

    const [modelA, modelB] = [await readModel(clientA, schema), await readModel(clientB, schema)];

    expect(diffSchemas(modelA, modelB).map(describeDifference)).toEqual([]);
    expect(modelB).toEqual(modelA);
    expect(fingerprintSchema(modelB)).toBe(fingerprintSchema(modelA));
  });
});

describe('readSchemaModel: each kind of change gives another fingerprint and a diff naming it', () => {
  test.each(MUTATION_CASES)('$title', async ({ ddl, expected, minMajor }) => {
    if (minMajor !== undefined && serverMajor < minMajor) return;
    const schema = nextSchema();
    await buildSchema(clientA, schema, BASE_DDL);
    await buildSchema(clientB, schema, [...BASE_DDL, ...ddl]);

    const [modelA, modelB] = [await readModel(clientA, schema), await readModel(clientB, schema)];

    expect(summarise(diffSchemas(modelA, modelB))).toEqual(expected);
    expect(fingerprintSchema(modelB)).not.toBe(fingerprintSchema(modelA));
  });
});

describe('readSchemaModel: contents', () => {
  let model: SchemaModel;
  let schema: string;

  beforeAll(async () => {
    schema = nextSchema();
    await buildSchema(clientA, schema, [...BASE_DDL, ...RUNNER_TABLES_DDL]);
    model = await readModel(clientA, schema);
  });

  test('keeps chosen names and drops the generated ones', () => {
    const users = model.tables.find((t) => t.name === 'users');
    expect(users?.constraints.map((c) => c.name).filter((n) => n !== undefined)).toEqual(['users_email_format']);
    expect(users?.indexes.map((i) => i.name).filter((n) => n !== undefined)).toEqual(['users_created_idx']);
    expect(users?.constraints.map((c) => c.definition)).toContain('PRIMARY KEY (id)');
  });

  test("leaves out the runner's tables, their sequences, indexes, constraints and triggers", () => {
    const json = JSON.stringify(model);
    expect(json).not.toMatch(/pgmigrations|meta_touch/);
    // The same read without exclusions does see them, so the check above can fail.
    return readSchemaModel(clientA, { schema, excludeTables: [] }).then((all) => {
      expect(all.tables.map((t) => t.name)).toEqual(expect.arrayContaining(['pgmigrations', 'pgmigrations_meta']));
      expect(all.sequences.map((s) => s.name)).toContain('pgmigrations_id_seq');
    });
  });

  test('describes the parts of a table', () => {
    const users = model.tables.find((t) => t.name === 'users');
    expect(users?.columns.map((c) => c.name)).toEqual([
      'id', 'org_id', 'email', 'name', 'mood', 'score', 'home', 'created_at', 'email_lower',
    ]);
    expect(users?.columns.find((c) => c.name === 'name')).toEqual({ name: 'name', type: 'text', collation: '"C"' });
    expect(users?.columns.find((c) => c.name === 'email')).toEqual({
      name: 'email', type: 'character varying(255)', notNull: true, comment: 'Login',
    });
    expect(users?.columns.find((c) => c.name === 'email_lower')?.generated).toBe('lower((email)::text)');
    expect(users?.rowSecurity).toBe(true);
    expect(users?.policies).toEqual([
      {
        name: 'users_same_org',
        command: 'SELECT',
        roles: ['public'],
        using: "(org_id = (current_setting('app.org_id'::text))::bigint)",
      },
    ]);
    expect(users?.triggers.map((t) => t.definition)).toEqual([
      'CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch_created()',
    ]);
    const orgs = model.tables.find((t) => t.name === 'orgs');
    expect(orgs?.columns[0]).toEqual({ name: 'id', type: 'bigint', notNull: true, identity: 'always' });
    expect(model.sequences.find((s) => s.name === 'orgs_id_seq')).toMatchObject({ ownedBy: 'orgs.id', identity: true });
    expect(model.tables.find((t) => t.name === 'events_2024')).toMatchObject({
      partitionOf: 'events',
      partitionBound: "FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
    });
  });

  test('describes types and functions', () => {
    expect(model.enums).toEqual([{ name: 'mood', labels: ['sad', 'ok', 'happy'] }]);
    expect(model.domains).toEqual([
      { name: 'positive_int', baseType: 'integer', notNull: true, default: '1', checks: [{ definition: 'CHECK ((VALUE > 0))' }] },
    ]);
    expect(model.compositeTypes).toEqual([
      { name: 'address', attributes: [{ name: 'street', type: 'text' }, { name: 'city', type: 'text', collation: '"C"' }] },
    ]);
    expect(model.functions.map((f) => [f.kind, f.name, f.arguments])).toEqual([
      ['function', 'add', 'a integer, b integer'],
      ['procedure', 'reset_scores', ''],
      ['function', 'touch_created', ''],
    ]);
    expect(model.functions[0]?.definition).toMatch(/^CREATE OR REPLACE FUNCTION add\(a integer, b integer\)/);
  });

  test('is plain JSON', () => {
    expect(JSON.parse(JSON.stringify(model))).toEqual(model);
  });
});

describe('readSchemaModel: connection handling', () => {
  test('gives an empty model for a schema that does not exist', async () => {
    const model = await readModel(clientA, 'no_such_schema');
    expect(model.tables).toEqual([]);
    // plpgsql lives in pg_catalog: not an extension of any managed schema.
    expect(model.extensions).toEqual([]);
  });

  test('reads inside the caller transaction and puts search_path back', async () => {
    const schema = nextSchema();
    await buildSchema(clientA, schema, [`CREATE TABLE kept (id int)`]);
    await clientA.query('BEGIN');
    try {
      await clientA.query(`CREATE TABLE ${schema}.uncommitted (id int)`);
      await clientA.query(`SET LOCAL search_path TO pg_catalog, public`);
      const model = await readSchemaModel(clientA, { schema, excludeTables: [], transaction: 'existing' });
      expect(model.tables.map((t) => t.name)).toEqual(['kept', 'uncommitted']);
      const { rows } = await clientA.query<{ search_path: string }>('SHOW search_path');
      expect(rows[0]?.search_path).toBe('pg_catalog, public');
    } finally {
      await clientA.query('ROLLBACK');
    }
  });

  test.each([
    { what: 'an index', drop: 'DROP INDEX %s.t_v', tables: ['gone', 'kept', 't'], indexes: ['t_id'] },
    // pg_get_constraintdef of the dropped table's primary key: "cache lookup failed" (XX000).
    { what: 'a table with a primary key', drop: 'DROP TABLE %s.gone', tables: ['kept', 't'], indexes: ['t_id', 't_v'] },
  ])('$what dropped by another session while the schema is read: read again, without it', async ({ drop, tables, indexes }) => {
    const schema = nextSchema();
    await buildSchema(clientA, schema, [
      `CREATE TABLE kept (id int)`,
      `CREATE TABLE t (id int, v int)`,
      `CREATE INDEX t_v ON t (v)`,
      `CREATE UNIQUE INDEX t_id ON t (id)`,
      `CREATE TABLE gone (id int PRIMARY KEY, v int CHECK (v > 0))`,
    ]);
    const other = await connect(databaseA);
    try {
      // Right after the read's snapshot is taken (its second statement), another session drops
      // something: the catalog rows of the snapshot still list it, the catalog caches no longer do.
      let statements = 0;
      let dropped = false;
      const racing: Queryable = {
        query: async <R>(text: string, params?: unknown[]) => {
          const result = await clientA.query<R & pg.QueryResultRow>(text, params);
          if (++statements === 2 && !dropped) {
            dropped = true;
            await other.query(drop.replace('%s', pg.escapeIdentifier(schema)));
          }
          return result;
        },
      };
      const model = await readModel(racing, schema);
      expect(dropped).toBe(true);
      expect(model.tables.map((t) => t.name)).toEqual(tables);
      expect(model.tables.find((t) => t.name === 't')?.indexes.map((i) => i.name).sort()).toEqual(indexes);
    } finally {
      await other.end();
    }
  });

  test('names the failing step', async () => {
    const schema = nextSchema();
    await buildSchema(clientA, schema, BASE_DDL);
    const failing: Queryable = {
      query: <R>(text: string, params?: unknown[]) =>
        text.includes('pg_trigger')
          ? Promise.reject(new Error('boom'))
          : clientA.query<R & pg.QueryResultRow>(text, params),
    };
    const read = readModel(failing, schema);
    await expect(read).rejects.toBeInstanceOf(SchemaCatalogError);
    await expect(read).rejects.toMatchObject({ step: 'triggers', schema });
    // The transaction was rolled back: the connection is usable and idle.
    const { rows } = await clientA.query<{ ok: number }>('SELECT 1 AS ok');
    expect(rows).toEqual([{ ok: 1 }]);
  });
});

describe('readSchemaModel: extensions', () => {
  let database: TestDatabase;
  let client: pg.Client;

  beforeAll(async () => {
    database = await createTestDatabase('schema_ext');
    client = await connect(database);
  });

  afterAll(async () => {
    await client?.end();
    await database?.drop();
  });

  test('lists an extension by name and leaves out its objects', async () => {
    const { rows } = await client.query<{ name: string }>(
      `SELECT name FROM pg_available_extensions WHERE name = ANY ($1::text[]) ORDER BY array_position($1::text[], name::text)`,
      [['pg_trgm', 'citext', 'hstore']],
    );
    const extension = rows[0]?.name;
    if (extension === undefined) throw new Error('This test needs pg_trgm, citext or hstore (postgresql-contrib)');

    const before = await readModel(client, 'public');
    await client.query(`CREATE EXTENSION ${pg.escapeIdentifier(extension)} SCHEMA public`);
    const after = await readModel(client, 'public');

    // The extension put functions (and types) into public; none may show.
    const { rows: members } = await client.query<{ count: string }>(
      `SELECT count(*) FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
        WHERE d.classid = 'pg_proc'::regclass AND d.deptype = 'e' AND p.pronamespace = 'public'::regnamespace`,
    );
    expect(Number(members[0]?.count)).toBeGreaterThan(0);
    expect(summarise(diffSchemas(before, after))).toEqual([['added', 'extension', `"${extension}"`]]);
    expect(after.functions).toEqual([]);
    expect(describeDifference(diffSchemas(before, after)[0]!)).toBe(`extension "${extension}" is extra in the database`);
  });
});

describe('readSchemaModel: extensions of the managed schema, with versions', () => {
  let database: TestDatabase;
  let client: pg.Client;

  beforeAll(async () => {
    database = await createTestDatabase('schema_ext_version');
    client = await connect(database);
  });

  afterAll(async () => {
    await client?.end();
    await database?.drop();
  });

  test("an extension's version and schema change the fingerprint; one a DBA keeps in another schema does not", async () => {
    const { rows } = await client.query<{ versions: string[] }>(
      `SELECT array_agg(version ORDER BY version) AS versions FROM pg_available_extension_versions WHERE name = 'pg_trgm'`,
    );
    const versions = rows[0]?.versions ?? [];
    if (!versions.includes('1.4') || !versions.includes('1.5')) throw new Error('This test needs pg_trgm 1.4 and 1.5 (postgresql-contrib)');

    const empty = await readModel(client, 'public');
    // A cloud provider's or a DBA's extension, in a schema of its own: not drift of public.
    await client.query(`CREATE SCHEMA extensions; CREATE EXTENSION citext SCHEMA extensions`);
    const withOther = await readModel(client, 'public');
    expect(diffSchemas(empty, withOther)).toEqual([]);
    expect(fingerprintSchema(withOther)).toBe(fingerprintSchema(empty));

    await client.query(`CREATE EXTENSION pg_trgm VERSION '1.4' SCHEMA public`);
    const v14 = await readModel(client, 'public');
    expect(v14.extensions).toMatchObject([{ name: 'pg_trgm', version: '1.4' }]);
    await client.query(`ALTER EXTENSION pg_trgm UPDATE TO '1.5'`);
    const v15 = await readModel(client, 'public');
    expect(diffSchemas(v14, v15).map(describeDifference)).toEqual(['extension "pg_trgm": version 1.4 → 1.5']);
    expect(fingerprintSchema(v15)).not.toBe(fingerprintSchema(v14));

    await client.query(`ALTER EXTENSION pg_trgm SET SCHEMA extensions`);
    const moved = await readModel(client, 'public');
    expect(summarise(diffSchemas(v15, moved))).toEqual([['removed', 'extension', '"pg_trgm"']]);
    expect(fingerprintSchema(moved)).toBe(fingerprintSchema(empty));
  });

  test('a comment on an extension of the managed schema is seen', async () => {
    const before = await readModel(client, 'extensions');
    await client.query(`COMMENT ON EXTENSION citext IS 'Case-insensitive text'`);
    const after = await readModel(client, 'extensions');
    expect(summarise(diffSchemas(before, after))).toEqual([['changed', 'extension', '"citext"']]);
  });
});

describe('readSchemaModel: owners and privileges, only when asked (fingerprintPrivileges)', () => {
  const ROLE = 'catalog_test_reader';
  let database: TestDatabase;
  let client: pg.Client;

  beforeAll(async () => {
    database = await createTestDatabase('schema_privileges');
    client = await connect(database);
    await client.query(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${ROLE}') THEN CREATE ROLE ${ROLE}; END IF; END $$`);
  });

  afterAll(async () => {
    await client?.end();
    await database?.drop();
    const admin = new pg.Client({ connectionString: serverUrl() });
    await admin.connect();
    await admin.query(`DROP ROLE IF EXISTS ${ROLE}`).finally(() => admin.end());
  });

  test('a GRANT, a REVOKE back to the default and an owner change are seen with privileges on, not without', async () => {
    await buildSchema(client, 'app', [`CREATE TABLE orgs (id int, name text)`, `CREATE SEQUENCE counter`, `CREATE FUNCTION one() RETURNS int LANGUAGE sql AS 'SELECT 1'`]);
    const read = (privileges: boolean) => readSchemaModel(client, { schema: 'app', excludeTables: RUNNER_TABLES, privileges });
    const [plainBefore, fullBefore] = [await read(false), await read(true)];
    const { rows } = await client.query<{ me: string }>('SELECT current_user AS me');
    expect(fullBefore.tables[0]?.owner).toBe(rows[0]!.me);
    expect(fullBefore.tables[0]?.privileges).toBeUndefined();

    await client.query(`GRANT SELECT ON app.orgs TO ${ROLE}; GRANT UPDATE (name) ON app.orgs TO ${ROLE}; GRANT EXECUTE ON FUNCTION app.one() TO ${ROLE}`);
    const [plainGranted, fullGranted] = [await read(false), await read(true)];
    expect(fingerprintSchema(plainGranted)).toBe(fingerprintSchema(plainBefore));
    expect(summarise(diffSchemas(fullBefore, fullGranted))).toEqual([
      ['changed', 'table', '"orgs"'],
      ['changed', 'column', '"orgs"."name"'],
      ['changed', 'function', '"one"()'],
    ]);
    expect(fullGranted.tables[0]?.privileges).toContain(`${ROLE}=r/${fullGranted.tables[0]?.owner}`);

    await client.query(`REVOKE SELECT ON app.orgs FROM ${ROLE}; REVOKE UPDATE (name) ON app.orgs FROM ${ROLE}`);
    expect(fingerprintSchema(await read(true))).not.toBe(fingerprintSchema(fullBefore)); // the function's grant is still there
    await client.query(`REVOKE EXECUTE ON FUNCTION app.one() FROM ${ROLE}`);
    expect(fingerprintSchema(await read(true))).toBe(fingerprintSchema(fullBefore));

    await client.query(`ALTER SEQUENCE app.counter OWNER TO ${ROLE}; ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT SELECT ON TABLES TO ${ROLE}`);
    const [plainOwned, fullOwned] = [await read(false), await read(true)];
    expect(fingerprintSchema(plainOwned)).toBe(fingerprintSchema(plainBefore));
    expect(summarise(diffSchemas(fullBefore, fullOwned))).toEqual([
      ['changed', 'schema', 'managed'],
      ['changed', 'sequence', '"counter"'],
    ]);
    await client.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA app REVOKE SELECT ON TABLES FROM ${ROLE}; DROP SEQUENCE app.counter`);
  });
});

describe('readSchemaModel: pg_dump round trip', () => {
  const ROUND_TRIP_DDL = [
    ...BASE_DDL,
    ...RUNNER_TABLES_DDL,
    `CREATE TABLE items (id int, obsolete text, name text)`,
    `ALTER TABLE items DROP COLUMN obsolete`,
    `ALTER TABLE items ADD COLUMN price numeric(10,2)`,
    `CREATE TABLE "Mixed Case" ("Id" int PRIMARY KEY, "Value" text UNIQUE)`,
    `CREATE INDEX ON "Mixed Case" USING gin ("Value" public.gin_trgm_ops)`,
    `ALTER TABLE users ADD COLUMN tags text[] DEFAULT '{}'::text[]`,
    `CREATE VIEW recent_events AS SELECT * FROM events WHERE at > DATE '2024-06-01'`,
  ];
  let source: TestDatabase;
  const targets: TestDatabase[] = [];
  let workDir: string;
  let sourceModel: SchemaModel;

  beforeAll(async () => {
    source = await createTestDatabase('schema_dump');
    workDir = await mkdtemp(join(tmpdir(), 'schema-dump-'));
    const client = await connect(source);
    try {
      await client.query('CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public');
      await buildSchema(client, 'app', ROUND_TRIP_DDL);
      sourceModel = await readModel(client, 'app');
    } finally {
      await client.end();
    }
  });

  afterAll(async () => {
    await Promise.all([source?.drop(), ...targets.map((t) => t.drop())]);
    if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
  });

  async function runTool(command: string, args: readonly string[]): Promise<void> {
    const result = await runProcess(command, args, { env: { PATH: process.env.PATH, HOME: process.env.HOME } });
    if (result.code !== 0) throw new Error(`${command} failed (${String(result.code)}): ${result.stderr}`);
  }

  const FORMATS = [
    {
      title: 'plain SQL through psql',
      restore: async (file: string, url: string) => {
        await runTool('pg_dump', ['--schema-only', '--dbname', source.url, '--file', file]);
        await runTool('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--dbname', url, '--file', file]);
      },
    },
    {
      title: 'custom format through pg_restore',
      restore: async (file: string, url: string) => {
        await runTool('pg_dump', ['--schema-only', '-Fc', '--dbname', source.url, '--file', file]);
        await runTool('pg_restore', ['--exit-on-error', '--dbname', url, file]);
      },
    },
  ];

  // pg_dump itself is what this checks: skipped where it cannot be used (globalSetup says why).
  testWithPgDump.each(FORMATS)('keeps the fingerprint through $title', async ({ restore }) => {
    const target = await createTestDatabase('schema_restore');
    targets.push(target);
    await restore(join(workDir, `dump-${targets.length}`), target.url);

    const client = await connect(target);
    try {
      const restored = await readModel(client, 'app');
      expect(diffSchemas(sourceModel, restored).map(describeDifference)).toEqual([]);
      expect(fingerprintSchema(restored)).toBe(fingerprintSchema(sourceModel));
      // Guard against comparing two empty models.
      expect(restored.tables.length).toBeGreaterThan(5);
      // pg_trgm is installed in public, not in the schema read.
      expect(restored.extensions).toEqual([]);
    } finally {
      await client.end();
    }
  });
});
