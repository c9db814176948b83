/**
 * libpq keywords (from a URI, DB_*, POSTGRES_* or PG*) → what pg connects with,
 * as libpq would: missing parts from libpq's PG* variables, the password from
 * PGPASSWORD or the password file, TLS from sslmode, sslrootcert, sslcert and
 * sslkey (https://www.postgresql.org/docs/current/libpq-ssl.html), and a
 * display string that never holds a password. README "Settings" and "TLS".
 */
import { readFileSync, statSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import type { ClientConfig } from 'pg';
import { displayUri, type ConninfoKeywords } from './connectionString.js';
import { ConfigError, ConnectionConfigError } from '../core/errors.js';
import { registerSecret, wording } from './redact.js';

export interface ConnectionTarget {
  readonly config: ClientConfig;
  /** The target with the password masked, safe to print. */
  readonly display: string;
  /** Where it came from: `--database-url`, `DATABASE_URL`, `DB_*`, … */
  readonly source: string;
  /**
   * sslmode=prefer (or allow): the `ssl` of a second try, made when the server
   * turns the first down for its encryption (no TLS offered, or pg_hba.conf
   * wants the other kind). Absent for every other mode.
   */
  readonly sslFallback?: ClientConfig['ssl'];
}

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** Keywords the runner turns into pg settings itself; any other is handed to pg as given. */
const HANDLED = new Set(['host', 'port', 'dbname', 'user', 'password', 'ssl', 'sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'sslpassword', 'uselibpqcompat']);

export function buildConnectionTarget(keywords: ConninfoKeywords, source: string, env: NodeJS.ProcessEnv): ConnectionTarget {
  const envOf = (name: string): string | undefined => env[name] || undefined;
  const host = keywords.host ?? envOf('PGHOST') ?? 'localhost';
  const portText = keywords.port ?? envOf('PGPORT') ?? '5432';
  if (!/^\d{1,5}$/.test(portText)) throw new ConfigError(wording`the port from ${keywords.port ? source : 'PGPORT'} is not a number`, source);
  const user = keywords.user ?? envOf('PGUSER') ?? envOf('USER') ?? osUser();
  const database = keywords.dbname ?? envOf('PGDATABASE') ?? user;
  const home = envOf('HOME') ?? homedir();

  const given = keywords.password ?? envOf('PGPASSWORD');
  const fromFile = given === undefined ? passwordFromFile(env, home, { host, port: portText, database, user }) : null;
  const password = given ?? fromFile?.password;
  if (password !== undefined) registerSecret(password);
  if (keywords.sslpassword) registerSecret(keywords.sslpassword);

  const params: Record<string, string> = {};
  for (const [key, value] of Object.entries(keywords)) if (!HANDLED.has(key)) params[key] = value;
  const tls = tlsOf(keywords, env, home, source);
  const display = displayUri({
    host,
    port: portText,
    dbname: database,
    user,
    hasPassword: password !== undefined,
    params: { ...(tls.mode && { sslmode: tls.mode }), ...params },
  });
  const config: ClientConfig = {
    ...params,
    host,
    port: Number(portText),
    user,
    database,
    // Without one, pg would read the password file itself (the pgpass package), which prints its
    // warnings on stderr as lines of their own: say instead, as libpq does, that none was given.
    password: password ?? (async () => {
      throw new ConnectionConfigError(wording`cannot connect to ${display}: the server asks for a password and none was given`, {
        hint: fromFile?.note ?? wording`give it in the URL, DB_PASSWORD, POSTGRES_PASSWORD, PGPASSWORD or the password file (~/.pgpass, PGPASSFILE)`,
      });
    }),
    ssl: tls.ssl,
  };
  return { config, display, source, ...(tls.fallback !== undefined && { sslFallback: tls.fallback }) };
}

interface Tls {
  /** The sslmode as given (or implied), for the display; null when none was. */
  readonly mode: SslMode | null;
  readonly ssl: false | ConnectionOptions;
  readonly fallback?: false | ConnectionOptions;
}

/**
 * libpq's sslmode table (libpq-ssl.html, "SSL Mode Descriptions"): disable,
 * allow (plain, then TLS), prefer (TLS, then plain), require (TLS, not
 * verified; verified against the root certificate when there is one, as
 * verify-ca), verify-ca (the chain), verify-full (the chain and the host name).
 *
 * Where libpq and pg differ, the choice is written in README "TLS": with no
 * sslmode and no TLS file the runner asks for no TLS (pg's default; libpq's is
 * prefer); `ssl=true` keeps pg's meaning, verify-full; verify-full without a
 * root certificate verifies against the system's roots, as pg does (libpq wants
 * sslrootcert=system for that).
 */
function tlsOf(keywords: ConninfoKeywords, env: NodeJS.ProcessEnv, home: string, source: string): Tls {
  const envOf = (name: string): string | undefined => env[name] || undefined;
  const rootcert = keywords.sslrootcert ?? envOf('PGSSLROOTCERT');
  const certFile = keywords.sslcert ?? envOf('PGSSLCERT');
  const keyFile = keywords.sslkey ?? envOf('PGSSLKEY');
  const flag = keywords.ssl === undefined ? undefined : ({ true: 'verify-full', 1: 'verify-full', false: 'disable', 0: 'disable' } as Record<string, string>)[keywords.ssl];
  if (keywords.ssl !== undefined && flag === undefined) {
    throw new ConfigError(wording`ssl=${keywords.ssl} is neither true nor false`, source, { hint: wording`use sslmode=${SSL_MODES.join('|')}` });
  }
  let given = keywords.sslmode ?? flag ?? envOf('PGSSLMODE');
  if (given === 'no-verify') given = 'require'; // pg's own spelling of "encrypt, do not verify"
  if (given === undefined && (rootcert ?? certFile ?? keyFile) !== undefined) given = 'prefer';
  if (given === undefined) return { mode: null, ssl: false };
  if (!(SSL_MODES as readonly string[]).includes(given)) {
    throw new ConfigError(wording`sslmode ${JSON.stringify(given)} is not one of ${SSL_MODES.join(', ')}`, source);
  }
  let mode = given as SslMode;
  if (mode === 'disable') return { mode, ssl: false };

  const system = rootcert === 'system';
  if (system && keywords.sslmode === undefined && envOf('PGSSLMODE') === undefined) mode = 'verify-full';
  if (system && mode !== 'verify-full') {
    throw new ConfigError(wording`sslrootcert=system needs sslmode=verify-full (the system's roots vouch for any name they signed), not ${mode}`, source);
  }
  const read = (what: string, keyword: string, path: string): string => {
    try {
      return readFileSync(path, 'utf8');
    } catch (error) {
      throw new ConfigError(wording`the ${what} file ${path} (${keyword}) cannot be read: ${(error as NodeJS.ErrnoException).code ?? 'error'}`, source, {
        hint: wording`check the path, or leave ${keyword} out`,
      });
    }
  };
  // libpq's defaults, read only when they exist: ~/.postgresql/root.crt, postgresql.crt, postgresql.key.
  const defaultFile = (name: string) => {
    const path = join(home, '.postgresql', name);
    return exists(path) ? path : undefined;
  };
  const rootPath = system ? undefined : (rootcert ?? defaultFile('root.crt'));
  const certPath = certFile ?? defaultFile('postgresql.crt');
  const keyPath = keyFile ?? (certPath ? defaultFile('postgresql.key') : undefined);
  if (certPath && !keyPath) throw new ConfigError(wording`a client certificate (sslcert) was given without its key (sslkey)`, source);
  const files: ConnectionOptions = {
    ...(rootPath && { ca: read('root certificate', 'sslrootcert', rootPath) }),
    ...(certPath && { cert: read('client certificate', 'sslcert', certPath) }),
    ...(keyPath && { key: read('client key', 'sslkey', keyPath) }),
    ...(keywords.sslpassword && { passphrase: keywords.sslpassword }),
  };
  if (mode === 'verify-ca' && !rootPath) {
    throw new ConfigError(wording`sslmode=verify-ca needs the root certificate that signed the server's: none was given`, source, {
      hint: wording`set sslrootcert (or PGSSLROOTCERT), or put it at ~/.postgresql/root.crt`,
    });
  }
  const unverified: ConnectionOptions = { ...files, rejectUnauthorized: false };
  // The chain, not the name: Node checks the name in checkServerIdentity.
  const chainOnly: ConnectionOptions = { ...files, rejectUnauthorized: true, checkServerIdentity: () => undefined };
  const opportunistic = rootPath ? chainOnly : unverified;
  switch (mode) {
    case 'allow':
      return { mode, ssl: false, fallback: opportunistic };
    case 'prefer':
      return { mode, ssl: opportunistic, fallback: false };
    case 'require':
      return { mode, ssl: opportunistic };
    case 'verify-ca':
      return { mode, ssl: chainOnly };
    case 'verify-full':
      return { mode, ssl: { ...files, rejectUnauthorized: true } };
  }
}

interface PasswordFromFile {
  readonly password?: string;
  /** Why the file was not used, when it exists but cannot be. */
  readonly note?: string;
}

/**
 * libpq's password file (https://www.postgresql.org/docs/current/libpq-pgpass.html):
 * PGPASSFILE or ~/.pgpass, lines of hostname:port:database:username:password
 * (`*` matches anything, `\` escapes ':' and '\'), the first match wins; a file
 * that group or others may read is ignored, as libpq ignores it.
 */
export function passwordFromFile(
  env: NodeJS.ProcessEnv,
  home: string,
  target: { readonly host: string; readonly port: string; readonly database: string; readonly user: string },
): PasswordFromFile {
  const file = env.PGPASSFILE || join(home, '.pgpass');
  let text: string;
  try {
    const stats = statSync(file);
    if (!stats.isFile()) return { note: wording`the password file ${file} is not a plain file, so it was not read` };
    if (process.platform !== 'win32' && (stats.mode & 0o077) !== 0) {
      return { note: wording`the password file ${file} was ignored: group or others may read it (chmod 0600 it, as libpq wants)` };
    }
    text = readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  // A host given as a socket folder counts as localhost, as in libpq.
  const host = target.host.startsWith('/') ? 'localhost' : target.host;
  for (const line of text.split(/\r?\n/)) {
    if (!line || line.startsWith('#')) continue;
    const fields = splitPasswordLine(line);
    if (fields.length < 5) continue;
    const [h, p, d, u, password] = fields as [string, string, string, string, string];
    const matches = (field: string, value: string) => field === '*' || field === value;
    if (matches(h, host) && matches(p, target.port) && matches(d, target.database) && matches(u, target.user)) {
      registerSecret(password);
      return { password };
    }
  }
  return {};
}

function splitPasswordLine(line: string): string[] {
  const fields: string[] = [];
  let current = '';
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!;
    if (char === '\\' && i + 1 < line.length) current += line[++i];
    else if (char === ':' && fields.length < 4) {
      fields.push(current);
      current = '';
    } else current += char;
  }
  fields.push(current);
  return fields;
}

function exists(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'postgres';
  }
}
