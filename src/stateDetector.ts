/**
 * The pure heart of the runner: facts about the database and the migration
 * files in, one state with a plan and findings out (CONTRACT.md "The states").
 *
 * Like Alembic's RevisionMap it knows nothing about files or connections: it
 * imports neither `pg` nor `fs`, so every decision is unit-testable from
 * literals (test/unit/stateDetector.test.ts).
 */
import type {
  AppliedMigration,
  DatabaseFacts,
  Detection,
  Finding,
  MigrationFile,
  Plan,
  StateName,
} from './types.js';
import { UnknownRevisionError } from './errors.js';

/** Recorded schema fingerprints, one per revision (written by `migrate snapshot`). */
export interface FingerprintManifest {
  /** Fingerprint of the empty schema, before any migration. */
  readonly base: string;
  readonly revisions: readonly { readonly name: string; readonly fingerprint: string }[];
}

export interface DetectOptions {
  /** Stamp a legacy database at this revision instead of matching fingerprints. */
  readonly baseline?: string | null;
  /** Run even though an applied file was edited since it ran. */
  readonly allowModified?: boolean;
  /** Refuse instead of warning when the live schema drifted from the manifest. */
  readonly refuseOnDrift?: boolean;
  readonly manifest?: FingerprintManifest | null;
  /**
   * Readable differences between the live schema and a revision's recorded
   * schema (`null` = base). Pure, supplied by the caller that holds the models.
   */
  readonly explainDifference?: (revision: string | null) => readonly string[];
  /** The recorded revision closest to the live schema, for a legacy schema that matches none. */
  readonly nearestRevision?: () => { readonly revision: string | null; readonly differences: readonly string[] };
  /** Why no fingerprints could be had for a legacy database (no scratch server, a replay failed): said in the refusal. */
  readonly whyNoFingerprints?: string;
}

export function detectState(
  facts: DatabaseFacts,
  files: readonly MigrationFile[],
  options: DetectOptions = {},
): Detection {
  const fileNames = files.map((f) => f.name);
  const indexOnDisk = new Map(fileNames.map((name, index) => [name, index]));
  const applied = uniqueInOrder(facts.applied.map((a) => a.name));
  const appliedSet = new Set(applied);
  const head = fileNames.at(-1) ?? null;

  const unknown = applied.filter((name) => !indexOnDisk.has(name));
  // A map, not indexOf: a thousand applied names against a thousand files is a million compares (bench/, issue 6).
  const lastKnownIndex = applied.reduce((last, name) => Math.max(last, indexOnDisk.get(name) ?? -1), -1);
  const outOfOrder = fileNames.slice(0, lastKnownIndex + 1).filter((name) => !appliedSet.has(name));
  const pending = fileNames.filter((name) => !appliedSet.has(name));
  const current = lastKnownIndex >= 0 ? fileNames[lastKnownIndex]! : (applied.at(-1) ?? null);

  const findings: Finding[] = findModifiedFiles(facts.applied, files);
  const base = { current, head, applied, pending, unknown, outOfOrder };

  const state = classify(facts, applied.length, unknown.length + outOfOrder.length > 0, pending.length);
  let plan: Plan;
  switch (state) {
    case 'fresh':
      plan = pending.length
        ? makePlan('apply', null, pending, `fresh database: build head (${countOf(pending)})`)
        : makePlan('none', null, [], 'fresh database and no migrations on disk');
      break;
    case 'legacy':
      plan = planLegacy(facts, fileNames, options, findings);
      break;
    case 'diverged':
      plan = planDiverged(unknown, outOfOrder, applied, fileNames);
      break;
    case 'behind':
      plan = makePlan('apply', null, pending, `${countOf(pending)} pending`);
      break;
    case 'current':
      plan = makePlan('none', null, [], 'up to date');
      break;
  }

  if (state === 'behind' || state === 'current') {
    const drift = findDrift(current, facts, options);
    if (drift) {
      findings.push(drift);
      if (options.refuseOnDrift) {
        plan = makePlan('refuse', null, [], `live schema drifted from the recorded schema of ${current}`, {
          settleCommand: 'migrate status',
        });
      }
    }
  }

  for (const { index, table } of facts.invalidIndexes ?? []) {
    findings.push({ kind: 'invalid-index', index, table, clear: `DROP INDEX CONCURRENTLY ${index}` });
  }

  const modified = findings.filter((f) => f.kind === 'checksum-mismatch');
  if (modified.length && !options.allowModified && plan.action !== 'refuse') {
    plan = makePlan(
      'refuse',
      null,
      [],
      `applied migration edited since it ran: ${listNames(modified.map((f) => f.name))}`,
      { settleCommand: 'restore the file, or rerun with --allow-modified' },
    );
  }

  return deepFreeze({ state, ...base, plan, findings });
}

function classify(facts: DatabaseFacts, appliedCount: number, irregular: boolean, pendingCount: number): StateName {
  // An empty history table counts as no history (CONTRACT.md "The states").
  if (appliedCount === 0) return facts.applicationObjects.length ? 'legacy' : 'fresh';
  if (irregular) return 'diverged';
  return pendingCount ? 'behind' : 'current';
}

function planLegacy(
  facts: DatabaseFacts,
  fileNames: readonly string[],
  options: DetectOptions,
  findings: Finding[],
): Plan {
  const objects = describeObjects(facts.applicationObjects);
  if (options.baseline) return planFromStamp(options.baseline, fileNames, `baseline ${options.baseline} given`);

  const { manifest } = options;
  if (!manifest || facts.liveFingerprint == null) {
    const reason = !manifest
      ? `no schema fingerprints recorded for these migrations${options.whyNoFingerprints ? `, and ${options.whyNoFingerprints}` : ''}`
      : 'the live schema fingerprint was not computed';
    findings.push({ kind: 'missing-fingerprints', reason });
    return makePlan('refuse', null, [], `legacy database (${objects}) and ${reason}`, {
      settleCommand: 'migrate snapshot (then commit the manifest), or migrate auto --baseline REV',
    });
  }

  const matches = matchingRevisions(manifest, fileNames, facts.liveFingerprint);
  if (matches.length === 0) {
    const nearest = options.nearestRevision?.();
    const near = nearest
      ? `; nearest is ${nearest.revision ?? 'base'}, which differs: ${nearest.differences.slice(0, 5).join('; ')}` +
        (nearest.differences.length > 5 ? `; and ${nearest.differences.length - 5} more` : '')
      : '';
    return makePlan('refuse', null, [], `legacy database (${objects}) matches no recorded revision${near}`, {
      settleCommand: 'migrate auto --baseline REV, once you know which revision the schema is at',
    });
  }
  const contiguous = matches.every((index, i) => i === 0 || index === matches[i - 1]! + 1);
  const names = matches.map((i) => (i < 0 ? 'base' : fileNames[i]!));
  if (!contiguous) {
    findings.push({ kind: 'ambiguous-match', revisions: names, chosen: null });
    return makePlan('refuse', null, [], `legacy schema matches separate revisions: ${names.join(', ')}`, {
      settleCommand: `migrate auto --baseline REV, with REV one of ${names.join(', ')}`,
    });
  }
  const chosen = names.at(-1)!;
  // A run of equal fingerprints means data-only migrations: the schema cannot
  // tell them apart, so stamp the latest and say so (issue 4).
  if (names.length > 1) findings.push({ kind: 'ambiguous-match', revisions: names, chosen });
  return planFromStamp(chosen, fileNames, `legacy schema matches ${chosen}`);
}

/** Indexes into `fileNames` whose recorded fingerprint equals `live`; -1 stands for base. */
function matchingRevisions(manifest: FingerprintManifest, fileNames: readonly string[], live: string): number[] {
  const recorded = new Map(manifest.revisions.map((r) => [r.name, r.fingerprint]));
  const matches: number[] = [];
  if (manifest.base === live) matches.push(-1);
  fileNames.forEach((name, index) => {
    if (recorded.get(name) === live) matches.push(index);
  });
  return matches;
}

function planFromStamp(stampTo: string, fileNames: readonly string[], reason: string): Plan {
  if (stampTo === 'base') {
    return fileNames.length
      ? makePlan('apply', null, fileNames, `${reason}: apply ${countOf(fileNames)}`)
      : makePlan('none', null, [], reason);
  }
  const index = fileNames.indexOf(stampTo);
  if (index < 0) throw new UnknownRevisionError(stampTo);
  const rest = fileNames.slice(index + 1);
  return rest.length
    ? makePlan('stamp-then-apply', stampTo, rest, `${reason}: stamp it, then apply ${countOf(rest)}`)
    : makePlan('stamp', stampTo, [], `${reason}: stamp it (head)`);
}

function planDiverged(
  unknown: readonly string[],
  outOfOrder: readonly string[],
  applied: readonly string[],
  fileNames: readonly string[],
): Plan {
  const parts: string[] = [];
  if (unknown.length) parts.push(`applied but not on disk: ${listNames(unknown)}`);
  if (outOfOrder.length) parts.push(`on disk, not applied, before applied ones: ${listNames(outOfOrder)}`);
  // Stamping the last applied revision that still exists on disk makes the
  // history a clean prefix again: unknown rows go, gaps count as applied.
  const appliedSet = new Set(applied);
  const lastKnown = fileNames.filter((n) => appliedSet.has(n)).at(-1) ?? 'base';
  return makePlan('refuse', null, [], `history diverged from the files (${parts.join('; ')})`, {
    settleCommand: `migrate stamp ${lastKnown}`,
  });
}

function findModifiedFiles(applied: readonly AppliedMigration[], files: readonly MigrationFile[]): Finding[] {
  const byName = new Map(files.map((f) => [f.name, f]));
  const findings: Finding[] = [];
  for (const row of applied) {
    const file = byName.get(row.name);
    if (file && row.checksum !== null && row.checksum !== file.checksum) {
      findings.push({ kind: 'checksum-mismatch', name: row.name, recorded: row.checksum, actual: file.checksum });
    }
  }
  return findings;
}

function findDrift(current: string | null, facts: DatabaseFacts, options: DetectOptions): Finding | null {
  const { manifest } = options;
  if (!manifest || facts.liveFingerprint == null || current === null) return null;
  const recorded = manifest.revisions.find((r) => r.name === current)?.fingerprint;
  // A revision newer than the manifest cannot be checked; `check` reports the stale manifest.
  if (recorded === undefined || recorded === facts.liveFingerprint) return null;
  return {
    kind: 'drift',
    revision: current,
    differences: options.explainDifference?.(current) ?? [],
  };
}

function makePlan(
  action: Plan['action'],
  stampTo: string | null,
  apply: readonly string[],
  reason: string,
  extra: { settleCommand?: string } = {},
): Plan {
  return { action, stampTo, apply: [...apply], reason, ...extra };
}

/** "1 migration", "3 migrations": for plan reasons here and in commandPlanner.ts. */
export function countOf(names: readonly unknown[]): string {
  return `${names.length} migration${names.length === 1 ? '' : 's'}`;
}

/**
 * Names for a one-line reason: the first ten, then how many more. A history
 * run against the wrong folder names every migration; `status --json` lists
 * them all.
 */
function listNames(names: readonly string[], shown = 10): string {
  if (names.length <= shown) return names.join(', ');
  return `${names.slice(0, shown).join(', ')} and ${names.length - shown} more (migrate status lists them all)`;
}

function describeObjects(objects: readonly string[]): string {
  const shown = objects.slice(0, 3).join(', ');
  return objects.length > 3 ? `${shown}, …` : shown;
}

function uniqueInOrder(names: readonly string[]): string[] {
  return [...new Set(names)];
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/**
 * Whether nothing is left to do: the history equals the files. `current`, or
 * a fresh database of a project with no migration files yet (no history, no
 * objects, nothing to apply). `check` and the example backend's /readyz both
 * ask this.
 */
export function isUpToDate(d: Detection): boolean {
  return d.state === 'current' || (d.state === 'fresh' && d.head === null && d.pending.length === 0);
}
