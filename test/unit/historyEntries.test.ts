/** `history` reads as the history happened (src/cli/format.ts historyEntries), table-driven, no database. */
import { historyEntries } from '../../src/cli/format.js';
import type { AppliedMigration, MigrationFile } from '../../src/core/types.js';

const file = (name: string): MigrationFile => ({ name, fileName: `${name}.sql`, path: `/m/${name}.sql`, extension: '.sql', checksum: name });
const row = (name: string): AppliedMigration => ({ name, checksum: name, runOn: null, durationMs: null, appliedBy: null });

describe('historyEntries', () => {
  test.each([
    ['a file missing where it ran, between applied ones', ['0001_a', '0002_gone', '0003_c'], ['0001_a', '0003_c', '0004_d'], ['0001_a', '0002_gone!', '0003_c', '0004_d?']],
    ['a file missing at the start', ['0000_gone', '0001_a'], ['0001_a', '0002_b'], ['0000_gone!', '0001_a', '0002_b?']],
    ['a gap shows where it belongs', ['0001_a', '0003_c'], ['0001_a', '0002_b', '0003_c', '0004_d'], ['0001_a', '0002_b?', '0003_c', '0004_d?']],
    ['nothing applied: the files in order', [], ['0001_a', '0002_b'], ['0001_a?', '0002_b?']],
    ['only missing files', ['0007_x', '0008_y'], ['0001_a'], ['0007_x!', '0008_y!', '0001_a?']],
    ['a name held twice shows once, where it first ran', ['0001_a', '0002_b', '0001_a'], ['0001_a', '0002_b'], ['0001_a', '0002_b']],
    ['rows in run order, not file order', ['0002_b', '0001_a'], ['0001_a', '0002_b', '0003_c'], ['0002_b', '0001_a', '0003_c?']],
  ])('%s', (_title, applied, files, expected) => {
    const entries = historyEntries(files.map(file), applied.map(row));
    const mark = { applied: '', pending: '?', 'applied, file missing': '!' } as const;
    expect(entries.map((e) => `${e.name}${mark[e.status]}`)).toEqual(expected);
  });
});

describe('historyEntries: checksum status', () => {
  test.each([
    ['as recorded', file('0001_a'), 'ok'],
    ['edited', { ...file('0001_a'), checksum: 'edited' }, 'modified'],
    ['starts with a byte order mark that an earlier runner recorded with it', { ...file('0001_a'), checksum: 'without the mark', checksumWithBom: '0001_a' }, 'ok'],
  ] as const)('%s', (_title, onDisk, expected) => {
    expect(historyEntries([onDisk], [row('0001_a')])[0]!.checksum).toBe(expected);
  });
});
