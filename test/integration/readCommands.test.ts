/** The read-only commands and their bad inputs, through the CLI as a process. */
import { mkdir, mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { createTestDatabase, databaseUrl, serverUrl, type TestDatabase } from '../helpers/database.js';
import { ABC, createMigrationsFolder, type MigrationsFolder } from '../helpers/migrationsFolder.js';
import { CLI_PATH, cleanEnv, runCli, runNodePgMigrate, runProcess } from '../helpers/processes.js';
import { InterruptedError, RunnerError, inspectDatabase, runMigrations } from '../../src/index.js';

const PASSWORD = 'Sup3r-s3cret-pw';
/** A URL of the test server (wherever globalSetup found it) carrying a password: its own, else PASSWORD, which trust auth ignores. */
const withPassword = (url: string) => Object.assign(new URL(url), { password: new URL(url).password || PASSWORD }).toString();
let db: TestDatabase;
let folder: MigrationsFolder;

beforeAll(async () => {
  db = await createTestDatabase('read');
  folder = await createMigrationsFolder(ABC);
});
afterAll(async () => {
  await db.drop();
  await folder.dispose();
});

/** The database URL with a password in it (trust auth ignores it), to prove it is never printed. */
const urlWithPassword = () => {
  const url = new URL(db.url);
  url.password = PASSWORD;
  return url.toString();
};
const env = (extra: Record<string, string> = {}) => cleanEnv({ DATABASE_URL: urlWithPassword(), ...extra });
const cli = async (args: string[], extraEnv: Record<string, string> = {}) => {
  const result = await runCli([...args, '--dir', folder.dir], { env: env(extraEnv) });
  expect(result.stdout + result.stderr).not.toContain(PASSWORD);
  return result;
};

// A reader that stops reading early (`| head -1`) made the next write an unhandled EPIPE: a stack trace, exit 1.
test.each([['info'], ['history'], ['status']])('%s into a pipe closed after its first line: exit 0, nothing on stderr', async (command) => {
  const script = `"$NODE" "$CLI" ${command} --dir "$DIR" 2>"$DIR/.stderr" | head -1 >/dev/null; code=\${PIPESTATUS[0]}; cat "$DIR/.stderr"; rm -f "$DIR/.stderr"; exit $code`;
  const r = await runProcess('bash', ['-c', script], { env: { ...env(), NODE: process.execPath, CLI: CLI_PATH, DIR: folder.dir } });
  expect({ code: r.code, stderr: r.stdout.split('\n').filter((line) => !line.startsWith('{')).join('\n') }).toEqual({ code: 0, stderr: '' });
});

describe('on a database that is behind', () => {
  beforeAll(async () => {
    const result = await runNodePgMigrate(['up', '1', '-m', folder.dir], { env: cleanEnv({ DATABASE_URL: db.url }) });
    expect(result.code).toBe(0);
  });

  test('current prints the current revision', async () => {
    const r = await cli(['current']);
    expect([r.code, r.stdout]).toEqual([0, '0001_a\n']);
  });

  test('pending prints one name a line', async () => {
    const r = await cli(['pending']);
    expect([r.code, r.stdout]).toEqual([0, '0002_b\n0003_c\n']);
  });

  test('check exits 1 when there is work to do', async () => {
    const r = await cli(['check']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/not ok: behind/);
  });

  test('history lists applied and pending, with the checksum status', async () => {
    const r = await cli(['history', '--json']);
    expect(r.code).toBe(0);
    const { migrations } = JSON.parse(r.stdout) as { migrations: { name: string; status: string; checksum: string; appliedAt: string | null }[] };
    expect(migrations[0]!.appliedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
    expect(migrations.map((m) => [m.name, m.status, m.checksum])).toEqual([
      ['0001_a', 'applied', 'unrecorded'], // applied by plain node-pg-migrate
      ['0002_b', 'pending', 'n/a'],
      ['0003_c', 'pending', 'n/a'],
    ]);
    const text = await cli(['history']);
    expect(text.stdout.split('\n')[0]).toMatch(/^migration\s+status\s+applied at\s+duration\s+checksum$/);
  });

  test('status prints readable text', async () => {
    const r = await cli(['status']);
    expect(r.stdout).toMatch(/^state:\s+behind$/m);
    expect(r.stdout).toMatch(/^plan:\s+apply: 2 migrations pending$/m);
  });

  test('info masks the password', async () => {
    const r = await cli(['info', '--json']);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(info).toMatchObject({ databaseSource: 'DATABASE_URL', migrations: 3, head: '0003_c', table: 'public.pgmigrations' });
    expect(info.database).toMatch(/^postgres:\/\/postgres:\*\*\*\*@/);
  });
});

describe('on an empty database', () => {
  test('current prints base', async () => {
    const fresh = await createTestDatabase('empty');
    try {
      const r = await runCli(['current', '--dir', folder.dir], { env: cleanEnv({ DATABASE_URL: fresh.url }) });
      expect([r.code, r.stdout]).toEqual([0, 'base\n']);
    } finally {
      await fresh.drop();
    }
  });
});

describe('check', () => {
  test('exits 0 on current', async () => {
    const current = await createTestDatabase('check');
    try {
      await runNodePgMigrate(['up', '-m', folder.dir], { env: cleanEnv({ DATABASE_URL: current.url }) });
      const r = await runCli(['check', '--dir', folder.dir], { env: cleanEnv({ DATABASE_URL: current.url }) });
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^ok: 0003_c is current/);
    } finally {
      await current.drop();
    }
  });

  test('an edited applied file fails it (exit 1), unless the config allows modified files', async () => {
    const edited = await createTestDatabase('checkedit');
    const own = await createMigrationsFolder(ABC);
    const cwd = await mkdtemp(join(tmpdir(), 'cfg-'));
    try {
      const check = (dir = cwd) => runCli(['check', '--dir', own.dir], { cwd: dir, env: cleanEnv({ DATABASE_URL: edited.url }) });
      expect((await runCli(['auto', '--dir', own.dir], { env: cleanEnv({ DATABASE_URL: edited.url }) })).code).toBe(0);
      await own.write('0002_b.sql', '-- Up Migration\nCREATE TABLE b (id int, edited int);\n-- Down Migration\nDROP TABLE b;\n');
      const refused = await check();
      expect(refused.code).toBe(1);
      expect(refused.stdout).toMatch(/finding: .*0002_b/);
      await writeFile(join(cwd, 'migrate.config.json'), JSON.stringify({ allowModified: true }));
      expect((await check()).code).toBe(0);
    } finally {
      await rm(cwd, { recursive: true, force: true });
      await own.dispose();
      await edited.drop();
    }
  });
});

describe('settings', () => {
  const dbParts = () => {
    const url = new URL(db.url);
    return { host: url.hostname, port: url.port || '5432', name: url.pathname.slice(1), user: decodeURIComponent(url.username) };
  };

  test('DB_* variables name the database', async () => {
    const p = dbParts();
    const r = await runCli(['current', '--dir', folder.dir], {
      env: cleanEnv({ DB_HOST: p.host, DB_PORT: p.port, DB_NAME: p.name, DB_USER: p.user, DB_PASSWORD: PASSWORD }),
    });
    expect([r.code, r.stdout]).toEqual([0, '0001_a\n']);
  });

  test('POSTGRES_* variables name the database', async () => {
    const p = dbParts();
    const r = await runCli(['info', '--json', '--dir', folder.dir], {
      env: cleanEnv({ POSTGRES_HOST: p.host, POSTGRES_PORT: p.port, POSTGRES_DB: p.name, POSTGRES_USER: p.user, POSTGRES_PASSWORD: PASSWORD }),
    });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ databaseSource: 'POSTGRES_*' });
    expect(r.stdout).not.toContain(PASSWORD);
  });

  test('libpq PG* variables name the database', async () => {
    const p = dbParts();
    const r = await runCli(['current', '--dir', folder.dir], {
      env: cleanEnv({ PGHOST: p.host, PGPORT: p.port, PGDATABASE: p.name, PGUSER: p.user }),
    });
    expect([r.code, r.stdout]).toEqual([0, '0001_a\n']);
  });

  test('DATABASE_URL wins over DB_*; a flag wins over both', async () => {
    const bogus = cleanEnv({ DATABASE_URL: urlWithPassword(), DB_HOST: 'nowhere.invalid', DB_NAME: 'nothing' });
    expect((await runCli(['current', '--dir', folder.dir], { env: bogus })).code).toBe(0);
    const flagged = await runCli(['current', '--dir', folder.dir, '--database-url', urlWithPassword()], {
      env: cleanEnv({ DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' }),
    });
    expect(flagged.code).toBe(0);
  });

  test('MIGRATIONS_DIR and MIGRATIONS_TABLE are read; empty variables count as unset', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'env-'));
    try {
      await mkdir(join(cwd, 'migrations'));
      const info = async (extra: Record<string, string>) => {
        const r = await runCli(['info', '--json'], { cwd, env: cleanEnv({ DATABASE_URL: db.url, ...extra }) });
        expect([r.code, r.stderr]).toEqual([0, '']);
        return JSON.parse(r.stdout) as { migrationsDir: string; table: string };
      };
      expect(await info({ MIGRATIONS_DIR: folder.dir, MIGRATIONS_TABLE: 'schema_history' })).toMatchObject({
        migrationsDir: folder.dir, table: 'public.schema_history',
      });
      // As a compose file's `LOG_LEVEL: ${LOG_LEVEL}` passes them when the shell has none.
      const empty = { MIGRATIONS_DIR: '', MIGRATIONS_TABLE: '', MIGRATE_CONFIG: '', LOG_LEVEL: '', LOG_FORMAT: '' };
      expect(await info(empty)).toMatchObject({ migrationsDir: join(cwd, 'migrations'), table: 'public.pgmigrations' });
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  });

  test('LOG_LEVEL and LOG_FORMAT are read', async () => {
    const wait = (extra: Record<string, string>) => runCli(['wait', '--dir', folder.dir], { env: cleanEnv({ DATABASE_URL: db.url, ...extra }) });
    const pretty = await wait({ LOG_LEVEL: 'info', LOG_FORMAT: 'pretty' });
    expect([pretty.code, pretty.stderr]).toEqual([0, expect.stringMatching(/^migrate: database ready after \d+ ms$/m)]);
    expect((await wait({ LOG_LEVEL: 'info', LOG_FORMAT: 'json' })).stderr).toMatch(/^\{"level":"info","message":"database ready after/m);
    expect((await wait({ LOG_LEVEL: 'warn', LOG_FORMAT: 'json' })).stderr).toBe('');
  });

  // Every pair of layers, one setting at a time, is decided from literals in test/unit/settings.test.ts;
  // these few cases show the CLI hands its flags, environment and config file to that resolver.
  test('migrate.config.json in the working folder is read; flags override it', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'cfg-'));
    try {
      await writeFile(join(cwd, 'migrate.config.json'), JSON.stringify({ databaseUrl: db.url, dir: folder.dir }));
      const r = await runCli(['info', '--json'], { cwd, env: cleanEnv() });
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ databaseSource: 'config file', migrationsDir: folder.dir, config: join(cwd, 'migrate.config.json') });
      await writeFile(join(cwd, 'migrate.config.json'), JSON.stringify({ databaseUrl: 'postgres://nobody@nowhere.invalid/x', dir: '/nowhere', table: 'theirs' }));
      const flagged = await runCli(['info', '--json', '--database-url', db.url, '--dir', folder.dir, '--table', 'ours'], { cwd, env: cleanEnv() });
      expect(JSON.parse(flagged.stdout)).toMatchObject({ databaseSource: '--database-url', migrationsDir: folder.dir, table: 'public.ours' });
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  });
});

describe('bad input', () => {
  const before = async () => db.query(`SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace`);

  test.each([
    ['no database given', [], {}, 2, /no database given/],
    ['a URL with bad syntax', ['--database-url', 'postgres://u:p@:::bad'], {}, 2, /not a valid URL/],
    ['a URL of another scheme', ['--database-url', 'mysql://u@localhost/db'], {}, 2, /must start with postgres:\/\//],
    ['a non-numeric DB_PORT', [], { DB_HOST: '127.0.0.1', DB_PORT: 'abc' }, 2, /port from DB_\* is not a number/],
    ['a closed port (exit 4)', ['--database-url', `postgres://postgres:${PASSWORD}@127.0.0.1:1/x`], {}, 4, /did not accept connections within 0s/],
    ['an unknown host (exit 4)', ['--database-url', `postgres://postgres:${PASSWORD}@no-such-host.invalid:5432/x`], {}, 4, /did not accept connections/],
    ['a database that does not exist', ['--database-url', withPassword(databaseUrl('no_such_db_here'))], {}, 2, /does not exist.*create the database/],
    ['an unknown flag', ['--frobnicate'], { DATABASE_URL: 'postgres://x@127.0.0.1/x' }, 2, /unknown option '--frobnicate'/],
    ['an extra argument', ['frobnicate'], {}, 2, /too many arguments for 'status'/],
    ['a bad --wait-timeout', ['--wait-timeout', 'soon'], {}, 2, /expected a number of seconds/],
    ['an unknown log level', ['--log-level', 'loud'], { DATABASE_URL: 'postgres://x@127.0.0.1/x' }, 2, /unknown log level/],
  ])('%s', async (_title, args, extraEnv, code, message) => {
    const objects = await before();
    const r = await runCli(['status', '--dir', folder.dir, ...args], { env: cleanEnv(extraEnv as Record<string, string>) });
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
    expect(await before()).toEqual(objects);
  });

  test.each([
    ['invalid JSON', '{ "dir": ', /not valid JSON/],
    ['an unknown key', JSON.stringify({ databaseUrl: 'postgres://x@127.0.0.1/x', dirr: 'm' }), /unknown key "dirr"/],
    ['a value of the wrong type', JSON.stringify({ databaseUrl: 'postgres://x@127.0.0.1/x', lockTimeout: 'long' }), /key "lockTimeout" must be number/],
  ])('a config file with %s is exit 2 naming the key', async (_title, content, message) => {
    const cwd = await mkdtemp(join(tmpdir(), 'cfg-'));
    try {
      await writeFile(join(cwd, 'custom.json'), content);
      const r = await runCli(['status', '--config', 'custom.json'], { cwd, env: cleanEnv() });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  });

  test('an unknown command is exit 2', async () => {
    const r = await runCli(['frobnicate'], { env: env() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'frobnicate'/);
  });

  test('a missing config file that was named is exit 2', async () => {
    const r = await runCli(['status', '--config', '/nonexistent/migrate.json'], { env: cleanEnv() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/config file \/nonexistent\/migrate\.json cannot be read/);
  });

  test.each([
    ['a misnamed file', { '0001_a.sql': 'SELECT 1;', 'create_users.sql': 'SELECT 1;' }, /create_users\.sql has no numeric prefix/],
    ['a duplicate name', { '0001_a.sql': 'SELECT 1;', '0001_a.js': 'export const up = () => {};' }, /0001_a\.js and 0001_a\.sql|0001_a\.sql and 0001_a\.js/],
  ])('%s is exit 2 naming the file, before any connection', async (_title, files, message) => {
    const bad = await createMigrationsFolder(files);
    try {
      const r = await runCli(['status', '--dir', bad.dir], { env: env() });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    } finally {
      await bad.dispose();
    }
  });

  test('a migrations folder that is a file is exit 2', async () => {
    const r = await runCli(['status', '--dir', '/etc/hostname'], { env: env() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is not a folder/);
  });

  test('--log-level debug adds the stack for an error', async () => {
    const r = await runCli(['status', '--log-level', 'debug', '--database-url', `postgres://postgres:${PASSWORD}@127.0.0.1:1/x`], { env: cleanEnv() });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/\n\s+at /);
    expect(r.stderr).not.toContain(PASSWORD);
  });
});

/**
 * What the server refuses the runner's own reads is one line and exit 2 (the
 * role's configuration, README "Troubleshooting"), not "internal error": the
 * catalogs of the drift check, then the history itself.
 */
describe('a role that may not read what the runner reads', () => {
  const role = `reader_${randomBytes(4).toString('hex')}`;
  let denied: TestDatabase;
  let own: MigrationsFolder;
  const asRole = () => {
    const url = new URL(denied.url);
    url.username = role;
    url.password = PASSWORD;
    return url.toString();
  };
  const status = () => runCli(['status', '--dir', own.dir], { env: cleanEnv({ DATABASE_URL: asRole() }) });

  beforeAll(async () => {
    denied = await createTestDatabase('denied');
    own = await createMigrationsFolder(ABC);
    for (const command of ['up', 'snapshot']) {
      const r = await runCli([command, '--dir', own.dir], { env: cleanEnv({ DATABASE_URL: denied.url }) });
      expect(r.code).toBe(0);
    }
    await denied.query(`CREATE ROLE ${role} LOGIN`);
    await denied.query(`GRANT USAGE ON SCHEMA public TO ${role}`);
    await denied.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${role}`);
    // pg_trigger is a catalog of this database alone: revoking it touches no other.
    await denied.query('REVOKE SELECT ON pg_catalog.pg_trigger FROM PUBLIC');
  });
  afterAll(async () => {
    await denied.drop();
    const server = new pg.Client({ connectionString: serverUrl() });
    await server.connect();
    await server.query(`DROP ROLE IF EXISTS ${role}`).finally(() => server.end());
    await own.dispose();
  });

  test('a catalog it may not read (the drift check): exit 2, one line naming the catalog and what to do', async () => {
    const r = await status();
    expect([r.code, r.stderr.trim().split('\n')]).toEqual([
      2,
      [expect.stringMatching(/^migrate: error: could not read the triggers of schema "public": permission denied for table pg_trigger \(the role the runner connects as must be able to read the system catalogs/)],
    ]);
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
  });

  test('a history it may not read: exit 2, one line naming the table', async () => {
    await denied.query(`REVOKE SELECT ON ALL TABLES IN SCHEMA public FROM ${role}`);
    const r = await status();
    expect([r.code, r.stderr.trim().split('\n')]).toEqual([
      2,
      [expect.stringMatching(/^migrate: error: the database refused one of the runner's own statements: permission denied for table pgmigrations \(the role the runner connects as lacks a privilege/)],
    ]);
  });

  test('the library meets the same RunnerError, not the raw driver error: inspectDatabase and runMigrations reject with exit 2 and the hint', async () => {
    // As in the test above: the role may read neither the history nor pg_trigger.
    await denied.query(`REVOKE SELECT ON ALL TABLES IN SCHEMA public FROM ${role}`);
    const options = { databaseUrl: asRole(), dir: own.dir, env: {} };
    for (const call of [() => inspectDatabase(options), () => runMigrations({ ...options, command: { kind: 'auto' } })]) {
      const error = await call().then(() => null, (e: unknown) => e);
      expect(error).toBeInstanceOf(RunnerError);
      expect(error).toMatchObject({ exitCode: 2, message: expect.stringMatching(/permission denied for table pgmigrations/), hint: expect.stringMatching(/lacks a privilege/) });
    }
  });
});

describe('wait', () => {
  test('returns 0 when the database accepts connections', async () => {
    const r = await runCli(['wait', '--timeout', '5'], { env: env() });
    expect(r.code).toBe(0);
  });

  test('exits 4 after the timeout when nothing listens', async () => {
    const started = Date.now();
    const r = await runCli(['wait', '--timeout', '2', '--database-url', 'postgres://postgres@127.0.0.1:1/x'], { env: cleanEnv() });
    expect(r.code).toBe(4);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    expect(r.stderr).toMatch(/did not accept connections within 2s/);
  });
});

describe('a run stopped before it starts', () => {
  // jest fails the test it runs when a promise rejects unhandled meanwhile (before the fix: the look's
  // "Connection terminated", src/db/facts.ts); the wait keeps a late one inside this test.
  test('runMigrations given a signal already aborted rejects with its reason, changes nothing, and starts no look', async () => {
    const stopped = await createTestDatabase('stopped');
    const own = await createMigrationsFolder(ABC);
    try {
      const reason = new InterruptedError('SIGINT');
      const error = await runMigrations({ databaseUrl: stopped.url, dir: own.dir, env: {}, signal: AbortSignal.abort(reason) }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBe(reason);
      // A look started anyway would fail on the connection the run closed, a moment later.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await stopped.query(`SELECT 1 FROM pg_tables WHERE schemaname = 'public'`)).toEqual([]);
    } finally {
      await stopped.drop();
      await own.dispose();
    }
  });
});
