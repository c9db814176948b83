/**
 * Alembic's words that are not ours: a command or flag an Alembic user types
 * by habit answers with what to do here instead of a bare "unknown command"
 * (README, "Coming from Alembic"). Words we do have (upgrade, downgrade,
 * revision, current, history, heads, show, stamp, check, -m, --sql,
 * --verbose, relative and partial revisions) are real commands and flags,
 * not entries here. Only a word commander would reject is answered, so a
 * flag that a command gains later simply works.
 */
import type { Command, Option } from 'commander';
import { UsageError } from '../core/errors.js';

const NO_BRANCHES = 'migrations are one line of files in name order: no branches, one head';

/** Alembic commands we do not have, and what to do instead. */
export const ALEMBIC_COMMANDS: Readonly<Record<string, string>> = {
  merge: `not needed: ${NO_BRANCHES}, so nothing to merge; a file merged out of order shows in migrate status`,
  branches: `not needed: ${NO_BRANCHES}; migrate heads prints it`,
  edit: 'not available: open the file that migrate show REV names in your editor',
  init: 'not needed: migrate create NAME makes the migrations folder (migrations/, or --dir); settings come from the environment or migrate.config.json',
  ensure_version: 'not needed: the first run that writes (migrate auto, up or stamp) creates the history table',
  list_templates: 'not needed: migrate create NAME --lang sql|ts|js picks the template',
};

/** Alembic flags we do not have, by name, and what to do instead. */
export const ALEMBIC_FLAGS: Readonly<Record<string, string>> = {
  '-c': 'use --config FILE (JSON, migrate.config.json by default; alembic.ini is not read)',
  '-n': 'not needed: one config per file; use --config FILE',
  '--name': 'not needed: one config per file; use --config FILE',
  '-x': 'not needed: pass settings as flags or environment variables (--database-url or DATABASE_URL, --schema, …)',
  '--raiseerr': 'not needed: every error exits non-zero with one line on stderr; --log-level debug adds the stack',
  '-q': 'use --log-level warn',
  '--quiet': 'use --log-level warn',
  '--autogenerate': 'goes with generate (revision) or create: migrate generate -m MESSAGE --autogenerate --desired schema.sql',
  '--rev-id': 'not needed: the file name prefix follows the folder (an index or a timestamp); migrate generate picks the next one',
  '--head': `not needed: ${NO_BRANCHES}`,
  '--splice': `not needed: ${NO_BRANCHES}`,
  '--branch-label': `not needed: ${NO_BRANCHES}`,
  '--depends-on': `not needed: ${NO_BRANCHES}`,
  '--version-path': 'use --dir DIR (or MIGRATIONS_DIR)',
  '--purge': 'not needed: stamp always rewrites the whole history to "applied through REV"',
  '--tag': 'not supported: the history records who applied each migration (migrate history --verbose)',
  '-r': 'not needed: history lists every migration; migrate show REV prints one',
  '--rev-range': 'not needed: history lists every migration; migrate show REV prints one',
  '-i': 'not needed: history says which migrations are applied; migrate current names the current one',
  '--indicate-current': 'not needed: history says which migrations are applied; migrate current names the current one',
  '--check-heads': `not needed: ${NO_BRANCHES}`,
  '--resolve-dependencies': `not needed: ${NO_BRANCHES}`,
  '--sql': 'goes with up or down (or use migrate sql, migrate sql --down)',
  '-m': 'use migrate generate -m MESSAGE (or create NAME)',
  '--message': 'use migrate generate -m MESSAGE (or create NAME)',
};

/**
 * Throws a usage error (exit 2) with our equivalent when `argv` names an
 * Alembic command or flag that `program` does not know; else returns.
 */
export function rejectAlembicWords(program: Command, argv: readonly string[]): void {
  let command: Command | null = null;
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === '--') return;
    if (token.startsWith('-') && token.length > 1 && !/^-\d/.test(token)) {
      const name = token.includes('=') ? token.slice(0, token.indexOf('=')) : token;
      const option = findOption(command ?? program, program, name);
      if (option) {
        if ((option.required || option.optional) && !token.includes('=')) i++;
        continue;
      }
      const answer = ALEMBIC_FLAGS[name];
      if (answer !== undefined && !isHelp(name)) {
        throw new UsageError(`unknown option ${JSON.stringify(name)}${command ? ` for ${command.name()}` : ''}`, { hint: answer });
      }
      continue;
    }
    if (command) continue;
    const found = program.commands.find((c) => c.name() === token || c.aliases().includes(token));
    if (found) {
      command = found;
      continue;
    }
    const answer = ALEMBIC_COMMANDS[token];
    if (answer !== undefined) throw new UsageError(`unknown command ${JSON.stringify(token)}`, { hint: answer });
    return;
  }
}

function findOption(command: Command, program: Command, name: string): Option | undefined {
  const own = (c: Command) => c.options.find((o) => o.short === name || o.long === name);
  return own(command) ?? own(program);
}

function isHelp(name: string): boolean {
  return name === '-h' || name === '--help';
}
