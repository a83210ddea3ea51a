import type { ConnectionPool, Queryable, SQLQuery } from "@databases/mysql";
import { InvalidArgumentError, type ConnectionSource, type QueryClient, type QueryOptions, type TransactionConnection } from "@helix/db";

/** How the `@databases/mysql` pool reads DATETIME values: its `timeZone.client` setting. */
export type DatabasesTimeZone = "local" | "utc";

/** Options of {@link databasesClient} and {@link databasesPool}. */
export interface DatabasesOptions {
  /**
   * The pool's client time zone (`createConnectionPool({ timeZone: { client } })`): Helix stores
   * every time as UTC, and reads what the pool parsed as local time back as UTC. Give the pool's
   * setting; a wrong one shifts the times Helix reads (never a decision: expiry is judged in SQL).
   * @default "local" (the `@databases/mysql` default)
   */
  timeZone?: DatabasesTimeZone;
}

/**
 * A `@databases/mysql` transaction, connection or pool as a Helix query client: for the
 * fences inside your own transaction (`lease.fence(databasesClient(tx))`,
 * `partition.fence(databasesClient(tx))`) and for any Helix call that takes a query client.
 * Statements run on `queryable` as `@databases/sql` queries whose values are bound by the driver,
 * never spliced into the text.
 */
export function databasesClient(queryable: Queryable, options: DatabasesOptions = {}): QueryClient {
  const timeZone = checkTimeZone(options.timeZone);
  return { query: (query) => run(queryable, query, timeZone) };
}

/**
 * A `@databases/mysql` `ConnectionPool` as a Helix pool: give it wherever Helix takes a pool
 * (`createLocker`, `join`, `createCoordinator`, `migrate`). A transaction holds one of the pool's
 * connections (a `task`) from `getConnection()` until `release()`.
 *
 * Helix gives up a connection that stops answering by destroying it and ending its session on the
 * server; `@databases/mysql` does not let a caller destroy a pooled connection, so a statement
 * that times out fails as unavailable but its connection goes back to the pool. Use a mysql2 pool
 * for Helix where a hung network path must not cost a pooled connection.
 */
export function databasesPool(pool: ConnectionPool, options: DatabasesOptions = {}): ConnectionSource {
  const timeZone = checkTimeZone(options.timeZone);
  return {
    query: (query) => run(pool, query, timeZone),
    getConnection: () => holdConnection(pool, timeZone),
  };
}

function checkTimeZone(timeZone: unknown): DatabasesTimeZone {
  if (timeZone === undefined) return "local";
  if (timeZone === "local" || timeZone === "utc") return timeZone;
  throw new InvalidArgumentError("timeZone", `must be "local" or "utc", as the pool's timeZone.client (got ${JSON.stringify(timeZone)})`);
}

/** Runs one generated statement on `queryable` and answers as mysql2's `query` would. */
async function run(queryable: Queryable, query: QueryOptions, timeZone: DatabasesTimeZone): Promise<[unknown, unknown]> {
  const result: unknown = await queryable.query(toSqlQuery(queryable, query));
  // A statement without rows answers with mysql2's result header, which is passed on as it is.
  if (!Array.isArray(result)) return [result, []];
  // mysql2 builds a row object in column order, which is the order generated readers expect.
  const rows = result.map((row: Record<string, unknown>) =>
    query.rowsAsArray === true
      ? Object.values(row).map((value) => asUtc(value, timeZone))
      : Object.fromEntries(Object.entries(row).map(([column, value]) => [column, asUtc(value, timeZone)])),
  );
  return [rows, []];
}

/**
 * The generated SQL (`?` placeholders, as mysql2 formats them) as a `@databases/sql` query: the
 * text between placeholders is taken as it is, each value is bound.
 */
function toSqlQuery(queryable: Queryable, query: QueryOptions): SQLQuery {
  const { sql } = queryable;
  const pieces = query.sql.split("?");
  if (pieces.length - 1 !== query.values.length) {
    throw new TypeError(`the statement has ${pieces.length - 1} placeholders but ${query.values.length} values`);
  }
  const parts: SQLQuery[] = [];
  pieces.forEach((text, i) => {
    if (i > 0) parts.push(sql.value(query.values[i - 1]));
    parts.push(sql.__dangerous__rawValue(text));
  });
  return sql.join(parts, sql``);
}

/**
 * A DATETIME that the pool parsed in local time, as the UTC time it is stored as: Helix writes and
 * reads every time in UTC. Other values are passed on as they are.
 */
function asUtc(value: unknown, timeZone: DatabasesTimeZone): unknown {
  if (!(value instanceof Date) || timeZone === "utc") return value;
  return new Date(
    Date.UTC(
      value.getFullYear(),
      value.getMonth(),
      value.getDate(),
      value.getHours(),
      value.getMinutes(),
      value.getSeconds(),
      value.getMilliseconds(),
    ),
  );
}

/**
 * One of the pool's connections, held (inside a `task`) until `release()`, with the transaction
 * calls Helix's `transaction()` makes. The task ends, and the connection goes back to the pool,
 * when it is released.
 */
function holdConnection(pool: ConnectionPool, timeZone: DatabasesTimeZone): Promise<TransactionConnection> {
  return new Promise((resolve, reject) => {
    pool
      .task(
        (connection) =>
          new Promise<void>((release) => {
            const client = databasesClient(connection, { timeZone });
            const statement = async (text: string): Promise<void> => {
              await connection.query(connection.sql.__dangerous__rawValue(text));
            };
            resolve({
              query: (query) => client.query(query),
              beginTransaction: () => statement("START TRANSACTION"),
              commit: () => statement("COMMIT"),
              rollback: () => statement("ROLLBACK"),
              release: () => release(),
            });
          }),
      )
      .catch(reject);
  });
}
