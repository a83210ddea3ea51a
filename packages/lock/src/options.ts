import {
  checkBoolean,
  checkMs,
  checkOptions,
  checkText,
  InvalidArgumentError,
  MAX_LOCK_KEY_LENGTH,
  MAX_OWNER_LENGTH,
  orDefault,
} from "@helix/db/internal";

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
export const checkKey = (key: unknown): string => checkText("key", key, MAX_LOCK_KEY_LENGTH);

/** Checks an owner id: a readable string of 1 to 255 characters. */
export const checkOwner = (owner: unknown): string => checkText("owner", owner, MAX_OWNER_LENGTH);

/** The default safety margin: 5% of the TTL, at least 10 ms and at most 1 s. */
export function defaultMarginMs(ttlMs: number): number {
  checkMs("ttlMs", ttlMs, 1, MAX_TTL_MS);
  return Math.min(1000, Math.max(10, Math.round(ttlMs / 20)));
}

/**
 * The smallest safety margin a holder may give itself: 1% of the TTL, at least 1 ms. A holder must
 * give up strictly before the server would let someone else in, and a client's clock may run a
 * little slower than the database's.
 */
export function minMarginMs(ttlMs: number): number {
  checkMs("ttlMs", ttlMs, 1, MAX_TTL_MS);
  return Math.max(1, Math.ceil(ttlMs / 100));
}

/**
 * The safety margin of a holder with this TTL: the one given, or the default; checked to be at
 * least {@link minMarginMs} and at most `maxMs`.
 * @throws `InvalidArgumentError` naming `safetyMarginMs`.
 */
export function resolveMarginMs(ttlMs: number, givenMs: unknown, maxMs: number): number {
  const marginMs = checkMs("safetyMarginMs", orDefault(givenMs, defaultMarginMs(ttlMs)), 1, Math.max(1, maxMs));
  if (marginMs < minMarginMs(ttlMs)) {
    throw new InvalidArgumentError(
      "safetyMarginMs",
      `must be at least 1% of the TTL (${minMarginMs(ttlMs)} ms for ttlMs ${ttlMs}), so that a holder gives up before the database does`,
    );
  }
  return marginMs;
}

/** Applies defaults to acquire options and validates them, before anything is sent. */
export function resolveAcquireOptions(
  options: AcquireOptions | undefined,
  defaults: { ttlMs: number; waitMs: number; marginMs: number | undefined },
): ResolvedAcquireOptions {
  const given = checkOptions("options", options);
  const ttlMs = checkMs("ttlMs", orDefault(given.ttlMs, defaults.ttlMs), 1, MAX_TTL_MS);
  const waitMs = checkMs("waitMs", orDefault(given.waitMs, defaults.waitMs), 0, MAX_WAIT_MS);
  const retry = checkOptions("retry", given.retry);
  const minDelayMs = checkMs("retry.minDelayMs", orDefault(retry.minDelayMs, 10), 1, 60_000);
  const maxDelayMs = checkMs("retry.maxDelayMs", orDefault(retry.maxDelayMs, 250), minDelayMs, 60_000);
  const givenMarginMs = defaults.marginMs ?? defaultMarginMs(ttlMs);
  if (givenMarginMs >= ttlMs) {
    throw new InvalidArgumentError("ttlMs", `must be larger than the safety margin of ${givenMarginMs} ms`);
  }
  const marginMs = resolveMarginMs(ttlMs, givenMarginMs, ttlMs - 1);
  const signal = given.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidArgumentError("signal", "must be an AbortSignal");
  }
  const autoRenew = checkBoolean("autoRenew", given.autoRenew, false);
  return { ttlMs, waitMs, signal, minDelayMs, maxDelayMs, autoRenew, marginMs };
}
