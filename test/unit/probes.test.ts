/** The `-- migrate:probe` directive of .sql migrations (src/db/probes.ts), table-driven, no database. */
import { parseSqlProbe, ProbeError } from '../../src/db/probes.js';

const file = { fileName: '0002_x.sql', path: '/m/0002_x.sql' };
const up = "-- Up Migration\nINSERT INTO settings VALUES ('x', 1);\n-- Down Migration\nDELETE FROM settings WHERE key = 'x';\n";

describe('parseSqlProbe', () => {
  test.each([
    ['no directive', up, null],
    ['one line', `-- migrate:probe SELECT EXISTS (SELECT 1 FROM settings WHERE key = 'x')\n${up}`, { sql: "SELECT EXISTS (SELECT 1 FROM settings WHERE key = 'x')", line: 1 }],
    ['one line, indented, after the up section', `${up}  --migrate:probe   SELECT true  \n`, { sql: 'SELECT true', line: 5 }],
    ['a block comment', `/* migrate:probe\nSELECT EXISTS (\n  SELECT 1 FROM settings WHERE key = 'x')\n*/\n${up}`, { sql: "SELECT EXISTS (\n  SELECT 1 FROM settings WHERE key = 'x')", line: 1 }],
    ['a block comment on one line', `/* migrate:probe SELECT false */\n${up}`, { sql: 'SELECT false', line: 1 }],
    ['CRLF line endings', `-- migrate:probe SELECT true\r\n${up.replace(/\n/g, '\r\n')}`, { sql: 'SELECT true', line: 1 }],
    ['a word that only starts the same is no directive', `-- migrate:probes are nice\n${up}`, null],
    ['a directive not at the start of a line is none', `SELECT 1; -- migrate:probe SELECT true\n`, null],
  ])('%s', (_title, content, expected) => {
    const probe = parseSqlProbe(content, file);
    if (expected === null) expect(probe).toBeNull();
    else expect(probe).toEqual({ kind: 'sql', ...expected });
  });

  test.each([
    ['two probes', `-- migrate:probe SELECT true\n${up}/* migrate:probe SELECT false */\n`, /^0002_x\.sql:6: a second migrate:probe \(the first is on line 1\)$/],
    ['an empty one', `-- migrate:probe\n${up}`, /^0002_x\.sql:1: migrate:probe has no query$/],
    ['an empty block', `/* migrate:probe\n*/\n${up}`, /^0002_x\.sql:1: migrate:probe has no query$/],
    ['a block never closed', `${up}/* migrate:probe\nSELECT true\n`, /^0002_x\.sql:5: the migrate:probe block comment is never closed$/],
  ])('%s is the file\'s error (exit 2), naming file:line', (_title, content, message) => {
    let caught: unknown;
    try {
      parseSqlProbe(content, file);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ProbeError);
    expect((caught as ProbeError).exitCode).toBe(2);
    expect((caught as ProbeError).message).toMatch(message);
  });
});
