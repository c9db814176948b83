/**
 * Promise: a password is never printed, whatever it is and however it is
 * given, and the runner's own wording stays readable (RELIABILITY.md, 5b).
 *
 * Each password of the table goes through `status`, `auto`, `info` and an
 * exit-4 `auto` (a closed port, whose log and error line name the target), as
 * CLI processes, given in the URL's user part and in one other way (the
 * `password=` parameter, DB_PASSWORD, POSTGRES_PASSWORD, PGPASSWORD, the
 * password file). What each run prints must be exactly what a run with a
 * distinctive password prints, line for line: the password is masked where
 * that one is and nowhere shows, the frame, labels, JSON keys, levels and
 * hints are the same. Where the password is also the user or the database
 * name, those are masked too (else where `****` stands would give it away).
 *
 * A password written into the URL without percent-encoding that libpq would
 * split ('@', '/', '?', a bad '%', a space) is refused, exit 2, "percent-encode
 * the password", and no piece of it is printed.
 */
import { jest } from '@jest/globals';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { addSecret, cleanupTemp, envWith, expectNoLeftovers, migrate, migrationsDir, SERVER_HOST, SERVER_PORT, tempDir, type CliResult } from './support.js';

jest.setTimeout(180_000);

const USER = 'postgres';
const CLOSED_PORT = 1;
/** Stands for "the name of the test's database", which is made per password. */
const DATABASE_NAME = Symbol('the database name');

const PASSWORDS: [string, string | typeof DATABASE_NAME][] = [
  ['distinctive', 'Zq9-distinct-Pw'],
  ['one letter', 'a'],
  ['two letters', 'ab'],
  ['digits', '1234'],
  ['long', `L0ng-${'x7'.repeat(100)}`],
  ["with '@' and '/'", 'p@ss/Word-42'],
  ["with ':'", 'pa:ss:wo:rd'],
  ["with '%'", '100%sure'],
  ["with '%' and hex digits", 'pa%20ss'],
  ["with '#'", 'pa#ss'],
  ["with '?'", 'what?now'],
  ["with '&' and '='", 'a&b=c'],
  ['with spaces', 'pass word here'],
  ['with quotes and a backslash', `q"u'o\\te`],
  ['SQL', `'; DROP TABLE t; --`],
  ['unicode', 'pässwörd-密码-🔑'],
  ['"postgres", also the user name', 'postgres'],
  ['"migrate"', 'migrate'],
  ['"error"', 'error'],
  ['"info"', 'info'],
  ['"secret"', 'secret'],
  ['letters and digits', 'Password1'],
  ['equal to the database name', DATABASE_NAME],
];

type Form = 'password= parameter' | 'DB_PASSWORD' | 'POSTGRES_PASSWORD' | 'PGPASSWORD' | '.pgpass';
const FORMS: Form[] = ['password= parameter', 'DB_PASSWORD', 'POSTGRES_PASSWORD', 'PGPASSWORD', '.pgpass'];

let dir: string;
const databases: TestDatabase[] = [];
beforeAll(async () => {
  dir = await migrationsDir({ '0001_t.sql': '-- Up Migration\nCREATE TABLE t (id int);\n-- Down Migration\nDROP TABLE t;\n' });
});
afterAll(async () => {
  await Promise.all(databases.map((d) => d.drop()));
  await cleanupTemp();
});

/** The URL with the password in its user part, percent-encoded. */
function userinfoUrl(database: string, password: string, port = SERVER_PORT): string {
  return `postgres://${USER}:${encodeURIComponent(password)}@${SERVER_HOST}:${port}/${database}`;
}

async function given(form: Form | 'userinfo', database: string, password: string, port = SERVER_PORT): Promise<{ args: string[]; env: Record<string, string> }> {
  const parts = { HOST: SERVER_HOST, PORT: String(port), USER, PASSWORD: password };
  switch (form) {
    case 'userinfo':
      return { args: ['--database-url', userinfoUrl(database, password, port)], env: {} };
    case 'password= parameter':
      return { args: ['--database-url', `postgres://${USER}@${SERVER_HOST}:${port}/${database}?password=${encodeURIComponent(password)}`], env: {} };
    case 'DB_PASSWORD':
      return { args: [], env: { DB_HOST: parts.HOST, DB_PORT: parts.PORT, DB_NAME: database, DB_USER: USER, DB_PASSWORD: password } };
    case 'POSTGRES_PASSWORD':
      return { args: [], env: { POSTGRES_HOST: parts.HOST, POSTGRES_PORT: parts.PORT, POSTGRES_DB: database, POSTGRES_USER: USER, POSTGRES_PASSWORD: password } };
    case 'PGPASSWORD':
      return { args: [], env: { PGHOST: parts.HOST, PGPORT: parts.PORT, PGDATABASE: database, PGUSER: USER, PGPASSWORD: password } };
    case '.pgpass': {
      const file = join(await tempDir(), 'pgpass');
      const escape = (field: string) => field.replace(/[\\:]/g, '\\$&');
      await writeFile(file, `# the runner's test\n${SERVER_HOST}:${port}:${database}:${USER}:${escape(password)}\n`);
      await chmod(file, 0o600);
      return { args: ['--database-url', `postgres://${USER}@${SERVER_HOST}:${port}/${database}`], env: { PGPASSFILE: file } };
    }
  }
}

interface Outputs {
  readonly runs: string[];
}

/** status (fresh), auto (applies), info, auto against a closed port (exit 4); then the same through `form` (current). */
async function runAll(database: string, password: string, form: Form): Promise<Outputs> {
  const runs: string[] = [];
  const run = async (label: string, command: string[], how: { args: string[]; env: Record<string, string> }, code: number) => {
    // No scratch URL of the test server's: its user (postgres) would be masked where the password is postgres.
    const r = await migrate([...command, ...how.args, '--dir', dir], { env: envWith({ ...how.env, MIGRATE_SCRATCH_URL: undefined }) });
    expect({ label, code: r.code, stderr: r.stderr }).toEqual({ label, code, stderr: expect.any(String) });
    if (code === 4) expect(r.errorLines).toHaveLength(1);
    runs.push(`${label}\n${normalise(r, database)}`);
  };
  for (const [form_, wait] of [['userinfo', '1'], [form, '0']] as const) {
    await run(`${form_} status`, ['status'], await given(form_, database, password), 0);
    await run(`${form_} auto`, ['auto'], await given(form_, database, password), 0);
    await run(`${form_} info`, ['info'], await given(form_, database, password), 0);
    await run(`${form_} info --json`, ['info', '--json'], await given(form_, database, password), 0);
    await run(`${form_} exit 4`, ['auto', '--wait-timeout', wait], await given(form_, database, password, CLOSED_PORT), 4);
  }
  await expectNoLeftovers(database);
  return { runs };
}

/** The output with what differs between any two runs (times, durations, retries, the database name) made the same. */
function normalise(r: CliResult, database: string): string {
  const lines = `${r.stdout}\n--- stderr\n${r.stderr}`
    .replaceAll(database, 'DBNAME')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z/g, 'TIME')
    .replace(/"(durationMs|attempt)":\d+/g, '"$1":N')
    .replace(/\b\d+ ms\b/g, 'N ms')
    .split('\n');
  // A wait of 1 s logs one or two retries.
  return lines.filter((line, i) => lines.indexOf(line) === i || !line.includes('waiting for the database')).join('\n');
}

/** What a run with `password` must print, given what the distinctive password's run printed. */
function expectedOf(baseline: string, password: string | typeof DATABASE_NAME): string {
  if (password === DATABASE_NAME) return baseline.replaceAll('DBNAME', '****');
  if (password === USER) return baseline.replaceAll(`://${USER}:****@`, '://****:****@');
  return baseline;
}

const baselines = new Map<Form, Promise<Outputs>>();
function baselineFor(form: Form): Promise<Outputs> {
  let outputs = baselines.get(form);
  if (!outputs) {
    outputs = createTestDatabase('rel_pw').then((db) => {
      databases.push(db);
      return runAll(db.name, PASSWORDS[0]![1] as string, form);
    });
    baselines.set(form, outputs);
  }
  return outputs;
}

describe.each(PASSWORDS.map(([label, password], i) => [label, password, FORMS[i % FORMS.length]!] as const))(
  'password %s',
  (_label, spec, form) => {
    test(`in the URL and through ${form}: printed nowhere, the runner's words intact`, async () => {
      const db = await createTestDatabase('rel_pw');
      databases.push(db);
      const password = spec === DATABASE_NAME ? db.name : spec;
      // support.ts's own check on every output, for passwords that are not also words the runner prints.
      if (!/^[\p{L}\p{N}_]+$/u.test(password) || password.length >= 12) addSecret(password);
      const baseline = await baselineFor(form);
      const outputs = await runAll(db.name, password, form);
      expect(outputs.runs).toEqual(baseline.runs.map((run) => expectedOf(run, spec)));
    });
  },
);

describe('written into the URL without percent-encoding', () => {
  test.each([
    ['p@ss/Word-42'],
    ['p@ssWord@42'],
    ['pa/ss@Word'],
    ['100%sure'],
    ['pa%zzWord'],
    ['qzx Word vyk'],
    ['what?Word'],
  ])('%s: exit 2, "percent-encode the password", no piece of it printed', async (password) => {
    const url = `postgres://${USER}:${password}@${SERVER_HOST}:${SERVER_PORT}/postgres`;
    for (const command of [['info'], ['status'], ['auto'], ['auto', '--wait-timeout', '1']]) {
      for (const how of [{ args: ['--database-url', url], env: {} }, { args: [], env: { DATABASE_URL: url } }]) {
        const r = await migrate([...command, ...how.args, '--dir', dir], { env: envWith(how.env) });
        expect(r.code).toBe(2);
        expect(r.errorLines).toHaveLength(1);
        expect(r.errorLines[0]).toMatch(/is not a valid URL: .*percent-encode the password/);
        const printed = r.stdout + r.stderr;
        for (let i = 0; i + 5 <= password.length; i++) expect(printed).not.toContain(password.slice(i, i + 5));
        expect(printed).not.toContain('Word');
      }
    }
  });
});
