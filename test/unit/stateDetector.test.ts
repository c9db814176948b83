/**
 * Table-driven tests of the pure detector: every state, edge and finding
 * (CONTRACT.md "The states"), built from literals, no database.
 */
import { detectState, type DetectOptions, type FingerprintManifest } from '../../src/stateDetector.js';
import { UnknownRevisionError } from '../../src/errors.js';
import type { DatabaseFacts, MigrationFile, StateName, PlanAction } from '../../src/types.js';

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
  { title: 'legacy matching a run of data-only migrations: latest, ambiguous-match', facts: facts(null, ['table a'], { liveFingerprint: 'F1' }), files: ABC, options: { manifest: manifest('F0', ['0001_a', 'F1'], ['0002_b', 'F1'], ['0003_c', 'F3']) }, state: 'legacy', action: 'stamp-then-apply', stampTo: '0002_b', apply: ['0003_c'], findings: ['ambiguous-match'] },
  { title: 'legacy matching separate revisions: refused', facts: facts(null, ['table a'], { liveFingerprint: 'F1' }), files: ABC, options: { manifest: manifest('F0', ['0001_a', 'F1'], ['0002_b', 'F2'], ['0003_c', 'F1']) }, state: 'legacy', action: 'refuse', findings: ['ambiguous-match'] },
  { title: 'legacy matching nothing: refused', facts: facts(null, ['table x'], { liveFingerprint: 'F9' }), files: ABC, options: { manifest: manifest('F0', ['0001_a', 'F1']) }, state: 'legacy', action: 'refuse', settle: /baseline/ },
  { title: 'legacy at head by fingerprint: stamp only', facts: facts(null, ['table a'], { liveFingerprint: 'F3' }), files: ABC, options: { manifest: manifest('F0', ['0001_a', 'F1'], ['0002_b', 'F2'], ['0003_c', 'F3']) }, state: 'legacy', action: 'stamp', stampTo: '0003_c' },
  { title: 'history a proper prefix: behind', facts: facts(['0001_a']), files: ABC, state: 'behind', action: 'apply', current: '0001_a', pending: ['0002_b', '0003_c'], apply: ['0002_b', '0003_c'] },
  { title: 'history equals files: current', facts: facts(['0001_a', '0002_b', '0003_c']), files: ABC, state: 'current', action: 'none', current: '0003_c', pending: [] },
  { title: 'behind ignores application objects', facts: facts(['0001_a'], ['table users']), files: ABC, state: 'behind', action: 'apply' },
  { title: 'applied name missing from disk: diverged, named', facts: facts(['0001_a', '0002_b', '0009_gone']), files: ABC, state: 'diverged', action: 'refuse', unknown: ['0009_gone'], settle: /^migrate stamp 0002_b$/ },
  { title: 'a gap: diverged', facts: facts(['0001_a', '0003_c']), files: ABC, state: 'diverged', action: 'refuse', pending: ['0002_b'], settle: /^migrate stamp 0003_c$/ },
  { title: 'out-of-order merge (older file added later): diverged', facts: facts(['0001_a', '0003_c']), files: files('0001_a', '0002_b', '0003_c', '0004_d'), state: 'diverged', action: 'refuse' },
  { title: 'history of only unknown names: diverged, settle at base', facts: facts(['0007_x']), files: ABC, state: 'diverged', action: 'refuse', unknown: ['0007_x'], settle: /^migrate stamp base$/ },
  { title: 'files reordered by a rename: diverged', facts: facts(['0001_a', '0002_b']), files: files('0001_a', '0002_a_renamed', '0003_b'), state: 'diverged', action: 'refuse', unknown: ['0002_b'] },
  { title: 'edited applied file: checksum-mismatch refuses', facts: facts(['0001_a', '0002_b'], [], { checksums: { '0001_a': 'old' } }), files: ABC, state: 'behind', action: 'refuse', findings: ['checksum-mismatch'], settle: /allow-modified/ },
  { title: 'edited applied file with allowModified: applies', facts: facts(['0001_a', '0002_b'], [], { checksums: { '0001_a': 'old' } }), files: ABC, options: { allowModified: true }, state: 'behind', action: 'apply', findings: ['checksum-mismatch'] },
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
    if (c.settle) expect(d.plan.settleCommand).toMatch(c.settle);
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

  test('duplicate history rows do not make a database diverged', () => {
    const d = detectState(facts(['0001_a', '0001_a', '0002_b']), ABC);
    expect(d.state).toBe('behind');
    expect(d.applied).toEqual(['0001_a', '0002_b']);
  });
});
