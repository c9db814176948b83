// ESM + TypeScript through ts-jest; node-pg-migrate 9 is ESM only, so jest runs
// with --experimental-vm-modules (see package.json "test").
import { createDefaultEsmPreset } from 'ts-jest';

const preset = createDefaultEsmPreset({ tsconfig: 'tsconfig.json' });

/** @type {import('jest').Config} */
export default {
  ...preset,
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/test/containers/', '/test/reliability/'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testTimeout: 60_000,
  globalSetup: '<rootDir>/test/helpers/globalSetup.mjs',
  globalTeardown: '<rootDir>/test/helpers/globalTeardown.mjs',
};
