// How Helix reads a driver's error: a conflict to retry, a connection that cannot be used, or the
// statement's own fault.
import { Backoff } from "./backoff";
import { DatabaseUnavailableError } from "./errors";
import { STATEMENT_TIMEOUT } from "./within";

/**
 * Driver errors that mean "try the same statement again": deadlock (1213), lock wait timeout (1205),
 * and TiDB's write conflict at an optimistic commit (9007).
 */
export function isRetryableConflict(error: unknown): boolean {
  const errno = (error as { errno?: unknown } | null)?.errno;
  return errno === 1213 || errno === 1205 || errno === 9007;
}

const connectionErrorCodes = new Set([
  STATEMENT_TIMEOUT,
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
const connectionErrnos = new Set([1040, 1044, 1045, 1053, 1129, 1130, 1203, 1317, 1927, 2006, 2013, 3032, 3118, 4031, 4151]);

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
export async function retryConflicts<T>(fn: () => Promise<T>, options?: RetryConflictsOptions): Promise<T> {
  const attempts = options?.attempts ?? 8;
  // Made at the first conflict: every guarded statement runs through here, and few ever conflict.
  let backoff: Backoff | undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (!isRetryableConflict(error) || attempt >= attempts || options?.signal?.aborted === true) throw error;
    }
    backoff ??= new Backoff(5, 200);
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

/** {@link classified} applied to what `call` throws. */
export async function classifying<T>(server: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw classified(server, error);
  }
}
