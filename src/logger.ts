/**
 * Logs go to stderr: JSON lines when stderr is not a terminal (or
 * LOG_FORMAT=json), short readable lines on a terminal. Every line is
 * redacted, so a password that reached a message is masked.
 *
 * A writer of our own, in winston's formats (JSON with sorted keys and a
 * timestamp; `migrate: [level: ]message {meta}`): loading winston was a
 * quarter of a no-op start (bench/RESULTS.md). A winston logger still fits
 * where a Logger is asked for.
 */
import { redact } from './redact.js';
import type { LogLevel } from './settings.js';

export type LogMethod = (message: string, meta?: Record<string, unknown>) => unknown;

export interface Logger {
  readonly error: LogMethod;
  readonly warn: LogMethod;
  readonly info: LogMethod;
  readonly debug: LogMethod;
}

const SEVERITY: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export function createLogger(level: LogLevel, format: 'json' | 'pretty'): Logger {
  const method = (name: LogLevel): LogMethod => (message, meta) => {
    if (SEVERITY[name] > SEVERITY[level]) return;
    const fields: Record<string, unknown> = { ...meta };
    delete fields.level;
    delete fields.message;
    delete fields.timestamp;
    const text = String(message);
    let line: string;
    if (format === 'json') {
      line = JSON.stringify(sortedCopy({ ...fields, level: name, message: text, timestamp: new Date().toISOString() }));
    } else {
      const extra = Object.keys(fields).length ? ` ${JSON.stringify(sortedCopy(fields, [], false))}` : '';
      line = `migrate: ${name === 'info' ? '' : `${name}: `}${text}${extra}`;
    }
    process.stderr.write(`${redact(line)}\n`);
  };
  return { error: method('error'), warn: method('warn'), info: method('info'), debug: method('debug') };
}

/** A logger that drops everything: the library's default when the caller passes none. */
export function createSilentLogger(): Logger {
  const drop: LogMethod = () => undefined;
  return { error: drop, warn: drop, info: drop, debug: drop };
}

/** A JSON-safe copy: keys sorted (when `sort`), cycles as "[Circular]", bigints as strings. */
function sortedCopy(value: unknown, stack: object[] = [], sort = true): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return value;
  const withToJson = value as { toJSON?: () => unknown };
  if (typeof withToJson.toJSON === 'function') return withToJson.toJSON();
  if (stack.includes(value)) return '[Circular]';
  stack.push(value);
  const keys = Object.keys(value);
  const copy = Array.isArray(value)
    ? value.map((item) => sortedCopy(item, stack, sort))
    : Object.fromEntries((sort ? keys.sort() : keys).map((k) => [k, sortedCopy((value as Record<string, unknown>)[k], stack, sort)]));
  stack.pop();
  return copy;
}
