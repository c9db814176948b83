/** The local server, used when neither TEST_DATABASE_URL nor Docker gives one (globalSetup.mjs). */
export const LOCAL_SERVER_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
