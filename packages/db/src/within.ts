/** The code of {@link within}'s error: a statement, or the wait for a connection, got no answer in time. */
export const STATEMENT_TIMEOUT = "HELIX_STATEMENT_TIMEOUT";

/** Whether the error is {@link within}'s: no answer in time. */
export const isStatementTimeout = (error: unknown): boolean => (error as { code?: unknown } | null)?.code === STATEMENT_TIMEOUT;

/** {@link within}'s error: no answer in `timeoutMs`. Classified as a connection error. */
export const statementTimeoutError = (timeoutMs: number): Error =>
  Object.assign(new Error(`no answer from the database within ${timeoutMs} ms; the connection is given up`), { code: STATEMENT_TIMEOUT });

/**
 * `promise`, or a timeout error once `timeoutMs` has passed without it settling (0: no bound).
 * `onLate` gets a value that arrives after the timeout, to clean it up.
 */
export function within<T>(timeoutMs: number, promise: Promise<T>, onLate?: (value: T) => void): Promise<T> {
  if (timeoutMs === 0) return promise;
  return new Promise<T>((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      reject(statementTimeoutError(timeoutMs));
    }, timeoutMs);
    promise.then(
      (value) => {
        if (!timedOut) {
          clearTimeout(timer);
          resolve(value);
        } else onLate?.(value);
      },
      (error: Error) => {
        if (timedOut) return;
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
