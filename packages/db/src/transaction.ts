import { serverEngine } from "./engine";
import { attemptTransaction, READ_COMMITTED_NEXT, REPEATABLE_READ_NEXT } from "./isolation";
import { retryConflicts } from "./classify";
import type { ConnectionSource, TransactionConnection } from "./types";

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
    options.consistentSnapshot === true ? REPEATABLE_READ_NEXT : (await serverEngine(source)) === "tidb" ? READ_COMMITTED_NEXT : undefined;
  const begin = async (conn: TransactionConnection): Promise<void> => {
    if (isolation !== undefined) await conn.query(isolation);
    await conn.beginTransaction();
  };
  return retryConflicts(() => attemptTransaction(() => source.getConnection(), begin, fn));
}
