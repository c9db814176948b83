/**
 * Table-driven tests of the pure detector: every state, edge and finding
 * (docs/CONTRACT.md "The states"), built from literals, no database.
 */
import { detectState, probesWanted, type DetectOptions } from '../../src/core/stateDetector.js';
import type { FingerprintManifest } from '../../src/core/types.js';
import { UnknownRevisionError } from '../../src/core/errors.js';
import type { DatabaseFacts, MigrationFile, ProbeAnswer, StateName, PlanAction } from '../../src/core/types.js';
import { settleCommandOf } from '../../src/core/plans.js';

const file = (name: string, checksum = `sum-${name}`): MigrationFile => ({
  name,
  fileName: `${name}.sql`,
  path: `/m/${name}.sql`,
  extension: '.sql',
  checksum,
});
const files = (...names: string[]) => names.map((n) => file(n));

const facts = (
  applied: string[] | null,
  objects: string[] = [],
  extra: Partial<DatabaseFacts> & { checksums?: Record<string, string> } = {},
): DatabaseFacts => ({
  historyTableExists: applied !== null,
  applied: (applied ?? []).map((name, i) => ({
    name,
    runOn: new Date(2026, 0, 1, 0, 0, i),
    checksum: extra.checksums?.[name] ?? `sum-${name}`,
    durationMs: 1,
    appliedBy: 'test',
  })),
  applicationObjects: objects,
  ...(extra.liveFingerprint !== undefined && { liveFingerprint: extra.liveFingerprint }),
});

const ABC = files('0001_a', '0002_b', '0003_c');

interface Case {
  readonly title: string;
  readonly facts: DatabaseFacts;
  readonly files: MigrationFile[];
  readonly options?: DetectOptions;
  readonly state: StateName;
  readonly action: PlanAction;
  readonly current?: string | null;
  readonly pending?: string[];
  readonly unknown?: string[];
  readonly apply?: string[];
  readonly stampTo?: string | null;
  readonly findings?: string[];
  readonly settle?: RegExp;
  readonly reason?: RegExp;
}

const manifest = (base: string, ...fps: [string, string][]): FingerprintManifest => ({
  base,
  revisions: fps.map(([name, fingerprint]) => ({ name, fingerprint })),
});

const cases: Case[] = [
  { title: 'no history table, no objects: fresh', facts: facts(null), files: ABC, state: 'fresh', action: 'apply', current: null, apply: ['0001_a', '0002_b', '0003_c'] },
  { title: 'empty history table counts as no history', facts: facts([]), files: ABC, state: 'fresh', action: 'apply', apply: ['0001_a', '0002_b', '0003_c'] },
  { title: 'fresh with no files: nothing to do', facts: facts(null), files: [], state: 'fresh', action: 'none' },
  { title: 'objects, no history table: legacy, refused without fingerprints', facts: facts(null, ['table users']), files: ABC, state: 'legacy', action: 'refuse', findings: ['missing-fingerprints'], settle: /snapshot|baseline/ },
  { title: 'objects, empty history table: legacy', facts: facts([], ['table users']), files: ABC, state: 'legacy', action: 'refuse', findings: ['missing-fingerprints'] },
  { title: 'legacy with a baseline: stamp then apply the rest', facts: facts(null, ['table users']), files: ABC, options: { baseline: '0002_b' }, state: 'legacy', action: 'stamp-then-apply', stampTo: '0002_b', apply: ['0003_c'] },
  { title: 'legacy with baseline head: stamp only', facts: facts(null, ['table users']), files: ABC, options: { baseline: '0003_c' }, state: 'legacy', action: 'stamp', stampTo: '0003_c', apply: [] },
  { title: 'legacy matched by fingerprint', facts: facts(null, ['table a'], { liveFingerprint: 'F1' }), files: ABC, options: { manifest: manifest('F0', ['0001_a', 'F1'], ['0002_b', 'F2'], ['0003_c', 'F3']) }, state: 'legacy', action: 'stamp-then-apply', stampTo: '0001_a', apply: ['0002_b', '0003_c'] },
  // The leading revisions of a stale manifest, where no replay could be had (a file added since the snapshot).
  { title: 'legacy matched against the first revisions of a stale manifest: stamp it, apply the rest', facts: facts(null, ['table a'], { liveFingerprint: 'F1' }), files: ABC, options: { manifest: { ...manifest('F0', ['0001_a', 'F1'], ['0002_b', 'F2']), partly: 'STALE' } }, state: 'legacy', action: 'stamp-then-apply', stampTo: '0001_a', apply: ['0002_b', '0003_c'] },
  { title: 'legacy matching the last revision a stale manifest records: refused, it may be at a later one', facts: facts(null, ['table a'], { liveFingerprint: 'F2' }), files: ABC, options: { manifest: { ...manifest('F0', ['0001_a', 'F1'], ['0002_b', 'F2']), partly: 'STALE' } }, state: 'legacy', action: 'refuse', findings: ['missing-fingerprints'], reason: /^legacy database \(table a\) matches 0002_b, the last revision recorded, and may be at a later one: STALE$/, settle: /^migrate snapshot where a scratch server is/ },
  { title: 'legacy matching none of the revisions a stale manifest records: refused, saying why they stop', facts: facts(null, ['table a'], { liveFingerprint: 'F9' }), files: ABC, options: { manifest: { ...manifest('F0', ['0001_a', 'F1'], ['0002_b', 'F2']), partly: 'STALE' } }, state: 'legacy', action: 'refuse', findings: ['missing-fingerprints'], reason: /^legacy database \(table a\) matches none of the revisions recorded: STALE$/ },
  { title: 'legacy matching a run of data-only migrations: refused by default, a baseline for each', facts: facts(null, ['table a'], { liveFingerprint: 'F1' }), files: ABC, options: { manifest: manifest('F0', ['0001_a', 'F1'], ['0002_b', 'F1'], ['0003_c', 'F3']) }, state: 'legacy', action: 'refuse', stampTo: null, findings: ['ambiguous-match'], settle: /one of: migrate auto --baseline 0001_a; migrate auto --baseline 0002_b /, reason: /legacy schema matches 0001_a, 0002_b \(the migrations between them change data, not the schema\)$/ },
  { title: 'legacy matching a run, ambiguousLegacy latest: the latest', facts: facts(null, ['table a'], { liveFingerprint: 'F1' }), files: ABC, options: { manifest: manifest('F0', ['0001_a', 'F1'], ['0002_b', 'F1'], ['0003_c', 'F3']), ambiguousLegacy: 'latest' }, state: 'legacy', action: 'stamp-then-apply', stampTo: '0002_b', apply: ['0003_c'], findings: ['ambiguous-match'] },
  { title: 'legacy matching separate revisions: refused', facts: facts(null, ['table a'], { liveFingerprint: 'F1' }), files: ABC, options: { manifest: manifest('F0', ['0001_a', 'F1'], ['0002_b', 'F2'], ['0003_c', 'F1']) }, state: 'legacy', action: 'refuse', findings: ['ambiguous-match'] },
  { title: 'legacy matching nothing: refused', facts: facts(null, ['table x'], { liveFingerprint: 'F9' }), files: ABC, options: { manifest: manifest('F0', ['0001_a', 'F1']) }, state: 'legacy', action: 'refuse', settle: /baseline/ },
  { title: 'legacy at head by fingerprint: stamp only', facts: facts(null, ['table a'], { liveFingerprint: 'F3' }), files: ABC, options: { manifest: manifest('F0', ['0001_a', 'F1'], ['0002_b', 'F2'], ['0003_c', 'F3']) }, state: 'legacy', action: 'stamp', stampTo: '0003_c' },
  { title: 'history a proper prefix: behind', facts: facts(['0001_a']), files: ABC, state: 'behind', action: 'apply', current: '0001_a', pending: ['0002_b', '0003_c'], apply: ['0002_b', '0003_c'] },
  { title: 'history equals files: current', facts: facts(['0001_a', '0002_b', '0003_c']), files: ABC, state: 'current', action: 'none', current: '0003_c', pending: [] },
  { title: 'behind ignores application objects', facts: facts(['0001_a'], ['table users']), files: ABC, state: 'behind', action: 'apply' },
  { title: 'applied name missing from disk: diverged, named', facts: facts(['0001_a', '0002_b', '0009_gone']), files: ABC, state: 'diverged', action: 'refuse', unknown: ['0009_gone'], settle: /^migrate stamp 0002_b$/ },
  { title: 'a gap: diverged, applied out of order, never stamped', facts: facts(['0001_a', '0003_c']), files: ABC, state: 'diverged', action: 'refuse', pending: ['0002_b'], settle: /^migrate up --out-of-order, which applies them in file order with the rest$/ },
  { title: 'out-of-order merge (older file added later): diverged', facts: facts(['0001_a', '0003_c']), files: files('0001_a', '0002_b', '0003_c', '0004_d'), state: 'diverged', action: 'refuse', settle: /^migrate up --out-of-order/ },
  { title: 'a gap with outOfOrder: the gap and the rest, in file order', facts: facts(['0001_a', '0003_c']), files: files('0001_a', '0002_b', '0003_c', '0004_d'), options: { outOfOrder: true }, state: 'diverged', action: 'apply', apply: ['0002_b', '0004_d'] },
  { title: 'unknown names and a gap: restore the files, then out of order; no stamp', facts: facts(['0001_a', '0003_c', '0009_gone']), files: ABC, state: 'diverged', action: 'refuse', unknown: ['0009_gone'], settle: /^restore the files of 0009_gone \(a renamed file: its old name\), then migrate up --out-of-order$/ },
  { title: 'unknown names and a gap with outOfOrder: still refused', facts: facts(['0001_a', '0003_c', '0009_gone']), files: ABC, options: { outOfOrder: true }, state: 'diverged', action: 'refuse', settle: /^restore the files/ },
  { title: 'unknown names between known ones: stamp the last known (records nothing that did not run)', facts: facts(['0001_a', '0009_gone', '0002_b']), files: ABC, state: 'diverged', action: 'refuse', settle: /^migrate stamp 0002_b$/ },
  { title: 'history of only unknown names: diverged, settle at base', facts: facts(['0007_x']), files: ABC, state: 'diverged', action: 'refuse', unknown: ['0007_x'], settle: /^migrate stamp base$/ },
  // A file renamed after it ran: `stamp 0001_a` would drop its row and the next run would apply it again.
  { title: 'a file renamed after it ran (same checksum): stamp the new name, not the last known', facts: facts(['0001_a', '0002_b'], [], { checksums: { '0002_b': 'sum-0002_b_seed' } }), files: files('0001_a', '0002_b_seed'), state: 'diverged', action: 'refuse', unknown: ['0002_b'], reason: /renamed, the same content: 0002_b → 0002_b_seed\)$/, settle: /^migrate stamp 0002_b_seed, which records 0002_b_seed as applied under the new name$/ },
  { title: 'a renamed file with newer files after it: stamp the renamed one; the rest stay pending', facts: facts(['0001_a', '0002_b'], [], { checksums: { '0002_b': 'sum-0002_b_seed' } }), files: files('0001_a', '0002_b_seed', '0003_c'), state: 'diverged', action: 'refuse', settle: /^migrate stamp 0002_b_seed, which/ },
  { title: 'a file renamed to sort after a newer pending one: rename it back (a stamp would record the pending one)', facts: facts(['0001_a', '0002_b'], [], { checksums: { '0002_b': 'sum-0009_b' } }), files: files('0001_a', '0003_c', '0009_b'), state: 'diverged', action: 'refuse', settle: /^rename 0009_b back to the name the history has \(0002_b\): stamping would let the next run apply it again$/ },
  { title: 'a renamed file beside one deleted: rename it back', facts: facts(['0001_a', '0002_b', '0003_c'], [], { checksums: { '0002_b': 'sum-0002_b2' } }), files: files('0001_a', '0002_b2'), state: 'diverged', action: 'refuse', settle: /^rename 0002_b2 back to the name the history has \(0002_b\)/ },
  { title: 'two files with the content of one gone: rename back, naming both', facts: facts(['0001_a', '0002_b'], [], { checksums: { '0002_b': 'same' } }), files: [file('0001_a'), file('0002_x', 'same'), file('0003_y', 'same')], state: 'diverged', action: 'refuse', settle: /^rename 0002_x, 0003_y back to the name the history has \(0002_b\)/ },
  // Written by plain node-pg-migrate, the row has no checksum: a rename cannot be told from a deletion, so the stamp says when it is right.
  { title: 'a file gone whose row has no checksum, with a file not applied: the stamp, only if it was deleted', facts: { ...facts(['0001_a', '0002_b']), applied: [{ name: '0001_a', runOn: null, checksum: null, durationMs: null, appliedBy: null }, { name: '0002_b', runOn: null, checksum: null, durationMs: null, appliedBy: null }] }, files: files('0001_a', '0003_seed'), state: 'diverged', action: 'refuse', settle: /^migrate stamp 0001_a, only if 0002_b was deleted: a file renamed after it ran is to be renamed back, or the next run applies it again under its new name$/ },
  { title: 'a file gone whose row has no checksum, nothing pending: the stamp alone', facts: { ...facts(['0001_a', '0002_b']), applied: [{ name: '0001_a', runOn: null, checksum: null, durationMs: null, appliedBy: null }, { name: '0002_b', runOn: null, checksum: null, durationMs: null, appliedBy: null }] }, files: files('0001_a'), state: 'diverged', action: 'refuse', settle: /^migrate stamp 0001_a$/ },
  { title: 'files reordered by a rename: diverged', facts: facts(['0001_a', '0002_b']), files: files('0001_a', '0002_a_renamed', '0003_b'), state: 'diverged', action: 'refuse', unknown: ['0002_b'] },
  { title: 'edited applied file: checksum-mismatch refuses, pointing at repair', facts: facts(['0001_a', '0002_b'], [], { checksums: { '0001_a': 'old' } }), files: ABC, state: 'behind', action: 'refuse', findings: ['checksum-mismatch'], settle: /^restore the file, or record it as it is now with migrate repair \(--allow-modified passes this run only\)$/ },
  { title: 'edited applied file with allowModified: applies', facts: facts(['0001_a', '0002_b'], [], { checksums: { '0001_a': 'old' } }), files: ABC, options: { allowModified: true }, state: 'behind', action: 'apply', findings: ['checksum-mismatch'] },
  // A file that starts with a byte order mark: its checksum leaves the mark out; a runner before that recorded it with the mark.
  { title: 'a file with a byte order mark, recorded with the mark by an earlier runner: no finding', facts: facts(['0001_a', '0002_b'], [], { checksums: { '0001_a': 'with-bom' } }), files: [{ ...file('0001_a'), checksumWithBom: 'with-bom' }, file('0002_b'), file('0003_c')], state: 'behind', action: 'apply', findings: [] },
  { title: 'a file with a byte order mark whose text was edited: checksum-mismatch', facts: facts(['0001_a', '0002_b'], [], { checksums: { '0001_a': 'old' } }), files: [{ ...file('0001_a'), checksumWithBom: 'with-bom' }, file('0002_b'), file('0003_c')], state: 'behind', action: 'refuse', findings: ['checksum-mismatch'] },
  { title: 'a renamed file known by the checksum an earlier runner recorded with its byte order mark', facts: facts(['0001_a', '0002_b'], [], { checksums: { '0002_b': 'with-bom' } }), files: [file('0001_a'), { ...file('0002_b_seed'), checksumWithBom: 'with-bom' }], state: 'diverged', action: 'refuse', unknown: ['0002_b'], settle: /^migrate stamp 0002_b_seed, which records 0002_b_seed as applied under the new name$/ },
  { title: 'two gone names, one recorded with a byte order mark and one without, and one file of that text: no exact rename', facts: facts(['0001_a', '0002_old', '0003_old'], [], { checksums: { '0002_old': 'with-bom', '0003_old': 'sum-0002_new' } }), files: [file('0001_a'), { ...file('0002_new'), checksumWithBom: 'with-bom' }], state: 'diverged', action: 'refuse', unknown: ['0002_old', '0003_old'], reason: /^(?!.*renamed, the same content)/, settle: /^rename 0002_new back to the names the history has \(0002_old, 0003_old\)/ },
  { title: 'unrecorded checksum (plain node-pg-migrate) is no finding', facts: { ...facts(['0001_a']), applied: [{ name: '0001_a', runOn: new Date(), checksum: null, durationMs: null, appliedBy: null }] }, files: ABC, state: 'behind', action: 'apply', findings: [] },
  { title: 'drift on current: finding, plan none', facts: facts(['0001_a', '0002_b', '0003_c'], ['table a'], { liveFingerprint: 'FX' }), files: ABC, options: { manifest: manifest('F0', ['0003_c', 'F3']) }, state: 'current', action: 'none', findings: ['drift'] },
  { title: 'drift with refuseOnDrift: refused', facts: facts(['0001_a', '0002_b', '0003_c'], ['table a'], { liveFingerprint: 'FX' }), files: ABC, options: { manifest: manifest('F0', ['0003_c', 'F3']), refuseOnDrift: true }, state: 'current', action: 'refuse', findings: ['drift'] },
  { title: 'no drift when the fingerprint matches', facts: facts(['0001_a', '0002_b', '0003_c'], ['table a'], { liveFingerprint: 'F3' }), files: ABC, options: { manifest: manifest('F0', ['0003_c', 'F3']) }, state: 'current', action: 'none', findings: [] },
];

describe('detectState', () => {
  test.each(cases)('$title', (c) => {
    const d = detectState(c.facts, c.files, c.options);
    expect(d.state).toBe(c.state);
    expect(d.plan.action).toBe(c.action);
    if (c.current !== undefined) expect(d.current).toBe(c.current);
    if (c.pending) expect(d.pending).toEqual(c.pending);
    if (c.unknown) expect(d.unknown).toEqual(c.unknown);
    if (c.apply) expect(d.plan.apply).toEqual(c.apply);
    if (c.stampTo !== undefined) expect(d.plan.stampTo).toBe(c.stampTo);
    if (c.findings) expect(d.findings.map((f) => f.kind)).toEqual(c.findings);
    if (c.settle) expect(settleCommandOf(d.plan)).toMatch(c.settle);
    if (c.reason) expect(d.plan.reason).toMatch(c.reason);
    expect(d.head).toBe(c.files.at(-1)?.name ?? null);
  });

  test('the result is frozen, deeply', () => {
    const d = detectState(facts(['0001_a']), ABC);
    expect(Object.isFrozen(d)).toBe(true);
    expect(Object.isFrozen(d.plan)).toBe(true);
    expect(Object.isFrozen(d.plan.apply)).toBe(true);
    expect(Object.isFrozen(d.pending)).toBe(true);
  });

  test('an unknown baseline is an UnknownRevisionError', () => {
    expect(() => detectState(facts(null, ['table a']), ABC, { baseline: '0042_nope' })).toThrow(UnknownRevisionError);
  });

  test('drift carries the explained differences for the current revision', () => {
    const seen: (string | null)[] = [];
    const d = detectState(facts(['0001_a'], ['table a'], { liveFingerprint: 'FX' }), ABC, {
      manifest: manifest('F0', ['0001_a', 'F1']),
      explainDifference: (rev) => {
        seen.push(rev);
        return ['table "extra" is extra in the database'];
      },
    });
    expect(seen).toEqual(['0001_a']);
    expect(d.findings).toEqual([{ kind: 'drift', revision: '0001_a', differences: ['table "extra" is extra in the database'] }]);
  });

  test.each([
    [10, /^history diverged from the files \(applied but not on disk: x01, x02, x03, x04, x05, x06, x07, x08, x09, x10\)$/],
    [11, /^history diverged from the files \(applied but not on disk: x01, .*, x10 and 1 more \(migrate status lists them all\)\)$/],
    [500, /: x01, .*, x10 and 490 more \(migrate status lists them all\)\)$/],
  ])('a refusal names at most ten migrations (%i unknown)', (count, reason) => {
    const names = Array.from({ length: count }, (_, i) => `x${String(i + 1).padStart(2, '0')}`);
    const d = detectState(facts(names), ABC);
    expect(d.unknown).toHaveLength(count);
    expect(d.plan.reason).toMatch(reason);
  });

  test('duplicate history rows do not make a database diverged; they are a finding, with the stamp that clears them', () => {
    const d = detectState(facts(['0001_a', '0001_a', '0002_b']), ABC);
    expect(d.state).toBe('behind');
    expect(d.applied).toEqual(['0001_a', '0002_b']);
    expect(d.findings).toEqual([{ kind: 'duplicate-history', names: ['0001_a'], settle: 'migrate stamp 0002_b' }]);
    expect(detectState(facts(['0001_a', '0002_b']), ABC).findings).toEqual([]);
  });

  test('an edited file that the history names twice is one finding, and one repair', () => {
    const d = detectState(facts(['0001_a', '0001_a', '0002_b'], [], { checksums: { '0001_a': 'old' } }), ABC);
    expect(d.findings.filter((f) => f.kind === 'checksum-mismatch')).toEqual([{ kind: 'checksum-mismatch', name: '0001_a', recorded: 'old', actual: 'sum-0001_a' }]);
    expect(d.plan.reason).toBe('applied migration edited since it ran: 0001_a');
  });
});

/**
 * No printed advice records a file as applied that did not run: for every
 * history with a gap, what the detector and the planner tell a human to run
 * never stamps (a stamp of a revision at or after a gap records the gap).
 */
describe('advice never stamps over a gap', () => {
  const histories: [string, string[], string[]][] = [
    ['a late merge', ['0001_a', '0003_c'], ['0001_a', '0002_b', '0003_c']],
    ['a late merge and newer files', ['0001_a', '0003_c'], ['0001_a', '0002_b', '0003_c', '0004_d']],
    ['two gaps', ['0001_a', '0003_c', '0005_e'], ['0001_a', '0002_b', '0003_c', '0004_d', '0005_e']],
    ['a gap at the start', ['0002_b'], ['0001_a', '0002_b']],
    ['a gap and a file gone', ['0001_a', '0003_c', '0009_gone'], ['0001_a', '0002_b', '0003_c']],
  ];
  test.each(histories)('%s', async (_title, applied, names) => {
    const { planCommand } = await import('../../src/core/commandPlanner.js');
    const d = detectState(facts(applied), files(...names));
    expect(d.state).toBe('diverged');
    const advice = [settleCommandOf(d.plan), ...(['up', 'down'] as const).map((kind) => settleCommandOf(planCommand({ kind }, d, names)))];
    for (const text of advice) {
      expect(text).toBeDefined();
      expect(text).not.toMatch(/stamp/);
      expect(text).toMatch(/--out-of-order/);
    }
  });
});

/** Probes settle a legacy schema that matches a run of revisions (README, "Probes"). */
describe('probes choose among the revisions a legacy schema matches', () => {
  // 0001_a makes the schema; 0002_b, 0003_c and 0004_d change data only; 0005_e changes the schema.
  const run = files('0001_a', '0002_b', '0003_c', '0004_d', '0005_e');
  const same = manifest('F0', ['0001_a', 'F1'], ['0002_b', 'F1'], ['0003_c', 'F1'], ['0004_d', 'F1'], ['0005_e', 'F5']);
  const answer = (name: string, present: boolean | null): ProbeAnswer =>
    present === null ? { name, kind: 'code', present, unanswered: 'a JS/TS probe' } : { name, kind: 'sql', present };
  const cases: [string, ProbeAnswer[], DetectOptions, string | null, string[], RegExp][] = [
    ['every probe present: the latest', [answer('0002_b', true), answer('0003_c', true), answer('0004_d', true)], {}, '0004_d', ['0004_d'], /the probe of 0004_d says present: 0004_d/],
    ['the first absent: the one before it', [answer('0002_b', true), answer('0003_c', false), answer('0004_d', false)], {}, '0002_b', ['0002_b', '0003_c'], /the probe of 0002_b says present, the probe of 0003_c says absent: 0002_b/],
    ['absent from the first: the first candidate', [answer('0002_b', false)], {}, '0001_a', ['0002_b'], /the probe of 0002_b says absent: 0001_a/],
    ['a present probe after unprobed ones: those ran before it', [answer('0004_d', true)], {}, '0004_d', ['0004_d'], /0004_d says present/],
    ['present, then no probe, then absent: still open, refused', [answer('0002_b', true), answer('0004_d', false)], {}, null, [], /which leaves 0002_b, 0003_c/],
    ['still open with ambiguousLegacy latest: the latest left open', [answer('0002_b', true), answer('0004_d', false)], { ambiguousLegacy: 'latest' }, '0003_c', [], /ambiguousLegacy is latest: 0003_c/],
    ['an earlier absent and a later present contradict the order: refused', [answer('0002_b', false), answer('0003_c', true)], { ambiguousLegacy: 'latest' }, null, [], /the probe of 0003_c says present but the probe of 0002_b says absent, which runs before it/],
    ['a probe not asked decides nothing, and says why', [answer('0002_b', null)], {}, null, [], /the probe of 0002_b was not asked: a JS\/TS probe/],
  ];
  test.each(cases)('%s', (_title, probes, options, chosen, decidedBy, reason) => {
    const d = detectState({ ...facts(null, ['table a'], { liveFingerprint: 'F1' }), probes }, run, { manifest: same, ...options });
    expect(d.plan.reason).toMatch(reason);
    const finding = d.findings.find((f) => f.kind === 'ambiguous-match');
    expect(finding).toMatchObject({ revisions: ['0001_a', '0002_b', '0003_c', '0004_d'], chosen, decidedBy, probes });
    if (chosen === null) expect(d.plan).toMatchObject({ action: 'refuse', stampTo: null });
    else expect(d.plan).toMatchObject({ action: 'stamp-then-apply', stampTo: chosen, apply: run.map((f) => f.name).slice(run.findIndex((f) => f.name === chosen) + 1) });
  });

  test('the probes wanted are those of the migrations after the first candidate, asked once', () => {
    const legacy = facts(null, ['table a'], { liveFingerprint: 'F1' });
    const d = detectState(legacy, run, { manifest: same });
    expect(probesWanted(d, legacy)).toEqual(['0002_b', '0003_c', '0004_d']);
    expect(probesWanted(d, { ...legacy, probes: [] })).toEqual([]);
    // Revisions apart: no probe can reconcile them.
    const apart = detectState(legacy, run, { manifest: manifest('F0', ['0001_a', 'F1'], ['0002_b', 'F2'], ['0003_c', 'F1']) });
    expect(probesWanted(apart, legacy)).toEqual([]);
  });

  test('base among the candidates', () => {
    const d = detectState({ ...facts(null, ['table a'], { liveFingerprint: 'F0' }), probes: [answer('0001_a', false)] }, run, { manifest: manifest('F0', ['0001_a', 'F0'], ['0002_b', 'F2']) });
    expect(d.plan).toMatchObject({ action: 'apply', apply: run.map((f) => f.name) });
  });
});
