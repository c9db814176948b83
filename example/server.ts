/**
 * The example backend: a small HTTP service that runs behind
 * scripts/docker/backend-entrypoint.sh in Dockerfile.backend.
 *
 *   GET /healthz  200 while the process is alive (liveness)
 *   GET /readyz   200 when the database is `current` (every migration on disk
 *                 applied, or there are none), else 503; the body is the state
 *                 as JSON (readiness)
 *   GET /users    the first 100 rows of the `users` table (migrations/)
 *
 * Settings: PORT (default 3000); the database as for `migrate` (DATABASE_URL,
 * DB_*, POSTGRES_*, PG*), the migrations folder from MIGRATIONS_DIR.
 * SIGTERM and SIGINT close the server, end the pool and exit 0.
 */
import http from 'node:http';
import pg from 'pg';
import { inspectDatabase, isUpToDate } from '../src/index.js';

const port = Number(process.env.PORT ?? 3000);

// The app's own queries. The runner's settings resolution is the library's;
// the app takes DATABASE_URL when set, else pg's PG* variables.
const pool = new pg.Pool({
  ...(process.env.DATABASE_URL ? { connectionString: process.env.DATABASE_URL } : {}),
  max: 5,
  connectionTimeoutMillis: 5_000,
});
pool.on('error', (error) => log('warn', 'idle database connection failed', { error: error.message }));

function log(level: 'info' | 'warn' | 'error', message: string, extra: Record<string, unknown> = {}): void {
  process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level, service: 'example-backend', message, ...extra }) + '\n');
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readiness(): Promise<{ status: number; body: Record<string, unknown> }> {
  try {
    // Ready means migrated: the state is enough. Skipping the drift check keeps
    // a probe that runs every few seconds from reading the whole schema each time.
    const detection = await inspectDatabase({ checkDrift: false });
    // Current, or no migration files at all and nothing applied (src/core/stateDetector.ts isUpToDate).
    const ready = isUpToDate(detection);
    return {
      status: ready ? 200 : 503,
      body: {
        ready,
        state: detection.state,
        current: detection.current,
        head: detection.head,
        pending: detection.pending,
        findings: detection.findings.map((f) => f.kind),
      },
    };
  } catch (error) {
    // Unreachable database, bad settings: not ready. The message carries no password.
    const message = error instanceof Error ? error.message : String(error);
    return { status: 503, body: { ready: false, state: 'unknown', error: message } };
  }
}

const server = http.createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(res, 405, { error: 'method not allowed' });
    return;
  }
  switch (path) {
    case '/healthz':
      send(res, 200, { status: 'ok' });
      return;
    case '/readyz':
      void readiness().then(({ status, body }) => send(res, status, body));
      return;
    case '/users':
      pool
        .query<{ id: string; email: string; display_name: string }>(
          'SELECT id, email, display_name FROM users ORDER BY id LIMIT 100',
        )
        .then((result) => send(res, 200, result.rows))
        .catch((error: Error) => send(res, 500, { error: error.message }));
      return;
    default:
      send(res, 404, { error: 'not found' });
  }
});

server.listen(port, () => log('info', `listening on port ${port}`));

let stopping = false;
function shutdown(signal: NodeJS.Signals): void {
  if (stopping) return;
  stopping = true;
  log('info', `${signal}: shutting down`);
  // Connections kept alive by clients would hold close() open; end them after a grace period.
  const force = setTimeout(() => server.closeAllConnections(), 5_000);
  force.unref();
  server.close(() => {
    pool
      .end()
      .catch((error: Error) => log('warn', 'closing the pool failed', { error: error.message }))
      .finally(() => {
        log('info', 'stopped');
        process.exit(0);
      });
  });
  server.closeIdleConnections();
}

process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
