/**
 * `migrate lint`: the SQL of the pending migrations, built as `migrate sql`
 * builds it (src/sqlPreview.ts), or of one file without a database, checked
 * with squawk (squawk.ts), each finding at the file and line of the
 * migration: a `.sql` file's own lines; for a JS/TS migration, which
 * statement of what it builds.
 */
import { basename, extname, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { MigrationFileError, UsageError } from '../core/errors.js';
import type { RunnerOptions } from '../observe.js';
import { createSilentLogger, type Logger } from '../config/logger.js';
import { checksumOf, MIGRATION_EXTENSIONS } from '../files/migrationFiles.js';
import { loadMigrationModule, type BuiltMigration, type MigrationModule } from '../files/migrationModules.js';
import { buildOffline } from '../offlineSql.js';
import { buildPreview } from '../sqlPreview.js';
import type { MigrationFile } from '../core/types.js';
import { lintSql, type LintFinding, type LintInput, type LintRuleOptions } from './squawk.js';

export interface LintReport {
  /** The migrations linted, in run order. */
  readonly migrations: readonly string[];
  readonly findings: readonly LintFinding[];
}

export interface LintRules {
  readonly exclude: readonly string[];
  readonly include: readonly string[];
}

/** The pending migrations up to `target` (default head), built in a read-only transaction against the database. */
export async function lintPending(options: RunnerOptions & { readonly target?: string }, rules: LintRules): Promise<LintReport> {
  const preview = await buildPreview({ ...options, command: { kind: 'up', target: options.target ?? 'head' } });
  const inputs = preview.migrations.flatMap(({ file, module, built }) => inputsOf(file, module, built));
  const findings = await lintSql(inputs, { ...rules, serverMajor: preview.serverMajor });
  return Object.freeze({ migrations: preview.migrations.map((m) => m.file.name), findings });
}

/** Migration files given by path, linted without a database (a JS/TS file that queries while it builds needs one). */
export async function lintFiles(paths: readonly string[], rules: LintRules & Pick<LintRuleOptions, 'serverMajor'>, logger: Logger = createSilentLogger()): Promise<LintReport> {
  const inputs: LintInput[] = [];
  const files = paths.map(fileAt);
  for (const file of files) {
    const module = await loadMigrationModule(file);
    const built = await buildOffline(file, 'up', [file], logger, module);
    if (!built.built) {
      throw new UsageError(`lint --file: ${file.fileName} cannot be built without a database: ${built.reason}`, {
        hint: built.needsDatabase ? 'lint it among the pending migrations instead: migrate lint (against the database)' : 'fix the migration',
      });
    }
    inputs.push(...inputsOf(file, module, { sql: built.sql, transactional: built.transactional }));
  }
  const findings = await lintSql(inputs, rules);
  return Object.freeze({ migrations: files.map((f) => f.fileName), findings });
}

/** A .sql file is linted as its Up section, at the file's own lines; what a JS/TS file builds, statement by statement. */
function inputsOf(file: MigrationFile, module: MigrationModule, built: BuiltMigration): LintInput[] {
  const section = module.sqlText?.up;
  if (section !== undefined) {
    return [{ file: file.fileName, sql: section, firstLine: module.sqlFacts?.up.line ?? 1, transactional: built.transactional }];
  }
  return built.sql.map((sql, i) => ({ file: file.fileName, sql, firstLine: null, statement: i + 1, transactional: built.transactional }));
}

function fileAt(path: string): MigrationFile {
  const full = resolve(path);
  const extension = extname(full);
  if (!(MIGRATION_EXTENSIONS as readonly string[]).includes(extension)) {
    throw new UsageError(`lint --file ${path}: not a migration file (${MIGRATION_EXTENSIONS.join(' ')})`);
  }
  let content: Buffer;
  try {
    content = readFileSync(full);
  } catch (error) {
    throw new MigrationFileError(`migration file ${path} cannot be read`, full, { cause: error });
  }
  const fileName = basename(full);
  return { name: fileName.slice(0, -extension.length), fileName, path: full, extension, checksum: checksumOf(content) };
}
