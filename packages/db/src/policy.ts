import { serverEngine, type Engine } from "./engine";
import { classified, classifying, retryConflicts } from "./classify";
import { InvalidArgumentError } from "./errors";
import type { QueryClient, QueryOptions } from "./generated/db";
import { attemptTransaction } from "./isolation";
import {
  endSession,
  identifySession,
  isIdentified,
  sessionOf,
  type BoundedSource,
  type DiscardableConnection,
  type SessionIdentity,
} from "./session";
import type { ConnectionSource, TransactionConnection } from "./types";
import { isStatementTimeout, statementTimeoutError, within } from "./within";

/**
 * A write among Helix's statements, by the command sqlc names it with (`-- name: HeartbeatMember
 * :execresult`). On TiDB such a statement, sent by itself, is not run by itself: it goes in an
 * optimistic transaction of its own ({@link BEGIN_OPTIMISTIC}, the statement, COMMIT), for two
 * reasons. TiDB runs an autocommit write optimistically and, after a write conflict, again under
 * pessimistic locks; a session ended during that retry leaves those locks behind until their TTL
 * (see endTidbSession). And a statement given up at its timeout, whose session is left to finish on
 * TiDB rather than killed, must not commit after its caller gave up on it (a heartbeat that lands
 * after its member stopped counting on it would keep the member live in the database behind its
 * back): in a transaction of its own, it is rolled back when its session sees the connection
 * closed. The cost is two more round trips per write there.
 */
const WRITE_STATEMENT = /^-- name: \w+ :(exec|execrows|execresult|execlastid|copyfrom)\b/;

/**
 * How the transaction of a TiDB write sent by itself begins. Optimistic, as TiDB runs the same
 * statement under autocommit: its commit fails (write conflict, 9007, retried) when a row it wrote
 * was committed by another transaction after it began, so everything it read is as of one moment. A
 * pessimistic transaction, at either isolation level, locks the row at a later timestamp than it
 * read its subqueries at: AcquireLock read the epoch floor before a prune raised it, found the
 * key's row deleted by that prune, and granted an epoch the key had had already (in 45 s of
 * `pnpm --filter @helix/bench epoch-race` on TiDB: 14 times at REPEATABLE READ, once at READ
 * COMMITTED, never optimistic).
 */
const BEGIN_OPTIMISTIC = { sql: "BEGIN OPTIMISTIC", values: [] };

/** Guarded clients that wrap a client without connections of its own (a single connection). */
const connectionless = new WeakSet<object>();

/**
 * Whether a client can give connections of its own for transactions: a pool can, a single
 * connection (or a guard around one) cannot.
 */
export function givesConnections(client: QueryClient): boolean {
  return !connectionless.has(client) && typeof (client as Partial<ConnectionSource>).getConnection === "function";
}

/** Marks a guarded client, so that guarding it again returns it as it is. */
const guardedBy = Symbol("helix.guardedClient");

/** Options of {@link guardClient}. */
export interface GuardOptions {
  /**
   * How long one statement, or waiting for a connection, may take before the connection is given
   * up as hung: the statement fails as unavailable (and may be retried on a fresh connection) and
   * the connection is destroyed rather than returned to the pool. 0 sets no bound (migrations,
   * whose DDL may run for minutes). A function is asked again for every statement and transaction
   * (a bound that follows a deadline: a member's reads get the time left before it must stop).
   * @default 0
   */
  statementTimeoutMs?: number | (() => number);
}

/**
 * Helix's policy for database errors, applied once, where a client is opened (every Helix object
 * and function that takes a pool goes through it), so that no call site handles errors by hand:
 * - every statement's connection errors (refused, dropped, killed, server shutting down, pool
 *   closed) become a {@link DatabaseUnavailableError} naming `server`;
 * - a statement that gets no answer within `statementTimeoutMs` (a black-holed socket sends no
 *   error for minutes) fails the same way, and its connection is destroyed, so the next statement
 *   gets a fresh one;
 * - a statement run on the pool, outside a transaction, is retried on a deadlock or lock wait
 *   timeout (the server rolled back only that statement);
 * - statements on a connection taken for a transaction are not retried one by one (the server
 *   rolled back the whole transaction): {@link transaction} runs the whole transaction again.
 *
 * Guarding a guarded client returns it as it is.
 * @param server - how errors name the server: `host:port/database`, or "the database" for a pool
 *   given by the caller
 */
export function guardClient(client: QueryClient, server = "the database", options: GuardOptions = {}): ConnectionSource {
  if (guardedBy in client) return client as unknown as ConnectionSource;
  const bound = options.statementTimeoutMs ?? 0;
  const timeoutOf = (): number => (typeof bound === "function" ? Math.max(1, Math.ceil(bound())) : bound);
  const getConnection = (client as Partial<BoundedSource>).getConnection?.bind(client);
  const kill = (session: SessionIdentity, timeoutMs: number): Promise<void> => endSession(client, session, timeoutMs);
  const connect = async (): Promise<BoundedConnection> => {
    if (getConnection === undefined) {
      throw new InvalidArgumentError("client", "has no getConnection(): pass a mysql2 Pool (transactions need a connection of their own)");
    }
    const timeoutMs = timeoutOf();
    // A connection that arrives after the wait gave up goes straight back to the pool.
    const conn = await within(timeoutMs, getConnection(), (late) => late.release());
    const bounded = new BoundedConnection(conn, timeoutMs, (session) => kill(session, timeoutMs));
    try {
      await bounded.identify();
    } catch (error) {
      bounded.release();
      throw error;
    }
    return bounded;
  };
  // On its own connection when bounded, so that a hung one can be destroyed (the pool's query would
  // return it to the pool).
  const runOnce = (query: QueryOptions): Promise<[unknown, unknown]> => {
    const timeoutMs = timeoutOf();
    return timeoutMs === 0 || getConnection === undefined
      ? within(timeoutMs, client.query(query))
      : boundedStatement(getConnection, query, timeoutMs, (session) => kill(session, timeoutMs));
  };
  let engine: Engine | undefined;
  // On TiDB a write goes in a transaction of its own (see WRITE_STATEMENT).
  const run = async (query: QueryOptions): Promise<[unknown, unknown]> => {
    if (getConnection === undefined || !WRITE_STATEMENT.test(query.sql)) return runOnce(query);
    engine ??= await within(timeoutOf(), serverEngine(client));
    if (engine !== "tidb") return runOnce(query);
    return attemptTransaction(
      connect,
      (conn) => conn.query(BEGIN_OPTIMISTIC),
      (conn) => conn.query(query),
    );
  };
  const guarded = {
    [guardedBy]: true,
    query: async (query: QueryOptions) => {
      try {
        return await retryConflicts(() => run(query));
      } catch (error) {
        throw classified(server, error);
      }
    },
    getConnection: async () => {
      const conn = await classifying(server, connect);
      return {
        query: (query: QueryOptions) => classifying(server, () => conn.query(query)),
        beginTransaction: () => classifying(server, () => conn.beginTransaction()),
        commit: () => classifying(server, () => conn.commit()),
        rollback: () => classifying(server, () => conn.rollback()),
        release: () => conn.release(),
      };
    },
  } as ConnectionSource;
  if (getConnection === undefined) connectionless.add(guarded);
  return guarded;
}

/** Ends a given-up connection's session (see {@link endSession}). */
type Kill = (session: SessionIdentity) => Promise<void>;

/**
 * One statement outside a transaction, on a connection of its own, bounded as
 * {@link BoundedConnection} bounds the wait for a connection and then each statement, but with one
 * promise and one timer (refreshed when the connection arrives) instead of a wrapper object and a
 * timer for each step: every statement Helix's objects send outside a transaction goes here.
 */
function boundedStatement(
  getConnection: () => Promise<DiscardableConnection>,
  query: QueryOptions,
  timeoutMs: number,
  kill: Kill,
): Promise<[unknown, unknown]> {
  return new Promise((resolve, reject) => {
    let conn: DiscardableConnection | undefined;
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      const error = statementTimeoutError(timeoutMs);
      // Still waiting for a connection: one that comes later goes straight back (below).
      if (conn === undefined) reject(error);
      // No answer to the statement: the connection is given up, and the statement fails once its
      // session has been ended (so that the caller's next attempt finds its row locks gone), or
      // after the wait for that is cut short (see endSession).
      else {
        const failHung = (): void => reject(error);
        void discardConnection(conn, kill).then(failHung, failHung);
      }
    }, timeoutMs);
    // Typed Error for the linter; whatever the driver rejected with is passed on as it is.
    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      conn?.release();
      reject(error);
    };
    const answered = (result: [unknown, unknown]): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      conn?.release();
      resolve(result);
    };
    const send = (c: DiscardableConnection): void => {
      if (settled) {
        c.release();
        return;
      }
      conn = c;
      // The statement gets the whole bound, whatever the wait for the connection took.
      timer.refresh();
      let answer: Promise<[unknown, unknown]>;
      try {
        answer = isIdentified(c) ? c.query(query) : identifySession(c).then(() => c.query(query));
      } catch (error) {
        fail(error as Error);
        return;
      }
      answer.then(answered, fail);
    };
    let connecting: Promise<DiscardableConnection>;
    try {
      connecting = getConnection();
    } catch (error) {
      fail(error as Error);
      return;
    }
    connecting.then(send, fail);
  });
}

/**
 * Gives up a hung connection: destroys it, and ends its session on the server, so that its
 * transaction's locks are gone by the time the caller tries again (or soon after: see
 * {@link endSession}). A connection that cannot be destroyed (a pool that is not mysql2's) goes
 * back to its pool only once its session was ended: released first, the next borrower could have
 * it killed under it, in the middle of its own transaction; released after, it finds it closed.
 */
async function discardConnection(conn: DiscardableConnection, kill: Kill): Promise<void> {
  const session = sessionOf(conn);
  conn.destroy?.();
  try {
    if (session !== undefined) await kill(session);
  } finally {
    if (conn.destroy === undefined) conn.release();
  }
}

/** A connection whose every call is bounded in time; one that timed out is destroyed, never reused. */
class BoundedConnection implements TransactionConnection {
  #hung = false;
  #discarded: Promise<void> | undefined;

  constructor(
    private readonly conn: DiscardableConnection,
    private readonly timeoutMs: number,
    private readonly kill: Kill,
  ) {}

  query(query: QueryOptions): Promise<[unknown, unknown]> {
    return this.#bounded(this.conn.query(query));
  }

  beginTransaction(): Promise<void> {
    return this.#bounded(this.conn.beginTransaction());
  }

  commit(): Promise<void> {
    return this.#bounded(this.conn.commit());
  }

  rollback(): Promise<void> {
    // A hung connection cannot roll back: ending its session makes the server roll back what it held.
    return this.#hung ? this.discard() : this.#bounded(this.conn.rollback());
  }

  release(): void {
    if (this.#hung) void this.discard();
    else this.conn.release();
  }

  /** Records the connection's session before its first statement (see {@link identifySession}). */
  async identify(): Promise<void> {
    if (!isIdentified(this.conn)) await this.#bounded(identifySession(this.conn));
  }

  /** Gives up a hung connection (see {@link discardConnection}). Once; later calls wait for it. */
  discard(): Promise<void> {
    this.#discarded ??= discardConnection(this.conn, this.kill);
    return this.#discarded;
  }

  /** Whether a call got no answer in time. */
  get hung(): boolean {
    return this.#hung;
  }

  async #bounded<T>(call: Promise<T>): Promise<T> {
    try {
      return await within(this.timeoutMs, call);
    } catch (error) {
      if (isStatementTimeout(error)) this.#hung = true;
      throw error;
    }
  }
}
