/**
 * snapshot and verify: fingerprints from replays in a scratch database on the
 * scratch server (README "The scratch server"). Neither needs a target: with
 * none, an embedded cluster of the manifest's major (or the newest installed)
 * is the scratch server.
 */
import type { Command } from 'commander';
import { readManifest, writeManifest, type Manifest } from '../fingerprints/manifest.js';
import { computeManifest, verifyMigrations, type ReplayContext } from '../fingerprints/replay.js';
import { VerifyFailedError } from '../core/errors.js';
import { readMigrationFiles } from '../files/migrationFiles.js';
import { listDifferences } from '../core/lists.js';
import { action, type CommandContext, type ContextFor } from './commandContext.js';

export function registerFingerprintCommands(program: Command, contextFor: ContextFor): void {
  program
    .command('snapshot')
    .description('replay the migrations in a scratch database and write the per-revision schema fingerprints beside them')
    .action(action(contextFor, async (ctx) => {
      const files = await readMigrationFiles(ctx.settings.dir);
      const context = replayContext(ctx, await readManifest(ctx.settings.dir));
      const manifest = await computeManifest(context, files);
      const path = await writeManifest(ctx.settings.dir, manifest);
      if (ctx.json) ctx.printJson({ path, revisions: manifest.revisions.map((r) => ({ name: r.name, fingerprint: r.fingerprint, changes: r.changes })) });
      else {
        for (const r of manifest.revisions) ctx.print(`${r.name}  ${r.fingerprint.slice(0, 12)}  ${summariseChanges(r.changes)}`);
        ctx.print(`wrote ${path} (commit it with the migrations)`);
      }
    }));

  program
    .command('verify')
    .description('in a scratch database: up, down, up; every down restores the previous fingerprint; the manifest is up to date')
    .option('--against-manifest', 'take the schema after each first up from the committed manifest, where it records every file, rather than read it: only the downs are read (it trusts the manifest to be of this server)')
    .action(action(contextFor, async (ctx, options: { againstManifest?: boolean }) => {
      const files = await readMigrationFiles(ctx.settings.dir);
      const committed = await readManifest(ctx.settings.dir);
      const result = await verifyMigrations(replayContext(ctx, committed), files, committed, { againstManifest: options.againstManifest === true });
      if (ctx.json) ctx.printJson(result);
      else {
        for (const step of result.steps) {
          ctx.print(`${step.ok ? 'ok  ' : 'FAIL'} ${step.phase.padEnd(8)} ${step.migration}${step.problem ? `: ${step.problem}` : ''}`);
          for (const d of step.differences ?? []) ctx.print(`       ${d}`);
        }
        ctx.print(
          result.manifest === null
            ? result.compared === 'recorded' ? "manifest: up to date by its files' checksums; its last schema reached, the ones before taken from it" : 'manifest: up to date'
            : result.manifest === 'missing'
              ? 'manifest: missing (run migrate snapshot and commit it)'
              : `manifest: stale (${result.manifest}); run migrate snapshot`,
        );
      }
      if (!result.ok) {
        const failed = result.steps.find((s) => !s.ok);
        throw new VerifyFailedError(
          failed
            ? `verify failed at ${failed.phase} of ${failed.migration}: ${failed.problem}${failed.differences?.length ? ` (${failed.differences[0]}${failed.differences.length > 1 ? ', …' : ''})` : ''}`
            : `verify failed: the fingerprint manifest is ${result.manifest === 'missing' ? 'missing' : `stale (${result.manifest})`}`,
          { hint: failed ? 'make the down undo exactly what the up does' : 'run migrate snapshot and commit the manifest' },
        );
      }
    }));
}

/** With no target, an embedded scratch server takes the major the committed manifest was written on. */
/** SIGINT/SIGTERM stop the replay: its scratch database goes, exit 130/143. */
function replayContext(ctx: CommandContext, committed: Manifest | null): ReplayContext {
  return { settings: ctx.settings, logger: ctx.logger, signal: ctx.takeSignals(), ...(committed && { manifestMajor: committed.serverMajor }) };
}

/** A revision's changes on one readable line: a migration that adds 100 tables lists 5 and counts the rest (--json has them all). */
function summariseChanges(changes: readonly string[], shown = 5): string {
  if (!changes.length) return '(no schema change)';
  return listDifferences(changes, shown);
}
