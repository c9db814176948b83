/**
 * Connecting: one `pg.Client` per role (introspection, lock), retried until
 * the wait timeout for errors that waiting can fix (exit 4), and failing at
 * once for those it cannot (wrong password, unknown database: exit 2).
 */
import pg from 'pg';
import {
  ConnectionConfigError,
  DatabaseUnreachableError,
  describeCause,
  RunnerError,
  ServerReadOnlyError,
  TooManyConnectionsError,
} from '../core/errors.js';
import { wording } from '../config/redact.js';
import type { ConnectionTarget } from '../config/settings.js';

export type Client = pg.Client;

/**
 * The search_path of the runner's own statements: nothing outside pg_catalog
 * can be picked for a function, operator or type they name, whatever a
 * migration or a schema owner created (PostgreSQL's CVE-2018-1058 advice:
 * https://wiki.postgresql.org/wiki/A_Guide_to_CVE-2018-1058%3A_Protect_Your_Search_Path).
 * Every connection is pinned to it at connect; migrations run with the managed
 * schema instead (useMigrationSearchPath), as node-pg-migrate runs them, and
 * the runner pins it again before its own statements (pinSearchPath).
 */
export const RUNNER_SEARCH_PATH = 'pg_catalog, pg_temp';

/**
 * What the server reported in ParameterStatus messages (server_version,
 * in_hot_standby, default_transaction_read_only, …), kept up to date: no query, no cast.
 */
const serverParameters = new WeakMap<object, Map<string, string>>();
/** The target each client was connected to, as printed. */
const displays = new WeakMap<object, string>();

/** too_many_connections: max_connections, or a role's or database's CONNECTION LIMIT. */
const TOO_MANY_CONNECTIONS = '53300';
/** SQLSTATEs that mean "not now" rather than "never" (server starting, shutting down, too many clients). */
const TRANSIENT_SQLSTATES = new Set(['57P03', '57P01', '57P02', '53300', '08006', '08001', '08004']);
/** Node socket errors that a server coming up (or a DNS name appearing in compose) resolves. */
const TRANSIENT_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);

export interface ConnectOptions {
  readonly waitTimeoutSeconds: number;
  readonly applicationName?: string;
  /** Called before each retry, so the CLI can say that it waits. */
  readonly onRetry?: (attempt: number, reason: string) => void;
  /**
   * Whether the session may sit idle for long (the lock session through a
   * batch): then a server-wide idle_session_timeout is turned off for it at
   * once. Default true. A session that only reads, as a no-op start does, is
   * spared the round trip; prepareToWrite does it later if it must wait.
   */
  readonly idlesLong?: boolean;
  /**
   * Gives up: the attempt under way is ended, no other is made, and connect
   * rejects with the signal's reason (readWhileConnecting, when a migration
   * file cannot be read while the server is still being waited for).
   */
  readonly signal?: AbortSignal;
}

export async function connect(target: ConnectionTarget, options: ConnectOptions): Promise<Client> {
  const deadline = Date.now() + options.waitTimeoutSeconds * 1000;
  for (let attempt = 1; ; attempt++) {
    options.signal?.throwIfAborted();
    let error: unknown;
    try {
      return await connectOnce(target, target.config.ssl, deadline, options);
    } catch (first) {
      error = first;
    }
    options.signal?.throwIfAborted();
    // sslmode=prefer or allow: the other kind of connection, when the server turned this one down for it.
    if (target.sslFallback !== undefined && isEncryptionRefusal(error)) {
      try {
        return await connectOnce(target, target.sslFallback, deadline, options);
      } catch (second) {
        error = second;
      }
    }
    if (error instanceof RunnerError) throw error;
    if (!isTransient(error)) {
      throw new ConnectionConfigError(wording`cannot connect to ${target.display}: ${describeCause(error)}`, {
        cause: error,
        hint: hintFor(error),
      });
    }
    if (Date.now() >= deadline) {
      if ((error as { code?: string }).code === TOO_MANY_CONNECTIONS) {
        throw new TooManyConnectionsError(target.display, options.waitTimeoutSeconds, { cause: error });
      }
      throw new DatabaseUnreachableError(target.display, options.waitTimeoutSeconds, { cause: error });
    }
    options.onRetry?.(attempt, describeCause(error));
    await sleep(Math.min(1_000, Math.max(0, deadline - Date.now())), options.signal);
  }
}

async function connectOnce(target: ConnectionTarget, ssl: pg.ClientConfig['ssl'], deadline: number, options: ConnectOptions): Promise<Client> {
  const client = new RunnerClient({
    ...target.config,
    ssl,
    application_name: options.applicationName ?? 'migrate',
    connectionTimeoutMillis: clamp(deadline - Date.now(), 2_000, 10_000),
    // A silent network partition would otherwise leave an idle socket (the
    // lock session, a waiter) open for hours: TCP keepalive notices a dead
    // peer. Data in flight still waits for the kernel's retransmission limit.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  });
  // An idle client whose server goes away emits 'error'; without a listener Node crashes.
  // A FATAL sent while no statement ran is the server's reason for ending the session: kept.
  client.on('error', (error: unknown) => {
    const severity = (error as { severity?: string }).severity;
    if (severity === 'FATAL' || severity === 'PANIC') client.endedBy ??= error as Error;
  });
  recordServerParameters(client);
  displays.set(client, target.display);
  const giveUp = () => void client.end().catch(() => undefined);
  options.signal?.addEventListener('abort', giveUp, { once: true });
  try {
    await client.connect();
    await client.query(sessionSetup(client, options.idlesLong ?? true));
    options.signal?.throwIfAborted();
    return client;
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  } finally {
    options.signal?.removeEventListener('abort', giveUp);
  }
}

/**
 * pg.Client, except that once the server has ended the session with a reason
 * (a FATAL error while no statement ran: idle_in_transaction_session_timeout,
 * pg_terminate_backend), later statements fail with that reason rather than
 * pg's "Client has encountered a connection error and is not queryable".
 */
class RunnerClient extends pg.Client {
  endedBy: Error | null = null;
  override query(...args: any[]): any {
    const promised = typeof args.at(-1) !== 'function' && typeof (args[0] as { submit?: unknown })?.submit !== 'function';
    if (this.endedBy && promised) return Promise.reject(this.endedBy);
    return (super.query as (...a: unknown[]) => unknown).apply(this, args);
  }
}

/**
 * Called by every command that writes, right before it takes the lock: a
 * read-only server is refused here, once, before anything is tried (exit 3),
 * rather than blamed on the first migration; and a server-wide
 * idle_session_timeout (PostgreSQL 14+) is kept from ending the session while
 * it waits for the lock or idles through a batch. On 14+ the server reports
 * in_hot_standby and default_transaction_read_only at connect (ParameterStatus),
 * so the check costs nothing; before 14 it is one query.
 */
export async function prepareToWrite(client: Client): Promise<void> {
  if (serverVersionOf(client) >= 140000) {
    const reported = serverParameters.get(client);
    refuseReadOnly(client, reported?.get('in_hot_standby') === 'on', reported?.get('default_transaction_read_only') === 'on');
    await client.query('SET idle_session_timeout TO 0');
    return;
  }
  const { rows } = await client.query<{ standby: boolean; read_only: string }>(
    `SELECT pg_catalog.pg_is_in_recovery() AS standby, pg_catalog.current_setting('default_transaction_read_only') AS read_only`,
  );
  refuseReadOnly(client, rows[0]?.standby === true, rows[0]?.read_only === 'on');
}

function refuseReadOnly(client: Client, hotStandby: boolean, readOnlyDefault: boolean): void {
  const target = displays.get(client) ?? 'the database';
  if (hotStandby) throw new ServerReadOnlyError(target, 'hot-standby');
  if (readOnlyDefault) throw new ServerReadOnlyError(target, 'default_transaction_read_only');
}

/**
 * What every session runs first, in one round trip: the pinned search_path;
 * statement_timeout off, since a database's or role's statement_timeout would
 * otherwise cancel the runner's own waits for the lock and its reads
 * (migrations get the server's value back: useMigrationSearchPath); and
 * idle_session_timeout off if asked.
 */
function sessionSetup(client: Client, idlesLong: boolean): string {
  const statements = [`SET search_path TO ${RUNNER_SEARCH_PATH}`, RUNNER_STATEMENT_TIMEOUT];
  if (idlesLong && serverVersionOf(client) >= 140000) statements.push('SET idle_session_timeout TO 0');
  return statements.join('; ');
}

/** The runner's own statements are never cancelled by a statement_timeout from the server, role or database. */
const RUNNER_STATEMENT_TIMEOUT = 'SET statement_timeout TO 0';

/**
 * Pins the runner's search_path (and its statement_timeout) again, after
 * migrations ran with theirs; `then`: one more statement of the runner's own
 * (no values), in the same round trip.
 */
export async function pinSearchPath(db: { query(text: string): Promise<unknown> }, then?: 'RESET ROLE'): Promise<void> {
  await db.query(pinSearchPathSql(then));
}

/** What pinSearchPath sends, for a caller that sends it in a round trip it makes anyway. */
export function pinSearchPathSql(then?: 'RESET ROLE'): string {
  return `SET search_path TO ${RUNNER_SEARCH_PATH}; ${RUNNER_STATEMENT_TIMEOUT}${then === undefined ? '' : `; ${then}`}`;
}

/**
 * The session migrations run with: the managed schema only as search_path, as
 * node-pg-migrate sets it (runner.ts:453), so unqualified names land there; and
 * the statement_timeout the server, role, database or connection options give
 * (RESET goes back to it), as plain node-pg-migrate would run them.
 */
export async function useMigrationSearchPath(db: { query(text: string): Promise<unknown> }, schema: string): Promise<void> {
  await db.query(migrationSearchPathSql(schema));
}

/** What useMigrationSearchPath sends, for a caller that sends it in a round trip it makes anyway. */
export function migrationSearchPathSql(schema: string): string {
  return `SET search_path TO ${pg.escapeIdentifier(schema)}; RESET statement_timeout`;
}

/** server_version_num of the client's server (0 when the server did not report it). */
export function serverVersionOf(client: Client): number {
  const version = serverParameters.get(client)?.get('server_version');
  return version === undefined ? 0 : versionNumberOf(version);
}

/** The major version (15, 18) of the client's server. */
export function serverMajorOf(client: Client): number {
  return Math.floor(serverVersionOf(client) / 10000);
}

/**
 * The server reports server_version in a ParameterStatus message at startup
 * (https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-ASYNC):
 * read it there, so no statement of ours casts text to a number, which a
 * user-defined cast from text to integer could take over.
 */
function recordServerParameters(client: Client): void {
  const reported = new Map<string, string>();
  serverParameters.set(client, reported);
  const connection = (client as unknown as { connection: { on(event: string, listener: (msg: unknown) => void): void } }).connection;
  connection.on('parameterStatus', (msg) => {
    const { parameterName, parameterValue } = msg as { parameterName: string; parameterValue: string };
    reported.set(parameterName, parameterValue);
  });
}

/**
 * Whether the session reads a backslash in a '…' string as an escape
 * (standard_conforming_strings off): the server reports the setting at
 * startup and whenever it changes (it is one of the reported parameters,
 * https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-ASYNC),
 * so what a migration's SET did is known after its round trip, however it was
 * written. Undefined for a client not connected here (a caller's own):
 * changes are followed from now on, but the value at connect was not seen.
 */
export function reportedEscapeStrings(db: unknown): boolean | undefined {
  let reported = serverParameters.get(db as object);
  if (!reported) {
    const connection = (db as { connection?: { on?: unknown } } | null)?.connection;
    if (typeof connection?.on !== 'function') return undefined;
    recordServerParameters(db as Client);
    reported = serverParameters.get(db as object)!;
  }
  const value = reported.get('standard_conforming_strings');
  return value === undefined ? undefined : value !== 'on';
}

/** standard_conforming_strings is off, as the session says: for a client whose report was not seen (reportedEscapeStrings). */
export async function askEscapeStrings(db: { query<R>(text: string): Promise<{ rows: R[] }> }): Promise<boolean> {
  const { rows } = await db.query<{ off: boolean }>(`SELECT pg_catalog.current_setting('standard_conforming_strings') OPERATOR(pg_catalog.<>) 'on' AS off`);
  return rows[0]?.off === true;
}

/** '15.4 (Debian 15.4-1)' → 150004; '9.6.24' → 90624; '18beta1' → 180000. */
export function versionNumberOf(version: string): number {
  const [major = 0, minor = 0, patch = 0] = (/^(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(version) ?? []).slice(1).map((n) => Number(n ?? 0));
  return major >= 10 ? major * 10000 + minor : major * 10000 + minor * 100 + patch;
}

/**
 * Runs `work` on a connection that `open` makes (connect, connectFor), and
 * closes it whatever happened: no caller writes its own try/finally, and none
 * can leave a connection open on a failure.
 */
export async function withClient<T>(open: () => Promise<Client>, work: (client: Client) => Promise<T>): Promise<T> {
  const client = await open();
  try {
    return await work(client);
  } finally {
    await closeQuietly(client);
  }
}

/** Waits until the database accepts a connection, then closes it. */
export async function waitForDatabase(target: ConnectionTarget, options: ConnectOptions): Promise<void> {
  await withClient(() => connect(target, options), async () => undefined);
}

export async function closeQuietly(client: Client | null | undefined): Promise<void> {
  await client?.end().catch(() => undefined);
}

function isTransient(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  if (e.code && (TRANSIENT_SQLSTATES.has(e.code) || TRANSIENT_ERRNOS.has(e.code))) return true;
  // pg reports a connect timeout and a socket closed during startup without a code.
  return /timeout|terminated unexpectedly|Connection terminated/i.test(e.message ?? '');
}

/** TLS failures that a root certificate (sslrootcert) or another sslmode settles. */
const CERTIFICATE_ERRORS = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_UNTRUSTED',
]);

/** The server turned the connection down for its encryption: what sslmode=prefer and allow try the other way. */
function isEncryptionRefusal(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  return /does not support SSL connections/.test(e.message ?? '') || e.code === '28000';
}

function hintFor(error: unknown): string | undefined {
  const { code, message = '' } = error as { code?: string; message?: string };
  if (code === '28000' && /no encryption/.test(message)) {
    return wording`the server's pg_hba.conf takes this connection only over TLS: add sslmode=require (or verify-full) to the URL, or set PGSSLMODE`;
  }
  if (code === '28000' && /SSL encryption/.test(message)) {
    return wording`the server's pg_hba.conf takes this connection only without TLS: use sslmode=prefer or disable`;
  }
  if (/does not support SSL connections/.test(message)) {
    return wording`the server offers no TLS: use sslmode=prefer (TLS where offered) or disable, or turn ssl on in the server`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return wording`the server's certificate is not for this host name (sslmode=verify-full): connect by a name it holds, or use sslmode=verify-ca to check the chain only`;
  }
  if (code && CERTIFICATE_ERRORS.has(code)) {
    return wording`the server's certificate was not verified: give the root certificate that signed it with sslrootcert, or use sslmode=require without one to encrypt without verifying`;
  }
  if (code === '28000' && /certificate/.test(message)) {
    return wording`give the client certificate and its key with sslcert and sslkey (or PGSSLCERT and PGSSLKEY)`;
  }
  switch (code) {
    case '28P01':
    case '28000':
      return wording`check the user and password`;
    case '3D000':
      return wording`create the database first, or check its name`;
    default:
      return undefined;
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

/** Resolves after `ms`; rejects with the signal's reason as soon as it is aborted. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const stop = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', stop);
      resolve();
    }, ms);
    signal?.addEventListener('abort', stop, { once: true });
  });
}
