/**
 * Connection URIs read as libpq reads them (pure). The expectations for the
 * accepted URIs are what psql 15 does with the same string (`psql URI`: the
 * host it tries, the role and database it names); the refused ones are
 * those libpq would read as another host or database than meant, or refuses itself.
 */
import { displayUri, foreignSpelling, percentDecode, readConnectionUri } from '../../src/config/connectionString.js';

const accepted: [string, Record<string, string>][] = [
  ['postgres://app:secret@db:5432/app', { user: 'app', password: 'secret', host: 'db', port: '5432', dbname: 'app' }],
  ['postgresql://db/app', { host: 'db', dbname: 'app' }],
  ['postgres://', {}],
  ['postgres:///app', { dbname: 'app' }],
  ['postgres://app@db', { user: 'app', host: 'db' }],
  ['postgres://app:@db/x', { user: 'app', host: 'db', dbname: 'x' }],
  // The password runs from the first ':' to the '@': further colons are part of it.
  ['postgres://app:a:b:c@db/x', { user: 'app', password: 'a:b:c', host: 'db', dbname: 'x' }],
  ['postgres://app:p%40ss%2FWord-42@db/x', { user: 'app', password: 'p@ss/Word-42', host: 'db', dbname: 'x' }],
  ['postgres://app:p%25%3F%23%20x@db/x', { user: 'app', password: 'p%?# x', host: 'db', dbname: 'x' }],
  // libpq takes '#' literally (no fragments in its URIs).
  ['postgres://app:pa#ss@db/x', { user: 'app', password: 'pa#ss', host: 'db', dbname: 'x' }],
  ['postgres://app:%C3%A9t%C3%A9@db/x', { user: 'app', password: 'été', host: 'db', dbname: 'x' }],
  ['postgres://app:été@db/x', { user: 'app', password: 'été', host: 'db', dbname: 'x' }],
  ['postgres://[::1]:5433/x', { host: '::1', port: '5433', dbname: 'x' }],
  ['postgres://%2Fvar%2Frun%2Fpostgresql/x', { host: '/var/run/postgresql', dbname: 'x' }],
  ['postgres:///x?host=/var/run/postgresql', { host: '/var/run/postgresql', dbname: 'x' }],
  ['postgres://db/x?user=bob&password=a%26b&sslmode=require', { host: 'db', dbname: 'x', user: 'bob', password: 'a&b', sslmode: 'require' }],
  // After the path, an '@' is not ambiguous: libpq reads it as part of the value.
  ['postgres://db/x?password=p@ss', { host: 'db', dbname: 'x', password: 'p@ss' }],
  ['postgres://db/x?requiressl=1', { host: 'db', dbname: 'x', sslmode: 'require' }],
  ['postgres://db/x?application_name=my%20app', { host: 'db', dbname: 'x', application_name: 'my app' }],
  ['postgres://db/a/b', { host: 'db', dbname: 'a/b' }],
];

test.each(accepted)('%s is read as libpq reads it', (uri, keywords) => {
  expect(readConnectionUri(uri)).toEqual({ ok: true, keywords });
});

const refused: [string, RegExp][] = [
  // psql: could not translate host name "ss": the password cut at its '@'.
  ['postgres://app:p@ss/Word-42@host/db', /'@' that is not percent-encoded/],
  ['postgres://app:p@ss@host/db', /'@' that is not percent-encoded/],
  ['postgres://app:pa/ss@host/db', /'@' that is not percent-encoded/],
  // psql: invalid percent-encoded token (and psql prints the password).
  ['postgres://app:p%zz@host/db', /'%' not followed by two hex digits in the password/],
  ['postgres://app:p%4@host/db', /'%' not followed by two hex digits in the password/],
  ['postgres://app:100%@host/db', /'%' not followed by two hex digits in the password/],
  ['postgres://app:a%00b@host/db', /forbidden %00 in the password/],
  ['postgres://app:a b@host/db', /space that is not percent-encoded in the password/],
  ['postgres://app:%FF@host/db', /not UTF-8 in the password/],
  ['postgres://app:pa?ss@host/db', /'\?' that is not percent-encoded/],
  ['postgres://host?password=a@b', /'\?' that is not percent-encoded/],
  ['postgres://u:p@:::bad', /port is not a number/],
  ['postgres://db:0/x', /port is not a number/],
  ['postgres://db:99999/x', /port is not a number/],
  ['postgres://db/x?port=abc', /port is not a number/],
  ['postgres://h1,h2/x', /several hosts/],
  ['postgres://[::1/x', /no closing/],
  ['postgres://db/x?sslmode', /key=value/],
  ['postgres://db/x?a=b=c', /key=value/],
  ['postgres://db/x?password=%zz', /in the value of a password parameter/],
  ['mysql://db/x', /does not start with postgres/],
];

test.each(refused)('%s is refused, naming the part but none of its text', (uri, problem) => {
  const reading = readConnectionUri(uri);
  expect(reading.ok).toBe(false);
  if (reading.ok) return;
  expect(reading.problem).toMatch(problem);
  const userinfo = /^[^:]+:\/\/[^:@/]*:([^?]*)@/.exec(uri)?.[1];
  for (const piece of [userinfo, 'Word-42', 'ss', 'p%zz', 'zz', 'a b'].filter(Boolean)) {
    expect(`${reading.problem} ${reading.hint}`).not.toContain(`${piece}@`);
  }
  expect(`${reading.problem} ${reading.hint}`).not.toContain('Word');
});

test.each([
  ['%41', 'A'],
  ['%e2%82%ac', '€'],
  ['  padded  ', 'padded'],
])('percentDecode(%j)', (raw, decoded) => {
  expect(percentDecode(raw)).toBe(decoded);
});

test.each([
  ['postgresql+asyncpg://app:secret@db:5432/app', 'a SQLAlchemy URL (postgresql+asyncpg://)', 'postgresql://app:secret@db:5432/app'],
  ['postgresql+psycopg2://db/app', 'a SQLAlchemy URL (postgresql+psycopg2://)', 'postgresql://db/app'],
  ['postgresql+psycopg://db/app', 'a SQLAlchemy URL (postgresql+psycopg://)', 'postgresql://db/app'],
  ['postgres+asyncpg://db/app', 'a SQLAlchemy URL (postgres+asyncpg://)', 'postgresql://db/app'],
  ['jdbc:postgresql://db/app', 'a JDBC URL (jdbc:postgresql://)', 'postgresql://db/app'],
])('%s is a foreign spelling', (url, kind, uri) => {
  expect(foreignSpelling(url)).toEqual({ kind, uri });
});

test('postgres:// itself is not a foreign spelling', () => {
  expect(foreignSpelling('postgres://db/app')).toBeNull();
  expect(foreignSpelling('postgresql://db/app')).toBeNull();
});

test.each([
  [{ host: 'db', port: 5432, dbname: 'app', user: 'app', hasPassword: true }, 'postgres://app:****@db:5432/app'],
  [{ host: 'db', port: 5432, dbname: 'app', hasPassword: false }, 'postgres://db:5432/app'],
  [{ host: '::1', port: 5432, dbname: 'a b', user: 'u@x', hasPassword: false }, 'postgres://u%40x@[::1]:5432/a%20b'],
  [{ host: 'db', port: 5432, dbname: 'x', hasPassword: true, params: { password: 'p', sslpassword: 'q', sslmode: 'require' } }, 'postgres://:****@db:5432/x?sslmode=require'],
])('displayUri(%j)', (parts, display) => {
  expect(displayUri(parts)).toBe(display);
});
