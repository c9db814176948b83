/**
 * Settings, highest first (CONTRACT.md "Settings"): flags; environment;
 * a JSON config file validated against schema/config.schema.json; defaults.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createRequire } from 'node:module';
import type { Ajv, ErrorObject } from 'ajv';
import { foreignSpelling, isConnectionUri, readConnectionUri } from './connectionString.js';
import { buildConnectionTarget, type ConnectionTarget } from './connectionTarget.js';
import { ConfigError, NoDatabaseError, UsageError } from '../core/errors.js';
import { registerSecret, wording } from './redact.js';
import { packageFileUrl } from '../packageFiles.js';

export type { ConnectionTarget } from './connectionTarget.js';

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
  /** Seconds one migration may take before it is cancelled and the batch rolled back; 0 = no limit. */
  readonly migrationTimeout?: number;
  readonly allowModified?: boolean;
  readonly refuseOnDrift?: boolean;
  readonly checkSchema?: boolean;
  /** Owners and privileges (GRANTs) are part of the schema fingerprints. */
  readonly fingerprintPrivileges?: boolean;
  /** Apply files merged late (sorting before applied ones) with the rest: Flyway's outOfOrder. */
  readonly outOfOrder?: boolean;
  /** A legacy schema matching consecutive revisions that probes do not settle: refuse (default) or stamp the latest. */
  readonly ambiguousLegacy?: 'refuse' | 'latest';
  readonly logLevel?: string;
  readonly logFormat?: string;
  /** Where replays run: `embedded`, `url` (with scratchUrl) or `target` (README "The scratch server"). */
  readonly scratch?: string;
  readonly scratchUrl?: string;
  /** The desired schema for `generate --autogenerate`: a `.sql` file or a folder of them (README "Changing the schema"). */
  readonly desired?: string;
  /** Rules of `migrate lint` (squawk's rule names). */
  readonly lint?: LintRules;
}

/** squawk's rules to leave out, and its opt-in rules to add (https://squawkhq.com/docs/rules). */
export interface LintRules {
  readonly exclude?: readonly string[];
  readonly include?: readonly string[];
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
  readonly migrationTimeoutSeconds: number;
  readonly allowModified: boolean;
  readonly refuseOnDrift: boolean;
  /** After applying or reverting, compare the live schema with the manifest's fingerprint inside the batch's transaction (README, "How it behaves"). */
  readonly checkSchema: boolean;
  /** Owners and privileges are part of the schema fingerprints (off: roles usually differ between machines). */
  readonly fingerprintPrivileges: boolean;
  readonly outOfOrder: boolean;
  readonly ambiguousLegacy: 'refuse' | 'latest';
  readonly logLevel: LogLevel;
  readonly logFormat: 'json' | 'pretty';
  /** The config file read, or null. */
  readonly configFile: string | null;
  /** Where replays (snapshot, verify, a legacy reconcile without a manifest) run. */
  readonly scratch: ScratchSetting;
  /** The desired schema's path for `generate --autogenerate`, resolved, or null. */
  readonly desired: string | null;
  readonly lint: { readonly exclude: readonly string[]; readonly include: readonly string[] };
}

/**
 * The scratch server: a throwaway embedded cluster (the default), a server
 * kept for throwaway databases, or the target's own server (chosen only
 * explicitly: migration code that changes roles or other databases then
 * changes them there).
 */
export type ScratchSetting =
  | { readonly kind: 'embedded'; readonly source: string }
  | { readonly kind: 'target'; readonly source: string }
  | { readonly kind: 'url'; readonly source: string; readonly server: ConnectionTarget };

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
  const config = readConfigFile(flags.config ?? envValue(env, 'MIGRATE_CONFIG'), cwd);
  return settingsFrom({ flags, env, config, cwd, isTerminal });
}

/** Every layer settings come from, as read: what `settingsFrom` decides from. */
export interface SettingsSources {
  readonly flags: SettingsInput;
  readonly env: NodeJS.ProcessEnv;
  /** The config file read (null: none) and its values, validated against schema/config.schema.json. */
  readonly config: { readonly file: string | null; readonly values: SettingsInput };
  /** Folder relative paths resolve from. */
  readonly cwd: string;
  /** Whether stderr is a terminal (the log format's default). */
  readonly isTerminal: boolean;
}

/**
 * The settings, from layers already read: flags over the environment over
 * the config file over defaults. Reads no file (test/unit/settings.test.ts
 * gives it literals); `resolveSettings` reads the config file first.
 */
export function settingsFrom({ flags, env, config, cwd, isTerminal }: SettingsSources): Settings {
  const envOf = (name: string): string | undefined => envValue(env, name);
  const { file: configFile, values: fromFile } = config;
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
    migrationTimeoutSeconds: Number(pick('migrationTimeout') ?? 0),
    allowModified: Boolean(pick('allowModified') ?? false),
    refuseOnDrift: Boolean(pick('refuseOnDrift') ?? false),
    checkSchema: isOn(pick('checkSchema', envOf('MIGRATE_CHECK_SCHEMA'))),
    fingerprintPrivileges: isOn(pick('fingerprintPrivileges', envOf('MIGRATE_FINGERPRINT_PRIVILEGES'))),
    outOfOrder: Boolean(pick('outOfOrder') ?? false),
    ambiguousLegacy: pick('ambiguousLegacy') === 'latest' ? 'latest' : 'refuse',
    logLevel: logLevel as LogLevel,
    logFormat,
    configFile,
    scratch: resolveScratch([
      ['--scratch', '--scratch-url', flags.scratch, flags.scratchUrl],
      ['MIGRATE_SCRATCH', 'MIGRATE_SCRATCH_URL', envOf('MIGRATE_SCRATCH'), envOf('MIGRATE_SCRATCH_URL')],
      ['config scratch', 'config scratchUrl', fromFile.scratch, fromFile.scratchUrl],
    ], env),
    desired: (flags.desired ?? fromFile.desired) !== undefined ? resolve(cwd, String(flags.desired ?? fromFile.desired)) : null,
    lint: { exclude: [...(flags.lint?.exclude ?? fromFile.lint?.exclude ?? [])], include: [...(flags.lint?.include ?? fromFile.lint?.include ?? [])] },
  };
}

/**
 * An environment variable, empty counting as unset, as DB_* already did: compose files pass
 * `LOG_LEVEL: ${LOG_LEVEL}` through and get "" when the shell has none.
 */
function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  return env[name] || undefined;
}

/** A boolean setting from a flag or config (a boolean) or the environment (`true`, `1`, `yes`, `on`). */
function isOn(value: unknown): boolean {
  return typeof value === 'string' ? ['true', '1', 'yes', 'on'].includes(value.trim().toLowerCase()) : Boolean(value ?? false);
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

/**
 * The highest level that names the scratch server decides: a URL alone means
 * `url`; `url` without one takes the URL from a lower level.
 */
function resolveScratch(
  levels: readonly [string, string, string | undefined, string | undefined][],
  env: NodeJS.ProcessEnv,
): ScratchSetting {
  for (const [i, [kindSource, , kind, url]] of levels.entries()) {
    if (kind === undefined && url === undefined) continue;
    const chosen = kind ?? 'url';
    if (chosen === 'url') {
      const named = levels.slice(i).find((level) => level[3] !== undefined);
      if (!named) throw new UsageError(`${kindSource} url needs a URL`, { hint: 'pass --scratch-url or set MIGRATE_SCRATCH_URL' });
      return { kind: 'url', source: named[1], server: fromUrl(named[3]!, named[1], env) };
    }
    if (chosen !== 'embedded' && chosen !== 'target') {
      throw new UsageError(`unknown scratch server ${JSON.stringify(chosen)} from ${kindSource}`, { hint: 'use embedded, url or target' });
    }
    return { kind: chosen, source: kindSource };
  }
  return { kind: 'embedded', source: 'default' };
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
    const schemaPath = packageFileUrl('schema/config.schema.json');
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
 * POSTGRES_*; libpq's PG*; the config file. Parts a source leaves out come
 * from libpq's PG* variables, as libpq fills them (connectionTarget.ts).
 */
export function resolveConnection(
  flagUrl: string | undefined,
  env: NodeJS.ProcessEnv,
  fileUrl: string | undefined,
): ConnectionTarget | null {
  // Every password in the environment is masked, also the ones this run does not connect with.
  for (const name of ['DB_PASSWORD', 'POSTGRES_PASSWORD', 'PGPASSWORD']) if (env[name]) registerSecret(env[name]);
  if (flagUrl) return fromUrl(flagUrl, '--database-url', env);
  if (env.DATABASE_URL) return fromUrl(env.DATABASE_URL, 'DATABASE_URL', env);
  for (const prefix of ['DB', 'POSTGRES'] as const) {
    const names = prefix === 'DB' ? ['HOST', 'PORT', 'NAME', 'USER', 'PASSWORD'] : ['HOST', 'PORT', 'DB', 'USER', 'PASSWORD'];
    const [host, port, database, user, password] = names.map((n) => settingOf(env, `${prefix}_${n}`));
    if (host ?? port ?? database ?? user ?? password) {
      return fromParts({ host, port, database, user, password }, `${prefix}_*`, env);
    }
  }
  const libpq = ['PGHOST', 'PGPORT', 'PGDATABASE', 'PGUSER', 'PGPASSWORD', 'PGHOSTADDR', 'PGSERVICE'];
  if (libpq.some((name) => env[name])) return fromParts({}, 'PG*', env);
  if (fileUrl) return fromUrl(fileUrl, 'config file', env);
  return null;
}

/**
 * A variable of ours, or undefined. Kubernetes sets `<SERVICE>_PORT=tcp://10.0.0.1:5432` (and
 * `_SERVICE_HOST`, `_PORT_5432_TCP…`) in every pod for each service, so a service named `postgres`
 * or `db` gives POSTGRES_PORT or DB_PORT a value that is not a port: a service link, not a setting.
 * It counts as unset (https://kubernetes.io/docs/concepts/services-networking/service/#environment-variables).
 */
function settingOf(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name] || undefined;
  if (value !== undefined && name.endsWith('_PORT') && /^(?:tcp|udp|sctp):\/\//i.test(value)) return undefined;
  return value;
}

export function requireConnection(settings: Settings): ConnectionTarget {
  if (!settings.connection) throw new NoDatabaseError();
  return settings.connection;
}

/** A database named by a URL given for another purpose (generate --desired-url), read as --database-url is. */
export function connectionTargetFromUrl(url: string, source: string, env: NodeJS.ProcessEnv = process.env): ConnectionTarget {
  return fromUrl(url, source, env);
}

function fromUrl(url: string, source: string, env: NodeJS.ProcessEnv): ConnectionTarget {
  const where = `the database URL from ${source}`;
  const foreign = foreignSpelling(url);
  if (foreign) {
    // Say which URL to use, built as the runner would print it: the password stays masked.
    let suggestion = 'postgresql://user:password@host:5432/database';
    const reading = readConnectionUri(foreign.uri);
    if (reading.ok) {
      if (reading.keywords.password) registerSecret(reading.keywords.password);
      suggestion = buildConnectionTarget(reading.keywords, source, env).display.replace(/^postgres:/, 'postgresql:');
    } else registerSecret(userinfoOf(foreign.uri));
    throw new ConfigError(wording`${where} is ${foreign.kind}, which pg does not read`, source, {
      hint: wording`use the postgresql:// form: ${suggestion}`,
    });
  }
  const uri = url.replace(/^postgres(ql)?:\/\//i, (scheme) => scheme.toLowerCase());
  if (!isConnectionUri(uri)) {
    if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(uri)) throw new ConfigError(wording`${where} must start with postgres://`, source);
    throw new ConfigError(wording`${where} is not a valid URL`, source, { hint: wording`use postgres://user:password@host:5432/database` });
  }
  const reading = readConnectionUri(uri);
  if (!reading.ok) {
    // Whatever the password was meant to be, it is masked in anything printed after this.
    registerSecret(userinfoOf(uri));
    throw new ConfigError(wording`${where} is not a valid URL: ${reading.problem}`, source, { hint: reading.hint });
  }
  return buildConnectionTarget(reading.keywords, source, env);
}

/** From the user's ':' to the last '@' before the query: what a password with unencoded characters spans. */
function userinfoOf(uri: string): string {
  const rest = uri.replace(/^[^:]*:\/\//, '');
  const query = rest.indexOf('?');
  const authority = query < 0 ? rest : rest.slice(0, query);
  const at = authority.lastIndexOf('@');
  const colon = authority.indexOf(':');
  return at > colon && colon >= 0 ? authority.slice(colon + 1, at) : '';
}

function fromParts(
  parts: { host?: string; port?: string; database?: string; user?: string; password?: string },
  source: string,
  env: NodeJS.ProcessEnv,
): ConnectionTarget {
  if (parts.port !== undefined && !/^\d+$/.test(parts.port)) {
    throw new ConfigError(wording`the port from ${source} is not a number`, source);
  }
  const keywords: Record<string, string> = {
    ...(parts.host && { host: parts.host }),
    ...(parts.port && { port: parts.port }),
    ...(parts.database && { dbname: parts.database }),
    ...(parts.user && { user: parts.user }),
    ...(parts.password && { password: parts.password }),
  };
  return buildConnectionTarget(keywords, source, env);
}
