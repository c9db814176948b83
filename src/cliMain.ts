/** The `migrate` command's body, imported by cli.ts once pg is loaded. All the work is in cli/main.ts. */
import { main } from './cli/main.js';

process.exitCode = await main(process.argv.slice(2));
