/**
 * Promise: a password never appears in any output (RELIABILITY.md, promise 5).
 * Every CLI run of this suite already fails on a secret in its stdout or
 * stderr (support.ts `migrate`); these cases go looking for one: each way a
 * password can be given, every command that prints the target, errors that
 * quote the URL, a server that echoes the password back, debug logs.
 */
import { jest } from '@jest/globals';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startPasswordRejectingServer } from '../helpers/tcpProxy.js';
import {
  addSecret,
  cleanupTemp,
  counters,
  envWith,
  expectNoLeftovers,
  migrate,
  migrationsDir,
  SECRET,
  SERVER_HOST,
  SERVER_PORT,
  urlFor,
} from './support.js';

jest.setTimeout(60_000);

/** A password with every character a URL encodes, plus the plain distinctive one. */
const ODD = 'p@ss:w/rd?#%S3cr3t-odd';
addSecret(ODD);

let db: TestDatabase;
let dir: string;
beforeAll(async () => {
  db = await createTestDatabase('rel_secret');
  dir = await migrationsDir({
    '0001_t.sql': '-- Up Migration\nCREATE TABLE t (id int);\n-- Down Migration\nDROP TABLE t;\n',
    '0002_fails.js': `export const up = (pgm) => { pgm.sql('SELECT 1/0'); };\n`,
  });
});
afterAll(async () => {
  process.stdout.write(`secrets: ${JSON.stringify(counters)}\n`);
  await db.drop();
  await cleanupTemp();
});

const COMMANDS = [
  ['info'], ['info', '--json'], ['status'], ['status', '--json'], ['current'], ['pending'], ['history', '--json'],
  ['check'], ['sql'], ['up', '0001_t', '--json'], ['auto', '--json'], ['auto', '--log-level', 'debug'],
  ['down', '--json'], ['stamp', 'base', '--json'], ['wait', '--timeout', '2'],
];

describe.each([
  ['--database-url', () => ({ args: ['--database-url', urlFor(db.name)], env: {} })],
  ['--database-url with an odd password', () => ({ args: ['--database-url', urlFor(db.name, { password: ODD })], env: {} })],
  ['DATABASE_URL', () => ({ args: [], env: { DATABASE_URL: urlFor(db.name) } })],
  ['DB_*', () => ({ args: [], env: { DB_HOST: SERVER_HOST, DB_PORT: String(SERVER_PORT), DB_NAME: db.name, DB_USER: 'postgres', DB_PASSWORD: SECRET } })],
  ['POSTGRES_*', () => ({ args: [], env: { POSTGRES_HOST: SERVER_HOST, POSTGRES_PORT: String(SERVER_PORT), POSTGRES_DB: db.name, POSTGRES_USER: 'postgres', POSTGRES_PASSWORD: ODD } })],
  ['PG*', () => ({ args: [], env: { PGHOST: SERVER_HOST, PGPORT: String(SERVER_PORT), PGDATABASE: db.name, PGUSER: 'postgres', PGPASSWORD: SECRET } })],
])('password through %s', (_label, given) => {
  test('no command prints it, in success or failure', async () => {
    for (const command of COMMANDS) {
      const { args, env } = given();
      const r = await migrate([...command, ...args, '--dir', dir], { env: envWith(env) });
      expect(r.signal).toBeNull();
    }
    expect((await migrate(['stamp', 'base', '--database-url', urlFor(db.name), '--dir', dir])).code).toBe(0);
    await db.query('DROP TABLE IF EXISTS t');
    await expectNoLeftovers(db.name);
  });

  test('connection errors that name the target do not print it', async () => {
    const { args, env } = given();
    const wrongDb = args.length
      ? ['--database-url', args[1]!.replace(`/${db.name}`, '/no_such_db')]
      : [];
    const wrongEnv = Object.fromEntries(Object.entries(env as Record<string, string>).map(([k, v]) => [k, k.endsWith('DB') || k.endsWith('NAME') || k === 'PGDATABASE' ? 'no_such_db' : k === 'DATABASE_URL' ? v.replace(`/${db.name}`, '/no_such_db') : v]));
    const r = await migrate(['auto', ...wrongDb, '--dir', dir], { env: envWith(wrongEnv) });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no_such_db');
  });
});

test('a URL typed where a command goes is masked in the usage error', async () => {
  const r = await migrate([urlFor(db.name)]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('****');
});

test('a URL in an unknown option is masked', async () => {
  const r = await migrate([`--database-uri=${urlFor(db.name)}`, 'status']);
  expect(r.code).toBe(2);
});

test('a config file with the URL: info masks it, errors too', async () => {
  const cfgDir = await migrationsDir({ 'migrate.config.json': JSON.stringify({ databaseUrl: urlFor('no_such_db'), dir }) });
  const info = await migrate(['info', '--json'], { cwd: cfgDir });
  expect(info.code).toBe(0);
  expect(info.stdout).toContain('****');
  const auto = await migrate(['auto'], { cwd: cfgDir });
  expect(auto.code).toBe(2);
});

test('a server whose error message echoes the connection string back: masked', async () => {
  const url = urlFor('anydb', { host: '127.0.0.1', port: 1, password: ODD });
  const fake = await startPasswordRejectingServer(`password authentication failed for ${url.replace(':1/', ':5432/')} (password "${ODD}")`);
  try {
    const target = urlFor('anydb', { host: '127.0.0.1', port: fake.port, password: ODD });
    for (const command of [['auto'], ['status', '--json'], ['wait', '--timeout', '2'], ['auto', '--log-level', 'debug']]) {
      const r = await migrate([...command, '--database-url', target, '--dir', dir]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('password authentication failed');
    }
    expect(fake.passwords).toContain(ODD);
  } finally {
    await fake.close();
  }
});
