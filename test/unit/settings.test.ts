/**
 * Settings, highest first (README "Settings"): flags; environment; config
 * file; defaults. Decided by `settingsFrom` from literal layers, no process
 * and no file; test/integration/readCommands.test.ts keeps a few of these
 * end to end through the CLI.
 */
import { join } from 'node:path';
import { DEFAULTS, settingsFrom, type Settings, type SettingsInput, type SettingsSources } from '../../src/config/settings.js';

const cwd = '/project';
const sources = (layers: Partial<SettingsSources> & { configValues?: SettingsInput } = {}): SettingsSources => ({
  flags: layers.flags ?? {},
  env: layers.env ?? {},
  config: layers.config ?? { file: layers.configValues ? join(cwd, 'migrate.config.json') : null, values: layers.configValues ?? {} },
  cwd,
  isTerminal: layers.isTerminal ?? false,
});

/**
 * One setting across the layers: its flag (a SettingsInput key, also the
 * config file's key), its environment variable (null: none), a value for
 * each layer, and what each value reads as.
 */
interface Layered {
  readonly key: keyof SettingsInput;
  readonly read: (s: Settings) => unknown;
  readonly envName: string | null;
  readonly values: { readonly flag: unknown; readonly env: string; readonly config: unknown };
  readonly expected: { readonly flag: unknown; readonly env: unknown; readonly config: unknown; readonly default: unknown };
}

const LAYERED: readonly Layered[] = [
  {
    key: 'dir', read: (s) => s.dir, envName: 'MIGRATIONS_DIR',
    values: { flag: 'from-flag', env: 'from-env', config: 'from-config' },
    expected: { flag: '/project/from-flag', env: '/project/from-env', config: '/project/from-config', default: '/project/migrations' },
  },
  {
    key: 'table', read: (s) => s.table, envName: 'MIGRATIONS_TABLE',
    values: { flag: 'flag_history', env: 'env_history', config: 'config_history' },
    expected: { flag: 'flag_history', env: 'env_history', config: 'config_history', default: DEFAULTS.table },
  },
  {
    key: 'migrationsSchema', read: (s) => s.migrationsSchema, envName: 'MIGRATIONS_SCHEMA',
    values: { flag: 'flag_meta', env: 'env_meta', config: 'config_meta' },
    // The history lives in the managed schema unless set.
    expected: { flag: 'flag_meta', env: 'env_meta', config: 'config_meta', default: DEFAULTS.schema },
  },
  {
    key: 'logLevel', read: (s) => s.logLevel, envName: 'LOG_LEVEL',
    values: { flag: 'debug', env: 'WARNING', config: 'error' },
    expected: { flag: 'debug', env: 'warn', config: 'error', default: 'info' },
  },
  {
    key: 'logFormat', read: (s) => s.logFormat, envName: 'LOG_FORMAT',
    values: { flag: 'pretty', env: 'JSON', config: 'pretty' },
    // Not a terminal here: the default is json.
    expected: { flag: 'pretty', env: 'json', config: 'pretty', default: 'json' },
  },
  {
    key: 'checkSchema', read: (s) => s.checkSchema, envName: 'MIGRATE_CHECK_SCHEMA',
    values: { flag: false, env: 'yes', config: true },
    expected: { flag: false, env: true, config: true, default: false },
  },
  {
    key: 'fingerprintPrivileges', read: (s) => s.fingerprintPrivileges, envName: 'MIGRATE_FINGERPRINT_PRIVILEGES',
    values: { flag: true, env: 'off', config: true },
    expected: { flag: true, env: false, config: true, default: false },
  },
  {
    key: 'scratch', read: (s) => s.scratch, envName: 'MIGRATE_SCRATCH',
    values: { flag: 'target', env: 'embedded', config: 'target' },
    expected: {
      flag: { kind: 'target', source: '--scratch' },
      env: { kind: 'embedded', source: 'MIGRATE_SCRATCH' },
      config: { kind: 'target', source: 'config scratch' },
      default: { kind: 'embedded', source: 'default' },
    },
  },
  // Settings with no variable: a flag over the config file over the default.
  ...([
    ['schema', (s: Settings) => s.schema, 'flag_schema', 'config_schema', DEFAULTS.schema],
    ['lockTimeout', (s: Settings) => s.lockTimeoutSeconds, 7, 9, DEFAULTS.lockTimeoutSeconds],
    ['waitTimeout', (s: Settings) => s.waitTimeoutSeconds, 7, 9, DEFAULTS.waitTimeoutSeconds],
    ['ddlLockTimeout', (s: Settings) => s.ddlLockTimeoutMs, 700, 900, DEFAULTS.ddlLockTimeoutMs],
    ['ddlLockRetries', (s: Settings) => s.ddlLockRetries, 1, 5, DEFAULTS.ddlLockRetries],
    ['migrationTimeout', (s: Settings) => s.migrationTimeoutSeconds, 30, 60, 0],
    ['baseline', (s: Settings) => s.baseline, '0002_b', '0003_c', null],
    ['allowModified', (s: Settings) => s.allowModified, false, true, false],
    ['refuseOnDrift', (s: Settings) => s.refuseOnDrift, true, false, false],
    ['outOfOrder', (s: Settings) => s.outOfOrder, false, true, false],
    ['ambiguousLegacy', (s: Settings) => s.ambiguousLegacy, 'refuse', 'latest', 'refuse'],
    ['desired', (s: Settings) => s.desired, 'flag.sql', 'config.sql', null],
  ] as const).map(([key, read, flag, config, fallback]): Layered => ({
    key, read, envName: null,
    values: { flag, env: '', config },
    expected: {
      flag: key === 'desired' ? `/project/${String(flag)}` : flag,
      env: key === 'desired' ? `/project/${String(config)}` : config,
      config: key === 'desired' ? `/project/${String(config)}` : config,
      default: fallback,
    },
  })),
];

type Layer = 'flag' | 'env' | 'config' | 'default';
const CASES = LAYERED.flatMap((setting) =>
  (['flag', 'env', 'config', 'default'] as const).map((winner) => [setting.key, winner, setting] as const),
);

describe('each setting: the highest layer that sets it wins', () => {
  test.each(CASES)('%s from the %s', (_key, winner: Layer, setting) => {
    // Every layer at and below the winner sets it; the ones above do not.
    const rank = { flag: 0, env: 1, config: 2, default: 3 }[winner];
    const flags = rank <= 0 ? { [setting.key]: setting.values.flag } : {};
    const env = rank <= 1 && setting.envName ? { [setting.envName]: setting.values.env } : {};
    const configValues = rank <= 2 ? { [setting.key]: setting.values.config } : undefined;
    expect(setting.read(settingsFrom(sources({ flags, env, ...(configValues && { configValues }) })))).toEqual(setting.expected[winner]);
  });
});

describe('the environment', () => {
  test.each(['MIGRATIONS_DIR', 'MIGRATIONS_TABLE', 'MIGRATIONS_SCHEMA', 'LOG_LEVEL', 'LOG_FORMAT', 'MIGRATE_CHECK_SCHEMA', 'MIGRATE_SCRATCH'])(
    'an empty %s counts as unset: the config file decides',
    (name) => {
      const configValues = { dir: 'cfg', table: 'cfg_table', migrationsSchema: 'cfg_meta', logLevel: 'error', logFormat: 'pretty', checkSchema: true, scratch: 'target' };
      const settings = settingsFrom(sources({ env: { [name]: '' }, configValues }));
      expect(settings).toMatchObject({
        dir: '/project/cfg', table: 'cfg_table', migrationsSchema: 'cfg_meta', logLevel: 'error', logFormat: 'pretty', checkSchema: true,
        scratch: { kind: 'target', source: 'config scratch' },
      });
    },
  );

  test('a terminal makes the log format pretty by default', () => {
    expect(settingsFrom(sources({ isTerminal: true })).logFormat).toBe('pretty');
    expect(settingsFrom(sources({ isTerminal: true, env: { LOG_FORMAT: 'json' } })).logFormat).toBe('json');
  });

  test('the config file read is reported, none when there is none', () => {
    expect(settingsFrom(sources()).configFile).toBeNull();
    expect(settingsFrom(sources({ config: { file: '/elsewhere/custom.json', values: {} } })).configFile).toBe('/elsewhere/custom.json');
  });
});

describe('the database: the first source that names one', () => {
  const url = (name: string) => `postgres://u@${name}.example:5432/${name}`;
  const SOURCES = [
    ['--database-url', { flags: { databaseUrl: url('flag') } }],
    ['DATABASE_URL', { env: { DATABASE_URL: url('env') } }],
    ['DB_*', { env: { DB_HOST: 'db.example', DB_NAME: 'db' } }],
    ['POSTGRES_*', { env: { POSTGRES_HOST: 'postgres.example', POSTGRES_DB: 'postgres' } }],
    ['PG*', { env: { PGHOST: 'pg.example', PGDATABASE: 'pg' } }],
    ['config file', { configValues: { databaseUrl: url('config') } }],
  ] as const;
  const HOSTS = ['flag.example', 'env.example', 'db.example', 'postgres.example', 'pg.example', 'config.example'];
  // Row i: the sources from i down are all set; the winner is source i.
  test.each(SOURCES.map(([source], i) => [source, i] as const))('%s over every source below it', (source, i) => {
    const below = SOURCES.slice(i).map(([, layer]) => layer as { flags?: SettingsInput; env?: NodeJS.ProcessEnv; configValues?: SettingsInput });
    const merged = {
      flags: Object.assign({}, ...below.map((l) => l.flags ?? {})) as SettingsInput,
      env: Object.assign({}, ...below.map((l) => l.env ?? {})) as NodeJS.ProcessEnv,
      configValues: Object.assign({}, ...below.map((l) => l.configValues ?? {})) as SettingsInput,
    };
    expect(settingsFrom(sources(merged)).connection).toMatchObject({ source, config: { host: HOSTS[i] } });
  });

  test('nothing names a database: null (commands that need one say so)', () => {
    expect(settingsFrom(sources()).connection).toBeNull();
  });
});

describe('bad values, whichever layer gives them', () => {
  test.each([
    ['a log level', { flags: { logLevel: 'loud' } }, /unknown log level "loud"/],
    ['a log format', { env: { LOG_FORMAT: 'xml' } }, /unknown log format "xml"/],
    ['a scratch server', { configValues: { scratch: 'cloud' } }, /unknown scratch server "cloud" from config scratch/],
    ['scratch url without a URL', { env: { MIGRATE_SCRATCH: 'url' } }, /MIGRATE_SCRATCH url needs a URL/],
    ['a table name over 63 bytes', { flags: { table: 't'.repeat(64) } }, /longer than PostgreSQL's 63 bytes/],
  ] as const)('%s is refused', (_title, layers, message) => {
    expect(() => settingsFrom(sources(layers as Partial<SettingsSources> & { configValues?: SettingsInput }))).toThrow(message);
  });
});
