/**
 * `migrate lint` as a process: squawk's findings at the file and line of
 * our migration, exit 1 when there are any, rules left out by --exclude or
 * config lint.exclude, the pending migrations of a database (built as
 * `migrate sql` builds them, nothing applied), a file without a database,
 * and what goes wrong said in one line (exit 2).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findSquawk } from '../../src/lint/squawk.js';
import { LintUnavailableError } from '../../src/core/errors.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { createMigrationsFolder, sqlMigration, type MigrationsFolder } from '../helpers/migrationsFolder.js';
import { cleanEnv, runCli, type ProcessResult } from '../helpers/processes.js';

let work: string;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'lint-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

const errorLine = (r: ProcessResult) => r.stderr.split('\n').filter((l) => l.startsWith('migrate: error:'));

const INDEXED = `-- Up Migration
-- a comment

SELECT 1;
CREATE INDEX t_a ON t (a);

-- Down Migration
DROP TABLE t;
`;

describe('lint --file, without a database', () => {
  test("each finding at the file and line of the migration's Up section; exit 1", async () => {
    const file = join(work, '0001_index.sql');
    await writeFile(file, INDEXED);
    const r = await runCli(['lint', '--file', file], { env: cleanEnv(), cwd: work });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^0001_index\.sql:5: warning require-concurrent-index-creation: During normal index creation, table updates are blocked/m);
    // The Down section is not the deploy's: DROP TABLE there is not reported.
    expect(r.stdout).not.toMatch(/ban-drop-table/);
    expect(r.stdout).toMatch(/^lint: \d+ finding\(s\) in 1 migration\(s\)$/m);
  });

  test('--exclude and config lint.exclude leave rules out; no findings is exit 0', async () => {
    const file = join(work, '0001_index.sql');
    await writeFile(file, INDEXED);
    const all = await runCli(['lint', '--json', '--file', file], { env: cleanEnv(), cwd: work });
    const rules = [...new Set((JSON.parse(all.stdout) as { findings: { rule: string }[] }).findings.map((f) => f.rule))];
    expect(rules).toContain('require-concurrent-index-creation');
    const [first, ...rest] = rules;
    await writeFile(join(work, 'migrate.config.json'), JSON.stringify({ lint: { exclude: rest } }));
    const some = await runCli(['lint', '--file', file], { env: cleanEnv(), cwd: work });
    expect(some.code).toBe(1);
    expect(some.stdout).toMatch(new RegExp(`warning ${first}:`));
    const none = await runCli(['lint', '--file', file, '--exclude', first!], { env: cleanEnv(), cwd: work });
    expect(none.stdout).toMatch(/^lint: 0 finding\(s\) in 1 migration\(s\)$/m);
    expect(none.code).toBe(0);
  });

  test('what a JS migration builds is linted statement by statement', async () => {
    const file = join(work, '0001_index.js');
    await writeFile(file, "export const up = (pgm) => { pgm.sql('SELECT 1'); pgm.createIndex('t', 'a'); };\nexport const down = false;\n");
    const r = await runCli(['lint', '--file', file], { env: cleanEnv(), cwd: work });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^0001_index\.js \(statement 2 it builds\): warning require-concurrent-index-creation:/m);
  });

  test('bad input is exit 2 in one line: an unknown rule, a file that is not a migration, a missing file', async () => {
    const file = join(work, '0001_index.sql');
    await writeFile(file, INDEXED);
    const unknown = await runCli(['lint', '--file', file, '--exclude', 'no-such-rule'], { env: cleanEnv(), cwd: work });
    expect(unknown.code).toBe(2);
    expect(errorLine(unknown)).toEqual([expect.stringMatching(/squawk failed: error: invalid value 'no-such-rule' for '--exclude <rule>'/)]);
    await writeFile(join(work, 'notes.txt'), 'x');
    const notMigration = await runCli(['lint', '--file', join(work, 'notes.txt')], { env: cleanEnv(), cwd: work });
    expect(notMigration.code).toBe(2);
    const missing = await runCli(['lint', '--file', join(work, '0009_gone.sql')], { env: cleanEnv(), cwd: work });
    expect(missing.code).toBe(2);
    expect(errorLine(missing)).toEqual([expect.stringMatching(/migration file .*0009_gone\.sql cannot be read/)]);
  });

  test('without squawk installed, lint says what to install', () => {
    expect(() => findSquawk([work])).toThrow(LintUnavailableError);
    expect(() => findSquawk([work])).toThrow(/lint needs squawk, and @squawk-cli\/\w+-\w+ is not installed/);
  });
});

describe('lint [TARGET]: the pending migrations of a database', () => {
  let db: TestDatabase;
  let folder: MigrationsFolder;
  beforeAll(async () => {
    db = await createTestDatabase('lint');
    folder = await createMigrationsFolder({
      '0001_t.sql': sqlMigration('CREATE TABLE t (id bigint PRIMARY KEY, a text);', 'DROP TABLE t;'),
    });
    expect((await runCli(['up', '--dir', folder.dir], { env: cleanEnv({ DATABASE_URL: db.url }) })).code).toBe(0);
    await folder.write('0002_index.sql', sqlMigration('\nALTER TABLE t ADD COLUMN b text NOT NULL;\nCREATE INDEX t_a ON t (a);', 'DROP INDEX t_a;'));
    await folder.write('0003_more.sql', sqlMigration('ALTER TABLE t ALTER COLUMN a TYPE varchar(10);', 'ALTER TABLE t ALTER COLUMN a TYPE text;'));
  });
  afterAll(async () => {
    await folder?.dispose();
    await db?.drop();
  });

  test('only the pending ones, each finding at its file and line; nothing is applied', async () => {
    const r = await runCli(['lint', '--dir', folder.dir], { env: cleanEnv({ DATABASE_URL: db.url }) });
    expect(r.code).toBe(1);
    expect(r.stdout).not.toMatch(/^0001_t\.sql/m);
    expect(r.stdout).toMatch(/^0002_index\.sql:3: warning adding-required-field:/m);
    expect(r.stdout).toMatch(/^0002_index\.sql:4: warning require-concurrent-index-creation:/m);
    expect(r.stdout).toMatch(/^0003_more\.sql:2: warning changing-column-type:/m);
    expect(r.stdout).toMatch(/in 2 migration\(s\)$/m);
    expect(await db.query(`SELECT name FROM pgmigrations ORDER BY id`)).toEqual([{ name: '0001_t' }]);
    expect(await db.query(`SELECT column_name FROM information_schema.columns WHERE table_name = 't' ORDER BY ordinal_position`)).toEqual([
      { column_name: 'id' },
      { column_name: 'a' },
    ]);
  });

  test('up to a TARGET', async () => {
    const r = await runCli(['lint', '0002', '--dir', folder.dir], { env: cleanEnv({ DATABASE_URL: db.url }) });
    expect(r.code).toBe(1);
    expect(r.stdout).not.toMatch(/0003_more/);
    expect(r.stdout).toMatch(/in 1 migration\(s\)$/m);
  });

  test('no database given is exit 2; nothing pending is exit 0', async () => {
    expect((await runCli(['lint', '--dir', folder.dir], { env: cleanEnv() })).code).toBe(2);
    const empty = await createMigrationsFolder({ '0001_t.sql': sqlMigration('CREATE TABLE t (id bigint PRIMARY KEY, a text);', 'DROP TABLE t;') });
    try {
      const r = await runCli(['lint', '--dir', empty.dir], { env: cleanEnv({ DATABASE_URL: db.url }) });
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^lint: nothing to lint \(no pending migrations\)$/m);
    } finally {
      await empty.dispose();
    }
  });
});
