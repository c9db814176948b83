/**
 * The embedded PostgreSQL launcher (src/embedded/), imported only when a
 * replay starts a cluster: a start of the runner never loads it. The bundled
 * command replaces this module (scripts/build-cli.mjs), so that the launcher
 * stays a file of its own beside the bundle, as tsc built it.
 */
export function loadEmbedded(): Promise<typeof import('../embedded/index.js')> {
  return import('../embedded/index.js');
}
