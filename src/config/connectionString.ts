/**
 * Connection URIs, read as libpq reads them: `postgresql://[userspec@][hostspec][/dbname][?paramspec]`
 * (https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING-URIS, and
 * conninfo_uri_parse_options in postgres/src/interfaces/libpq/fe-connect.c). The user part ends at the
 * FIRST '@' that comes before any '/'; the password is everything from the first ':' in it to that '@';
 * every part is percent-decoded on its own, a '%' not followed by two hex digits, `%00` and a space
 * inside a part are errors.
 *
 * pg-connection-string reads them as WHATWG URLs instead, which end the user part at the LAST '@'
 * before the path, so the same string names another host there than in psql. Pure: no fs, no pg.
 *
 * Beyond libpq, a URI is refused where libpq would take part of a password for the host or the
 * database name: an '@' that is not percent-encoded after the user part. Problems name the part
 * (never its text: it may be a password).
 */

/** libpq's keywords (host, port, dbname, user, password, sslmode, …) with their decoded values. */
export type ConninfoKeywords = Readonly<Record<string, string>>;

export type UriReading =
  | { readonly ok: true; readonly keywords: ConninfoKeywords }
  | { readonly ok: false; readonly problem: string; readonly hint: string };

export const PERCENT_ENCODE_HINT =
  'percent-encode the password and any other part: % as %25, @ as %40, / as %2F, : as %3A, ? as %3F, # as %23, a space as %20';

const SCHEMES = ['postgresql://', 'postgres://'] as const;

export function isConnectionUri(text: string): boolean {
  return SCHEMES.some((scheme) => text.startsWith(scheme));
}

/** Reads a `postgres://` or `postgresql://` URI as libpq does; never quotes any part of it in a problem. */
export function readConnectionUri(uri: string): UriReading {
  const scheme = SCHEMES.find((s) => uri.startsWith(s));
  if (!scheme) return refuse('it does not start with postgres:// or postgresql://');
  const text = uri.slice(scheme.length);
  const keywords: Record<string, string> = {};
  const store = (keyword: string, raw: string, part: string): string | null => {
    const value = percentDecode(raw);
    if (typeof value !== 'string') return `${value.problem} in the ${part}`;
    if (value !== '') keywords[keyword] = value;
    return null;
  };

  let p = 0;
  const userEnd = firstOf(text, '@/', 0);
  if (text[userEnd] === '@') {
    const userinfo = text.slice(0, userEnd);
    // libpq keeps a '?' there as part of the password; read as the start of the query (as a WHATWG
    // URL does), part of it would be printed as a parameter. Either way it must be encoded to be sure.
    if (userinfo.includes('?')) return refuse("it has a '?' that is not percent-encoded in the user name or password", PERCENT_ENCODE_HINT);
    const colon = userinfo.indexOf(':');
    const problem =
      store('user', colon < 0 ? userinfo : userinfo.slice(0, colon), 'user name') ??
      (colon < 0 ? null : store('password', userinfo.slice(colon + 1), 'password'));
    if (problem) return refuse(problem, PERCENT_ENCODE_HINT);
    p = userEnd + 1;
  }

  // libpq would read what follows an unencoded '@' as host or database name: a password cut in two.
  const queryAt = text.indexOf('?', p);
  if (text.slice(p, queryAt < 0 ? undefined : queryAt).includes('@')) {
    return refuse("it has an '@' that is not percent-encoded after the user name and password", PERCENT_ENCODE_HINT);
  }

  let host: string;
  if (text[p] === '[') {
    const close = text.indexOf(']', p);
    if (close < 0) return refuse("an IPv6 host has no closing ']'");
    host = text.slice(p + 1, close);
    if (!host) return refuse('the IPv6 host is empty');
    p = close + 1;
    if (p < text.length && !':/?,'.includes(text[p]!)) return refuse("an IPv6 host is followed by something other than ':', '/' or '?'");
  } else {
    const end = firstOf(text, ':/?,', p);
    host = text.slice(p, end);
    p = end;
  }
  const hostProblem = store('host', host, 'host');
  if (hostProblem) return refuse(hostProblem, PERCENT_ENCODE_HINT);
  if (text[p] === ':') {
    const end = firstOf(text, '/?,', p + 1);
    const port = text.slice(p + 1, end);
    p = end;
    const portProblem = store('port', port, 'port');
    if (portProblem) return refuse(portProblem, PERCENT_ENCODE_HINT);
    if (keywords.port !== undefined && !isPort(keywords.port)) return refuse('the port is not a number from 1 to 65535');
  }
  if (text[p] === ',') {
    return refuse('it names several hosts, which pg (the driver the runner uses) cannot try in turn', 'give one host');
  }
  if (text[p] === '/') {
    const end = firstOf(text, '?', p + 1);
    const dbProblem = store('dbname', text.slice(p + 1, end), 'database name');
    if (dbProblem) return refuse(dbProblem, PERCENT_ENCODE_HINT);
    p = end;
  }
  if (text[p] === '?') {
    for (const param of text.slice(p + 1).split('&')) {
      if (param === '') continue;
      const eq = param.indexOf('=');
      if (eq < 0 || param.indexOf('=', eq + 1) >= 0) return refuse("a query parameter is not of the form key=value (one '=')", PERCENT_ENCODE_HINT);
      const keyword = percentDecode(param.slice(0, eq));
      if (typeof keyword !== 'string') return refuse(`${keyword.problem} in a query parameter name`, PERCENT_ENCODE_HINT);
      const problem = storeParam(keywords, keyword, param.slice(eq + 1));
      if (problem) return refuse(problem, PERCENT_ENCODE_HINT);
    }
  }
  if (keywords.port !== undefined && !isPort(keywords.port)) return refuse('the port is not a number from 1 to 65535');
  return { ok: true, keywords };
}

/** A query parameter: libpq's JDBC spelling `ssl=true` means sslmode=require, its old `requiressl=1` too. */
function storeParam(keywords: Record<string, string>, keyword: string, raw: string): string | null {
  const value = percentDecode(raw);
  if (typeof value !== 'string') return `${value.problem} in the value of ${keyword === 'password' || keyword === 'sslpassword' ? 'a password parameter' : `parameter ${JSON.stringify(keyword)}`}`;
  if (keyword === 'dbname' || keyword === 'host' || keyword === 'port' || keyword === 'user' || keyword === 'password') {
    keywords[keyword] = value;
  } else if (keyword === 'requiressl') {
    keywords.sslmode = value.startsWith('1') ? 'require' : 'prefer';
  } else {
    keywords[keyword] = value;
  }
  return null;
}

/** libpq's conninfo_uri_decode: %XX (hex, either case), no %00, surrounding spaces dropped, none inside. */
export function percentDecode(raw: string): string | { problem: string } {
  const trimmed = raw.replace(/^ +| +$/g, '');
  if (trimmed.includes(' ')) return { problem: 'a space that is not percent-encoded' };
  const bytes: number[] = [];
  const encoder = new TextEncoder();
  for (let i = 0; i < trimmed.length; ) {
    if (trimmed[i] === '%') {
      const hex = trimmed.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) return { problem: "a '%' not followed by two hex digits" };
      const byte = parseInt(hex, 16);
      if (byte === 0) return { problem: 'a forbidden %00' };
      bytes.push(byte);
      i += 3;
    } else {
      const codePoint = trimmed.codePointAt(i)!;
      const char = String.fromCodePoint(codePoint);
      bytes.push(...encoder.encode(char));
      i += char.length;
    }
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
  } catch {
    return { problem: 'percent-encoded bytes that are not UTF-8' };
  }
}

/** The keywords as a URI to print: the password, and any parameter that holds one, as `****`. */
export function displayUri(parts: {
  readonly host: string;
  readonly port: string | number;
  readonly dbname: string;
  readonly user?: string | undefined;
  readonly hasPassword: boolean;
  readonly params?: Readonly<Record<string, string>>;
}): string {
  const user = parts.user ? encodeURIComponent(parts.user) : '';
  const userinfo = user || parts.hasPassword ? `${user}${parts.hasPassword ? ':****' : ''}@` : '';
  const host = parts.host.includes(':') && !parts.host.startsWith('/') ? `[${parts.host}]` : encodeURIComponent(parts.host);
  const query = Object.entries(parts.params ?? {})
    .filter(([key]) => !SECRET_PARAMS.has(key))
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`)
    .join('&');
  return `postgres://${userinfo}${host}:${parts.port}/${encodeURIComponent(parts.dbname)}${query ? `?${query}` : ''}`;
}

/** Parameters that hold a secret: never printed. */
export const SECRET_PARAMS: ReadonlySet<string> = new Set(['password', 'sslpassword']);

/** A driver's URL spelling that libpq does not read (SQLAlchemy's `postgresql+asyncpg://`, JDBC's `jdbc:postgresql://`). */
export function foreignSpelling(url: string): { readonly kind: string; readonly uri: string } | null {
  const sqlalchemy = /^(postgres(?:ql)?)\+([A-Za-z0-9_]+):\/\//.exec(url);
  if (sqlalchemy) return { kind: `a SQLAlchemy URL (${sqlalchemy[1]}+${sqlalchemy[2]}://)`, uri: `postgresql://${url.slice(sqlalchemy[0].length)}` };
  if (/^jdbc:postgresql:\/\//i.test(url)) return { kind: 'a JDBC URL (jdbc:postgresql://)', uri: url.slice('jdbc:'.length) };
  return null;
}

function refuse(problem: string, hint = 'use postgres://user:password@host:5432/database'): UriReading {
  return { ok: false, problem, hint };
}

function firstOf(text: string, chars: string, from: number): number {
  for (let i = from; i < text.length; i++) if (chars.includes(text[i]!)) return i;
  return text.length;
}

function isPort(value: string): boolean {
  return /^\d{1,5}$/.test(value) && Number(value) >= 1 && Number(value) <= 65535;
}
