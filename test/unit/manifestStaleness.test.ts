/** findStaleness: why a committed manifest no longer describes the files (pure, from literals). */
import { findStaleness, MANIFEST_FORMAT, type Manifest } from '../../src/fingerprints/manifest.js';
import { SCHEMA_MODEL_FORMAT } from '../../src/schema/model.js';
import type { MigrationFile } from '../../src/core/types.js';

const file = (name: string, checksum = name): MigrationFile => ({ name, fileName: `${name}.sql`, path: `/m/${name}.sql`, extension: '.sql', checksum });
const manifestOf = (...names: string[]): Manifest => ({
  format: MANIFEST_FORMAT,
  modelFormat: SCHEMA_MODEL_FORMAT,
  schema: 'public',
  base: { fingerprint: 'base', objects: {} },
  revisions: names.map((name) => ({ name, checksum: name, fingerprint: `after ${name}`, changes: [], set: {}, drop: [] })),
});
const files = [file('0001_a'), file('0002_b'), file('0003_c')];

test.each([
  ['every file recorded as it is, in order', manifestOf('0001_a', '0002_b', '0003_c'), files, null],
  ['a file with no revision', manifestOf('0001_a', '0002_b'), files, 'no fingerprint for 0003_c'],
  ['a file edited since', manifestOf('0001_a', '0002_b', '0003_c'), [file('0001_a'), file('0002_b', 'edited'), file('0003_c')], 'edited since: 0002_b'],
  ['a file that starts with a byte order mark, recorded with it by an earlier runner', manifestOf('0001_a', '0002_b', '0003_c'), [file('0001_a'), { ...file('0002_b', 'without the mark'), checksumWithBom: '0002_b' }, file('0003_c')], null],
  ['a revision with no file', manifestOf('0001_a', '0002_b', '0003_c'), files.slice(0, 2), 'not on disk: 0003_c'],
  ['the revisions in another order', manifestOf('0001_a', '0003_c', '0002_b'), files, "its revisions are not in the files' order: it records 0003_c where 0002_b comes"],
  ['the revisions reversed', manifestOf('0003_c', '0002_b', '0001_a'), files, "its revisions are not in the files' order: it records 0003_c where 0001_a comes"],
  ['a revision recorded twice', manifestOf('0001_a', '0002_b', '0003_c', '0003_c'), files, "its revisions are not in the files' order: it records 0003_c where no file comes"],
] as const)('%s', (_title, manifest, given, expected) => {
  expect(findStaleness(manifest, given, 'public')).toBe(expected);
});
