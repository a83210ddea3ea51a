import { setTimeout as delay } from "node:timers/promises";

import { serverEngine } from "./engine";
import type { QueryClient } from "./generated/db";
import { ownSession, sessionById, tidbSession, type OwnSessionRow } from "./generated/server";
import type { TransactionConnection } from "./types";
import { within } from "./within";

/**
 * A session on the server, as the server described it when its connection was first used: the id
 * the server gave it, its user, the address it came from (over TCP with the client's port, unique
 * among the server's open connections), and the server's host and port.
 */
export type SessionIdentity = OwnSessionRow;

/** A pooled connection as the guard sees it: a transaction's, and a way to destroy a hung one. */
export type DiscardableConnection = TransactionConnection & { destroy?(): void };

/** A pool whose connections can be destroyed: what mysql2's `Pool` offers. */
export interface BoundedSource extends QueryClient {
  getConnection(): Promise<DiscardableConnection>;
}

/**
 * The recorded session of each connection, by the object that stands for the connection for its
 * whole life: mysql2 hands out a new wrapper at each checkout around the same `connection`, so the
 * question costs one round trip in a connection's life. `null`: the server would not say (a proxy
 * that hides the process list), so the session is never ended.
 */
const sessions = new WeakMap<object, SessionIdentity | null>();

/**
 * The object that stands for a pooled connection for its whole life, if it has one (mysql2's
 * `connection`). A pool that hands out a new object at each checkout and nothing lasting (a wrapper
 * such as `@databases/mysql`'s) would be asked at every statement: its sessions go unrecorded, and
 * are never ended (nor were they before: such wrappers show no thread id either).
 */
const sessionKey = (conn: DiscardableConnection): object | undefined => {
  const lasting = (conn as { connection?: unknown }).connection;
  return typeof lasting === "object" && lasting !== null ? lasting : undefined;
};

/** Whether the connection needs no question before its statement: recorded, known unidentifiable, or untrackable. */
export const isIdentified = (conn: DiscardableConnection): boolean => {
  const key = sessionKey(conn);
  return key === undefined || sessions.has(key);
};

/**
 * Records who the connection's session is, once per connection, before its first statement: the
 * thread id of the driver's greeting is not enough to end a session by, since a proxy or a
 * failover can put another session behind that number. A server that does not answer the question
 * (a statement error, not a lost connection) leaves the session unidentified: never ended.
 */
export async function identifySession(conn: DiscardableConnection): Promise<void> {
  let session: SessionIdentity | null;
  try {
    session = await ownSession(conn);
  } catch (error) {
    // An answer from the server (it has an SQL state) that is not the end of the connection.
    const { sqlState, fatal } = (error ?? {}) as { sqlState?: unknown; fatal?: unknown };
    if (typeof sqlState !== "string" || fatal === true) throw error;
    session = null;
  }
  const key = sessionKey(conn);
  if (key !== undefined) sessions.set(key, session);
}

/** The session recorded for a connection, if it could be identified. */
export const sessionOf = (conn: DiscardableConnection): SessionIdentity | undefined => {
  const key = sessionKey(conn);
  return key === undefined ? undefined : (sessions.get(key) ?? undefined);
};

/**
 * Ends a hung connection's session on the server from another connection. Closing the socket is
 * not enough: on a black-holed path the server never hears of it, and would hold the session's
 * transaction and row locks until its own timeouts (hours). The session is ended only if the
 * server reached now shows it as recorded (same server, id, user and client address): behind a
 * proxy, or after a failover, the same number can be another client's session. Best effort: errors
 * are ignored. Waits at most about `timeoutMs` for the session to end (on TiDB it may end later,
 * see {@link endTidbSession}).
 */
export async function endSession(client: QueryClient, session: SessionIdentity, timeoutMs: number): Promise<void> {
  const engine = await within(timeoutMs, serverEngine(client)).catch(() => undefined);
  if (engine === undefined) return;
  if (engine !== "tidb") {
    await killIfSame(client, session, timeoutMs);
    return;
  }
  await Promise.race([endTidbSession(client, session, timeoutMs), delay(timeoutMs, undefined, { ref: false })]);
}

/**
 * KILLs the session on one connection, after finding it there as recorded: both statements reach
 * the same server (a proxy that spreads one client connection's statements over servers could
 * send them to different ones: Helix needs a proxy that does not, see docs/engines.md).
 */
async function killIfSame(client: QueryClient, session: SessionIdentity, timeoutMs: number): Promise<void> {
  const getConnection = (client as Partial<BoundedSource>).getConnection?.bind(client);
  if (getConnection === undefined) return;
  let conn: DiscardableConnection | undefined;
  try {
    conn = await within(timeoutMs, getConnection(), (late) => late.release());
    const found = await within(timeoutMs, sessionById(conn, { id: session.id }));
    if (found === null || !sameSession(found, session)) return;
    await within(timeoutMs, conn.query({ sql: "KILL CONNECTION ?", values: [session.id] }));
  } catch {
    // A killer that gets no answer is not reused (nor released, below).
    if (conn?.destroy !== undefined) {
      conn.destroy();
      conn = undefined;
    }
  } finally {
    conn?.release();
  }
}

/** Whether two descriptions are of one session on one server. */
function sameSession(found: SessionIdentity, recorded: SessionIdentity): boolean {
  return (
    found.id === recorded.id &&
    found.userName === recorded.userName &&
    found.clientAddress === recorded.clientAddress &&
    found.serverHost === recorded.serverHost &&
    found.serverPort === recorded.serverPort
  );
}

/** How often {@link endTidbSession} looks at the session it is ending. */
const TIDB_SESSION_POLL_MS = 100;

/**
 * How long a given-up TiDB session may go on with its statement before it is killed all the same:
 * past TiDB's default lock wait timeout (50 s), the one wait a Helix statement can be in that long.
 */
const TIDB_SESSION_RUN_LIMIT_MS = 60_000;

/**
 * Ends a given-up connection's session on TiDB, killing it only when it must. TiDB does not roll
 * back the pessimistic locks of a session killed at the wrong moment (while an autocommit
 * statement retries after a write conflict, for one: pingcap/tidb#61454, #70974): they stay until
 * their TTL, about 20 s, and every statement that meets them waits, times out and is given up in
 * turn, its session killed and its own locks left behind, so one slow moment becomes a stall that
 * feeds itself. A session whose socket was closed ends by itself, with a clean rollback, once its
 * statement is done. So the session is watched: gone (or another client's under that id), nothing
 * to do; running a statement (a lock wait, a slow server), left to finish, killed only past
 * {@link TIDB_SESSION_RUN_LIMIT_MS}; idle in two looks in a row, it never heard of the close (a
 * black-holed path), and is killed. A session id is the cluster's and a KILL reaches the session
 * from any tidb-server, so the session is found by id, user and client address wherever it is.
 */
async function endTidbSession(client: QueryClient, session: SessionIdentity, timeoutMs: number): Promise<void> {
  const giveUpAt = performance.now() + TIDB_SESSION_RUN_LIMIT_MS;
  let idle = false;
  try {
    for (;;) {
      const found = await within(timeoutMs, tidbSession(client, { id: session.id }));
      if (found === null || found.userName !== session.userName || found.clientAddress !== session.clientAddress) return;
      if ((idle && found.command === "Sleep") || performance.now() >= giveUpAt) break;
      idle = found.command === "Sleep";
      await delay(TIDB_SESSION_POLL_MS, undefined, { ref: false });
    }
  } catch {
    // The server cannot be asked, so it cannot be told either.
    return;
  }
  await within(timeoutMs, client.query({ sql: "KILL CONNECTION ?", values: [session.id] })).catch(() => undefined);
}
