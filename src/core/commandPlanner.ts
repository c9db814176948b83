/**
 * What `up`, `down` and `stamp` would do, decided from a detection: pure, like
 * the detector (no `pg`, no `fs`). `auto` simply follows the detector's plan.
 *
 * Targets take Alembic's words too (README, "Commands"): `+N` and `-N` are
 * relative to the current revision, and a unique prefix of a name (at least
 * four characters) stands for the name.
 */
import { RefusedError, UnknownRevisionError, UsageError } from './errors.js';
import { countOf, listNames } from './stateDetector.js';
import { listFirst } from './lists.js';
import { applyPlan, nonePlan, refusePlan, repairPlan, revertPlan, settleCommandOf, stampPlan } from './plans.js';
import type { Detection, Plan, RunReport } from './types.js';

export type RunCommand =
  | { readonly kind: 'auto' }
  /** `head`, a migration name (or a unique prefix of one), or `+N`. */
  | { readonly kind: 'up'; readonly target?: string }
  /** A name or prefix (which stays applied), `base` or `-N`; else `steps` (default 1); not both. */
  | { readonly kind: 'down'; readonly target?: string; readonly steps?: number }
  | { readonly kind: 'stamp'; readonly revision: string }
  /** Record the checksums of applied files edited since they ran, as they are now (Flyway's repair). */
  | { readonly kind: 'repair' };

/**
 * A plan that refuses, as the error every command that follows a plan (a run,
 * `sql`) throws for it (exit 3), with the command that settles it; null when
 * the plan does not refuse.
 */
export function refusalOf(plan: Plan, report: RunReport | null): RefusedError | null {
  if (plan.action !== 'refuse') return null;
  return new RefusedError(plan.reason, report, plan.settleCommand ? { hint: `to settle it: ${plan.settleCommand}` } : {});
}

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
    case 'repair':
      return planRepair(detection);
  }
}

/**
 * `repair`: accepting an edited file lasts. Its checksum is recorded as the
 * file is now, in any state, since it says nothing about what ran; a file
 * not on disk has nothing to record (`stamp` drops its row).
 */
function planRepair(d: Detection): Plan {
  const edited = d.findings.flatMap((f) => (f.kind === 'checksum-mismatch' ? [f.name] : []));
  if (!edited.length) return nonePlan('no applied migration was edited since it ran');
  return repairPlan(edited, `record the checksum of ${countOf(edited)} edited since ${edited.length === 1 ? 'it' : 'they'} ran, as the file is now: ${listNames(edited)}`);
}

function planUp(d: Detection, target: string): Plan {
  const refusal = refuseIrregular(d, 'up');
  if (refusal) return refusal;
  let apply: readonly string[];
  const relative = relativeCount(target, 'up');
  if (target === 'head') apply = d.pending;
  else if (relative !== null) {
    if (d.pending.length > 0 && relative > d.pending.length) throw beyondTheEnd(`up ${target}`, relative, d.pending.length, 'pending', `up +${d.pending.length}, or up head`);
    apply = d.pending.slice(0, relative);
  } else {
    target = resolveRevision(target, [...d.applied, ...d.pending]);
    const index = d.pending.indexOf(target);
    if (index < 0) {
      if (d.applied.includes(target)) return nonePlan(`${target} is already applied`);
      throw new UnknownRevisionError(target);
    }
    apply = d.pending.slice(0, index + 1);
  }
  return apply.length ? applyPlan(apply, `apply ${countOf(apply)}`) : nonePlan('up to date');
}

function planDown(d: Detection, fileNames: readonly string[], command: { target?: string; steps?: number }): Plan {
  const refusal = refuseIrregular(d, 'down');
  if (refusal) return refusal;
  const applied = fileNames.filter((n) => d.applied.includes(n));
  if (command.target !== undefined && command.steps !== undefined) {
    const relativeTarget = /^-\d+$/.test(command.target);
    throw new UsageError(`down ${command.target} --steps ${command.steps}: give a target or --steps, not both`, {
      hint: relativeTarget
        ? `down ${command.target} is down --steps ${command.target.slice(1)}: give one of them`
        : `down ${command.target} keeps ${command.target} applied and reverts what came after it; down --steps ${command.steps} reverts the last ${command.steps}`,
    });
  }
  const relative = command.target === undefined ? null : relativeCount(command.target, 'down');
  let revert: string[];
  if (command.target !== undefined && relative === null) {
    if (command.target === 'base') revert = applied;
    else {
      const target = resolveRevision(command.target, fileNames);
      const index = applied.indexOf(target);
      if (index < 0) return nonePlan(`${target} is not applied`);
      revert = applied.slice(index + 1);
    }
  } else {
    const steps = relative ?? command.steps ?? 1;
    if (!Number.isInteger(steps) || steps < 1) throw new UsageError(`--steps must be a whole number of at least 1`);
    // A count the user gave, past the first migration: a mistake, not "everything" (down base says that).
    const given = relative !== null ? `down ${command.target}` : command.steps !== undefined ? `down --steps ${command.steps}` : null;
    if (given && applied.length > 0 && steps > applied.length) throw beyondTheEnd(given, steps, applied.length, 'applied', 'down base, which reverts them all');
    revert = applied.slice(Math.max(0, applied.length - steps));
  }
  revert.reverse();
  if (!revert.length) return nonePlan('nothing to revert');
  return revertPlan(revert, `revert ${countOf(revert)}`);
}

function planStamp(fileNames: readonly string[], revision: string): Plan {
  if (revision !== 'head' && revision !== 'base') revision = resolveRevision(revision, fileNames);
  const stampTo = revision === 'head' ? (fileNames.at(-1) ?? 'base') : revision;
  return stampPlan(stampTo, [], `stamp the history at ${stampTo}`);
}

/**
 * `up` and `down` act only on a history that is a clean prefix of the files;
 * `up` also on one with gaps when the detector was told to apply them
 * (`--out-of-order`, `outOfOrder`): its pending list holds them, in file order.
 */
function refuseIrregular(d: Detection, verb: 'up' | 'down'): Plan | null {
  if (d.state === 'legacy') {
    return refusePlan(`${verb} refused: legacy database (objects but no history)`, 'migrate auto (reconciles it), or migrate stamp REV');
  }
  if (d.state === 'diverged' && (verb === 'down' || d.plan.action === 'refuse')) {
    // With outOfOrder set the detector's plan applies the gaps: that is what settles a down.
    return refusePlan(`${verb} refused: ${d.plan.reason}`, settleCommandOf(d.plan) ?? 'migrate up (outOfOrder is set: it applies the gaps)');
  }
  if (d.plan.action === 'refuse') return d.plan;
  return null;
}


/**
 * The shortest prefix that stands for a revision name, as Alembic asks for
 * "at least four characters … for partial revision identifier matches"
 * (sqlalchemy/alembic, alembic/script/revision.py). Shorter, `down 1` would
 * name whichever revision starts with 1 where node-pg-migrate's `down 1`
 * means one step.
 */
export const MIN_REVISION_PREFIX = 4;

/**
 * `target` as one of `names`: the name itself, or the one name it is a prefix
 * of. Several names: a usage error naming them; none: an unknown revision.
 */
export function resolveRevision(target: string, names: readonly string[]): string {
  if (names.includes(target)) return target;
  const matches = [...new Set(names.filter((name) => name.startsWith(target)))];
  if (target.length >= MIN_REVISION_PREFIX) {
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) {
      throw new UsageError(`revision prefix ${JSON.stringify(target)} is ambiguous: it starts ${listFirst(matches)}`, {
        hint: 'give more of the name',
      });
    }
  } else if (/^\d+$/.test(target)) {
    throw new UnknownRevisionError(target, `to move ${target} migration${target === '1' ? '' : 's'}: up +${target} or down -${target}; a prefix of a name needs at least ${MIN_REVISION_PREFIX} characters`);
  } else if (matches.length) {
    throw new UnknownRevisionError(target, `a prefix of a name needs at least ${MIN_REVISION_PREFIX} characters`);
  }
  throw new UnknownRevisionError(target);
}

/**
 * A count past the last migration there is to move: refused, as Alembic
 * refuses it ("Relative revision -5 didn't produce 5 migrations",
 * alembic/script/revision.py), rather than taken as "all of them": a
 * mistyped `down --steps 5` must not revert every migration and exit 0.
 * With nothing to move at all, nothing is done, as before.
 */
function beyondTheEnd(given: string, count: number, available: number, what: 'pending' | 'applied' | 'after' | 'before', instead: string): UsageError {
  const there = what === 'pending' || what === 'applied'
    ? `only ${available} ${available === 1 ? 'migration is' : 'migrations are'} ${what}; nothing was changed`
    : `only ${available} ${available === 1 ? 'migration comes' : 'migrations come'} ${what} it`;
  return new UsageError(`${given}: ${count} migrations asked for, ${there}`, { hint: instead });
}

/**
 * `+N` (up) or `-N` (down), Alembic's relative targets, as a count; null for
 * any other target. The other sign is a usage error pointing at the other verb.
 */
export function relativeCount(target: string, verb: 'up' | 'down'): number | null {
  const match = /^([+-])(\d+)$/.exec(target);
  if (!match) return null;
  const [, sign, digits] = match;
  const forward = sign === '+';
  if (forward !== (verb === 'up')) {
    throw new UsageError(`${verb} ${target}: ${forward ? 'a step forward' : 'a step back'} is ${forward ? 'up' : 'down'} ${target}`);
  }
  const count = Number(digits);
  if (count < 1) throw new UsageError(`${verb} ${target}: the count must be at least 1`);
  return count;
}

/** What `sql --offline` writes: the migrations between two revisions, in the order they run. */
export interface OfflineRange {
  readonly direction: 'up' | 'down';
  /** Where the script starts (null: base), and where it ends. */
  readonly from: string | null;
  readonly to: string | null;
  readonly names: readonly string[];
}

/**
 * Alembic's offline mode knows no database, so the range is given, not read:
 * `[FROM:]TO`. Up runs from FROM (default base) through TO (default head; `+N`
 * counts from FROM); down reverts from FROM (default head) back to TO, which
 * stays applied (default `-1`; `base` reverts everything; `-N` counts from FROM).
 */
export function planOfflineRange(direction: 'up' | 'down', range: string | undefined, fileNames: readonly string[]): OfflineRange {
  const verb = direction === 'up' ? 'sql --offline' : 'sql --offline --down';
  const [fromWord, toWord] = splitRange(range, direction === 'up' ? ['base', 'head'] : ['head', '-1'], verb);
  // Positions count migrations applied: 0 is base, fileNames.length is head.
  const positionOf = (word: string): number => {
    if (word === 'base') return 0;
    if (word === 'head') return fileNames.length;
    return fileNames.indexOf(resolveRevision(word, fileNames)) + 1;
  };
  const start = positionOf(fromWord);
  const count = relativeCount(toWord, direction);
  // A count past the last file (up) or base (down) is refused, as online (beyondTheEnd).
  const available = direction === 'up' ? fileNames.length - start : start;
  if (count !== null && available > 0 && count > available) {
    throw beyondTheEnd(`${verb} ${fromWord}:${toWord}`, count, available, direction === 'up' ? 'after' : 'before', direction === 'up' ? `${fromWord}:+${available}, or ${fromWord}:head` : `${fromWord}:base`);
  }
  const end = count === null ? positionOf(toWord) : Math.min(fileNames.length, Math.max(0, start + (direction === 'up' ? count : -count)));
  const at = (position: number) => (position === 0 ? null : fileNames[position - 1]!);
  if (direction === 'up' ? end < start : end > start) {
    throw new UsageError(`${verb} ${fromWord}:${toWord}: ${toWord} is ${direction === 'up' ? 'before' : 'after'} ${fromWord}`, {
      hint: direction === 'up' ? 'give FROM:TO with FROM first; to revert, add --down' : 'for --down, FROM is the later revision, as in head:base',
    });
  }
  const names = direction === 'up' ? fileNames.slice(start, end) : fileNames.slice(end, start).reverse();
  return { direction, from: at(start), to: at(end), names };
}

function splitRange(range: string | undefined, defaults: readonly [string, string], verb: string): [string, string] {
  if (range === undefined || range === '') return [defaults[0], defaults[1]];
  const parts = range.split(':');
  if (parts.length > 2 || parts.some((p) => p === '')) {
    throw new UsageError(`${verb} ${range}: expected TO or FROM:TO`);
  }
  return parts.length === 2 ? [parts[0]!, parts[1]!] : [defaults[0], parts[0]!];
}
