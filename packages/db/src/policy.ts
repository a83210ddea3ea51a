import { Backoff } from "./backoff";
import { DatabaseUnavailableError } from "./errors";
import type { QueryClient } from "./generated/db";
import type { ConnectionSource } from "./transaction";

/** Driver errors that mean "try the same statement again": deadlock (1213), lock wait timeout (1205). */
export function isRetryableConflict(error: unknown): boolean {
  const errno = (error as { errno?: unknown } | null)?.errno;
  return errno === 1213 || errno === 1205;
}

const connectionErrorCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "PROTOCOL_CONNECTION_LOST",
  "PROTOCOL_SEQUENCE_TIMEOUT",
  "PROTOCOL_PACKETS_OUT_OF_ORDER",
  "ER_CON_COUNT_ERROR",
  "ER_SERVER_SHUTDOWN",
  "ER_CONNECTION_KILLED",
  "ER_QUERY_INTERRUPTED",
  "ER_ACCOUNT_HAS_BEEN_LOCKED",
  "ER_ACCESS_DENIED_ERROR",
  "ER_CLIENT_INTERACTION_TIMEOUT",
]);

// Refused logins: 1044/1045 access denied, 1129 host blocked, 1130 host not allowed, 1203 too many
// connections of the user, 3118 (MySQL) / 4151 (MariaDB) account locked. Lost service: 1040 too many
// connections, 1053 shutdown, 1317 query interrupted, 1927 connection killed (MariaDB), 2006/2013
// server gone / lost connection, 3032 server offline mode, 4031 idle timeout (MySQL 8).
const connectionErrnos = new Set([
  1040, 1044, 1045, 1053, 1129, 1130, 1203, 1317, 1927, 2006, 2013, 3032, 3118, 4031, 4151,
]);

/**
 * Whether a driver error means the database cannot be used right now (refused, dropped or killed
 * connection, server shutting down, pool closed) rather than that the statement itself is wrong.
 */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const { code, errno, fatal } = error as { code?: unknown; errno?: unknown; fatal?: unknown };
  if (typeof code === "string" && connectionErrorCodes.has(code)) return true;
  if (typeof errno === "number" && connectionErrnos.has(errno)) return true;
  if (error.message === "Pool is closed." || error.message.startsWith("Can't add new command when connection is in closed state")) {
    return true;
  }
  return fatal === true;
}

/** Options of {@link retryConflicts}. */
export interface RetryConflictsOptions {
  /** Attempts in all, the first included. @default 8 */
  attempts?: number;
  /** Stops retrying (the last error is thrown). */
  signal?: AbortSignal;
}

/**
 * Runs `fn`, running it again after a short backoff when it fails with a deadlock or a lock wait
 * timeout, so that such conflicts never reach callers; any other error is thrown at once.
 */
export async function retryConflicts<T>(fn: () => Promise<T>, options: RetryConflictsOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 8;
  const backoff = new Backoff(5, 200);
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (!isRetryableConflict(error) || attempt >= attempts || options.signal?.aborted === true) throw error;
    }
    await backoff.wait();
  }
}

/**
 * A lost or refused connection as a {@link DatabaseUnavailableError} naming `server`; anything else
 * as it is. For statements on a connection Helix did not open (a fence in the caller's
 * transaction), where the rest of {@link guardClient}'s policy does not apply.
 */
export function classified(server: string, error: unknown): unknown {
  if (!isConnectionError(error)) return error;
  return new DatabaseUnavailableError(server, `database ${server} is unavailable: ${(error as Error).message}`, { cause: error });
}

async function classifying<T>(server: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw classified(server, error);
  }
}

/** The name of the server a guarded client was opened on, and the client it wraps. */
const guardedBy = Symbol("helix.guardedClient");

interface Guarded {
  readonly [guardedBy]: { readonly server: string };
}

/**
 * Helix's policy for database errors, applied once, where a client is opened (every Helix object
 * and function that takes a pool goes through it), so that no call site handles errors by hand:
 * - every statement's connection errors (refused, dropped, killed, server shutting down, pool
 *   closed) become a {@link DatabaseUnavailableError} naming `server`;
 * - a statement run on the pool, outside a transaction, is retried on a deadlock or lock wait
 *   timeout (the server rolled back only that statement);
 * - statements on a connection taken for a transaction are not retried one by one (the server
 *   rolled back the whole transaction): {@link transaction} runs the whole transaction again.
 *
 * Guarding a guarded client returns it as it is.
 * @param server - how errors name the server: `host:port/database`, or "the database" for a pool
 *   given by the caller
 */
export function guardClient(client: QueryClient, server = "the database"): ConnectionSource {
  if (guardedBy in client) return client as unknown as ConnectionSource;
  const source = client as Partial<ConnectionSource>;
  const guarded: ConnectionSource & Guarded = {
    [guardedBy]: { server },
    query: (options) => classifying(server, () => retryConflicts(() => client.query(options))),
    async getConnection() {
      const getConnection = source.getConnection?.bind(client);
      if (getConnection === undefined) {
        throw new TypeError("this client has no getConnection(): pass a mysql2 Pool (transactions need a connection of their own)");
      }
      const conn = await classifying(server, getConnection);
      return {
        query: (options) => classifying(server, () => conn.query(options)),
        beginTransaction: () => classifying(server, () => conn.beginTransaction()),
        commit: () => classifying(server, () => conn.commit()),
        rollback: () => classifying(server, () => conn.rollback()),
        release: () => conn.release(),
      };
    },
  };
  return guarded;
}
