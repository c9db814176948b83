/**
 * diffSchemas, describeDifference, fingerprintSchema and the generated-name
 * rules, on hand-built models (no database).
 */
import { describeDifference, diffSchemas, type SchemaDifference } from '../../src/schema/diff.js';
import { fingerprintSchema, serializeCanonicalJson } from '../../src/schema/fingerprint.js';
import { isGeneratedName, makeObjectName } from '../../src/schema/generatedNames.js';
import { createEmptySchemaModel, sortSchemaModel, type SchemaModel, type TableModel } from '../../src/schema/model.js';

function makeTable(overrides: Partial<TableModel> & Pick<TableModel, 'name'>): TableModel {
  return { columns: [], constraints: [], indexes: [], triggers: [], policies: [], ...overrides };
}

const USERS = makeTable({
  name: 'users',
  columns: [
    { name: 'id', type: 'integer', notNull: true },
    { name: 'email', type: 'text' },
    { name: 'name', type: 'text', comment: 'Display name' },
  ],
  constraints: [{ definition: 'PRIMARY KEY (id)' }, { definition: 'CHECK ((id > 0))', name: 'positive_id' }],
  indexes: [{ definition: 'CREATE INDEX ON users USING btree (email)' }],
  triggers: [{ name: 'users_touch', definition: 'CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch()' }],
  policies: [{ name: 'own_rows', command: 'SELECT', roles: ['public'], using: '(id = 1)' }],
});

const BASE: SchemaModel = {
  ...createEmptySchemaModel(),
  extensions: [{ name: 'plpgsql' }],
  tables: [USERS],
  views: [{ name: 'active_users', definition: ' SELECT users.id\n   FROM users;' }],
  sequences: [{ name: 'users_id_seq', type: 'integer', start: '1', increment: '1', min: '1', max: '2147483647', ownedBy: 'users.id' }],
  enums: [{ name: 'mood', labels: ['sad', 'ok'] }],
  domains: [{ name: 'percent', baseType: 'integer', checks: [{ definition: 'CHECK ((VALUE <= 100))' }] }],
  compositeTypes: [{ name: 'address', attributes: [{ name: 'street', type: 'text' }] }],
  functions: [
    {
      name: 'touch',
      kind: 'function',
      arguments: '',
      definition: 'CREATE OR REPLACE FUNCTION touch()\n RETURNS trigger\n LANGUAGE plpgsql\nAS $function$ BEGIN NEW.updated_at := now(); RETURN NEW; END $function$\n',
    },
  ],
};

function withUsers(change: (users: TableModel) => TableModel): SchemaModel {
  return { ...BASE, tables: [change(USERS)] };
}

interface DiffCase {
  readonly title: string;
  readonly to: SchemaModel;
  readonly expected: readonly string[];
}

/** Each case changes BASE into `to`; `expected` are the describeDifference lines. */
const DIFF_CASES: readonly DiffCase[] = [
  {
    title: 'extra table',
    to: { ...BASE, tables: [USERS, makeTable({ name: 'audit_log' })] },
    expected: ['table "audit_log" is extra in the database'],
  },
  { title: 'missing table', to: { ...BASE, tables: [] }, expected: ['table "users" is missing from the database'] },
  {
    title: 'column type',
    to: withUsers((u) => ({ ...u, columns: u.columns.map((c) => (c.name === 'email' ? { ...c, type: 'varchar(255)' } : c)) })),
    expected: ['column "users"."email": type text → varchar(255)'],
  },
  {
    title: 'column nullability and default together',
    to: withUsers((u) => ({
      ...u,
      columns: u.columns.map((c) => (c.name === 'email' ? { ...c, notNull: true as const, default: "''::text" } : c)),
    })),
    expected: [`column "users"."email": default none → ''::text; not null none → yes`],
  },
  {
    title: 'extra column',
    to: withUsers((u) => ({ ...u, columns: [...u.columns, { name: 'age', type: 'integer' }] })),
    expected: ['column "users"."age" is extra in the database (integer)'],
  },
  {
    title: 'column order',
    to: withUsers((u) => ({ ...u, columns: [u.columns[1]!, u.columns[0]!, u.columns[2]!] })),
    expected: ['table "users": column order (id, email, name) → (email, id, name)'],
  },
  {
    title: 'column comment removed',
    to: withUsers((u) => ({ ...u, columns: u.columns.map((c) => (c.name === 'name' ? { name: 'name', type: 'text' } : c)) })),
    expected: ['column "users"."name": comment Display name → none'],
  },
  {
    title: 'unnamed constraint definition (removed and added: the definition is its identity)',
    to: withUsers((u) => ({ ...u, constraints: [{ definition: 'PRIMARY KEY (id, email)' }, u.constraints[1]!] })),
    expected: [
      'constraint "users" PRIMARY KEY (id) is missing from the database',
      'constraint "users" PRIMARY KEY (id, email) is extra in the database',
    ],
  },
  {
    title: 'named constraint definition',
    to: withUsers((u) => ({ ...u, constraints: [u.constraints[0]!, { definition: 'CHECK ((id > 1))', name: 'positive_id' }] })),
    expected: ['constraint "users"."positive_id": definition CHECK ((id > 0)) → CHECK ((id > 1))'],
  },
  {
    title: 'index',
    to: withUsers((u) => ({ ...u, indexes: [] })),
    expected: ['index CREATE INDEX ON users USING btree (email) is missing from the database'],
  },
  {
    title: 'trigger',
    to: withUsers((u) => ({ ...u, triggers: [{ ...u.triggers[0]!, enabled: 'D' as const }] })),
    expected: ['trigger "users"."users_touch": enabled none → D'],
  },
  {
    title: 'policy roles',
    to: withUsers((u) => ({ ...u, policies: [{ ...u.policies[0]!, roles: ['app_user'] }] })),
    expected: ['policy "users"."own_rows": roles (public) → (app_user)'],
  },
  {
    title: 'row level security',
    to: withUsers((u) => ({ ...u, rowSecurity: true as const })),
    expected: ['table "users": row level security none → yes'],
  },
  {
    title: 'view made materialized',
    to: { ...BASE, views: [{ ...BASE.views[0]!, materialized: true as const }] },
    expected: ['materialized view "active_users": materialized none → yes'],
  },
  {
    title: 'sequence',
    to: { ...BASE, sequences: [{ ...BASE.sequences[0]!, increment: '5' }] },
    expected: ['sequence "users_id_seq": increment 1 → 5'],
  },
  {
    title: 'enum label order',
    to: { ...BASE, enums: [{ name: 'mood', labels: ['ok', 'sad'] }] },
    expected: ['enum "mood": labels (sad, ok) → (ok, sad)'],
  },
  {
    title: 'domain check',
    to: { ...BASE, domains: [{ ...BASE.domains[0]!, checks: [] }] },
    expected: ['constraint "percent" CHECK ((VALUE <= 100)) is missing from the database'],
  },
  {
    title: 'composite attribute',
    to: { ...BASE, compositeTypes: [{ name: 'address', attributes: [{ name: 'street', type: 'text', collation: '"C"' }] }] },
    expected: ['composite type "address": attributes (street text) → (street text COLLATE "C")'],
  },
  {
    title: 'long function body: only the neighbourhood of the change',
    to: {
      ...BASE,
      functions: [{ ...BASE.functions[0]!, definition: BASE.functions[0]!.definition.replace('now()', 'clock_timestamp()') }],
    },
    expected: [
      'function "touch"(): definition differs: "…N NEW.updated_at := now(); RETURN NEW; E…" → "…N NEW.updated_at := clock_timestamp(); R…"',
    ],
  },
  {
    title: 'whitespace-only change in a function body',
    to: { ...BASE, functions: [{ ...BASE.functions[0]!, definition: BASE.functions[0]!.definition.replace('BEGIN ', 'BEGIN  ') }] },
    expected: ['function "touch"(): definition differs in whitespace only'],
  },
  {
    title: 'overload: another argument list is another function',
    to: { ...BASE, functions: [{ ...BASE.functions[0]!, arguments: 'x integer' }] },
    expected: ['function "touch"() is missing from the database', 'function "touch"(x integer) is extra in the database'],
  },
  {
    title: 'extension',
    to: { ...BASE, extensions: [{ name: 'citext' }, { name: 'plpgsql' }] },
    expected: ['extension "citext" is extra in the database'],
  },
  {
    title: 'names with quotes',
    to: { ...BASE, tables: [USERS, makeTable({ name: 'say "hi"' })] },
    expected: ['table "say ""hi""" is extra in the database'],
  },
];

describe('diffSchemas', () => {
  test('finds nothing between a model and itself or a reordered copy', () => {
    expect(diffSchemas(BASE, BASE)).toEqual([]);
    const reordered: SchemaModel = { ...BASE, tables: [makeTable({ name: 'b' }), USERS, makeTable({ name: 'a' })] };
    const sorted = sortSchemaModel(reordered);
    expect(diffSchemas(reordered, sorted)).toEqual([]);
  });

  test.each(DIFF_CASES)('$title', ({ to, expected }) => {
    expect(diffSchemas(BASE, to).map(describeDifference)).toEqual(expected);
  });

  test('is directional: swapping the sides swaps added and removed', () => {
    const to: SchemaModel = { ...BASE, tables: [USERS, makeTable({ name: 'audit_log' })] };
    expect(diffSchemas(BASE, to)).toEqual([{ change: 'added', kind: 'table', name: '"audit_log"' }]);
    expect(diffSchemas(to, BASE)).toEqual([{ change: 'removed', kind: 'table', name: '"audit_log"' }]);
  });

  test('counts identical unnamed constraints', () => {
    const twice = withUsers((u) => ({ ...u, constraints: [...u.constraints, { definition: 'PRIMARY KEY (id)' }] }));
    expect(diffSchemas(twice, BASE)).toEqual<SchemaDifference[]>([
      { change: 'removed', kind: 'constraint', name: '"users" PRIMARY KEY (id)' },
    ]);
  });

  test('does not report a table as changed when only its children differ', () => {
    const to = withUsers((u) => ({ ...u, indexes: [] }));
    expect(diffSchemas(BASE, to).map((d) => d.kind)).toEqual(['index']);
  });
});

describe('describeDifference', () => {
  test.each<[SchemaDifference, string]>([
    [{ change: 'added', kind: 'table', name: '"audit_log"' }, 'table "audit_log" is extra in the database'],
    [{ change: 'removed', kind: 'index', name: '"users"."by_email"' }, 'index "users"."by_email" is missing from the database'],
    [
      { change: 'changed', kind: 'column', name: '"users"."email"', detail: 'type text → varchar(255)' },
      'column "users"."email": type text → varchar(255)',
    ],
    [{ change: 'changed', kind: 'view', name: '"v"' }, 'view "v": differs'],
  ])('%j', (difference, line) => {
    expect(describeDifference(difference)).toBe(line);
  });
});

describe('fingerprintSchema', () => {
  test('is a sha256 hex digest', () => {
    expect(fingerprintSchema(BASE)).toMatch(/^[0-9a-f]{64}$/);
  });

  test('ignores key order, list order of named objects and absent-vs-undefined fields', () => {
    const shuffled = JSON.parse(
      JSON.stringify(BASE, (_key, value: unknown) =>
        value !== null && typeof value === 'object' && !Array.isArray(value)
          ? Object.fromEntries(Object.entries(value).reverse())
          : value,
      ),
    ) as SchemaModel;
    const withUndefined: SchemaModel = { ...BASE, tables: [{ ...USERS, comment: undefined }] };
    const reordered: SchemaModel = { ...BASE, extensions: [{ name: 'plpgsql' }], tables: [USERS], views: [...BASE.views].reverse() };
    expect(fingerprintSchema(shuffled)).toBe(fingerprintSchema(BASE));
    expect(fingerprintSchema(withUndefined)).toBe(fingerprintSchema(BASE));
    expect(fingerprintSchema(reordered)).toBe(fingerprintSchema(BASE));
  });

  test('sorts tables and unnamed constraints but keeps column order', () => {
    const two = { ...BASE, tables: [USERS, makeTable({ name: 'a' })] };
    const twoSwapped = { ...BASE, tables: [makeTable({ name: 'a' }), USERS] };
    expect(fingerprintSchema(twoSwapped)).toBe(fingerprintSchema(two));
    const constraintsSwapped = withUsers((u) => ({ ...u, constraints: [...u.constraints].reverse() }));
    expect(fingerprintSchema(constraintsSwapped)).toBe(fingerprintSchema(BASE));
    const columnsSwapped = withUsers((u) => ({ ...u, columns: [...u.columns].reverse() }));
    expect(fingerprintSchema(columnsSwapped)).not.toBe(fingerprintSchema(BASE));
  });

  test.each(DIFF_CASES)('changes when the model changes: $title', ({ to }) => {
    expect(fingerprintSchema(to)).not.toBe(fingerprintSchema(BASE));
  });

  // Pinned per model format: a change here is a format bump (SCHEMA_MODEL_FORMAT, MANIFEST_FORMAT), never a silent one.
  test('is the same as in every earlier version of model format 2 (recorded manifests stay valid)', () => {
    expect(fingerprintSchema(BASE)).toBe('6a682b71913ca3fdc901c14544a0ed26e3ed0268309d759016208397486ffca2');
  });

  test('survives a JSON round trip (the manifest)', () => {
    const stored = JSON.parse(JSON.stringify(BASE)) as SchemaModel;
    expect(fingerprintSchema(stored)).toBe(fingerprintSchema(BASE));
  });
});

describe('serializeCanonicalJson', () => {
  test.each<[unknown, string]>([
    [{ b: 1, a: [true, null, 'x'] }, '{"a":[true,null,"x"],"b":1}'],
    [{ z: undefined, y: { d: 'é', c: '"' } }, '{"y":{"c":"\\"","d":"é"}}'],
    [[undefined], '[null]'],
    ['x', '"x"'],
    // Keys that look like array indexes: code-unit order, not the engine's numeric order.
    [{ b: 1, 10: 'ten', 9: 'nine', a: { 2: true, 1: false } }, '{"10":"ten","9":"nine","a":{"1":false,"2":true},"b":1}'],
    [undefined, 'null'],
    // Keys one object has and another inherits (toString, constructor): the other still writes none of them.
    [{ a: { toString: 'x', constructor: 'y' }, b: {}, c: [{}] }, '{"a":{"constructor":"y","toString":"x"},"b":{},"c":[{}]}'],
  ])('%j', (value, text) => {
    expect(serializeCanonicalJson(value)).toBe(text);
  });
});

describe('generated names', () => {
  test.each<[string, string | undefined, string, string]>([
    ['users', undefined, 'pkey', 'users_pkey'],
    ['users', 'email', 'key', 'users_email_key'],
    ['users', 'org_id_email', 'key', 'users_org_id_email_key'],
    // Both observed on PostgreSQL 15: the longer part loses bytes first.
    [
      'averyveryverylongtablenamethatgoesonandonandonforeverandeverx',
      'averyveryverylongcolumnnamethatgoesonandonandonforeverandever',
      'key',
      'averyveryverylongtablenametha_averyveryverylongcolumnnameth_key',
    ],
    [
      'a_table_name_long_enough_that_postgresql_must_truncate_it_x',
      'a_column_name_long_enough_that_postgresql_truncates_it_too',
      'key',
      'a_table_name_long_enough_that_a_column_name_long_enough_tha_key',
    ],
    // 17 + 41 bytes + "_" + "_idx" = 63 bytes (observed on PostgreSQL 15, UTF-8).
    ['ünïcödé_table', 'x'.repeat(60), 'idx', `ünïcödé_table_${'x'.repeat(41)}_idx`],
    // A 63-byte name of two-byte characters, cut to 58 bytes without splitting one (observed on PostgreSQL 15, UTF-8).
    [`${'ü'.repeat(31)}x`, undefined, 'pkey', `${'ü'.repeat(29)}_pkey`],
  ])('makeObjectName(%s, %s, %s) = %s', (name1, name2, label, expected) => {
    const name = makeObjectName(name1, name2, label);
    expect(name).toBe(expected);
    expect(Buffer.byteLength(name, 'utf8')).toBeLessThanOrEqual(63);
  });

  test.each<[string, string, readonly string[] | undefined, string, boolean]>([
    ['users_pkey', 'users', undefined, 'pkey', true],
    ['users_email_key', 'users', ['email'], 'key', true],
    ['users_email_key1', 'users', ['email'], 'key', true],
    ['users_email_key01', 'users', ['email'], 'key', false],
    ['users_lo_hi_age_idx', 'users', ['lo', 'hi', 'age'], 'idx', true],
    ['users_check', 'users', undefined, 'check', true],
    ['users_age_check', 'users', undefined, 'check', false],
    ['users_email_unique', 'users', ['email'], 'key', false],
    ['users_email_key', 'users', ['mail'], 'key', false],
    ['user_pkey', 'users', undefined, 'pkey', false],
  ])('isGeneratedName(%s, %s, %j, %s) is %s', (name, table, columns, label, expected) => {
    expect(isGeneratedName(name, table, columns, label)).toBe(expected);
  });
});
