/**
 * Logs go to stderr through winston: JSON lines when stderr is not a terminal
 * (or LOG_FORMAT=json), short readable lines on a terminal. Every line is
 * redacted, so a password that reached a message is masked.
 */
import winston from 'winston';
import { redact } from './redact.js';
import type { LogLevel } from './settings.js';

export type Logger = winston.Logger;

const redactFormat = winston.format((info) => {
  info.message = redact(String(info.message));
  for (const key of Object.keys(info)) {
    const value = info[key];
    if (typeof value === 'string' && key !== 'level') info[key] = redact(value);
  }
  return info;
});

const prettyFormat = winston.format.printf((info) => {
  const { level, message, timestamp: _t, ...rest } = info as { level: string; message: string; timestamp?: string };
  const extra = Object.keys(rest).length ? ` ${redact(JSON.stringify(rest))}` : '';
  const tag = level === 'info' ? '' : `${level}: `;
  return `migrate: ${tag}${message}${extra}`;
});

export function createLogger(level: LogLevel, format: 'json' | 'pretty'): Logger {
  return winston.createLogger({
    level,
    format:
      format === 'json'
        ? winston.format.combine(winston.format.timestamp(), redactFormat(), winston.format.json())
        : winston.format.combine(redactFormat(), prettyFormat),
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] })],
  });
}

/** A logger that drops everything: the library's default when the caller passes none. */
export function createSilentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}
