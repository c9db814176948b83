/**
 * JS and TS migration files of every form node-pg-migrate loads still load
 * and run now that TypeScript is compiled with sucrase instead of jiti's
 * Babel (issue 6, src/files/migrationLoader.ts), and build the same schema as
 * plain node-pg-migrate from the same folder.
 */
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { schemaSnapshot } from '../helpers/pgDump.js';
import { PROJECT_ROOT, cleanEnv, runCli, runNodePgMigrate, runProcess } from '../helpers/processes.js';

/**
 * ROOT/migrations holds the files, ROOT/lib what they import, and
 * ROOT/node_modules/node-pg-migrate links to ours, so that a migration can
 * import values from it as in a real project. No package.json: .js files
 * with import/export are compiled too.
 */
const MIGRATIONS: Record<string, string> = {
  // Type-only imports, a value import from node-pg-migrate (the runner's own copy), an enum, shorthands for later files.
  '0001_enum.ts': `import type { MigrationBuilder } from 'node-pg-migrate';
import { PgLiteral, type ColumnDefinitions } from 'node-pg-migrate';

enum Status { Active = 'active', Gone = 'gone' }
interface Row { id: number }
const columns: ColumnDefinitions = {
  id: 'id',
  status: { type: 'text', notNull: true, default: Status.Active },
  created: { type: 'timestamptz', default: new PgLiteral('now()') },
};

export const shorthands: ColumnDefinitions = { note: { type: 'text', notNull: true, default: 'n/a' } };

export async function up(pgm: MigrationBuilder): Promise<void> {
  if (!(pgm.func('now()') instanceof PgLiteral)) throw new Error('a second copy of node-pg-migrate');
  pgm.createTable('ts_enum', columns);
  pgm.addConstraint('ts_enum', 'ts_enum_status', { check: \`status IN ('\${Status.Active}', '\${Status.Gone}')\` });
}

export async function down(pgm: MigrationBuilder): Promise<void> {
  pgm.dropTable('ts_enum');
}
`,
  // A TS helper imported by relative path, import.meta.url, the ES-module idioms that
  // declare __dirname and require at top level, top-level await, the shorthand from 0001.
  '0002_helpers.ts': `import type { MigrationBuilder } from 'node-pg-migrate';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tableName } from '../lib/names.js';

const __filename = fileURLToPath(import.meta.url);
const __dirname = dirname(__filename);
const require = createRequire(import.meta.url);
const { comment } = require('../lib/comment.json') as { comment: string };
const suffix = await Promise.resolve(readFileSync(join(__dirname, '..', 'lib', 'suffix.txt'), 'utf8').trim());

export const up = (pgm: MigrationBuilder): void => {
  pgm.createTable(tableName + suffix, { id: 'id', note: 'note' });
  pgm.sql(\`COMMENT ON TABLE \${tableName + suffix} IS '\${comment}'\`);
};
export const down = (pgm: MigrationBuilder): void => pgm.dropTable(tableName + suffix);
`,
  // .mts with a default export only (node-pg-migrate takes up/down from it) and no down: reversed.
  '0003_default_export.mts': `import type { MigrationBuilder } from 'node-pg-migrate';
export default {
  up(pgm: MigrationBuilder): void {
    pgm.createTable('mts_default', { id: 'id' });
  },
};
`,
  // .cts, CommonJS, requiring a TS module (compiled for a synchronous require).
  '0004_commonjs.cts': `import type { MigrationBuilder } from 'node-pg-migrate';
const { kind } = require('../lib/kind');
module.exports = {
  up: (pgm: MigrationBuilder) => pgm.createTable(\`cts_\${kind}\`, { id: 'id' }),
  down: (pgm: MigrationBuilder) => pgm.dropTable(\`cts_\${kind}\`),
};
`,
  // What sucrase does not compile goes to Babel: a namespace with values, a decorator, using.
  '0005_namespace.ts': `import type { MigrationBuilder } from 'node-pg-migrate';
namespace Names {
  export const table = 'ts_namespace';
}
function sealed(constructor: Function): void { Object.seal(constructor); }
@sealed
class Columns { static id = 'id'; }

export const up = (pgm: MigrationBuilder) => {
  using guard = { [Symbol.dispose]() {} };
  pgm.createTable(Names.table, { id: Columns.id });
};
export const down = (pgm: MigrationBuilder) => pgm.dropTable(Names.table);
`,
  // ES-module .js outside a "type": "module" package, with a dynamic import.
  '0006_esm.js': `export async function up(pgm) {
  const { PgLiteral } = await import('node-pg-migrate');
  pgm.createTable('js_esm', { id: 'id', at: { type: 'timestamptz', default: new PgLiteral('now()') } });
}
export async function down(pgm) { pgm.dropTable('js_esm'); }
`,
  '0007_commonjs.cjs': `exports.up = (pgm) => pgm.createTable('cjs_commonjs', { id: 'id' });
exports.down = (pgm) => pgm.dropTable('cjs_commonjs');
`,
  '0008_native.mjs': `import { PgLiteral } from 'node-pg-migrate';
export const up = (pgm) => pgm.createTable('mjs_native', { id: 'id', v: { type: 'text', default: new PgLiteral("'x'") } });
export const down = (pgm) => pgm.dropTable('mjs_native');
`,
};

const LIB: Record<string, string> = {
  'names.ts': `export const tableName: string = 'ts_helpers';\n`,
  'kind.ts': `import type { MigrationBuilder } from 'node-pg-migrate';\nexport const kind: string = 'commonjs';\n`,
  'comment.json': JSON.stringify({ comment: 'made by 0002' }),
  'suffix.txt': '_v1\n',
};

const TABLES = ['cjs_commonjs', 'cts_commonjs', 'js_esm', 'mjs_native', 'mts_default', 'ts_enum', 'ts_helpers_v1', 'ts_namespace'];

let root: string;
let dir: string;
let db: TestDatabase;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'loader-'));
  dir = join(root, 'migrations');
  await mkdir(dir);
  await mkdir(join(root, 'lib'));
  await mkdir(join(root, 'node_modules'));
  await symlink(join(PROJECT_ROOT, 'node_modules', 'node-pg-migrate'), join(root, 'node_modules', 'node-pg-migrate'), 'dir');
  for (const [name, content] of Object.entries(MIGRATIONS)) await writeFile(join(dir, name), content);
  for (const [name, content] of Object.entries(LIB)) await writeFile(join(root, 'lib', name), content);
  db = await createTestDatabase('loader');
});
afterEach(async () => {
  await db.drop();
  await rm(root, { recursive: true, force: true });
});

// An empty TMPDIR: a cold start, and nothing written elsewhere.
const env = (url: string) => cleanEnv({ DATABASE_URL: url, TMPDIR: root, XDG_CACHE_HOME: root });
const migrate = (...args: string[]) => runCli([...args, '--dir', dir], { env: env(db.url), cwd: root });
const tables = async (target: TestDatabase = db) =>
  (await target.query<{ t: string }>(`SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'pgmigrations%' ORDER BY 1`)).map((r) => r.t);
const schema = (target: TestDatabase) => schemaSnapshot(target.url, { excludeTables: 'pgmigrations*' });

test('every form of JS/TS migration loads and runs, up and down', async () => {
  const up = await migrate('auto');
  expect({ code: up.code, stderr: up.code === 0 ? '' : up.stderr }).toEqual({ code: 0, stderr: '' });
  expect(await tables()).toEqual(TABLES);
  const [enumTable] = await db.query<{ status: string; created: Date; c: string }>(
    `INSERT INTO ts_enum DEFAULT VALUES RETURNING status, created, (SELECT count(*) FROM ts_enum)::text AS c`,
  );
  expect(enumTable).toMatchObject({ status: 'active', c: '0' });
  expect(enumTable!.created).toBeInstanceOf(Date);
  const [helpers] = await db.query<{ note: string; comment: string }>(
    `INSERT INTO ts_helpers_v1 DEFAULT VALUES RETURNING note, obj_description('ts_helpers_v1'::regclass) AS comment`,
  );
  expect(helpers).toEqual({ note: 'n/a', comment: 'made by 0002' });

  const down = await migrate('down', 'base');
  expect({ code: down.code, stderr: down.code === 0 ? '' : down.stderr }).toEqual({ code: 0, stderr: '' });
  expect(await tables()).toEqual([]);
});

test('the same folder builds the same schema as plain node-pg-migrate', async () => {
  expect((await migrate('auto')).code).toBe(0);
  const other = await createTestDatabase('loader_npm');
  try {
    const r = await runNodePgMigrate(['up', '-m', dir], { env: env(other.url), cwd: root });
    expect({ code: r.code, stderr: r.code === 0 ? '' : r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(await tables(other)).toEqual(TABLES);
    expect(await schema(db)).toEqual(await schema(other));
  } finally {
    await other.drop();
  }
});

test.each([
  ['0009_broken.ts', `export const up = (pgm: any): void => {\n  pgm.sql('x' ;\n};\n`],
  ['0009_broken.mts', `export default { up(pgm: any) { pgm.sql('x' ; } };\n`],
  ['0009_broken.cts', `module.exports = { up: (pgm: any) => { pgm.sql('x' ; } };\n`],
  ['0009_broken.js', `export const up = (pgm) => { pgm.sql('x' ; };\n`],
])('a syntax error in %s: exit 2 naming the file, nothing applied', async (name, content) => {
  await writeFile(join(dir, name), content);
  const r = await migrate('auto');
  expect(r.code).toBe(2);
  const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('{'));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain(name);
  expect(await tables()).toEqual([]);
});
