/**
 * Where the tests' PostgreSQL lives, decided once per jest run (DEVELOPERS.md,
 * "How we test"): TEST_DATABASE_URL when set; else a testcontainers PostgreSQL
 * when a Docker engine answers; else the local server on 127.0.0.1:5432.
 */
import { existsSync } from 'node:fs';

export const LOCAL_SERVER_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/** True when a Docker engine is reachable (socket present and answering). */
export async function isDockerEngineAnswering(): Promise<boolean> {
  if (process.env.TESTCONTAINERS_DISABLE === '1') return false;
  const host = process.env.DOCKER_HOST;
  if (!host && !existsSync('/var/run/docker.sock')) return false;
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await Promise.race([
      getContainerRuntimeClient(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 5_000)),
    ]);
    return true;
  } catch {
    return false;
  }
}
