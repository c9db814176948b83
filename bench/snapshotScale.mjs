#!/usr/bin/env node
/**
 * `snapshot` and `verify` against history length: for 300, 600 and 1,000
 * SQL migrations (one table and one index each), in one run,
 * - one replay: `migrate auto` on a fresh database (the floor of anything that replays),
 * - `snapshot` from nothing,
 * - `snapshot` again after one more migration (the committed manifest's revisions are kept),
 * - `verify` (up, down, up, reading the schema after every migration of the first up and the downs),
 * - `verify --against-manifest`, which takes the first up's schemas from the manifest the snapshot before wrote,
 * each as a ratio to the replay of the same history, and an SVG of time
 * against history length (bench/snapshot-scale.svg). A benchmark, not a
 * test: nothing here fails on a time.
 *
 * Used by `npm run bench` (scenario `scale`); alone: `node bench/snapshotScale.mjs`
 * (BENCH_SCALE_SIZES=300,600,1000, BENCH_SCALE_ROUNDS=3, BENCH_DATABASE_URL, BENCH_NO_WRITE=1).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freshDatabase, dropDatabase, log, median, mustRun, urlOf } from './lib.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli.js');
const WORK = join(ROOT, 'bench', '.work', 'scale');
const pad = (i) => String(i).padStart(4, '0');

function migrationOf(i) {
  return `-- Up Migration\nCREATE TABLE t${pad(i)} (id int PRIMARY KEY, v text);\nCREATE INDEX ON t${pad(i)} (v);\n\n-- Down Migration\nDROP TABLE t${pad(i)};\n`;
}

function writeHistory(dir, count) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (let i = 1; i <= count; i++) writeFileSync(join(dir, `${pad(i)}_t${pad(i)}.sql`), migrationOf(i));
}

async function migrate(args, dir, database) {
  const env = { ...process.env, DATABASE_URL: urlOf(database), LOG_LEVEL: 'error', MIGRATE_SCRATCH: 'target' };
  return mustRun(process.execPath, [CLI, ...args, '--dir', dir], { env, cwd: ROOT });
}

/** One database per step, dropped after: each step starts from the same server state. */
async function step(name, args, dir) {
  const database = `bench_scale_${name}_${process.pid}`;
  await freshDatabase(database);
  try {
    return (await migrate(args, dir, database)).ms;
  } finally {
    await dropDatabase(database);
  }
}

/**
 * Each history is measured in `rounds` rounds of the four steps, one after
 * the other: the disk under the replay's index builds runs at very different
 * speeds from one minute to the next on a shared machine, so each ratio is
 * taken within its round (paired), and the row gives the medians.
 */
export async function runScaleBench(sizes = [300, 600, 1000], rounds = 3) {
  const rows = [];
  for (const count of sizes) {
    const dir = join(WORK, String(count));
    const measured = [];
    // Untimed: every timed step then follows the drop of a database of this history's size, the first
    // replay included. Right after such a drop the server creates files more slowly (README,
    // Performance: "What the ratios depend on"): a first replay after a quiet minute took 2.6 s where
    // the ones after a drop took 3.6-3.8 s, and every ratio of its round was taken against it.
    writeHistory(dir, count);
    log(`scale ${count}: one untimed replay, so that the first timed one also follows a drop`);
    await step('warmup', ['auto'], dir);
    for (let round = 1; round <= rounds; round++) {
      writeHistory(dir, count);
      const at = `scale ${count}, round ${round}/${rounds}`;
      log(`${at}: one replay (auto on a fresh database)`);
      const replay = await step('replay', ['auto'], dir);
      log(`${at}: snapshot from nothing`);
      const snapshot = await step('snapshot', ['snapshot'], dir);
      writeFileSync(join(dir, `${pad(count + 1)}_t${pad(count + 1)}.sql`), migrationOf(count + 1));
      log(`${at}: snapshot after one more migration`);
      const incremental = await step('incremental', ['snapshot'], dir);
      log(`${at}: verify`);
      const verify = await step('verify', ['verify'], dir);
      // The manifest the snapshot before wrote records every file, as the one a team commits does.
      log(`${at}: verify --against-manifest`);
      const verifyRecorded = await step('verifyrecorded', ['verify', '--against-manifest'], dir);
      measured.push({ replay, snapshot, incremental, verify, verifyRecorded });
      log(`${at}: replay ${s(replay)}, snapshot ${s(snapshot)} (${x(snapshot, replay)}), +1 ${s(incremental)} (${x(incremental, replay)}), verify ${s(verify)} (${x(verify, replay)}), --against-manifest ${s(verifyRecorded)} (${x(verifyRecorded, replay)})`);
    }
    const of = (key) => median(measured.map((m) => m[key]));
    const ratios = (key) => measured.map((m) => m[key] / m.replay);
    rows.push({
      count,
      rounds,
      replay: of('replay'),
      snapshot: of('snapshot'),
      incremental: of('incremental'),
      verify: of('verify'),
      verifyRecorded: of('verifyRecorded'),
      replaySpread: spreadOf(measured.map((m) => m.replay)),
      ratio: Object.fromEntries(STEPS.map((key) => [key, median(ratios(key))])),
      spread: Object.fromEntries(STEPS.map((key) => [key, spreadOf(ratios(key))])),
    });
  }
  return rows;
}

/** The timed steps of a round after the replay, each a column of the table. */
const STEPS = ['snapshot', 'incremental', 'verify', 'verifyRecorded'];

const s = (ms) => `${(ms / 1000).toFixed(1)} s`;
const x = (ms, base) => `${(ms / base).toFixed(2)}x`;
const spreadOf = (values) => [Math.min(...values), Math.max(...values)];

/** The markdown table of the rows, ratios to the replay of the same history. */
export function scaleTable(rows) {
  const lines = [
    '| history | one replay (`auto`, fresh) | `snapshot` | + one migration, `snapshot` again | `verify` | `verify --against-manifest` |',
    '|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.count} | ${replayCell(r)} | ${STEPS.map((key) => cell(r, key)).join(' | ')} |`),
  ];
  return lines.join('\n');
}

/**
 * The replay's median time, and its range when there were several rounds:
 * the denominator of every ratio in the row, which swings with how fast the
 * server creates files (README, Performance).
 */
function replayCell(row) {
  const [low, high] = row.replaySpread;
  return `${s(row.replay)}${row.rounds > 1 ? ` (${s(low)}–${s(high)})` : ''}`;
}

/** Median time, median of the rounds' ratios, and their range when there were several rounds. */
function cell(row, key) {
  const [low, high] = row.spread[key];
  return `${s(row[key])} (${row.ratio[key].toFixed(2)}x${row.rounds > 1 ? `, ${low.toFixed(2)}–${high.toFixed(2)}x` : ''})`;
}

/** A small line chart of seconds against history length, one line per command. */
export function scaleSvg(rows) {
  const width = 480;
  const height = 260;
  const left = 48;
  const bottom = 36;
  const top = 16;
  const right = 130;
  const series = [
    ['verify', '#c0392b'],
    ['verifyRecorded', '#e67e22'],
    ['snapshot', '#2e86c1'],
    ['replay', '#27ae60'],
    ['incremental', '#8e44ad'],
  ];
  const labels = { replay: 'one replay', snapshot: 'snapshot', incremental: 'snapshot, +1', verify: 'verify', verifyRecorded: '--against-manifest' };
  const maxX = Math.max(...rows.map((r) => r.count));
  const maxY = Math.max(...rows.flatMap((r) => series.map(([k]) => r[k] / 1000)));
  const ceilY = Math.max(1, Math.ceil(maxY / 5) * 5);
  const px = (count) => left + (count / maxX) * (width - left - right);
  const py = (seconds) => height - bottom - (seconds / ceilY) * (height - bottom - top);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<line x1="${left}" y1="${height - bottom}" x2="${width - right}" y2="${height - bottom}" stroke="#333"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${height - bottom}" stroke="#333"/>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const v = (ceilY / 5) * i;
    parts.push(`<text x="${left - 6}" y="${py(v) + 4}" text-anchor="end">${v}</text>`, `<line x1="${left}" y1="${py(v)}" x2="${width - right}" y2="${py(v)}" stroke="#eee"/>`);
  }
  for (const r of rows) parts.push(`<text x="${px(r.count)}" y="${height - bottom + 14}" text-anchor="middle">${r.count}</text>`);
  parts.push(`<text x="${(left + width - right) / 2}" y="${height - 6}" text-anchor="middle">migrations in the history</text>`);
  parts.push(`<text x="12" y="${top + (height - bottom - top) / 2}" transform="rotate(-90 12 ${top + (height - bottom - top) / 2})" text-anchor="middle">seconds</text>`);
  series.forEach(([key, colour], i) => {
    const points = rows.map((r) => `${px(r.count).toFixed(1)},${py(r[key] / 1000).toFixed(1)}`).join(' ');
    parts.push(`<polyline fill="none" stroke="${colour}" stroke-width="2" points="${points}"/>`);
    for (const r of rows) parts.push(`<circle cx="${px(r.count).toFixed(1)}" cy="${py(r[key] / 1000).toFixed(1)}" r="3" fill="${colour}"/>`);
    parts.push(`<line x1="${width - right + 12}" y1="${top + 8 + i * 18}" x2="${width - right + 30}" y2="${top + 8 + i * 18}" stroke="${colour}" stroke-width="2"/>`);
    parts.push(`<text x="${width - right + 34}" y="${top + 12 + i * 18}">${labels[key]}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const report = { goals: [] };
  await scaleScenario(report);
  for (const g of report.goals) process.stdout.write(`${g.met ? 'met ' : 'MISS'}  ${g.what}: ${g.value} (goal ${g.limit})\n`);
}

/**
 * The `scale` scenario of `npm run bench`: the rows, their goals, the table in
 * bench/SCALE.md and the plot in bench/snapshot-scale.svg.
 */
export async function scaleScenario(
  report,
  sizes = (process.env.BENCH_SCALE_SIZES ?? '300,600,1000').split(',').map(Number),
  rounds = Math.max(1, Number(process.env.BENCH_SCALE_ROUNDS ?? 3) || 3),
) {
  const rows = await runScaleBench(sizes, rounds);
  process.stdout.write(`${scaleTable(rows)}\n`);
  const at = (count) => rows.find((r) => r.count === count) ?? rows.at(-1);
  const ratio = (a, b) => `${(a / b).toFixed(2)}×`;
  const goal = (what, value, limit) => ({ scenario: 'Snapshot at scale', what, value: ratio(value, 1), limit: `≤ ${limit.toFixed(2)}×`, met: value <= limit });
  const big = at(1000);
  const mid = at(600);
  report.goals.push(
    goal(`\`snapshot\` of ${big.count} ÷ one replay`, big.ratio.snapshot, 2),
    goal(`\`verify\` of ${big.count} ÷ one replay`, big.ratio.verify, 4),
    goal(`\`snapshot\` after one more migration, ${mid.count} ÷ one replay`, mid.ratio.incremental, 1.3),
  );
  if (process.env.BENCH_NO_WRITE !== '1') {
    writeFileSync(join(ROOT, 'bench', 'SCALE.md'), `# Snapshot and verify against history length\n\nWritten by bench/snapshotScale.mjs (\`npm run bench\`, scenario \`scale\`): medians of ${rows[0]?.rounds ?? 0} rounds; each ratio is to the replay of the same history in the same round, then the median of the rounds' (and their range). The replay's own range is beside its median: it is the denominator of every ratio in its row (README, Performance: "What the ratios depend on").\n\n${scaleTable(rows)}\n\n![plot](snapshot-scale.svg)\n`);
    writeFileSync(join(ROOT, 'bench', 'snapshot-scale.svg'), scaleSvg(rows));
  }
}
