/**
 * Settings, highest first (CONTRACT.md "Settings"): flags; environment;
 * a JSON config file validated against schema/config.schema.json; defaults.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createRequire } from 'node:module';
import type { Ajv, ErrorObject } from 'ajv';
import type { ClientConfig } from 'pg';
import { parseIntoClientConfig } from 'pg-connection-string';
import { ConfigError, NoDatabaseError, UsageError } from './errors.js';
import { registerSecret } from './redact.js';

/** What a caller (flags, or a library user) may set; every field optional. */
export interface SettingsInput {
  readonly databaseUrl?: string;
  readonly dir?: string;
  readonly table?: string;
  readonly schema?: string;
  /** node-pg-migrate's migrationsSchema: where the history lives (default: the managed schema). */
  readonly migrationsSchema?: string;
  readonly config?: string;
  readonly baseline?: string;
  readonly lockTimeout?: number;
  readonly waitTimeout?: number;
  readonly ddlLockTimeout?: number;
  readonly ddlLockRetries?: number;
  readonly allowModified?: boolean;
  readonly refuseOnDrift?: boolean;
  /** Apply files merged late (sorting before applied ones) with the rest: Flyway's outOfOrder. */
  readonly outOfOrder?: boolean;
  /** A legacy schema matching consecutive revisions that probes do not settle: refuse (default) or stamp the latest. */
  readonly ambiguousLegacy?: 'refuse' | 'latest';
  readonly logLevel?: string;
  readonly logFormat?: string;
}

export interface ConnectionTarget {
  readonly config: ClientConfig;
  /** The target with the password masked, safe to print. */
  readonly display: string;
  /** Where it came from: `--database-url`, `DATABASE_URL`, `DB_*`, … */
  readonly source: string;
}

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export interface Settings {
  /** Null when nothing names a database; commands that need one throw NoDatabaseError. */
  readonly connection: ConnectionTarget | null;
  readonly dir: string;
  readonly table: string;
  readonly schema: string;
  /** The history's schema; the managed schema unless set. */
  readonly migrationsSchema: string;
  readonly baseline: string | null;
  readonly lockTimeoutSeconds: number;
  readonly waitTimeoutSeconds: number;
  readonly ddlLockTimeoutMs: number;
  readonly ddlLockRetries: number;
  readonly allowModified: boolean;
  readonly refuseOnDrift: boolean;
  readonly outOfOrder: boolean;
  readonly ambiguousLegacy: 'refuse' | 'latest';
  readonly logLevel: LogLevel;
  readonly logFormat: 'json' | 'pretty';
  /** The config file read, or null. */
  readonly configFile: string | null;
}

export const DEFAULTS = {
  dir: 'migrations',
  table: 'pgmigrations',
  schema: 'public',
  lockTimeoutSeconds: 300,
  waitTimeoutSeconds: 0,
  ddlLockTimeoutMs: 0,
  ddlLockRetries: 3,
} as const;

const CONFIG_FILE_NAME = 'migrate.config.json';

export function resolveSettings(
  flags: SettingsInput,
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
  isTerminal: boolean = Boolean(process.stderr.isTTY),
): Settings {
  // An empty variable counts as unset, as DB_* already did: compose files pass `LOG_LEVEL: ${LOG_LEVEL}`
  // through and get "" when the shell has none.
  const envOf = (name: string): string | undefined => env[name] || undefined;
  const { file: configFile, values: fromFile } = readConfigFile(flags.config ?? envOf('MIGRATE_CONFIG'), cwd);
  const pick = <K extends keyof SettingsInput>(key: K, envValue?: string): SettingsInput[K] | string | undefined =>
    flags[key] ?? envValue ?? fromFile[key];

  const logLevel = logLevelOf(String(pick('logLevel', envOf('LOG_LEVEL')) ?? 'info'));
  if (!['error', 'warn', 'info', 'debug'].includes(logLevel)) {
    throw new UsageError(`unknown log level ${JSON.stringify(logLevel)}`, { hint: 'use error, warn, info or debug (or Python\'s CRITICAL, WARNING)' });
  }
  const logFormat = String(pick('logFormat', envOf('LOG_FORMAT')) ?? (isTerminal ? 'pretty' : 'json')).toLowerCase();
  if (logFormat !== 'json' && logFormat !== 'pretty') {
    throw new UsageError(`unknown log format ${JSON.stringify(logFormat)}`, { hint: 'use json or pretty' });
  }

  const schema = identifier(String(pick('schema') ?? DEFAULTS.schema), 'schema');
  return {
    connection: resolveConnection(flags.databaseUrl, env, fromFile.databaseUrl),
    dir: resolve(cwd, String(pick('dir', envOf('MIGRATIONS_DIR')) ?? DEFAULTS.dir)),
    table: identifier(String(pick('table', envOf('MIGRATIONS_TABLE')) ?? DEFAULTS.table), 'table'),
    schema,
    migrationsSchema: identifier(String(pick('migrationsSchema', envOf('MIGRATIONS_SCHEMA')) ?? schema), 'migrations schema'),
    baseline: (pick('baseline') as string | undefined) ?? null,
    lockTimeoutSeconds: Number(pick('lockTimeout') ?? DEFAULTS.lockTimeoutSeconds),
    waitTimeoutSeconds: Number(pick('waitTimeout') ?? DEFAULTS.waitTimeoutSeconds),
    ddlLockTimeoutMs: Number(pick('ddlLockTimeout') ?? DEFAULTS.ddlLockTimeoutMs),
    ddlLockRetries: Number(pick('ddlLockRetries') ?? DEFAULTS.ddlLockRetries),
    allowModified: Boolean(pick('allowModified') ?? false),
    refuseOnDrift: Boolean(pick('refuseOnDrift') ?? false),
    outOfOrder: Boolean(pick('outOfOrder') ?? false),
    ambiguousLegacy: pick('ambiguousLegacy') === 'latest' ? 'latest' : 'refuse',
    logLevel: logLevel as LogLevel,
    logFormat,
    configFile,
  };
}

/**
 * A name PostgreSQL keeps whole: it cuts one of more than 63 bytes
 * (NAMEDATALEN), and the runner would then look for a table it never made.
 */
function identifier(name: string, what: string): string {
  if (Buffer.byteLength(name) > 63) {
    throw new UsageError(`the ${what} name ${JSON.stringify(name)} is longer than PostgreSQL's 63 bytes`, {
      hint: 'use a name of at most 63 bytes',
    });
  }
  return name;
}

/**
 * A level in any case, with Python's logging names too, since LOG_LEVEL is
 * often shared with a Python app: WARNING is warn, CRITICAL and FATAL are error.
 */
export function logLevelOf(value: string): string {
  const level = value.trim().toLowerCase();
  return ({ warning: 'warn', critical: 'error', fatal: 'error' } as Record<string, string>)[level] ?? level;
}

function readConfigFile(named: string | undefined, cwd: string): { file: string | null; values: SettingsInput } {
  const file = resolve(cwd, named ?? CONFIG_FILE_NAME);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    // The default file is optional; a file someone named must exist.
    if (named === undefined && (error as NodeJS.ErrnoException).code === 'ENOENT') return { file: null, values: {} };
    throw new ConfigError(`config file ${file} cannot be read`, file, { cause: error });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`config file ${file} is not valid JSON: ${(error as Error).message}`, file, { cause: error });
  }
  const validate = compileConfigValidator();
  if (!validate(parsed)) {
    throw new ConfigError(`config file ${file}: ${describeSchemaError(validate.errors?.[0])}`, file, {
      hint: 'see schema/config.schema.json for the allowed keys',
    });
  }
  return { file, values: parsed as SettingsInput };
}

let validator: ReturnType<Ajv['compile']> | undefined;
function compileConfigValidator(): ReturnType<Ajv['compile']> {
  if (!validator) {
    const schemaPath = new URL('../schema/config.schema.json', import.meta.url);
    const schema = JSON.parse(readFileSync(schemaPath, 'utf8')) as object;
    // Loaded here, not at the top: only a run with a config file pays for ajv (bench/RESULTS.md).
    const { Ajv: AjvClass } = createRequire(import.meta.url)('ajv') as typeof import('ajv');
    validator = new AjvClass({ allErrors: false, strict: true }).compile(schema);
  }
  return validator;
}

function describeSchemaError(error: ErrorObject | undefined): string {
  if (!error) return 'invalid';
  if (error.keyword === 'additionalProperties') {
    return `unknown key "${String(error.params.additionalProperty)}"`;
  }
  const key = error.instancePath.replace(/^\//, '').replace(/\//g, '.') || '(root)';
  return `key "${key}" ${error.message ?? 'is invalid'}`;
}

/**
 * The database, from the first of: --database-url; DATABASE_URL; DB_*;
 * POSTGRES_*; libpq's PG* (left to pg, which reads them itself); the config file.
 */
export function resolveConnection(
  flagUrl: string | undefined,
  env: NodeJS.ProcessEnv,
  fileUrl: string | undefined,
): ConnectionTarget | null {
  if (flagUrl) return fromUrl(flagUrl, '--database-url');
  if (env.DATABASE_URL) return fromUrl(env.DATABASE_URL, 'DATABASE_URL');
  for (const prefix of ['DB', 'POSTGRES'] as const) {
    const names = prefix === 'DB' ? ['HOST', 'PORT', 'NAME', 'USER', 'PASSWORD'] : ['HOST', 'PORT', 'DB', 'USER', 'PASSWORD'];
    const [host, port, database, user, password] = names.map((n) => env[`${prefix}_${n}`] || undefined);
    if (host ?? port ?? database ?? user ?? password) {
      return fromParts({ host, port, database, user, password }, `${prefix}_*`);
    }
  }
  const libpq = ['PGHOST', 'PGPORT', 'PGDATABASE', 'PGUSER', 'PGPASSWORD', 'PGHOSTADDR', 'PGSERVICE'];
  if (libpq.some((name) => env[name])) {
    return fromParts(
      { host: env.PGHOST, port: env.PGPORT, database: env.PGDATABASE, user: env.PGUSER, password: env.PGPASSWORD },
      'PG*',
    );
  }
  if (fileUrl) return fromUrl(fileUrl, 'config file');
  return null;
}

export function requireConnection(settings: Settings): ConnectionTarget {
  if (!settings.connection) throw new NoDatabaseError();
  return settings.connection;
}

function fromUrl(url: string, source: string): ConnectionTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`the database URL from ${source} is not a valid URL`, source, {
      hint: 'use postgres://user:password@host:5432/database',
    });
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new ConfigError(`the database URL from ${source} must start with postgres://`, source);
  }
  if (parsed.password) registerSecret(decodeURIComponent(parsed.password));
  let config: ClientConfig;
  try {
    config = parseIntoClientConfig(url);
  } catch (error) {
    throw new ConfigError(`the database URL from ${source} cannot be parsed`, source, { cause: error });
  }
  if (typeof config.password === 'string') registerSecret(config.password);
  return { config, display: maskUrl(parsed), source };
}

function fromParts(
  parts: { host?: string; port?: string; database?: string; user?: string; password?: string },
  source: string,
): ConnectionTarget {
  if (parts.port !== undefined && !/^\d+$/.test(parts.port)) {
    throw new ConfigError(`the port from ${source} is not a number`, source);
  }
  if (parts.password) registerSecret(parts.password);
  const config: ClientConfig = {
    ...(parts.host && { host: parts.host }),
    ...(parts.port && { port: Number(parts.port) }),
    ...(parts.database && { database: parts.database }),
    ...(parts.user && { user: parts.user }),
    ...(parts.password && { password: parts.password }),
  };
  const host = parts.host ?? process.env.PGHOST ?? 'localhost';
  const display =
    `postgres://${parts.user ? encodeURIComponent(parts.user) : ''}${parts.password ? ':****' : ''}` +
    `${parts.user || parts.password ? '@' : ''}${host}:${parts.port ?? 5432}/${parts.database ?? ''}`;
  return { config, display, source };
}

function maskUrl(url: URL): string {
  const masked = new URL(url.toString());
  if (masked.password) masked.password = '****';
  return masked.toString();
}
