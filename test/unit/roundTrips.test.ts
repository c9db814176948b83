/**
 * src/db/roundTrips.ts: how several migrations share a round trip, and how an
 * error position is traced back to the migration and statement it is in.
 */
import { layoutRoundTrip, locateInRoundTrip, locateStatement } from '../../src/db/roundTrips.js';

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
