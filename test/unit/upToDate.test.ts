/** isUpToDate: what `check` and the example backend's /readyz call ready (pure, from literals). */
import { detectState, isUpToDate } from '../../src/core/stateDetector.js';
import type { DatabaseFacts, MigrationFile } from '../../src/core/types.js';

const file = (name: string): MigrationFile => ({ name, fileName: `${name}.sql`, path: `/m/${name}.sql`, extension: '.sql', checksum: name });
const facts = (applied: string[], objects: string[] = []): DatabaseFacts => ({
  historyTableExists: applied.length > 0,
  applied: applied.map((name) => ({ name, checksum: name, runOn: null, durationMs: null, appliedBy: null })),
  applicationObjects: objects,
});

test.each([
  ['current', facts(['0001_a']), [file('0001_a')], true],
  ['no migration files and nothing applied (a new project)', facts([]), [], true],
  ['fresh with files to apply', facts([]), [file('0001_a')], false],
  ['behind', facts(['0001_a']), [file('0001_a'), file('0002_b')], false],
  ['legacy objects and no files', facts([], ['table users']), [], false],
  ['diverged', facts(['0001_a', '0009_x']), [file('0001_a')], false],
] as const)('%s: %s', (_title, given, files, expected) => {
  expect(isUpToDate(detectState(given, files))).toBe(expected);
});
