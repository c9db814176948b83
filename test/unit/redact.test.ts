/**
 * redact (pure, table-driven): the password part of any connection string is
 * masked, a registered password is masked wherever it is printed, and the
 * runner's own wording stays readable whatever the password is.
 */
import { redact, registerSecret, wording } from '../../src/config/redact.js';

describe('structurally, with no password registered', () => {
  test.each([
    ['postgres://app:secret@db/x', 'postgres://app:****@db/x'],
    ['see postgresql://app:p@ss/Word-42@db/x now', 'see postgresql://app:****@db/x now'],
    ['postgresql+asyncpg://app:s3@db/x', 'postgresql+asyncpg://app:****@db/x'],
    ['"postgres://u:x@h/d"', '"postgres://u:****@h/d"'],
    ['postgres://db:5432/x', 'postgres://db:5432/x'],
    ['postgres://db/x?sslmode=require&password=xyz&user=u', 'postgres://db/x?sslmode=require&password=****&user=u'],
    ["host=db password='a b' dbname=x", 'host=db password=**** dbname=x'],
    ['{"password":"x\\"y","user":"u"}', '{"password":"****","user":"u"}'],
    ['sslpassword=k3y', 'sslpassword=****'],
  ])('%s', (text, masked) => {
    expect(redact(text)).toBe(masked);
  });
});

describe('by value', () => {
  // The runner's lines, as main.ts, the logger and `info` write them.
  const hint = wording`check that the server is up and the host and port are right, or raise --wait-timeout`;
  const errorLine = (target: string) =>
    `migrate: error: ${wording`database ${target} did not accept connections within ${0}s`}: connect ECONNREFUSED 127.0.0.1:1 (${hint})`;
  const logLine = (message: string) => JSON.stringify({ level: 'error', message, timestamp: '2026-01-02T03:04:05.678Z' });

  const cases: [string, string][] = [
    ['error', 'the server said: password "error" is wrong'],
    ['migrate', 'the server said: password "migrate" is wrong'],
    ['postgres', 'the server said: password "postgres" is wrong'],
    ['the', 'the server said: password "the" is wrong'],
    ['check', 'the server said: password "check" is wrong'],
    ['ab', 'the server said: password "ab" is wrong'],
    ['1', 'the server said: password "1" is wrong'],
    ['p@ss/Word-42', 'the server said: password "p@ss/Word-42" is wrong'],
    ['pa ss wörd', 'the server said: password "pa ss wörd" is wrong'],
    ['q"uote\\back', 'the server said: password "q"uote\\back" is wrong'],
    ['S3cr3t-pw-XYZ', 'echo S3cr3t-pw-XYZ, then %53 and xS3cr3t-pw-XYZx'],
  ];

  test.each(cases)('password %j: masked where echoed, the runner\'s wording intact', (password, echo) => {
    registerSecret(password);
    const line = redact(errorLine('postgres://app:****@127.0.0.1:1/db'));
    expect(line).toContain('migrate: error: database');
    expect(line).toContain(`(${hint})`);
    expect(line).toContain('did not accept connections within 0s');
    const log = redact(logLine(echo));
    expect(JSON.parse(log)).toMatchObject({ level: 'error', timestamp: '2026-01-02T03:04:05.678Z' });
    const message = (JSON.parse(log) as { message: string }).message;
    expect(message).not.toContain(`"${password}"`);
    if (password === 'S3cr3t-pw-XYZ') expect(message).toBe('echo ****, then %53 and x****x');
    expect(redact(echo)).not.toContain(`"${password}"`);
    // In JSON, the escaped form is what is printed.
    expect(redact(JSON.stringify({ message: echo }))).not.toContain(JSON.stringify(password).slice(1, -1));
    expect(redact(encodeURIComponent(password))).toBe('****');
  });

  test('a short password of letters is not masked inside longer words', () => {
    registerSecret('ab');
    expect(redact('table tab ab')).toBe('table tab ****');
  });

  test('a user name equal to the password is masked too, so that where **** stands says nothing more', () => {
    registerSecret('appuser');
    expect(redact('postgres://appuser:****@db:5432/appuser')).toBe('postgres://****:****@db:5432/****');
  });

  test('labels of text output stay', () => {
    registerSecret('database');
    expect(redact('database:       postgres://u:****@h:5432/database')).toBe('database:       postgres://u:****@h:5432/****');
  });
});
