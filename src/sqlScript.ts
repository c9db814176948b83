/**
 * The script `sql` and `sql --offline` print: one transaction, every
 * migration of the batch and its history row, with the transaction
 * boundaries `up`/`down` put there (src/files/migrationBatch.ts boundaryOf);
 * psql can run it. The history table is node-pg-migrate's, made by the same
 * DDL `up` runs (src/db/history.ts); checksums and durations are the
 * runner's, written only when it runs the batch itself.
 *
 * The script reads its strings as the runner's checks read them, with
 * standard_conforming_strings on: it says so at its top, as pg_dump's
 * scripts do, for a session that has it off, and again before a migration
 * with a backslash in a '…' string, which one before it may have turned it
 * off (README "Transaction control in migrations"). psql lexes each statement
 * with the session's setting, as the server does: with it off, such a string
 * ends elsewhere, and what the checks read as a string, a COMMIT say, runs.
 */
import pg from 'pg';
import { historyTableDdl } from './db/history.js';
import { metaTableOf, qualify, type HistoryLocation } from './db/facts.js';
import { boundaryOf } from './files/migrationBatch.js';
import { backslashInString } from './files/sqlStatements.js';
import type { BuiltMigration } from './files/migrationModules.js';
import type { MigrationFile } from './core/types.js';

export interface ScriptedMigration {
  readonly file: MigrationFile;
  readonly built: BuiltMigration;
}

export interface ScriptOptions {
  /** The first line, a comment saying what the script is. */
  readonly header: string;
  readonly direction: 'up' | 'down';
  readonly history: HistoryLocation;
  /** Whether the script creates the history table first (IF NOT EXISTS). */
  readonly createHistory: boolean;
}

export async function batchScript(migrations: readonly ScriptedMigration[], options: ScriptOptions): Promise<string> {
  const { direction } = options;
  const history = qualify(options.history.schema, options.history.table);
  const lines = [options.header];
  if (!migrations.length) return lines.concat(`-- nothing to ${direction === 'down' ? 'revert' : 'apply'}`).join('\n');
  lines.push(STRINGS_AS_CHECKED, 'BEGIN;');
  if (options.createHistory) lines.push(`${historyTableDdl(options.history)};`);
  for (const [index, { file, built }] of migrations.entries()) {
    const boundary = boundaryOf(built);
    lines.push(`-- ${file.fileName} (${direction})${boundary === 'alone' ? ' -- runs outside the transaction' : ''}`);
    if (boundary === 'alone') lines.push('COMMIT;');
    if (index > 0 && (await backslashInString(built.sql.join('\n'))) !== null) lines.push(STRINGS_AS_CHECKED);
    lines.push(...built.sql);
    lines.push(direction === 'down'
      ? `DELETE FROM ${history} WHERE name = ${pg.escapeLiteral(file.name)};`
      : `INSERT INTO ${history} (name, run_on) VALUES (${pg.escapeLiteral(file.name)}, NOW());`);
    if (boundary === 'alone') lines.push('BEGIN;');
    else if (boundary === 'commit-after' && index < migrations.length - 1) lines.push('COMMIT;', 'BEGIN;');
  }
  lines.push('COMMIT;');
  lines.push(`-- checksums and durations go to ${qualify(options.history.schema, metaTableOf(options.history.table))} when migrate runs it`);
  return lines.join('\n');
}

/** How the runner's checks read strings (src/files/sqlStatements.ts backslashInString). */
const STRINGS_AS_CHECKED = 'SET standard_conforming_strings = on;';
