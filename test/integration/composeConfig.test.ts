/**
 * docker-compose.container.yml alone, and merged with docker-compose.alembic.yml,
 * as docker-compose itself resolves them (`docker-compose ... config`: no
 * engine needed). Also the static promises of Dockerfile.backend.
 */
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import YAML from 'yaml';
import { PROJECT_ROOT } from '../helpers/processes.js';

const COMPOSE = process.env.DOCKER_COMPOSE_BIN ?? 'docker-compose';
const PLAIN = ['-f', 'docker-compose.container.yml'];
const MERGED = [...PLAIN, '-f', 'docker-compose.alembic.yml'];
const PROFILED = [...PLAIN, '-f', 'docker-compose.migrations.yml'];

type Service = Record<string, any>;
interface ComposeConfig {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

function compose(args: readonly string[], env: Record<string, string> = {}) {
  const result = spawnSync(COMPOSE, [...args], {
    cwd: PROJECT_ROOT,
    // Only what the test sets: no POSTGRES_* or BACKEND_PORT from the outer shell.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (result.error && (result.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error(
      `${COMPOSE} is not installed: these tests need Docker Compose to resolve the compose files ` +
        `(Debian: apt-get install docker-compose; or set DOCKER_COMPOSE_BIN). .ci/run installs it.`,
    );
  }
  if (result.error) throw result.error;
  return result;
}

function config(args: readonly string[], env: Record<string, string> = {}): ComposeConfig {
  const result = compose([...args, 'config'], env);
  if (result.status !== 0) {
    throw new Error(`${COMPOSE} ${[...args, 'config'].join(' ')} exited ${result.status}: ${result.stderr}`);
  }
  return YAML.parse(result.stdout) as ComposeConfig;
}

/** Environment as a map, whichever form (list or map) the compose version prints. */
function envOf(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((e: string) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
}

/** Published ports as `host_ip:published:target`, from short (1.29) or long (v2) syntax. */
function portsOf(service: Service): string[] {
  return (service.ports ?? []).map((p: string | Record<string, unknown>) => {
    if (typeof p === 'string') return p.replace(/\/tcp$/, '');
    return `${p.host_ip ?? ''}:${p.published}:${p.target}`;
  });
}

function conditionOf(service: Service, dependency: string): string | undefined {
  const deps = service.depends_on;
  if (Array.isArray(deps)) return deps.includes(dependency) ? 'service_started' : undefined;
  return deps?.[dependency]?.condition;
}

function healthcheckText(service: Service): string {
  const test = service.healthcheck?.test;
  return Array.isArray(test) ? test.join(' ') : String(test ?? '');
}

/**
 * Without Docker Compose (README "Try it, and test it": Node and npm are
 * enough) these tests are skipped, and globalSetup says so; .ci/run
 * installs it and sets TEST_REQUIRE_COMPOSE=1, so there they must run.
 */
const skipped = process.env.TEST_COMPOSE_SKIP !== undefined && process.env.TEST_REQUIRE_COMPOSE !== '1';
const describeCompose = skipped ? describe.skip : describe;

(skipped ? test.skip : test)(`${COMPOSE} is installed`, () => {
  const result = compose(['version']);
  expect(result.status).toBe(0);
});

describeCompose('docker-compose.container.yml alone', () => {
  let cfg: ComposeConfig;
  beforeAll(() => {
    cfg = config(PLAIN);
  });

  test('is valid (config -q)', () => {
    expect(compose([...PLAIN, 'config', '-q']).status).toBe(0);
  });

  test('has postgres and backend only', () => {
    expect(Object.keys(cfg.services).sort()).toEqual(['backend', 'postgres']);
  });

  test('postgres: the official image, a named volume for its data, a pg_isready healthcheck', () => {
    const pg = cfg.services.postgres!;
    expect(pg.image).toBe('postgres:15-bookworm');
    expect(JSON.stringify(pg.volumes)).toMatch(/pgdata.*\/var\/lib\/postgresql\/data/);
    expect(Object.keys(cfg.volumes ?? {})).toContain('pgdata');
    expect(healthcheckText(pg)).toMatch(/pg_isready/);
    expect(envOf(pg)).toEqual({ POSTGRES_USER: 'postgres', POSTGRES_PASSWORD: 'postgres', POSTGRES_DB: 'app' });
  });

  test('backend: built from Dockerfile.backend, waits for a healthy postgres, migrates at start', () => {
    const backend = cfg.services.backend!;
    expect(backend.build?.dockerfile).toBe('Dockerfile.backend');
    expect(conditionOf(backend, 'postgres')).toBe('service_healthy');
    expect(conditionOf(backend, 'migrate')).toBeUndefined();
    const env = envOf(backend);
    expect(env.RUN_MIGRATIONS).toBe('true');
    expect(env.SKIP_MIGRATIONS).toBe('false');
    expect(envOf(config(PLAIN, { SKIP_MIGRATIONS: 'true' }).services.backend!).SKIP_MIGRATIONS).toBe('true');
    expect(env.DATABASE_URL).toBe('postgres://postgres:postgres@postgres:5432/app');
    // No entrypoint or command override: the image's entrypoint does the migrating.
    expect(backend.entrypoint).toBeUndefined();
  });

  test('backend: a healthcheck on /healthz, its port published on 127.0.0.1 only', () => {
    const backend = cfg.services.backend!;
    expect(healthcheckText(backend)).toMatch(/\/healthz/);
    expect(portsOf(backend)).toEqual(['127.0.0.1:3000:3000']);
  });

  test('credentials and the port follow the environment; DATABASE_URL is built from the same values', () => {
    const custom = config(PLAIN, {
      POSTGRES_USER: 'appuser',
      POSTGRES_PASSWORD: 's3cret',
      POSTGRES_DB: 'appdb',
      BACKEND_PORT: '4123',
    });
    expect(envOf(custom.services.postgres!)).toEqual({
      POSTGRES_USER: 'appuser',
      POSTGRES_PASSWORD: 's3cret',
      POSTGRES_DB: 'appdb',
    });
    expect(envOf(custom.services.backend!).DATABASE_URL).toBe('postgres://appuser:s3cret@postgres:5432/appdb');
    expect(portsOf(custom.services.backend!)).toEqual(['127.0.0.1:4123:3000']);
  });
});

describeCompose('docker-compose.container.yml + docker-compose.alembic.yml', () => {
  let cfg: ComposeConfig;
  beforeAll(() => {
    cfg = config(MERGED);
  });

  test('is valid (config -q)', () => {
    expect(compose([...MERGED, 'config', '-q']).status).toBe(0);
  });

  test('adds a one-shot migrate service', () => {
    expect(Object.keys(cfg.services).sort()).toEqual(['backend', 'migrate', 'postgres']);
  });

  test('migrate: the backend image, `migrate` as entrypoint, `auto` by default, after a healthy postgres', () => {
    const migrate = cfg.services.migrate!;
    const backend = cfg.services.backend!;
    expect(migrate.image).toBe(backend.image);
    expect(migrate.build?.dockerfile).toBe('Dockerfile.backend');
    const entrypoint: string[] = Array.isArray(migrate.entrypoint) ? migrate.entrypoint : [migrate.entrypoint];
    expect(entrypoint.at(-1)).toBe('migrate');
    // tini -g: a signal reaches migrate's whole process group.
    expect(entrypoint).toEqual(['/usr/bin/tini', '-g', '--', 'migrate']);
    expect(migrate.command).toEqual(['auto']);
    expect(conditionOf(migrate, 'postgres')).toBe('service_healthy');
    expect(envOf(migrate).DATABASE_URL).toBe(envOf(backend).DATABASE_URL);
    expect(migrate.restart ?? 'no').toBe('no');
    expect(portsOf(migrate)).toEqual([]);
  });

  test('backend: starts after migrate completed successfully and does not migrate itself', () => {
    const backend = cfg.services.backend!;
    expect(conditionOf(backend, 'migrate')).toBe('service_completed_successfully');
    expect(conditionOf(backend, 'postgres')).toBe('service_healthy');
    expect(envOf(backend).RUN_MIGRATIONS).toBe('false');
  });

  test('the rest of the backend is unchanged: healthcheck, port on 127.0.0.1', () => {
    const backend = cfg.services.backend!;
    expect(healthcheckText(backend)).toMatch(/\/healthz/);
    expect(portsOf(backend)).toEqual(['127.0.0.1:3000:3000']);
    expect(healthcheckText(cfg.services.postgres!)).toMatch(/pg_isready/);
  });
});

/** Volumes in short syntax, `source:target` (the access mode dropped). */
function volumesOf(service: Service): string[] {
  return (service.volumes ?? []).map((v: string | Record<string, unknown>) =>
    typeof v === 'string' ? v.replace(/:(rw|ro)$/, '') : `${String(v.source)}:${String(v.target)}`,
  );
}

describeCompose('the migrate service writes into the host\'s migrations folder as the host user', () => {
  test.each([['docker-compose.alembic.yml', MERGED], ['docker-compose.migrations.yml', PROFILED]])('%s', (_file, files) => {
    const migrate = config(files).services.migrate!;
    expect(volumesOf(migrate)).toEqual([`${PROJECT_ROOT}/migrations:/app/migrations`]);
    expect(String(migrate.user)).toBe('1000:1000');
    const custom = config(files, { HOST_UID: '1234', HOST_GID: '5678', MIGRATIONS_HOST_DIR: '/srv/app/migrations' }).services.migrate!;
    expect(String(custom.user)).toBe('1234:5678');
    expect(volumesOf(custom)).toEqual(['/srv/app/migrations:/app/migrations']);
  });
});

describeCompose('docker-compose.container.yml + docker-compose.migrations.yml: migrate on demand, behind a profile', () => {
  let cfg: ComposeConfig;
  beforeAll(() => {
    cfg = config(PROFILED);
  });

  test('is valid (config -q)', () => {
    expect(compose([...PROFILED, 'config', '-q']).status).toBe(0);
  });

  test('migrate is in the migrations profile; postgres and backend in none, so up starts only them', () => {
    expect(cfg.services.migrate!.profiles).toEqual(['migrations']);
    const always = Object.entries(cfg.services).filter(([, s]) => !s.profiles).map(([name]) => name).sort();
    expect(always).toEqual(['backend', 'postgres']);
    expect(compose([...PROFILED, 'config', '--profiles']).stdout.trim()).toBe('migrations');
  });

  test('the backend does not wait for it and still migrates at start', () => {
    const backend = cfg.services.backend!;
    expect(conditionOf(backend, 'migrate')).toBeUndefined();
    expect(envOf(backend).RUN_MIGRATIONS).toBe('true');
  });

  test('it is the migrate service of docker-compose.alembic.yml, profile aside', () => {
    const { profiles, ...onDemand } = cfg.services.migrate!;
    expect(profiles).toEqual(['migrations']);
    expect(onDemand).toEqual(config(MERGED).services.migrate);
  });
});

describe('Dockerfile.backend', () => {
  let text: string;
  let instructions: string[];
  beforeAll(async () => {
    text = await readFile(join(PROJECT_ROOT, 'Dockerfile.backend'), 'utf8');
    // Instructions with continuation lines joined, comments dropped.
    instructions = text
      .replace(/\\\n/g, ' ')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
  });

  test('builds on the official node:20-bookworm-slim image only', () => {
    const froms = instructions.filter((l) => /^FROM\s/i.test(l));
    expect(froms).toHaveLength(2);
    for (const from of froms) expect(from).toMatch(/^FROM node:20-bookworm-slim(\s+AS\s+\w+)?$/i);
  });

  test('tini -g as PID 1 in front of the entrypoint script; the example app as CMD', () => {
    // -g: a `docker stop` during the start-up migration reaches migrate, not just the shell.
    expect(instructions).toContain('ENTRYPOINT ["/usr/bin/tini", "-g", "--", "/app/scripts/docker/backend-entrypoint.sh"]');
    expect(instructions.some((l) => /^CMD \["node", "[^"]*server\.js"\]$/.test(l))).toBe(true);
  });

  test('production dependencies only, a non-root user, migrate on PATH, a healthcheck', () => {
    expect(text).toMatch(/npm ci --omit=dev/);
    const user = instructions.filter((l) => /^USER\s/.test(l)).at(-1);
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^USER\s+(root|0)(:|$)/);
    expect(text).toMatch(/ln -s \/app\/dist\/cli\.js \/usr\/local\/bin\/migrate/);
    expect(instructions.some((l) => /^HEALTHCHECK .*\/healthz/.test(l))).toBe(true);
  });

  test('the project migrations/ folder, manifest dot-file included, is copied to /app/migrations', () => {
    expect(instructions).toContain('COPY migrations ./migrations');
    expect(text).not.toMatch(/example\/migrations/);
  });

  test('nothing specific to a test machine (no CA bundle, no registry settings)', () => {
    expect(text).not.toMatch(/NODE_EXTRA_CA_CERTS|cafile|ca-certificates\.crt|registry\s*=|strict-ssl/i);
  });
});
