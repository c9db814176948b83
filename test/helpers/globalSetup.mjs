// Decides once per jest run where the tests' PostgreSQL lives (DEVELOPERS.md
// "How we test"): TEST_DATABASE_URL when set; else a testcontainers
// PostgreSQL when a Docker engine answers; else the local server.
// Plain JavaScript: jest loads global setup outside the ts-jest ESM pipeline.
import { existsSync } from 'node:fs';

const LOCAL_SERVER_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

async function isDockerEngineAnswering() {
  if (process.env.TESTCONTAINERS_DISABLE === '1') return false;
  if (!process.env.DOCKER_HOST && !existsSync('/var/run/docker.sock')) return false;
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

export default async function globalSetup() {
  if (process.env.TEST_DATABASE_URL) {
    process.env.TEST_SERVER_URL = process.env.TEST_DATABASE_URL;
  } else if (await isDockerEngineAnswering()) {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const container = await new PostgreSqlContainer('postgres:15').start();
    globalThis.__PG_CONTAINER__ = container;
    process.env.TEST_SERVER_URL = container.getConnectionUri();
  } else {
    process.env.TEST_SERVER_URL = LOCAL_SERVER_URL;
  }
  console.log(`\ntests use PostgreSQL at ${process.env.TEST_SERVER_URL.replace(/:[^:@/]*@/, ':****@')}`);
}
