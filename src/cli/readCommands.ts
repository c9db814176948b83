/** Commands that change nothing: status, current, pending, history, check, info, wait. */
import type { Command } from 'commander';
import { closeQuietly, waitForDatabase } from '../connection.js';
import { EXIT } from '../errors.js';
import { connectFor, observe } from '../inspect.js';
import { readMigrationFiles } from '../migrationFiles.js';
import { requireConnection } from '../settings.js';
import { action, parseSeconds, type CommandContext } from './main.js';
import { describeFinding, formatHistory, formatStatus, historyEntries, statusDocument } from './format.js';
import type { Observation, ObserveOptions } from '../inspect.js';

export function registerReadCommands(program: Command, contextFor: (c: Command) => CommandContext): void {
  program
    .command('status')
    .description('detect and print the state, plan and findings; changes nothing')
    .option('--baseline <rev>', 'revision a legacy database would be stamped at')
    .action(action(contextFor, async (ctx) => {
      const { detection, manifestStaleness } = await observeOnce(ctx);
      if (ctx.json) ctx.printJson(statusDocument(detection));
      else {
        ctx.print(formatStatus(detection));
        if (manifestStaleness) ctx.print(`manifest: stale (${manifestStaleness}); run migrate snapshot`);
      }
    }));

  program
    .command('current')
    .description('print the current revision name, or base')
    .action(action(contextFor, async (ctx) => {
      const { detection } = await observeOnce(ctx, NAMES_ONLY);
      if (ctx.json) ctx.printJson({ current: detection.current });
      else ctx.print(detection.current ?? 'base');
    }));

  program
    .command('pending')
    .description('print the pending migration names, one a line')
    .action(action(contextFor, async (ctx) => {
      const { detection } = await observeOnce(ctx, NAMES_ONLY);
      if (ctx.json) ctx.printJson({ pending: detection.pending });
      else if (detection.pending.length) ctx.print(detection.pending.join('\n'));
    }));

  program
    .command('history')
    .description('every migration: applied or pending, applied at, duration, checksum status')
    .action(action(contextFor, async (ctx) => {
      const { files, facts } = await observeOnce(ctx, { ...NAMES_ONLY, historyDetails: true });
      const entries = historyEntries(files, facts.applied);
      if (ctx.json) ctx.printJson({ migrations: entries });
      else ctx.print(formatHistory(entries));
    }));

  program
    .command('check')
    .description('exit 0 when current with no refusing findings, else 1 (3 with --strict on drift)')
    .option('--strict', 'exit 3 when the live schema drifted from the recorded fingerprints, 1 when the manifest is stale')
    .action(action(contextFor, async (ctx, opts: { strict?: boolean }) => {
      const { detection, manifestStaleness } = await observeOnce(ctx);
      const drift = detection.findings.filter((f) => f.kind === 'drift');
      // CONTRACT.md: exit 0 when current with no findings that refuse. Which findings refuse is the
      // detector's call (an edited file unless allowModified, drift with refuseOnDrift), as for auto.
      // A stale manifest is printed; it fails only --strict, whose drift check it makes unsure.
      const ok =
        detection.state === 'current' && detection.plan.action !== 'refuse' &&
        (!opts.strict || (drift.length === 0 && manifestStaleness === null));
      if (ctx.json) ctx.printJson({ ok, ...statusDocument(detection), manifestStaleness });
      else {
        ctx.print(ok ? `ok: ${detection.current ?? 'base'} is current` : `not ok: ${detection.state} (${detection.plan.reason})`);
        for (const f of detection.findings) ctx.print(`finding: ${describeFinding(f)}`);
        if (manifestStaleness) ctx.print(`manifest: stale (${manifestStaleness}); run migrate snapshot`);
      }
      if (opts.strict && drift.length) return EXIT.refused;
      return ok ? EXIT.ok : EXIT.failed;
    }));

  program
    .command('info')
    .description('connection target (password masked), config source, migrations folder, counts')
    .action(action(contextFor, async (ctx) => {
      const { settings } = ctx;
      const target = requireConnection(settings);
      const files = await readMigrationFiles(settings.dir);
      const info = {
        database: target.display,
        databaseSource: target.source,
        config: settings.configFile,
        migrationsDir: settings.dir,
        table: `${settings.schema}.${settings.table}`,
        schema: settings.schema,
        migrations: files.length,
        head: files.at(-1)?.name ?? null,
        scratch: settings.scratch.kind === 'url' ? `${settings.scratch.server.display} (${settings.scratch.source})` : `${settings.scratch.kind} (${settings.scratch.source})`,
      };
      if (ctx.json) ctx.printJson(info);
      else {
        for (const [key, value] of Object.entries(info)) ctx.print(`${`${key}:`.padEnd(16)}${value ?? '-'}`);
      }
    }));

  program
    .command('wait')
    .description('wait until the database accepts connections (exit 4 past the timeout)')
    .option('--timeout <seconds>', 'seconds to wait', parseSeconds, 60)
    .action(action(contextFor, async (ctx, opts: { timeout: number }) => {
      const target = requireConnection(ctx.settings);
      const started = Date.now();
      ctx.logger.info(`waiting up to ${opts.timeout}s for ${target.display}`);
      await waitForDatabase(target, {
        waitTimeoutSeconds: opts.timeout,
        onRetry: (attempt, reason) => ctx.logger.debug('database not ready', { attempt, reason }),
      });
      ctx.logger.info(`database ready after ${Date.now() - started} ms`);
    }));
}

/**
 * current, pending and history need the history, not the revision a legacy
 * database matches nor drift: no replay, no read of the live schema.
 */
const NAMES_ONLY: ObserveOptions = { reconcile: 'none', checkDrift: false };

async function observeOnce(ctx: CommandContext, options: ObserveOptions = {}): Promise<Observation> {
  const files = await readMigrationFiles(ctx.settings.dir);
  const client = await connectFor(ctx.settings, ctx.logger);
  try {
    return await observe(client, ctx.settings, files, options, ctx.logger);
  } finally {
    await closeQuietly(client);
  }
}
