/**
 * A throwaway PostgreSQL cluster from the machine's own binaries
 * (/usr/lib/postgresql/<major>/bin, or PG_BIN), for tests that need a server
 * configured otherwise than the shared one: TLS, a hot standby. It runs as
 * `nobody` (PostgreSQL refuses root) in a temporary folder chowned to it,
 * and changes nothing else on the machine.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { appendFile, chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './tcpProxy.js';

export function postgresBinaries(): string | null {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const majors = readdirSync(root).filter((d) => existsSync(join(root, d, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return majors[0] ? join(root, majors[0], 'bin') : null;
}

export interface ClusterOptions {
  /** Lines appended to postgresql.conf. */
  readonly conf?: readonly string[];
  /** pg_hba.conf's whole text (default: trust for local and 127.0.0.1). */
  readonly hba?: string;
  /** Files written into the data folder first (certificates, keys), owned by the server. */
  readonly files?: Readonly<Record<string, string>>;
  /** Make the data folder a streaming standby of this cluster (pg_basebackup -R), instead of initdb. */
  readonly standbyOf?: Cluster;
}

export interface Cluster {
  readonly port: number;
  /** The folder holding the Unix socket. */
  readonly socketDir: string;
  readonly dataDir: string;
  /** One statement on `database` as postgres, over the socket. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, database?: string): Promise<R[]>;
  stop(): Promise<void>;
}

const DEFAULT_HBA = 'local all all trust\nhost all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n';

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const bin = postgresBinaries();
  if (!bin) throw new Error('no PostgreSQL binaries (set PG_BIN)');
  const uid = Number(execFileSync('id', ['-u', 'nobody']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'nobody']).toString().trim());
  const root = await mkdtemp(join(tmpdir(), 'pg-throwaway-'));
  await chown(root, uid, gid);
  const dataDir = join(root, 'data');
  const asServer = { uid, gid, env: { PATH: process.env.PATH, LC_ALL: 'C.UTF-8', HOME: root } };
  try {
    if (options.standbyOf) {
      execFileSync(join(bin, 'pg_basebackup'), ['-h', '127.0.0.1', '-p', String(options.standbyOf.port), '-U', 'postgres', '-D', dataDir, '-R', '-X', 'stream', '--checkpoint=fast'], { ...asServer, stdio: 'pipe' });
    } else {
      execFileSync(join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync'], { ...asServer, stdio: 'pipe' });
    }
    for (const [name, content] of Object.entries(options.files ?? {})) {
      const path = join(dataDir, name);
      await writeFile(path, content);
      await chown(path, uid, gid);
      await chmod(path, 0o600);
    }
    await writeFile(join(dataDir, 'pg_hba.conf'), options.hba ?? DEFAULT_HBA);
    if (options.conf?.length) await appendFile(join(dataDir, 'postgresql.conf'), `\n${options.conf.join('\n')}\n`);
  } catch (error) {
    await rm(root, { recursive: true, force: true });
    throw error;
  }

  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const server = spawn(join(bin, 'postgres'), ['-D', dataDir, '-p', String(port), '-k', root, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'], {
      ...asServer,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const started = await readyOrFailed(server);
    if (started === 'ready') return clusterOf(server, port, root, dataDir);
    server.kill('SIGKILL');
    if (attempt >= 3 || !/could not bind|already in use/.test(started)) {
      await rm(root, { recursive: true, force: true });
      throw new Error(`the throwaway cluster did not start: ${started}`);
    }
  }
}

function readyOrFailed(server: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    let log = '';
    const timer = setTimeout(() => resolve(`no "ready" within 30 s: ${log}`), 30_000);
    server.stderr!.on('data', (d: Buffer) => {
      log += d.toString();
      if (/ready to accept (read-only )?connections/.test(log)) {
        clearTimeout(timer);
        resolve('ready');
      }
    });
    server.on('exit', () => {
      clearTimeout(timer);
      resolve(log);
    });
  });
}

function clusterOf(server: ChildProcess, port: number, socketDir: string, dataDir: string): Cluster {
  return {
    port,
    socketDir,
    dataDir,
    async query(text, database = 'postgres') {
      const client = new pg.Client({ host: socketDir, port, user: 'postgres', database });
      await client.connect();
      try {
        return (await client.query(text)).rows;
      } finally {
        await client.end();
      }
    },
    async stop() {
      if (server.exitCode === null) {
        const exited = new Promise((resolve) => server.once('exit', resolve));
        server.kill('SIGINT');
        const timer = setTimeout(() => server.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      await rm(socketDir, { recursive: true, force: true });
    },
  };
}

/** A CA, a server certificate for `localhost` (not for 127.0.0.1), a client certificate for `clientUser`, and a second, unrelated CA. */
export interface TestCertificates {
  readonly dir: string;
  readonly caCert: string;
  readonly otherCaCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

export async function makeCertificates(clientUser: string): Promise<TestCertificates> {
  const dir = await mkdtemp(join(tmpdir(), 'pg-certs-'));
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl('req', '-x509', ...key, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=throwaway test CA');
  ssl('req', '-x509', ...key, '-keyout', 'other-ca.key', '-out', 'other-ca.crt', '-days', '2', '-subj', '/CN=unrelated CA');
  await writeFile(join(dir, 'server.ext'), 'subjectAltName=DNS:localhost\n');
  ssl('req', ...key, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'server.ext');
  ssl('req', ...key, '-keyout', 'client.key', '-out', 'client.csr', '-subj', `/CN=${clientUser}`);
  ssl('x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.crt', '-days', '2');
  await chmod(join(dir, 'client.key'), 0o600);
  const path = (name: string) => join(dir, name);
  return {
    dir,
    caCert: path('ca.crt'),
    otherCaCert: path('other-ca.crt'),
    serverCert: path('server.crt'),
    serverKey: path('server.key'),
    clientCert: path('client.crt'),
    clientKey: path('client.key'),
  };
}
