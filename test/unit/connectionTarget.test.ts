/**
 * The printed target never holds the password, structurally: before any
 * redaction, for every way of giving one and every kind of password. And
 * the settings pg gets carry it as given.
 */
import { mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readConnectionUri } from '../../src/config/connectionString.js';
import { resolveConnection } from '../../src/config/settings.js';

const PASSWORDS = [
  'a', 'ab', '1234', 'p@ss/Word-42', 'pa:ss', '100%sure', 'pa%20ss', 'pa#ss', 'what?now', 'a&b=c', 'pass word',
  `q"u'o\\te`, 'pässwörd-密码', 'postgres', 'migrate', 'error', 'app', 'appdb', 'localhost', '5432', `x${'y'.repeat(300)}`,
];

let home: string;
beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'target-'));
});
afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

const forms: [string, (password: string) => Promise<{ flag?: string; env: Record<string, string> }>][] = [
  ['the URL user part', async (p) => ({ flag: `postgres://app:${encodeURIComponent(p)}@localhost:5432/appdb`, env: {} })],
  ['a password= parameter', async (p) => ({ flag: `postgres://app@localhost:5432/appdb?sslmode=disable&password=${encodeURIComponent(p)}`, env: {} })],
  ['DB_PASSWORD', async (p) => ({ env: { DB_HOST: 'localhost', DB_NAME: 'appdb', DB_USER: 'app', DB_PASSWORD: p } })],
  ['POSTGRES_PASSWORD', async (p) => ({ env: { POSTGRES_HOST: 'localhost', POSTGRES_DB: 'appdb', POSTGRES_USER: 'app', POSTGRES_PASSWORD: p } })],
  ['PGPASSWORD', async (p) => ({ env: { PGHOST: 'localhost', PGDATABASE: 'appdb', PGUSER: 'app', PGPASSWORD: p } })],
  ['PGPASSWORD beside a URL without one', async (p) => ({ flag: 'postgres://app@localhost:5432/appdb', env: { PGPASSWORD: p } })],
  ['the password file', async (p) => {
    const file = join(home, `pgpass-${Math.random()}`);
    await writeFile(file, `localhost:5432:appdb:app:${p.replace(/[\\:]/g, '\\$&')}\n`);
    await chmod(file, 0o600);
    return { flag: 'postgres://app@localhost:5432/appdb', env: { PGPASSFILE: file } };
  }],
];

describe.each(forms)('through %s', (_form, given) => {
  test.each(PASSWORDS)('%j: pg gets it, the display has only ****', async (password) => {
    const { flag, env } = await given(password);
    const target = resolveConnection(flag, { HOME: home, ...env }, undefined)!;
    expect(target.config.password).toBe(password);
    const shown = target.display.replace(/^postgres:\/\/app:\*\*\*\*@localhost:5432\/appdb/, '');
    expect(target.display).toMatch(/^postgres:\/\/app:\*\*\*\*@localhost:5432\/appdb/);
    // All that follows is the sslmode the URL gave, if any.
    expect(shown).toBe(flag?.includes('sslmode=disable') ? '?sslmode=disable' : '');
  });
});

test('a password file that group or others may read is ignored, as libpq ignores it, and the reason is the hint', async () => {
  const file = join(home, 'pgpass-open');
  await writeFile(file, 'localhost:5432:appdb:app:s3cret-file\n');
  await chmod(file, 0o644);
  const target = resolveConnection('postgres://app@localhost:5432/appdb', { HOME: home, PGPASSFILE: file }, undefined)!;
  expect(target.display).toBe('postgres://app@localhost:5432/appdb');
  const password = target.config.password as () => Promise<string>;
  await expect(password()).rejects.toMatchObject({ hint: expect.stringMatching(/was ignored: group or others may read it/) });
});

test('the password file: the first matching line wins; * matches anything; escapes are read', async () => {
  const file = join(home, 'pgpass-lines');
  await writeFile(file, ['# comment', 'other:5432:*:app:no', 'localhost:*:*:app:fi\\:rst', 'localhost:5432:appdb:app:second', ''].join('\n'));
  await chmod(file, 0o600);
  const target = resolveConnection('postgres://app@localhost/appdb', { HOME: home, PGPASSFILE: file }, undefined)!;
  expect(target.config.password).toBe('fi:rst');
});

test('a refused URL leaves nothing of it in the problem', () => {
  const reading = readConnectionUri('postgres://app:p@ss/Word-42@host/db');
  expect(reading.ok).toBe(false);
  expect(JSON.stringify(reading)).not.toMatch(/Word|ss\/|p@/);
});
