/**
 * `migrate sql`: the SQL `up` would run, built inside a READ ONLY transaction
 * that is rolled back, so nothing is created, locked or written (issue 3;
 * node-pg-migrate's dryRun is not dry: reference §6).
 */
import pg from 'pg';
import { planCommand, type RunCommand } from './commandPlanner.js';
import { closeQuietly } from './connection.js';
import { RefusedError } from './errors.js';
import { connectFor, observe, settingsOf, type RunnerOptions } from './inspect.js';
import { historyLocationOf, metaTableOf, qualify } from './introspect.js';
import { createSilentLogger } from './logger.js';
import { buildMigration, loadMigrationModule } from './migrationModules.js';
import { readMigrationFiles } from './migrationFiles.js';

/** `command`: what to print the SQL of, `up` (default, to `target`) or `down` (`sql --down`). */
export async function previewSql(options: RunnerOptions & { readonly target?: string; readonly command?: RunCommand } = {}): Promise<string> {
  const settings = settingsOf(options);
  const logger = options.logger ?? createSilentLogger();
  const files = await readMigrationFiles(settings.dir);
  const client = await connectFor(settings, logger);
  try {
    // `up` refuses a legacy database whatever revision it matches, so the match is not looked
    // for: no scratch database to replay in (CONTRACT.md: sql touches nothing).
    const { detection, facts } = await observe(client, settings, files, { reconcile: 'none' }, logger);
    const plan = planCommand(options.command ?? { kind: 'up', target: options.target ?? 'head' }, detection, files.map((f) => f.name));
    const direction = plan.action === 'revert' ? 'down' : 'up';
    const names = direction === 'down' ? (plan.revert ?? []) : plan.apply;
    if (plan.action === 'refuse') {
      throw new RefusedError(plan.reason, null, plan.settleCommand ? { hint: `to settle it: ${plan.settleCommand}` } : {});
    }
    const where = historyLocationOf(settings);
    const history = qualify(where.schema, where.table);
    const lines = [`-- migrate sql${direction === 'down' ? ' --down' : ''}: ${names.length} migration(s) ${direction === 'down' ? 'reverted from' : 'after'} ${detection.current ?? 'base'}`];
    if (!names.length) return lines.concat(`-- nothing to ${direction === 'down' ? 'revert' : 'apply'}`).join('\n');
    lines.push('BEGIN;');
    if (!facts.historyTableExists) {
      lines.push(
        `CREATE TABLE IF NOT EXISTS ${history} (id SERIAL PRIMARY KEY, name varchar(255) NOT NULL, run_on timestamp NOT NULL);`,
      );
    }
    await client.query('BEGIN READ ONLY');
    try {
      let shorthands: Record<string, unknown> = {};
      for (const name of names) {
        const file = files.find((f) => f.name === name)!;
        const module = await loadMigrationModule(file);
        if (module.shorthands) shorthands = { ...shorthands, ...module.shorthands };
        const built = await buildMigration(file, module, direction, client, shorthands, logger);
        lines.push(`-- ${file.fileName} (${direction})${built.transactional ? '' : ' -- runs outside the transaction'}`);
        if (!built.transactional) lines.push('COMMIT;');
        lines.push(...built.sql);
        lines.push(direction === 'down'
          ? `DELETE FROM ${history} WHERE name = ${pg.escapeLiteral(name)};`
          : `INSERT INTO ${history} (name, run_on) VALUES (${pg.escapeLiteral(name)}, NOW());`);
        if (!built.transactional) lines.push('BEGIN;');
      }
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
    }
    lines.push('COMMIT;');
    lines.push(`-- checksums and durations go to ${qualify(where.schema, metaTableOf(where.table))} when migrate runs it`);
    return lines.join('\n');
  } finally {
    await closeQuietly(client);
  }
}
