/**
 * verify's second up runs as one batch (src/fingerprints/verifyReplay.ts):
 * when it does not reach the first up's schema, the migrations are taken
 * down and up again one by one, and the one whose up after its down gives
 * another schema is named, as before.
 */
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { createMigrationsFolder, sqlMigration, type MigrationsFolder } from '../helpers/migrationsFolder.js';
import { cleanEnv, runCli } from '../helpers/processes.js';

let db: TestDatabase;
let folder: MigrationsFolder;
afterAll(async () => {
  await db?.drop();
  await folder?.dispose();
});

test('an up that builds another schema the second time is named, with what differs', async () => {
  db = await createTestDatabase('verify_up_again');
  // The first up leaves a schema outside the managed one (not in its fingerprint), and every later up adds an index.
  const remembers = `CREATE TABLE t (id int);
DO $$ BEGIN
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'seen_once') THEN CREATE INDEX t_id_idx ON t (id);
  ELSE CREATE SCHEMA seen_once; END IF;
END $$;`;
  folder = await createMigrationsFolder({
    '0001_plain.sql': sqlMigration('CREATE TABLE a (id int);', 'DROP TABLE a;'),
    '0002_remembers.sql': sqlMigration(remembers, 'DROP TABLE t;'),
    '0003_plain.sql': sqlMigration('CREATE TABLE b (id int);', 'DROP TABLE b;'),
  });
  const r = await runCli(['verify', '--dir', folder.dir], { env: cleanEnv({ DATABASE_URL: db.url }) });
  expect(r.code).toBe(1);
  const lines = r.stdout.split('\n');
  expect(lines.filter((l) => / up again /.test(l))).toEqual([
    'ok   up again 0001_plain',
    'FAIL up again 0002_remembers: up after down gives another schema than the first up',
    // The index 0002's second up made is still there: as the one-by-one verify always said.
    'FAIL up again 0003_plain: up after down gives another schema than the first up',
  ]);
  expect(r.stdout).toMatch(/index CREATE INDEX ON t USING btree \(id\) is extra in the database/);
  expect(r.stderr).toMatch(/verify failed at up again of 0002_remembers/);
});
