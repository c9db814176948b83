/**
 * The import graph runs one way (README "Layout"): scripts/import-cycles.mjs
 * finds no circle in src/, and it does find one when there is.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const script = resolve('scripts/import-cycles.mjs');

function cycles(...args: string[]) {
  const result = spawnSync(process.execPath, [script, '--check', ...args], { encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('src/ has no import circle', () => {
  const result = cycles('src');
  expect(result.stderr).toBe('');
  expect(result.stdout).toMatch(/^no circles among \d+ modules\n$/);
  expect(result.status).toBe(0);
});

test.each([
  ['a value import back', "import { b } from './b.js';", "import { a } from './a.js'; export const b = a;"],
  ['a type-only import back', "import { b } from './b.js'; export type A = string;", "import type { A } from './a.js'; export const b: A = '';"],
  ['a dynamic import back', "export * from './b.js';", "export const load = () => import('./a.js');"],
])('a circle through %s is found', (_, a, b) => {
  const dir = mkdtempSync(join(tmpdir(), 'cycles-'));
  try {
    writeFileSync(join(dir, 'a.ts'), a);
    writeFileSync(join(dir, 'b.ts'), b);
    writeFileSync(join(dir, 'c.ts'), "import { b } from './b.js';");
    const result = cycles(dir);
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/^circle 1: 2 modules\n/);
    expect(result.stdout).not.toContain('c.ts');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
