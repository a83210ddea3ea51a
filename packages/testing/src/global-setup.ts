import { MySqlContainer, type StartedMySqlContainer } from "@testcontainers/mysql";

import { TEST_SERVER_ENV, withServer } from "./index";

declare global {
  var __helixMySqlContainer: StartedMySqlContainer | undefined;
}

/**
 * Jest global setup: checks the server named by HELIX_TEST_MYSQL_URL, or starts MySQL 8 with
 * testcontainers and exports its URL to the test workers. Fails at once, saying what to set,
 * when there is neither.
 */
export default async function globalSetup(): Promise<void> {
  const given = process.env[TEST_SERVER_ENV];
  if (given !== undefined && given !== "") {
    try {
      await withServer(new URL(given), (conn) => conn.query("SELECT 1"));
    } catch (error) {
      const url = new URL(given);
      url.password = url.password ? "***" : "";
      throw new Error(`${TEST_SERVER_ENV}=${url.toString()} is not reachable: ${String(error)}`, { cause: error });
    }
    return;
  }
  let container: StartedMySqlContainer;
  try {
    container = await new MySqlContainer("mysql:8.0").withRootPassword("helix").start();
  } catch (error) {
    throw new Error(
      `No MySQL server for the tests: ${TEST_SERVER_ENV} is not set and testcontainers could not start ` +
        `MySQL 8 (${error instanceof Error ? error.message : String(error)}). ` +
        `Set ${TEST_SERVER_ENV}=mysql://root@127.0.0.1:3306/ (any MySQL 8 or MariaDB 10.11+ server), or start Docker.`,
      { cause: error },
    );
  }
  globalThis.__helixMySqlContainer = container;
  process.env[TEST_SERVER_ENV] = `mysql://root:helix@${container.getHost()}:${container.getPort()}/`;
}
