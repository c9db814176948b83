/**
 * An Alembic user's words through the CLI as a process (README, "Coming from
 * Alembic"): relative and partial revisions, revision/generate, show, heads,
 * verbose history and current, --version, upgrade --sql, sql --down and
 * --offline, and the words we do not have answered with ours. Also the output
 * a person reads once, check on drift and on no files, LOG_LEVEL's Python words.
 */
import { readFile, readdir } from 'node:fs/promises';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { ABC, createMigrationsFolder, sqlMigration, type MigrationsFolder } from '../helpers/migrationsFolder.js';
import { PROJECT_ROOT, cleanEnv, runCli } from '../helpers/processes.js';

let db: TestDatabase;
let folder: MigrationsFolder;

beforeEach(async () => {
  db = await createTestDatabase('alembic');
  folder = await createMigrationsFolder(ABC);
});
afterEach(async () => {
  await db.drop();
  await folder.dispose();
});

const env = (extra: Record<string, string> = {}) => cleanEnv({ DATABASE_URL: db.url, ...extra });
const migrate = (...args: string[]) => runCli([...args, '--dir', folder.dir], { env: env() });
/** Without any database setting: what needs none must work so. */
const offline = (...args: string[]) => runCli([...args, '--dir', folder.dir], { env: cleanEnv() });
const history = async () => (await db.query<{ name: string }>('SELECT name FROM pgmigrations ORDER BY run_on, id')).map((r) => r.name);
const tables = async () =>
  (await db.query<{ t: string }>(`SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)).map((r) => r.t);
/** One line on stderr, the error line (JSON log lines aside). */
const errorLine = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('migrate: error:'));

describe('relative and partial revisions', () => {
  test('downgrade -1, down -2, upgrade +2: Alembic relative steps', async () => {
    expect((await migrate('up')).code).toBe(0);
    const one = await migrate('downgrade', '-1');
    expect(one.code).toBe(0);
    expect(await history()).toEqual(['0001_a', '0002_b']);
    expect((await migrate('down', '-2')).code).toBe(0);
    expect(await history()).toEqual([]);
    expect((await migrate('upgrade', '+2')).code).toBe(0);
    expect(await history()).toEqual(['0001_a', '0002_b']);
    expect(await tables()).toEqual(['a', 'b', 'pgmigrations', 'pgmigrations_meta']);
  });

  test('downgrade 0001: a unique prefix names the revision, which stays applied', async () => {
    expect((await migrate('up')).code).toBe(0);
    const r = await migrate('downgrade', '0001');
    expect(r.code).toBe(0);
    expect(await history()).toEqual(['0001_a']);
    expect((await migrate('up', '0002')).code).toBe(0);
    expect(await history()).toEqual(['0001_a', '0002_b']);
    expect((await migrate('stamp', '0003')).code).toBe(0);
    expect(await history()).toEqual(['0001_a', '0002_b', '0003_c']);
  });

  test('an ambiguous prefix is refused (exit 2) naming the matches; nothing changes', async () => {
    const stamped = await createMigrationsFolder({
      '1700000000001_users.sql': sqlMigration('CREATE TABLE users (id int);', 'DROP TABLE users;'),
      '1700000000002_orders.sql': sqlMigration('CREATE TABLE orders (id int);', 'DROP TABLE orders;'),
    });
    try {
      const run = (...args: string[]) => runCli([...args, '--dir', stamped.dir], { env: env() });
      expect((await run('up')).code).toBe(0);
      const r = await run('downgrade', '17000000');
      expect(r.code).toBe(2);
      expect(errorLine(r.stderr)).toEqual([
        expect.stringMatching(/revision prefix "17000000" is ambiguous: it starts 1700000000001_users, 1700000000002_orders \(give more of the name\)/),
      ]);
      expect(await history()).toEqual(['1700000000001_users', '1700000000002_orders']);
      // A unique longer prefix works.
      expect((await run('downgrade', '1700000000001')).code).toBe(0);
      expect(await history()).toEqual(['1700000000001_users']);
    } finally {
      await stamped.dispose();
    }
  });

  test('a prefix under four characters is not a prefix; a number hints at the relative forms', async () => {
    expect((await migrate('up')).code).toBe(0);
    const r = await migrate('down', '1');
    expect(r.code).toBe(2);
    expect(errorLine(r.stderr)).toEqual([expect.stringMatching(/unknown revision "1" \(to move 1 migration: up \+1 or down -1/)]);
    expect(await history()).toEqual(['0001_a', '0002_b', '0003_c']);
  });

  test('down --steps 2 REV (both given) is exit 2, nothing reverted', async () => {
    expect((await migrate('up')).code).toBe(0);
    const r = await migrate('down', '--steps', '2', '0001_a');
    expect(r.code).toBe(2);
    expect(errorLine(r.stderr)).toEqual([expect.stringMatching(/give a target or --steps, not both/)]);
    expect(await history()).toEqual(['0001_a', '0002_b', '0003_c']);
    expect((await migrate('down', '-1', '--steps', '1')).code).toBe(2);
    expect(await history()).toEqual(['0001_a', '0002_b', '0003_c']);
  });

  // Alembic refuses a relative target past the end ("Relative revision -5 didn't produce 5 migrations"):
  // a mistyped count must not revert everything and exit 0.
  test('down -5 and down --steps 5 with three applied are exit 2, nothing reverted; up +5 with one pending too', async () => {
    expect((await migrate('up')).code).toBe(0);
    for (const args of [['down', '-5'], ['downgrade', '-5'], ['down', '--steps', '5']]) {
      const r = await migrate(...args);
      expect([r.code, errorLine(r.stderr)]).toEqual([2, [expect.stringMatching(/5 migrations asked for, only 3 migrations are applied; nothing was changed \(down base, which reverts them all\)/)]]);
    }
    expect(await history()).toEqual(['0001_a', '0002_b', '0003_c']);
    expect((await migrate('down', '-1')).code).toBe(0);
    const up = await migrate('up', '+5');
    expect([up.code, errorLine(up.stderr)]).toEqual([2, [expect.stringMatching(/up \+5: 5 migrations asked for, only 1 migration is pending; nothing was changed \(up \+1, or up head\)/)]]);
    expect(await history()).toEqual(['0001_a', '0002_b']);
  });

  test('up -1 and down +1 point at the other verb (exit 2)', async () => {
    expect((await migrate('up', '+1')).code).toBe(0);
    const back = await migrate('up', '-1');
    expect([back.code, errorLine(back.stderr)]).toEqual([2, [expect.stringMatching(/a step back is down -1/)]]);
    const forward = await migrate('down', '+1');
    expect([forward.code, errorLine(forward.stderr)]).toEqual([2, [expect.stringMatching(/a step forward is up \+1/)]]);
    expect(await history()).toEqual(['0001_a']);
  });
});

describe('revision and generate', () => {
  test('revision -m MSG is generate -m; generate "msg" takes the message as an argument', async () => {
    const revision = await offline('revision', '-m', 'add users');
    expect([revision.code, revision.stdout]).toEqual([0, `${folder.dir}/0004_add_users.sql\n`]);
    const positional = await offline('generate', 'add orders');
    expect([positional.code, positional.stdout]).toEqual([0, `${folder.dir}/0005_add_orders.sql\n`]);
    expect(await readFile(`${folder.dir}/0005_add_orders.sql`, 'utf8')).toMatch(/-- Up Migration[\s\S]*-- Down Migration/);
  });

  test.each([
    ['no message', ['generate'], /generate needs a message/],
    ['a message twice', ['generate', 'one', '-m', 'two'], /give the message once/],
  ])('generate with %s is exit 2, no file written', async (_title, args, message) => {
    const before = await readdir(folder.dir);
    const r = await offline(...args);
    expect(r.code).toBe(2);
    expect(errorLine(r.stderr)).toEqual([expect.stringMatching(message)]);
    expect(await readdir(folder.dir)).toEqual(before);
  });

  test.each([
    ['ÄÖ', '0004_ao.sql'],
    ['Straße erweitern', '0004_strasse_erweitern.sql'],
    ['café crème', '0004_cafe_creme.sql'],
    ["don't drop", '0004_dont_drop.sql'],
    ['Добавить пользователей', '0004_dobavit_polzovateley.sql'],
  ])('a non-ASCII message %s keeps its letters, transliterated: %s', async (message, fileName) => {
    const r = await offline('generate', '-m', message);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${folder.dir}/${fileName}\n`);
  });
});

describe('show, heads, history --verbose, current --verbose, --version', () => {
  beforeEach(async () => {
    await folder.write('0004_d.js', 'export const up = (pgm) => { pgm.createTable("d", { id: "id" }); };\n');
    // Queries while it builds: its up SQL needs a database; it writes, to prove show never runs it there.
    await folder.write(
      '0005_e.js',
      'export async function up(pgm) { await pgm.db.query("CREATE TABLE sneaky (id int)"); pgm.sql("SELECT 1"); }\n' +
        'export const down = (pgm) => pgm.sql("SELECT 0");\n',
    );
    expect((await migrate('up', '0004_d')).code).toBe(0);
  });

  test('show REV: file, status, applied at, by whom, duration, checksum, and the SQL of up and down', async () => {
    const r = await migrate('show', '0002');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^revision:\s+0002_b$/m);
    expect(r.stdout).toContain(`file:        ${folder.dir}/0002_b.sql`);
    expect(r.stdout).toMatch(/^status:\s+applied$/m);
    expect(r.stdout).toMatch(/^applied at:\s+\d{4}-\d\d-\d\dT/m);
    expect(r.stdout).toMatch(/^applied by:\s+migrate \d+\.\d+\.\d+ on /m);
    expect(r.stdout).toMatch(/^duration:\s+\d+ ms$/m);
    expect(r.stdout).toMatch(/^checksum:\s+ok/m);
    expect(r.stdout).toMatch(/-- up\n[\s\S]*CREATE TABLE b \(id int PRIMARY KEY, a_id int REFERENCES a\);[\s\S]*-- down\n[\s\S]*DROP TABLE b;/);
  });

  test('show of a builder-only JS migration builds its up and its reverse without a database', async () => {
    const r = await offline('show', '0004_d', '--json');
    expect(r.code).toBe(0);
    const shown = JSON.parse(r.stdout) as { name: string; status: string; up: { sql: string[] }; down: { sql: string[] } };
    expect(shown.name).toBe('0004_d');
    expect(shown.status).toBe('unknown (no database given)');
    expect(shown.up.sql.join('\n')).toMatch(/CREATE TABLE "d"/);
    expect(shown.down.sql.join('\n')).toMatch(/DROP TABLE "d"/);
  });

  test('show of a migration that queries while it builds says it needs a database, and never runs it', async () => {
    const r = await migrate('show', '0005_e');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^status:\s+pending$/m);
    expect(r.stdout).toMatch(/-- up: not built: it queries the database while it builds \(pgm\.db\), so its SQL needs a live database/);
    expect(r.stdout).toMatch(/-- down\nSELECT 0;/);
    expect(await tables()).not.toContain('sneaky');
  });

  test.each([
    ['an unknown revision', ['show', '0042'], /unknown revision "0042"/],
    ['an ambiguous prefix', ['show', '000'], /unknown revision "000"/],
  ])('show with %s is exit 2', async (_title, args, message) => {
    const r = await migrate(...args);
    expect(r.code).toBe(2);
    expect(errorLine(r.stderr)).toEqual([expect.stringMatching(message)]);
  });

  test('heads prints the one head, without a database', async () => {
    const r = await offline('heads');
    expect([r.code, r.stdout]).toEqual([0, '0005_e\n']);
    const verbose = await offline('heads', '--verbose');
    expect(verbose.stdout).toBe(`0005_e (head)\nfile:        ${folder.dir}/0005_e.js\n`);
    expect(JSON.parse((await offline('heads', '--json')).stdout)).toEqual({ heads: ['0005_e'] });
  });

  test('history --verbose: who applied each, when, how long, the checksum state, pending ones too', async () => {
    const r = await migrate('history', '--verbose');
    expect(r.code).toBe(0);
    const blocks = r.stdout.trim().split('\n\n');
    expect(blocks.map((b) => /^revision:\s+(\S+)/.exec(b)?.[1])).toEqual(['0001_a', '0002_b', '0003_c', '0004_d', '0005_e']);
    for (const block of blocks.slice(0, 4)) {
      expect(block).toMatch(/^applied by:\s+migrate .+ on /m);
      expect(block).toMatch(/^duration:\s+\d+ ms$/m);
      expect(block).toMatch(/^checksum:\s+ok/m);
    }
    expect(blocks[4]).toMatch(/^status:\s+pending$/m);
    expect(blocks[4]).not.toMatch(/applied by/);
  });

  test('history --verbose shows an edited applied file as modified', async () => {
    await folder.write('0002_b.sql', sqlMigration('CREATE TABLE b (id int PRIMARY KEY);', 'DROP TABLE b;'));
    const r = await migrate('history', '--verbose');
    expect(r.stdout).toMatch(/revision:\s+0002_b\n(.+\n)*checksum:\s+modified \(the file was edited after it was recorded\)/);
  });

  test('history --verbose: a stamped migration says it was stamped, and its file is as it was when recorded, not "applied"', async () => {
    expect((await migrate('stamp', '0005_e')).code).toBe(0);
    const r = await migrate('history', '--verbose');
    const stamped = r.stdout.trim().split('\n\n')[4]!;
    expect(stamped).toMatch(/^revision:\s+0005_e$/m);
    expect(stamped).toMatch(/^applied by:\s+stamped by migrate .+ on /m);
    expect(stamped).toMatch(/^duration:\s+-$/m);
    expect(stamped).toMatch(/^checksum:\s+ok \(the file is as it was when its checksum was recorded\)$/m);
  });

  test('current --verbose: the current revision with its details; plain current is unchanged', async () => {
    const r = await migrate('current', '--verbose');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^revision:\s+0004_d$/m);
    expect(r.stdout).toMatch(/^applied by:\s+migrate /m);
    expect((await migrate('current')).stdout).toBe('0004_d\n');
  });

  test('--version and -V print the package version', async () => {
    const { version } = JSON.parse(await readFile(`${PROJECT_ROOT}/package.json`, 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await runCli([flag], { env: cleanEnv() });
      expect([r.code, r.stdout, r.stderr]).toEqual([0, `${version}\n`, '']);
    }
  });
});

describe('upgrade --sql, sql --down, sql --offline', () => {
  beforeEach(async () => {
    expect((await migrate('up', '0001_a')).code).toBe(0);
  });

  test('upgrade --sql prints what sql prints, and touches nothing', async () => {
    const sql = await migrate('sql');
    const upgrade = await migrate('upgrade', '--sql');
    expect(upgrade.code).toBe(0);
    expect(upgrade.stdout).toBe(sql.stdout);
    expect(upgrade.stdout).toMatch(/CREATE TABLE b[\s\S]*CREATE TABLE c/);
    expect(await history()).toEqual(['0001_a']);
  });

  test('sql --down [TARGET] prints the down SQL and the history rows it removes; downgrade --sql is the same', async () => {
    expect((await migrate('up')).code).toBe(0);
    const r = await migrate('sql', '--down', '0001');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^-- migrate sql --down: 2 migration\(s\) reverted from 0003_c$/m);
    expect(r.stdout).toMatch(/DROP TABLE c;[\s\S]*DELETE FROM "public"\."pgmigrations" WHERE name = '0003_c';[\s\S]*DROP TABLE b;/);
    expect(r.stdout).not.toMatch(/DROP TABLE a;/);
    expect((await migrate('downgrade', '--sql', '0001_a')).stdout).toBe(r.stdout);
    expect((await migrate('sql', '--down')).stdout).toMatch(/DROP TABLE c;/);
    expect(await history()).toEqual(['0001_a', '0002_b', '0003_c']);
    expect(await tables()).toEqual(['a', 'b', 'c', 'pgmigrations', 'pgmigrations_meta']);
  });

  test('sql --offline builds .sql and builder-only migrations without a database', async () => {
    await folder.write('0004_d.js', 'export const up = (pgm) => { pgm.createTable("d", { id: "id" }); };\n');
    const r = await offline('sql', '--offline');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^-- migrate sql --offline: 4 migration\(s\), base to 0004_d, built without a database$/m);
    expect(r.stdout).toMatch(/CREATE TABLE a[\s\S]*CREATE TABLE b[\s\S]*CREATE TABLE c[\s\S]*CREATE TABLE "d"[\s\S]*VALUES \('0004_d', NOW\(\)\);\nCOMMIT;/);
    const range = await offline('sql', '--offline', '0002:0003');
    expect(range.stdout).toMatch(/^-- migrate sql --offline: 1 migration\(s\), 0002_b to 0003_c/m);
    const down = await offline('sql', '--offline', '--down', 'base');
    expect(down.stdout).toMatch(/DROP TABLE "d"[\s\S]*DROP TABLE c;[\s\S]*DROP TABLE b;[\s\S]*DROP TABLE a;/);
    expect((await offline('upgrade', '--sql', '--offline')).stdout).toBe(r.stdout);
  });

  // sql cuts the batch into transactions where up does: a new enum value can be used only once it committed.
  test('sql and sql --offline commit after a migration that adds an enum value, as up does', async () => {
    await folder.write('0004_mood.sql', sqlMigration("CREATE TYPE mood AS ENUM ('sad');\nALTER TYPE mood ADD VALUE 'happy';", 'DROP TYPE mood;'));
    await folder.write('0005_e.sql', sqlMigration("CREATE TABLE e (m mood DEFAULT 'happy');", 'DROP TABLE e;'));
    const commitsBetween = /ADD VALUE 'happy';[\s;]*INSERT INTO "public"\."pgmigrations" \(name, run_on\) VALUES \('0004_mood', NOW\(\)\);\nCOMMIT;\nBEGIN;\n-- 0005_e\.sql/;
    expect((await migrate('sql')).stdout).toMatch(commitsBetween);
    expect((await offline('sql', '--offline')).stdout).toMatch(commitsBetween);
    expect((await migrate('up')).code).toBe(0);
  });

  // What a JS/TS migration builds is checked as up checks it: SQL that would end the batch's transaction is refused (exit 2).
  test('sql --offline and sql refuse a JS migration whose SQL ends the transaction, as up does (exit 2), nothing applied', async () => {
    await folder.write('0004_commits.js', 'export const up = (pgm) => { pgm.sql("CREATE TABLE d (id int)"); pgm.sql("COMMIT"); };\n');
    const offlineSql = await offline('sql', '--offline');
    const sql = await migrate('sql');
    const up = await migrate('up');
    expect([offlineSql.code, sql.code, up.code]).toEqual([2, 2, 2]);
    expect(errorLine(offlineSql.stderr)).toEqual([expect.stringMatching(/migration file 0004_commits\.js builds COMMIT, which would end or change the batch's transaction/)]);
    expect(errorLine(sql.stderr)).toEqual(errorLine(up.stderr));
    expect(offlineSql.stdout).toBe('');
    expect(await history()).toEqual(['0001_a']);
    expect(await tables()).not.toContain('d');
  });

  test('sql --down refuses a migration without a down as down does (exit 1), nothing reverted', async () => {
    await folder.write('0004_keep.js', 'export const up = (pgm) => { pgm.sql("SELECT 1"); };\nexport const down = false;\n');
    expect((await migrate('up')).code).toBe(0);
    const sql = await migrate('sql', '--down');
    const down = await migrate('down');
    expect([sql.code, down.code]).toEqual([1, 1]);
    expect(errorLine(sql.stderr)).toEqual([expect.stringMatching(/0004_keep has no down migration \(0004_keep\.js exports down = false\); nothing was reverted/)]);
    expect(errorLine(sql.stderr)).toEqual(errorLine(down.stderr));
    expect(await history()).toEqual(['0001_a', '0002_b', '0003_c', '0004_keep']);
  });

  test('sql --offline writes the history where up does: in --migrations-schema', async () => {
    const r = await offline('sql', '--offline', '--migrations-schema', 'ops');
    expect(r.stdout).toMatch(/CREATE TABLE IF NOT EXISTS "ops"\."pgmigrations" /);
    expect(r.stdout).toMatch(/INSERT INTO "ops"\."pgmigrations" \(name, run_on\) VALUES \('0003_c', NOW\(\)\);/);
    expect(r.stdout).not.toMatch(/"public"\."pgmigrations"/);
  });

  test('sql --offline refuses (exit 2), naming the file, a migration that needs a live database', async () => {
    await folder.write('0004_q.js', 'export async function up(pgm) { const r = await pgm.db.query("SELECT 1"); pgm.sql("SELECT " + r.rows.length); }\n');
    const r = await offline('sql', '--offline');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(errorLine(r.stderr)).toEqual([
      expect.stringMatching(/sql --offline: 0004_q\.js \(up\) cannot be built without a database: it queries the database while it builds \(pgm\.db\).*drop --offline/),
    ]);
    // Up to the one before it, it builds.
    expect((await offline('sql', '--offline', '0003_c')).code).toBe(0);
  });

  test.each([
    [['sql', '-1'], /sql -1: a step back is sql --down -1/],
    [['sql', '--down', '+1'], /sql --down \+1: a step forward is sql \+1/],
    [['sql', '--offline', '-1'], /a step back is sql --down -1/],
  ])('%j points at the sql form, not at the command that runs (exit 2)', async (args, message) => {
    const r = await migrate(...args);
    expect(r.code).toBe(2);
    expect(errorLine(r.stderr)).toEqual([expect.stringMatching(message)]);
  });

  test('--offline without --sql on up is exit 2, nothing applied', async () => {
    const r = await migrate('up', '--offline');
    expect(r.code).toBe(2);
    expect(await history()).toEqual(['0001_a']);
  });
});

describe("Alembic words we do not have answer with ours (exit 2, nothing changes)", () => {
  beforeEach(async () => {
    expect((await migrate('up')).code).toBe(0);
  });

  test.each([
    [['merge', 'heads'], /unknown command "merge" \(not needed: migrations are one line of files/],
    [['branches'], /unknown command "branches" \(not needed: .*migrate heads/],
    [['edit', '0001_a'], /unknown command "edit" \(not available: open the file that migrate show REV names/],
    [['init', 'alembic'], /unknown command "init" \(not needed: migrate create NAME makes the migrations folder/],
    [['ensure_version'], /unknown command "ensure_version" \(not needed: the first run that writes/],
    [['stamp', '--purge', 'base'], /unknown option "--purge" for stamp \(not needed: stamp always rewrites the whole history/],
    [['downgrade', '--rev-id', 'x'], /unknown option "--rev-id" for down \(not needed: the file name prefix follows the folder/],
    [['-c', 'alembic.ini', 'downgrade', 'base'], /unknown option "-c" \(use --config FILE/],
    [['-x', 'tenant=a', 'downgrade', 'base'], /unknown option "-x" \(not needed: pass settings as flags or environment variables/],
    [['upgrade', '--autogenerate'], /unknown option "--autogenerate" for up \(goes with generate \(revision\) or create: migrate generate -m MESSAGE --autogenerate/],
    [['history', '-r', 'base:head'], /unknown option "-r" for history/],
    [['stamp', '--sql', 'base'], /unknown option "--sql" for stamp \(goes with up or down/],
  ])('migrate %j', async (args, message) => {
    const r = await migrate(...args);
    expect(r.code).toBe(2);
    expect(errorLine(r.stderr)).toEqual([expect.stringMatching(message)]);
    expect(await history()).toEqual(['0001_a', '0002_b', '0003_c']);
  });

  test('a word that is no Alembic word keeps commander\'s answer', async () => {
    const r = await migrate('frobnicate');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'frobnicate'/);
  });

  test('--help names the Alembic forms', async () => {
    const help = (await runCli(['--help'], { env: cleanEnv() })).stdout;
    expect(help).toMatch(/generate\|revision \[options\] \[message\]/);
    expect(help).toMatch(/heads/);
    expect(help).toMatch(/show <revision>/);
    expect(help).toMatch(/-V, --version/);
    const down = (await runCli(['down', '--help'], { env: cleanEnv() })).stdout.replace(/\s+/g, ' ');
    expect(down).toMatch(/-N \(the last N\)/);
    expect(down).toMatch(/--sql/);
  });
});

describe('output a person reads once', () => {
  test('at info the log tells each migration once: nothing repeats it on stdout', async () => {
    const r = await runCli(['up', '--dir', folder.dir], { env: env({ LOG_FORMAT: 'pretty' }) });
    expect(r.code).toBe(0);
    for (const name of ['0001_a', '0002_b', '0003_c']) {
      expect((r.stdout + r.stderr).split('\n').filter((l) => l.includes(`applied ${name}`))).toHaveLength(1);
    }
    expect(r.stdout).toBe('');
  });

  test('in a container (JSON logs) stdout carries no text among them; --json still prints the report', async () => {
    const r = await migrate('up');
    expect(r.stdout).toBe('');
    for (const line of r.stderr.trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
    expect((await migrate('down', '--json')).stdout).toMatch(/"command": "down"/);
  });

  test('at --log-level warn the report on stdout is the account of the run', async () => {
    const r = await migrate('up', '--log-level', 'warn');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^up: fresh → current/);
    expect(r.stdout).toMatch(/applied\s+0003_c \(up, \d+ ms\)/);
  });

  test('check --strict on drift says drift (exit 3), not "current (up to date)"', async () => {
    expect((await migrate('snapshot')).code).toBe(0);
    expect((await migrate('up')).code).toBe(0);
    await db.query('ALTER TABLE c ADD COLUMN extra int');
    const r = await migrate('check', '--strict');
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/^not ok: drift \(the live schema differs from the recorded schema of 0003_c\)$/m);
    expect(r.stdout).not.toMatch(/up to date/);
  });

  test('check on a database with no migration files at all is ok (exit 0)', async () => {
    const empty = await createMigrationsFolder({});
    try {
      const r = await runCli(['check', '--dir', empty.dir], { env: env() });
      expect([r.code, r.stdout]).toEqual([0, 'ok: base is current\n']);
      const strict = await runCli(['check', '--strict', '--dir', empty.dir], { env: env() });
      expect(strict.code).toBe(0);
    } finally {
      await empty.dispose();
    }
  });

  test.each([
    ['WARNING', ''],
    ['CRITICAL', ''],
    ['Info', 'database ready'],
    ['DEBUG', 'database ready'],
  ])('LOG_LEVEL=%s is a level (Python words, any case)', async (level, logged) => {
    const r = await runCli(['wait', '--timeout', '5'], { env: env({ LOG_LEVEL: level }) });
    expect(r.code).toBe(0);
    if (logged) expect(r.stderr).toContain(logged);
    else expect(r.stderr).toBe('');
  });
});
