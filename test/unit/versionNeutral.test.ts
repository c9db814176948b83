/**
 * src/schema/versionNeutral.ts: views are unqualified as PostgreSQL 16 and
 * later print them, ahead of the read's end where the catalog read asks
 * (unqualifyViews), with the same result as when the view is normalised
 * on its own.
 */
import { loadVersionNeutral, unqualifyViews } from '../../src/schema/versionNeutral.js';

const VIEWS: readonly [string, string][] = [
  [' SELECT t.id,\n    t.code\n   FROM t\n  WHERE t.amount > 0::numeric;', ' SELECT id,\n    code\n   FROM t\n  WHERE amount > 0::numeric;'],
  [' SELECT "T".id\n   FROM "T";', ' SELECT id\n   FROM "T";'],
  // Two relations: every major qualifies the columns.
  [' SELECT a.id\n   FROM a\n     JOIN b ON a.id = b.id;', ' SELECT a.id\n   FROM a\n     JOIN b ON a.id = b.id;'],
  // Not SQL the parser reads: kept as printed.
  ['SELECT FROM WHERE (', 'SELECT FROM WHERE ('],
];

test.each(VIEWS)('unqualifyViews(%j)', async (text, expected) => {
  expect((await unqualifyViews([text])).get(text)).toBe(expected);
});

test('a normaliser given the views unqualified ahead takes them from there, and normalises any other view as before', async () => {
  const [text, expected] = VIEWS[0]!;
  const ahead = new Map([[text, ' SELECT "from the map"']]);
  const neutral = await loadVersionNeutral([text], 1, ahead);
  expect(neutral.view(text)).toBe(' SELECT "from the map"');
  const alone = await loadVersionNeutral([text], 1);
  expect(alone.view(text)).toBe(expected);
  expect(neutral.view(VIEWS[1]![0])).toBe(VIEWS[1]![1]);
});
