#!/usr/bin/env node
/**
 * The floor plus the libraries every `migrate` start loads because the
 * project requires them: commander parses the arguments, winston writes one
 * log line. bench/run.mjs bundles this file the way scripts/build-cli.mjs
 * bundles the command, so the row shows what those libraries alone cost
 * over bench/floor.mjs before the runner does any work of its own.
 *
 *   node floorWithLibraries.js --database-url URL auto
 */
import { Command } from 'commander';
import pg from 'pg';
import winston from 'winston';

const program = new Command('migrate').option('--database-url <url>');
program.command('auto').action(async () => {
  const logger = winston.createLogger({
    level: 'info',
    format: winston.format.json(),
    transports: [new winston.transports.Console({ stderrLevels: ['info'] })],
  });
  const client = new pg.Client({ connectionString: program.opts().databaseUrl });
  await client.connect();
  const { rows } = await client.query('SELECT name FROM pgmigrations ORDER BY run_on, id');
  await client.end();
  logger.info(`${rows.length} applied`);
});
await program.parseAsync(process.argv.slice(2), { from: 'user' });
