/**
 * Connecting: one `pg.Client` per role (introspection, lock), retried until
 * the wait timeout for errors that waiting can fix (exit 4), and failing at
 * once for those it cannot (wrong password, unknown database: exit 2).
 */
import pg from 'pg';
import { ConnectionConfigError, DatabaseUnreachableError, describeCause } from './errors.js';
import type { ConnectionTarget } from './settings.js';

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

/** The server's version as a number (150004), from the connection's ParameterStatus: no query, no cast. */
const serverVersions = new WeakMap<object, number>();

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
   * spared the round trip; allowLongIdle does it later if it must wait.
   */
  readonly idlesLong?: boolean;
}

export async function connect(target: ConnectionTarget, options: ConnectOptions): Promise<Client> {
  const deadline = Date.now() + options.waitTimeoutSeconds * 1000;
  for (let attempt = 1; ; attempt++) {
    const client = new pg.Client({
      ...target.config,
      application_name: options.applicationName ?? 'migrate',
      connectionTimeoutMillis: clamp(deadline - Date.now(), 2_000, 10_000),
      // A silent network partition would otherwise leave an idle socket (the
      // lock session, a waiter) open for hours: TCP keepalive notices a dead
      // peer. Data in flight still waits for the kernel's retransmission limit.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    // An idle client whose server goes away emits 'error'; without a listener Node crashes.
    client.on('error', () => undefined);
    recordServerVersion(client);
    try {
      await client.connect();
      await client.query(sessionSetup(client, options.idlesLong ?? true));
      return client;
    } catch (error) {
      await client.end().catch(() => undefined);
      if (!isTransient(error)) {
        throw new ConnectionConfigError(`cannot connect to ${target.display}: ${describeCause(error)}`, {
          cause: error,
          hint: hintFor(error),
        });
      }
      if (Date.now() >= deadline) {
        throw new DatabaseUnreachableError(target.display, options.waitTimeoutSeconds, { cause: error });
      }
      options.onRetry?.(attempt, describeCause(error));
      await sleep(Math.min(1_000, Math.max(0, deadline - Date.now())));
    }
  }
}

/**
 * The lock session idles for a whole batch, the migration session while it
 * waits for the lock: keep a server-wide idle_session_timeout (PostgreSQL
 * 14+) from ending either under us.
 */
export async function allowLongIdle(client: Client): Promise<void> {
  if (serverVersionOf(client) >= 140000) await client.query('SET idle_session_timeout TO 0');
}

/** What every session runs first, in one round trip: the pinned search_path, and idle_session_timeout off if asked. */
function sessionSetup(client: Client, idlesLong: boolean): string {
  const statements = [`SET search_path TO ${RUNNER_SEARCH_PATH}`];
  if (idlesLong && serverVersionOf(client) >= 140000) statements.push('SET idle_session_timeout TO 0');
  return statements.join('; ');
}

/** Pins the runner's search_path again, after migrations ran with theirs. */
export async function pinSearchPath(db: { query(text: string): Promise<unknown> }): Promise<void> {
  await db.query(`SET search_path TO ${RUNNER_SEARCH_PATH}`);
}

/**
 * The search_path migrations run with: the managed schema only, as
 * node-pg-migrate sets it (runner.ts:453), so unqualified names land there.
 */
export async function useMigrationSearchPath(db: { query(text: string): Promise<unknown> }, schema: string): Promise<void> {
  await db.query(`SET search_path TO ${pg.escapeIdentifier(schema)}`);
}

/** server_version_num of the client's server (0 when the server did not report it). */
export function serverVersionOf(client: Client): number {
  return serverVersions.get(client) ?? 0;
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
function recordServerVersion(client: Client): void {
  const connection = (client as unknown as { connection: { on(event: string, listener: (msg: unknown) => void): void } }).connection;
  connection.on('parameterStatus', (msg) => {
    const { parameterName, parameterValue } = msg as { parameterName: string; parameterValue: string };
    if (parameterName === 'server_version') serverVersions.set(client, versionNumberOf(parameterValue));
  });
}

/** '15.4 (Debian 15.4-1)' → 150004; '9.6.24' → 90624; '18beta1' → 180000. */
export function versionNumberOf(version: string): number {
  const [major = 0, minor = 0, patch = 0] = (/^(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(version) ?? []).slice(1).map((n) => Number(n ?? 0));
  return major >= 10 ? major * 10000 + minor : major * 10000 + minor * 100 + patch;
}

/**
 * Whether an error means the connection went away mid-run (reset, closed, the
 * backend terminated) rather than that a statement was wrong.
 */
export function isConnectionLoss(error: unknown): boolean {
  const e = (error ?? {}) as { code?: string; message?: string };
  if (e.code && ['ECONNRESET', 'EPIPE', 'ETIMEDOUT', '57P01', '57P02', '57P03'].includes(e.code)) return true;
  return /Connection terminated|connection error|not queryable|Client was closed/i.test(e.message ?? '');
}

/** What to do after a lost connection, for the error line. */
export const CONNECTION_LOSS_HINT =
  'the server rolls back whatever did not commit; check with `migrate status`, then run again';

/** Waits until the database accepts a connection, then closes it. */
export async function waitForDatabase(target: ConnectionTarget, options: ConnectOptions): Promise<void> {
  const client = await connect(target, options);
  await client.end();
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

function hintFor(error: unknown): string | undefined {
  switch ((error as { code?: string }).code) {
    case '28P01':
    case '28000':
      return 'check the user and password';
    case '3D000':
      return 'create the database first, or check its name';
    default:
      return undefined;
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
