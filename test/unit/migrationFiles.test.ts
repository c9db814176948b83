/** Discovery follows node-pg-migrate's rules without importing a file. */
import { createHash } from 'node:crypto';
import { mkdtemp, mkdir, rm, symlink, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareMigrationNames, checksumOf, listMigrationFiles, readListedFiles, readMigrationFiles } from '../../src/files/migrationFiles.js';
import { MigrationFileError } from '../../src/core/errors.js';
import { nextPrefix } from '../../src/files/createMigration.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mf-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const write = (name: string, content = 'SELECT 1;') => writeFile(join(dir, name), content);

describe('readMigrationFiles', () => {
  test('names, order and extensions follow node-pg-migrate', async () => {
    for (const f of ['10_ten.sql', '2_two.ts', '1_one.js', '0003_three.cjs', '20260101000000000_utc.mjs', '.hidden', '.schema-fingerprints.json']) await write(f);
    await mkdir(join(dir, '5_a_folder'));
    const files = await readMigrationFiles(dir);
    expect(files.map((f) => f.name)).toEqual(['1_one', '2_two', '0003_three', '10_ten', '20260101000000000_utc']);
    expect(files.map((f) => f.extension)).toEqual(['.js', '.ts', '.cjs', '.sql', '.mjs']);
  });

  test('matches node-pg-migrate’s own comparator on a mixed corpus', async () => {
    const { compareMigrationFileNames } = (await import(
      // node-pg-migrate 9 exposes its legacy modules through the "./*" export.
      'node-pg-migrate/utils/comparators' as string
    ).catch(() => import('../../node_modules/node-pg-migrate/dist/legacy/utils/comparators.js' as string))) as {
      compareMigrationFileNames: (a: string, b: string, logger?: unknown) => number;
    };
    const corpus = [
      '1_a.sql', '01_b.sql', '2_A.sql', '2_a.sql', '2-a.sql', '10_x.sql', '9_x.sql', '0001_init.sql', '1000_z.sql',
      '20200101000000000_utc.sql', '20200101000000001_utc.sql', '1577836800000_ms.sql', '3_a_b.sql', '3_ab.sql',
    ];
    const silent = { error: () => undefined, info: () => undefined, warn: () => undefined, debug: () => undefined };
    // Where their comparator ties (2_a, 2-a), their order is the folder listing's; ours breaks the tie by code units.
    const theirs = [...corpus].sort((a, b) => compareMigrationFileNames(a, b, silent) || (a < b ? -1 : 1));
    const ours = [...corpus].sort(compareMigrationNames);
    expect(ours).toEqual(theirs);
    // Discovery sorts with precomputed prefixes; it must agree too.
    for (const f of corpus) await write(f);
    expect((await readMigrationFiles(dir)).map((f) => f.fileName)).toEqual(theirs);
  });

  test('a file without a numeric prefix is an error naming it', async () => {
    await write('0001_ok.sql');
    await write('README.md');
    await expect(readMigrationFiles(dir)).rejects.toThrow(/README\.md has no numeric prefix/);
  });

  test('an unsupported extension is an error naming it', async () => {
    await write('0002_notes.txt');
    await expect(readMigrationFiles(dir)).rejects.toThrow(/0002_notes\.txt has an unsupported extension/);
  });

  test('three files with one name: the error names the same pair whatever the listing order', async () => {
    for (const f of ['0001_users.ts', '0001_users.sql', '0001_users.js']) await write(f);
    await expect(readMigrationFiles(dir)).rejects.toThrow(/share the name 0001_users: 0001_users\.js and 0001_users\.sql$/);
  });

  test('two files with the same name are an error naming both', async () => {
    await write('0001_users.sql');
    await write('0001_users.ts', 'export const up = () => {};');
    const error = await readMigrationFiles(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationFileError);
    expect((error as Error).message).toMatch(/0001_users\.sql and 0001_users\.ts/);
  });

  test('a missing folder is an error naming it', async () => {
    await expect(readMigrationFiles(join(dir, 'nope'))).rejects.toThrow(/nope does not exist/);
  });

  test('an unreadable file is an error naming it', async () => {
    if (process.getuid?.() === 0) return; // root reads everything; the CLI test covers a folder that is a file
    await write('0001_secret.sql');
    await chmod(join(dir, '0001_secret.sql'), 0o000);
    await expect(readMigrationFiles(dir)).rejects.toThrow(/0001_secret\.sql cannot be read/);
  });

  test('every refusal about the folder comes from listing it, before a file is read', async () => {
    await write('0001_users.sql');
    await write('0001_users.ts');
    await symlink(join(dir, 'gone.sql'), join(dir, '0002_dangling.sql'));
    await expect(listMigrationFiles(dir)).rejects.toThrow(/share the name 0001_users/);
    await rm(join(dir, '0001_users.ts'));
    const listed = await listMigrationFiles(dir);
    expect(listed.map((f) => f.fileName)).toEqual(['0001_users.sql', '0002_dangling.sql']);
    // A link to nothing is listed like a file and cannot be read; root reads everything else.
    await expect(readListedFiles(listed)).rejects.toThrow(/0002_dangling\.sql cannot be read/);
  });

  test('reading a long folder lets the event loop run, so a connection made meanwhile gets on', async () => {
    for (let i = 1; i <= 600; i++) await write(`${String(i).padStart(4, '0')}_m.sql`, `SELECT ${i};`);
    const listed = await listMigrationFiles(dir);
    let turns = 0;
    let reading = true;
    const turn = () => {
      turns++;
      if (reading) setImmediate(turn);
    };
    setImmediate(turn);
    const files = await readListedFiles(listed);
    reading = false;
    expect(files).toHaveLength(600);
    expect(turns).toBeGreaterThan(0);
    expect(files.map((f) => f.checksum)).toEqual((await readMigrationFiles(dir)).map((f) => f.checksum));
  });

  test('checksums ignore line endings but see every other byte', async () => {
    expect(checksumOf('a\r\nb\r\n')).toBe(checksumOf('a\nb\n'));
    expect(checksumOf('a\rb')).toBe(checksumOf('a\nb'));
    expect(checksumOf('a\nb ')).not.toBe(checksumOf('a\nb'));
    expect(checksumOf(Buffer.from([0xff, 0xfe, 0x41]))).not.toBe(checksumOf(Buffer.from([0xff, 0xfd, 0x41])));
  });

  // An editor on Windows may add the mark on save; this runner and Node's module loader read a file without it.
  const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
  test.each([
    ['a Buffer', Buffer.concat([BOM, Buffer.from('SELECT 1;\n')]), Buffer.from('SELECT 1;\n')],
    ['a Buffer with CRLF', Buffer.concat([BOM, Buffer.from('SELECT 1;\r\n')]), Buffer.from('SELECT 1;\n')],
    ['a string of bytes (latin1)', `${BOM.toString('latin1')}SELECT 1;\n`, 'SELECT 1;\n'],
    ['a string with U+FEFF', '\ufeffSELECT 1;\n', 'SELECT 1;\n'],
    ['a mark and nothing else', BOM, Buffer.alloc(0)],
  ])('a leading byte order mark is not part of the checksum: %s', (_title, withMark, without) => {
    expect(checksumOf(withMark)).toBe(checksumOf(without));
  });

  test('a byte order mark anywhere but at the start, or a second one, is part of the checksum', () => {
    expect(checksumOf(Buffer.from('SELECT 1;\n\ufeff'))).not.toBe(checksumOf('SELECT 1;\n'));
    expect(checksumOf(Buffer.concat([BOM, BOM, Buffer.from('SELECT 1;\n')]))).not.toBe(checksumOf('SELECT 1;\n'));
    expect(checksumOf(Buffer.from([0xef, 0xbb, 0x41]))).not.toBe(checksumOf('A'));
  });

  test('a file that starts with a byte order mark keeps, beside its checksum, the one earlier runners recorded (with the mark)', async () => {
    const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const text = Buffer.from('-- Up Migration\nSELECT 1;\n');
    await writeFile(join(dir, '0001_marked.sql'), Buffer.concat([BOM, text]));
    await writeFile(join(dir, '0002_plain.sql'), text);
    const [marked, plain] = await readMigrationFiles(dir);
    expect(marked).toMatchObject({ checksum: sha256(text), checksumWithBom: sha256(Buffer.concat([BOM, text])) });
    expect(plain!.checksum).toBe(sha256(text));
    expect(plain).not.toHaveProperty('checksumWithBom');
  });

  test('each file is checksummed whole, whatever its size: empty, small, larger than the read buffer', async () => {
    const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const contents: Record<string, Buffer> = {
      '0001_empty.sql': Buffer.alloc(0),
      '0002_large.sql': Buffer.from(`-- ${'x'.repeat(200_000)}\nSELECT 1;\n`),
      '0003_small.sql': Buffer.from('SELECT 3;\n'),
      '0004_exactly_64k.sql': Buffer.alloc(64 * 1024, 0x61),
    };
    for (const [name, content] of Object.entries(contents)) await writeFile(join(dir, name), content);
    const files = await readMigrationFiles(dir);
    expect(files.map((f) => [f.fileName, f.checksum])).toEqual(Object.entries(contents).map(([name, content]) => [name, sha256(content)]));
  });

  test('a file without CR hashes to the sha256 of its bytes, as recorded by earlier versions', () => {
    // Recorded checksums must not change when the hashing takes its fast path (src/files/migrationFiles.ts checksumOf).
    const utf8 = Buffer.from('CREATE TABLE café (id int);\n', 'utf8');
    const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    expect(checksumOf(utf8)).toBe(sha256(utf8));
    expect(checksumOf(Buffer.from('CREATE TABLE café (id int);\r\n', 'utf8'))).toBe(sha256(utf8));
    expect(checksumOf(utf8.toString('latin1'))).toBe(sha256(utf8));
  });
});

describe('nextPrefix (create)', () => {
  const now = new Date('2026-11-21T10:11:12.345Z');
  test.each([
    [[], '0001'],
    [['0001_a.sql', '0002_b.sql'], '0003'],
    [['001_a.sql', '009_b.sql'], '0010'],
    [['00001_a.sql'], '00002'],
    [['20260101000000000_a.sql'], '20261121101112345'],
    [['1700000000000_a.sql'], String(now.getTime())],
    [['29990101000000000_future.sql'], '29990101000000001'],
  ])('after %j comes %s', (existing, expected) => {
    expect(nextPrefix(existing, now)).toBe(expected);
  });
});
