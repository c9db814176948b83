/**
 * The data the runner passes around: facts in, a detection out, a report at
 * the end. Everything here is plain, frozen data (docs/CONTRACT.md "The states").
 */

/**
 * What the runner needs from a connection: pg's `query(text, values)`, also
 * with a named query (pg's QueryConfig). `pg.Client` and `pg.PoolClient` fit,
 * and so do the wrappers the executor hands migration code.
 */
export interface Queryable {
  query<R = any>(text: string | NamedQuery, values?: unknown[]): Promise<{ rows: R[] }>;
}

/**
 * A query the server keeps prepared under `name` for the session (pg's
 * QueryConfig): the incremental reader runs the same few queries after
 * every migration, and parsing and planning them was most of their cost.
 */
export interface NamedQuery {
  readonly name: string;
  readonly text: string;
  readonly values: unknown[];
}

/** A migration file on disk, read without importing it. */
export interface MigrationFile {
  /** node-pg-migrate's name: the file name without its last extension. */
  readonly name: string;
  readonly fileName: string;
  /** Absolute path. */
  readonly path: string;
  /** Lower-case extension with its dot: `.sql`, `.ts`, `.js`, … */
  readonly extension: string;
  /** sha256 (hex) of the content with line endings normalised to `\n` and a leading UTF-8 byte order mark left out. */
  readonly checksum: string;
  /**
   * Only for a file that starts with a byte order mark: the checksum with the
   * mark, which runners before it was left out recorded (src/core/checksums.ts).
   */
  readonly checksumWithBom?: string;
}

/** One row of node-pg-migrate's history table, with what we keep beside it. */
export interface AppliedMigration {
  readonly name: string;
  /** Null when plain node-pg-migrate applied it (adopted on the next run). */
  readonly checksum: string | null;
  /**
   * When it ran, how long it took and who ran it: read only when asked for
   * (`readDatabaseFacts(…, { details: true })`, the `history` command), else
   * null. Parsing a thousand timestamps was a tenth of a no-op start (bench/RESULTS.md).
   * `runOn` is when it really ran (the side table's ran_at where the runner
   * applied it; run_on may have been moved to keep the history in file order).
   */
  readonly runOn: Date | null;
  readonly durationMs: number | null;
  readonly appliedBy: string | null;
}

/** What introspection learned about the database. */
export interface DatabaseFacts {
  readonly historyTableExists: boolean;
  /** History rows in applied order (`run_on, id`, as node-pg-migrate reads them). */
  readonly applied: readonly AppliedMigration[];
  /** A few application objects in the managed schema (empty when there are none). Read only when the
   *  history is empty: the detector tells fresh from legacy by them and looks at them nowhere else. */
  readonly applicationObjects: readonly string[];
  /** Fingerprint of the live schema, when it was computed. */
  readonly liveFingerprint?: string | null;
  /** Invalid indexes of the managed schema (a failed CREATE INDEX CONCURRENTLY leaves one), when they were read. */
  readonly invalidIndexes?: readonly InvalidIndex[];
  /**
   * What the probes of migrations said (src/db/probes.ts), when a legacy schema
   * matched a run of revisions and they were asked. A migration without a
   * probe has no entry.
   */
  readonly probes?: readonly ProbeAnswer[];
}

export interface InvalidIndex {
  /** Schema-qualified, as regclass prints it. */
  readonly index: string;
  readonly table: string;
}

/** A migration's probe's answer: is the migration's effect present in the database? */
export interface ProbeAnswer {
  readonly name: string;
  /** `sql`: a `-- migrate:probe` directive of a .sql file; `code`: a JS/TS file's exported probe(db). */
  readonly kind: 'sql' | 'code';
  /** True: present; false: absent; null: not asked (see `unanswered`). */
  readonly present: boolean | null;
  /** Why it was not asked (read-only commands never run a JS/TS probe). */
  readonly unanswered?: string;
}

/**
 * Recorded schema fingerprints, one per revision: what the detector matches
 * a legacy schema against and checks drift with. The manifest file
 * (src/fingerprints/manifest.ts, written by `migrate snapshot`) holds more.
 */
export interface FingerprintManifest {
  /** Fingerprint of the empty schema, before any migration. */
  readonly base: string;
  readonly revisions: readonly { readonly name: string; readonly fingerprint: string }[];
  /**
   * Set where it records only the first revisions of the files (the leading
   * part of a stale manifest that still describes them, where no replay
   * could be had): why. A legacy schema matching none of them, or the last
   * of them, may be at a revision it does not record.
   */
  readonly partly?: string;
}

export const STATES = ['fresh', 'legacy', 'behind', 'current', 'diverged'] as const;
export type StateName = (typeof STATES)[number];

/** `revert` (for `down`) and `repair` (for `repair`) are ours, added beside the five of docs/CONTRACT.md "Output". */
export const PLAN_ACTIONS = ['apply', 'stamp-then-apply', 'stamp', 'none', 'refuse', 'revert', 'repair'] as const satisfies readonly Plan['action'][];
export type PlanAction = Plan['action'];

/**
 * What `auto` (or `up`, `down`, `stamp`, `repair`) would do: one variant per
 * action, each with only what that action needs (src/core/plans.ts builds
 * them). Every variant keeps `stampTo` and `apply`, which
 * `status --json` prints for every plan (README "Run it").
 */
export type Plan = ApplyPlan | StampThenApplyPlan | StampPlan | RevertPlan | RepairPlan | NonePlan | RefusePlan;

interface PlanBase {
  /** One line for humans. */
  readonly reason: string;
}

/** Apply migrations, in order. */
export interface ApplyPlan extends PlanBase {
  readonly action: 'apply';
  readonly stampTo: null;
  readonly apply: readonly string[];
}

/** Stamp the history to a revision (a legacy database's match, or a baseline), then apply what follows it. */
export interface StampThenApplyPlan extends PlanBase {
  readonly action: 'stamp-then-apply';
  /** The revision the history is stamped to before anything is applied. */
  readonly stampTo: string;
  readonly apply: readonly string[];
}

/** Stamp the history to a revision (`base`: an empty history); nothing runs. */
export interface StampPlan extends PlanBase {
  readonly action: 'stamp';
  readonly stampTo: string;
  readonly apply: readonly [];
}

/** `down`: revert migrations, in the order they are reverted. */
export interface RevertPlan extends PlanBase {
  readonly action: 'revert';
  readonly stampTo: null;
  readonly apply: readonly [];
  readonly revert: readonly string[];
}

/** `repair`: record again the checksums of applied migrations, as their files are now. */
export interface RepairPlan extends PlanBase {
  readonly action: 'repair';
  readonly stampTo: null;
  readonly apply: readonly [];
  readonly repair: readonly string[];
}

/** Nothing to do. */
export interface NonePlan extends PlanBase {
  readonly action: 'none';
  readonly stampTo: null;
  readonly apply: readonly [];
}

/** Do nothing, and say so: a human decides. */
export interface RefusePlan extends PlanBase {
  readonly action: 'refuse';
  readonly stampTo: null;
  readonly apply: readonly [];
  /** The command a human may run to settle it. */
  readonly settleCommand: string;
}

export type Finding =
  | {
      readonly kind: 'checksum-mismatch';
      readonly name: string;
      readonly recorded: string;
      readonly actual: string;
    }
  | {
      readonly kind: 'drift';
      readonly revision: string;
      readonly differences: readonly string[];
    }
  | {
      readonly kind: 'ambiguous-match';
      /** Every revision whose recorded fingerprint equals the live schema, in file order (`base` first). */
      readonly revisions: readonly string[];
      /** The revision stamped, or null when refused. */
      readonly chosen: string | null;
      /**
       * For a run of consecutive revisions (data-only migrations between them), where probes can
       * decide: the answers of the probes of the migrations after the first candidate (empty when
       * none declares one). Absent for revisions apart, which no probe can reconcile.
       */
      readonly probes?: readonly ProbeAnswer[];
      /** The migrations whose probes' answers chose `chosen`; empty when none did. */
      readonly decidedBy?: readonly string[];
    }
  | {
      readonly kind: 'missing-fingerprints';
      readonly reason: string;
    }
  | {
      /**
       * The history names a migration more than once (two plain node-pg-migrate runs with --no-lock):
       * plain node-pg-migrate refuses to run on it, and its `down` would revert another migration.
       */
      readonly kind: 'duplicate-history';
      readonly names: readonly string[];
      /** The command that writes each name once (a stamp at the current revision rewrites the history in file order). */
      readonly settle: string;
    }
  | {
      /** An index PostgreSQL does not use: a CREATE INDEX CONCURRENTLY that failed (or is still running). */
      readonly kind: 'invalid-index';
      readonly index: string;
      readonly table: string;
      /** The statement that clears it. */
      readonly clear: string;
    };

export type FindingKind = Finding['kind'];

/** The detector's answer (docs/CONTRACT.md "Output"). */
export interface Detection {
  readonly state: StateName;
  /** Last applied revision, or null for none (`base`). */
  readonly current: string | null;
  /** Last file on disk, or null when there are none. */
  readonly head: string | null;
  readonly applied: readonly string[];
  readonly pending: readonly string[];
  /** Applied names with no file on disk. */
  readonly unknown: readonly string[];
  /** Files sorted before the last applied one but not applied (a gap). */
  readonly outOfOrder: readonly string[];
  readonly plan: Plan;
  readonly findings: readonly Finding[];
}

/** One migration the runner ran (or tried to). */
export interface MigrationRun {
  readonly name: string;
  readonly direction: 'up' | 'down';
  /** `rolled-back`: it ran, but the batch's transaction was rolled back when a later one failed. */
  readonly status: 'applied' | 'reverted' | 'failed' | 'rolled-back' | 'not-run';
  readonly durationMs: number;
}

/** What a run did. Every run returns one; a failure carries the partial one. */
export interface RunReport {
  readonly command: string;
  readonly before: Detection;
  readonly plan: Plan;
  /** The revision the history was stamped to, if it was. */
  readonly stamped: string | null;
  readonly migrations: readonly MigrationRun[];
  readonly after: Detection | null;
  readonly durationMs: number;
}

/** Why `generate --autogenerate` would not write its plan as it is. */
export type PlanRefusalReason = 'rename-candidate' | 'data-loss' | 'unsupported' | 'unknown-rename';

/** A reason the plan must not be written as it is. */
export interface PlanRefusal {
  readonly reason: PlanRefusalReason;
  readonly direction: 'up' | 'down';
  /** The object, e.g. `column "users"."first_name"`. */
  readonly subject: string;
  /** One line: what and why. */
  readonly message: string;
  /** What the caller can do. */
  readonly hint?: string;
  /** For rename candidates: the decision that accepts the rename, e.g. `column:users.first_name=name`. */
  readonly rename?: string;
}
