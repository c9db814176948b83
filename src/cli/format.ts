/** Text and JSON renderings of detections, histories and reports for the CLI. */
import type { Detection, MigrationFile, AppliedMigration, RunReport } from '../core/types.js';
import { matchesRecorded } from '../core/checksums.js';
import { describeFinding } from '../core/findings.js';
import { LISTED } from '../core/lists.js';
import { settleCommandOf } from '../core/plans.js';

export { describeFinding };

/** `status --json`: exactly the document of docs/CONTRACT.md "Output". */
export function statusDocument(d: Detection): object {
  return {
    state: d.state,
    current: d.current,
    head: d.head,
    applied: d.applied,
    pending: d.pending,
    unknown: d.unknown,
    plan: {
      action: d.plan.action,
      stampTo: d.plan.stampTo,
      apply: d.plan.apply,
      reason: d.plan.reason,
      ...(d.plan.action === 'refuse' && { settleCommand: d.plan.settleCommand }),
    },
    findings: d.findings,
  };
}

export function formatStatus(d: Detection): string {
  const lines = [
    `state:    ${d.state}`,
    `current:  ${d.current ?? 'base'}`,
    `head:     ${d.head ?? 'base'}`,
    `applied:  ${d.applied.length}`,
    `pending:  ${d.pending.length}${d.pending.length ? ` (${abbreviate(d.pending, 'migrate pending')})` : ''}`,
  ];
  if (d.unknown.length) lines.push(`unknown:  ${d.unknown.join(', ')} (applied, not on disk)`);
  if (d.outOfOrder.length) lines.push(`gap:      ${d.outOfOrder.join(', ')} (on disk, not applied, before applied ones)`);
  lines.push(`plan:     ${d.plan.action}: ${d.plan.reason}`);
  const settle = settleCommandOf(d.plan);
  if (settle) lines.push(`settle:   ${settle}`);
  for (const f of d.findings) lines.push(`finding:  ${describeFinding(f)}`);
  return lines.join('\n');
}

export interface HistoryEntry {
  readonly name: string;
  /** The file's path, or null when only the history names it. */
  readonly file: string | null;
  readonly status: 'applied' | 'pending' | 'applied, file missing';
  readonly appliedAt: string | null;
  readonly durationMs: number | null;
  readonly checksum: 'ok' | 'modified' | 'unrecorded' | 'n/a';
  readonly appliedBy: string | null;
}

/**
 * Every migration, as the history happened: the applied ones in the order
 * they ran (node-pg-migrate's `run_on, id`), those whose file is missing
 * where they ran, not at the end; each pending file just before the first
 * applied one that sorts after it (a gap shows where it belongs), the rest
 * after them.
 */
export function historyEntries(files: readonly MigrationFile[], applied: readonly AppliedMigration[]): HistoryEntry[] {
  const fileIndex = new Map(files.map((file, index) => [file.name, index]));
  const rows = new Map<string, AppliedMigration>();
  for (const row of applied) if (!rows.has(row.name)) rows.set(row.name, row);
  const pending = files.filter((file) => !rows.has(file.name));
  const entries: HistoryEntry[] = [];
  let nextPending = 0;
  const pendingBefore = (index: number) => {
    while (nextPending < pending.length && fileIndex.get(pending[nextPending]!.name)! < index) {
      entries.push(pendingEntry(pending[nextPending++]!));
    }
  };
  for (const row of rows.values()) {
    const index = fileIndex.get(row.name);
    if (index === undefined) {
      entries.push(appliedEntry(row, null));
      continue;
    }
    pendingBefore(index);
    entries.push(appliedEntry(row, files[index]!));
  }
  pendingBefore(Infinity);
  return entries;
}

function pendingEntry(file: MigrationFile): HistoryEntry {
  return { name: file.name, file: file.path, status: 'pending', appliedAt: null, durationMs: null, checksum: 'n/a', appliedBy: null };
}

function appliedEntry(row: AppliedMigration, file: MigrationFile | null): HistoryEntry {
  return {
    name: row.name,
    file: file?.path ?? null,
    status: file ? 'applied' : 'applied, file missing',
    appliedAt: row.runOn?.toISOString() ?? null,
    durationMs: row.durationMs,
    checksum: !file ? 'n/a' : row.checksum === null ? 'unrecorded' : matchesRecorded(row.checksum, file) ? 'ok' : 'modified',
    appliedBy: row.appliedBy,
  };
}

export function formatHistory(entries: readonly HistoryEntry[]): string {
  if (!entries.length) return '(no migrations)';
  const header = ['migration', 'status', 'applied at', 'duration', 'checksum'];
  const rows = entries.map((e) => [
    e.name,
    e.status,
    e.appliedAt ?? '-',
    e.durationMs === null ? '-' : `${e.durationMs} ms`,
    e.checksum,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/**
 * One migration as a block (`history --verbose`, `current --verbose`, `show`),
 * as Alembic's verbose history prints a revision. `status` overrides the
 * entry's status (show without a database says the history is unknown).
 */
export function formatDetails(e: HistoryEntry, status?: string): string {
  const applied = e.status !== 'pending';
  const rows: [string, string][] = [
    ['revision', e.name],
    ['file', e.file ?? '(not on disk)'],
    ['status', status ?? e.status],
  ];
  if (status === undefined && applied) {
    rows.push(
      ['applied at', e.appliedAt ?? '-'],
      ['applied by', e.appliedBy ?? '-'],
      ['duration', e.durationMs === null ? '-' : `${e.durationMs} ms`],
      ['checksum', describeChecksum(e.checksum)],
    );
  }
  return rows.map(([key, value]) => `${`${key}:`.padEnd(13)}${value}`).join('\n');
}

function describeChecksum(checksum: HistoryEntry['checksum']): string {
  switch (checksum) {
    case 'ok':
      return 'ok (the file is as it was when its checksum was recorded)';
    case 'modified':
      return 'modified (the file was edited after it was recorded)';
    case 'unrecorded':
      return 'unrecorded (applied by plain node-pg-migrate; the next run records it)';
    case 'n/a':
      return 'n/a';
  }
}

export function formatReport(r: RunReport): string {
  const lines = [`${r.command}: ${r.before.state} → ${r.after?.state ?? '?'} (${r.plan.action}: ${r.plan.reason})`];
  if (r.stamped) lines.push(`stamped ${r.stamped}`);
  if (r.after && r.plan.action === 'repair') for (const name of r.plan.repair) lines.push(`repaired ${name} (its checksum recorded as the file is now)`);
  for (const m of r.migrations) lines.push(`${m.status.padEnd(8)} ${m.name} (${m.direction}, ${m.durationMs} ms)`);
  return lines.join('\n');
}

/** A list for one line of `status`: whole up to LISTED names (a short list is never cut), else where to find it whole. */
function abbreviate(names: readonly string[], whole: string): string {
  if (names.length <= LISTED) return names.join(', ');
  return `${names.slice(0, LISTED - 1).join(', ')}, … ${names.at(-1)}; ${names.length - LISTED} more: ${whole} lists them all`;
}
