/**
 * The generator against real PostgreSQL on a corpus of schema changes
 * (test/fixtures/autogenerate/<scenario>/before.sql, after.sql, optional
 * seed.sql for before, options.json with the plan options of each
 * direction). Each scenario runs in both directions: the migration is
 * planned, written as generate writes it, and proven as generate proves it
 * (up reaches the desired fingerprint, planning again finds nothing, down
 * gives the schema back); rows seeded before a plan without data loss are
 * still there after it. The last test fails when some kind of the model ×
 * {add, drop, change} has no scenario.
 */
import { UNPLANNED_KIND_LISTS } from '../../src/schema/unplannedKinds.js';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { applyDesiredSchema } from '../../src/autogenerate/desiredSchema.js';
import { proveMigration } from '../../src/autogenerate/generate.js';
import { migrationTexts } from '../../src/autogenerate/migrationText.js';
import { serverMajorOf } from '../../src/db/connection.js';
import { migrationFileName } from '../../src/files/createMigration.js';
import { executeBatch } from '../../src/db/execute.js';
import { batchOptions, readModel } from '../../src/fingerprints/replay.js';
import { createSilentLogger } from '../../src/config/logger.js';
import { readMigrationFiles } from '../../src/files/migrationFiles.js';
import { fingerprintSchema } from '../../src/schema/fingerprint.js';
import { createEmptySchemaModel, keyOfNamedDefinition, type SchemaModel } from '../../src/schema/model.js';
import { planSchemaChange, type PlanOptions } from '../../src/schema/planner.js';
import { resolveSettings } from '../../src/config/settings.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { PROJECT_ROOT } from '../helpers/processes.js';

const CORPUS = join(PROJECT_ROOT, 'test', 'fixtures', 'autogenerate');

interface Scenario {
  readonly name: string;
  readonly before: string;
  readonly after: string;
  readonly seed: string | null;
  readonly options: { readonly forward: PlanOptions; readonly backward: PlanOptions };
}

function readScenario(name: string): Scenario {
  const dir = join(CORPUS, name);
  const read = (file: string) => (existsSync(join(dir, file)) ? readFileSync(join(dir, file), 'utf8') : null);
  const options = JSON.parse(read('options.json') ?? '{}') as Partial<Scenario['options']>;
  return {
    name,
    before: read('before.sql')!,
    after: read('after.sql')!,
    seed: read('seed.sql'),
    options: { forward: options.forward ?? {}, backward: options.backward ?? {} },
  };
}

const SCENARIOS = readdirSync(CORPUS, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => readScenario(e.name));

const RUNS = SCENARIOS.flatMap((s) => [
  { title: `${s.name}: before → after`, scenario: s, from: s.before, to: s.after, seed: s.seed, options: s.options.forward },
  { title: `${s.name}: after → before`, scenario: s, from: s.after, to: s.before, seed: null, options: s.options.backward },
]);

// --- Which kind × {add, drop, change} a pair of models exercises -----------------------------------------

/** The identity of an item of a model list: its name (a function's with its arguments), a string itself, else its definition. */
function identityOf(item: unknown): string {
  if (typeof item === 'string') return item;
  const record = item as { name?: string; arguments?: string; definition?: string };
  if (record.arguments !== undefined) return `${record.name}(${record.arguments})`;
  if (record.definition !== undefined) return keyOfNamedDefinition(record as { name?: string; definition: string });
  return record.name ?? JSON.stringify(item);
}

const isObjectList = (value: unknown): value is object[] => Array.isArray(value) && value.some((v) => v !== null && typeof v === 'object');
const canonical = (value: unknown) => JSON.stringify(value, (_k, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort()) : v));

/** `tables add`, `tables.columns change`, …: model list names, and the object lists nested in their items. */
function changesBetween(from: SchemaModel, to: SchemaModel): Set<string> {
  const found = new Set<string>();
  const compare = (kind: string, before: readonly unknown[], after: readonly unknown[]) => {
    const a = new Map(before.map((i) => [identityOf(i), i]));
    const b = new Map(after.map((i) => [identityOf(i), i]));
    for (const [key, item] of b) if (!a.has(key)) found.add(`${kind} add`);
    for (const [key, item] of a) {
      const other = b.get(key);
      if (other === undefined) {
        found.add(`${kind} drop`);
        continue;
      }
      if (typeof item !== 'object' || item === null) continue;
      const own = (value: object) => Object.fromEntries(Object.entries(value).filter(([, v]) => !isObjectList(v)));
      if (canonical(own(item)) !== canonical(own(other as object))) found.add(`${kind} change`);
      const fields = new Set([...Object.keys(item), ...Object.keys(other as object)]);
      for (const field of fields) {
        const x = (item as Record<string, unknown>)[field];
        const y = (other as Record<string, unknown>)[field];
        if (isObjectList(x) || isObjectList(y)) compare(`${kind}.${field}`, (x as unknown[]) ?? [], (y as unknown[]) ?? []);
      }
    }
    // Nested lists of objects that are new are exercised as additions too.
    for (const [key, item] of b) {
      if (a.has(key) || typeof item !== 'object' || item === null) continue;
      for (const [field, value] of Object.entries(item)) if (isObjectList(value)) compare(`${kind}.${field}`, [], value);
    }
  };
  for (const [field, list] of Object.entries(to)) {
    if (Array.isArray(list)) compare(field, (from as unknown as Record<string, unknown[]>)[field] ?? [], list);
  }
  return found;
}

const exercised = new Set<string>();

// --- The runs ----------------------------------------------------------------------------------------------

const databases: TestDatabase[] = [];
afterAll(async () => {
  await Promise.all(databases.map((d) => d.drop()));
});

async function connected(prefix: string): Promise<{ db: TestDatabase; client: pg.Client }> {
  const db = await createTestDatabase(prefix);
  databases.push(db);
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  return { db, client };
}

async function rowCounts(client: pg.Client, model: SchemaModel): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of model.tables) {
    if (table.kind === 'partitioned' || table.partitionOf !== undefined) continue;
    const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM public.${pg.escapeIdentifier(table.name)}`);
    counts[table.name] = Number(rows[0]!.n);
  }
  return counts;
}

describe('each scenario, both directions: planned, written, proven against PostgreSQL', () => {
  test.each(RUNS)('$title', async ({ from, to, seed, options }) => {
    const current = await connected('ag_cur');
    const desired = await connected('ag_des');
    try {
      const settings = resolveSettings({ databaseUrl: current.db.url }, {}, PROJECT_ROOT);
      const currentModel = await applyDesiredSchema(current.client, [{ path: 'before.sql', sql: from }], settings);
      if (seed) await current.client.query(`SET search_path TO public; ${seed}; SET search_path TO pg_catalog, pg_temp`);
      const seeded = await rowCounts(current.client, currentModel);
      const desiredModel = await applyDesiredSchema(desired.client, [{ path: 'after.sql', sql: to }], settings);
      for (const change of changesBetween(currentModel, desiredModel)) exercised.add(change);

      const planOptions: PlanOptions = { ...options, serverMajor: serverMajorOf(current.client) };
      const plan = planSchemaChange(currentModel, desiredModel, planOptions);
      expect(plan.refusals).toEqual([]);
      expect(plan.up.length).toBeGreaterThan(0);
      const texts = migrationTexts({
        message: 'scenario',
        plan,
        head: null,
        beforeFingerprint: fingerprintSchema(currentModel),
        afterFingerprint: fingerprintSchema(desiredModel),
        desiredSource: 'after.sql',
      });
      const names: string[] = [];
      for (const text of texts) names.push(await migrationFileName(names, text.name, text.language, new Date(0)));
      const replay = batchOptions(current.client as never, { settings, logger: createSilentLogger() });
      const proof = await proveMigration(current.client as never, [], texts, names, {
        current: currentModel,
        desired: desiredModel,
        plan,
        planOptions,
        settings,
        replay,
      });
      // Only a down that puts a dropped middle column back last may differ, and the plan says so.
      if (proof.caveats.length > 0) expect(plan.notes.join('\n')).toMatch(/back as the last column/);

      const destructive = plan.up.some((s) => s.markers.some((m) => m.kind === 'data-loss'));
      if (!destructive) {
        // Up and down ran; the rows are there. Up once more, as the files are written: still there.
        expect(await rowCounts(current.client, currentModel)).toEqual(seeded);
        const folder = await mkdtemp(join(tmpdir(), 'ag-corpus-'));
        try {
          for (const [i, text] of texts.entries()) await writeFile(join(folder, names[i]!), text.text);
          const files = await readMigrationFiles(folder);
          await executeBatch('up', files, files, replay);
          expect(fingerprintSchema(await readModel(current.client as never, settings))).toBe(fingerprintSchema(desiredModel));
          const after = await rowCounts(current.client, desiredModel);
          for (const [table, n] of Object.entries(seeded)) if (table in after) expect({ table, rows: after[table] }).toEqual({ table, rows: n });
        } finally {
          await rm(folder, { recursive: true, force: true });
        }
      }
    } finally {
      await current.client.end();
      await desired.client.end();
    }
  });

  test('every kind of the model × {add, drop, change} has a scenario', () => {
    expect(exercised.size).toBeGreaterThan(0);
    // The model's lists (a kind the catalog gains is a list here, and fails this test until a scenario covers it),
    // and the lists nested in their items that the corpus shows.
    const topLevel = Object.entries(createEmptySchemaModel()).filter(([, v]) => Array.isArray(v)).map(([k]) => k);
    const nested = [...exercised].map((e) => e.split(' ')[0]!).filter((k) => k.includes('.'));
    const kinds = [...new Set([...topLevel, ...nested])].sort();
    expect(kinds).toEqual(expect.arrayContaining([
      'compositeTypes.attributes', 'domains.checks', 'tables.columns', 'tables.constraints', 'tables.indexes', 'tables.policies', 'tables.triggers', 'views.indexes', 'views.triggers',
    ]));
    // An extension's version and comment are refused (unplannedKinds.ts), as are the kinds the planner
    // does not write yet: they are refused by name, not planned (test/unit/schemaPlanner.test.ts).
    const notApplicable = new Set(['extensions change']);
    const planned = kinds.filter((kind) => !UNPLANNED_KIND_LISTS.includes(kind));
    const missing = planned
      .flatMap((kind) => (['add', 'drop', 'change'] as const).map((change) => `${kind} ${change}`))
      .filter((id) => !notApplicable.has(id) && !exercised.has(id));
    expect(missing).toEqual([]);
    for (const kind of UNPLANNED_KIND_LISTS) expect(topLevel).toContain(kind);
  });
});
