/**
 * scripts/docker/backend-entrypoint.sh (docs/CONTRACT.md "The container"), run as a
 * real process: first with a fake `migrate` (a small sh stub first on PATH)
 * whose exit codes the test chooses, then with the real CLI (dist/cli.js).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT, CLI_PATH } from '../helpers/processes.js';
import { startTcpProxy } from '../helpers/tcpProxy.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

const ENTRYPOINT = join(PROJECT_ROOT, 'scripts', 'docker', 'backend-entrypoint.sh');

/** Records every call, one line each, and exits as FAKE_<COMMAND>_EXIT says. */
const FAKE_MIGRATE = `#!/bin/sh
printf '%s\\n' "$*" >>"$FAKE_MIGRATE_LOG"
case "$1" in
  wait) echo "fake migrate: wait" >&2; exit "\${FAKE_WAIT_EXIT:-0}" ;;
  auto) echo "fake migrate: auto" >&2; exit "\${FAKE_AUTO_EXIT:-0}" ;;
esac
echo "MIGRATE_PID=$$"
exit "\${FAKE_COMMAND_EXIT:-0}"
`;

/** The "app": prints its PID and arguments, so a test can tell it ran in the entrypoint's place. */
const APP = ['/bin/sh', '-c', 'echo "APP_PID=$$"; echo "APP_ARGS=$*"', 'app', 'one', 'two words'];

interface Result {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly pid: number;
  readonly stdout: string;
  readonly stderr: string;
}

let dir: string;
let logFile: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'entrypoint-'));
  await writeFile(join(dir, 'migrate'), FAKE_MIGRATE);
  await chmod(join(dir, 'migrate'), 0o755);
  // The real CLI behind a name on PATH, for the tests at the end.
  await writeFile(join(dir, 'real-migrate'), `#!/bin/sh\nexec "${process.execPath}" "${CLI_PATH}" "$@"\n`);
  await chmod(join(dir, 'real-migrate'), 0o755);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let run = 0;
beforeEach(() => {
  logFile = join(dir, `calls-${++run}.log`);
});

function baseEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  // Nothing from the outer environment that the entrypoint or migrate reads.
  return {
    PATH: `${dir}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: process.env.HOME,
    FAKE_MIGRATE_LOG: logFile,
    LOG_FORMAT: 'json',
    ...extra,
  };
}

function start(args: readonly string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(ENTRYPOINT, [...args], { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
}

function collect(child: ChildProcess, timeoutMs = 30_000): Promise<Result> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, pid: child.pid ?? -1, stdout, stderr });
    });
  });
}

function runEntrypoint(env: Record<string, string> = {}, args: readonly string[] = APP): Promise<Result> {
  return collect(start(args, baseEnv(env)));
}

async function calls(): Promise<string[]> {
  try {
    return (await readFile(logFile, 'utf8')).split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

function appPid(stdout: string): number | null {
  const m = /APP_PID=(\d+)/.exec(stdout);
  return m ? Number(m[1]) : null;
}

describe('backend-entrypoint.sh with a fake migrate', () => {
  test('waits, migrates, then execs the app in its own place (same PID, arguments intact)', async () => {
    const r = await runEntrypoint();
    expect(r.code).toBe(0);
    expect(await calls()).toEqual(['wait --timeout 60', 'auto']);
    expect(appPid(r.stdout)).toBe(r.pid);
    expect(r.stdout).toContain('APP_ARGS=one two words');
    expect(r.stderr).toMatch(/entrypoint: step 1\/3: waiting for the database \(up to 60s\)/);
    expect(r.stderr).toMatch(/entrypoint: step 2\/3: running migrations \(migrate auto\)/);
    expect(r.stderr).toMatch(/entrypoint: step 2\/3: migrations done/);
    expect(r.stderr).toMatch(/entrypoint: step 3\/3: starting: \/bin\/sh -c/);
    // Logs on stderr only: stdout belongs to the app.
    expect(r.stdout).not.toContain('entrypoint:');
  });

  test('WAIT_FOR_DB_TIMEOUT is passed to migrate wait', async () => {
    await runEntrypoint({ WAIT_FOR_DB_TIMEOUT: '7' });
    expect((await calls())[0]).toBe('wait --timeout 7');
  });

  test.each([
    ['RUN_MIGRATIONS', 'false'],
    ['RUN_MIGRATIONS', 'FALSE'],
    ['RUN_MIGRATIONS', '0'],
    ['SKIP_MIGRATIONS', 'true'],
    ['SKIP_MIGRATIONS', '1'],
  ])('%s=%s: waits, does not migrate, starts the app', async (name, value) => {
    const r = await runEntrypoint({ [name]: value });
    expect(r.code).toBe(0);
    expect(await calls()).toEqual(['wait --timeout 60']);
    expect(appPid(r.stdout)).toBe(r.pid);
    expect(r.stderr).toMatch(/step 2\/3: skipping migrations/);
  });

  test('RUN_MIGRATIONS=true and SKIP_MIGRATIONS=false migrate as usual', async () => {
    const r = await runEntrypoint({ RUN_MIGRATIONS: 'true', SKIP_MIGRATIONS: 'false' });
    expect(r.code).toBe(0);
    expect(await calls()).toEqual(['wait --timeout 60', 'auto']);
  });

  test.each([1, 3, 5])('failed run (exit %i), MIGRATION_FAILURE_POLICY=exit: stops with that code, app not started', async (code) => {
    const r = await runEntrypoint({ FAKE_AUTO_EXIT: String(code), MIGRATION_FAILURE_POLICY: 'exit' });
    expect(r.code).toBe(code);
    expect(await calls()).toEqual(['wait --timeout 60', 'auto']);
    expect(r.stdout).not.toContain('APP_PID');
    expect(r.stderr).toMatch(new RegExp(`migrate auto failed \\(exit ${code}\\); MIGRATION_FAILURE_POLICY=exit`));
  });

  test('failed run, default policy (continue): loud warning, app started anyway', async () => {
    const r = await runEntrypoint({ FAKE_AUTO_EXIT: '3' });
    expect(r.code).toBe(0);
    expect(appPid(r.stdout)).toBe(r.pid);
    expect(r.stderr).toMatch(/WARNING: migrate auto FAILED \(exit 3\)/);
    expect(r.stderr).toMatch(/starting the app ANYWAY/);
    expect(r.stderr.indexOf('WARNING')).toBeLessThan(r.stderr.indexOf('step 3/3'));
  });

  test('MIGRATION_FAILURE_POLICY=continue said explicitly behaves as the default', async () => {
    const r = await runEntrypoint({ FAKE_AUTO_EXIT: '1', MIGRATION_FAILURE_POLICY: 'continue' });
    expect(r.code).toBe(0);
    expect(appPid(r.stdout)).toBe(r.pid);
    expect(r.stderr).toMatch(/WARNING: migrate auto FAILED \(exit 1\)/);
  });

  test('the database never answers: exit 4, no migration, app not started', async () => {
    const r = await runEntrypoint({ FAKE_WAIT_EXIT: '4' });
    expect(r.code).toBe(4);
    expect(await calls()).toEqual(['wait --timeout 60']);
    expect(r.stdout).not.toContain('APP_PID');
    expect(r.stderr).toMatch(/did not accept connections within 60s; not starting \(exit 4\)/);
  });

  test('wait fails otherwise (no database configured, exit 2): that code, whatever the policy', async () => {
    const r = await runEntrypoint({ FAKE_WAIT_EXIT: '2', MIGRATION_FAILURE_POLICY: 'continue' });
    expect(r.code).toBe(2);
    expect(await calls()).toEqual(['wait --timeout 60']);
    expect(r.stdout).not.toContain('APP_PID');
  });

  test('MIGRATE_BIN names another migrate', async () => {
    const other = join(dir, 'other-migrate');
    await writeFile(other, FAKE_MIGRATE.replace('printf', 'printf "other " >>"$FAKE_MIGRATE_LOG"; printf'));
    await chmod(other, 0o755);
    const r = await runEntrypoint({ MIGRATE_BIN: other });
    expect(r.code).toBe(0);
    expect(await calls()).toEqual(['other wait --timeout 60', 'other auto']);
  });

  test('a migrate that is not there: exit 127 with a clear line', async () => {
    const r = await runEntrypoint({ MIGRATE_BIN: join(dir, 'no-such-migrate') });
    expect(r.code).toBe(127);
    expect(r.stderr).toMatch(/the migrate command .*no-such-migrate.* is not found/);
  });

  test.each([
    [{ MIGRATION_FAILURE_POLICY: 'ignore' }, /MIGRATION_FAILURE_POLICY=ignore is not one of: continue, exit/],
    [{ RUN_MIGRATIONS: 'maybe' }, /RUN_MIGRATIONS=maybe is not true or false/],
    [{ SKIP_MIGRATIONS: 'sometimes' }, /SKIP_MIGRATIONS=sometimes is not true or false/],
  ])('invalid setting %o: exit 2 before anything runs', async (env, message) => {
    const r = await runEntrypoint(env as Record<string, string>);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(await calls()).toEqual([]);
  });

  test('no command: exit 2 with usage', async () => {
    const r = await runEntrypoint({}, []);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no command to start/);
    expect(await calls()).toEqual([]);
  });

  test('the app receives SIGTERM itself (no shell in between) and exits cleanly', async () => {
    const child = start(
      ['/bin/sh', '-c', 'trap "echo GOT_TERM; exit 0" TERM; echo "READY $$"; while :; do sleep 0.1; done'],
      baseEnv(),
    );
    const done = collect(child);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('app did not start')), 10_000);
      child.stdout?.on('data', (d: Buffer) => {
        if (d.toString().includes('READY')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    child.kill('SIGTERM');
    const r = await done;
    expect(r.stdout).toContain(`READY ${r.pid}`);
    expect(r.stdout).toContain('GOT_TERM');
    expect(r.code).toBe(0);
  });
});

describe('backend-entrypoint.sh running a migrate command', () => {
  test('migrate down --steps 1: waits, then runs that command alone (no auto first), in the entrypoint\'s place', async () => {
    const r = await runEntrypoint({}, ['migrate', 'down', '--steps', '1']);
    expect(r.code).toBe(0);
    expect(await calls()).toEqual(['wait --timeout 60', 'down --steps 1']);
    expect(r.stdout).toContain(`MIGRATE_PID=${r.pid}`);
    expect(r.stderr).toMatch(/entrypoint: migrate command: waiting for the database \(up to 60s\)/);
    expect(r.stderr).toMatch(/entrypoint: running: migrate down --steps 1 \(alone: no migrate auto first\)/);
  });

  test.each([[1], [3]])('the container exits with the command\'s code (%i), whatever the policy', async (code) => {
    const r = await runEntrypoint({ FAKE_COMMAND_EXIT: String(code), MIGRATION_FAILURE_POLICY: 'continue' }, ['migrate', 'up']);
    expect(r.code).toBe(code);
    expect(await calls()).toEqual(['wait --timeout 60', 'up']);
  });

  test('the image\'s path to migrate (a path to the same file as MIGRATE_BIN) is a migrate command too', async () => {
    const r = await runEntrypoint({ MIGRATE_BIN: 'migrate' }, [join(dir, 'migrate'), 'status']);
    expect(r.code).toBe(0);
    expect(await calls()).toEqual(['wait --timeout 60', 'status']);
    const other = join(dir, 'link-to-migrate');
    await symlink(join(dir, 'migrate'), other).catch(() => undefined);
    const linked = await runEntrypoint({ MIGRATE_BIN: other }, [join(dir, 'migrate'), 'current']);
    expect(linked.code).toBe(0);
  });

  test.each([
    [['migrate', 'generate', 'add users']],
    [['migrate', 'revision', '-m', 'add users']],
    [['migrate', 'heads']],
    [['migrate', '--version']],
    [['migrate', 'sql', '--offline']],
  ])('%j needs no database: it runs without waiting', async (args) => {
    const r = await runEntrypoint({ FAKE_WAIT_EXIT: '4' }, args);
    expect(r.code).toBe(0);
    expect(await calls()).toEqual([args.slice(1).join(' ')]);
  });

  test('the database never answers: exit 4, the command not run', async () => {
    const r = await runEntrypoint({ FAKE_WAIT_EXIT: '4' }, ['migrate', 'down']);
    expect(r.code).toBe(4);
    expect(await calls()).toEqual(['wait --timeout 60']);
  });

  test('RUN_MIGRATIONS=false does not stop an explicit migrate command', async () => {
    const r = await runEntrypoint({ RUN_MIGRATIONS: 'false' }, ['migrate', 'up']);
    expect(r.code).toBe(0);
    expect(await calls()).toEqual(['wait --timeout 60', 'up']);
  });
});

describe('backend-entrypoint.sh log lines', () => {
  test('LOG_FORMAT=json: every line on stderr is JSON, as migrate writes its own', async () => {
    const r = await runEntrypoint({ FAKE_AUTO_EXIT: '3' });
    const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('fake migrate'));
    expect(lines.length).toBeGreaterThan(5);
    for (const line of lines) {
      const parsed = JSON.parse(line) as { level: string; message: string; timestamp: string };
      expect(parsed.message).toMatch(/^entrypoint: /);
      expect(parsed.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }
    expect(lines.map((l) => (JSON.parse(l) as { level: string }).level)).toContain('warn');
  });

  test('quotes and backslashes in the command stay valid JSON', async () => {
    const r = await runEntrypoint({}, ['/bin/sh', '-c', 'echo "a \\ b"', 'x']);
    const start = r.stderr.split('\n').find((l) => l.includes('step 3/3'))!;
    expect((JSON.parse(start) as { message: string }).message).toBe('entrypoint: step 3/3: starting: /bin/sh -c echo "a \\ b" x');
  });

  test('LOG_FORMAT unset and stderr not a terminal: JSON; LOG_FORMAT=pretty: text', async () => {
    const unset = await collect(start(APP, { ...baseEnv(), LOG_FORMAT: undefined }));
    expect(() => JSON.parse(unset.stderr.split('\n').find((l) => l.includes('step 1/3'))!)).not.toThrow();
    const pretty = await runEntrypoint({ LOG_FORMAT: 'pretty' });
    expect(pretty.stderr).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ entrypoint: step 1\/3/m);
  });
});

describe('backend-entrypoint.sh with the real migrate (dist/cli.js)', () => {
  const realEnv = (extra: Record<string, string>): Record<string, string> => ({ MIGRATE_BIN: join(dir, 'real-migrate'), ...extra });

  test('a database that never answers: exit 4 after WAIT_FOR_DB_TIMEOUT, app not started', async () => {
    // Port 1 on loopback: connection refused at once, every time.
    const started = Date.now();
    const r = await runEntrypoint(realEnv({ DATABASE_URL: 'postgres://u:secret-pw@127.0.0.1:1/db', WAIT_FOR_DB_TIMEOUT: '2' }));
    expect(r.code).toBe(4);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_500);
    expect(r.stdout).not.toContain('APP_PID');
    expect(r.stdout + r.stderr).not.toContain('secret-pw');
  });

  test('no database given: migrate wait exits 2 and so does the entrypoint', async () => {
    const r = await runEntrypoint(realEnv({ WAIT_FOR_DB_TIMEOUT: '1' }));
    expect(r.code).toBe(2);
    expect(r.stdout).not.toContain('APP_PID');
  });

  describe('against a real database', () => {
    let db: TestDatabase;
    let migrations: string;

    beforeAll(async () => {
      db = await createTestDatabase('entrypoint');
      migrations = await mkdtemp(join(tmpdir(), 'entrypoint-migrations-'));
      await writeFile(
        join(migrations, '0001_create_items.sql'),
        '-- Up Migration\nCREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL);\n\n-- Down Migration\nDROP TABLE items;\n',
      );
    });

    afterAll(async () => {
      await db?.drop();
      await rm(migrations, { recursive: true, force: true });
    });

    test('RUN_MIGRATIONS=false: waits for the database, starts the app, changes nothing', async () => {
      const r = await runEntrypoint(realEnv({ DATABASE_URL: db.url, MIGRATIONS_DIR: migrations, RUN_MIGRATIONS: 'false' }));
      expect(r.code).toBe(0);
      expect(appPid(r.stdout)).toBe(r.pid);
      const tables = await db.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`);
      expect(tables).toEqual([]);
    });

    test('a database that comes up late is waited for, then migrated, then the app starts', async () => {
      const late = await createTestDatabase('entrypoint_late');
      const server = new URL(late.url);
      const proxy = await startTcpProxy({ targetHost: server.hostname, targetPort: Number(server.port || 5432), listen: false });
      try {
        const url = new URL(late.url);
        url.hostname = '127.0.0.1';
        url.port = String(proxy.port);
        const running = runEntrypoint(realEnv({ DATABASE_URL: url.toString(), MIGRATIONS_DIR: migrations, WAIT_FOR_DB_TIMEOUT: '20' }));
        await new Promise((resolve) => setTimeout(resolve, 2_500));
        expect(proxy.accepted).toBe(0);
        await proxy.listen();
        const r = await running;
        expect(r.code).toBe(0);
        expect(appPid(r.stdout)).toBe(r.pid);
        const names = await late.query<{ name: string }>('SELECT name FROM pgmigrations ORDER BY id');
        expect(names.map((n) => n.name)).toEqual(['0001_create_items']);
      } finally {
        await proxy.close();
        await late.drop();
      }
    });

    test.each([['verbose'], ['loud']])('LOG_LEVEL=%s, which migrate refuses: the app starts anyway under continue, migrated', async (level) => {
      const fresh = await createTestDatabase('entrypoint_level');
      try {
        const r = await runEntrypoint(realEnv({ DATABASE_URL: fresh.url, MIGRATIONS_DIR: migrations, LOG_LEVEL: level }));
        expect(r.code).toBe(0);
        expect(appPid(r.stdout)).toBe(r.pid);
        expect(r.stderr).toMatch(new RegExp(`migrate refused LOG_LEVEL=${level} \\(see its error above\\); migrate runs at info`));
        expect(r.stderr).toMatch(/step 2\/3: migrations done/);
        const names = await fresh.query<{ name: string }>('SELECT name FROM pgmigrations ORDER BY id');
        expect(names.map((n) => n.name)).toEqual(['0001_create_items']);
      } finally {
        await fresh.drop();
      }
    });

    test('LOG_LEVEL migrate refuses, MIGRATION_FAILURE_POLICY=exit: exit 2, app not started', async () => {
      const r = await runEntrypoint(realEnv({ DATABASE_URL: db.url, MIGRATIONS_DIR: migrations, LOG_LEVEL: 'loud', MIGRATION_FAILURE_POLICY: 'exit' }));
      expect(r.code).toBe(2);
      expect(r.stdout).not.toContain('APP_PID');
    });

    test('LOG_LEVEL=WARNING (Python\'s word) is migrate\'s warn: no info lines from it, the app starts', async () => {
      const r = await runEntrypoint(realEnv({ DATABASE_URL: db.url, MIGRATIONS_DIR: migrations, LOG_LEVEL: 'WARNING', RUN_MIGRATIONS: 'false' }));
      expect(r.code).toBe(0);
      expect(r.stderr).not.toMatch(/migrate refused/);
      expect(r.stderr).not.toMatch(/database ready after/);
    });

    test('migrate down --steps 1 through the entrypoint reverts one and applies nothing first', async () => {
      const behind = await createTestDatabase('entrypoint_down');
      const folder = await mkdtemp(join(tmpdir(), 'entrypoint-down-'));
      try {
        await writeFile(join(folder, '0001_a.sql'), '-- Up Migration\nCREATE TABLE a (id int);\n-- Down Migration\nDROP TABLE a;\n');
        await writeFile(join(folder, '0002_b.sql'), '-- Up Migration\nCREATE TABLE b (id int);\n-- Down Migration\nDROP TABLE b;\n');
        const settings = { DATABASE_URL: behind.url, MIGRATIONS_DIR: folder };
        expect((await runEntrypoint(realEnv(settings), [join(dir, 'real-migrate'), 'up', '+1'])).code).toBe(0);
        const r = await runEntrypoint(realEnv(settings), [join(dir, 'real-migrate'), 'down', '--steps', '1']);
        expect(r.code).toBe(0);
        expect(r.stderr).not.toMatch(/running migrations \(migrate auto\)/);
        // With auto first, 0002_b would have been applied and then reverted, leaving 0001_a.
        expect(await behind.query('SELECT name FROM pgmigrations')).toEqual([]);
        const status = await runEntrypoint(realEnv(settings), [join(dir, 'real-migrate'), 'status', '--json']);
        expect(JSON.parse(status.stdout)).toMatchObject({ state: 'fresh', current: null });
      } finally {
        await behind.drop();
        await rm(folder, { recursive: true, force: true });
      }
    });

    test('a fresh database is migrated to head before the app starts', async () => {
      const r = await runEntrypoint(realEnv({ DATABASE_URL: db.url, MIGRATIONS_DIR: migrations, MIGRATION_FAILURE_POLICY: 'exit' }));
      expect(r.stderr).toMatch(/step 2\/3: migrations done/);
      expect(r.code).toBe(0);
      expect(appPid(r.stdout)).toBe(r.pid);
      const names = await db.query<{ name: string }>('SELECT name FROM pgmigrations ORDER BY id');
      expect(names.map((n) => n.name)).toEqual(['0001_create_items']);
    });
  });
});
