/** Text and JSON renderings of detections, histories and reports for the CLI. */
import type { Detection, MigrationFile, AppliedMigration, RunReport } from '../types.js';
import { describeFinding } from '../findings.js';

export { describeFinding };

/** `status --json`: exactly the contract's document (CONTRACT.md "Machine output"). */
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
      ...(d.plan.settleCommand && { settleCommand: d.plan.settleCommand }),
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
    `pending:  ${d.pending.length}${d.pending.length ? ` (${abbreviate(d.pending)})` : ''}`,
  ];
  if (d.unknown.length) lines.push(`unknown:  ${d.unknown.join(', ')} (applied, not on disk)`);
  if (d.outOfOrder.length) lines.push(`gap:      ${d.outOfOrder.join(', ')} (on disk, not applied, before applied ones)`);
  lines.push(`plan:     ${d.plan.action}: ${d.plan.reason}`);
  if (d.plan.settleCommand) lines.push(`settle:   ${d.plan.settleCommand}`);
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

export function historyEntries(files: readonly MigrationFile[], applied: readonly AppliedMigration[]): HistoryEntry[] {
  const rows = new Map(applied.map((a) => [a.name, a]));
  const entries: HistoryEntry[] = files.map((file) => {
    const row = rows.get(file.name);
    if (!row) return { name: file.name, file: file.path, status: 'pending', appliedAt: null, durationMs: null, checksum: 'n/a', appliedBy: null };
    return {
      name: file.name,
      file: file.path,
      status: 'applied',
      appliedAt: row.runOn?.toISOString() ?? null,
      durationMs: row.durationMs,
      checksum: row.checksum === null ? 'unrecorded' : row.checksum === file.checksum ? 'ok' : 'modified',
      appliedBy: row.appliedBy,
    };
  });
  const onDisk = new Set(files.map((f) => f.name));
  for (const row of applied) {
    if (!onDisk.has(row.name)) {
      entries.push({
        name: row.name,
        file: null,
        status: 'applied, file missing',
        appliedAt: row.runOn?.toISOString() ?? null,
        durationMs: row.durationMs,
        checksum: 'n/a',
        appliedBy: row.appliedBy,
      });
    }
  }
  return entries;
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
      return 'ok (the file is as it was applied)';
    case 'modified':
      return 'modified (the file was edited after it was applied)';
    case 'unrecorded':
      return 'unrecorded (applied by plain node-pg-migrate; the next run records it)';
    case 'n/a':
      return 'n/a';
  }
}

export function formatReport(r: RunReport): string {
  const lines = [`${r.command}: ${r.before.state} → ${r.after?.state ?? '?'} (${r.plan.action}: ${r.plan.reason})`];
  if (r.stamped) lines.push(`stamped ${r.stamped}`);
  for (const m of r.migrations) lines.push(`${m.status.padEnd(8)} ${m.name} (${m.direction}, ${m.durationMs} ms)`);
  return lines.join('\n');
}

function abbreviate(names: readonly string[]): string {
  return names.length <= 3 ? names.join(', ') : `${names.slice(0, 2).join(', ')}, … ${names.at(-1)}`;
}
