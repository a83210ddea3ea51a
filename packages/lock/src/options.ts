import { InvalidArgumentError, MAX_LOCK_KEY_LENGTH, MAX_OWNER_LENGTH } from "@helix/db";

/** Longest lease a caller may ask for: one day. Longer work keeps a shorter lease renewed. */
export const MAX_TTL_MS = 86_400_000;

/** Longest a caller may wait for a key: one day. */
export const MAX_WAIT_MS = 86_400_000;

/** Backoff between attempts while waiting for a held key. */
export interface RetryOptions {
  /** First delay between attempts; each later delay doubles. @default 10 */
  minDelayMs?: number;
  /** Largest delay between attempts. @default 250 */
  maxDelayMs?: number;
}

/** Options of `acquire`, `tryAcquire` and `withLock`. Every field is optional. */
export interface AcquireOptions {
  /** Lifetime of the lease, renewed by `renew()` or auto-renew. @default the locker's ttlMs (15000) */
  ttlMs?: number;
  /**
   * How long `acquire` waits for a held key, polling with backoff and jitter. 0 fails at once with
   * `LockHeldError`. Ignored by `tryAcquire`. @default 10000
   */
  waitMs?: number;
  /** Cancels the wait; `acquire` then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Backoff while waiting. */
  retry?: RetryOptions;
  /**
   * Renew the lease about every third of its TTL until it is released or lost.
   * @default false for acquire/tryAcquire, always on in withLock
   */
  autoRenew?: boolean;
}

/** {@link AcquireOptions} after defaults and validation. */
export interface ResolvedAcquireOptions {
  readonly ttlMs: number;
  readonly waitMs: number;
  readonly signal: AbortSignal | undefined;
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
  readonly autoRenew: boolean;
  /** How much earlier than ttl after the send time the holder gives up its lease. */
  readonly marginMs: number;
}

/** Checks a lock key: a string of 1 to 255 characters without control characters or edge spaces. */
export function checkKey(key: unknown): string {
  if (typeof key !== "string") throw new InvalidArgumentError("key", `must be a string (got ${typeof key})`);
  const length = [...key].length;
  if (length === 0) throw new InvalidArgumentError("key", "must not be empty");
  if (length > MAX_LOCK_KEY_LENGTH) {
    throw new InvalidArgumentError("key", `must be at most ${MAX_LOCK_KEY_LENGTH} characters (got ${length})`);
  }
  // MySQL compares VARCHAR keys ignoring trailing spaces, so "a" and "a " would be one lock.
  if (key.trim() !== key) throw new InvalidArgumentError("key", "must not start or end with white space");
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) throw new InvalidArgumentError("key", "must not contain control characters");
  return key;
}

/** Checks an owner id: a readable string of 1 to 255 characters. */
export function checkOwner(owner: unknown): string {
  if (typeof owner !== "string" || owner.length === 0 || [...owner].length > MAX_OWNER_LENGTH) {
    throw new InvalidArgumentError("owner", `must be a string of 1 to ${MAX_OWNER_LENGTH} characters`);
  }
  return owner;
}

/** Checks that `value` is an integer of milliseconds within [min, max]. */
export function checkMs(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(
      name,
      `must be an integer number of milliseconds from ${min} to ${max} (got ${String(value)})`,
    );
  }
  return value;
}

/** The default safety margin: 5% of the TTL, at least 10 ms and at most 1 s. */
export function defaultMarginMs(ttlMs: number): number {
  return Math.min(1000, Math.max(10, Math.round(ttlMs / 20)));
}

/** Applies defaults to acquire options and validates them, before anything is sent. */
export function resolveAcquireOptions(
  options: AcquireOptions | undefined,
  defaults: { ttlMs: number; waitMs: number; marginMs: number | undefined },
): ResolvedAcquireOptions {
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw new InvalidArgumentError("options", "must be an object");
  }
  const ttlMs = checkMs("ttlMs", options?.ttlMs ?? defaults.ttlMs, 1, MAX_TTL_MS);
  const waitMs = checkMs("waitMs", options?.waitMs ?? defaults.waitMs, 0, MAX_WAIT_MS);
  const minDelayMs = checkMs("retry.minDelayMs", options?.retry?.minDelayMs ?? 10, 1, 60_000);
  const maxDelayMs = checkMs("retry.maxDelayMs", options?.retry?.maxDelayMs ?? 250, minDelayMs, 60_000);
  const marginMs = defaults.marginMs ?? defaultMarginMs(ttlMs);
  if (marginMs >= ttlMs) {
    throw new InvalidArgumentError("ttlMs", `must be larger than the safety margin of ${marginMs} ms`);
  }
  const signal = options?.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidArgumentError("signal", "must be an AbortSignal");
  }
  return { ttlMs, waitMs, signal, minDelayMs, maxDelayMs, autoRenew: options?.autoRenew ?? false, marginMs };
}
