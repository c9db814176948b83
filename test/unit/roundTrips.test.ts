/**
 * src/db/roundTrips.ts: how several migrations share a round trip, and how an
 * error position is traced back to the migration and statement it is in.
 */
import { layoutRoundTrip, locateInRoundTrip, locateStatement, MAX_GROUP, MAX_GROUP_CHARS, RoundTripGroup } from '../../src/db/roundTrips.js';

const parts = [{ statements: ['CREATE TABLE a (id int);'] }, { statements: ['CREATE TABLE b (id int);', 'SELECT nope;'] }];

test('one part is sent as it is; several are framed by markers, each part closed by a ; of its own', () => {
  expect(layoutRoundTrip([parts[0]!], 'tok').text).toBe('CREATE TABLE a (id int);');
  const { text, spans } = layoutRoundTrip(parts, 'tok');
  expect(text.split('\n').filter((l) => l.startsWith('SELECT \'tok:'))).toHaveLength(3);
  expect(spans.map((s) => text.slice(s.start, s.start + s.length))).toEqual([
    'CREATE TABLE a (id int);',
    'CREATE TABLE b (id int);\nSELECT nope;',
  ]);
});

test.each([
  ['one part', [parts[0]!], 2],
  ['two parts', parts, 3],
])('with a trailer (%s): markers frame the parts even alone, and the trailer comes after the last, its select tagged', (_, given, markers) => {
  const trailer = { statements: 'SET search_path TO pg_catalog', select: 'SELECT 1' };
  const { text, spans } = layoutRoundTrip(given, 'tok', trailer);
  const lines = text.split('\n');
  expect(lines.filter((l) => l.startsWith("SELECT 'tok:") && !l.startsWith("SELECT 'tok:end'"))).toHaveLength(markers);
  expect(lines.slice(-2)).toEqual(['SET search_path TO pg_catalog;', "SELECT 'tok:end', (SELECT 1);"]);
  expect(lines.at(-3)).toMatch(new RegExp(`^SELECT 'tok:${markers - 1}'`));
  expect(spans.map((s) => text.slice(s.start, s.start + s.length))).toEqual(given.map((p) => p.statements.join('\n')));
  // An error in the trailer points into no part: the part running is the one after the last (the trailer).
  expect(locateInRoundTrip(given, { text, spans }, text.indexOf('SELECT 1') + 1, given.length)).toEqual({ part: given.length, location: null });
});

test.each([
  ['one part', [parts[0]!]],
  ['two parts', parts],
])('with an opening (%s): it comes first, its select tagged, and the parts\' spans and error positions still point into them', (_, given) => {
  const opening = { statements: 'COMMIT; BEGIN', select: 'SELECT 1' };
  const { text, spans } = layoutRoundTrip(given, 'tok', null, opening);
  expect(text.split('\n').slice(0, 2)).toEqual(['COMMIT; BEGIN;', "SELECT 'tok:begin', (SELECT 1);"]);
  expect(text.split('\n')[2]).toMatch(/^SELECT 'tok:0'/);
  expect(spans.map((s) => text.slice(s.start, s.start + s.length))).toEqual(given.map((p) => p.statements.join('\n')));
  const last = given.length - 1;
  expect(locateInRoundTrip(given, { text, spans }, text.lastIndexOf('CREATE TABLE') + 1, 0).part).toBe(last);
  // Without a select, the tag still comes: it says the opening went through.
  expect(layoutRoundTrip(given, 'tok', null, { statements: 'BEGIN', select: null }).text.split('\n')[1]).toBe("SELECT 'tok:begin', (NULL::pg_catalog.json);");
});

test('an error position points at its part and statement', () => {
  const layout = layoutRoundTrip(parts, 'tok');
  const position = layout.text.indexOf('nope') + 1;
  expect(locateInRoundTrip(parts, layout, position, 0)).toEqual({
    part: 1,
    location: { statement: 'SELECT nope;', index: 1, position: 8 },
  });
});

test('without a position, the part the markers say was running; its statement only when it has one', () => {
  const layout = layoutRoundTrip(parts, 'tok');
  expect(locateInRoundTrip(parts, layout, null, 0)).toEqual({ part: 0, location: { statement: 'CREATE TABLE a (id int);', index: 0, position: null } });
  expect(locateInRoundTrip(parts, layout, null, 1)).toEqual({ part: 1, location: null });
});

test.each([
  [1, { statement: 'A;', index: 0, position: 1 }],
  [3, { statement: 'A;', index: 0, position: 3 }],
  [4, { statement: 'BB;', index: 1, position: 1 }],
  [9, null],
])('locateStatement(position %d)', (position, expected) => {
  expect(locateStatement(['A;', 'BB;'], position)).toEqual(expected);
});

describe('RoundTripGroup: which migrations go together', () => {
  /** Adds parts (name, statement length, opaque), then flushes; returns the groups sent. */
  const groupsOf = async (parts: readonly [string, number, boolean][], oneEach = false) => {
    const sent: string[][] = [];
    const group = new RoundTripGroup<string>(async (names) => void sent.push([...names]), { oneEach });
    for (const [name, length, opaque] of parts) await group.add(name, ['x'.repeat(length)], opaque);
    await group.flush();
    return sent;
  };

  test.each<[string, [string, number, boolean][], boolean, string[][]]>([
    ['consecutive migrations share one', [['a', 1, false], ['b', 1, false], ['c', 1, false]], false, [['a', 'b', 'c']]],
    ['SQL the parser cannot read goes alone', [['a', 1, false], ['b', 1, true], ['c', 1, false]], false, [['a'], ['b'], ['c']]],
    ['with a migration timeout each goes alone', [['a', 1, false], ['b', 1, false]], true, [['a'], ['b']]],
    ['a group that reaches the size limit goes', [['a', MAX_GROUP_CHARS - 1, false], ['b', 1, false], ['c', 1, false]], false, [['a', 'b'], ['c']]],
    ['nothing added, nothing sent', [], false, []],
  ])('%s', async (_title, parts, oneEach, expected) => {
    expect(await groupsOf(parts, oneEach)).toEqual(expected);
  });

  test(`at most ${MAX_GROUP} migrations share one`, async () => {
    const parts = Array.from({ length: MAX_GROUP + 1 }, (_, i): [string, number, boolean] => [`m${i}`, 1, false]);
    expect((await groupsOf(parts)).map((g) => g.length)).toEqual([MAX_GROUP, 1]);
  });
});
