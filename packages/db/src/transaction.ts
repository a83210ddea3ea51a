import { serverEngine } from "./engine";
import type { QueryClient } from "./generated/db";
import { retryConflicts } from "./policy";

/** A connection that can run a transaction: what mysql2's `PoolConnection` offers. */
export interface TransactionConnection extends QueryClient {
  /** Starts a transaction on this connection. */
  beginTransaction(): Promise<void>;
  /** Commits the transaction. */
  commit(): Promise<void>;
  /** Rolls the transaction back. */
  rollback(): Promise<void>;
  /** Gives the connection back to its pool. */
  release(): void;
}

/** Where transactions get their connection: a mysql2 `Pool`, or anything shaped like it. */
export interface ConnectionSource extends QueryClient {
  /** A connection of the caller's own until it releases it. */
  getConnection(): Promise<TransactionConnection>;
}

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
const READ_COMMITTED_NEXT = { sql: "SET TRANSACTION ISOLATION LEVEL READ COMMITTED", values: [] };

/**
 * Sent before a transaction whose reads must all see one snapshot, on every engine: a pool (or a
 * server) whose sessions default to READ COMMITTED would read each statement at a later point.
 */
const REPEATABLE_READ_NEXT = { sql: "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", values: [] };

/** How {@link transaction} runs its transaction. */
export interface TransactionOptions {
  /**
   * The transaction only reads, and its reads must agree with each other: they all see one
   * snapshot, taken at its first read (REPEATABLE READ, on every engine and whatever the session's
   * default), rather than each the latest committed rows. @default false
   */
  consistentSnapshot?: boolean;
}

/**
 * Runs `fn` in a transaction on a connection of its own: commits when `fn` resolves, rolls back
 * when it throws. A deadlock or lock-wait timeout reruns the whole transaction with jitter, so `fn`
 * must be safe to run again (it only issues statements on `conn`). On TiDB the transaction runs at
 * READ COMMITTED, so that each statement reads the latest committed rows, as InnoDB's writes do;
 * with `consistentSnapshot`, at REPEATABLE READ on every engine.
 */
export async function transaction<T>(
  source: ConnectionSource,
  fn: (conn: TransactionConnection) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const isolation =
    options.consistentSnapshot === true
      ? REPEATABLE_READ_NEXT
      : (await serverEngine(source)) === "tidb"
        ? READ_COMMITTED_NEXT
        : undefined;
  return retryConflicts(async () => {
    const conn = await source.getConnection();
    try {
      if (isolation !== undefined) await conn.query(isolation);
      await conn.beginTransaction();
      const result = await fn(conn);
      await conn.commit();
      return result;
    } catch (error) {
      await conn.rollback().catch(() => undefined);
      throw error;
    } finally {
      conn.release();
    }
  });
}
