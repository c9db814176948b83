/**
 * Logs go to stderr through winston: JSON lines when stderr is not a terminal
 * (or LOG_FORMAT=json), short readable lines on a terminal. Every finished
 * line is redacted, so a password that reached a message (or a nested field)
 * is masked.
 *
 * winston is loaded with a dynamic import that the CLI starts first thing,
 * so loading it overlaps reading the files and connecting; lines logged
 * before it is ready wait in order (with their own timestamps) and `flush`
 * writes them. Loading it up front was about a quarter of a no-op start
 * (bench/RESULTS.md, issue 6).
 */
import type winston from 'winston';
import { redact } from './redact.js';
import type { LogLevel } from './settings.js';

export type LogMethod = (message: string, meta?: Record<string, unknown>) => unknown;

/** What the runner logs through; a winston logger fits it too. */
export interface Logger {
  readonly error: LogMethod;
  readonly warn: LogMethod;
  readonly info: LogMethod;
  readonly debug: LogMethod;
}

export interface FlushableLogger extends Logger {
  /** Resolves once every line logged so far has been written. */
  flush(): Promise<void>;
}

type Winston = typeof winston;
let loading: Promise<Winston> | undefined;

/** Starts loading winston (idempotent). */
export function preloadWinston(): Promise<Winston> {
  loading ??= import('winston').then((module) => module.default);
  return loading;
}

export function createLogger(level: LogLevel, format: 'json' | 'pretty'): FlushableLogger {
  let target: winston.Logger | null = null;
  const waiting: [LogLevel, string, Record<string, unknown>][] = [];
  const ready = preloadWinston().then((w) => {
    target = buildWinstonLogger(w, level, format);
    for (const [name, message, meta] of waiting.splice(0)) target.log(name, message, meta);
  });
  const method =
    (name: LogLevel): LogMethod =>
    (message, meta = {}) => {
      const entry = { ...meta, timestamp: new Date().toISOString() };
      if (target) target.log(name, String(message), entry);
      else waiting.push([name, String(message), entry]);
    };
  return {
    error: method('error'),
    warn: method('warn'),
    info: method('info'),
    debug: method('debug'),
    flush: () => ready,
  };
}

function buildWinstonLogger(w: Winston, level: LogLevel, format: 'json' | 'pretty'): winston.Logger {
  const MESSAGE = Symbol.for('message');
  // Redact the finished line, nested fields included.
  const redactLine = w.format((info) => {
    const line = (info as Record<symbol, unknown>)[MESSAGE];
    if (typeof line === 'string') (info as Record<symbol, unknown>)[MESSAGE] = redact(line);
    return info;
  });
  const pretty = w.format.printf((info) => {
    const { level: name, message, timestamp: _timestamp, ...rest } = info as Record<string, unknown>;
    const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
    return `migrate: ${name === 'info' ? '' : `${String(name)}: `}${String(message)}${extra}`;
  });
  return w.createLogger({
    level,
    format: w.format.combine(format === 'json' ? w.format.json() : pretty, redactLine()),
    transports: [new w.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] })],
  });
}

/** A logger that drops everything: the library's default when the caller passes none. */
export function createSilentLogger(): Logger {
  const drop: LogMethod = () => undefined;
  return { error: drop, warn: drop, info: drop, debug: drop };
}
