/**
 * The live schema as the fingerprints see it: the managed schema, without the
 * runner's own tables, with privileges when they are fingerprinted. Read by a
 * look (src/observe.ts), a replay, checkSchema and autogenerate alike.
 */
import type { Client } from '../db/connection.js';
import { runnerTablesIn } from '../db/facts.js';
import { readSchemaModel } from '../schema/catalog.js';
import type { SchemaModel } from '../schema/model.js';
import type { Settings } from '../config/settings.js';

export function readModel(client: Client, settings: Settings): Promise<SchemaModel> {
  return readSchemaModel(client, readOptionsOf(settings));
}

export function readOptionsOf(settings: Settings) {
  return { schema: settings.schema, excludeTables: runnerTablesIn(settings), privileges: settings.fingerprintPrivileges };
}
