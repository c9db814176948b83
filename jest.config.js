// ESM + TypeScript through ts-jest; node-pg-migrate 9 is ESM only, so jest runs
// with --experimental-vm-modules (see package.json "test").
//
// Two tiers (README "Tests"): `unit` is the pure code from literals, no
// database and no global setup, so `npm run test:unit` takes seconds;
// `integration` is everything that needs PostgreSQL (its global setup finds or
// starts one). `npm test` runs both. The reliability suite is its own run
// (`npm run test:reliability` names test/reliability and lifts the ignore).
import { availableParallelism } from 'node:os';
import { createDefaultEsmPreset } from 'ts-jest';

const preset = createDefaultEsmPreset({ tsconfig: 'tsconfig.json' });

const shared = {
  ...preset,
  rootDir: '.',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
};

/** @type {import('jest').Config} */
export default {
  testTimeout: 60_000,
  // The integration tests spend most of their time waiting on PostgreSQL and
  // on the processes they start, each in its own database: two run side by
  // side even on two cores, where jest's default (one fewer than the cores)
  // ran them one at a time (npm test on the CI machine: 388 s, 208 s with two).
  maxWorkers: Math.max(2, availableParallelism() - 1),
  projects: [
    {
      ...shared,
      displayName: 'unit',
      roots: ['<rootDir>/test/unit'],
    },
    {
      ...shared,
      displayName: 'integration',
      testPathIgnorePatterns: ['/node_modules/', '/test/unit/', '/test/containers/', '/test/reliability/'],
      globalSetup: '<rootDir>/test/helpers/globalSetup.mjs',
      globalTeardown: '<rootDir>/test/helpers/globalTeardown.mjs',
    },
  ],
};
