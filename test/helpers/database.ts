/**
 * One database per test file (or per test), created on the test server and
 * dropped afterwards. Tests talk to real PostgreSQL, never to a mock.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The test server globalSetup.mjs chose (TEST_DATABASE_URL, the local server, Docker, or an embedded cluster). */
export function serverUrl(): string {
  const url = process.env.TEST_SERVER_URL ?? process.env.TEST_DATABASE_URL;
  if (!url) throw new Error('no test server: run the tests through jest, whose globalSetup chooses one (test/helpers/globalSetup.mjs)');
  return url;
}

/** The URL of `database` on the test server. */
export function databaseUrl(database: string): string {
  const url = new URL(serverUrl());
  url.pathname = `/${database}`;
  return url.toString();
}

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  /** Runs one query on a short-lived connection to this database. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params?: unknown[]): Promise<R[]>;
  drop(): Promise<void>;
}

async function withServerClient<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(prefix = 't'): Promise<TestDatabase> {
  const name = `${prefix.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${randomBytes(5).toString('hex')}`;
  await withServerClient((c) => c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`));
  const url = databaseUrl(name);
  return {
    name,
    url,
    async query(text, params) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        return (await client.query(text, params)).rows;
      } finally {
        await client.end();
      }
    },
    async drop() {
      await withServerClient((c) => c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`));
    },
  };
}
