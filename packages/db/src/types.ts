// The shapes of a database client that Helix's modules share, in a module of their own that imports
// nothing of Helix's: a pool, and a connection of it that can run a transaction.
import type { QueryClient } from "./generated/db";

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
