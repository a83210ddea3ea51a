// How Helix's transactions begin, and one attempt at a transaction: shared by transaction() and the
// guard, which runs a write on TiDB in a transaction of its own.
import type { TransactionConnection } from "./types";

/**
 * Sent before each writing transaction on TiDB, so that its statements read what InnoDB's writes
 * read. A write's subquery reads the latest committed rows on InnoDB, under a shared lock, whatever
 * the isolation level. On TiDB at REPEATABLE READ a subquery that names no column of the row being
 * written (RaiseGenerationFloor's highest generation, FinishTaskListRemoval's "no partition left")
 * reads the snapshot the transaction began with, and misses what other transactions committed
 * since. At READ COMMITTED each TiDB statement reads the latest committed rows, and the rows the
 * transaction locked earlier cannot have changed. It sets only the next transaction's level, so a
 * pool the caller shares with Helix keeps its own. Written here, not in the .sql files: sqlc takes
 * no SET statements.
 */
export const READ_COMMITTED_NEXT = { sql: "SET TRANSACTION ISOLATION LEVEL READ COMMITTED", values: [] };

/**
 * Sent before a transaction whose reads must all see one snapshot, on every engine: a pool (or a
 * server) whose sessions default to READ COMMITTED would read each statement at a later point.
 */
export const REPEATABLE_READ_NEXT = { sql: "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", values: [] };

/**
 * One attempt at a transaction, not retried: a connection from `connect`, `begin` on it, `fn`,
 * COMMIT; rolled back when `fn` or the commit throws, and the connection released either way.
 */
export async function attemptTransaction<T>(
  connect: () => Promise<TransactionConnection>,
  begin: (conn: TransactionConnection) => Promise<unknown>,
  fn: (conn: TransactionConnection) => Promise<T>,
): Promise<T> {
  const conn = await connect();
  try {
    await begin(conn);
    const result = await fn(conn);
    await conn.commit();
    return result;
  } catch (error) {
    await conn.rollback().catch(() => undefined);
    throw error;
  } finally {
    conn.release();
  }
}
