/**
 * src/db/runLedger.ts: what became of every migration of a batch, recorded as
 * it happens; a run's report is this ledger however the batch ends.
 */
import { RunLedger } from '../../src/db/runLedger.js';
import type { MigrationFile } from '../../src/core/types.js';

const file = (name: string): MigrationFile => ({ name, fileName: `${name}.sql`, path: `/m/${name}.sql`, extension: '.sql', checksum: 'x' });
const batch = ['0001_a', '0002_b', '0003_c', '0004_d'].map(file);
const statuses = (ledger: RunLedger) => ledger.snapshot().map((run) => run.status);

type Step = (ledger: RunLedger) => void;
test.each<[string, 'up' | 'down', Step[], string[]]>([
  ['every migration starts not-run', 'up', [], ['not-run', 'not-run', 'not-run', 'not-run']],
  ['ran, then committed: applied', 'up', [(l) => l.ran(0, 5), (l) => l.ran(1, 5), (l) => l.committed()], ['applied', 'applied', 'not-run', 'not-run']],
  ['down: reverted', 'down', [(l) => l.ran(0, 5), (l) => l.committed()], ['reverted', 'not-run', 'not-run', 'not-run']],
  [
    'a rollback undoes what ran since the last commit and marks the one that failed',
    'up',
    [(l) => l.ran(0, 5), (l) => l.committed(), (l) => l.ran(1, 5), (l) => l.ran(2, 5), (l) => l.rolledBack(3, 7)],
    ['applied', 'rolled-back', 'rolled-back', 'failed'],
  ],
  ['a rollback of the runner\'s own statement blames no migration', 'up', [(l) => l.ran(0, 5), (l) => l.rolledBack(null)], ['rolled-back', 'not-run', 'not-run', 'not-run']],
  ['run alone and not recorded: failed, whatever it changed', 'up', [(l) => l.ran(0, 5), (l) => l.failed(0)], ['failed', 'not-run', 'not-run', 'not-run']],
  [
    'a retry sets everything from where it starts back to not-run',
    'up',
    [(l) => l.ran(0, 5), (l) => l.committed(), (l) => l.ran(1, 5), (l) => l.rolledBack(2), (l) => l.reset(1)],
    ['applied', 'not-run', 'not-run', 'not-run'],
  ],
])('%s', (_title, direction, steps, expected) => {
  const ledger = new RunLedger(batch, direction);
  for (const step of steps) step(ledger);
  expect(statuses(ledger)).toEqual(expected);
});

test('committed and uncommitted names; progress is told as each ran, not committed yet', () => {
  const told: [string, string, number, boolean][] = [];
  const ledger = new RunLedger(batch, 'up', (run, index, total, committed) => told.push([run.name, run.status, index, committed]));
  ledger.ran(0, 4.6);
  ledger.committed();
  ledger.ran(1, 1);
  expect([ledger.committedNames(), ledger.uncommittedNames()]).toEqual([['0001_a'], ['0002_b']]);
  expect(told).toEqual([['0001_a', 'applied', 0, false], ['0002_b', 'applied', 1, false]]);
  expect(ledger.snapshot()[0]).toEqual({ name: '0001_a', direction: 'up', status: 'applied', durationMs: 5 });
  expect(Object.isFrozen(ledger.snapshot()[0])).toBe(true);
});
