/**
 * Orders planned statements: dependencies first, and among statements that
 * are free to go, the lower phase rank first (then the order they were
 * planned in). Kahn's algorithm over "creates X" / "drops X" events. Pure:
 * no I/O.
 */

export interface OrderableStep {
  /** Phase: drops of dependents, types, tables, columns, constraints, views, ... (planner.ts `RANK`). */
  readonly rank: number;
  /** Events this statement brings about, e.g. `+rel:users` (created), `-func:touch` (dropped). */
  readonly provides: readonly string[];
  /** Events that must happen before this statement, if some statement of the plan brings them about. */
  readonly after: readonly string[];
  /** Events that must happen after this statement, if some statement of the plan brings them about. */
  readonly before: readonly string[];
}

export interface OrderedSteps<T> {
  readonly steps: readonly T[];
  /** Steps that were in a cycle and went out in rank order instead; empty when none. */
  readonly cycle: readonly T[];
}

export function orderSteps<T extends OrderableStep>(steps: readonly T[]): OrderedSteps<T> {
  const producers = new Map<string, number[]>();
  steps.forEach((step, index) => {
    for (const event of step.provides) {
      const list = producers.get(event);
      if (list === undefined) producers.set(event, [index]);
      else list.push(index);
    }
  });
  const successors: Set<number>[] = steps.map(() => new Set());
  const link = (from: number, to: number): void => {
    if (from !== to) successors[from]!.add(to);
  };
  steps.forEach((step, index) => {
    for (const event of step.after) for (const producer of producers.get(event) ?? []) link(producer, index);
    for (const event of step.before) for (const producer of producers.get(event) ?? []) link(index, producer);
  });
  const indegree = steps.map(() => 0);
  for (const next of successors) for (const to of next) indegree[to]!++;

  const compare = (a: number, b: number): number => steps[a]!.rank - steps[b]!.rank || a - b;
  const ready = steps.map((_, i) => i).filter((i) => indegree[i] === 0);
  const ordered: T[] = [];
  const done = new Set<number>();
  const cycle: T[] = [];
  while (done.size < steps.length) {
    if (ready.length === 0) {
      // A cycle: release the lowest-ranked waiting step.
      const waiting = steps.map((_, i) => i).filter((i) => !done.has(i)).sort(compare);
      const first = waiting[0]!;
      cycle.push(steps[first]!);
      ready.push(first);
      indegree[first] = 0;
    }
    ready.sort(compare);
    const next = ready.shift()!;
    if (done.has(next)) continue;
    done.add(next);
    ordered.push(steps[next]!);
    for (const to of successors[next]!) {
      if (done.has(to)) continue;
      indegree[to]!--;
      if (indegree[to] === 0) ready.push(to);
    }
  }
  return { steps: ordered, cycle };
}
