/**
 * What a look at the database must read next: the read-only half's
 * decisions (src/observe.ts), pure like the detector beside it. A look reads
 * the files and the facts, detects, then reads only what the answer needs,
 * in this order: the committed manifest (to reconcile a legacy database or
 * check drift), fingerprints from a replay (a legacy database without a
 * usable manifest), the live schema (to match or check it against a
 * manifest), the migrations' probes (a match the schema cannot settle).
 * Reading a large schema, and a replay most of all, cost far more than the
 * rest of a look, so each is read only when the answer depends on it
 * (README "The states"); test/unit/nextRead.test.ts is the table.
 */
import { probesWanted } from './stateDetector.js';
import type { DatabaseFacts, Detection } from './types.js';

/**
 * How far a look goes to find the revision a legacy database matches:
 * `replay` computes fingerprints in a scratch database when no usable
 * manifest is at hand; `manifest` only uses one at hand and reports that a
 * replay is needed otherwise; `none` does not look for the match (the
 * detection then says the live fingerprint was not computed).
 */
export type Reconcile = 'replay' | 'manifest' | 'none';

/** The committed manifest (the file `migrate snapshot` writes), as far as it has been read. */
export type CommittedManifest =
  | 'unread'
  | 'absent'
  | {
      /** It does not describe the files as they are (a file added or edited since the snapshot). */
      readonly stale: boolean;
      /** Of the current model format: its fingerprints compare with the live schema's. */
      readonly currentFormat: boolean;
      /**
       * Stale, but its first revisions still describe the files (a file added
       * or edited after them): a legacy database is matched against those
       * where no replay could be had (manifest.ts, describedRevisions).
       */
      readonly leading?: boolean;
    };

/** What a look has read so far, and what it was asked for. */
export interface LookSoFar {
  /** The detection from what has been read so far. */
  readonly detection: Detection;
  /** The facts it was made from (the probes' answers among them, once asked). */
  readonly facts: DatabaseFacts;
  /** A baseline is given: a legacy database is stamped at it, no match is looked for. */
  readonly baseline: boolean;
  /** Read the live schema to look for drift when a current-format manifest is committed. */
  readonly checkDrift: boolean;
  readonly reconcile: Reconcile;
  readonly committed: CommittedManifest;
  /** A computed manifest is at hand: an earlier look's of this run, or this look's replay. */
  readonly computed: boolean;
  /** This look's replay failed (the detection says why). */
  readonly replayFailed: boolean;
  /** The live schema has been read and the detection made against it. */
  readonly liveSchemaRead: boolean;
}

/** Which manifest a match or a drift check is made against; `leading`: the committed one's revisions that still describe the files. */
export type ManifestChoice = 'committed' | 'computed' | 'leading';

export type NextRead =
  | { readonly read: 'manifest' }
  | { readonly read: 'replay' }
  | { readonly read: 'live-schema'; readonly against: ManifestChoice }
  | { readonly read: 'probes'; readonly names: readonly string[] }
  /** The detection so far is the answer. */
  | { readonly read: 'nothing' }
  /** A legacy database needs fingerprints from a replay that `reconcile: 'manifest'` did not allow. */
  | { readonly read: 'nothing'; readonly replayNeeded: true }
  /** `reconcile: 'none'`: detect against this manifest without reading the live schema (no match is made). */
  | { readonly read: 'nothing'; readonly detectAgainst: ManifestChoice };

export function nextRead(look: LookSoFar): NextRead {
  const { detection, committed } = look;
  const reconciling = detection.state === 'legacy' && !look.baseline;
  if (committed === 'unread') {
    // Not even read when nothing here needs it: a large schema's manifest is hundreds of kilobytes.
    return reconciling || look.checkDrift ? { read: 'manifest' } : { read: 'nothing' };
  }
  if (look.liveSchemaRead) {
    // A match the schema cannot settle: the migrations' probes are asked, and their answers are facts.
    const names = probesWanted(detection, look.facts);
    return names.length ? { read: 'probes', names } : { read: 'nothing' };
  }
  const committedUsable = committed !== 'absent' && !committed.stale;
  if (reconciling) {
    if (look.reconcile === 'none') {
      // Say that the match was not looked for, rather than that nothing was recorded.
      if (committedUsable) return { read: 'nothing', detectAgainst: 'committed' };
      return look.computed ? { read: 'nothing', detectAgainst: 'computed' } : { read: 'nothing' };
    }
    if (committedUsable) return { read: 'live-schema', against: 'committed' };
    if (look.computed) return { read: 'live-schema', against: 'computed' };
    // No replay to be had (no scratch server in a production image): the revisions a stale manifest still
    // records are matched rather than none; the detection says where they stop.
    if (look.replayFailed) return committed !== 'absent' && committed.leading ? { read: 'live-schema', against: 'leading' } : { read: 'nothing' };
    return look.reconcile === 'replay' ? { read: 'replay' } : { read: 'nothing', replayNeeded: true };
  }
  // A manifest of an older format has fingerprints of another model: its staleness is reported, nothing
  // is compared. A stale one still records the revisions it has, which drift is checked against.
  const checkingDrift =
    look.checkDrift && committed !== 'absent' && committed.currentFormat && (detection.state === 'current' || detection.state === 'behind');
  return checkingDrift ? { read: 'live-schema', against: 'committed' } : { read: 'nothing' };
}
