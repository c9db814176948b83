/**
 * Building plans and reading them: the one place that knows which fields
 * each action's plan carries (src/core/types.ts `Plan`). Pure.
 */
import type { ApplyPlan, NonePlan, Plan, RefusePlan, RepairPlan, RevertPlan, StampPlan, StampThenApplyPlan } from './types.js';

export function applyPlan(names: readonly string[], reason: string): ApplyPlan {
  return { action: 'apply', stampTo: null, apply: [...names], reason };
}

/** Stamp at `stampTo`, then apply `names`; with none to apply, a plain stamp. */
export function stampPlan(stampTo: string, names: readonly string[], reason: string): StampThenApplyPlan | StampPlan {
  return names.length
    ? { action: 'stamp-then-apply', stampTo, apply: [...names], reason }
    : { action: 'stamp', stampTo, apply: [], reason };
}

export function revertPlan(names: readonly string[], reason: string): RevertPlan {
  return { action: 'revert', stampTo: null, apply: [], revert: [...names], reason };
}

export function repairPlan(names: readonly string[], reason: string): RepairPlan {
  return { action: 'repair', stampTo: null, apply: [], repair: [...names], reason };
}

export function nonePlan(reason: string): NonePlan {
  return { action: 'none', stampTo: null, apply: [], reason };
}

export function refusePlan(reason: string, settleCommand: string): RefusePlan {
  return { action: 'refuse', stampTo: null, apply: [], reason, settleCommand };
}

/** The migrations the plan runs, in the order it runs them (reverted ones for `revert`). */
export function migrationsOf(plan: Plan): readonly string[] {
  return plan.action === 'revert' ? plan.revert : plan.apply;
}

/** The command that settles a refusal; undefined for any other plan. */
export function settleCommandOf(plan: Plan): string | undefined {
  return plan.action === 'refuse' ? plan.settleCommand : undefined;
}
