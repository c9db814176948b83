/**
 * What a look must read next (src/core/nextRead.ts), from literals: each row
 * a look so far and the read it leads to. src/observe.ts performs the reads;
 * test/integration/fingerprints.test.ts and states.test.ts show them end to end.
 */
import { nextRead, type CommittedManifest, type LookSoFar, type NextRead } from '../../src/core/nextRead.js';
import { detectState } from '../../src/core/stateDetector.js';
import type { DatabaseFacts, MigrationFile, StateName } from '../../src/core/types.js';

const file = (name: string): MigrationFile => ({ name, fileName: `${name}.sql`, path: `/m/${name}.sql`, extension: '.sql', checksum: `sum-${name}` });
const FILES = ['0001_a', '0002_b', '0003_c', '0004_d'].map(file);

const row = (name: string, i: number) => ({ name, checksum: `sum-${name}`, runOn: new Date(2026, 0, 1, 0, 0, i), durationMs: 1, appliedBy: 'test' });
const FACTS: Record<Exclude<StateName, 'diverged'>, DatabaseFacts> = {
  fresh: { historyTableExists: false, applied: [], applicationObjects: [] },
  legacy: { historyTableExists: false, applied: [], applicationObjects: ['table users'] },
  behind: { historyTableExists: true, applied: FILES.slice(0, 2).map((f, i) => row(f.name, i)), applicationObjects: [] },
  current: { historyTableExists: true, applied: FILES.map((f, i) => row(f.name, i)), applicationObjects: [] },
};

/** A legacy schema whose fingerprint F1 is that of 0001_a and 0002_b alike: the probe of 0002_b could settle it. */
const AMBIGUOUS: DatabaseFacts = { ...FACTS.legacy, liveFingerprint: 'F1' };
const AMBIGUOUS_MANIFEST = {
  base: 'F0',
  revisions: [{ name: '0001_a', fingerprint: 'F1' }, { name: '0002_b', fingerprint: 'F1' }, { name: '0003_c', fingerprint: 'F3' }, { name: '0004_d', fingerprint: 'F4' }],
};

const look = (state: Exclude<StateName, 'diverged'>, over: Partial<LookSoFar> = {}): LookSoFar => ({
  detection: detectState(FACTS[state], FILES),
  facts: FACTS[state],
  baseline: false,
  checkDrift: true,
  reconcile: 'replay',
  committed: 'unread',
  computed: false,
  replayFailed: false,
  liveSchemaRead: false,
  ...over,
});

const USABLE: CommittedManifest = { stale: false, currentFormat: true };
const STALE: CommittedManifest = { stale: true, currentFormat: true };
const OLDER_FORMAT: CommittedManifest = { stale: false, currentFormat: false };
const STALE_OLDER_FORMAT: CommittedManifest = { stale: true, currentFormat: false };

const CASES: readonly [string, LookSoFar, NextRead][] = [
  // The committed manifest: read only when an answer may need it.
  ['legacy: the manifest first', look('legacy'), { read: 'manifest' }],
  ['legacy without drift checks: the manifest still, to reconcile', look('legacy', { checkDrift: false }), { read: 'manifest' }],
  ['legacy with a baseline and no drift check: nothing to match, nothing read', look('legacy', { baseline: true, checkDrift: false }), { read: 'nothing' }],
  ['current, checking drift: the manifest', look('current'), { read: 'manifest' }],
  ['current, not checking drift: nothing read', look('current', { checkDrift: false }), { read: 'nothing' }],
  ['fresh, not checking drift: nothing read', look('fresh', { checkDrift: false }), { read: 'nothing' }],

  // Drift: a current or behind database against a committed manifest of the current format.
  ['current with a usable manifest: the live schema against it', look('current', { committed: USABLE }), { read: 'live-schema', against: 'committed' }],
  ['behind with a usable manifest: the live schema against it', look('behind', { committed: USABLE }), { read: 'live-schema', against: 'committed' }],
  ['current with a stale manifest: drift checked for the revisions it records', look('current', { committed: STALE }), { read: 'live-schema', against: 'committed' }],
  ['current with a manifest of an older format: nothing compared', look('current', { committed: OLDER_FORMAT }), { read: 'nothing' }],
  ['current with no manifest: nothing to compare', look('current', { committed: 'absent' }), { read: 'nothing' }],
  ['fresh with a manifest: no drift to check before anything ran', look('fresh', { committed: USABLE }), { read: 'nothing' }],
  ['legacy with a baseline and a manifest: stamped as told, no match read', look('legacy', { baseline: true, committed: USABLE }), { read: 'nothing' }],

  // Reconciling a legacy database.
  ['legacy with a usable manifest: the live schema against it', look('legacy', { committed: USABLE }), { read: 'live-schema', against: 'committed' }],
  ['legacy with a usable manifest of an older format: matched as it is', look('legacy', { committed: OLDER_FORMAT }), { read: 'live-schema', against: 'committed' }],
  ['legacy with no manifest: a replay', look('legacy', { committed: 'absent' }), { read: 'replay' }],
  ['legacy with a stale manifest: a replay', look('legacy', { committed: STALE }), { read: 'replay' }],
  ['legacy with a stale manifest of an older format: a replay', look('legacy', { committed: STALE_OLDER_FORMAT }), { read: 'replay' }],
  ['legacy, a computed manifest at hand: the live schema against it, no replay', look('legacy', { committed: 'absent', computed: true }), { read: 'live-schema', against: 'computed' }],
  ['legacy, a stale manifest and a computed one: the computed one', look('legacy', { committed: STALE, computed: true }), { read: 'live-schema', against: 'computed' }],
  ['legacy, a usable manifest and a computed one: the committed one', look('legacy', { committed: USABLE, computed: true }), { read: 'live-schema', against: 'committed' }],
  ['legacy, a stale manifest whose first revisions still hold: a replay first', look('legacy', { committed: { ...STALE, leading: true } }), { read: 'replay' }],
  ['legacy, the replay failed, a stale manifest whose first revisions still hold: against those', look('legacy', { committed: { ...STALE, leading: true }, replayFailed: true }), { read: 'live-schema', against: 'leading' }],
  ['legacy, the replay failed, a stale manifest none of whose revisions hold: nothing more', look('legacy', { committed: STALE, replayFailed: true }), { read: 'nothing' }],
  ['legacy, the replay failed: nothing more (the detection says why)', look('legacy', { committed: 'absent', replayFailed: true }), { read: 'nothing' }],
  ['legacy, reconcile manifest, none usable: a replay is needed, not made', look('legacy', { committed: 'absent', reconcile: 'manifest' }), { read: 'nothing', replayNeeded: true }],
  ['legacy, reconcile manifest, a stale one: a replay is needed', look('legacy', { committed: STALE, reconcile: 'manifest' }), { read: 'nothing', replayNeeded: true }],
  ['legacy, reconcile manifest, a computed one at hand: the live schema against it', look('legacy', { committed: 'absent', reconcile: 'manifest', computed: true }), { read: 'live-schema', against: 'computed' }],
  ['legacy, reconcile manifest, a usable one: the live schema against it', look('legacy', { committed: USABLE, reconcile: 'manifest' }), { read: 'live-schema', against: 'committed' }],

  // reconcile none: the match is not looked for; a manifest at hand says so in the detection.
  ['legacy, reconcile none, a usable manifest: detected against it, no schema read', look('legacy', { committed: USABLE, reconcile: 'none' }), { read: 'nothing', detectAgainst: 'committed' }],
  ['legacy, reconcile none, a stale manifest and a computed one: against the computed one', look('legacy', { committed: STALE, reconcile: 'none', computed: true }), { read: 'nothing', detectAgainst: 'computed' }],
  ['legacy, reconcile none, no manifest at hand: as detected', look('legacy', { committed: 'absent', reconcile: 'none' }), { read: 'nothing' }],
  ['legacy, reconcile none, only a stale manifest: as detected', look('legacy', { committed: STALE, reconcile: 'none' }), { read: 'nothing' }],
  ['current, reconcile none: drift is still checked', look('current', { committed: USABLE, reconcile: 'none' }), { read: 'live-schema', against: 'committed' }],

  // After the live schema: the probes, when a run of revisions matched and they were not asked.
  ['drift checked: nothing more', look('current', { committed: USABLE, liveSchemaRead: true }), { read: 'nothing' }],
  ['legacy matched one revision: nothing more', look('legacy', { committed: USABLE, liveSchemaRead: true }), { read: 'nothing' }],
  [
    'legacy matched a run of revisions: the probes of those after the first',
    look('legacy', { committed: USABLE, liveSchemaRead: true, facts: AMBIGUOUS, detection: detectState(AMBIGUOUS, FILES, { manifest: AMBIGUOUS_MANIFEST }) }),
    { read: 'probes', names: ['0002_b'] },
  ],
  [
    'legacy matched a run, the probes asked: nothing more',
    look('legacy', {
      committed: USABLE,
      liveSchemaRead: true,
      facts: { ...AMBIGUOUS, probes: [] },
      detection: detectState({ ...AMBIGUOUS, probes: [] }, FILES, { manifest: AMBIGUOUS_MANIFEST }),
    }),
    { read: 'nothing' },
  ],
];

test.each(CASES)('%s', (_title, soFar, expected) => {
  expect(nextRead(soFar)).toEqual(expected);
});

test('a look ends: each read, made, is not asked for again', () => {
  // Walks the reads the table's legacy rows lead to, recording each as made, the way src/observe.ts does.
  let soFar = look('legacy', { facts: AMBIGUOUS, detection: detectState(AMBIGUOUS, FILES) });
  const reads: string[] = [];
  for (let step = 0; step < 10; step++) {
    const next = nextRead(soFar);
    reads.push(next.read);
    if (next.read === 'nothing') break;
    if (next.read === 'manifest') soFar = { ...soFar, committed: 'absent' };
    if (next.read === 'replay') soFar = { ...soFar, computed: true };
    if (next.read === 'live-schema') soFar = { ...soFar, liveSchemaRead: true, detection: detectState(AMBIGUOUS, FILES, { manifest: AMBIGUOUS_MANIFEST }) };
    if (next.read === 'probes') soFar = { ...soFar, facts: { ...AMBIGUOUS, probes: [] } };
  }
  expect(reads).toEqual(['manifest', 'replay', 'live-schema', 'probes', 'nothing']);
});
