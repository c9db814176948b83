/**
 * What `up`, `down` and `stamp` would do, decided from a detection: pure, like
 * the detector (no `pg`, no `fs`). `auto` simply follows the detector's plan.
 */
import { UnknownRevisionError, UsageError } from './errors.js';
import { countOf } from './stateDetector.js';
import type { Detection, Plan } from './types.js';

export type RunCommand =
  | { readonly kind: 'auto' }
  /** `head`, a migration name, or `+N`. */
  | { readonly kind: 'up'; readonly target?: string }
  /** A name (which stays applied) or `base`; else `steps` (default 1). */
  | { readonly kind: 'down'; readonly target?: string; readonly steps?: number }
  | { readonly kind: 'stamp'; readonly revision: string };

export function planCommand(command: RunCommand, detection: Detection, fileNames: readonly string[]): Plan {
  switch (command.kind) {
    case 'auto':
      return detection.plan;
    case 'up':
      return planUp(detection, command.target ?? 'head');
    case 'down':
      return planDown(detection, fileNames, command);
    case 'stamp':
      return planStamp(fileNames, command.revision);
  }
}

function planUp(d: Detection, target: string): Plan {
  const refusal = refuseIrregular(d, 'up');
  if (refusal) return refusal;
  let apply: readonly string[];
  const relative = /^\+(\d+)$/.exec(target);
  if (target === 'head') apply = d.pending;
  else if (relative) {
    const count = Number(relative[1]);
    if (count < 1) throw new UsageError(`up ${target}: the count must be at least 1`);
    apply = d.pending.slice(0, count);
  } else {
    const index = d.pending.indexOf(target);
    if (index < 0) {
      if (d.applied.includes(target)) return plan('none', [], `${target} is already applied`);
      throw new UnknownRevisionError(target);
    }
    apply = d.pending.slice(0, index + 1);
  }
  return apply.length ? plan('apply', apply, `apply ${countOf(apply)}`) : plan('none', [], 'up to date');
}

function planDown(d: Detection, fileNames: readonly string[], command: { target?: string; steps?: number }): Plan {
  const refusal = refuseIrregular(d, 'down');
  if (refusal) return refusal;
  const applied = fileNames.filter((n) => d.applied.includes(n));
  let revert: string[];
  if (command.target !== undefined) {
    if (command.target === 'base') revert = applied;
    else {
      const index = applied.indexOf(command.target);
      if (index < 0) {
        if (fileNames.includes(command.target)) return plan('none', [], `${command.target} is not applied`);
        throw new UnknownRevisionError(command.target);
      }
      revert = applied.slice(index + 1);
    }
  } else {
    const steps = command.steps ?? 1;
    if (!Number.isInteger(steps) || steps < 1) throw new UsageError(`--steps must be a whole number of at least 1`);
    revert = applied.slice(Math.max(0, applied.length - steps));
  }
  revert.reverse();
  if (!revert.length) return plan('none', [], 'nothing to revert');
  return { action: 'revert', stampTo: null, apply: [], revert, reason: `revert ${countOf(revert)}` };
}

function planStamp(fileNames: readonly string[], revision: string): Plan {
  if (revision !== 'head' && revision !== 'base' && !fileNames.includes(revision)) {
    throw new UnknownRevisionError(revision);
  }
  const stampTo = revision === 'head' ? (fileNames.at(-1) ?? 'base') : revision;
  return { action: 'stamp', stampTo, apply: [], reason: `stamp the history at ${stampTo}` };
}

/** `up` and `down` act only on a history that is a clean prefix of the files. */
function refuseIrregular(d: Detection, verb: string): Plan | null {
  if (d.state === 'legacy') {
    return refuse(`${verb} refused: legacy database (objects but no history)`, 'migrate auto (reconciles it), or migrate stamp REV');
  }
  if (d.state === 'diverged') return refuse(`${verb} refused: ${d.plan.reason}`, d.plan.settleCommand ?? 'migrate status');
  if (d.plan.action === 'refuse') return d.plan;
  return null;
}

function plan(action: 'apply' | 'none', apply: readonly string[], reason: string): Plan {
  return { action, stampTo: null, apply: [...apply], reason };
}

function refuse(reason: string, settleCommand: string): Plan {
  return { action: 'refuse', stampTo: null, apply: [], reason, settleCommand };
}

