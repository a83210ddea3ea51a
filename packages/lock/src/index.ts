/**
 * Lease locks on MySQL with fencing epochs: one round trip per acquire, renew and release, expiry
 * judged by the database clock, and an AbortSignal that tells the holder when its lease ends.
 *
 * @packageDocumentation
 */
export { createLocker, inspectLock, Locker, type LockerOptions, type LockerSource, type LockInfo } from "./locker";
export { LocalDeadline } from "./deadline";
export { DEFAULT_PRUNE_LIMIT, MAX_PRUNE_LIMIT, pruneLocks, type PruneOptions } from "./prune";
export { fence, Lease, type LeaseEvents, type LeaseState } from "./lease";
export { FencedOutError, LeaseLostError, LockHeldError, LockTimeoutError, type LeaseEndReason } from "./errors";
export { defaultMarginMs, MAX_TTL_MS, MAX_WAIT_MS, minMarginMs, resolveMarginMs, type AcquireOptions, type RetryOptions } from "./options";
export {
  ClosedError,
  DatabaseUnavailableError,
  HelixError,
  InvalidArgumentError,
  isHelixError,
  SchemaNotMigratedError,
  Status,
} from "@helix/db";
