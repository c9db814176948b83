/**
 * Which statement of a round trip failed (src/db/roundTrips.ts sendRoundTrip)
 * is counted from the CommandComplete messages pg hands the query. pg does
 * that through no documented interface: where it stops, no statement is
 * named, rather than the first one.
 */
import pg from 'pg';
import { sendRoundTrip, RoundTripError } from '../../src/db/roundTrips.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('statement_count');
});
afterAll(async () => {
  await db.drop();
});

const PARTS = [
  { statements: ['CREATE TEMP TABLE a (id int);'] },
  { statements: ['CREATE TEMP TABLE b (id int);', 'INSERT INTO b VALUES (1);', 'SELECT 1/0;', 'CREATE TEMP TABLE c (id int);'] },
];

async function failure(client: pg.Client): Promise<RoundTripError> {
  const error = await sendRoundTrip(client, PARTS).then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(RoundTripError);
  return error as RoundTripError;
}

async function withClient<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

// First in this file: the process has not yet seen pg hand a query its CommandComplete.
test('a pg that hands CommandComplete to the query some other way: no statement is named', async () => {
  const dispatch = pg.Client.prototype as unknown as { _handleCommandComplete(msg: unknown): void; _getActiveQuery(): unknown };
  const original = dispatch._handleCommandComplete;
  dispatch._handleCommandComplete = function (this: typeof dispatch, msg: unknown) {
    const query = this._getActiveQuery() as { connection?: unknown } | null;
    if (query) (pg.Query.prototype as unknown as { handleCommandComplete(m: unknown, c: unknown): void }).handleCommandComplete.call(query, msg, (this as unknown as { connection: unknown }).connection);
  };
  try {
    const error = await withClient(failure);
    expect([error.part, error.statementsDone]).toEqual([1, null]);
  } finally {
    dispatch._handleCommandComplete = original;
  }
});

test('pg as it is: the statements completed before the failing one are counted', async () => {
  const error = await withClient(failure);
  expect([error.part, error.statementsDone]).toEqual([1, 2]);
});

describe('an opening (the runner\'s SQL before the parts, in their round trip)', () => {
  const opened = () => {
    const values: unknown[] = [];
    return { values, onOpened: (value: unknown) => values.push(value) };
  };

  test('its value is handed over before any part runs, and a part that fails after it is still named, with its statement', async () => {
    await withClient(async (client) => {
      const seen = opened();
      const order: string[] = [];
      const error = await sendRoundTrip(client, PARTS, (index) => order.push(`part ${index}`), null, {
        statements: 'SET LOCAL search_path TO pg_catalog',
        select: `SELECT pg_catalog.json_build_array(1, 'x')`,
        onOpened: (value) => {
          order.push('opened');
          seen.onOpened(value);
        },
      }).then(() => null, (e: unknown) => e);
      expect(seen.values).toEqual([[1, 'x']]);
      expect(order[0]).toBe('opened');
      expect(error).toBeInstanceOf(RoundTripError);
      expect([(error as RoundTripError).part, (error as RoundTripError).statementsDone]).toEqual([1, 2]);
    });
  });

  test.each([
    ['its statements', { statements: 'SELECT 1/0', select: null }],
    ['its select', { statements: 'SELECT 1', select: 'SELECT 1/0' }],
  ])('one that fails in %s is part -1, and no part ran', async (_, opening) => {
    await withClient(async (client) => {
      const seen = opened();
      const started: number[] = [];
      const error = await sendRoundTrip(client, PARTS, (index) => started.push(index), null, { ...opening, onOpened: seen.onOpened }).then(() => null, (e: unknown) => e);
      expect(error).toBeInstanceOf(RoundTripError);
      expect((error as RoundTripError).part).toBe(-1);
      expect(((error as RoundTripError).error as { code?: string }).code).toBe('22012');
      expect([seen.values, started]).toEqual([[], []]);
      expect((await client.query(`SELECT pg_catalog.to_regclass('pg_temp.a') IS NULL AS none`)).rows[0].none).toBe(true);
    });
  });
});
