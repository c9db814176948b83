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

/** One migration's statements, to run in a round trip with others. */
export interface RoundTripPart {
  readonly statements: readonly string[];
}

export interface StatementLocation {
  readonly statement: string;
  /** Index of the statement among its migration's statements. */
  readonly index: number;
  /** 1-based position of the error inside the statement, when PostgreSQL gave one. */
  readonly position: number | null;
}

/** A round trip failed in `part` (an index into the parts sent). */
export class RoundTripError extends Error {
  constructor(
    readonly error: unknown,
    readonly part: number,
    readonly location: StatementLocation | null,
    /** Server time of each part that finished before it, in ms. */
    readonly durationsMs: readonly number[],
  ) {
    super('a round trip failed');
  }
}

export interface RoundTripResult {
  /** Server time of each part, in ms (one part alone: none measured, an empty list). */
  readonly durationsMs: readonly number[];
  /** The part after which the markers ran in another transaction than the first: its SQL ended the transaction. */
  readonly transactionEndedIn: number | null;
}

interface Layout {
  readonly text: string;
  /** Where each part's statements start in `text`, and their joined length. */
  readonly spans: readonly { readonly start: number; readonly length: number }[];
}

/** The text of a round trip: markers around and between the parts (none for a single part). */
export function layoutRoundTrip(parts: readonly RoundTripPart[], token: string): Layout {
  if (parts.length === 1) return { text: parts[0]!.statements.join('\n'), spans: [{ start: 0, length: parts[0]!.statements.join('\n').length }] };
  let text = '';
  const spans: { start: number; length: number }[] = [];
  parts.forEach((part, index) => {
    text += `${markerOf(token, index)}\n`;
    const body = part.statements.join('\n');
    spans.push({ start: text.length, length: body.length });
    // The ';' on a line of its own ends a last statement left open, even one whose ';' a trailing line comment took.
    text += `${body}\n;\n`;
  });
  text += markerOf(token, parts.length);
  return { text, spans };
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
): Promise<RoundTripResult> {
  if (!parts.length) return { durationsMs: [], transactionEndedIn: null };
  const token = `migrate-${randomBytes(6).toString('hex')}`;
  const layout = layoutRoundTrip(parts, token);
  const clocks: number[] = [];
  const starts: string[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const query = new pg.Query({ text: layout.text, rowMode: 'array', types: RAW_TYPES } as never);
      query.on('row', (row: unknown[]) => {
        if (row.length === 3 && typeof row[0] === 'string' && row[0].startsWith(`${token}:`)) {
          clocks.push(Number(row[1]) * 1000);
          starts.push(String(row[2]));
          const index = clocks.length - 1;
          onPart?.(index, index > 0 ? clocks[index]! - clocks[index - 1]! : null);
        }
      });
      query.on('error', reject);
      query.on('end', () => resolve());
      void (db as unknown as { query(q: unknown): unknown }).query(query);
    });
  } catch (error) {
    const durations = durationsOf(clocks);
    const running = parts.length === 1 ? 0 : Math.max(0, clocks.length - 1);
    const rawPosition = (error as { position?: string }).position;
    const { part, location } = locateInRoundTrip(parts, layout, rawPosition ? Number(rawPosition) : null, running);
    throw new RoundTripError(error, part, location, durations);
  }
  const changed = starts.findIndex((start) => start !== starts[0]);
  return { durationsMs: durationsOf(clocks), transactionEndedIn: changed > 0 ? changed - 1 : null };
}

function durationsOf(clocks: readonly number[]): number[] {
  return clocks.slice(1).map((clock, index) => clock - clocks[index]!);
}
