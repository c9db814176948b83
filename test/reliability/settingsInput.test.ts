/**
 * Promise: settings that teams really have are read as they mean them, or
 * refused with exit 2 and one line saying what to use (RELIABILITY.md, 9):
 * Kubernetes service-link variables, SQLAlchemy and JDBC URLs, `create`
 * with a file as --dir, and a migration name too long for a file name or
 * node-pg-migrate's varchar(255) history.
 */
import { jest } from '@jest/globals';
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import {
  cleanupTemp,
  envWith,
  expectOneLineError,
  historyNames,
  migrate,
  migrationsDir,
  SECRET,
  SERVER_HOST,
  SERVER_PORT,
  tempDir,
  urlFor,
} from './support.js';

jest.setTimeout(60_000);

let db: TestDatabase;
let dir: string;
beforeAll(async () => {
  db = await createTestDatabase('rel_input');
  dir = await migrationsDir({ '0001_t.sql': '-- Up Migration\nCREATE TABLE t (id int);\n-- Down Migration\nDROP TABLE t;\n' });
});
afterAll(async () => {
  await db.drop();
  await cleanupTemp();
});

/** What Kubernetes puts in every pod for a service named `postgres` (and one named `db`). */
const SERVICE_LINKS = {
  POSTGRES_PORT: 'tcp://10.0.0.1:5432',
  POSTGRES_PORT_5432_TCP: 'tcp://10.0.0.1:5432',
  POSTGRES_PORT_5432_TCP_ADDR: '10.0.0.1',
  POSTGRES_PORT_5432_TCP_PORT: '5432',
  POSTGRES_PORT_5432_TCP_PROTO: 'tcp',
  POSTGRES_SERVICE_HOST: '10.0.0.1',
  POSTGRES_SERVICE_PORT: '5432',
  DB_PORT: 'tcp://10.0.0.2:5432',
  DB_SERVICE_HOST: '10.0.0.2',
  DB_SERVICE_PORT: '5432',
};

describe('Kubernetes service links', () => {
  test.each([
    ['with DATABASE_URL', () => ({ DATABASE_URL: urlFor(db.name) }), 'DATABASE_URL'],
    ["with libpq's PG*", () => ({ PGHOST: SERVER_HOST, PGPORT: String(SERVER_PORT), PGDATABASE: db.name, PGUSER: 'postgres', PGPASSWORD: SECRET }), 'PG*'],
    ['with POSTGRES_HOST and the rest (the port defaults to 5432)', () => ({ POSTGRES_HOST: SERVER_HOST, POSTGRES_DB: db.name, POSTGRES_USER: 'postgres', POSTGRES_PASSWORD: SECRET }), 'POSTGRES_*'],
    ['with DB_HOST and the rest', () => ({ DB_HOST: SERVER_HOST, DB_NAME: db.name, DB_USER: 'postgres', DB_PASSWORD: SECRET }), 'DB_*'],
  ])('%s: the tcp:// port values count as unset', async (_title, settings, source) => {
    const env = envWith({ ...SERVICE_LINKS, ...settings() });
    const info = await migrate(['info', '--json', '--dir', dir], { env });
    expect(info.code).toBe(0);
    expect(JSON.parse(info.stdout)).toMatchObject({ databaseSource: source, database: expect.stringContaining(`:${SERVER_PORT}/${db.name}`) });
    const current = await migrate(['current', '--dir', dir], { env });
    expect([current.code, current.stdout, current.errorLines]).toEqual([0, 'base\n', []]);
  });

  test('alone, they name no database: exit 2 "no database given", not a bad port', async () => {
    const r = await migrate(['current', '--dir', dir], { env: envWith(SERVICE_LINKS) });
    expect(r.code).toBe(2);
    expectOneLineError(r, 'no database given');
  });

  test('a port that is neither a number nor a service link is still exit 2', async () => {
    const r = await migrate(['current', '--dir', dir], { env: envWith({ POSTGRES_HOST: SERVER_HOST, POSTGRES_PORT: 'five' }) });
    expect(r.code).toBe(2);
    expectOneLineError(r, 'the port from POSTGRES_* is not a number');
  });
});

describe('URLs of other drivers', () => {
  test.each([
    ['postgresql+asyncpg', 'a SQLAlchemy URL (postgresql+asyncpg://)'],
    ['postgresql+psycopg2', 'a SQLAlchemy URL (postgresql+psycopg2://)'],
    ['postgresql+psycopg', 'a SQLAlchemy URL (postgresql+psycopg://)'],
    ['jdbc:postgresql', 'a JDBC URL (jdbc:postgresql://)'],
  ])('%s://: exit 2 with the postgresql:// URL to use, password masked', async (scheme, kind) => {
    const url = `${scheme}://postgres:${SECRET}@${SERVER_HOST}:${SERVER_PORT}/${db.name}`;
    for (const how of [{ args: ['--database-url', url], env: {} }, { args: [], env: { DATABASE_URL: url } }]) {
      const r = await migrate(['auto', ...how.args, '--dir', dir], { env: envWith(how.env) });
      expect(r.code).toBe(2);
      expectOneLineError(r, `is ${kind}, which pg does not read (use the postgresql:// form: postgresql://postgres:****@${SERVER_HOST}:${SERVER_PORT}/${db.name})`);
    }
    expect(await historyNames(db)).toEqual([]);
  });
});

describe('create', () => {
  test('--dir naming a file: exit 2, nothing written', async () => {
    const folder = await tempDir();
    const file = join(folder, 'not-a-folder');
    await writeFile(file, 'x');
    for (const target of [file, join(file, 'below')]) {
      const r = await migrate(['create', 'add users', '--dir', target], { env: envWith() });
      expect(r.code).toBe(2);
      expectOneLineError(r, `cannot use ${target} as the migrations folder: it (or a folder above it) is a file`);
    }
    expect((await stat(file)).isFile()).toBe(true);
    expect(await readdir(folder)).toEqual(['not-a-folder']);
  });

  test('a name as long as a file name may be is created and applied; one letter more is exit 2', async () => {
    const folder = await tempDir();
    // 0001_ + name + .sql = 255 bytes, the file systems' limit; the history name (250) fits varchar(255).
    const longest = 'a'.repeat(246);
    const made = await migrate(['create', longest, '--dir', folder], { env: envWith() });
    expect([made.code, made.errorLines]).toEqual([0, []]);
    expect(await readdir(folder)).toEqual([`0001_${longest}.sql`]);
    const tooLong = await migrate(['create', `${longest}b`, '--dir', folder], { env: envWith() });
    expect(tooLong.code).toBe(2);
    expectOneLineError(tooLong, /the migration name is too long: .* would make a file name of 256 bytes \(shorten it to at most 246 letters and digits/);
    expect(await readdir(folder)).toEqual([`0001_${longest}.sql`]);
    const applied = await migrate(['auto', '--database-url', urlFor(db.name), '--dir', folder], { env: envWith() });
    expect([applied.code, applied.errorLines]).toEqual([0, []]);
    expect(await historyNames(db)).toEqual([`0001_${longest}`]);
  });
});
