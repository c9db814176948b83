/**
 * planSchemaChange on pairs of hand-built models (no database): the SQL of
 * each kind of change, the order of dependent statements, rename and
 * data-loss decisions, markers and refusals. test/integration/schemaPlanner.test.ts
 * runs representative plans against PostgreSQL.
 */
import { UsageError } from '../../src/core/errors.js';
import { objectsOf } from '../../src/fingerprints/manifest.js';
import { classifyTypeChange } from '../../src/schema/typeChanges.js';
import { generatedConstraintName, generatedIndexName } from '../../src/schema/definitionParts.js';
import { quoteIdentifier, quoteLiteral } from '../../src/schema/identifiers.js';
import {
  createEmptySchemaModel,
  type ColumnModel,
  type FunctionModel,
  type SchemaModel,
  type SequenceModel,
  type TableModel,
  type ViewModel,
} from '../../src/schema/model.js';
import {
  formatMarker,
  parseRename,
  planSchemaChange,
  type PlanOptions,
  type PlannedStatement,
  type SchemaChangePlan,
} from '../../src/schema/planner.js';

// --- A model with one object of every kind -------------------------------------------

function makeTable(overrides: Partial<TableModel> & Pick<TableModel, 'name'>): TableModel {
  return { columns: [], constraints: [], indexes: [], triggers: [], policies: [], ...overrides };
}

const TOUCH: FunctionModel = {
  name: 'touch',
  kind: 'function',
  arguments: '',
  definition: 'CREATE OR REPLACE FUNCTION touch()\n RETURNS trigger\n LANGUAGE plpgsql\nAS $function$ BEGIN NEW.name := lower(NEW.name); RETURN NEW; END $function$\n',
};

const ADD: FunctionModel = {
  name: 'add',
  kind: 'function',
  arguments: 'a integer, b integer',
  definition: "CREATE OR REPLACE FUNCTION add(a integer, b integer)\n RETURNS integer\n LANGUAGE sql\n IMMUTABLE\nAS $function$SELECT a + b$function$\n",
};

const USERS = makeTable({
  name: 'users',
  rowSecurity: true,
  columns: [
    { name: 'id', type: 'integer', notNull: true, default: "nextval('users_id_seq'::regclass)" },
    { name: 'email', type: 'text', notNull: true },
    { name: 'name', type: 'text', comment: 'Display name' },
    { name: 'mood', type: 'mood' },
  ],
  constraints: [{ definition: 'PRIMARY KEY (id)' }, { definition: 'CHECK ((id > 0))', name: 'positive_id' }],
  indexes: [{ definition: 'CREATE INDEX ON users USING btree (email)' }],
  triggers: [{ name: 'users_touch', definition: 'CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch()' }],
  policies: [{ name: 'own_rows', command: 'SELECT', roles: ['public'], using: '(id = 1)' }],
});

const USERS_ID_SEQ: SequenceModel = {
  name: 'users_id_seq',
  type: 'integer',
  start: '1',
  increment: '1',
  min: '1',
  max: '2147483647',
  ownedBy: 'users.id',
};

const ACTIVE_USERS: ViewModel = { name: 'active_users', definition: ' SELECT users.id,\n    users.email\n   FROM users;' };
const USER_COUNTS: ViewModel = {
  name: 'user_counts',
  materialized: true,
  definition: ' SELECT count(*) AS n\n   FROM users;',
  indexes: [{ definition: 'CREATE INDEX ON user_counts USING btree (n)' }],
};

const BASE: SchemaModel = {
  ...createEmptySchemaModel(),
  extensions: [{ name: 'plpgsql' }],
  tables: [USERS],
  views: [ACTIVE_USERS, USER_COUNTS],
  sequences: [USERS_ID_SEQ],
  enums: [{ name: 'mood', labels: ['sad', 'ok'] }],
  domains: [{ name: 'percent', baseType: 'integer', checks: [{ definition: 'CHECK ((VALUE <= 100))' }] }],
  compositeTypes: [{ name: 'address', attributes: [{ name: 'street', type: 'text' }] }],
  functions: [ADD, TOUCH],
};

function withUsers(change: (users: TableModel) => TableModel, model: SchemaModel = BASE): SchemaModel {
  return { ...model, tables: model.tables.map((t) => (t.name === 'users' ? change(t) : t)) };
}

function withColumn(name: string, change: (column: ColumnModel) => ColumnModel | undefined): SchemaModel {
  return withUsers((u) => ({
    ...u,
    columns: u.columns.flatMap((c) => {
      if (c.name !== name) return [c];
      const next = change(c);
      return next === undefined ? [] : [next];
    }),
  }));
}

const sqlOf = (statements: readonly PlannedStatement[]): string[] => statements.map((s) => s.sql);

// --- Each kind × {add, drop, change} ------------------------------------------------------

type Change = 'add' | 'drop' | 'change';

interface KindCase {
  /** The model kind: a key prefix of objectsOf, or `prefix.list` for a nested list. */
  readonly kind: string;
  readonly change: Change;
  readonly title: string;
  readonly current: SchemaModel;
  readonly desired: SchemaModel;
  readonly options?: PlanOptions;
  readonly up: readonly string[];
  /** Left out: the down is not checked by this case. */
  readonly down?: readonly string[];
}

const LOSSY: PlanOptions = { allowDataLoss: true };

const KIND_CASES: readonly KindCase[] = [
  // Extensions
  {
    kind: 'extension',
    change: 'add',
    title: 'created if missing',
    current: BASE,
    desired: { ...BASE, extensions: [{ name: 'pg_trgm' }, { name: 'plpgsql' }] },
    up: ['CREATE EXTENSION IF NOT EXISTS pg_trgm'],
    down: ['DROP EXTENSION pg_trgm'],
  },
  {
    kind: 'extension',
    change: 'drop',
    title: 'dropped (data loss)',
    current: { ...BASE, extensions: [{ name: 'pg_trgm' }, { name: 'plpgsql' }] },
    desired: BASE,
    options: LOSSY,
    up: ['DROP EXTENSION pg_trgm'],
  },
  // Tables
  {
    kind: 'table',
    change: 'add',
    title: 'created with its columns, then keys, comment and row security',
    current: BASE,
    desired: {
      ...BASE,
      tables: [
        ...BASE.tables,
        makeTable({
          name: 'orgs',
          comment: 'Tenants',
          forceRowSecurity: true,
          options: ['fillfactor=70'],
          columns: [
            { name: 'id', type: 'bigint', notNull: true, identity: 'always' },
            { name: 'name', type: 'text', notNull: true, collation: '"C"' },
            { name: 'slug', type: 'text', generated: 'lower(name)' },
          ],
          constraints: [{ definition: 'PRIMARY KEY (id)' }],
        }),
      ],
      sequences: [...BASE.sequences, { name: 'orgs_id_seq', type: 'bigint', start: '1', increment: '1', min: '1', max: '9223372036854775807', ownedBy: 'orgs.id', identity: true }],
    },
    up: [
      'CREATE TABLE orgs (\n    id bigint GENERATED ALWAYS AS IDENTITY NOT NULL,\n    name text COLLATE "C" NOT NULL,\n    slug text GENERATED ALWAYS AS (lower(name)) STORED\n) WITH (fillfactor=70)',
      'ALTER TABLE orgs FORCE ROW LEVEL SECURITY',
      'ALTER TABLE orgs ADD PRIMARY KEY (id)',
      "COMMENT ON TABLE orgs IS 'Tenants'",
    ],
    down: ['DROP TABLE orgs'],
  },
  {
    kind: 'table',
    change: 'drop',
    title: 'dropped with what it owns (its serial sequence, its view first)',
    current: BASE,
    desired: { ...BASE, tables: [], views: [], sequences: [], functions: [ADD, TOUCH] },
    options: LOSSY,
    up: ['DROP VIEW active_users', 'DROP MATERIALIZED VIEW user_counts', 'DROP TABLE users'],
  },
  {
    kind: 'table',
    change: 'change',
    title: 'unlogged, storage options, row security, comment',
    current: BASE,
    desired: withUsers((u) => ({ ...u, unlogged: true, options: ['fillfactor=50'], rowSecurity: undefined, comment: "People's rows" }) as TableModel),
    up: [
      'ALTER TABLE users SET UNLOGGED',
      'ALTER TABLE users SET (fillfactor=50)',
      'ALTER TABLE users DISABLE ROW LEVEL SECURITY',
      "COMMENT ON TABLE users IS 'People''s rows'",
    ],
    down: ['ALTER TABLE users SET LOGGED', 'ALTER TABLE users RESET (fillfactor)', 'ALTER TABLE users ENABLE ROW LEVEL SECURITY', 'COMMENT ON TABLE users IS NULL'],
  },
  // Columns
  {
    kind: 'table.columns',
    change: 'add',
    title: 'appended with its default, not null and comment',
    current: BASE,
    desired: withUsers((u) => ({ ...u, columns: [...u.columns, { name: 'age', type: 'integer', notNull: true, default: '0', comment: 'Years' }] })),
    up: ['ALTER TABLE users ADD COLUMN age integer DEFAULT 0 NOT NULL', "COMMENT ON COLUMN users.age IS 'Years'"],
    down: ['ALTER TABLE users DROP COLUMN age'],
  },
  {
    kind: 'table.columns',
    change: 'drop',
    title: 'dropped (data loss); the index on it goes along',
    current: BASE,
    desired: withUsers((u) => ({ ...u, columns: u.columns.filter((c) => c.name !== 'email'), indexes: [] }), {
      ...BASE,
      views: [USER_COUNTS],
    }),
    options: LOSSY,
    up: ['DROP VIEW active_users', 'ALTER TABLE users DROP COLUMN email'],
  },
  {
    kind: 'table.columns',
    change: 'change',
    title: 'type widened: views reading the column are recreated around it',
    current: BASE,
    desired: withColumn('email', (c) => ({ ...c, type: 'character varying(320)' })),
    options: LOSSY,
    up: [
      'DROP VIEW active_users',
      'ALTER TABLE users ALTER COLUMN email TYPE character varying(320)',
      'CREATE VIEW active_users AS\n SELECT users.id,\n    users.email\n   FROM users',
    ],
  },
  // Constraints
  {
    kind: 'table.constraints',
    change: 'add',
    title: 'unique and named check',
    current: BASE,
    desired: withUsers((u) => ({ ...u, constraints: [...u.constraints, { definition: 'UNIQUE (email)' }, { definition: "CHECK ((email <> ''::text))", name: 'email_set' }] })),
    up: ['ALTER TABLE users ADD UNIQUE (email)', "ALTER TABLE users ADD CONSTRAINT email_set CHECK ((email <> ''::text))"],
    down: ['ALTER TABLE users DROP CONSTRAINT users_email_key', 'ALTER TABLE users DROP CONSTRAINT email_set'],
  },
  {
    kind: 'table.constraints',
    change: 'drop',
    title: 'dropped by its generated name',
    current: BASE,
    desired: withUsers((u) => ({ ...u, constraints: u.constraints.filter((c) => c.name !== undefined) })),
    up: ['ALTER TABLE users DROP CONSTRAINT users_pkey'],
    down: ['ALTER TABLE users ADD PRIMARY KEY (id)'],
  },
  {
    kind: 'table.constraints',
    change: 'change',
    title: 'named check with a new definition: dropped and added; a comment alone is commented',
    current: BASE,
    desired: withUsers((u) => ({
      ...u,
      constraints: [{ definition: 'PRIMARY KEY (id)', comment: 'Key' }, { definition: 'CHECK ((id > 1))', name: 'positive_id' }],
    })),
    up: [
      'ALTER TABLE users DROP CONSTRAINT positive_id',
      'ALTER TABLE users ADD CONSTRAINT positive_id CHECK ((id > 1))',
      "COMMENT ON CONSTRAINT users_pkey ON users IS 'Key'",
    ],
  },
  // Indexes
  {
    kind: 'table.indexes',
    change: 'add',
    title: 'created, named or not',
    current: BASE,
    desired: withUsers((u) => ({
      ...u,
      indexes: [...u.indexes, { definition: 'CREATE UNIQUE INDEX ON users USING btree (lower(email))' }, { definition: 'CREATE INDEX ON users USING hash (name)', name: 'by_name' }],
    })),
    up: ['CREATE UNIQUE INDEX ON users USING btree (lower(email))', 'CREATE INDEX by_name ON users USING hash (name)'],
    down: ['DROP INDEX users_lower_idx', 'DROP INDEX by_name'],
  },
  {
    kind: 'table.indexes',
    change: 'drop',
    title: 'dropped by its generated name',
    current: BASE,
    desired: withUsers((u) => ({ ...u, indexes: [] })),
    up: ['DROP INDEX users_email_idx'],
    down: ['CREATE INDEX ON users USING btree (email)'],
  },
  {
    kind: 'table.indexes',
    change: 'change',
    title: 'renamed to the generated name; a named index with a new definition built again',
    current: withUsers((u) => ({ ...u, indexes: [{ definition: 'CREATE INDEX ON users USING btree (email)', name: 'email_lookup' }, { definition: 'CREATE INDEX ON users USING btree (name)', name: 'by_name' }] })),
    desired: withUsers((u) => ({ ...u, indexes: [{ definition: 'CREATE INDEX ON users USING btree (email)' }, { definition: 'CREATE INDEX ON users USING btree (name, email)', name: 'by_name', comment: 'Lookup' }] })),
    up: [
      'ALTER INDEX email_lookup RENAME TO users_email_idx',
      'DROP INDEX by_name',
      'CREATE INDEX by_name ON users USING btree (name, email)',
      "COMMENT ON INDEX by_name IS 'Lookup'",
    ],
  },
  // Triggers
  {
    kind: 'table.triggers',
    change: 'add',
    title: 'created after its function, disabled when it was',
    current: withUsers((u) => ({ ...u, triggers: [] })),
    desired: withUsers((u) => ({ ...u, triggers: [{ ...u.triggers[0]!, enabled: 'D' }] })),
    up: ['CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch()', 'ALTER TABLE users DISABLE TRIGGER users_touch'],
    down: ['DROP TRIGGER users_touch ON users'],
  },
  {
    kind: 'table.triggers',
    change: 'drop',
    title: 'dropped',
    current: BASE,
    desired: withUsers((u) => ({ ...u, triggers: [] })),
    up: ['DROP TRIGGER users_touch ON users'],
  },
  {
    kind: 'table.triggers',
    change: 'change',
    title: 'new events: dropped and created; enabled state and comment in place',
    current: BASE,
    desired: withUsers((u) => ({
      ...u,
      triggers: [{ name: 'users_touch', definition: 'CREATE TRIGGER users_touch BEFORE INSERT OR UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch()', comment: 'lower-case' }],
    })),
    up: [
      'DROP TRIGGER users_touch ON users',
      'CREATE TRIGGER users_touch BEFORE INSERT OR UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch()',
      "COMMENT ON TRIGGER users_touch ON users IS 'lower-case'",
    ],
  },
  // Policies
  {
    kind: 'table.policies',
    change: 'add',
    title: 'created with roles, restrictive, USING and WITH CHECK',
    current: BASE,
    desired: withUsers((u) => ({
      ...u,
      policies: [...u.policies, { name: 'Writers', command: 'INSERT', restrictive: true, roles: ['app user', 'public'], withCheck: '(id > 0)' }],
    })),
    up: ['CREATE POLICY "Writers" ON users AS RESTRICTIVE FOR INSERT TO "app user", PUBLIC WITH CHECK ((id > 0))'],
    down: ['DROP POLICY "Writers" ON users'],
  },
  {
    kind: 'table.policies',
    change: 'drop',
    title: 'dropped',
    current: BASE,
    desired: withUsers((u) => ({ ...u, policies: [] })),
    up: ['DROP POLICY own_rows ON users'],
  },
  {
    kind: 'table.policies',
    change: 'change',
    title: 'roles and expression altered in place',
    current: BASE,
    desired: withUsers((u) => ({ ...u, policies: [{ ...u.policies[0]!, roles: ['reader'], using: '(id = 2)' }] })),
    up: ['ALTER POLICY own_rows ON users TO reader USING ((id = 2))'],
    down: ['ALTER POLICY own_rows ON users TO PUBLIC USING ((id = 1))'],
  },
  // Views and materialized views
  {
    kind: 'view',
    change: 'add',
    title: 'created with its options and comment',
    current: BASE,
    desired: { ...BASE, views: [...BASE.views, { name: 'emails', definition: ' SELECT users.email\n   FROM users;', options: ['security_barrier=true'], comment: 'Mail' }] },
    up: ['CREATE VIEW emails WITH (security_barrier=true) AS\n SELECT users.email\n   FROM users', "COMMENT ON VIEW emails IS 'Mail'"],
    down: ['DROP VIEW emails'],
  },
  {
    kind: 'view',
    change: 'drop',
    title: 'dropped, materialized too',
    current: BASE,
    desired: { ...BASE, views: [] },
    up: ['DROP VIEW active_users', 'DROP MATERIALIZED VIEW user_counts'],
    down: [
      'CREATE VIEW active_users AS\n SELECT users.id,\n    users.email\n   FROM users',
      'CREATE MATERIALIZED VIEW user_counts AS\n SELECT count(*) AS n\n   FROM users',
      'CREATE INDEX ON user_counts USING btree (n)',
    ],
  },
  {
    kind: 'view',
    change: 'change',
    title: 'definition: dropped and created again; options of a materialized view altered',
    current: BASE,
    desired: {
      ...BASE,
      views: [{ ...ACTIVE_USERS, definition: ' SELECT users.id\n   FROM users;' }, { ...USER_COUNTS, options: ['fillfactor=60'] }],
    },
    up: ['DROP VIEW active_users', 'CREATE VIEW active_users AS\n SELECT users.id\n   FROM users', 'ALTER MATERIALIZED VIEW user_counts SET (fillfactor=60)'],
  },
  {
    kind: 'view.indexes',
    change: 'add',
    title: 'index of a materialized view created',
    current: BASE,
    desired: { ...BASE, views: [ACTIVE_USERS, { ...USER_COUNTS, indexes: [...USER_COUNTS.indexes!, { definition: 'CREATE UNIQUE INDEX ON user_counts USING btree (n)', name: 'one_count' }] }] },
    up: ['CREATE UNIQUE INDEX one_count ON user_counts USING btree (n)'],
    down: ['DROP INDEX one_count'],
  },
  {
    kind: 'view.indexes',
    change: 'drop',
    title: 'index of a materialized view dropped',
    current: BASE,
    desired: { ...BASE, views: [ACTIVE_USERS, { ...USER_COUNTS, indexes: [] }] },
    up: ['DROP INDEX user_counts_n_idx'],
  },
  {
    kind: 'view.indexes',
    change: 'change',
    title: 'index of a materialized view commented',
    current: BASE,
    desired: { ...BASE, views: [ACTIVE_USERS, { ...USER_COUNTS, indexes: [{ ...USER_COUNTS.indexes![0]!, comment: 'Counts' }] }] },
    up: ["COMMENT ON INDEX user_counts_n_idx IS 'Counts'"],
  },
  {
    kind: 'view.triggers',
    change: 'add',
    title: 'INSTEAD OF trigger of a view created',
    current: BASE,
    desired: {
      ...BASE,
      views: [{ ...ACTIVE_USERS, triggers: [{ name: 'redirect', definition: 'CREATE TRIGGER redirect INSTEAD OF INSERT ON active_users FOR EACH ROW EXECUTE FUNCTION touch()' }] }, USER_COUNTS],
    },
    up: ['CREATE TRIGGER redirect INSTEAD OF INSERT ON active_users FOR EACH ROW EXECUTE FUNCTION touch()'],
    down: ['DROP TRIGGER redirect ON active_users'],
  },
  {
    kind: 'view.triggers',
    change: 'drop',
    title: 'INSTEAD OF trigger of a view dropped',
    current: {
      ...BASE,
      views: [{ ...ACTIVE_USERS, triggers: [{ name: 'redirect', definition: 'CREATE TRIGGER redirect INSTEAD OF INSERT ON active_users FOR EACH ROW EXECUTE FUNCTION touch()' }] }, USER_COUNTS],
    },
    desired: BASE,
    up: ['DROP TRIGGER redirect ON active_users'],
  },
  {
    kind: 'view.triggers',
    change: 'change',
    title: 'INSTEAD OF trigger of a view disabled',
    current: {
      ...BASE,
      views: [{ ...ACTIVE_USERS, triggers: [{ name: 'redirect', definition: 'CREATE TRIGGER redirect INSTEAD OF INSERT ON active_users FOR EACH ROW EXECUTE FUNCTION touch()' }] }, USER_COUNTS],
    },
    desired: {
      ...BASE,
      views: [{ ...ACTIVE_USERS, triggers: [{ name: 'redirect', enabled: 'D', definition: 'CREATE TRIGGER redirect INSTEAD OF INSERT ON active_users FOR EACH ROW EXECUTE FUNCTION touch()' }] }, USER_COUNTS],
    },
    up: ['ALTER TABLE active_users DISABLE TRIGGER redirect'],
  },
  // Sequences
  {
    kind: 'sequence',
    change: 'add',
    title: 'created with the options that differ from the defaults',
    current: BASE,
    desired: { ...BASE, sequences: [...BASE.sequences, { name: 'countdown', type: 'smallint', start: '-1', increment: '-1', min: '-32768', max: '-1', cache: '10', cycle: true, comment: 'Down' }] },
    up: ['CREATE SEQUENCE countdown AS smallint INCREMENT BY -1 CACHE 10 CYCLE', "COMMENT ON SEQUENCE countdown IS 'Down'"],
    down: ['DROP SEQUENCE countdown'],
  },
  {
    kind: 'sequence',
    change: 'drop',
    title: 'dropped',
    current: { ...BASE, sequences: [...BASE.sequences, { name: 'invoice_numbers', type: 'bigint', start: '1', increment: '1', min: '1', max: '9223372036854775807' }] },
    desired: BASE,
    up: ['DROP SEQUENCE invoice_numbers'],
    down: ['CREATE SEQUENCE invoice_numbers AS bigint'],
  },
  {
    kind: 'sequence',
    change: 'change',
    title: 'options altered; ownership moved',
    current: BASE,
    desired: { ...BASE, sequences: [{ ...USERS_ID_SEQ, type: 'bigint', max: '9223372036854775807', increment: '2', ownedBy: undefined } as SequenceModel] },
    up: ['ALTER SEQUENCE users_id_seq AS bigint INCREMENT BY 2 MAXVALUE 9223372036854775807', 'ALTER SEQUENCE users_id_seq OWNED BY NONE'],
    down: ['ALTER SEQUENCE users_id_seq AS integer INCREMENT BY 1 MAXVALUE 2147483647', 'ALTER SEQUENCE users_id_seq OWNED BY users.id'],
  },
  // Enums
  {
    kind: 'enum',
    change: 'add',
    title: 'created before the table that uses it',
    current: { ...BASE, enums: [], tables: [withUsers((u) => ({ ...u, columns: u.columns.filter((c) => c.name !== 'mood') })).tables[0]!] },
    desired: BASE,
    up: ["CREATE TYPE mood AS ENUM ('sad', 'ok')", 'ALTER TABLE users ADD COLUMN mood mood'],
  },
  {
    kind: 'enum',
    change: 'drop',
    title: 'dropped after the column that uses it',
    current: BASE,
    desired: { ...withColumn('mood', () => undefined), enums: [] },
    options: LOSSY,
    up: ['ALTER TABLE users DROP COLUMN mood', 'DROP TYPE mood'],
  },
  {
    kind: 'enum',
    change: 'change',
    title: 'values added in place: BEFORE the next old value, or at the end',
    current: BASE,
    desired: { ...BASE, enums: [{ name: 'mood', labels: ['meh', 'sad', 'fine', 'ok', 'great'] }] },
    up: [
      "ALTER TYPE mood ADD VALUE 'meh' BEFORE 'sad'",
      "ALTER TYPE mood ADD VALUE 'fine' BEFORE 'ok'",
      "ALTER TYPE mood ADD VALUE 'great'",
    ],
  },
  // Domains
  {
    kind: 'domain',
    change: 'add',
    title: 'created with collation, default, not null and checks',
    current: BASE,
    desired: { ...BASE, domains: [...BASE.domains, { name: 'code', baseType: 'text', collation: '"C"', default: "'x'::text", notNull: true, checks: [{ definition: "CHECK ((VALUE <> ''::text))", name: 'code_set' }] }] },
    up: [`CREATE DOMAIN code AS text COLLATE "C" DEFAULT 'x'::text NOT NULL CONSTRAINT code_set CHECK ((VALUE <> ''::text))`],
    down: ['DROP DOMAIN code'],
  },
  {
    kind: 'domain',
    change: 'drop',
    title: 'dropped',
    current: BASE,
    desired: { ...BASE, domains: [] },
    up: ['DROP DOMAIN percent'],
  },
  {
    kind: 'domain',
    change: 'change',
    title: 'default, not null and comment altered',
    current: BASE,
    desired: { ...BASE, domains: [{ ...BASE.domains[0]!, default: '0', notNull: true, comment: 'Share' }] },
    up: ['ALTER DOMAIN percent SET DEFAULT 0', 'ALTER DOMAIN percent SET NOT NULL', "COMMENT ON DOMAIN percent IS 'Share'"],
    down: ['ALTER DOMAIN percent DROP DEFAULT', 'ALTER DOMAIN percent DROP NOT NULL', 'COMMENT ON DOMAIN percent IS NULL'],
  },
  {
    kind: 'domain.checks',
    change: 'add',
    title: 'check added',
    current: BASE,
    desired: { ...BASE, domains: [{ ...BASE.domains[0]!, checks: [...BASE.domains[0]!.checks, { definition: 'CHECK ((VALUE >= 0))', name: 'not_negative' }] }] },
    up: ['ALTER DOMAIN percent ADD CONSTRAINT not_negative CHECK ((VALUE >= 0))'],
    down: ['ALTER DOMAIN percent DROP CONSTRAINT not_negative'],
  },
  {
    kind: 'domain.checks',
    change: 'drop',
    title: 'the one unnamed check dropped by its generated name',
    current: BASE,
    desired: { ...BASE, domains: [{ ...BASE.domains[0]!, checks: [] }] },
    up: ['ALTER DOMAIN percent DROP CONSTRAINT percent_check'],
    down: ['ALTER DOMAIN percent ADD CHECK ((VALUE <= 100))'],
  },
  {
    kind: 'domain.checks',
    change: 'change',
    title: 'check commented',
    current: BASE,
    desired: { ...BASE, domains: [{ ...BASE.domains[0]!, checks: [{ definition: 'CHECK ((VALUE <= 100))', comment: 'At most all' }] }] },
    up: ["COMMENT ON CONSTRAINT percent_check ON DOMAIN percent IS 'At most all'"],
  },
  // Composite types
  {
    kind: 'composite',
    change: 'add',
    title: 'created',
    current: BASE,
    desired: { ...BASE, compositeTypes: [...BASE.compositeTypes, { name: 'point3', attributes: [{ name: 'x', type: 'double precision' }, { name: 'label', type: 'text', collation: '"C"' }] }] },
    up: ['CREATE TYPE point3 AS (x double precision, label text COLLATE "C")'],
    down: ['DROP TYPE point3'],
  },
  {
    kind: 'composite',
    change: 'drop',
    title: 'dropped',
    current: BASE,
    desired: { ...BASE, compositeTypes: [] },
    up: ['DROP TYPE address'],
  },
  {
    kind: 'composite',
    change: 'change',
    title: 'commented',
    current: BASE,
    desired: { ...BASE, compositeTypes: [{ ...BASE.compositeTypes[0]!, comment: 'Where' }] },
    up: ["COMMENT ON TYPE address IS 'Where'"],
  },
  {
    kind: 'composite.attributes',
    change: 'add',
    title: 'attribute appended',
    current: BASE,
    desired: { ...BASE, compositeTypes: [{ name: 'address', attributes: [{ name: 'street', type: 'text' }, { name: 'zip', type: 'text' }] }] },
    up: ['ALTER TYPE address ADD ATTRIBUTE zip text'],
    down: ['ALTER TYPE address DROP ATTRIBUTE zip'],
  },
  {
    kind: 'composite.attributes',
    change: 'drop',
    title: 'attribute dropped',
    current: { ...BASE, compositeTypes: [{ name: 'address', attributes: [{ name: 'street', type: 'text' }, { name: 'zip', type: 'text' }] }] },
    desired: BASE,
    up: ['ALTER TYPE address DROP ATTRIBUTE zip'],
  },
  {
    kind: 'composite.attributes',
    change: 'change',
    title: 'attribute retyped; another put before it: the unused type is recreated',
    current: BASE,
    desired: { ...BASE, compositeTypes: [{ name: 'address', attributes: [{ name: 'no', type: 'integer' }, { name: 'street', type: 'character varying(80)' }] }] },
    up: ['DROP TYPE address', 'CREATE TYPE address AS (no integer, street character varying(80))'],
  },
  // Functions and procedures
  {
    kind: 'function',
    change: 'add',
    title: 'created before the tables (check_function_bodies off), with its comment',
    current: BASE,
    desired: { ...BASE, functions: [...BASE.functions, { name: 'noop', kind: 'procedure', arguments: '', definition: 'CREATE OR REPLACE PROCEDURE noop()\n LANGUAGE sql\nAS $procedure$SELECT 1$procedure$\n', comment: 'Nothing' }] },
    up: ['SET LOCAL check_function_bodies = off', 'CREATE OR REPLACE PROCEDURE noop()\n LANGUAGE sql\nAS $procedure$SELECT 1$procedure$', "COMMENT ON PROCEDURE noop() IS 'Nothing'"],
    down: ['DROP PROCEDURE noop()'],
  },
  {
    kind: 'function',
    change: 'drop',
    title: 'dropped after the trigger that uses it (data loss)',
    current: BASE,
    desired: { ...withUsers((u) => ({ ...u, triggers: [] })), functions: [ADD] },
    options: LOSSY,
    up: ['DROP TRIGGER users_touch ON users', 'DROP FUNCTION touch()'],
  },
  {
    kind: 'function',
    change: 'change',
    title: 'body replaced in place',
    current: BASE,
    desired: { ...BASE, functions: [{ ...ADD, definition: ADD.definition.replace('SELECT a + b', 'SELECT b + a') }, TOUCH] },
    up: ['SET LOCAL check_function_bodies = off', ADD.definition.replace('SELECT a + b', 'SELECT b + a').trimEnd()],
  },
];

// --- Ordering ------------------------------------------------------------------------------

interface OrderCase {
  readonly title: string;
  readonly current: SchemaModel;
  readonly desired: SchemaModel;
  readonly options?: PlanOptions;
  /** Statements (by a unique prefix) that must appear in this order in `up`. */
  readonly upOrder: readonly string[];
  /** The same in `down`. */
  readonly downOrder?: readonly string[];
}

const EMPTY = createEmptySchemaModel();

const FK_PAIR: SchemaModel = {
  ...EMPTY,
  tables: [
    makeTable({ name: 'a_orders', columns: [{ name: 'customer', type: 'integer' }], constraints: [{ definition: 'FOREIGN KEY (customer) REFERENCES z_customers(id)' }] }),
    makeTable({ name: 'z_customers', columns: [{ name: 'id', type: 'integer', notNull: true }], constraints: [{ definition: 'PRIMARY KEY (id)' }] }),
  ],
};

const VIEW_ON_VIEW: SchemaModel = {
  ...EMPTY,
  tables: [makeTable({ name: 't', columns: [{ name: 'id', type: 'integer' }] })],
  views: [
    { name: 'a_outer', definition: ' SELECT z_inner.id\n   FROM z_inner;' },
    { name: 'z_inner', definition: ' SELECT t.id\n   FROM t;' },
  ],
};

const ORDER_CASES: readonly OrderCase[] = [
  {
    title: 'a foreign key between two new tables comes after both tables and the key it references',
    current: EMPTY,
    desired: FK_PAIR,
    upOrder: ['CREATE TABLE a_orders', 'CREATE TABLE z_customers', 'ALTER TABLE z_customers ADD PRIMARY KEY', 'ALTER TABLE a_orders ADD FOREIGN KEY'],
    downOrder: ['ALTER TABLE a_orders DROP CONSTRAINT a_orders_customer_fkey', 'DROP TABLE a_orders', 'DROP TABLE z_customers'],
  },
  {
    title: 'a view on a view: the inner one is created first and dropped last, whatever the names',
    current: EMPTY,
    desired: VIEW_ON_VIEW,
    upOrder: ['CREATE TABLE t', 'CREATE VIEW z_inner', 'CREATE VIEW a_outer'],
    downOrder: ['DROP VIEW a_outer', 'DROP VIEW z_inner', 'DROP TABLE t'],
  },
  {
    title: 'a view on a view, ordered by pg_depend facts when given',
    current: EMPTY,
    desired: VIEW_ON_VIEW,
    options: {
      dependencies: {
        current: { edges: [] },
        desired: { edges: [{ dependent: 'view:a_outer', referenced: 'view:z_inner' }, { dependent: 'view:z_inner', referenced: 'table:t', referencedColumn: 'id' }] },
      },
    },
    upOrder: ['CREATE TABLE t', 'CREATE VIEW z_inner', 'CREATE VIEW a_outer'],
  },
  {
    title: 'a function used by a trigger: created before it, dropped after it',
    current: EMPTY,
    desired: { ...EMPTY, functions: [TOUCH], tables: [makeTable({ name: 'users', columns: [{ name: 'name', type: 'text' }], triggers: USERS.triggers })] },
    upOrder: ['CREATE OR REPLACE FUNCTION touch()', 'CREATE TABLE users', 'CREATE TRIGGER users_touch'],
    downOrder: ['DROP TABLE users', 'DROP FUNCTION touch()'],
  },
  {
    title: 'a function whose result is a table row type is created after the table, and the view that calls it after both',
    current: EMPTY,
    desired: {
      ...EMPTY,
      tables: [makeTable({ name: 'users', columns: [{ name: 'id', type: 'integer' }] })],
      functions: [{ name: 'all_users', kind: 'function', arguments: '', definition: 'CREATE OR REPLACE FUNCTION all_users()\n RETURNS SETOF users\n LANGUAGE sql\nAS $function$SELECT * FROM users$function$\n' }],
      views: [{ name: 'a_view', definition: ' SELECT all_users.id\n   FROM all_users() all_users(id);' }],
    },
    upOrder: ['CREATE TABLE users', 'CREATE OR REPLACE FUNCTION all_users()', 'CREATE VIEW a_view'],
  },
  {
    title: 'an enum value removed: the type is renamed, recreated, the column converted, the old type dropped',
    current: BASE,
    desired: { ...BASE, enums: [{ name: 'mood', labels: ['ok'] }] },
    options: LOSSY,
    upOrder: ["ALTER TYPE mood RENAME TO mood_old", "CREATE TYPE mood AS ENUM ('ok')", 'ALTER TABLE users ALTER COLUMN mood TYPE mood USING mood::text::mood', 'DROP TYPE mood_old'],
    downOrder: ["ALTER TYPE mood ADD VALUE 'sad' BEFORE 'ok'"],
  },
  {
    title: 'a new partition after its parent; its cloned key is not added again',
    current: EMPTY,
    desired: {
      ...EMPTY,
      tables: [
        makeTable({ name: 'events', kind: 'partitioned', partitionKey: 'RANGE (at)', columns: [{ name: 'at', type: 'date', notNull: true }], constraints: [{ definition: 'PRIMARY KEY (at)' }] }),
        makeTable({ name: 'events_2024', partitionOf: 'events', partitionBound: "FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')", columns: [{ name: 'at', type: 'date', notNull: true }], constraints: [{ definition: 'PRIMARY KEY (at)' }] }),
      ],
    },
    upOrder: ['CREATE TABLE events (', 'CREATE TABLE events_2024 PARTITION OF events', 'ALTER TABLE events ADD PRIMARY KEY (at)'],
  },
];

// --- Helpers for the checks -------------------------------------------------------------------

function positionsOf(statements: readonly string[], prefixes: readonly string[]): number[] {
  return prefixes.map((prefix) => {
    const at = statements.findIndex((s) => s.startsWith(prefix));
    if (at < 0) throw new Error(`no statement starts with ${JSON.stringify(prefix)} in:\n${statements.join(';\n')}`);
    return at;
  });
}

function plan(current: SchemaModel, desired: SchemaModel, options?: PlanOptions): SchemaChangePlan {
  return planSchemaChange(current, desired, options);
}

// --- Tests ----------------------------------------------------------------------------------------

describe('each kind of object: add, drop, change', () => {
  test.each(KIND_CASES.map((c) => ({ ...c, name: `${c.kind} ${c.change}: ${c.title}` })))('$name', ({ current, desired, options, up, down }) => {
    const result = plan(current, desired, options);
    expect(result.refusals).toEqual([]);
    expect(sqlOf(result.up)).toEqual(up);
    if (down !== undefined) expect(sqlOf(result.down)).toEqual(down);
  });

  test('every kind of the model has an add, a drop and a change case', () => {
    // Kinds as the manifest keys objects (objectsOf), and the lists nested in
    // them, read off a sample that has one of everything.
    const sample: SchemaModel = { ...BASE, views: [{ ...ACTIVE_USERS, triggers: USERS.triggers }, USER_COUNTS] };
    const objects = objectsOf(sample);
    const kinds = new Set<string>();
    for (const [key, value] of Object.entries(objects)) {
      const kind = key.slice(0, key.indexOf(':'));
      kinds.add(kind);
      if (value !== null && typeof value === 'object') {
        for (const [field, member] of Object.entries(value)) {
          if (Array.isArray(member) && member.some((m) => m !== null && typeof m === 'object')) kinds.add(`${kind}.${field}`);
        }
      }
    }
    // A nested list is only seen when the sample fills it: this list is what a new model kind must extend.
    expect([...kinds].sort()).toEqual(
      ['composite', 'composite.attributes', 'domain', 'domain.checks', 'enum', 'extension', 'function', 'sequence', 'table', 'table.columns', 'table.constraints', 'table.indexes', 'table.policies', 'table.triggers', 'view', 'view.indexes', 'view.triggers'].sort(),
    );
    // An extension is a name: nothing about it can change.
    const notApplicable = new Set(['extension change']);
    const missing = [...kinds]
      .flatMap((kind) => (['add', 'drop', 'change'] as const).map((change) => `${kind} ${change}`))
      .filter((id) => !notApplicable.has(id))
      .filter((id) => !KIND_CASES.some((c) => `${c.kind} ${c.change}` === id));
    expect(missing).toEqual([]);
  });

  test('every attribute of a column has a change case that plans it and puts it back', () => {
    const full: ColumnModel = {
      name: 'c',
      type: 'integer',
      notNull: true,
      default: '1',
      identity: 'by default',
      generated: '(a + 1)',
      collation: '"C"',
      comment: 'x',
    };
    const cases: Record<Exclude<keyof ColumnModel, UnplannedColumnField>, { from: ColumnModel; to: ColumnModel; up: string[]; options?: PlanOptions }> = {
      name: { from: { name: 'c', type: 'text' }, to: { name: 'd', type: 'text' }, up: ['ALTER TABLE t RENAME COLUMN c TO d'], options: { renames: ['column:t.c=d'] } },
      type: { from: { name: 'c', type: 'integer' }, to: { name: 'c', type: 'bigint' }, up: ['ALTER TABLE t ALTER COLUMN c TYPE bigint'] },
      notNull: { from: { name: 'c', type: 'text' }, to: { name: 'c', type: 'text', notNull: true }, up: ['ALTER TABLE t ALTER COLUMN c SET NOT NULL'] },
      default: { from: { name: 'c', type: 'text' }, to: { name: 'c', type: 'text', default: "'x'::text" }, up: ["ALTER TABLE t ALTER COLUMN c SET DEFAULT 'x'::text"] },
      identity: {
        from: { name: 'c', type: 'integer', notNull: true },
        to: { name: 'c', type: 'integer', notNull: true, identity: 'always' },
        up: ['ALTER TABLE t ALTER COLUMN c ADD GENERATED ALWAYS AS IDENTITY'],
      },
      generated: {
        from: { name: 'c', type: 'integer', generated: '(a + 1)' },
        to: { name: 'c', type: 'integer', generated: '(a + 2)' },
        up: ['ALTER TABLE t ALTER COLUMN c SET EXPRESSION AS ((a + 2))'],
        options: { serverMajor: 17 },
      },
      collation: { from: { name: 'c', type: 'text' }, to: { name: 'c', type: 'text', collation: '"C"' }, up: ['ALTER TABLE t ALTER COLUMN c TYPE text COLLATE "C"'] },
      comment: { from: { name: 'c', type: 'text' }, to: { name: 'c', type: 'text', comment: "it's" }, up: ["COMMENT ON COLUMN t.c IS 'it''s'"] },
    };
    expect(Object.keys(cases).sort()).toEqual(Object.keys(full).sort());
    for (const { from, to, up, options } of Object.values(cases)) {
      const table = (c: ColumnModel): SchemaModel => ({ ...EMPTY, tables: [makeTable({ name: 't', columns: [{ name: 'a', type: 'integer' }, c] })] });
      const result = plan(table(from), table(to), { allowDataLoss: true, ...options });
      expect(result.refusals).toEqual([]);
      expect(sqlOf(result.up)).toEqual(up);
      expect(result.down.length).toBeGreaterThan(0);
    }
  });

  test('column attributes the planner does not write yet are refused by name, not left out', () => {
    const cases: Record<UnplannedColumnField, ColumnModel> = {
      statistics: { name: 'c', type: 'text', statistics: 500 },
      storage: { name: 'c', type: 'text', storage: 'external' },
      compression: { name: 'c', type: 'text', compression: 'lz4' },
      options: { name: 'c', type: 'text', options: ['n_distinct=100'] },
      generatedKind: { name: 'c', type: 'text', generated: "'x'::text", generatedKind: 'virtual' },
      privileges: { name: 'c', type: 'text', privileges: ['app=r/owner'] },
    };
    for (const [field, to] of Object.entries(cases)) {
      const table = (c: ColumnModel): SchemaModel => ({ ...EMPTY, tables: [makeTable({ name: 't', columns: [{ name: 'a', type: 'integer' }, c] })] });
      const from = field === 'generatedKind' ? { name: 'c', type: 'text', generated: "'x'::text" } : { name: 'c', type: 'text' };
      const result = plan(table(from), table(to), { allowDataLoss: true });
      expect(result.refusals.filter((r) => r.direction === 'up').map((r) => [r.reason, r.message])).toEqual([
        ['unsupported', `column "t"."c": the planner does not write its ${field} yet`],
      ]);
    }
  });

  test.each([
    ['rangeTypes', { name: 'r', subtype: 'double precision' }, 'range type "r"'],
    ['aggregates', { name: 'a', arguments: 'integer', definition: 'SFUNC = int4pl, STYPE = integer' }, 'aggregate "a"'],
    ['operators', { name: '===', left: 'integer', right: 'integer', definition: 'FUNCTION = int4eq' }, 'operator "==="'],
    ['operatorClasses', { name: 'c', method: 'btree', type: 'integer' }, 'operator class "c"'],
    ['operatorFamilies', { name: 'f', method: 'btree', operators: [], functions: [] }, 'operator family "f"'],
    ['collations', { name: 'c', provider: 'libc', locale: 'C' }, 'collation "c"'],
    ['textSearchConfigurations', { name: 't', parser: 'default', mappings: [] }, 'text search configuration "t"'],
    ['textSearchDictionaries', { name: 'd', template: 'simple' }, 'text search dictionary "d"'],
    ['textSearchParsers', { name: 'p', definition: 'START = prsd_start' }, 'text search parser "p"'],
    ['textSearchTemplates', { name: 't', definition: 'LEXIZE = dsimple_lexize' }, 'text search template "t"'],
    ['statistics', { name: 's', definition: 'CREATE STATISTICS s ON a, b FROM t' }, 'statistics "s"'],
  ])('%s: refused by name, not left out of the plan', (list, item, subject) => {
    const withItem = { ...EMPTY, [list]: [item] } as SchemaModel;
    expect(plan(EMPTY, withItem).refusals.map((r) => [r.reason, r.direction, r.subject])).toEqual([
      ['unsupported', 'up', subject],
      ['unsupported', 'down', subject],
    ]);
  });

  test('kinds the planner does not write yet are refused by name', () => {
    const withRule: SchemaModel = { ...EMPTY, rules: [{ table: 't', name: 'r', definition: 'CREATE RULE r AS ON INSERT TO t DO INSTEAD NOTHING' }] };
    const result = plan(EMPTY, withRule);
    expect(result.refusals.map((r) => [r.reason, r.direction, r.message])).toEqual([
      ['unsupported', 'up', 'rule "r": the planner does not write rule DDL yet'],
      ['unsupported', 'down', 'rule "r": the planner does not write rule DDL yet'],
    ]);
  });
});

/** Column fields the catalog model reads that the planner refuses rather than plans (src/schema/unplannedKinds.ts). */
type UnplannedColumnField = 'statistics' | 'storage' | 'compression' | 'options' | 'generatedKind' | 'privileges';

describe('ordering', () => {
  test.each(ORDER_CASES)('$title', ({ current, desired, options, upOrder, downOrder }) => {
    const result = plan(current, desired, options);
    expect(result.refusals).toEqual([]);
    const up = positionsOf(sqlOf(result.up), upOrder);
    expect(up).toEqual([...up].sort((a, b) => a - b));
    if (downOrder !== undefined) {
      const down = positionsOf(sqlOf(result.down), downOrder);
      expect(down).toEqual([...down].sort((a, b) => a - b));
    }
  });

  test('without pg_depend facts the plan says how views were ordered; with them it does not', () => {
    expect(plan(EMPTY, VIEW_ON_VIEW).notes).toContain('views and functions are ordered by the names their definitions mention (no pg_depend facts were given)');
    const withFacts = plan(EMPTY, VIEW_ON_VIEW, { dependencies: { current: { edges: [] }, desired: { edges: [{ dependent: 'view:a_outer', referenced: 'view:z_inner' }] } } });
    expect(withFacts.notes).toEqual([]);
  });

  test('pg_depend facts decide the order even where the names say nothing', () => {
    // The definition does not name z_inner (as if it used it through a function): only the facts know.
    const desired: SchemaModel = {
      ...EMPTY,
      views: [
        { name: 'a_outer', definition: ' SELECT 1 AS one;' },
        { name: 'z_inner', definition: ' SELECT 2 AS two;' },
      ],
    };
    const facts = { current: { edges: [] }, desired: { edges: [{ dependent: 'view:a_outer', referenced: 'view:z_inner' }] } };
    expect(positionsOf(sqlOf(plan(EMPTY, desired, { dependencies: facts }).up), ['CREATE VIEW z_inner', 'CREATE VIEW a_outer'])).toEqual([0, 1]);
    expect(positionsOf(sqlOf(plan(EMPTY, desired).up), ['CREATE VIEW a_outer', 'CREATE VIEW z_inner'])).toEqual([0, 1]);
  });
});

describe('partitions and inheritance', () => {
  const parent = makeTable({ name: 'events', kind: 'partitioned', partitionKey: 'RANGE (at)', columns: [{ name: 'at', type: 'date', notNull: true }, { name: 'n', type: 'integer' }] });
  const partition = makeTable({ name: 'events_2024', partitionOf: 'events', partitionBound: "FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')", columns: parent.columns });
  const current: SchemaModel = { ...EMPTY, tables: [parent, partition] };

  test("an index on the parent is built once, recursing; the partition's clone is left to PostgreSQL", () => {
    const desired: SchemaModel = {
      ...EMPTY,
      tables: [
        { ...parent, indexes: [{ definition: 'CREATE INDEX ON ONLY events USING btree (n)' }] },
        { ...partition, indexes: [{ definition: 'CREATE INDEX ON events_2024 USING btree (n)' }] },
      ],
    };
    const result = plan(current, desired);
    expect(sqlOf(result.up)).toEqual(['CREATE INDEX ON events USING btree (n)']);
    expect(sqlOf(result.down)).toEqual(['DROP INDEX events_n_idx']);
  });

  test('a column added to the parent is not added to the partition again', () => {
    const column: ColumnModel = { name: 'payload', type: 'jsonb' };
    const desired: SchemaModel = { ...EMPTY, tables: [{ ...parent, columns: [...parent.columns, column] }, { ...partition, columns: [...partition.columns, column] }] };
    expect(sqlOf(plan(current, desired).up)).toEqual(['ALTER TABLE events ADD COLUMN payload jsonb']);
  });

  test('an inheritance child is created with its own columns only, and its parent first', () => {
    const base = makeTable({ name: 'z_base', columns: [{ name: 'id', type: 'integer', default: '0' }] });
    const child = makeTable({ name: 'a_child', inherits: ['z_base'], columns: [{ name: 'id', type: 'integer', default: '0' }, { name: 'extra', type: 'text' }] });
    expect(sqlOf(plan(EMPTY, { ...EMPTY, tables: [base, child] }).up)).toEqual([
      'CREATE TABLE z_base (\n    id integer DEFAULT 0\n)',
      'CREATE TABLE a_child (\n    extra text\n) INHERITS (z_base)',
    ]);
  });
});

describe('column positions in the down', () => {
  test('a dropped middle column comes back last: the down says so instead of refusing', () => {
    const current: SchemaModel = { ...EMPTY, tables: [makeTable({ name: 't', columns: [{ name: 'a', type: 'integer' }, { name: 'b', type: 'integer' }, { name: 'c', type: 'integer' }] })] };
    const desired: SchemaModel = { ...EMPTY, tables: [makeTable({ name: 't', columns: [{ name: 'a', type: 'integer' }, { name: 'c', type: 'integer' }] })] };
    const result = plan(current, desired, LOSSY);
    expect(result.refusals).toEqual([]);
    expect(result.notes).toEqual(['down adds column "t"."b" back as the last column: ALTER TABLE cannot put a column back where it stood']);
    expect(result.down[0]?.markers).toContainEqual({
      kind: 'caution',
      detail: 'comes back as the last column, not where it stood: the schema differs from before in column order only',
    });
  });
});

describe('rename decisions', () => {
  // The renamed column last: a column added back elsewhere could not converge.
  const withLastColumn = (column: ColumnModel): SchemaModel =>
    withUsers((u) => ({ ...u, columns: [...u.columns.filter((c) => c.name !== 'name'), column] }));
  const firstName = withLastColumn({ name: 'first_name', type: 'text', comment: 'Display name' });
  const renamedColumn = withLastColumn({ name: 'display_name', type: 'text', comment: 'Display name' });

  test('a dropped and an added column of one type are refused as a rename candidate', () => {
    const result = plan(firstName, renamedColumn);
    expect(result.refusals).toEqual([
      {
        reason: 'rename-candidate',
        direction: 'up',
        subject: 'column "users"."first_name"',
        message: 'text column "first_name" dropped and "display_name" added: a rename or a drop and an add?',
        hint: '--rename column:users.first_name=display_name to rename, or --no-renames to drop and add',
        rename: 'column:users.first_name=display_name',
      },
    ]);
  });

  test('columns of different types are not a rename candidate', () => {
    const other = withLastColumn({ name: 'age', type: 'integer' });
    expect(plan(firstName, other, LOSSY).refusals).toEqual([]);
  });

  test('with the rename decided: RENAME COLUMN, and back in the down', () => {
    const result = plan(firstName, renamedColumn, { renames: ['column:users.first_name=display_name'] });
    expect(result.refusals).toEqual([]);
    expect(sqlOf(result.up)).toEqual(['ALTER TABLE users RENAME COLUMN first_name TO display_name']);
    expect(sqlOf(result.down)).toEqual(['ALTER TABLE users RENAME COLUMN display_name TO first_name']);
    expect(result.decisions).toEqual([{ kind: 'rename', subject: 'column "users"."first_name"', detail: 'renamed to "display_name"' }]);
  });

  test('with no renames: a drop and an add, which still needs consent to lose data', () => {
    const refused = plan(firstName, renamedColumn, { noRenames: true });
    expect(refused.refusals.map((r) => [r.reason, r.subject])).toEqual([['data-loss', 'column "users"."first_name"']]);
    const result = plan(firstName, renamedColumn, { noRenames: true, allowDataLoss: true });
    expect(result.refusals).toEqual([]);
    expect(sqlOf(result.up)).toEqual([
      'ALTER TABLE users ADD COLUMN display_name text',
      'ALTER TABLE users DROP COLUMN first_name',
      "COMMENT ON COLUMN users.display_name IS 'Display name'",
    ]);
    expect(result.decisions.map((d) => d.kind)).toEqual(['drop-and-add', 'data-loss']);
  });

  test('a table whose columns all match a dropped one is a rename candidate; renamed, its generated names follow', () => {
    const people: SchemaModel = {
      ...EMPTY,
      tables: [makeTable({ name: 'people', columns: [{ name: 'id', type: 'integer', notNull: true }, { name: 'email', type: 'text' }], constraints: [{ definition: 'PRIMARY KEY (id)' }, { definition: 'UNIQUE (email)' }] })],
    };
    const users: SchemaModel = { ...EMPTY, tables: [{ ...people.tables[0]!, name: 'users' }] };
    expect(plan(people, users).refusals.map((r) => r.rename)).toEqual(['table:people=users']);
    const result = plan(people, users, { renames: ['table:people=users'] });
    expect(result.refusals).toEqual([]);
    expect(sqlOf(result.up)).toEqual([
      'ALTER TABLE people RENAME TO users',
      'ALTER TABLE users RENAME CONSTRAINT people_pkey TO users_pkey',
      'ALTER TABLE users RENAME CONSTRAINT people_email_key TO users_email_key',
    ]);
    expect(sqlOf(result.down)).toEqual([
      'ALTER TABLE users RENAME TO people',
      'ALTER TABLE people RENAME CONSTRAINT users_pkey TO people_pkey',
      'ALTER TABLE people RENAME CONSTRAINT users_email_key TO people_email_key',
    ]);
  });

  test('a rename of something that is not there is refused by name', () => {
    const result = plan(BASE, BASE, { renames: ['table:nope=users', 'column:users.nope=name'] });
    expect(result.refusals.map((r) => [r.reason, r.subject])).toEqual([
      ['unknown-rename', 'table:nope=users'],
      ['unknown-rename', 'column:users.nope=name'],
    ]);
  });

  test.each([
    ['table:a=b', { kind: 'table', from: 'a', to: 'b' }],
    ['column:users.first_name=name', { kind: 'column', table: 'users', from: 'first_name', to: 'name' }],
    ['column:"my.table"."a=b"=c', { kind: 'column', table: 'my.table', from: 'a=b', to: 'c' }],
    ['table:"Mixed ""Case"""=plain', { kind: 'table', from: 'Mixed "Case"', to: 'plain' }],
  ])('parseRename(%j)', (text, expected) => {
    expect(parseRename(text)).toEqual(expected);
  });

  test.each(['table:a', 'table:a=b=c', 'column:a=b', 'column:t.a.b=c', 'index:a=b', 'table:=b', 'table:"a=b'])('parseRename(%j) is a usage error', (text) => {
    expect(() => parseRename(text)).toThrow(UsageError);
  });
});

describe('data loss', () => {
  const cases: readonly { title: string; current: SchemaModel; desired: SchemaModel; subject: string; detail: string; sql: string }[] = [
    { title: 'a table dropped', current: { ...EMPTY, tables: [makeTable({ name: 't' })] }, desired: EMPTY, subject: 'table "t"', detail: 'drops the table and its rows', sql: 'DROP TABLE t' },
    {
      title: 'a column dropped',
      current: withColumn('name', (c) => c),
      desired: withColumn('name', () => undefined),
      subject: 'column "users"."name"',
      detail: 'drops the column and its values',
      sql: 'ALTER TABLE users DROP COLUMN name',
    },
    { title: 'a function dropped', current: { ...EMPTY, functions: [ADD] }, desired: EMPTY, subject: 'function "add"(a integer, b integer)', detail: 'drops the function', sql: 'DROP FUNCTION add(a integer, b integer)' },
    {
      title: 'an enum value removed',
      current: { ...EMPTY, enums: [{ name: 'mood', labels: ['sad', 'ok'] }] },
      desired: { ...EMPTY, enums: [{ name: 'mood', labels: ['ok'] }] },
      subject: 'enum "mood"',
      detail: "removes value 'sad'; a row holding one makes the conversion fail",
      sql: 'ALTER TYPE mood RENAME TO mood_old',
    },
    { title: 'an extension dropped', current: { ...EMPTY, extensions: [{ name: 'citext' }] }, desired: EMPTY, subject: 'extension "citext"', detail: 'drops the extension and every object it installed', sql: 'DROP EXTENSION citext' },
    {
      title: 'a type narrowed',
      current: withColumn('email', (c) => ({ ...c, type: 'character varying(255)' })),
      desired: withColumn('email', (c) => ({ ...c, type: 'character varying(100)' })),
      subject: 'column "users"."email"',
      detail: 'converts character varying(255) to character varying(100); values that do not fit are lost or make it fail',
      sql: 'ALTER TABLE users ALTER COLUMN email TYPE character varying(100)',
    },
    {
      title: 'a type changed to an unrelated one',
      current: withColumn('name', (c) => c),
      desired: withColumn('name', (c) => ({ ...c, type: 'integer' })),
      subject: 'column "users"."name"',
      detail: 'converts text to integer; values that do not fit are lost or make it fail',
      sql: 'ALTER TABLE users ALTER COLUMN name TYPE integer USING name::integer',
    },
  ];

  test.each(cases)('$title: refused without consent', ({ current, desired, subject, detail }) => {
    const result = plan(current, desired);
    expect(result.refusals).toEqual([
      { reason: 'data-loss', direction: 'up', subject, message: `${subject}: ${detail}`, hint: '--allow-data-loss to plan it anyway' },
    ]);
  });

  test.each(cases)('$title: planned with consent, the statement marked', ({ current, desired, subject, detail, sql }) => {
    const result = plan(current, desired, LOSSY);
    expect(result.refusals).toEqual([]);
    const statement = result.up.find((s) => s.sql === sql);
    expect(statement?.markers).toContainEqual({ kind: 'data-loss', detail });
    expect(result.decisions).toContainEqual({ kind: 'data-loss', subject, detail });
    expect(formatMarker({ kind: 'data-loss', detail })).toBe(`-- data loss: ${detail}`);
  });

  test('the down of an added table drops it with a marker but needs no consent', () => {
    const result = plan(EMPTY, { ...EMPTY, tables: [makeTable({ name: 't' })] });
    expect(result.refusals).toEqual([]);
    expect(result.down).toEqual([{ sql: 'DROP TABLE t', subject: 'table "t"', markers: [{ kind: 'data-loss', detail: 'drops the table and its rows' }], transactional: true }]);
  });
});

describe('locks, rewrites and concurrent index builds', () => {
  test('a statement on an existing table is marked with its lock; one on a new table is not', () => {
    const result = plan(BASE, withColumn('id', (c) => ({ ...c, type: 'bigint' })), LOSSY);
    const alter = result.up.find((s) => s.sql === 'ALTER TABLE users ALTER COLUMN id TYPE bigint');
    expect(alter?.markers).toEqual([
      { kind: 'rewrite', detail: 'rewrites "users" and rebuilds its indexes' },
      { kind: 'lock', detail: 'ACCESS EXCLUSIVE on "users" until the transaction ends' },
    ]);
    const created = plan(EMPTY, { ...EMPTY, tables: [makeTable({ name: 't', columns: [{ name: 'a', type: 'integer' }], constraints: [{ definition: 'PRIMARY KEY (a)' }] })] });
    expect(created.up.flatMap((s) => s.markers)).toEqual([]);
  });

  test('a binary-coercible type change is not marked as a rewrite', () => {
    const result = plan(withColumn('email', (c) => ({ ...c, type: 'character varying(50)' })), withColumn('email', (c) => ({ ...c, type: 'text' })));
    const alter = result.up.find((s) => s.sql.includes('TYPE text'));
    expect(alter?.markers.map((m) => m.kind)).toEqual(['lock']);
  });

  test('with concurrently, an index on an existing table is built outside the transaction, last; on a new table it is not', () => {
    const desired: SchemaModel = {
      ...withUsers((u) => ({ ...u, indexes: [...u.indexes, { definition: 'CREATE INDEX ON users USING btree (name)', comment: 'Names' }] })),
      tables: [...withUsers((u) => ({ ...u, indexes: [...u.indexes, { definition: 'CREATE INDEX ON users USING btree (name)', comment: 'Names' }] })).tables, makeTable({ name: 'fresh', columns: [{ name: 'a', type: 'integer' }], indexes: [{ definition: 'CREATE INDEX ON fresh USING btree (a)' }] })],
    };
    const result = plan(BASE, desired, { concurrently: true });
    expect(result.up.map((s) => [s.sql, s.transactional])).toEqual([
      ['CREATE TABLE fresh (\n    a integer\n)', true],
      ['CREATE INDEX ON fresh USING btree (a)', true],
      ['CREATE INDEX CONCURRENTLY ON users USING btree (name)', false],
      ["COMMENT ON INDEX users_name_idx IS 'Names'", false],
    ]);
    expect(result.down.map((s) => [s.sql, s.transactional])).toEqual([
      ['DROP INDEX CONCURRENTLY users_name_idx', false],
      ['DROP TABLE fresh', true],
    ]);
  });

  test('without concurrently, an index on an existing table says writes wait', () => {
    const result = plan(BASE, withUsers((u) => ({ ...u, indexes: [...u.indexes, { definition: 'CREATE INDEX ON users USING btree (name)' }] })));
    expect(result.up[0]?.markers).toEqual([{ kind: 'lock', detail: 'SHARE on "users" (writes wait) while the index builds; --concurrently builds it without' }]);
  });

  test('recreating a view is marked: grants on it are lost', () => {
    const result = plan(BASE, { ...BASE, views: [{ ...ACTIVE_USERS, definition: ' SELECT users.id\n   FROM users;' }, USER_COUNTS] });
    expect(result.up[1]?.markers).toEqual([{ kind: 'recreate', detail: 'dropped and created again: grants on it are lost' }]);
  });
});

describe('what cannot be planned is refused by name', () => {
  const cases: readonly { title: string; current: SchemaModel; desired: SchemaModel; options?: PlanOptions; subject: string; message: RegExp }[] = [
    {
      title: 'columns reordered',
      current: BASE,
      desired: withUsers((u) => ({ ...u, columns: [u.columns[1]!, u.columns[0]!, ...u.columns.slice(2)] })),
      subject: 'table "users"',
      message: /columns change order \(id, email, name, mood\) → \(email, id, name, mood\)/,
    },
    {
      title: 'a new column placed before an existing one',
      current: BASE,
      desired: withUsers((u) => ({ ...u, columns: [u.columns[0]!, { name: 'age', type: 'integer' }, ...u.columns.slice(1)] })),
      subject: 'table "users"',
      message: /new column "age" would be appended, but the desired schema puts it before "mood"/,
    },
    {
      title: 'a partition key changed',
      current: { ...EMPTY, tables: [makeTable({ name: 'e', kind: 'partitioned', partitionKey: 'RANGE (a)', columns: [{ name: 'a', type: 'integer' }] })] },
      desired: { ...EMPTY, tables: [makeTable({ name: 'e', kind: 'partitioned', partitionKey: 'LIST (a)', columns: [{ name: 'a', type: 'integer' }] })] },
      subject: 'table "e"',
      message: /changing whether or how it is partitioned/,
    },
    {
      title: 'a generated expression changed before PostgreSQL 17',
      current: { ...EMPTY, tables: [makeTable({ name: 't', columns: [{ name: 'a', type: 'integer' }, { name: 'g', type: 'integer', generated: '(a + 1)' }] })] },
      desired: { ...EMPTY, tables: [makeTable({ name: 't', columns: [{ name: 'a', type: 'integer' }, { name: 'g', type: 'integer', generated: '(a + 2)' }] })] },
      subject: 'column "t"."g"',
      message: /ALTER COLUMN SET EXPRESSION \(PostgreSQL 17\)/,
    },
    {
      title: 'an enum recreated while a function uses it',
      current: { ...BASE, functions: [...BASE.functions, { name: 'f', kind: 'function', arguments: 'm mood', definition: 'CREATE OR REPLACE FUNCTION f(m mood)\n RETURNS integer\n LANGUAGE sql\nAS $function$SELECT 1$function$\n' }] },
      desired: { ...BASE, enums: [{ name: 'mood', labels: ['ok', 'sad'] }], functions: [...BASE.functions, { name: 'f', kind: 'function', arguments: 'm mood', definition: 'CREATE OR REPLACE FUNCTION f(m mood)\n RETURNS integer\n LANGUAGE sql\nAS $function$SELECT 1$function$\n' }] },
      subject: 'enum "mood"',
      message: /function "f"\(m mood\) use it/,
    },
    {
      title: 'a domain with columns changes its base type',
      current: withColumn('mood', (c) => ({ ...c, type: 'percent' })),
      desired: { ...withColumn('mood', (c) => ({ ...c, type: 'percent' })), domains: [{ ...BASE.domains[0]!, baseType: 'bigint' }] },
      subject: 'domain "percent"',
      message: /column "users"."mood" use it/,
    },
    {
      title: 'a composite type used by a column gets an attribute retyped',
      current: withColumn('mood', (c) => ({ ...c, type: 'address' })),
      desired: { ...withColumn('mood', (c) => ({ ...c, type: 'address' })), compositeTypes: [{ name: 'address', attributes: [{ name: 'street', type: 'character varying(10)' }] }] },
      subject: 'composite type "address"',
      message: /column "users"."mood"/,
    },
  ];

  test.each(cases)('$title', ({ current, desired, options, subject, message }) => {
    const refusals = plan(current, desired, { allowDataLoss: true, ...options }).refusals;
    expect(refusals.map((r) => r.subject)).toContain(subject);
    expect(refusals.find((r) => r.subject === subject)).toEqual(expect.objectContaining({ reason: 'unsupported', message: expect.stringMatching(message) }));
  });

  test('a new enum value used in the same migration makes the enum recreated instead', () => {
    const desired = {
      ...withColumn('mood', (c) => ({ ...c, default: "'meh'::mood" })),
      enums: [{ name: 'mood', labels: ['sad', 'meh', 'ok'] }],
    };
    const result = plan(BASE, desired);
    expect(result.refusals).toEqual([]);
    expect(sqlOf(result.up).slice(0, 2)).toEqual(['ALTER TYPE mood RENAME TO mood_old', "CREATE TYPE mood AS ENUM ('sad', 'meh', 'ok')"]);
  });
});

describe('plans are data', () => {
  test('a plan is frozen, and two equal schemas plan nothing', () => {
    const result = plan(BASE, BASE);
    expect(result).toEqual({ up: [], down: [], decisions: [], refusals: [], notes: [] });
    expect(Object.isFrozen(result)).toBe(true);
    const changed = plan(BASE, { ...BASE, extensions: [{ name: 'citext' }, { name: 'plpgsql' }] });
    expect(Object.isFrozen(changed.up[0])).toBe(true);
    expect(Object.isFrozen(changed.up[0]!.markers)).toBe(true);
  });
});

describe('SQL text', () => {
  test.each([
    ['users', 'users'],
    ['User', '"User"'],
    ['select', '"select"'],
    ['int', '"int"'],
    ['name', 'name'],
    ['a b', '"a b"'],
    ['1a', '"1a"'],
    ['_x1', '_x1'],
    ['x$', '"x$"'],
    ['a"b', '"a""b"'],
    ['json_table', '"json_table"'],
    ['été', '"été"'],
  ])('quoteIdentifier(%j) is %s', (name, quoted) => {
    expect(quoteIdentifier(name)).toBe(quoted);
  });

  test.each([
    ["it's", "'it''s'"],
    ['a\\b', "E'a\\\\b'"],
    ['plain', "'plain'"],
  ])('quoteLiteral(%j) is %s', (text, quoted) => {
    expect(quoteLiteral(text)).toBe(quoted);
  });

  const table = makeTable({ name: 'users', columns: [{ name: 'email', type: 'text' }, { name: 'org_id', type: 'integer' }, { name: 'age', type: 'integer' }] });
  test.each([
    ['PRIMARY KEY (email, org_id)', 'users_pkey'],
    ['UNIQUE (org_id, email) INCLUDE (age)', 'users_org_id_email_age_key'],
    ['UNIQUE NULLS NOT DISTINCT (email)', 'users_email_key'],
    ['FOREIGN KEY (org_id) REFERENCES orgs(id)', 'users_org_id_fkey'],
    ['CHECK ((age > 0))', 'users_age_check'],
    ['CHECK ((age > org_id))', 'users_check'],
    ['EXCLUDE USING gist (org_id WITH =, int4range(age, age) WITH &&)', 'users_org_id_int4range_excl'],
  ])('the generated name of %s is %s', (definition, name) => {
    expect(generatedConstraintName(table, { definition })).toBe(name);
  });

  test.each([
    ['CREATE INDEX ON users USING btree (email)', 'users_email_idx'],
    ['CREATE INDEX ON users USING btree (lower(email), upper(email), lower(name))', 'users_lower_upper_lower1_idx'],
    ['CREATE INDEX ON users USING btree (((a + b)))', 'users_expr_idx'],
    ['CREATE INDEX ON users USING btree (((email)::character varying(10)))', 'users_email_idx'],
    ['CREATE INDEX ON users USING btree (email text_pattern_ops DESC NULLS LAST) INCLUDE (age) WHERE (age > 0)', 'users_email_age_idx'],
    ['CREATE UNIQUE INDEX ON ONLY "Users" USING btree ("Email")', 'Users_Email_idx'],
  ])('the generated name of %s is %s', (definition, name) => {
    expect(generatedIndexName({ definition })).toBe(name);
  });

  test.each([
    ['integer', 'bigint', { lossless: true, rewrite: true }],
    ['bigint', 'integer', { lossless: false, rewrite: true }],
    ['character varying(10)', 'character varying(20)', { lossless: true, rewrite: false }],
    ['character varying(20)', 'character varying(10)', { lossless: false, rewrite: true }],
    ['character varying(20)', 'text', { lossless: true, rewrite: false }],
    ['text', 'character varying(20)', { lossless: false, rewrite: true }],
    ['numeric(10,2)', 'numeric(12,2)', { lossless: true, rewrite: false }],
    ['numeric(10,2)', 'numeric(12,4)', { lossless: true, rewrite: true }],
    ['numeric(10,2)', 'numeric(10,4)', { lossless: false, rewrite: true }],
    ['timestamp(3) without time zone', 'timestamp(6) without time zone', { lossless: true, rewrite: false }],
    ['real', 'double precision', { lossless: true, rewrite: true }],
    ['text', 'integer', { lossless: false, rewrite: true }],
    ['integer[]', 'bigint[]', { lossless: true, rewrite: true }],
    ['integer', 'integer[]', { lossless: false, rewrite: true }],
  ])('a change from %s to %s', (from, to, expected) => {
    expect(classifyTypeChange(from, to)).toEqual(expect.objectContaining(expected));
  });
});
