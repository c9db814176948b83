/**
 * src/files/sqlStatements.ts and the .sql checks built on it (src/files/migrationModules.ts):
 * what PostgreSQL's grammar says a migration's text holds. Pure: no database.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isBlankSql, loadMigrationModule } from '../../src/files/migrationModules.js';
import { backslashInString, blankStatement, closesWhatItOpens, mayControlTransactions, parseStatements, scanStatements } from '../../src/files/sqlStatements.js';
import type { MigrationFile } from '../../src/core/types.js';

describe('the keyword prefilter is a superset: every text with transaction control or ADD VALUE matches it', () => {
  test.each([
    'BEGIN', 'begin work', 'START TRANSACTION', 'COMMIT', 'end', 'ROLLBACK', 'abort', 'SAVEPOINT a', 'RELEASE a',
    'ROLLBACK TO a', "PREPARE TRANSACTION 'x'", "COMMIT PREPARED 'x'", "ROLLBACK PREPARED 'x'",
    "ALTER TYPE mood ADD VALUE 'x'", 'SELECT 1;COMMIT', '/* c */COMMIT', 'SELECT 1;\nEnd;',
  ])('%s', async (text) => {
    expect(mayControlTransactions(text)).toBe(true);
    const statements = await parseStatements(text);
    expect(statements!.some((s) => s.control !== null || s.addsEnumValue)).toBe(true);
  });

  test.each([
    'CREATE TABLE t0001 (id int primary key, v text);',
    "INSERT INTO t VALUES (1, 'x');",
    'CREATE TABLE pending (appended_at timestamptz, commits int);',
  ])('a text without them is not parsed: %s', (text) => {
    expect(mayControlTransactions(text)).toBe(false);
  });
});

describe('parseStatements', () => {
  test('classifies transaction control and enum values, with lines and offsets into the text', async () => {
    const text = "-- x\nBEGIN ISOLATION LEVEL SERIALIZABLE;\nALTER TYPE m ADD VALUE 'é';\nALTER TYPE m RENAME VALUE 'a' TO 'b';\nCOMMIT AND CHAIN;";
    const statements = (await parseStatements(text))!;
    expect(statements.map((s) => [s.line, s.control, s.addsEnumValue, text.slice(s.start, s.end)])).toEqual([
      [2, { kind: 'begin', withOptions: true }, false, 'BEGIN ISOLATION LEVEL SERIALIZABLE'],
      [3, null, true, "ALTER TYPE m ADD VALUE 'é'"],
      [4, null, false, "ALTER TYPE m RENAME VALUE 'a' TO 'b'"],
      [5, { kind: 'commit', andChain: true }, false, 'COMMIT AND CHAIN'],
    ]);
  });

  test('keywords inside strings, comments and dollar-quoted bodies are not statements', async () => {
    const text = "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN COMMIT; RETURN 1; END $$;\nSELECT 'ROLLBACK' /* END; */;";
    expect((await parseStatements(text))!.map((s) => s.control)).toEqual([null, null]);
  });

  test('text the grammar rejects is null (the server reports it); empty text has no statements', async () => {
    expect(await parseStatements('CREATE TABLEX t (id int); COMMIT')).toBeNull();
    expect(await parseStatements('  -- only a comment\n')).toEqual([]);
    expect(await parseStatements('')).toEqual([]);
  });

  test('blankStatement keeps every line where it was', async () => {
    const text = 'BEGIN;\nCREATE TABLE b (id int);\nCOMMIT ;\n';
    const [first, , last] = (await parseStatements(text))!;
    const blanked = blankStatement(blankStatement(text, last!), first!);
    expect(blanked).toBe('      \nCREATE TABLE b (id int);\n        \n');
  });
});

describe('scanStatements: the lexer\'s reading, for text the grammar rejects', () => {
  // Text the grammar reads: the lexer's reading must say what the grammar's does, statement for statement.
  test.each([
    "-- x\nBEGIN ISOLATION LEVEL SERIALIZABLE;\nALTER TYPE m ADD VALUE 'é';\nALTER TYPE m RENAME VALUE 'a' TO 'b';\nCOMMIT AND CHAIN;",
    'BEGIN; BEGIN WORK; BEGIN TRANSACTION READ ONLY; START TRANSACTION; START TRANSACTION ISOLATION LEVEL READ COMMITTED',
    'COMMIT; COMMIT WORK AND NO CHAIN; END; END TRANSACTION AND CHAIN; ABORT; ABORT AND CHAIN; ROLLBACK WORK; ROLLBACK AND CHAIN',
    'SAVEPOINT a; SAVEPOINT "Quoted"; RELEASE a; RELEASE SAVEPOINT "Quoted"; ROLLBACK TO a; ROLLBACK WORK TO SAVEPOINT B',
    "PREPARE TRANSACTION 'x'; COMMIT PREPARED 'x'; ROLLBACK PREPARED 'x'; PREPARE q AS SELECT 1; EXECUTE q",
    "ALTER TYPE s.m ADD VALUE IF NOT EXISTS 'v' BEFORE 'w'; ALTER TYPE c ADD ATTRIBUTE value int; SELECT 'add value'",
    "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN COMMIT; RETURN 1; END $$;\nSELECT 'ROLLBACK' /* END; */;",
    // A routine's BEGIN ATOMIC body holds statements of its own, and CASE … END: psql's rule keeps them in the routine.
    'CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 2 END; END; COMMIT',
    'CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1); END;\nEND',
    'CREATE FUNCTION begin() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$; COMMIT',
    // A BEGIN that opens no body (a routine, a type, an alias named begin) hides no END after it.
    'CREATE FUNCTION begin() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$; END',
    'CREATE FUNCTION f() RETURNS begin LANGUAGE sql AS $$ SELECT 1 $$; END',
    'CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1 AS begin; END; END',
    "PREPARE transaction AS SELECT 1; PREPARE TRANSACTION 'x'",
    "PREPARE TRANSACTION U&'x' UESCAPE '!'; PREPARE transaction (int) AS SELECT $1",
    // BEGIN ATOMIC is two words with nothing between: a routine begin.atomic has no body to hide an END in.
    "CREATE FUNCTION begin.atomic() RETURNS int LANGUAGE sql AS 'SELECT 1'; END",
    'BEGIN ; SELECT 1 /* c */ ;\nCOMMIT /* done */ ;',
    'SELECT (1); SELECT 2 -- no terminator',
  ])('agrees with the grammar: %s', async (text) => {
    const read = (statements: Awaited<ReturnType<typeof parseStatements>>) =>
      statements!.map((s) => ({ line: s.line, control: s.control, addsEnumValue: s.addsEnumValue, text: text.slice(s.start, s.end) }));
    expect(read(await scanStatements(text))).toEqual(read(await parseStatements(text)));
  });

  test('finds what the grammar cannot read: a word reserved since PostgreSQL 16, used as a name up to 15', async () => {
    const text = 'BEGIN;\nCREATE TABLE system_user (id int);\nCOMMIT;\nBEGIN;\nINSERT INTO system_user VALUES (1);\n';
    expect(await parseStatements(text)).toBeNull();
    const statements = (await scanStatements(text))!;
    expect(statements.map((s) => [s.line, s.control?.kind ?? null, text.slice(s.start, s.end)])).toEqual([
      [1, 'begin', 'BEGIN'],
      [2, null, 'CREATE TABLE system_user (id int)'],
      [3, 'commit', 'COMMIT'],
      [4, 'begin', 'BEGIN'],
      [5, null, 'INSERT INTO system_user VALUES (1)'],
    ]);
  });

  test('offsets count characters, as the grammar\'s statements do, after non-ASCII text', async () => {
    const text = "SELECT 'é日' AS system_user; COMMIT";
    const [, commit] = (await scanStatements(text))!;
    expect(text.slice(commit!.start, commit!.end)).toBe('COMMIT');
  });

  // Up to PostgreSQL 14 `1abc` is 1 AS abc; the lexer, as servers from 15 on, calls it trailing junk.
  test.each([
    ['SELECT 1abc; COMMIT', ['SELECT 1abc', 'COMMIT'], [1]],
    ["SELECT 'é日', 1abc, 0x1fg, 1.5e3x, 1eabc, 1_000z, 2.x FROM t; COMMIT", ["SELECT 'é日', 1abc, 0x1fg, 1.5e3x, 1eabc, 1_000z, 2.x FROM t", 'COMMIT'], [1]],
    ['SELECT 1abc;\nCOMMIT AND CHAIN;\nSELECT 2abc;\nROLLBACK', ['SELECT 1abc', 'COMMIT AND CHAIN', 'SELECT 2abc', 'ROLLBACK'], [2, 4]],
    ['SELECT 0x; COMMIT', ['SELECT 0x', 'COMMIT'], [1]],
    ['SELECT 0o; COMMIT', ['SELECT 0o', 'COMMIT'], [1]],
    ['SELECT 0b; COMMIT', ['SELECT 0b', 'COMMIT'], [1]],
    // The grammar counts characters, an emoji one (UTF-16 two): the space goes after the 2, not into the dollar quote's tag.
    ["SELECT '😀', 1abc; COMMIT", ["SELECT '😀', 1abc", 'COMMIT'], [1]],
    ["SELECT '😀😀😀😀', $q1$a$q1$, 2abc; COMMIT; SELECT $q1$x$q1$", ["SELECT '😀😀😀😀', $q1$a$q1$, 2abc", 'COMMIT', 'SELECT $q1$x$q1$'], [1]],
    // The grammar stops first at a name up to 15, at it or right after it, then reads on to the number.
    ['CREATE TABLE system_user (id int);\nSELECT 1abc;\nCOMMIT;\nBEGIN;', ['CREATE TABLE system_user (id int)', 'SELECT 1abc', 'COMMIT', 'BEGIN'], [3, 4]],
    ['SELECT system_user.id FROM system_user;\nSELECT system_user();\nSELECT 1abc; COMMIT', ['SELECT system_user.id FROM system_user', 'SELECT system_user()', 'SELECT 1abc', 'COMMIT'], [3]],
    // A lone surrogate (a JS migration's text; node-postgres sends U+FFFD) and a control character in a string.
    ["CREATE TABLE system_user (id int); SELECT '\ud800é', $$\u001b$$, 1abc; COMMIT", ['CREATE TABLE system_user (id int)', "SELECT '\ud800é', $$\u001b$$, 1abc", 'COMMIT'], [1]],
  ])('reads a number with letters after it as 13 and 14 do, offsets into the text as written: %j', async (text, pieces, controlLines) => {
    const statements = (await scanStatements(text))!;
    expect(statements.map((s) => text.slice(s.start, s.end))).toEqual(pieces);
    expect(statements.filter((s) => s.control).map((s) => s.line)).toEqual(controlLines);
  });

  test('a lone surrogate does not cut the text short: the COMMIT after it is read', async () => {
    const text = "SELECT '\ud800é'; COMMIT";
    expect((await parseStatements(text))!.map((s) => [text.slice(s.start, s.end), s.control?.kind ?? null])).toEqual([
      ["SELECT '\ud800é'", null],
      ['COMMIT', 'commit'],
    ]);
  });

  test('text even the lexer rejects is null; blank text has no statements', async () => {
    expect(await scanStatements("SELECT 'unterminated; COMMIT")).toBeNull();
    expect(await scanStatements("SELECT 1abc, 'unterminated; COMMIT")).toBeNull();
    // The grammar stops before the number at what is not a word (13's postfix operator), and says nothing of where it is.
    expect(await scanStatements('SELECT 5 !; SELECT 1abc; COMMIT')).toBeNull();
    expect(await scanStatements(' /* c */ -- d\n')).toEqual([]);
  });
});

describe("backslashInString: where standard_conforming_strings off would read a text otherwise", () => {
  test.each([
    ['no backslash', "SELECT 'a'; COMMIT"],
    ["E'…' strings, dollar quotes, quoted names and comments", String.raw`SELECT E'a\'b\n', $$C:\dir$$, $f$\$f$, "odd\name" /* \ */ -- a \ here`],
  ])('none where every backslash reads the same: %s', async (_label, text) => {
    expect(await backslashInString(text)).toBeNull();
  });

  test.each([
    ['a plain string', String.raw`SELECT 1; INSERT INTO t VALUES ('C:\dir')`, `'C:`],
    ["an N'…' string, after its N", String.raw`SELECT E'\n', N'a\b'`, `'a\\b'`],
    ['a plain string after non-ASCII text (the lexer counts bytes)', String.raw`SELECT 'é日', '€'; SELECT 'C:\dir'`, `'C:`],
    // With it on, the string ends at the backslash's quote, and the rest does not lex: the first backslash.
    ["an escaped quote, which leaves the lexer an unterminated string", String.raw`INSERT INTO t VALUES ('it\'s');`, `\\'s'`],
    ['a plain string after a number with letters after it, as 13 and 14 read it', String.raw`SELECT 1abc, 2.5x, 'C:\dir'`, `'C:`],
  ])('the first string that reads otherwise: %s', async (_label, text, at) => {
    expect(await backslashInString(text)).toBe(text.indexOf(at));
  });
});

// Read by hand where the text has no $ and no backslash, else by the lexer: both must say what the lexer says.
test.each([
  ['', true],
  ["SELECT 'it''s', \"a\"\"b\" -- don't", true],
  ["SELECT 1 /* a /* nested */ 'comment */", true],
  ["SELECT 'x", false],
  ['SELECT "x', false],
  ['SELECT 1 /* a /* nested */', false],
  ["SELECT 1 -- x\nSELECT 'y", false],
  ["SELECT '--', '/*'", true],
  ["SELECT $$x$$, E'\\n', $1", true],
  ['SELECT $$x', false],
  ["SELECT E'\\'", false],
  // A control character in a dollar quote (the lexer's JSON carries it unescaped).
  ['SELECT $$\u001b$$', true],
])('closesWhatItOpens(%j) is %s, as the lexer says', async (text, closes) => {
  expect(await closesWhatItOpens(text)).toBe(closes);
  expect(await scanStatements(text)).toEqual(closes ? expect.anything() : null);
});

test.each([
  ['', true],
  ['  \n\t', true],
  ['-- Up Migration\n-- nothing\n', true],
  ['/* a /* nested */ comment */', true],
  ['/* a /* nested */ comment */ SELECT 1', false],
  ['-- c\nSELECT 1', false],
])('isBlankSql(%j) is %s', (text, blank) => {
  expect(isBlankSql(text)).toBe(blank);
});

describe('loading a .sql migration', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sqlmod-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  async function load(content: string) {
    const path = join(dir, '0001_x.sql');
    await writeFile(path, content);
    const file: MigrationFile = { name: '0001_x', fileName: '0001_x.sql', path, extension: '.sql', checksum: 'c' };
    return loadMigrationModule(file);
  }

  test('one enclosing BEGIN … COMMIT is blanked out, lines kept', async () => {
    const module = await load('-- Up Migration\nBEGIN;\nCREATE TABLE b (id int);\nCOMMIT;\n-- Down Migration\nDROP TABLE b;\n');
    expect(module.sqlText!.up).toBe('-- Up Migration\n      \nCREATE TABLE b (id int);\n       \n');
    expect(module.sqlFacts).toMatchObject({ noTransaction: false, up: { unwrapped: true, line: 1 }, down: { unwrapped: false, line: 5 } });
  });

  test.each([
    ['CREATE TABLE a (id int);\nCOMMIT;\n', /^0001_x\.sql:2: COMMIT would end the batch's transaction/],
    ['-- Up Migration\nSELECT 1;\n-- Down Migration\nSELECT 2;\nROLLBACK;\n', /^0001_x\.sql:5: ROLLBACK would end/],
    ['-- Down Migration\nDROP TABLE a;\n', /^0001_x\.sql:1: a "-- Down Migration" section and no "-- Up Migration" marker/],
    ['-- Up Migration\n\n-- Down Migration\nDROP TABLE a;\n', /^0001_x\.sql:1: the "-- Up Migration" section is empty but the Down section is not/],
    // psql's own syntax: refused before anything runs, not a syntax error from the server after earlier migrations ran.
    ['\\set ON_ERROR_STOP on\nCREATE TABLE a (id int);\n', /^0001_x\.sql:1: \\set ON_ERROR_STOP on is a psql meta-command, which the server does not know/],
    ['-- Up Migration\nSELECT 1;\n  \\i ../other.sql\n-- Down Migration\nSELECT 2;\n', /^0001_x\.sql:3: \\i \.\.\/other\.sql is a psql meta-command/],
    ['-- Up Migration\nSELECT 1;\n-- Down Migration\n\\connect other\nDROP TABLE a;\n', /^0001_x\.sql:4: \\connect other is a psql meta-command/],
    ['CREATE TABLE items (id int, v text);\nCOPY items (id, v) FROM stdin;\n1\tone\n2\ttwo\n\\.\n', /^0001_x\.sql:2: COPY items \(id, v\) FROM stdin; reads its rows from psql's input, which the runner does not send/],
    ['COPY items FROM STDIN;\n', /^0001_x\.sql:1: COPY items FROM STDIN; reads its rows from psql's input/],
    // Non-ASCII text before them: the parser's error position counts characters, not bytes.
    ['-- Données — initial\n\\set ON_ERROR_STOP on\nCREATE TABLE u2 (i int);\n', /^0001_x\.sql:2: \\set ON_ERROR_STOP on is a psql meta-command/],
    ["SELECT 'é日';\nCOPY t FROM stdin;\n1\n\\.\n", /^0001_x\.sql:2: COPY t FROM stdin; reads its rows/],
    // An emoji is one character to the grammar, two in the text.
    ["SELECT '😀';\n\\set ON_ERROR_STOP on\n", /^0001_x\.sql:2: \\set ON_ERROR_STOP on is a psql meta-command/],
    // Text the grammar cannot read (system_user is a name up to PostgreSQL 15): its transaction control, found with the lexer.
    ['CREATE TABLE system_user (id int);\nCOMMIT;\nBEGIN;\nINSERT INTO system_user VALUES (1);\n', /^0001_x\.sql:2: COMMIT would end the batch's transaction/],
    ['BEGIN ISOLATION LEVEL SERIALIZABLE;\nCREATE TABLE system_user (id int);\nCOMMIT;\n', /^0001_x\.sql:1: BEGIN ISOLATION LEVEL SERIALIZABLE sets transaction options/],
    ['-- Up Migration\nSELECT 1;\n-- Down Migration\nDROP TABLE system_user;\nEND;\n', /^0001_x\.sql:5: END would end the batch's transaction/],
    ['CREATE TABLE system_user (id int);\nCREATE FUNCTION begin() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;\nEND;\n', /^0001_x\.sql:3: END would end the batch's transaction/],
    ["CREATE TABLE system_user (id int);\nPREPARE TRANSACTION 'x';\n", /^0001_x\.sql:2: PREPARE TRANSACTION 'x' would hand the batch's transaction to two-phase commit/],
    // Up to PostgreSQL 14, SELECT 1abc is 1 AS abc: the COMMIT after it is read as such.
    ['CREATE TABLE hidden (id int);\nSELECT 1abc;\nCOMMIT;\nBEGIN;\n', /^0001_x\.sql:3: COMMIT would end the batch's transaction/],
    ['CREATE TABLE system_user (id int);\nSELECT 1abc;\nCOMMIT;\nBEGIN;\n', /^0001_x\.sql:3: COMMIT would end the batch's transaction/],
  ])('refused: %j', async (content, message) => {
    await expect(load(content)).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(message) });
  });

  test.each([
    ["CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$ SELECT E'\\\\n' $$;\nSELECT 'stdin' AS \"stdin\";\n"],
    ["CREATE FUNCTION g() RETURNS text LANGUAGE plpgsql AS $$\nBEGIN\n\\-- a backslash at a line's start, inside a body\nRETURN 'x';\nEND $$;\n"],
    ["COPY items FROM '/var/lib/data.tsv';\nCOPY items TO STDOUT;\n"],
  ])('not psql-only: %j', async (content) => {
    await expect(load(content)).resolves.toMatchObject({ sqlText: expect.anything() });
  });

  test('text the grammar cannot read: an enclosing BEGIN … COMMIT is blanked out, a routine body\'s END is not a COMMIT, an added enum value is noted', async () => {
    const up = "BEGIN;\nCREATE TABLE system_user (id int);\nCREATE FUNCTION one() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;\nALTER TYPE mood ADD VALUE 'calm';\nCOMMIT;\n";
    const module = await load(`-- Up Migration\n${up}-- Down Migration\nDROP TABLE system_user;\n`);
    expect(module.sqlText!.up).toBe(`-- Up Migration\n      \n${up.split('\n').slice(1, -2).join('\n')}\n       \n`);
    // Still opaque: the grammar could not read it, so it goes to the server alone.
    expect(module.sqlFacts).toMatchObject({ up: { unwrapped: true, opaque: true, addsEnumValue: true, statements: null }, down: { opaque: false } });
  });

  test.each([
    ['a comment', 'CREATE TABLE a (id int); /*\n'],
    ['a string', "INSERT INTO t VALUES ('x);\n"],
    ['a dollar quote', 'SELECT $$x;\n'],
  ])('a section that leaves %s open runs alone: joined to the next, it would run on into it', async (_label, content) => {
    expect((await load(content)).sqlFacts).toMatchObject({ up: { opaque: true } });
  });

  test('a section that closes what it opens does not', async () => {
    expect((await load("INSERT INTO t VALUES ('x', $$y$$); -- done\n")).sqlFacts).toMatchObject({ up: { opaque: false } });
  });

  test('-- migrate:no-transaction: statements one by one, transaction control left to the file', async () => {
    const module = await load('-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (x);\nBEGIN;\nSELECT 1;\nCOMMIT;\n');
    expect(module.sqlFacts).toMatchObject({
      noTransaction: true,
      up: { statements: ['CREATE INDEX CONCURRENTLY i ON t (x)', 'BEGIN', 'SELECT 1', 'COMMIT'] },
    });
  });
});
