/** The TypeScript transform jiti runs for migration files (src/files/migrationLoader.ts). */
import * as sucrase from 'sucrase';
import * as lexer from 'es-module-lexer';
import { transformForJiti } from '../../src/files/migrationLoader.js';

beforeAll(() => lexer.init());

const SOURCE = `import type { MigrationBuilder } from 'node-pg-migrate';
import { PgLiteral } from 'node-pg-migrate';

enum Kind { A = 'a' }

export async function up(pgm: MigrationBuilder): Promise<void> {
  const at: string = import.meta.url;
  throw new Error('line 8 ' + Kind.A + at + new PgLiteral('x'));
}
`;

const transform = (source: string, async = true) =>
  transformForJiti({ source, filename: '/m/0001_x.ts', ts: true, async, interopDefault: true }, sucrase, lexer).code;

test('keeps every line where it was, so stack traces point into the file', () => {
  const lines = transform(SOURCE).split('\n');
  expect(lines.findIndex((l) => l.includes("'line 8 '"))).toBe(7);
  expect(lines.findIndex((l) => l.includes('function up('))).toBe(5);
});

test('static imports are awaited with jitiImport before the body; import() and import.meta are rewritten', () => {
  const code = transform(`${SOURCE}export const later = () => import('./other.js');\n`);
  expect(code).toMatch(/^const \S+ = \{ url: "file:\/\/\/m\/0001_x\.ts"/);
  expect(code).toContain('await jitiImport("node-pg-migrate")');
  expect(code).toContain("jitiImport('./other.js')");
  expect(code).not.toMatch(/\bimport\s*[({]|import\.meta|require\(/);
  expect(code).not.toContain('MigrationBuilder');
});

test('for a synchronous require(), imports stay require() calls', () => {
  const code = transform(SOURCE, false);
  expect(code).toContain("require('node-pg-migrate')");
  expect(code).not.toContain('await');
});

test('a CommonJS file is left a script: no "use strict" added', () => {
  const code = transform(`import type { MigrationBuilder } from 'node-pg-migrate';\nmodule.exports = { up: (pgm: MigrationBuilder) => pgm.sql('SELECT 1') };\n`);
  expect(code).not.toContain('use strict');
  expect(code).toContain('module.exports = { up: (pgm) =>');
});

test.each([
  ['a decorator', '@sealed\nclass Columns {}\nfunction sealed(c: Function) {}\nexport const up = () => {};\n'],
  ['a namespace with values', 'namespace Names\n{\n  export const table = "t";\n}\nexport const up = () => Names.table;\n'],
  ['using', 'export const up = () => {\n  using guard = { [Symbol.dispose]() {} };\n};\n'],
])('%s goes to Babel', (_what, source) => {
  expect(transform(source)).not.toMatch(/__jiti_\w+_meta/);
});

test.each([
  ['JSDoc tags', '/**\n * @param pgm the builder\n */\nexport const up = (pgm: any) => pgm;\n'],
  ['SQL operators and keywords', "export const up = (pgm: any) => pgm.sql(`SELECT 1\n  WHERE tags @> '{a}'\n  using gin (data)`);\n"],
])('%s stay with sucrase', (_what, source) => {
  expect(transform(source)).toMatch(/__jiti_\w+_meta/);
});
