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
 * Runs `fn` in a transaction on a connection of its own: commits when `fn` resolves, rolls back
 * when it throws. A deadlock or lock-wait timeout reruns the whole transaction with jitter, so `fn`
 * must be safe to run again (it only issues statements on `conn`).
 */
export async function transaction<T>(source: ConnectionSource, fn: (conn: TransactionConnection) => Promise<T>): Promise<T> {
  return retryConflicts(async () => {
    const conn = await source.getConnection();
    try {
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
