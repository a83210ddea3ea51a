import { randomBytes } from "node:crypto";

import { createConnection } from "mysql2/promise";

/** The environment variable that names the MySQL server tests run against. */
export const TEST_SERVER_ENV = "HELIX_TEST_MYSQL_URL";

/**
 * The URL of the server tests run against: `HELIX_TEST_MYSQL_URL`, which jest's global setup sets
 * to a throwaway MySQL 8 container when it was not set to begin with.
 */
export function testServerUrl(): string {
  const url = process.env[TEST_SERVER_ENV];
  if (url === undefined || url === "") {
    throw new Error(
      `${TEST_SERVER_ENV} is not set and jest's global setup did not start a server. ` +
        `Set it to a MySQL 8 or MariaDB 10.11+ server, for example ${TEST_SERVER_ENV}=mysql://root@127.0.0.1:3306/, ` +
        "or run a Docker daemon so that testcontainers can start MySQL 8.",
    );
  }
  return url;
}

/** A database of its own for one test file, dropped by {@link TestDatabase.drop}. */
export interface TestDatabase extends AsyncDisposable {
  /** The database's name, unique per call. */
  readonly name: string;
  /** A URL of the server with this database selected. */
  readonly url: string;
  /** Drops the database. */
  drop(): Promise<void>;
}

/** Creates a fresh, empty database on the test server. */
export async function createTestDatabase(prefix = "helix_test"): Promise<TestDatabase> {
  const server = new URL(testServerUrl());
  const name = `${prefix}_${process.pid}_${randomBytes(4).toString("hex")}`;
  await withServer(server, (conn) => conn.query("CREATE DATABASE ?? CHARACTER SET utf8mb4", [name]));
  const url = new URL(server);
  url.pathname = `/${name}`;
  let dropped = false;
  const drop = async (): Promise<void> => {
    if (dropped) return;
    dropped = true;
    await withServer(server, (conn) => conn.query("DROP DATABASE IF EXISTS ??", [name]));
  };
  return { name, url: url.toString(), drop, [Symbol.asyncDispose]: drop };
}

/** Runs `fn` on a short-lived connection to the test server (no database selected). */
export async function withServer<T>(server: URL, fn: (conn: Awaited<ReturnType<typeof createConnection>>) => Promise<T>): Promise<T> {
  const conn = await createConnection({
    host: server.hostname,
    port: Number(server.port || 3306),
    user: decodeURIComponent(server.username),
    password: decodeURIComponent(server.password),
  });
  try {
    return await fn(conn);
  } finally {
    await conn.end();
  }
}

/** Resolves once `predicate` holds, checking every 10 ms; rejects after `timeoutMs`. */
export function until(predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const check = async (): Promise<void> => {
      if (await predicate()) return resolve();
      if (performance.now() > deadline) return reject(new Error(`condition not met within ${timeoutMs} ms`));
      setTimeout(() => void check(), 10);
    };
    void check();
  });
}

/** A fresh database with Helix's schema and a pool on it, for one test file. */
export interface MigratedDatabase<P> {
  readonly db: TestDatabase;
  readonly pool: P;
  /** Ends the pool and drops the database. */
  close(): Promise<void>;
}

/**
 * Creates a fresh database, connects with `connect` and applies the schema with `migrate` (pass
 * `createPool` and `migrate` from @helix/db, which this package cannot depend on).
 */
export async function migratedDatabase<P extends { end(): Promise<void> }>(
  connect: (url: string) => Promise<P>,
  migrate: (pool: P) => Promise<unknown>,
): Promise<MigratedDatabase<P>> {
  const db = await createTestDatabase();
  const pool = await connect(db.url);
  await migrate(pool);
  return {
    db,
    pool,
    async close() {
      await pool.end();
      await db.drop();
    },
  };
}
