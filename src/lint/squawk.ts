/**
 * squawk (https://squawkhq.com), a linter for PostgreSQL migrations, run on
 * SQL the runner would send: changes that lock or break a live application
 * (an index built without CONCURRENTLY, NOT NULL added without a default, a
 * column's type changed, a table renamed, ...).
 *
 * The npm package `squawk-cli` ships its binary in a package per platform
 * (`@squawk-cli/linux-x64`, ... as optional dependencies, no install
 * script), so `npm ci` installs it from the registry alone. It is a dev
 * dependency, like the embedded PostgreSQL: the binary is found in
 * node_modules from the working folder up, and from this file's folder up;
 * nothing of it is imported.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, parse } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, describeCause } from '../core/errors.js';

/** The version this runner was tested with (package.json devDependencies). */
export const SQUAWK_VERSION = '2.66.0';

/** SQL to lint, and where it came from. */
export interface LintInput {
  /** The migration's file name, as findings name it. */
  readonly file: string;
  readonly sql: string;
  /** Line of the file the SQL starts on (1-based), or null for SQL a JS/TS migration built. */
  readonly firstLine: number | null;
  /** For built SQL: which statement of the migration it is (1-based). */
  readonly statement?: number;
  /** It runs inside the batch's transaction (squawk's --assume-in-transaction). */
  readonly transactional: boolean;
}

export interface LintFinding {
  readonly file: string;
  /** Line of the migration file (1-based), or null when the SQL was built by JS/TS code. */
  readonly line: number | null;
  /** For built SQL: the statement it is in (1-based). */
  readonly statement?: number;
  readonly rule: string;
  readonly level: 'warning' | 'error';
  readonly message: string;
  readonly help?: string;
}

export interface LintRuleOptions {
  readonly exclude: readonly string[];
  readonly include: readonly string[];
  /** The server's major, so rules that depend on it know (e.g. 11+ adds a column with a constant default without a rewrite). */
  readonly serverMajor?: number;
}

/** squawk is not installed, or did not run: exit 2. */
export class LintUnavailableError extends ConfigError {}

interface SquawkViolation {
  readonly file: string;
  readonly line: number;
  readonly level: string;
  readonly message: string;
  readonly help: string | null;
  readonly rule_name: string;
}

/** Lints every input with squawk (one run per transaction mode) and maps its findings back to the migrations' lines. */
export async function lintSql(inputs: readonly LintInput[], options: LintRuleOptions): Promise<LintFinding[]> {
  if (inputs.length === 0) return [];
  const binary = findSquawk();
  const folder = await mkdtemp(join(tmpdir(), 'migrate-lint-'));
  try {
    const byPath = new Map<string, LintInput>();
    for (const [i, input] of inputs.entries()) {
      const path = join(folder, `${String(i).padStart(6, '0')}.sql`);
      byPath.set(path, input);
      await writeFile(path, input.sql);
    }
    const findings: LintFinding[] = [];
    for (const transactional of [true, false]) {
      const paths = [...byPath].filter(([, input]) => input.transactional === transactional).map(([path]) => path);
      if (paths.length === 0) continue;
      for (const violation of await runSquawk(binary, paths, options, transactional)) {
        const input = byPath.get(violation.file);
        if (!input) continue;
        findings.push({
          file: input.file,
          line: input.firstLine === null ? null : input.firstLine + violation.line,
          ...(input.statement !== undefined && { statement: input.statement }),
          rule: violation.rule_name,
          level: violation.level.toLowerCase() === 'error' ? 'error' : 'warning',
          message: violation.message,
          ...(violation.help && { help: violation.help }),
        });
      }
    }
    // Files in run order, lines within them.
    const order = new Map(inputs.map((input, i) => [input.file, i]));
    return findings.sort((a, b) => order.get(a.file)! - order.get(b.file)! || (a.statement ?? 0) - (b.statement ?? 0) || (a.line ?? 0) - (b.line ?? 0));
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

/** `0002_users.sql:14: require-concurrent-index-creation: During normal index creation, … (Use `concurrently` …)`. */
export function formatFinding(finding: LintFinding): string {
  const where = finding.line !== null ? `${finding.file}:${finding.line}` : `${finding.file} (statement ${finding.statement ?? 1} it builds)`;
  return `${where}: ${finding.level === 'error' ? 'error' : 'warning'} ${finding.rule}: ${finding.message}${finding.help ? ` (${finding.help})` : ''}`;
}

function runSquawk(binary: string, paths: readonly string[], options: LintRuleOptions, transactional: boolean): Promise<SquawkViolation[]> {
  const args = [
    '--reporter', 'json',
    ...(options.exclude.length ? [`--exclude=${options.exclude.join(',')}`] : []),
    ...(options.include.length ? [`--include=${options.include.join(',')}`] : []),
    ...(options.serverMajor !== undefined ? [`--pg-version=${options.serverMajor}.0`] : []),
    ...(transactional ? ['--assume-in-transaction'] : ['--no-assume-in-transaction']),
    ...paths,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', (error) => reject(new LintUnavailableError(`cannot run squawk (${binary}): ${describeCause(error)}`, binary, { cause: error })));
    child.on('close', (code) => {
      // 0: no findings; 1: findings (printed as JSON); anything else: squawk itself failed (an unknown rule, say).
      if (code === 0 || code === 1) {
        try {
          const parsed = JSON.parse(stdout.trim() || '[]') as SquawkViolation[];
          if (Array.isArray(parsed)) return resolve(parsed);
        } catch {
          // Not JSON: squawk's own error message is on stderr.
        }
      }
      const reason = (stderr.trim() || stdout.trim()).split('\n')[0] ?? `exit ${code}`;
      reject(
        new LintUnavailableError(`squawk failed: ${reason}`, binary, {
          hint: 'check the rule names in lint.exclude / lint.include / --exclude (https://squawkhq.com/docs/rules)',
        }),
      );
    });
  });
}

/** The binary of `@squawk-cli/<platform>-<arch>`, from the working folder up, then from this file's folder up. */
export function findSquawk(folders: readonly string[] = [process.cwd(), dirname(fileURLToPath(import.meta.url))]): string {
  const platformPackage = `@squawk-cli/${process.platform}-${process.arch}`;
  const binaryName = process.platform === 'win32' ? 'squawk.exe' : 'squawk';
  for (const start of folders) {
    for (let dir = start; ; dir = dirname(dir)) {
      const candidate = join(dir, 'node_modules', platformPackage, 'bin', binaryName);
      if (existsSync(candidate)) return candidate;
      if (dir === parse(dir).root) break;
    }
  }
  throw new LintUnavailableError(`lint needs squawk, and ${platformPackage} is not installed`, platformPackage, {
    hint: `npm install --save-dev squawk-cli@${SQUAWK_VERSION} (its binary comes in ${platformPackage}, an optional dependency: do not install with --omit=optional)`,
  });
}
