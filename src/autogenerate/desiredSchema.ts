/**
 * The schema `generate --autogenerate` aims at (README "Changing the
 * schema"): a `schema.sql` file, or a folder of `.sql` files run in name
 * order, applied in a scratch database of its own on the scratch server
 * (never on the target); or a development database, read in a read-only
 * transaction and nothing else.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import pg from 'pg';
import { closeQuietly, connect, pinSearchPath, serverMajorOf, useMigrationSearchPath, type Client } from '../db/connection.js';
import type { ConnectionTarget } from '../config/connectionTarget.js';
import { ConfigError, describeCause } from '../core/errors.js';
import { runnerTablesIn } from '../db/facts.js';
import { lineAt } from '../files/sqlStatements.js';
import { readSchemaModel } from '../schema/catalog.js';
import type { SchemaModel } from '../schema/model.js';
import type { Settings } from '../config/settings.js';
import { compareCodeUnits } from '../core/lists.js';

export interface DesiredFile {
  /** As given or found, for messages. */
  readonly path: string;
  readonly sql: string;
}

/** The desired schema cannot be read or applied: a bad file (exit 2), nothing written. */
export class DesiredSchemaError extends ConfigError {}

/** The `.sql` files of `path`: the file itself, or the folder's `.sql` files in name order (not its subfolders). */
export async function readDesiredFiles(path: string): Promise<DesiredFile[]> {
  let isFolder: boolean;
  try {
    isFolder = (await stat(path)).isDirectory();
  } catch (error) {
    throw new DesiredSchemaError(`the desired schema ${path} cannot be read: ${describeCause(error)}`, path, {
      cause: error,
      hint: 'pass --desired naming a schema.sql file or a folder of .sql files (or config "desired")',
    });
  }
  const paths = isFolder
    ? (await readdir(path, { withFileTypes: true }))
        .filter((e) => e.isFile() && e.name.endsWith('.sql'))
        .map((e) => e.name)
        // Name order by code units: the same on every machine, whatever its locale.
        .sort(compareCodeUnits)
        .map((name) => join(path, name))
    : [path];
  if (paths.length === 0) {
    throw new DesiredSchemaError(`the desired schema folder ${path} holds no .sql files`, path, {
      hint: 'put the schema in .sql files there (they run in name order), or pass --desired naming one file',
    });
  }
  return Promise.all(paths.map(async (p) => ({ path: relative(process.cwd(), p) || p, sql: await readFile(p, 'utf8') })));
}

/**
 * Runs the desired files in `client`'s (scratch) database with the managed
 * schema as search_path, as migrations run, and reads the model. A file that
 * fails is named with its line (exit 2).
 */
export async function applyDesiredSchema(client: Client, files: readonly DesiredFile[], settings: Settings): Promise<SchemaModel> {
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(settings.schema)}`);
  await useMigrationSearchPath(client, settings.schema);
  for (const file of files) {
    try {
      // One simple query per file: the statements run in order, as psql -1 would run them.
      await client.query(file.sql);
    } catch (error) {
      const position = Number((error as { position?: string }).position);
      const where = Number.isInteger(position) && position > 0 ? `${file.path}:${lineAt(file.sql, position - 1)}` : file.path;
      throw new DesiredSchemaError(`the desired schema ${where} does not apply: ${describeCause(error)}`, file.path, {
        cause: error,
        hint: 'it runs in an empty scratch database, file after file: fix the file (psql meta-commands such as \\connect are not SQL)',
      });
    }
  }
  await pinSearchPath(client);
  return readSchemaModel(client, { schema: settings.schema, excludeTables: runnerTablesIn(settings) });
}

/**
 * The model of a development database, read in a READ ONLY transaction that
 * is rolled back: nothing there is created, locked or written.
 */
export async function readDesiredDatabase(target: ConnectionTarget, settings: Settings): Promise<{ model: SchemaModel; serverMajor: number }> {
  const client = await connect(target, { waitTimeoutSeconds: settings.waitTimeoutSeconds, idlesLong: false });
  try {
    await client.query('BEGIN READ ONLY');
    try {
      const model = await readSchemaModel(client, { schema: settings.schema, excludeTables: runnerTablesIn(settings), transaction: 'existing' });
      return { model, serverMajor: serverMajorOf(client) };
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
    }
  } finally {
    await closeQuietly(client);
  }
}
