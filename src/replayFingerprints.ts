/**
 * The replay a look is handed (src/observe.ts `ReplayFingerprints`): without
 * a usable manifest, fingerprints come from replaying the migrations in a
 * scratch database on the scratch server (README "The scratch server"),
 * never on the target's server unless `scratch: target` chooses it; else
 * none, and why (the detector then reports missing-fingerprints and how to
 * fix it).
 */
import type { Logger } from './config/logger.js';
import type { Settings } from './config/settings.js';
import { computeManifest, ReplayFailedError, ScratchDatabaseError, ScratchUnavailableError } from './fingerprints/replay.js';
import type { ReplayFingerprints } from './observe.js';

/** A replay in a scratch database for `settings`; `signal` stops it (its scratch database goes). */
export function replayFingerprintsFor(settings: Settings, logger: Logger, signal?: AbortSignal): ReplayFingerprints {
  return async ({ files, staleness, targetMajor }) => {
    logger.info(
      staleness
        ? `the fingerprint manifest is stale (${staleness}): computing fingerprints in a scratch database`
        : 'no fingerprint manifest: computing fingerprints by replaying the migrations in a scratch database',
    );
    try {
      return { manifest: await computeManifest({ settings, logger, ...(targetMajor !== undefined && { targetMajor }), ...(signal && { signal }) }, files) };
    } catch (error) {
      if (!(error instanceof ScratchDatabaseError || error instanceof ScratchUnavailableError || error instanceof ReplayFailedError)) throw error;
      logger.warn(`${error.message}${error.hint ? ` (${error.hint})` : ''}`);
      return { manifest: null, whyNoFingerprints: `none could be computed (${error.message})` };
    }
  };
}
