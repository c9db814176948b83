/**
 * Whether a recorded checksum (the history's side table, a manifest's
 * revision) is the checksum of a file as it is now: the one comparison every
 * check of an edit makes. Pure; imports nothing.
 */
import type { MigrationFile } from './types.js';

/**
 * A file matches the checksum recorded for it when it has the same text:
 * line endings and a leading byte order mark aside (src/files/migrationFiles.ts
 * checksumOf). A record written before the mark was left out holds, for a file
 * that has one, the checksum with the mark: that matches too.
 */
export function matchesRecorded(recorded: string, file: Pick<MigrationFile, 'checksum' | 'checksumWithBom'>): boolean {
  return recorded === file.checksum || (file.checksumWithBom !== undefined && recorded === file.checksumWithBom);
}

/** Every checksum a record of the file's text may hold (matchesRecorded). */
export function checksumsOfFile(file: Pick<MigrationFile, 'checksum' | 'checksumWithBom'>): readonly string[] {
  return file.checksumWithBom === undefined ? [file.checksum] : [file.checksum, file.checksumWithBom];
}
