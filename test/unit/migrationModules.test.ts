/**
 * A .sql migration builds to its section without node-pg-migrate
 * (src/files/migrationModules.ts): the SQL must be exactly what node-pg-migrate's
 * MigrationBuilder makes of the same file (its sqlMigration.ts: `pgm.sql(section)`).
 */
import { MigrationBuilder } from 'node-pg-migrate';
import { buildMigration, parseSqlMigration } from '../../src/files/migrationModules.js';
import { createSilentLogger } from '../../src/config/logger.js';
import type { Queryable } from '../../src/core/types.js';
import type { MigrationFile } from '../../src/core/types.js';

const file: MigrationFile = { name: '0001_x', fileName: '0001_x.sql', extension: '.sql', path: '/m/0001_x.sql', checksum: 'c' };
const noDatabase = {
  query: () => {
    throw new Error('building SQL must not query');
  },
} as unknown as Queryable;

/** What node-pg-migrate's own builder makes of the section. */
function stepsByNodePgMigrate(content: string, direction: 'up' | 'down'): readonly string[] {
  const pgm = new MigrationBuilder(noDatabase as never, {}, false, createSilentLogger() as never);
  const action = parseSqlMigration(content)[direction];
  if (typeof action !== 'function') throw new Error(`no ${direction}`);
  void action(pgm);
  return pgm.getSqlSteps();
}

const CONTENTS: Record<string, string> = {
  'markers, statements ending in ;': '-- Up Migration\nCREATE TABLE a (id int);\n\n-- Down Migration\nDROP TABLE a;\n',
  'no trailing newline': '-- Up Migration\nCREATE TABLE a (id int);\n-- Down Migration\nDROP TABLE a;',
  'no closing semicolon': '-- Up Migration\nCREATE TABLE a (id int)\n-- Down Migration\nDROP TABLE a',
  'down before up': '-- Down Migration\nDROP TABLE a;\n-- Up Migration\nCREATE TABLE a (id int);\n',
  'braces and dollars, as in functions': "-- Up Migration\nCREATE FUNCTION f() RETURNS text AS $$ SELECT '{x}' $$ LANGUAGE sql;\n-- Down Migration\nDROP FUNCTION f();\n",
  'empty sections': '-- Up Migration\n-- Down Migration\n',
};

describe.each(Object.entries(CONTENTS))('%s', (_label, content) => {
  test.each(['up', 'down'] as const)('%s builds to what MigrationBuilder makes of it', async (direction) => {
    const built = await buildMigration(file, parseSqlMigration(content), direction, noDatabase, {}, createSilentLogger());
    expect(built).toEqual({ sql: stepsByNodePgMigrate(content, direction), transactional: true });
  });
});

test('a file without markers is all up, and has no down', async () => {
  const content = 'CREATE TABLE a (id int);\n';
  const module = parseSqlMigration(content);
  expect((await buildMigration(file, module, 'up', noDatabase, {}, createSilentLogger())).sql).toEqual(stepsByNodePgMigrate(content, 'up'));
  await expect(buildMigration(file, module, 'down', noDatabase, {}, createSilentLogger())).rejects.toThrow(
    '0001_x has no down migration (add a "-- Down Migration" section)',
  );
});
