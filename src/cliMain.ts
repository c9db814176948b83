/** The `migrate` command's body, bundled into dist/cliMain.cjs and started by cli.ts. */
export { main } from './cli/main.js';
