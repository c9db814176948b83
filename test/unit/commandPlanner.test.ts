/** Table-driven tests of up/down/stamp planning (pure, no database). */
import { planCommand, planOfflineRange, resolveRevision, type RunCommand } from '../../src/core/commandPlanner.js';
import { detectState } from '../../src/core/stateDetector.js';
import { UnknownRevisionError, UsageError } from '../../src/core/errors.js';
import type { DatabaseFacts, MigrationFile } from '../../src/core/types.js';
import { settleCommandOf } from '../../src/core/plans.js';

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
  { title: 'up to a name', applied: ['0001_a'], command: { kind: 'up', target: '0003_c' }, action: 'apply', apply: ['0002_b', '0003_c'] },
  { title: 'up to an applied name does nothing', applied: ['0001_a', '0002_b'], command: { kind: 'up', target: '0001_a' }, action: 'none' },
  { title: 'up at head does nothing', applied: names, command: { kind: 'up' }, action: 'none' },
  { title: 'down defaults to one step', applied: names, command: { kind: 'down' }, action: 'revert', revert: ['0004_d'] },
  { title: 'down --steps 2, last first', applied: names, command: { kind: 'down', steps: 2 }, action: 'revert', revert: ['0004_d', '0003_c'] },
  { title: 'down to a name keeps it applied', applied: names, command: { kind: 'down', target: '0002_b' }, action: 'revert', revert: ['0004_d', '0003_c'] },
  { title: 'down base reverts everything', applied: names, command: { kind: 'down', target: 'base' }, action: 'revert', revert: ['0004_d', '0003_c', '0002_b', '0001_a'] },
  { title: 'down on base does nothing', applied: [], command: { kind: 'down' }, action: 'none' },
  { title: 'down to a pending name does nothing', applied: ['0001_a'], command: { kind: 'down', target: '0003_c' }, action: 'none' },
  { title: 'stamp a name', applied: [], command: { kind: 'stamp', revision: '0002_b' }, action: 'stamp', stampTo: '0002_b' },
  { title: 'stamp head', applied: [], command: { kind: 'stamp', revision: 'head' }, action: 'stamp', stampTo: '0004_d' },
  { title: 'stamp base', applied: names, command: { kind: 'stamp', revision: 'base' }, action: 'stamp', stampTo: 'base' },
  { title: 'stamp settles a diverged history', applied: ['0001_a', '0009_x'], command: { kind: 'stamp', revision: '0001_a' }, action: 'stamp', stampTo: '0001_a' },
  { title: 'up refuses on diverged', applied: ['0001_a', '0003_c'], command: { kind: 'up' }, action: 'refuse' },
  { title: 'repair with no edited file does nothing', applied: ['0001_a'], command: { kind: 'repair' }, action: 'none' },
  { title: 'down refuses on diverged', applied: ['0001_a', '0009_x'], command: { kind: 'down' }, action: 'refuse' },
];

describe('planCommand', () => {
  test('up on a history with gaps, with outOfOrder: the gaps and the rest in file order, or up to a target', () => {
    const facts: DatabaseFacts = {
      historyTableExists: true,
      applied: ['0001_a', '0003_c'].map((name) => ({ name, runOn: null, checksum: name, durationMs: null, appliedBy: null })),
      applicationObjects: [],
    };
    const d = detectState(facts, files, { outOfOrder: true });
    expect(planCommand({ kind: 'up' }, d, names)).toMatchObject({ action: 'apply', apply: ['0002_b', '0004_d'] });
    expect(planCommand({ kind: 'up', target: '0002_b' }, d, names)).toMatchObject({ action: 'apply', apply: ['0002_b'] });
    expect(planCommand({ kind: 'up', target: '+1' }, d, names)).toMatchObject({ action: 'apply', apply: ['0002_b'] });
    expect(planCommand({ kind: 'down' }, d, names)).toMatchObject({ action: 'refuse', settleCommand: expect.stringMatching(/^migrate up/) });
    // Without it, up refuses and says how to apply them.
    expect(planCommand({ kind: 'up' }, detectState(facts, files), names)).toMatchObject({ action: 'refuse', settleCommand: expect.stringMatching(/^migrate up --out-of-order/) });
  });

  test('repair lists the edited applied files, in any state', () => {
    const facts: DatabaseFacts = {
      historyTableExists: true,
      applied: [
        { name: '0001_a', runOn: null, checksum: 'old', durationMs: null, appliedBy: null },
        { name: '0003_c', runOn: null, checksum: 'older', durationMs: null, appliedBy: null },
      ],
      applicationObjects: [],
    };
    const d = detectState(facts, files);
    expect(d.plan.action).toBe('refuse');
    expect(planCommand({ kind: 'repair' }, d, names)).toEqual({
      action: 'repair',
      stampTo: null,
      apply: [],
      repair: ['0001_a', '0003_c'],
      reason: 'record the checksum of 2 migrations edited since they ran, as the file is now: 0001_a, 0003_c',
    });
  });

  test.each(cases)('$title', (c) => {
    const plan = planCommand(c.command, detectionAt(c.applied), names);
    expect(plan.action).toBe(c.action);
    if (c.apply) expect(plan.apply).toEqual(c.apply);
    if (c.revert) expect(plan.action === 'revert' && plan.revert).toEqual(c.revert);
    if (c.stampTo !== undefined) expect(plan.stampTo).toBe(c.stampTo);
  });

  test('up refuses on legacy, pointing at auto or stamp', () => {
    const plan = planCommand({ kind: 'up' }, detectionAt([], ['table users']), names);
    // applied [] with objects and history table → legacy
    expect(plan.action).toBe('refuse');
    expect(settleCommandOf(plan)).toMatch(/auto|stamp/);
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

describe("Alembic's targets", () => {
  const relativeCases: { title: string; applied: string[]; command: RunCommand; action: string; apply?: string[]; revert?: string[]; stampTo?: string }[] = [
    { title: 'down -1 reverts the last one', applied: names, command: { kind: 'down', target: '-1' }, action: 'revert', revert: ['0004_d'] },
    { title: 'down -2 reverts the last two, last first', applied: names, command: { kind: 'down', target: '-2' }, action: 'revert', revert: ['0004_d', '0003_c'] },
    { title: 'down -2 with two applied reverts both', applied: ['0001_a', '0002_b'], command: { kind: 'down', target: '-2' }, action: 'revert', revert: ['0002_b', '0001_a'] },
    { title: 'down -1 on base does nothing', applied: [], command: { kind: 'down', target: '-1' }, action: 'none' },
    { title: 'up +1 at head does nothing', applied: names, command: { kind: 'up', target: '+1' }, action: 'none' },
    { title: 'up +2 applies the next two', applied: ['0001_a'], command: { kind: 'up', target: '+2' }, action: 'apply', apply: ['0002_b', '0003_c'] },
    { title: 'down to a prefix keeps that revision applied', applied: names, command: { kind: 'down', target: '0002' }, action: 'revert', revert: ['0004_d', '0003_c'] },
    { title: 'up to a prefix', applied: ['0001_a'], command: { kind: 'up', target: '0003' }, action: 'apply', apply: ['0002_b', '0003_c'] },
    { title: 'up to a prefix of an applied name does nothing', applied: ['0001_a', '0002_b'], command: { kind: 'up', target: '0001' }, action: 'none' },
    { title: 'stamp a prefix', applied: [], command: { kind: 'stamp', revision: '0003_' }, action: 'stamp', stampTo: '0003_c' },
    { title: 'a whole name wins over a longer name it starts', applied: names, command: { kind: 'down', target: '0001_a' }, action: 'revert', revert: ['0004_d', '0003_c', '0002_b'] },
  ];
  test.each(relativeCases)('$title', (c) => {
    const plan = planCommand(c.command, detectionAt(c.applied), names);
    expect(plan.action).toBe(c.action);
    if (c.apply) expect(plan.apply).toEqual(c.apply);
    if (c.revert) expect(plan.action === 'revert' && plan.revert).toEqual(c.revert);
    if (c.stampTo !== undefined) expect(plan.stampTo).toBe(c.stampTo);
  });

  // Alembic's "Relative revision -9 didn't produce 9 migrations": a count past the end is a mistake, not "all".
  test.each([
    ['down -9 with two applied', ['0001_a', '0002_b'], { kind: 'down', target: '-9' } as RunCommand, /^down -9: 9 migrations asked for, only 2 migrations are applied; nothing was changed$/, 'down base, which reverts them all'],
    ['down --steps 5 with two applied', ['0001_a', '0002_b'], { kind: 'down', steps: 5 } as RunCommand, /^down --steps 5: 5 migrations asked for, only 2 migrations are applied/, 'down base, which reverts them all'],
    ['up +9 with three pending', ['0001_a'], { kind: 'up', target: '+9' } as RunCommand, /^up \+9: 9 migrations asked for, only 3 migrations are pending; nothing was changed$/, 'up +3, or up head'],
    ['up +2 with one pending', ['0001_a', '0002_b', '0003_c'], { kind: 'up', target: '+2' } as RunCommand, /only 1 migration is pending/, 'up +1, or up head'],
  ])('%s is a usage error naming what there is', (_title, applied, command, message, hint) => {
    expect(() => planCommand(command, detectionAt(applied), names)).toThrow(UsageError);
    expect(() => planCommand(command, detectionAt(applied), names)).toThrow(message);
    try {
      planCommand(command, detectionAt(applied), names);
    } catch (error) {
      expect((error as UsageError).hint).toBe(hint);
    }
  });

  test.each([
    ['down with a target and --steps', { kind: 'down', target: '0002_b', steps: 2 } as RunCommand, /give a target or --steps, not both/],
    ['down -1 with --steps', { kind: 'down', target: '-1', steps: 1 } as RunCommand, /not both/],
    ['up -1 (a step back)', { kind: 'up', target: '-1' } as RunCommand, /a step back is down -1/],
    ['down +1 (a step forward)', { kind: 'down', target: '+1' } as RunCommand, /a step forward is up \+1/],
    ['down -0', { kind: 'down', target: '-0' } as RunCommand, /at least 1/],
  ])('%s is a usage error', (_title, command, message) => {
    expect(() => planCommand(command, detectionAt(names), names)).toThrow(UsageError);
    expect(() => planCommand(command, detectionAt(names), names)).toThrow(message);
  });
});

describe('resolveRevision', () => {
  const many = ['0001_create_users', '0002_add_email', '0010_orders', '0011_orders_index', '0011_orders_index_2'];
  test.each([
    ['a whole name', '0002_add_email', '0002_add_email'],
    ['a unique prefix', '0002', '0002_add_email'],
    ['a longer unique prefix', '0010_o', '0010_orders'],
    ['a whole name that starts another', '0011_orders_index', '0011_orders_index'],
  ])('%s', (_title, target, expected) => {
    expect(resolveRevision(target, many)).toBe(expected);
  });

  test.each([
    ['an ambiguous prefix, naming the matches', '0011', UsageError, /"0011" is ambiguous: it starts 0011_orders_index, 0011_orders_index_2/],
    ['a prefix under four characters', '000', UnknownRevisionError, /unknown revision "000"/],
    ['a number, as node-pg-migrate counts steps', '1', UnknownRevisionError, /unknown revision "1"/],
    ['nothing that matches', '0099', UnknownRevisionError, /unknown revision "0099"/],
  ])('%s is refused', (_title, target, errorClass, message) => {
    expect(() => resolveRevision(target, many)).toThrow(errorClass);
    expect(() => resolveRevision(target, many)).toThrow(message);
  });

  test('a short number hints at the relative forms', () => {
    try {
      resolveRevision('2', many);
      throw new Error('not thrown');
    } catch (error) {
      expect((error as UnknownRevisionError).hint).toMatch(/up \+2 or down -2/);
    }
  });
});

describe('planOfflineRange', () => {
  test.each([
    ['up, no range: base to head', 'up', undefined, null, '0004_d', names],
    ['up to a revision', 'up', '0002', null, '0002_b', ['0001_a', '0002_b']],
    ['up FROM:TO', 'up', '0001_a:0003', '0001_a', '0003_c', ['0002_b', '0003_c']],
    ['up FROM:+1', 'up', '0002_b:+1', '0002_b', '0003_c', ['0003_c']],
    ['up base:+4 is head', 'up', 'base:+4', null, '0004_d', names],
    ['up head:+1 is empty', 'up', 'head:+1', '0004_d', '0004_d', []],
    ['up FROM:FROM is empty', 'up', '0002_b:0002_b', '0002_b', '0002_b', []],
    ['down, no range: the last one', 'down', undefined, '0004_d', '0003_c', ['0004_d']],
    ['down to base', 'down', 'base', '0004_d', null, ['0004_d', '0003_c', '0002_b', '0001_a']],
    ['down FROM:TO keeps TO', 'down', '0003_c:0001', '0003_c', '0001_a', ['0003_c', '0002_b']],
    ['down FROM:-2', 'down', '0003_c:-2', '0003_c', '0001_a', ['0003_c', '0002_b']],
    ['down head:-4 is base', 'down', 'head:-4', '0004_d', null, ['0004_d', '0003_c', '0002_b', '0001_a']],
  ] as const)('%s', (_title, direction, range, from, to, expected) => {
    const planned = planOfflineRange(direction, range, names);
    expect(planned).toEqual({ direction, from, to, names: expected });
  });

  test.each([
    ['up backwards', 'up', '0003_c:0001_a', /0001_a is before 0003_c/],
    ['down forwards', 'down', '0001_a:0003_c', /0003_c is after 0001_a/],
    ['a range of three parts', 'up', 'a:b:c', /expected TO or FROM:TO/],
    ['an empty side', 'up', ':head', /expected TO or FROM:TO/],
    ['up -1', 'up', '-1', /a step back/],
    ['an unknown revision', 'down', 'head:0042', /unknown revision "0042"/],
    // As online: a count past the last file, or base, is a mistake, not "all of them".
    ['up base:+9', 'up', 'base:+9', /^sql --offline base:\+9: 9 migrations asked for, only 4 migrations come after it$/],
    ['down head:-9', 'down', 'head:-9', /^sql --offline --down head:-9: 9 migrations asked for, only 4 migrations come before it$/],
  ] as const)('%s is a usage error', (_title, direction, range, message) => {
    expect(() => planOfflineRange(direction, range, names)).toThrow(message);
  });
});
