/**
 * What an error is to its user (src/core/errors.ts asRunnerError): the
 * runner's own errors as they are, a lost connection and a statement the
 * server refused made RunnerErrors with their exit codes, anything else null
 * (the CLI's "internal error"). The driver's error is the cause, unchanged:
 * the inputs are frozen, so a write onto one would throw.
 */
import {
  asRunnerError,
  ConnectionLostError,
  EXIT,
  HistoryWriteError,
  SchemaCatalogError,
  ServerStatementError,
  UsageError,
  CONNECTION_LOSS_HINT,
} from '../../src/core/errors.js';

/** A PostgreSQL error as pg's DatabaseError carries it. */
function serverError(code: string, message: string, severity = 'ERROR'): Error {
  return Object.freeze(Object.assign(new Error(message), { code, severity }));
}

const usage = new UsageError('bad flag');

test.each([
  ['a RunnerError', usage, UsageError, EXIT.usage, /^bad flag$/],
  ['a missing grant (42501)', serverError('42501', 'permission denied for table pgmigrations'), ServerStatementError, EXIT.usage, /refused one of the runner's own statements: permission denied for table pgmigrations$/],
  ['another server error', serverError('53100', 'could not extend file: No space left on device'), ServerStatementError, EXIT.failed, /No space left on device$/],
  ['a terminated backend (57P01)', serverError('57P01', 'terminating connection due to administrator command', 'FATAL'), ConnectionLostError, EXIT.failed, /^lost the connection to the database: terminating connection/],
  ['a reset socket', Object.freeze(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })), ConnectionLostError, EXIT.failed, /read ECONNRESET$/],
  ['pg\'s closed client', Object.freeze(new Error('Connection terminated unexpectedly')), ConnectionLostError, EXIT.failed, /Connection terminated unexpectedly$/],
])('%s', (_, error, kind, exitCode, message) => {
  const before = { ...error, message: error.message };
  const known = asRunnerError(error)!;
  expect(known).toBeInstanceOf(kind);
  expect([known.exitCode, known.message]).toEqual([exitCode, expect.stringMatching(message)]);
  if (known !== error) expect(known.cause).toBe(error);
  expect({ ...error, message: error.message }).toEqual(before);
});

test.each([
  ['a TypeError', new TypeError("Cannot read properties of undefined (reading 'x')")],
  ['a code that is not a SQLSTATE', Object.assign(new Error('nope'), { code: 'ERR_X', severity: 'ERROR' })],
  ['a SQLSTATE without a severity', Object.assign(new Error('nope'), { code: '42501' })],
  ['a string', 'boom'],
])('%s is not the user\'s: null (an internal error)', (_, error) => {
  expect(asRunnerError(error)).toBeNull();
});

test.each([
  ['a missing grant', serverError('42501', 'permission denied for table pg_trigger'), EXIT.usage, /must be able to read the system catalogs/],
  ['a lost connection', serverError('57P01', 'terminating connection due to administrator command', 'FATAL'), EXIT.failed, new RegExp(CONNECTION_LOSS_HINT.replace(/[.*+?^${}()|[\]\\`]/g, '\\$&'))],
  ['a statement timeout', serverError('57014', 'canceling statement due to statement timeout'), EXIT.failed, /no migration is at fault/],
])('a catalog read that meets %s: its exit code and hint, the step and schema named', (_, cause, exitCode, hint) => {
  const error = new SchemaCatalogError('triggers', 'app', cause);
  expect([error.exitCode, error.message, error.hint, error.cause]).toEqual([
    exitCode,
    `could not read the triggers of schema "app": ${cause.message}`,
    expect.stringMatching(hint),
    cause,
  ]);
  expect(asRunnerError(error)).toBe(error);
});

// The runner's own history write names what to do about the cause it has: a grant only where one is missing.
test.each([
  ['a missing grant (42501)', serverError('42501', 'permission denied for table pgmigrations'), EXIT.usage, /^no migration is at fault; grant the role what it lacks/],
  ['another cause', serverError('21000', 'ON CONFLICT DO UPDATE command cannot affect row a second time'), EXIT.failed, /^no migration is at fault; migrate status says what the history holds$/],
])('a history write that fails on %s', (_, cause, exitCode, hint) => {
  const error = new HistoryWriteError('writing the history ("public"."pgmigrations")', { cause });
  expect([error.exitCode, error.hint]).toEqual([exitCode, expect.stringMatching(hint)]);
  expect(error.message).toBe(`writing the history ("public"."pgmigrations") failed: ${cause.message}; the batch was rolled back`);
});

test('a runner statement that is not a history write does not point at the history', () => {
  const error = new HistoryWriteError('starting the transaction ("public"."pgmigrations")', { cause: serverError('25P02', 'current transaction is aborted') });
  expect([error.exitCode, error.hint]).toEqual([EXIT.failed, "no migration is at fault: the runner's own statement failed; run again"]);
});
