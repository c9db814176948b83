/**
 * Promise: sslmode means what libpq's documentation says
 * (https://www.postgresql.org/docs/current/libpq-ssl.html#LIBPQ-SSL-PROTECTION),
 * sslrootcert, sslcert and sslkey work as URL parameters and as PGSSL*
 * variables, and nothing but JSON log lines and one error line reaches stderr
 * (RELIABILITY.md, 7).
 *
 * The server is a throwaway cluster with ssl=on and a certificate for
 * `localhost` signed by a test CA. Its pg_hba.conf takes TCP connections only
 * over TLS, except for the role `plainonly` (only without TLS) and the role
 * `certuser` (TLS with a client certificate), so a connection that works
 * proves which kind it was. The shared server (ssl off) stands for a server
 * that offers no TLS.
 */
import { jest } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { makeCertificates, postgresBinaries, startCluster, type Cluster, type TestCertificates } from '../helpers/throwawayCluster.js';
import { cleanupTemp, envWith, expectNoStackTrace, migrate, migrationsDir, SECRET, SERVER_HOST, SERVER_PORT, type CliResult } from './support.js';

jest.setTimeout(120_000);

let certs: TestCertificates;
let cluster: Cluster;
let dir: string;
const available = postgresBinaries() !== null;

beforeAll(async () => {
  if (!available) return;
  certs = await makeCertificates('certuser');
  cluster = await startCluster({
    conf: ["ssl = on", "ssl_cert_file = 'server.crt'", "ssl_key_file = 'server.key'", "ssl_ca_file = 'root.crt'"],
    files: { 'server.crt': readFileSync(certs.serverCert, 'utf8'), 'server.key': readFileSync(certs.serverKey, 'utf8'), 'root.crt': readFileSync(certs.caCert, 'utf8') },
    hba: [
      'local all all trust',
      'hostssl all certuser 127.0.0.1/32 cert',
      'hostssl all plainonly 127.0.0.1/32 reject',
      'hostnossl all plainonly 127.0.0.1/32 trust',
      'hostssl all all 127.0.0.1/32 trust',
    ].join('\n') + '\n',
  });
  await cluster.query('CREATE ROLE certuser LOGIN SUPERUSER; CREATE ROLE plainonly LOGIN SUPERUSER');
  await cluster.query('CREATE DATABASE app');
  dir = await migrationsDir({ '0001_t.sql': '-- Up Migration\nCREATE TABLE t (id int);\n-- Down Migration\nDROP TABLE t;\n' });
});
afterAll(async () => {
  await cluster?.stop();
  if (certs) await rm(certs.dir, { recursive: true, force: true });
  await cleanupTemp();
});

const tlsUrl = (query: string, { host = '127.0.0.1', user = 'postgres' } = {}) =>
  `postgres://${user}:${SECRET}@${host}:${cluster.port}/app?${query}`;
const plainServerUrl = (query: string) => `postgres://postgres:${SECRET}@${SERVER_HOST}:${SERVER_PORT}/postgres?${query}`;

/** `migrate current` (it connects and reads): stderr holds JSON log lines and, on failure, one error line. */
async function current(url: string, env: Record<string, string> = {}): Promise<CliResult> {
  const r = await migrate(['current', '--dir', dir, ...(url ? ['--database-url', url] : [])], { env: envWith(env) });
  expect(r.errorLines).toHaveLength(r.code === 0 ? 0 : 1);
  expectNoStackTrace(r);
  return r;
}

const cases: [string, () => string, number, RegExp | null][] = [
  ['disable: no TLS, so a TLS-only server turns it down', () => tlsUrl('sslmode=disable'), 2, /no encryption.*only over TLS: add sslmode=require/],
  ['allow: plain first, then TLS when the server wants it', () => tlsUrl('sslmode=allow'), 0, null],
  ['prefer: TLS when the server offers it', () => tlsUrl('sslmode=prefer'), 0, null],
  ['prefer: plain when the server offers no TLS', () => plainServerUrl('sslmode=prefer'), 0, null],
  ['prefer: plain when the server turns TLS down for the role', () => tlsUrl('sslmode=prefer', { user: 'plainonly' }), 0, null],
  ['require: encrypts without verifying (the CA is unknown)', () => tlsUrl('sslmode=require'), 0, null],
  ['require: a server without TLS is refused', () => plainServerUrl('sslmode=require'), 2, /does not support SSL.*offers no TLS/],
  ['require with sslrootcert: verifies the chain, as verify-ca', () => tlsUrl(`sslmode=require&sslrootcert=${certs.otherCaCert}`), 2, /certificate was not verified/],
  ['verify-ca: the chain, not the host name', () => tlsUrl(`sslmode=verify-ca&sslrootcert=${certs.caCert}`), 0, null],
  ['verify-ca: another CA is refused', () => tlsUrl(`sslmode=verify-ca&sslrootcert=${certs.otherCaCert}`), 2, /certificate was not verified/],
  ['verify-ca: without a root certificate, refused before connecting', () => tlsUrl('sslmode=verify-ca'), 2, /verify-ca needs the root certificate/],
  ['verify-full: the chain and the host name', () => tlsUrl(`sslmode=verify-full&sslrootcert=${certs.caCert}`, { host: 'localhost' }), 0, null],
  ['verify-full: a host name the certificate does not hold is refused', () => tlsUrl(`sslmode=verify-full&sslrootcert=${certs.caCert}`), 2, /not for this host name/],
  ['verify-full: the system roots do not know the test CA', () => tlsUrl('sslmode=verify-full', { host: 'localhost' }), 2, /certificate was not verified/],
  ['sslcert and sslkey: a client certificate', () => tlsUrl(`sslmode=verify-full&sslrootcert=${certs.caCert}&sslcert=${certs.clientCert}&sslkey=${certs.clientKey}`, { host: 'localhost', user: 'certuser' }), 0, null],
  ['no client certificate where the server wants one', () => tlsUrl('sslmode=require', { user: 'certuser' }), 2, /certificate/],
  ['an sslrootcert that cannot be read', () => tlsUrl('sslmode=verify-full&sslrootcert=/no/such/root.crt'), 2, /root certificate file \/no\/such\/root\.crt \(sslrootcert\) cannot be read: ENOENT/],
  ['an unknown sslmode', () => tlsUrl('sslmode=always'), 2, /sslmode "always" is not one of/],
];

(available ? test.each(cases) : test.skip.each(cases))('%s', async (_title, url, code, message) => {
  const r = await current(url());
  expect({ code: r.code, error: r.errorLines[0] ?? null }).toEqual({ code, error: message ? expect.stringMatching(message) : null });
});

(available ? test : test.skip)('PGSSLMODE, PGSSLROOTCERT, PGSSLCERT and PGSSLKEY are read, for DB_* too', async () => {
  const env = { PGSSLMODE: 'verify-full', PGSSLROOTCERT: certs.caCert, PGSSLCERT: certs.clientCert, PGSSLKEY: certs.clientKey };
  expect((await current(`postgres://certuser@localhost:${cluster.port}/app`, env)).code).toBe(0);
  const parts = { DB_HOST: 'localhost', DB_PORT: String(cluster.port), DB_NAME: 'app', DB_USER: 'certuser' };
  expect((await current('', { ...env, ...parts })).code).toBe(0);
  expect((await current('', { ...parts, PGSSLMODE: 'verify-full', PGSSLROOTCERT: certs.otherCaCert })).errorLines[0]).toMatch(/certificate was not verified/);
});

(available ? test : test.skip)('a run over TLS logs JSON lines only; the migration applies', async () => {
  const r = await migrate(['auto', '--database-url', tlsUrl('sslmode=require'), '--dir', dir], { env: envWith() });
  expect(r.code).toBe(0);
  expect(r.errorLines).toEqual([]);
  expect(r.logs.map((l) => l.message)).toContain('done: current at 0001_t');
  const [row] = await cluster.query<{ n: number }>(`SELECT count(*)::int AS n FROM pgmigrations`, 'app');
  expect(row?.n).toBe(1);
});
