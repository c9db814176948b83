/** Table-driven tests of up/down/stamp planning (pure, no database). */
import { planCommand, type RunCommand } from '../../src/commandPlanner.js';
import { detectState } from '../../src/stateDetector.js';
import { UnknownRevisionError, UsageError } from '../../src/errors.js';
import type { DatabaseFacts, MigrationFile } from '../../src/types.js';

const names = ['0001_a', '0002_b', '0003_c', '0004_d'];
const files: MigrationFile[] = names.map((name) => ({ name, fileName: `${name}.sql`, path: `/m/${name}.sql`, extension: '.sql', checksum: name }));
const detectionAt = (applied: string[], objects: string[] = []) => {
  const facts: DatabaseFacts = {
    historyTableExists: true,
    applied: applied.map((name) => ({ name, runOn: new Date(), checksum: name, durationMs: null, appliedBy: null })),
    applicationObjects: objects,
  };
  return detectState(facts, files);
};

const cases: { title: string; applied: string[]; command: RunCommand; action: string; apply?: string[]; revert?: string[]; stampTo?: string | null }[] = [
  { title: 'up head from base', applied: [], command: { kind: 'up' }, action: 'apply', apply: names },
  { title: 'up +1', applied: ['0001_a'], command: { kind: 'up', target: '+1' }, action: 'apply', apply: ['0002_b'] },
  { title: 'up +9 stops at head', applied: ['0001_a'], command: { kind: 'up', target: '+9' }, action: 'apply', apply: ['0002_b', '0003_c', '0004_d'] },
  { title: 'up to a name', applied: ['0001_a'], command: { kind: 'up', target: '0003_c' }, action: 'apply', apply: ['0002_b', '0003_c'] },
  { title: 'up to an applied name does nothing', applied: ['0001_a', '0002_b'], command: { kind: 'up', target: '0001_a' }, action: 'none' },
  { title: 'up at head does nothing', applied: names, command: { kind: 'up' }, action: 'none' },
  { title: 'down defaults to one step', applied: names, command: { kind: 'down' }, action: 'revert', revert: ['0004_d'] },
  { title: 'down --steps 2, last first', applied: names, command: { kind: 'down', steps: 2 }, action: 'revert', revert: ['0004_d', '0003_c'] },
  { title: 'down --steps beyond base reverts all', applied: ['0001_a', '0002_b'], command: { kind: 'down', steps: 5 }, action: 'revert', revert: ['0002_b', '0001_a'] },
  { title: 'down to a name keeps it applied', applied: names, command: { kind: 'down', target: '0002_b' }, action: 'revert', revert: ['0004_d', '0003_c'] },
  { title: 'down base reverts everything', applied: names, command: { kind: 'down', target: 'base' }, action: 'revert', revert: ['0004_d', '0003_c', '0002_b', '0001_a'] },
  { title: 'down on base does nothing', applied: [], command: { kind: 'down' }, action: 'none' },
  { title: 'down to a pending name does nothing', applied: ['0001_a'], command: { kind: 'down', target: '0003_c' }, action: 'none' },
  { title: 'stamp a name', applied: [], command: { kind: 'stamp', revision: '0002_b' }, action: 'stamp', stampTo: '0002_b' },
  { title: 'stamp head', applied: [], command: { kind: 'stamp', revision: 'head' }, action: 'stamp', stampTo: '0004_d' },
  { title: 'stamp base', applied: names, command: { kind: 'stamp', revision: 'base' }, action: 'stamp', stampTo: 'base' },
  { title: 'stamp settles a diverged history', applied: ['0001_a', '0009_x'], command: { kind: 'stamp', revision: '0001_a' }, action: 'stamp', stampTo: '0001_a' },
  { title: 'up refuses on diverged', applied: ['0001_a', '0003_c'], command: { kind: 'up' }, action: 'refuse' },
  { title: 'down refuses on diverged', applied: ['0001_a', '0009_x'], command: { kind: 'down' }, action: 'refuse' },
];

describe('planCommand', () => {
  test.each(cases)('$title', (c) => {
    const plan = planCommand(c.command, detectionAt(c.applied), names);
    expect(plan.action).toBe(c.action);
    if (c.apply) expect(plan.apply).toEqual(c.apply);
    if (c.revert) expect(plan.revert).toEqual(c.revert);
    if (c.stampTo !== undefined) expect(plan.stampTo).toBe(c.stampTo);
  });

  test('up refuses on legacy, pointing at auto or stamp', () => {
    const plan = planCommand({ kind: 'up' }, detectionAt([], ['table users']), names);
    // applied [] with objects and history table → legacy
    expect(plan.action).toBe('refuse');
    expect(plan.settleCommand).toMatch(/auto|stamp/);
  });

  test.each([
    ['an unknown up target', { kind: 'up', target: '0042_x' } as RunCommand, UnknownRevisionError],
    ['an unknown down target', { kind: 'down', target: "x'; DROP TABLE users; --" } as RunCommand, UnknownRevisionError],
    ['an unknown stamp revision', { kind: 'stamp', revision: 'ünïcödé' } as RunCommand, UnknownRevisionError],
    ['zero steps', { kind: 'down', steps: 0 } as RunCommand, UsageError],
    ['up +0', { kind: 'up', target: '+0' } as RunCommand, UsageError],
  ])('%s is a usage error', (_title, command, errorClass) => {
    expect(() => planCommand(command, detectionAt(['0001_a']), names)).toThrow(errorClass);
  });
});
