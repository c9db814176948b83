/**
 * argv → command → exit code. Errors become one line on stderr and an exit
 * code here, in one place (docs/CONTRACT.md "Exit codes"); no stack trace unless
 * --log-level debug. Signals and migration code that escapes (an exception
 * from a timer, process.exit()) stop the run here too (watchProcess).
 */
import { Command, CommanderError, Option } from 'commander';
import { parseSeconds, type ContextFor } from './commandContext.js';
import { EXIT, InterruptedError, MigrationEscapeError, asRunnerError, describeCause, type RunnerError } from '../core/errors.js';
import { createLogger, preloadWinston, type FlushableLogger } from '../config/logger.js';
import { redact } from '../config/redact.js';
import { resolveSettings, type Settings, type SettingsInput } from '../config/settings.js';
import { registerReadCommands } from './readCommands.js';
import { registerWriteCommands } from './writeCommands.js';
import { registerFingerprintCommands } from './fingerprintCommands.js';
import { registerSchemaCommands } from './schemaCommands.js';
import { rejectAlembicWords } from './alembicWords.js';
import { RUNNER_VERSION } from '../db/history.js';

interface GlobalFlags extends SettingsInput {
  readonly json?: boolean;
}

export async function main(argv: readonly string[]): Promise<number> {
  // Load winston while the command reads files and connects (logger.ts).
  preloadWinston().catch(() => undefined);
  ignoreClosedReader();
  let debug = argv.includes('debug') && argv.some((a) => a === '--log-level' || a === '--log-level=debug');
  const loggers: FlushableLogger[] = [];
  const watch = watchProcess();
  const program = buildProgram((settings, logger) => {
    debug = settings.logLevel === 'debug';
    loggers.push(logger);
  }, watch.takeSignals);
  let code: number;
  try {
    rejectAlembicWords(program, argv);
    await program.parseAsync(withDefaultCommand(program, argv), { from: 'user' });
    await Promise.all(loggers.map((l) => l.flush()));
    // A command that finished although something escaped (no run was there to stop) still fails.
    code = watch.signal.aborted ? reportError(watch.signal.reason, debug) : process.exitCode === undefined ? EXIT.ok : Number(process.exitCode);
  } catch (error) {
    // Log lines first, then the one error line.
    await Promise.all(loggers.map((l) => l.flush().catch(() => undefined)));
    code = reportError(error, debug);
  } finally {
    watch.stop();
  }
  watch.exitSoon(code);
  return code;
}

/**
 * A reader that stopped reading (`migrate info | head -1`): what is left to
 * print goes nowhere, as it would from a shell command, and the command ends
 * as it would have. Without a listener the EPIPE of the next write is an
 * unhandled 'error' event: a stack trace, exit 1. Once stdout has failed, its
 * later writes fail too (ERR_STREAM_DESTROYED); any other first error is
 * thrown as before.
 */
function ignoreClosedReader(): void {
  let closed = false;
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (closed || error.code === 'EPIPE') {
      closed = true;
      return;
    }
    throw error;
  });
}

/** How long a signalled run may take to cancel, roll back and let go of the lock before the process exits anyway. */
const STOP_GRACE_MS = 10_000;

/**
 * For the length of a command: SIGINT and SIGTERM abort the run (it cancels
 * the running statement on the server, rolls back, releases the lock: exit
 * 130 or 143), a second signal or a run that does not stop within
 * STOP_GRACE_MS exits at once; an exception or rejection nobody handles, and
 * process.exit() called by migration code, abort it as migration code that
 * escaped (exit 1). Without this, Node would print a stack and exit, or exit
 * 0, leaving the server to find out later that the client had gone.
 */
function watchProcess() {
  const controller = new AbortController();
  const realExit = process.exit.bind(process);
  let forced: NodeJS.Timeout | undefined;
  const exitNow = (error: RunnerError) => {
    process.stderr.write(errorLine(error));
    realExit(error.exitCode);
  };
  const stopWith = (error: RunnerError) => {
    if (controller.signal.aborted) return;
    controller.abort(error);
    forced = setTimeout(() => exitNow(error), STOP_GRACE_MS);
    forced.unref();
  };
  const onSignal = (signal: 'SIGINT' | 'SIGTERM') => {
    if (controller.signal.aborted) {
      exitNow(new InterruptedError(signal, 'a second signal: exiting without waiting for the rollback (the server rolls back what did not commit)'));
    }
    stopWith(new InterruptedError(signal));
  };
  const onSigint = () => onSignal('SIGINT');
  const onSigterm = () => onSignal('SIGTERM');
  let signalsTaken = false;
  const onEscape = (error: unknown) => {
    if (error instanceof MigrationEscapeError) return stopWith(error);
    stopWith(new MigrationEscapeError(`an exception escaped from migration code (thrown outside up/down, e.g. from a timer or callback): ${describeCause(error)}`, { cause: error }));
  };
  process.on('uncaughtException', onEscape);
  process.on('unhandledRejection', onEscape);
  process.exit = ((exitCode?: number | string | null) => {
    const error = new MigrationEscapeError(`migration code called process.exit(${exitCode ?? ''})`);
    stopWith(error);
    // Thrown where it was called, so the code after it does not run.
    throw error;
  }) as typeof process.exit;
  return {
    signal: controller.signal,
    takeSignals() {
      if (!signalsTaken) {
        process.on('SIGINT', onSigint);
        process.on('SIGTERM', onSigterm);
        signalsTaken = true;
      }
      return controller.signal;
    },
    stop() {
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigterm);
      process.off('uncaughtException', onEscape);
      process.off('unhandledRejection', onEscape);
      process.exit = realExit;
      if (forced) clearTimeout(forced);
    },
    /**
     * Migration code may leave a timer or socket behind (a hung up() that
     * was cancelled): the process ends soon all the same, with its code.
     */
    exitSoon(code: number) {
      setTimeout(() => realExit(code), 500).unref();
    },
  };
}

/**
 * docs/CONTRACT.md "Commands": with no command, `auto`, also when only options are given
 * (`migrate --database-url URL`, `migrate --json`). A first word that is not a
 * command stays, so commander says "unknown command" with a suggestion;
 * `migrate --help` stays the program's help.
 */
function withDefaultCommand(program: Command, argv: readonly string[]): string[] {
  if (argv.includes('--help') || argv.includes('-h')) return [...argv];
  // parseOptions consumes the global options and their values; the first operand left is the command.
  const { operands } = program.parseOptions([...argv]);
  return operands.length ? [...argv] : ['auto', ...argv];
}

/**
 * Every error ends here as one line and its exit code. Commander's usage
 * errors are exit 2 (it printed them); a RunnerError says what and what to
 * do; a lost connection or a statement the server refused is made one
 * (src/core/errors.ts); anything else is a bug in the runner.
 */
function reportError(error: unknown, debug: boolean): number {
  if (error instanceof CommanderError) {
    // Commander already printed its one line; help and version are not errors.
    return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  const known = asRunnerError(error);
  if (known) {
    process.stderr.write(errorLine(known));
    if (debug) writeStack(known);
    return known.exitCode;
  }
  const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
  process.stderr.write(redact(`migrate: internal error: ${message} (rerun with --log-level debug for details)`) + '\n');
  if (debug) writeStack(error);
  return EXIT.failed;
}

/** The one line a RunnerError is on stderr: what failed, then what to do (its hint). */
function errorLine(error: RunnerError): string {
  return redact(`migrate: error: ${error.message}${error.hint ? ` (${error.hint})` : ''}`) + '\n';
}

/** --log-level debug: the stack, and the stack of each cause under it (the driver's error). */
function writeStack(error: unknown): void {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e.stack) process.stderr.write(redact(depth ? `caused by: ${e.stack}` : e.stack) + '\n');
  }
}

function buildProgram(onContext: (s: Settings, logger: FlushableLogger) => void, takeSignals: () => AbortSignal): Command {
  const program = new Command('migrate')
    .description('A stateful PostgreSQL migration runner on node-pg-migrate')
    .version(RUNNER_VERSION, '-V, --version', 'print the version')
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({ writeErr: (s) => process.stderr.write(redact(s.startsWith('error:') ? `migrate: ${oneLineUsageError(s)}` : s)) })
    .option('--database-url <url>', 'postgres://user:password@host:port/database (default: DATABASE_URL, DB_*, POSTGRES_*, PG*)')
    .option('--dir <dir>', 'migrations folder (default: MIGRATIONS_DIR or migrations)')
    .option('--table <name>', 'history table (default: MIGRATIONS_TABLE or pgmigrations)')
    .option('--schema <name>', 'managed schema (default: public)')
    .option('--migrations-schema <name>', 'schema of the history table (default: MIGRATIONS_SCHEMA or the managed schema)')
    .option('--config <file>', 'JSON config file (default: MIGRATE_CONFIG or migrate.config.json)')
    .option('--json', 'machine-readable output on stdout')
    .addOption(new Option('--log-level <level>', 'error, warn, info or debug (default: LOG_LEVEL or info)'))
    .option('--lock-timeout <seconds>', 'how long to wait for another runner (default: 300)', parseSeconds)
    .option('--wait-timeout <seconds>', 'how long to wait for the database to accept connections (default: 0)', parseSeconds)
    .option('--scratch <kind>', 'where replays run: embedded, url or target (default: MIGRATE_SCRATCH or embedded)')
    .option('--scratch-url <url>', 'server for throwaway replay databases (default: MIGRATE_SCRATCH_URL)');

  const contextFor: ContextFor = (command) => {
    const flags = command.optsWithGlobals<GlobalFlags & Record<string, unknown>>();
    const settingsInput = pickSettings(flags);
    const settings = resolveSettings(settingsInput);
    const logger = createLogger(settings.logLevel, settings.logFormat);
    onContext(settings, logger);
    return {
      settings,
      settingsInput,
      logger,
      json: Boolean(flags.json),
      print: (text) => process.stdout.write(redact(text) + '\n'),
      printJson: (value) => process.stdout.write(redact(JSON.stringify(value, null, 2)) + '\n'),
      takeSignals,
    };
  };

  registerReadCommands(program, contextFor);
  registerWriteCommands(program, contextFor);
  registerFingerprintCommands(program, contextFor);
  registerSchemaCommands(program, contextFor);
  return program;
}

function pickSettings(flags: GlobalFlags & Record<string, unknown>): SettingsInput {
  const keys = [
    'databaseUrl', 'dir', 'table', 'schema', 'migrationsSchema', 'config', 'baseline', 'lockTimeout', 'waitTimeout',
    'ddlLockTimeout', 'migrationTimeout', 'allowModified', 'refuseOnDrift', 'checkSchema', 'logLevel', 'scratch', 'scratchUrl',
  ] as const;
  const picked: Record<string, unknown> = {};
  for (const key of keys) if (flags[key] !== undefined) picked[key] = flags[key];
  return picked as SettingsInput;
}

/** Commander's "(Did you mean --x?)" comes on a line of its own: keep the error one line. */
function oneLineUsageError(text: string): string {
  return text.replace(/\n\((Did you mean [^)\n]*)\)\n?$/, ' ($1)\n');
}
