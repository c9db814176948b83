/**
 * What the command modules (readCommands, writeCommands, fingerprintCommands,
 * schemaCommands) build on: the context each handler gets, `action` that runs
 * a handler and sets the exit code, and the parsers of flag values. main.ts
 * makes the context and registers the modules; this module imports none of
 * them, so the imports run one way (scripts/import-cycles.mjs lists circles).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { EXIT, type ExitCode } from '../core/errors.js';
import type { Logger } from '../config/logger.js';
import type { Settings, SettingsInput } from '../config/settings.js';

/** What every command handler gets. */
export interface CommandContext {
  readonly settings: Settings;
  /** The flags as settings, for library calls that resolve settings themselves. */
  readonly settingsInput: SettingsInput;
  readonly logger: Logger;
  readonly json: boolean;
  /** Writes a line (or lines) to stdout, redacted. */
  readonly print: (text: string) => void;
  readonly printJson: (value: unknown) => void;
  /**
   * From this call on, SIGINT and SIGTERM abort the returned signal instead
   * of ending the process (it is aborted too when migration code escapes):
   * the acting commands pass it to runMigrations, which stops cleanly.
   */
  readonly takeSignals: () => AbortSignal;
}

/** Makes the context of the command commander is running (main.ts). */
export type ContextFor = (command: Command) => CommandContext;

/** Runs a handler and sets the process exit code from its result. */
export function action<A extends unknown[]>(
  contextFor: ContextFor,
  handler: (ctx: CommandContext, ...args: A) => Promise<ExitCode | void>,
) {
  return async (...args: unknown[]): Promise<void> => {
    const command = args.at(-1) as Command;
    const ctx = contextFor(command);
    const code = await handler(ctx, ...(args.slice(0, -1) as A));
    process.exitCode = code ?? EXIT.ok;
  };
}

/** Parses a non-negative number of seconds for commander, or throws its usage error. */
export function parseSeconds(value: string): number {
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value.trim()) || !Number.isFinite(n)) {
    throw new InvalidArgumentError('expected a number of seconds');
  }
  return n;
}

/** A whole number of at least 1 (`down --steps`). */
export function parseSteps(value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return Number(value);
}

/** A whole number, 0 included (`--ddl-lock-timeout`). */
export function parseCount(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError('expected a whole number');
  return Number(value);
}
