#!/usr/bin/env node
/** The `migrate` command. All the work is in cli/main.ts. */
import { main } from './cli/main.js';

process.exitCode = await main(process.argv.slice(2));
