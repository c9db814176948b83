/**
 * Consecutive migrations go to the server in one round trip (the simple
 * query protocol takes many statements in one message): a large batch pays
 * for few round trips (bench/RESULTS.md, "Apply").
 *
 * Between migrations the round trip carries a marker, a SELECT of the
 * server's clock_timestamp() tagged with a token of this run. The server
 * answers each statement in order and pg hands over rows as they arrive, so
 * the markers seen before an error say which migration failed, and the clock
 * between two markers is how long that migration ran: no migration is blamed
 * for another's failure, and none has to run twice to find out. Each marker
 * also carries its transaction's start (now()): where that changes, a
 * migration's SQL ended the runner's transaction.
 * (Protocol: https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-MULTI-STATEMENT.)
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Queryable } from '../core/types.js';

/**
 * At most this many migrations share a round trip: fewer round trips on a
 * large batch (bench/RESULTS.md, "Apply"), progress still every few.
 */
export const MAX_GROUP = 50;
export const MAX_GROUP_CHARS = 1_000_000;

/**
 * Migrations waiting for their round trip, in batch order, sent by `send`
 * when the group is full. SQL that may end the transaction where no check
 * could see it (`opaque`) goes alone, so nothing after it runs with it; with
 * `oneEach` (a migration timeout) every migration is a round trip of its own,
 * so the time measured is its own.
 */
export class RoundTripGroup<T> {
  private parts: T[] = [];
  private chars = 0;

  constructor(
    private readonly send: (parts: readonly T[], last: boolean) => Promise<void>,
    private readonly options: { readonly oneEach: boolean },
  ) {}

  async add(part: T, statements: readonly string[], opaque: boolean): Promise<void> {
    if (opaque) await this.flush();
    this.parts.push(part);
    this.chars += statements.reduce((n, statement) => n + statement.length, 0);
    if (this.options.oneEach || opaque || this.parts.length >= MAX_GROUP || this.chars >= MAX_GROUP_CHARS) await this.flush();
  }

  /** Sends what waits (nothing: resolves at once); `last`: the transaction's last, before its COMMIT. */
  async flush(last = false): Promise<void> {
    if (!this.parts.length) return;
    const group = this.parts;
    this.parts = [];
    this.chars = 0;
    await this.send(group, last);
  }
}

/** One migration's statements, to run in a round trip with others. */
export interface RoundTripPart {
  readonly statements: readonly string[];
}

export interface StatementLocation {
  readonly statement: string;
  /** Index of the statement among its migration's statements. */
  readonly index: number;
  /** 1-based position of the error inside the statement, when PostgreSQL gave one; with failedStatementEnd, the failed statement's start. */
  readonly position: number | null;
  /**
   * Where the error has no position but the server said which statement of
   * several failed (RoundTripError.statementsDone): `position` is that
   * statement's start, and this its end, in `statement`.
   */
  readonly failedStatementEnd?: number;
}

/** A round trip failed in `part` (an index into the parts sent; -1: in the opening, sendRoundTrip). */
export class RoundTripError extends Error {
  constructor(
    readonly error: unknown,
    readonly part: number,
    readonly location: StatementLocation | null,
    /** Server time of each part that finished before it, in ms. */
    readonly durationsMs: readonly number[],
    /**
     * How many of the failed part's statements, as the server splits its
     * text, completed before the one that failed: which one failed where the
     * error has no position (a runtime error).
     */
    readonly statementsDone: number | null = null,
  ) {
    super('a round trip failed');
  }
}

export interface RoundTripResult {
  /** Server time of each part, in ms (one part alone: none measured, an empty list). */
  readonly durationsMs: readonly number[];
  /** The part after which the markers ran in another transaction than the first: its SQL ended the transaction. */
  readonly transactionEndedIn: number | null;
  /** The trailer's value (sendRoundTrip), null without one. */
  readonly trailer: unknown;
}

/**
 * The runner's own SQL after the parts, in the same round trip: `statements`
 * (changing only the session's settings), then `select`, whose one row of
 * one json value is the result's `trailer`.
 */
export interface RoundTripTrailer {
  readonly statements: string;
  readonly select: string | null;
}

/**
 * The runner's own SQL before the parts, in the same round trip:
 * `statements` (ending one transaction and beginning the next, say), then
 * `select`, one row of one json value (null: none), whose value goes to
 * `onOpened` as soon as the server sends it, before any part runs.
 */
export interface RoundTripOpening {
  readonly statements: string;
  readonly select: string | null;
  readonly onOpened: (value: unknown) => void;
}

interface Layout {
  readonly text: string;
  /** Where each part's statements start in `text`, and their joined length. */
  readonly spans: readonly { readonly start: number; readonly length: number }[];
}

/**
 * The text of a round trip: the opening, then markers around and between the
 * parts (none for a single part alone), then the trailer, after the last
 * marker (which a single part then has too): a failure after that marker is
 * the trailer's, one before the first the opening's.
 */
export function layoutRoundTrip(
  parts: readonly RoundTripPart[],
  token: string,
  trailer: RoundTripTrailer | null = null,
  opening: Pick<RoundTripOpening, 'statements' | 'select'> | null = null,
): Layout {
  if (parts.length === 1 && trailer === null && opening === null) return { text: parts[0]!.statements.join('\n'), spans: [{ start: 0, length: parts[0]!.statements.join('\n').length }] };
  let text = opening === null ? '' : `${opening.statements};\n${taggedSelectOf(token, 'begin', opening.select)}\n`;
  const spans: { start: number; length: number }[] = [];
  parts.forEach((part, index) => {
    text += `${markerOf(token, index)}\n`;
    const body = part.statements.join('\n');
    spans.push({ start: text.length, length: body.length });
    // The ';' on a line of its own ends a last statement left open, even one whose ';' a trailing line comment took.
    text += `${body}\n;\n`;
  });
  text += markerOf(token, parts.length);
  if (trailer !== null) text += `\n${trailer.statements};${trailer.select === null ? '' : `\n${taggedSelectOf(token, 'end', trailer.select)}`}`;
  return { text, spans };
}

/** The opening's or trailer's select, tagged: its row is told from the migrations' own by the token. */
function taggedSelectOf(token: string, tag: 'begin' | 'end', select: string | null): string {
  return `SELECT '${token}:${tag}', (${select ?? 'NULL::pg_catalog.json'});`;
}

function markerOf(token: string, index: number): string {
  // Qualified: a migration may have set any search_path.
  return `SELECT '${token}:${index}', pg_catalog.date_part('epoch', pg_catalog.clock_timestamp()), pg_catalog.date_part('epoch', pg_catalog.now());`;
}

/** Which statement of which part a 1-based error position points into. */
export function locateInRoundTrip(
  parts: readonly RoundTripPart[],
  layout: Layout,
  position: number | null,
  runningPart: number,
): { part: number; location: StatementLocation | null } {
  if (position !== null) {
    const at = position - 1;
    const part = layout.spans.findIndex((span) => at >= span.start && at <= span.start + span.length);
    if (part >= 0) return { part, location: locateStatement(parts[part]!.statements, at - layout.spans[part]!.start + 1) };
  }
  const statements = parts[runningPart]?.statements ?? [];
  return { part: runningPart, location: statements.length === 1 ? { statement: statements[0]!, index: 0, position: null } : null };
}

/** The statement a 1-based position in `statements.join('\n')` points into. */
export function locateStatement(statements: readonly string[], position: number): StatementLocation | null {
  let offset = position;
  for (const [index, statement] of statements.entries()) {
    if (offset <= statement.length + 1) return { statement, index, position: offset };
    offset -= statement.length + 1;
  }
  return null;
}

/**
 * Whether pg has called a query's own handleCommandComplete in this process
 * (sendRoundTrip counts completed statements by it): pg's client does
 * (lib/client.js _handleCommandComplete), but it is no documented interface.
 * Until one call is seen, no count is trusted.
 */
let countingSeen = false;

/** Rows as the server sent them: no type parser a migration installed touches the markers. */
const RAW_TYPES = { getTypeParser: () => (value: string) => value };

/**
 * Runs the parts in one round trip. Resolves with the server time each part
 * took and where the transaction ended, if it did; rejects with
 * RoundTripError naming the part that failed.
 */
export async function sendRoundTrip(
  db: Queryable,
  parts: readonly RoundTripPart[],
  /**
   * Called from the markers as the server starts part `index` (`parts.length`:
   * all done), with the server time the part before it took (null for the first).
   */
  onPart?: (index: number, previousMs: number | null) => void,
  /** The runner's SQL after the parts; its failure is RoundTripError's part `parts.length`. */
  trailer: RoundTripTrailer | null = null,
  /** The runner's SQL before the parts; its failure is RoundTripError's part -1. */
  opening: RoundTripOpening | null = null,
): Promise<RoundTripResult> {
  if (!parts.length) return { durationsMs: [], transactionEndedIn: null, trailer: null };
  const token = `migrate-${randomBytes(6).toString('hex')}`;
  const layout = layoutRoundTrip(parts, token, trailer, opening);
  let opened = opening === null;
  // What onOpened threw: thrown once the round trip is over, not into pg's handling of the row.
  let openedFailure: { error: unknown } | null = null;
  const clocks: number[] = [];
  const starts: string[] = [];
  let trailerValue: string | null = null;
  // Statements completed since the last marker: the server answers each statement of a multi-statement
  // query with a CommandComplete, and stops at the first that fails.
  let completed = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const query = new pg.Query({ text: layout.text, rowMode: 'array', types: RAW_TYPES } as never) as pg.Query & {
        handleCommandComplete(...args: unknown[]): unknown;
      };
      const handleCommandComplete = query.handleCommandComplete;
      query.handleCommandComplete = function (this: unknown, ...args: unknown[]) {
        completed++;
        countingSeen = true;
        return handleCommandComplete.apply(this, args);
      };
      query.on('row', (row: unknown[]) => {
        if (row.length === 3 && typeof row[0] === 'string' && row[0].startsWith(`${token}:`)) {
          // The marker's own CommandComplete follows its row.
          completed = -1;
          clocks.push(Number(row[1]) * 1000);
          starts.push(String(row[2]));
          const index = clocks.length - 1;
          onPart?.(index, index > 0 ? clocks[index]! - clocks[index - 1]! : null);
        } else if (row.length === 2 && row[0] === `${token}:end`) trailerValue = row[1] as string | null;
        else if (!opened && row.length === 2 && row[0] === `${token}:begin`) {
          opened = true;
          completed = -1;
          try {
            opening!.onOpened(row[1] === null ? null : JSON.parse(row[1] as string));
          } catch (error) {
            openedFailure = { error };
          }
        }
      });
      query.on('error', reject);
      query.on('end', () => resolve());
      void (db as unknown as { query(q: unknown): unknown }).query(query);
    });
  } catch (error) {
    if (!opened) throw new RoundTripError(error, -1, null, [], null);
    const durations = durationsOf(clocks);
    const running = parts.length === 1 && trailer === null ? 0 : Math.max(0, clocks.length - 1);
    const rawPosition = (error as { position?: string }).position;
    const { part, location } = locateInRoundTrip(parts, layout, rawPosition ? Number(rawPosition) : null, running);
    // The count holds only where pg was seen to hand CommandComplete to the query (countingSeen): a pg
    // that dispatched it some other way would leave it at 0 and blame the first statement.
    const counted = countingSeen && part === running && part < parts.length;
    throw new RoundTripError(error, part, location, durations, counted ? Math.max(0, completed) : null);
  }
  if (openedFailure !== null) throw (openedFailure as { error: unknown }).error;
  const changed = starts.findIndex((start) => start !== starts[0]);
  return {
    durationsMs: durationsOf(clocks),
    transactionEndedIn: changed > 0 ? changed - 1 : null,
    trailer: trailerValue === null ? null : (JSON.parse(trailerValue) as unknown),
  };
}

function durationsOf(clocks: readonly number[]): number[] {
  return clocks.slice(1).map((clock, index) => clock - clocks[index]!);
}
