/**
 * Turning a migration file into SQL with node-pg-migrate's MigrationBuilder,
 * importing only the files that will run (README "How it behaves", Only what
 * runs is imported): node-pg-migrate's src/runner.ts imports every file,
 * applied or not, before it decides anything, seconds for 1,000 TypeScript
 * files on a cold start (bench/RESULTS.md, the no-op start).
 *
 * node-pg-migrate is imported lazily: a no-op start never loads it.
 */
import { readFileSync } from 'node:fs';
import type { MigrationBuilder } from 'node-pg-migrate';
import type pg from 'pg';
import { MigrationFileError, describeCause } from '../core/errors.js';
import { importPackage } from './importPackage.js';
import type { Queryable } from '../core/types.js';
import type { Logger } from '../config/logger.js';
import {
  backslashInString,
  blankStatement,
  closesWhatItOpens,
  lineAt,
  mayControlTransactions,
  findPsqlOnly,
  parseStatements,
  scanStatements,
  statementText,
  type ParsedStatement,
} from './sqlStatements.js';
import type { MigrationFile } from '../core/types.js';

type MigrationAction = ((pgm: MigrationBuilder, run?: () => void) => unknown) | false | undefined;

export interface MigrationModule {
  readonly up: MigrationAction;
  readonly down: MigrationAction;
  /** Column type shorthands this file exports (node-pg-migrate makes them cumulative). */
  readonly shorthands?: Record<string, unknown>;
  /** A .sql file's sections: its up and down are one `pgm.sql(text)` each. */
  readonly sqlText?: { readonly up: string; readonly down: string | undefined };
  /** What the grammar says about a .sql file's sections (loadMigrationModule). */
  readonly sqlFacts?: SqlFileFacts;
}

export interface SqlFileFacts {
  /** The file has a `-- migrate:no-transaction` line: both directions run outside the batch's transaction. */
  readonly noTransaction: boolean;
  readonly up: SqlSectionFacts;
  readonly down: SqlSectionFacts | null;
}

export interface SqlSectionFacts {
  /** An enclosing BEGIN … COMMIT was blanked out of the section: it runs in the batch's transaction. */
  readonly unwrapped: boolean;
  readonly addsEnumValue: boolean;
  /** The section's statements one by one, for running outside a transaction (null: not parsed, or unparseable). */
  readonly statements: readonly string[] | null;
  /** Whether the section holds no statement at all (whitespace and comments only). */
  readonly blank: boolean;
  /** The file line the section's text starts on (its marker line), so an error position becomes `file:line`. */
  readonly line: number;
  /** It may control transactions, but the grammar could not read it (the server may): it runs in a round trip of its own. */
  readonly opaque: boolean;
}

export interface BuiltMigration {
  readonly sql: readonly string[];
  /** False when the migration called `pgm.noTransaction()`, or a .sql file says `-- migrate:no-transaction`. */
  readonly transactional: boolean;
  /** It adds an enum value: its transaction commits before the next migration runs (set only when true). */
  readonly addsEnumValue?: true;
  /** Its SQL may control transactions but could not be parsed: it goes to the server alone (set only when true). */
  readonly opaque?: true;
}

type NodePgMigrate = typeof import('node-pg-migrate');
let nodePgMigrate: Promise<NodePgMigrate> | undefined;
function loadNodePgMigrate(): Promise<NodePgMigrate> {
  nodePgMigrate ??= importPackage<NodePgMigrate>('node-pg-migrate');
  return nodePgMigrate;
}

/** The pg package as installed (node-pg-migrate has loaded it already); the command's own pg is bundled. */
function loadInstalledPg(): Promise<typeof pg> {
  return importPackage<{ default: typeof pg }>('pg').then((module) => module.default);
}

/**
 * `pgm.db` (node-pg-migrate's DB: query and select): the runner's transaction,
 * with rows parsed by the installed pg's type parsers, as node-pg-migrate's own
 * client would parse them, so a migration's pg.types.setTypeParser applies.
 * The bundled command's client has a pg of its own (scripts/build-cli.mjs).
 */
function migrationDbOf(db: Queryable, types: typeof pg.types) {
  const query = (textOrConfig: unknown, values?: unknown[]) => {
    // A config's own `types` wins; pg takes `values` beside a config too.
    const config = typeof textOrConfig === 'string' ? { text: textOrConfig, types } : { types, ...(textOrConfig as object) };
    return db.query(config as unknown as string, values);
  };
  return { query, select: async (textOrConfig: unknown, values?: unknown[]) => (await query(textOrConfig, values)).rows };
}

export async function loadMigrationModule(file: MigrationFile): Promise<MigrationModule> {
  // Synchronous reads: a batch loads every file up front, and a thousand fs/promises reads cost more (bench/RESULTS.md).
  if (file.extension === '.sql') return loadSqlMigration(file, decodeUtf8(readFileSync(file.path), file));
  const { importMigration } = await import('./migrationLoader.js');
  let loaded: Record<string, unknown>;
  try {
    // jiti as node-pg-migrate uses it, TypeScript compiled with sucrase instead of Babel (migrationLoader.ts).
    loaded = (await importMigration(file.path)) as Record<string, unknown>;
  } catch (error) {
    throw new MigrationFileError(`migration file ${file.fileName} cannot be loaded: ${describeCause(error)}`, file.path, {
      cause: error,
    });
  }
  const module = (loaded && typeof loaded === 'object' ? loaded : {}) as Record<string, unknown>;
  if (typeof module.up !== 'function' && module.up !== false) {
    throw new MigrationFileError(`migration file ${file.fileName} exports no up function`, file.path, {
      hint: 'export function up(pgm) { … } (and down)',
    });
  }
  return {
    up: module.up as MigrationAction,
    down: module.down as MigrationAction,
    ...(module.shorthands !== undefined && { shorthands: module.shorthands as Record<string, unknown> }),
  };
}

/** The file's text; a file that is not UTF-8 is refused, never run with replacement characters. */
function decodeUtf8(content: Buffer, file: MigrationFile): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(content);
  } catch {
    throw new MigrationFileError(`migration file ${file.fileName} is not valid UTF-8`, file.path, {
      hint: 're-save it as UTF-8',
    });
  }
}

/**
 * node-pg-migrate's legacy SQL format (sqlMigration.ts): `-- Up Migration`
 * and `-- Down Migration` markers; without markers the whole file is up and
 * there is no down.
 */
export function parseSqlMigration(content: string): MigrationModule {
  const { up, down } = sqlSectionsOf(content);
  const upSql = content.slice(up.start, up.end);
  const downSql = down ? content.slice(down.start, down.end) : undefined;
  return {
    up: (pgm) => void pgm.sql(upSql),
    down: downSql === undefined ? false : (pgm) => void pgm.sql(downSql),
    sqlText: { up: upSql, down: downSql },
  };
}

interface SqlSections {
  readonly up: { readonly start: number; readonly end: number };
  readonly down: { readonly start: number; readonly end: number } | null;
  readonly upMarker: boolean;
}

/** Where node-pg-migrate's sqlMigration.ts cuts a file into its up and down (each section starts at its marker). */
function sqlSectionsOf(content: string): SqlSections {
  const marker = (direction: string) => new RegExp(`^\\s*--[\\s-]*${direction}\\s+migration`, 'im');
  const upStart = content.search(marker('up'));
  const downStart = content.search(marker('down'));
  return {
    up: upStart >= 0 ? { start: upStart, end: downStart < upStart ? content.length : downStart } : { start: 0, end: content.length },
    down: downStart >= 0 ? { start: downStart, end: upStart < downStart ? content.length : upStart } : null,
    upMarker: upStart >= 0,
  };
}

/** A line of its own that takes a .sql migration out of the batch's transaction (README, "How it behaves"). */
const NO_TRANSACTION_DIRECTIVE = /^[ \t]*--[ \t]*migrate:no-transaction[ \t]*$/im;

/**
 * A .sql migration as the runner runs it: its sections (node-pg-migrate's
 * format), checked with PostgreSQL's grammar (src/files/sqlStatements.ts) before
 * any migration of the batch runs:
 * - a file whose up would run down SQL (a Down section and no Up marker, or
 *   an Up section that is empty while the Down is not) is refused;
 * - one BEGIN … COMMIT around a whole section, as a file written for psql
 *   has it, is blanked out, so the section runs in the batch's transaction;
 * - any other top-level transaction control is refused, naming its line:
 *   it would end the batch's transaction and commit half of it;
 * - an `ALTER TYPE … ADD VALUE` is noted, so its transaction commits before
 *   the next migration uses the value.
 */
async function loadSqlMigration(file: MigrationFile, content: string): Promise<MigrationModule> {
  const sections = sqlSectionsOf(content);
  const parsed = parseSqlMigration(content);
  const upText = parsed.sqlText!.up;
  const downText = parsed.sqlText!.down;
  if (sections.down && !sections.upMarker) {
    const line = lineAt(content, sections.down.start);
    throw new MigrationFileError(
      `${file.fileName}:${line}: a "-- Down Migration" section and no "-- Up Migration" marker, so up would run the down SQL too`,
      file.path,
      { hint: 'put a "-- Up Migration" line above the up SQL (or, for a file without a down, remove the Down marker)' },
    );
  }
  const noTransaction = NO_TRANSACTION_DIRECTIVE.test(content);
  const up = await checkSection(file, content, sections.up.start, upText, noTransaction);
  const down = downText === undefined ? null : await checkSection(file, content, sections.down!.start, downText, noTransaction);
  if (up.facts.blank && down && !down.facts.blank) {
    throw new MigrationFileError(
      `${file.fileName}:${lineAt(content, sections.up.start)}: the "-- Up Migration" section is empty but the Down section is not`,
      file.path,
      { hint: 'write the up SQL under "-- Up Migration"; for an up that deliberately does nothing, write SELECT 1; there' },
    );
  }
  const upSql = up.text;
  const downSql = down?.text;
  return {
    up: (pgm) => void pgm.sql(upSql),
    down: downSql === undefined ? false : (pgm) => void pgm.sql(downSql),
    sqlText: { up: upSql, down: downSql },
    sqlFacts: { noTransaction, up: up.facts, down: down?.facts ?? null },
  };
}

async function checkSection(
  file: MigrationFile,
  content: string,
  sectionStart: number,
  text: string,
  noTransaction: boolean,
): Promise<{ text: string; facts: SqlSectionFacts }> {
  const plain = (statements: readonly ParsedStatement[] | null, opaque = false) => ({
    text,
    facts: {
      opaque,
      unwrapped: false,
      addsEnumValue: statements?.some((s) => s.addsEnumValue) ?? false,
      statements: statements?.map((s) => text.slice(s.start, s.end)) ?? null,
      blank: statements ? statements.length === 0 : isBlankSql(text),
      line: lineAt(content, sectionStart),
    },
  });
  const psqlOnly = await findPsqlOnly(text);
  if (psqlOnly) {
    const line = lineAt(content, sectionStart) + lineAt(text, psqlOnly.offset) - 1;
    const end = text.indexOf('\n', psqlOnly.offset);
    const said = text.slice(psqlOnly.offset, end < 0 ? undefined : end).trim().slice(0, 80);
    throw psqlOnly.what === 'meta-command'
      ? new MigrationFileError(`${file.fileName}:${line}: ${said} is a psql meta-command, which the server does not know: the runner sends the file's SQL to the server, not through psql`, file.path, {
          hint: 'remove it: a failed statement stops the batch and rolls it back, as ON_ERROR_STOP would; for \\i, put that file\'s SQL in the migration',
        })
      : new MigrationFileError(`${file.fileName}:${line}: ${said} reads its rows from psql's input, which the runner does not send`, file.path, {
          hint: 'load the rows with INSERT … VALUES, or COPY FROM a file the server can read',
        });
  }
  // Outside a transaction the statements run one by one, so they are always parsed. Inside, a text that leaves
  // a string or comment open goes alone (closesWhatItOpens), where the server reads it as the checks did.
  if (!noTransaction && !mayControlTransactions(text)) return plain(null, !(await closesWhatItOpens(text)));
  const parsed = await parseStatements(text);
  if (noTransaction) return plain(parsed, !parsed);
  // What the grammar rejects, the server it is written for may run: its transaction control is found with the
  // lexer. The server reports what it rejects, where it would have; it still runs alone (SqlSectionFacts.opaque).
  const statements = parsed ?? (await scanStatements(text));
  if (!statements) return plain(null, true);
  const lineOf = (statement: ParsedStatement) => plain(null).facts.line + statement.line - 1;
  const refuse = (statement: ParsedStatement, why: string, hint = TRANSACTION_CONTROL_HINT): never => {
    throw new MigrationFileError(`${file.fileName}:${lineOf(statement)}: ${statementText(text, statement)} ${why}`, file.path, { hint });
  };
  let body = statements;
  let unwrapped = text;
  const first = statements[0];
  const last = statements.at(-1);
  if (statements.length >= 2 && first?.control?.kind === 'begin' && last?.control?.kind === 'commit') {
    if (first.control.withOptions) {
      refuse(first, "sets transaction options, which the batch's one transaction cannot take", 'remove the options (or run the file outside the batch: a line "-- migrate:no-transaction")');
    }
    if (last.control.andChain) refuse(last, "would start another transaction after the batch's", TRANSACTION_CONTROL_HINT);
    unwrapped = blankStatement(blankStatement(text, last), first);
    body = statements.slice(1, -1);
  }
  const savepoints = new Set<string>();
  for (const statement of body) {
    const control = statement.control;
    if (!control) continue;
    switch (control.kind) {
      case 'savepoint':
        savepoints.add(control.savepoint);
        break;
      case 'release':
      case 'rollback-to':
        // Savepoints inside the batch's transaction are fine; one this file did not make is not its to undo.
        if (!savepoints.has(control.savepoint)) refuse(statement, `names a savepoint this file did not make`);
        break;
      case 'begin':
        refuse(statement, "would start a transaction inside the batch's (one BEGIN … COMMIT around the whole section is allowed)");
        break;
      case 'commit':
      case 'rollback':
        refuse(statement, `would end the batch's transaction, committing or undoing the migrations before it`);
        break;
      case 'prepare-transaction':
        refuse(statement, "would hand the batch's transaction to two-phase commit");
        break;
      case 'commit-prepared':
      case 'rollback-prepared':
        refuse(statement, "cannot run inside the batch's transaction");
        break;
    }
  }
  const { facts } = plain(parsed, !parsed);
  return { text: unwrapped, facts: { ...facts, addsEnumValue: statements.some((s) => s.addsEnumValue), unwrapped: unwrapped !== text } };
}

const TRANSACTION_CONTROL_HINT =
  'the runner runs the whole batch in one transaction: remove it; one BEGIN … COMMIT around the whole section is allowed, ' +
  'and a file that must run outside the transaction says so on a line of its own: -- migrate:no-transaction';

/** Whitespace and comments only (nested block comments as PostgreSQL nests them). */
export function isBlankSql(text: string): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const two = text.slice(i, i + 2);
    if (depth === 0 && two === '--') {
      const end = text.indexOf('\n', i);
      if (end < 0) return true;
      i = end;
    } else if (two === '/*') {
      depth++;
      i++;
    } else if (depth > 0 && two === '*/') {
      depth--;
      i++;
    } else if (depth === 0 && !/\s/.test(text[i]!)) {
      return false;
    }
  }
  return true;
}

/**
 * What a JS/TS migration built: the same transaction-control check as a .sql
 * file's, on the SQL it would send, before it is sent (there is no line to
 * name, so the statement is quoted). Also notes an added enum value.
 */
export async function checkBuiltSql(
  file: MigrationFile,
  steps: readonly string[],
  how: 'builds' | 'sends through pgm.db' = 'builds',
): Promise<{ addsEnumValue: boolean; opaque: boolean }> {
  let enumValue = false;
  let opaque = false;
  for (const step of steps) {
    if (!mayControlTransactions(step)) {
      opaque ||= !(await closesWhatItOpens(step));
      continue;
    }
    const parsed = await parseStatements(step);
    opaque ||= !parsed;
    // Unreadable to the grammar, the step may still be the server's SQL: its transaction control is found with the lexer.
    const statements = parsed ?? (await scanStatements(step));
    if (!statements) continue;
    for (const statement of statements) {
      enumValue ||= statement.addsEnumValue;
      const kind = statement.control?.kind;
      if (kind && kind !== 'savepoint' && kind !== 'release' && kind !== 'rollback-to') {
        throw new MigrationFileError(
          `migration file ${file.fileName} ${how} ${statementText(step, statement)}, which would end or change the batch's transaction`,
          file.path,
          { hint: 'remove it; for SQL that must run outside a transaction, call pgm.noTransaction()' },
        );
      }
    }
  }
  return { addsEnumValue: enumValue, opaque };
}

/**
 * With standard_conforming_strings off, the server reads a backslash in a
 * '…' string as an escape, and every check before running reads SQL as
 * PostgreSQL does by default (src/files/sqlStatements.ts
 * backslashInString): where the two readings may part, the checks cannot
 * tell where the text's statements end, nor see a COMMIT after that
 * string. Refused with the line that holds the string (exit 2; where the
 * SQL is about to be sent, src/db/execute.ts makes it a failure of its
 * migration); `line` is where the text starts in the file, for a .sql
 * section, so the message says `file:line`.
 */
export async function refuseEscapedStrings(file: MigrationFile, text: string, line: number | null): Promise<void> {
  const at = await backslashInString(text);
  if (at === null) return;
  const end = text.indexOf('\n', at);
  const said = text.slice(text.lastIndexOf('\n', at - 1) + 1, end < 0 ? undefined : end).trim().slice(0, 60);
  const where = line === null ? `${file.fileName}: ${said}` : `${file.fileName}:${line + lineAt(text, at) - 1}: ${said}`;
  throw new MigrationFileError(
    `${where} has a backslash in a '…' string, and standard_conforming_strings is off in the runner's session: the server reads it as an escape, ` +
      `the checks before running as PostgreSQL does by default, so they cannot tell where the statements after it end`,
    file.path,
    { hint: "write it as E'…', read the same on either setting (its backslashes are escapes, as they are in this one now), or turn standard_conforming_strings on for the database or role (ALTER DATABASE … SET standard_conforming_strings = on)" },
  );
}

/**
 * What `pgm.sql(text)` adds as its one step: the text, with a ';' appended
 * unless it already ends in one (node-pg-migrate's operations/sql.ts; without
 * arguments its placeholder transform changes nothing).
 */
function sqlStepOf(text: string): string {
  return text.lastIndexOf(';') === text.length - 1 ? text : `${text};`;
}

/**
 * Whether a JS/TS file may export shorthands. node-pg-migrate accumulates
 * `shorthands` across every file in order; since we import only what runs,
 * files that mention the word are imported too, so the set stays the same.
 */
export function mayExportShorthands(file: MigrationFile): boolean {
  if (file.extension === '.sql') return false;
  // Asked for every file before each batch: a replay runs a batch per migration, so a history of
  // JS/TS files was read n² times. The checksum is of the content, so an answer for it stays right.
  const key = `${file.path}\0${file.checksum}`;
  let answer = exportsShorthands.get(key);
  if (answer === undefined) exportsShorthands.set(key, (answer = readFileSync(file.path, 'utf8').includes('shorthands')));
  return answer;
}

const exportsShorthands = new Map<string, boolean>();

/**
 * Runs a migration's `up` or `down` against a MigrationBuilder and returns its
 * SQL. `pgm.db.query` calls run at once on `db` (node-pg-migrate's semantics),
 * which is the runner's transaction.
 */
export async function buildMigration(
  file: MigrationFile,
  module: MigrationModule,
  direction: 'up' | 'down',
  db: Queryable,
  shorthands: Record<string, unknown>,
  logger: Logger,
): Promise<BuiltMigration> {
  // A .sql file builds to its section, as pgm.sql would: importing node-pg-migrate
  // costs ~140 ms of CPU, which an all-SQL batch then never pays (bench/RESULTS.md, replicas).
  const sqlSection = module.sqlText?.[direction];
  if (sqlSection !== undefined) return builtSql(sqlSection, module.sqlFacts, direction);
  const [{ MigrationBuilder }, installedPg] = await Promise.all([loadNodePgMigrate(), loadInstalledPg()]);
  const pgm = new MigrationBuilder(migrationDbOf(db, installedPg.types) as never, shorthands as never, false, logger as never);
  let action = module[direction];
  // A missing down means "reverse the up" (migration.ts _getAction/apply).
  if (direction === 'down' && action === undefined) {
    action = module.up;
    pgm.enableReverseMode();
  }
  if (action === false || typeof action !== 'function') {
    // Found while running, inside the transaction: a failed migration (exit 1), not a bad file.
    throw new Error(
      `${file.name} has no ${direction} migration` +
        (file.extension === '.sql' ? ` (add a "-- ${direction === 'up' ? 'Up' : 'Down'} Migration" section)` : ''),
    );
  }
  if (action.length === 2) {
    await new Promise<void>((resolve, reject) => {
      try {
        const result = (action as (pgm: MigrationBuilder, run: () => void) => unknown)(pgm, resolve);
        if (result instanceof Promise) result.catch(reject);
      } catch (error) {
        reject(error);
      }
    });
  } else {
    await (action as (pgm: MigrationBuilder) => unknown)(pgm);
  }
  return { sql: pgm.getSqlSteps(), transactional: pgm.isUsingTransaction() };
}

function builtSql(section: string, facts: SqlFileFacts | undefined, direction: 'up' | 'down'): BuiltMigration {
  const sectionFacts = facts?.[direction];
  const enumValue = {
    ...(sectionFacts?.addsEnumValue && { addsEnumValue: true as const }),
    ...(sectionFacts?.opaque && { opaque: true as const }),
  };
  if (facts?.noTransaction) {
    // Outside a transaction each statement is its own query: several in one would run as one implicit transaction,
    // where CREATE INDEX CONCURRENTLY is refused (https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-MULTI-STATEMENT).
    return { sql: sectionFacts?.statements ?? [sqlStepOf(section)], transactional: false, ...enumValue };
  }
  return { sql: [sqlStepOf(section)], transactional: true, ...enumValue };
}
