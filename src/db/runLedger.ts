/**
 * What became of every migration of a batch, recorded as it happens (kysely's
 * migrator keeps its results so: src/migration/migrator.ts, every migration
 * "NotExecuted" until it runs). Each starts `not-run`; its SQL running makes
 * it `applied` (or `reverted`) in the open transaction; a rollback makes
 * those `rolled-back` and the one that failed `failed`. A run's report is the
 * ledger as it stands when the batch ends, however it ends.
 */
import type { MigrationFile, MigrationRun } from '../core/types.js';

/** The statuses of a batch's migrations, updated as they run. */
export class RunLedger {
  private readonly runs: { name: string; direction: 'up' | 'down'; status: MigrationRun['status']; durationMs: number }[];
  /** Migrations whose SQL ran in the open transaction, not yet committed. */
  private uncommitted: number[] = [];

  constructor(
    batch: readonly MigrationFile[],
    private readonly direction: 'up' | 'down',
    private readonly onMigration?: (run: MigrationRun, index: number, total: number, committed: boolean) => void,
  ) {
    this.runs = batch.map((file) => ({ name: file.name, direction, status: 'not-run', durationMs: 0 }));
  }

  /** Its SQL ran, in the open transaction (or outside any, for a migration that runs alone). */
  ran(index: number, durationMs: number): void {
    const run = this.runs[index]!;
    run.status = this.direction === 'up' ? 'applied' : 'reverted';
    run.durationMs = Math.round(durationMs);
    this.uncommitted.push(index);
    // Not committed yet: it commits with its transaction (or, run alone, once it is recorded).
    this.onMigration?.({ ...run }, index, this.runs.length, false);
  }

  committed(): void {
    this.uncommitted = [];
  }

  /** The open transaction was rolled back: what ran in it is undone; `failed` (if any) is the one that failed. */
  rolledBack(failed: number | null, durationMs = 0): void {
    for (const index of this.uncommitted) this.runs[index]!.status = 'rolled-back';
    this.uncommitted = [];
    if (failed !== null) {
      this.runs[failed]!.status = 'failed';
      this.runs[failed]!.durationMs = Math.round(durationMs);
    }
  }

  /** It took effect outside any transaction, but was not recorded: failed, whatever it changed. */
  failed(index: number): void {
    this.uncommitted = this.uncommitted.filter((i) => i !== index);
    this.runs[index]!.status = 'failed';
  }

  /** Before a retry: everything from `from` on is not run again. */
  reset(from: number): void {
    for (const run of this.runs.slice(from)) {
      run.status = 'not-run';
      run.durationMs = 0;
    }
  }

  /** Names of the migrations whose SQL ran in the open transaction. */
  uncommittedNames(): string[] {
    return this.uncommitted.map((index) => this.runs[index]!.name);
  }

  /** Names of the migrations committed so far. */
  committedNames(): string[] {
    const done = this.direction === 'up' ? 'applied' : 'reverted';
    return this.runs.filter((r, i) => r.status === done && !this.uncommitted.includes(i)).map((r) => r.name);
  }

  snapshot(): readonly MigrationRun[] {
    return Object.freeze(this.runs.map((run) => Object.freeze({ ...run })));
  }
}
