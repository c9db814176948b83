/** Throwaway migration folders for tests. */
import { cp, mkdtemp, rm, writeFile, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from './processes.js';

export interface MigrationsFolder {
  readonly dir: string;
  write(fileName: string, content: string): Promise<void>;
  remove(fileName: string): Promise<void>;
  dispose(): Promise<void>;
}

/** A folder holding `files` (name → content); with no files, a copy of the example migrations. */
export async function createMigrationsFolder(files?: Record<string, string>): Promise<MigrationsFolder> {
  const dir = await mkdtemp(join(tmpdir(), 'migrations-'));
  if (files) {
    for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  } else {
    await cp(join(PROJECT_ROOT, 'migrations'), dir, { recursive: true });
  }
  return {
    dir,
    write: (fileName, content) => writeFile(join(dir, fileName), content),
    remove: (fileName) => unlink(join(dir, fileName)),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}

/** A small SQL migration with a working down. */
export function sqlMigration(up: string, down: string): string {
  return `-- Up Migration\n${up}\n\n-- Down Migration\n${down}\n`;
}

/** Three plain SQL migrations: tables a, b, c. */
export const ABC: Record<string, string> = {
  '0001_a.sql': sqlMigration('CREATE TABLE a (id int PRIMARY KEY);', 'DROP TABLE a;'),
  '0002_b.sql': sqlMigration('CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a);', 'DROP TABLE b;'),
  '0003_c.sql': sqlMigration('CREATE TABLE c (id int PRIMARY KEY);', 'DROP TABLE c;'),
};
