/** The one list wording and the one string order (src/core/lists.ts), as each caller words them. */
import { compareCodeUnits, LISTED, listDifferences, listFirst } from '../../src/core/lists.js';
import { listNames } from '../../src/core/stateDetector.js';

const names = (n: number) => Array.from({ length: n }, (_, i) => `m${i + 1}`);

test.each([
  ['none', listFirst([]), ''],
  ['up to LISTED whole', listFirst(names(LISTED)), names(LISTED).join(', ')],
  ['past LISTED: the first LISTED and how many more', listFirst(names(LISTED + 3)), `${names(LISTED).join(', ')} and 3 more`],
  ['a shorter cut', listFirst(names(4), 2), 'm1, m2 and 2 more'],
  ['the detector\'s names say where the whole list is', listNames(names(12)), `${names(10).join(', ')} and 2 more (migrate status lists them all)`],
  ['the detector\'s names, short', listNames(names(2)), 'm1, m2'],
  ['differences: ; between, ; and before the count', listDifferences(['a', 'b', 'c', 'd', 'e', 'f', 'g'], 5), 'a; b; c; d; e; and 2 more'],
  ['differences, all shown', listDifferences(['a', 'b'], 5), 'a; b'],
  ['no differences', listDifferences([], 5), ''],
])('%s', (_title, actual, expected) => {
  expect(actual).toBe(expected);
});

test('strings sort by code units, whatever the locale', () => {
  expect(['b', 'B', 'a', 'é', 'e', '_', '10', '9'].sort(compareCodeUnits)).toEqual(['10', '9', 'B', '_', 'a', 'b', 'e', 'é']);
  expect(compareCodeUnits('x', 'x')).toBe(0);
});
