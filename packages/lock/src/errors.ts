import { HelixError } from "@helix/db";

/** The key is held by another owner and the caller did not wait (`waitMs: 0`). */
export class LockHeldError extends HelixError {
  readonly code = "HELIX_LOCK_HELD";

  /**
   * @param key - the contended key
   * @param holder - the owner id of the current holder, when it could be read
   * @param epoch - the current holder's epoch, when it could be read
   */
  constructor(
    readonly key: string,
    readonly holder: string | undefined,
    readonly epoch: number | undefined,
  ) {
    super(
      `lock "${key}" is held by ${holder ?? "another owner"}` +
        (epoch === undefined ? "" : ` (epoch ${epoch})`) +
        "; pass waitMs to wait for it, or use tryAcquire()",
    );
  }
}

/** The key stayed held by others for the whole `waitMs`. */
export class LockTimeoutError extends HelixError {
  readonly code = "HELIX_LOCK_TIMEOUT";

  constructor(
    /** The key that stayed held. */
    readonly key: string,
    /** How long the caller waited, in milliseconds. */
    readonly waitMs: number,
  ) {
    super(`lock "${key}" was not free within waitMs = ${waitMs} ms; raise waitMs or try again later`);
  }
}

/** Why a lease stopped being held. */
export type LeaseEndReason =
  /** Its local deadline (send time of the last successful acquire or renewal + ttl - margin) passed. */
  | "expired"
  /** The database refused a renewal: the lease had expired there or another owner took the key. */
  | "renewal-rejected"
  /** The holder released it. */
  | "released";

/**
 * The lease is no longer held, so the work it protected must stop. It is also the `reason` of a
 * lease's aborted `signal`.
 */
export class LeaseLostError extends HelixError {
  readonly code = "HELIX_LEASE_LOST";

  constructor(
    /** The key of the lost lease. */
    readonly key: string,
    /** The lost lease's epoch: writes fenced with it are refused from now on. */
    readonly epoch: number,
    /** Why the lease ended. */
    readonly reason: LeaseEndReason,
    options?: { cause?: unknown },
  ) {
    super(`lease on "${key}" (epoch ${epoch}) is no longer held: ${describe(reason)}`, options);
  }
}

function describe(reason: LeaseEndReason): string {
  switch (reason) {
    case "expired":
      return "its local deadline passed without a successful renewal";
    case "renewal-rejected":
      return "the database refused the renewal (expired there, or taken by another owner)";
    case "released":
      return "it was released";
  }
}

/** A fenced write was refused: `epoch` is no longer the current, unexpired lease on the key. */
export class FencedOutError extends HelixError {
  readonly code = "HELIX_FENCED_OUT";

  constructor(
    /** The key the write was fenced by. */
    readonly key: string,
    /** The epoch the write named, no longer the current lease. */
    readonly epoch: number,
  ) {
    super(
      `epoch ${epoch} is no longer the current lease on "${key}"; a newer owner may exist. ` +
        "Roll the transaction back and do not retry the write with this lease.",
    );
  }
}
