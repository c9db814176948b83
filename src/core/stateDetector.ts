/**
 * The pure heart of the runner: facts about the database and the migration
 * files in, one state with a plan and findings out (docs/CONTRACT.md "The states").
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
  FingerprintManifest,
  MigrationFile,
  Plan,
  ProbeAnswer,
  StateName,
} from './types.js';
import { UnknownRevisionError } from './errors.js';
import { checksumsOfFile, matchesRecorded } from './checksums.js';
import { LISTED, listDifferences, listFirst } from './lists.js';
import { applyPlan, nonePlan, refusePlan, stampPlan } from './plans.js';

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
  /**
   * Apply files that sort before applied ones (a late merge) with the rest,
   * in file order, instead of refusing: Flyway's `outOfOrder` (README, "How it behaves").
   */
  readonly outOfOrder?: boolean;
  /**
   * A legacy schema that matches a run of consecutive revisions (data-only
   * migrations between them) and that probes do not settle: `refuse`
   * (default) or stamp the `latest` of those still in question.
   */
  readonly ambiguousLegacy?: 'refuse' | 'latest';
}

export function detectState(
  facts: DatabaseFacts,
  files: readonly MigrationFile[],
  options: DetectOptions = {},
): Detection {
  const fileNames = files.map((f) => f.name);
  const indexOnDisk = new Map<string, number>();
  fileNames.forEach((name, index) => indexOnDisk.set(name, index));
  // A Set keeps the order names were first added in: `applied` is the history's names, each once.
  const appliedSet = new Set(facts.applied.map((a) => a.name));
  const applied = [...appliedSet];
  const head = fileNames.at(-1) ?? null;

  const unknown = applied.filter((name) => !indexOnDisk.has(name));
  // A map, not indexOf: a thousand applied names against a thousand files is a million compares (bench/RESULTS.md, the no-op start).
  const lastKnownIndex = applied.reduce((last, name) => Math.max(last, indexOnDisk.get(name) ?? -1), -1);
  const outOfOrder = fileNames.slice(0, lastKnownIndex + 1).filter((name) => !appliedSet.has(name));
  const pending = fileNames.filter((name) => !appliedSet.has(name));
  const current = lastKnownIndex >= 0 ? fileNames[lastKnownIndex]! : (applied.at(-1) ?? null);

  const findings: Finding[] = findModifiedFiles(facts.applied, files, indexOnDisk);
  const base = { current, head, applied, pending, unknown, outOfOrder };

  const state = classify(facts, applied.length, unknown.length + outOfOrder.length > 0, pending.length);
  let plan: Plan;
  switch (state) {
    case 'fresh':
      plan = pending.length
        ? applyPlan(pending, `fresh database: build head (${countOf(pending)})`)
        : nonePlan('fresh database and no migrations on disk');
      break;
    case 'legacy':
      plan = planLegacy(facts, fileNames, options, findings);
      break;
    case 'diverged':
      plan = planDiverged(unknown, outOfOrder, pending, appliedSet, fileNames, options, findRenames(facts.applied, unknown, files, appliedSet));
      break;
    case 'behind':
      plan = applyPlan(pending, `${countOf(pending)} pending`);
      break;
    case 'current':
      plan = nonePlan('up to date');
      break;
  }

  if (state === 'behind' || state === 'current') {
    const drift = findDrift(current, facts, options);
    if (drift) {
      findings.push(drift);
      if (options.refuseOnDrift) {
        const what = drift.kind === 'drift' && drift.differences.length ? `: ${listDifferences(drift.differences, LISTED)}` : '';
        plan = refusePlan(
          `live schema drifted from the recorded schema of ${current}${what}`,
          'undo the change by hand, or write the migration that makes it and run migrate snapshot; migrate status lists every difference',
        );
      }
    }
  }

  // The names are taken once each above; a second row of one is a fault of its own, which stamp clears.
  if (state === 'behind' || state === 'current') {
    const seen = new Set<string>();
    const twice = new Set(facts.applied.filter(({ name }) => seen.has(name) || !seen.add(name)).map(({ name }) => name));
    if (twice.size) findings.push({ kind: 'duplicate-history', names: [...twice], settle: `migrate stamp ${current ?? 'base'}` });
  }

  for (const { index, table } of facts.invalidIndexes ?? []) {
    findings.push({ kind: 'invalid-index', index, table, clear: `DROP INDEX CONCURRENTLY ${index}` });
  }

  const modified = findings.filter((f) => f.kind === 'checksum-mismatch');
  if (modified.length && !options.allowModified && plan.action !== 'refuse') {
    plan = refusePlan(`applied migration edited since it ran: ${listNames(modified.map((f) => f.name))}`, 'restore the file, or record it as it is now with migrate repair (--allow-modified passes this run only)');
  }

  return deepFreeze({ state, ...base, plan, findings });
}

function classify(facts: DatabaseFacts, appliedCount: number, irregular: boolean, pendingCount: number): StateName {
  // An empty history table counts as no history (docs/CONTRACT.md "The states").
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
    return refusePlan(`legacy database (${objects}) and ${reason}`, 'migrate snapshot (then commit the manifest), or migrate auto --baseline REV');
  }

  const matches = matchingRevisions(manifest, fileNames, facts.liveFingerprint);
  if (manifest.partly !== undefined) {
    // Only the first revisions are recorded: a schema matching none of them, or the last of them, may be at
    // one after it (a data-only migration there leaves the schema as it was). A match before that one is
    // sure: the next revision is recorded, and the schema is not at it.
    const last = fileNames.indexOf(manifest.revisions.at(-1)?.name ?? '');
    if (matches.length === 0 || matches.at(-1) === last) {
      findings.push({ kind: 'missing-fingerprints', reason: manifest.partly });
      const at = matches.length === 0 ? `matches none of the revisions recorded` : `matches ${fileNames[last]}, the last revision recorded, and may be at a later one`;
      return refusePlan(`legacy database (${objects}) ${at}: ${manifest.partly}`, 'migrate snapshot where a scratch server is (then commit the manifest), or migrate auto --baseline REV');
    }
  }
  if (matches.length === 0) {
    const nearest = options.nearestRevision?.();
    const near = nearest ? `; nearest is ${nearest.revision ?? 'base'}, which differs: ${listDifferences(nearest.differences, LISTED)}` : '';
    return refusePlan(`legacy database (${objects}) matches no recorded revision${near}`, 'migrate auto --baseline REV, once you know which revision the schema is at');
  }
  const contiguous = matches.every((index, i) => i === 0 || index === matches[i - 1]! + 1);
  const names = matches.map((i) => (i < 0 ? 'base' : fileNames[i]!));
  if (!contiguous) {
    findings.push({ kind: 'ambiguous-match', revisions: names, chosen: null });
    return refusePlan(`legacy schema matches separate revisions: ${names.join(', ')}`, `migrate auto --baseline REV, with REV one of ${names.join(', ')}`);
  }
  if (names.length === 1) return planFromStamp(names[0]!, fileNames, `legacy schema matches ${names[0]}`);
  return planAmbiguousRun(names, fileNames, facts.probes ?? [], options, findings);
}

/**
 * A legacy schema whose fingerprint equals that of several consecutive
 * revisions: the migrations between them change data only, so the schema
 * cannot tell how many of them ran. Stamping the latest skips the rows of
 * those that did not; stamping the first runs again those that did. So it
 * is a human decision, unless probes settle it (README, "Probes").
 *
 * Candidate i (0 … k) says "applied through names[i]": the migrations
 * names[1..i] ran, names[i+1..k] did not. Migrations run in file order, so a
 * probe that says present rules out every candidate before its migration,
 * and one that says absent every candidate from its migration on. What is
 * left is a range: one candidate is chosen by the probes that bound it; an
 * empty range (a later migration present, an earlier one absent) contradicts
 * the order they run in and is refused; a wider one is settled by
 * `ambiguousLegacy`: refuse (default), or the latest of the range.
 */
function planAmbiguousRun(
  names: readonly string[],
  fileNames: readonly string[],
  probes: readonly ProbeAnswer[],
  options: DetectOptions,
  findings: Finding[],
): Plan {
  const answers = new Map(probes.map((p) => [p.name, p]));
  const asked = names.slice(1).flatMap((name) => answers.get(name) ?? []);
  let low = 0;
  let high = names.length - 1;
  names.forEach((name, index) => {
    const present = answers.get(name)?.present;
    if (index === 0 || present == null) return;
    if (present) low = Math.max(low, index);
    else high = Math.min(high, index - 1);
  });
  const probeSays = (name: string) => `the probe of ${name} says ${answers.get(name)!.present ? 'present' : 'absent'}`;
  const listed = `legacy schema matches ${names.join(', ')} (the migrations between them change data, not the schema)`;

  if (low > high) {
    const present = names[low]!;
    const absent = names[high + 1]!;
    findings.push({ kind: 'ambiguous-match', revisions: names, chosen: null, probes: asked, decidedBy: [] });
    return refusePlan(`${listed}; ${probeSays(present)} but ${probeSays(absent)}, which runs before it`, `check both probes, then migrate auto --baseline REV, with REV one of ${names.join(', ')}`);
  }
  // The probes that bound the range: the present one at its start, the absent one right after its end.
  const bounds = [...(low > 0 ? [names[low]!] : []), ...(high + 1 < names.length ? [names[high + 1]!] : [])];
  if (low === high) {
    const chosen = names[low]!;
    findings.push({ kind: 'ambiguous-match', revisions: names, chosen, probes: asked, decidedBy: bounds });
    return planFromStamp(chosen, fileNames, `${listed}; ${bounds.map(probeSays).join(', ')}: ${chosen}`);
  }
  const open = names.slice(low, high + 1);
  const unanswered = open.slice(1).flatMap((name) => {
    const answer = answers.get(name);
    return answer ? [`the probe of ${name} was not asked: ${answer.unanswered ?? 'no answer'}`] : [];
  });
  const narrowed = bounds.length ? `; ${bounds.map(probeSays).join(', ')}, which leaves ${open.join(', ')}` : '';
  if (options.ambiguousLegacy === 'latest') {
    const chosen = open.at(-1)!;
    findings.push({ kind: 'ambiguous-match', revisions: names, chosen, probes: asked, decidedBy: [] });
    return planFromStamp(chosen, fileNames, `${listed}${narrowed}; ambiguousLegacy is latest: ${chosen}`);
  }
  findings.push({ kind: 'ambiguous-match', revisions: names, chosen: null, probes: asked, decidedBy: [] });
  return refusePlan(`${listed}${narrowed}${unanswered.length ? `; ${unanswered.join('; ')}` : ''}`, `decide how many of them ran, then one of: ${open.map((name) => `migrate auto --baseline ${name}`).join('; ')} ` +
      '(or give the migrations probes, or set ambiguousLegacy to latest: README "Probes")');
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
      ? applyPlan(fileNames, `${reason}: apply ${countOf(fileNames)}`)
      : nonePlan(reason);
  }
  const index = fileNames.indexOf(stampTo);
  if (index < 0) throw new UnknownRevisionError(stampTo);
  const rest = fileNames.slice(index + 1);
  return stampPlan(stampTo, rest, rest.length ? `${reason}: stamp it, then apply ${countOf(rest)}` : `${reason}: stamp it (head)`);
}

/**
 * A history that is not a prefix of the files. Advice never records a file
 * as applied that did not run: `stamp` is offered only when every file the
 * history lacks comes after its last applied one, so the stamp only drops
 * the rows of files no longer on disk. A gap (an older file merged late) is
 * applied, never stamped: `up --out-of-order`, or `outOfOrder` in the config.
 */
function planDiverged(
  unknown: readonly string[],
  outOfOrder: readonly string[],
  pending: readonly string[],
  appliedSet: ReadonlySet<string>,
  fileNames: readonly string[],
  options: DetectOptions,
  renames: Renames,
): Plan {
  const parts: string[] = [];
  if (unknown.length) parts.push(`applied but not on disk: ${listNames(unknown)}`);
  if (outOfOrder.length) parts.push(`on disk, not applied, before applied ones: ${listNames(outOfOrder)}`);
  if (renames.exact.size) parts.push(`renamed, the same content: ${listNames([...renames.exact].map(([from, to]) => `${from} → ${to}`))}`);
  const reason = `history diverged from the files (${parts.join('; ')})`;
  if (!unknown.length) {
    if (options.outOfOrder) {
      return applyPlan(pending, `history has gaps (${listNames(outOfOrder)}): apply them out of order, in file order with the rest (${countOf(pending)})`);
    }
    return refusePlan(reason, 'migrate up --out-of-order, which applies them in file order with the rest');
  }
  if (outOfOrder.length) {
    return refusePlan(reason, `restore the files of ${listNames(unknown)} (a renamed file: its old name), then migrate up --out-of-order`);
  }
  if (renames.suspected.size) {
    // A file renamed after it ran: stamping the last applied file on disk would drop its row, and the
    // next run would apply it again under its new name (a data migration twice). Stamping the last of
    // the renamed ones records them under their new names, where every file up to it ran already.
    const ran = new Set([...fileNames.filter((n) => appliedSet.has(n)), ...renames.exact.values()]);
    const last = fileNames.filter((n) => ran.has(n)).at(-1);
    const upTo = last === undefined ? [] : fileNames.slice(0, fileNames.indexOf(last) + 1);
    if (renames.exact.size === unknown.length && last !== undefined && upTo.every((n) => ran.has(n))) {
      return refusePlan(reason, `migrate stamp ${last}, which records ${listNames([...renames.exact.values()])} as applied under the new name${renames.exact.size === 1 ? '' : 's'}`);
    }
    return refusePlan(reason, `rename ${listNames([...new Set(renames.suspected.values())])} back to the name${renames.suspected.size === 1 ? '' : 's'} the history has (${listNames([...renames.suspected.keys()])}): stamping would let the next run apply ${renames.suspected.size === 1 ? 'it' : 'them'} again`);
  }
  // Stamping the last applied revision that is on disk drops the rows of the
  // files that are not; no file is recorded that was not applied.
  const lastKnown = fileNames.filter((n) => appliedSet.has(n)).at(-1) ?? 'base';
  // A row without a recorded checksum (plain node-pg-migrate wrote it) cannot tell a rename from a deletion.
  const unsure = unknown.filter((name) => renames.unrecorded.has(name));
  if (unsure.length && pending.length) {
    return refusePlan(reason, `migrate stamp ${lastKnown}, only if ${listNames(unsure)} ${unsure.length === 1 ? 'was' : 'were'} deleted: a file renamed after it ran is to be renamed back, or the next run applies it again under its new name`);
  }
  return refusePlan(reason, `migrate stamp ${lastKnown}`);
}

/**
 * History rows of files no longer on disk whose recorded checksum a file
 * not applied has: a file renamed after it ran. `exact`: old name → new,
 * where the content is one file's and no other row claims it; `suspected`:
 * every row that shares its checksum with such a file (old name → new).
 */
interface Renames {
  readonly exact: ReadonlyMap<string, string>;
  readonly suspected: ReadonlyMap<string, string>;
  /** Rows of files no longer on disk with no checksum recorded: a rename cannot be told from a deletion. */
  readonly unrecorded: ReadonlySet<string>;
}

function findRenames(rows: DatabaseFacts['applied'], unknown: readonly string[], files: readonly MigrationFile[], applied: ReadonlySet<string>): Renames {
  const exact = new Map<string, string>();
  const suspected = new Map<string, string>();
  const unrecorded = new Set<string>();
  if (!unknown.length) return { exact, suspected, unrecorded };
  const notApplied = new Map<string, string[]>();
  for (const file of files) {
    if (applied.has(file.name)) continue;
    for (const checksum of checksumsOfFile(file)) notApplied.set(checksum, [...(notApplied.get(checksum) ?? []), file.name]);
  }
  const checksumOf = new Map(rows.map((row) => [row.name, row.checksum]));
  const candidatesOf = new Map<string, readonly string[]>();
  // How many gone names each file could be: a file is one's new name only where no other claims it
  // (two records, one with a byte order mark and one without, can both be one file's).
  const claims = new Map<string, number>();
  for (const name of unknown) {
    const checksum = checksumOf.get(name);
    if (!checksum) {
      unrecorded.add(name);
      continue;
    }
    const candidates = notApplied.get(checksum);
    if (!candidates) continue;
    candidatesOf.set(name, candidates);
    for (const file of candidates) claims.set(file, (claims.get(file) ?? 0) + 1);
  }
  for (const [name, candidates] of candidatesOf) {
    suspected.set(name, candidates.join(', '));
    if (candidates.length === 1 && claims.get(candidates[0]!) === 1) exact.set(name, candidates[0]!);
  }
  return { exact, suspected, unrecorded };
}

function findModifiedFiles(applied: readonly AppliedMigration[], files: readonly MigrationFile[], indexOnDisk: ReadonlyMap<string, number>): Finding[] {
  const findings: Finding[] = [];
  // A history that names a migration twice (plain node-pg-migrate wrote it) reads one side-table row for both.
  const seen = new Set<string>();
  for (const row of applied) {
    if (seen.has(row.name)) continue;
    seen.add(row.name);
    const index = indexOnDisk.get(row.name);
    const file = index === undefined ? undefined : files[index];
    if (file && row.checksum !== null && !matchesRecorded(row.checksum, file)) {
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

/** "1 migration", "3 migrations": for plan reasons here and in commandPlanner.ts. */
export function countOf(names: readonly unknown[]): string {
  return `${names.length} migration${names.length === 1 ? '' : 's'}`;
}

/**
 * Names for a one-line reason: all of them up to LISTED, else the first
 * LISTED and how many more. A history run against the wrong folder names
 * every migration; `status` prints the unknown and gap lines whole.
 */
export function listNames(names: readonly string[], shown = LISTED): string {
  return listFirst(names, shown, { after: ' (migrate status lists them all)' });
}

/** Introspection reads at most twenty application objects (src/db/facts.ts): a full list ends without "…". */
function describeObjects(objects: readonly string[]): string {
  const shown = objects.slice(0, LISTED).join(', ');
  return objects.length > LISTED ? `${shown}, …` : shown;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    // A history's name lists hold thousands of strings: only objects are walked into.
    for (const child of Object.values(value)) if (child && typeof child === 'object') deepFreeze(child);
  }
  return value;
}

/**
 * The migrations whose probes could settle a legacy schema that matches a run
 * of revisions (src/db/probes.ts asks them; the answers come back as facts), or
 * none once they have been asked or where no probe could decide.
 */
export function probesWanted(d: Detection, facts: DatabaseFacts): string[] {
  if (d.state !== 'legacy' || facts.probes !== undefined) return [];
  const run = d.findings.find((f) => f.kind === 'ambiguous-match' && f.probes !== undefined);
  return run && run.kind === 'ambiguous-match' ? run.revisions.slice(1) : [];
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
