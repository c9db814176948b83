import { isDockerEngineAnswering, LOCAL_SERVER_URL } from './server.js';

/** Sets TEST_SERVER_URL for every worker (jest workers inherit this env). */
export default async function globalSetup(): Promise<void> {
  if (process.env.TEST_DATABASE_URL) {
    process.env.TEST_SERVER_URL = process.env.TEST_DATABASE_URL;
    return;
  }
  if (await isDockerEngineAnswering()) {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const container = await new PostgreSqlContainer('postgres:15').start();
    (globalThis as Record<string, unknown>).__PG_CONTAINER__ = container;
    process.env.TEST_SERVER_URL = container.getConnectionUri();
    return;
  }
  process.env.TEST_SERVER_URL = LOCAL_SERVER_URL;
}
