/** The runner's table names and the shapes it needs them in (src/db/facts.ts), table-driven. */
import {
  HISTORY_SHAPE,
  META_SHAPE,
  historyLocationOf,
  metaTableOf,
  runnerTablesIn,
  shapeProblem,
  type TableShape,
} from '../../src/db/facts.js';

describe('metaTableOf', () => {
  test.each([
    ['pgmigrations', 'pgmigrations_meta'],
    ['x'.repeat(58), `${'x'.repeat(58)}_meta`],
  ])('%s fits: <table>_meta', (table, meta) => {
    expect(metaTableOf(table)).toBe(meta);
  });

  test.each([
    ['59 bytes', 'x'.repeat(59)],
    ['63 bytes, where a cut "<table>_meta" would be the table itself', 'x'.repeat(63)],
    ['multi-byte characters', 'é'.repeat(30)],
  ])('%s: a name of at most 63 bytes, distinct from the table, the same every time', (_what, table) => {
    const meta = metaTableOf(table);
    expect(Buffer.byteLength(meta)).toBeLessThanOrEqual(63);
    expect(meta).not.toBe(table);
    expect(meta).toMatch(/_[0-9a-f]{8}_meta$/);
    expect(metaTableOf(table)).toBe(meta);
    // The table's name cut on a character, not inside one.
    expect(table.startsWith(meta.replace(/_[0-9a-f]{8}_meta$/, ''))).toBe(true);
  });

  test('two long names that share their first bytes get different side tables', () => {
    expect(metaTableOf(`${'x'.repeat(60)}a`)).not.toBe(metaTableOf(`${'x'.repeat(60)}b`));
  });
});

describe('where the history lives', () => {
  test.each([
    [{ schema: 'public', table: 'pgmigrations' }, { schema: 'public', table: 'pgmigrations' }, ['pgmigrations', 'pgmigrations_meta']],
    [{ schema: 'app', migrationsSchema: 'app', table: 'h' }, { schema: 'app', table: 'h' }, ['h', 'h_meta']],
    [{ schema: 'app', migrationsSchema: 'history', table: 'h' }, { schema: 'history', table: 'h' }, []],
  ])('%j: history at %j, runner tables in the managed schema %j', (where, history, inManaged) => {
    expect(historyLocationOf(where)).toEqual(history);
    expect(runnerTablesIn(where)).toEqual(inManaged);
  });
});

describe('shapeProblem', () => {
  const shape = (columns: string[], required: string[] = []): TableShape => ({ columns, required });
  test.each([
    ['node-pg-migrate\'s table', HISTORY_SHAPE, shape(['id', 'name', 'run_on'], ['name', 'run_on']), null],
    ['extra nullable columns', HISTORY_SHAPE, shape(['id', 'name', 'run_on', 'note'], ['name', 'run_on']), null],
    ['no run_on', HISTORY_SHAPE, shape(['id', 'name']), 'has no column run_on, so the runner cannot read or write its rows'],
    ['no id, no run_on', HISTORY_SHAPE, shape(['name']), 'has no column id, run_on, so the runner cannot read or write its rows'],
    ['id without a default', HISTORY_SHAPE, shape(['id', 'name', 'run_on'], ['id', 'name', 'run_on']),
      'has a column id NOT NULL without a default, so no row can be written to it'],
    ['two required extras', HISTORY_SHAPE, shape(['id', 'name', 'run_on', 'a', 'b'], ['a', 'b']),
      'has columns a, b NOT NULL without a default, so no row can be written to it'],
    ['the side table', META_SHAPE, shape(['name', 'checksum', 'duration_ms', 'applied_by', 'recorded_at'], ['name']), null],
    ['a side table without checksum', META_SHAPE, shape(['name', 'duration_ms', 'applied_by', 'recorded_at']),
      'has no column checksum, so the runner cannot read or write its rows'],
  ] as const)('%s', (_what, expected, table, problem) => {
    expect(shapeProblem(expected, table)).toBe(problem);
  });
});
