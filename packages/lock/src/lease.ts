import {
  checkClient,
  checkInteger,
  classified,
  leaseFenceQuery,
  lockQueries,
  SafeEmitter,
  serverEngine,
  setLongTimeout,
  type Engine,
  type LongTimeout,
  type QueryClient,
} from "@helix/db/internal";

import { FencedOutError, LeaseLostError, type LeaseEndReason } from "./errors";
import type { Database } from "./database";
import { LocalDeadline } from "./deadline";
import { checkKey } from "./options";

/** Where a lease stands: `held` until it is `released` by its holder or `lost`. */
export type LeaseState = "held" | "released" | "lost";

/** Events of a {@link Lease}, by name, with their arguments. */
export interface LeaseEvents {
  /** A renewal succeeded; the lease is held for another TTL. */
  "lease:renewed": [
    renewal: {
      /** The lease's key. */
      key: string;
      /** The lease's epoch, unchanged by renewal. */
      epoch: number;
      /** Milliseconds until the lease's local deadline, counted from this renewal. */
      remainingMs: number;
    },
  ];
  /** A renewal could not reach the database; the lease stays held until its local deadline. */
  "lease:renew-failed": [error: Error];
  /** The lease was lost (deadline passed or renewal refused); stop the work it protects. */
  "lease:lost": [error: LeaseLostError];
  /** The lease was released by its holder. */
  "lease:released": [];
  /** A release in `withLock`, `close()` or `[Symbol.asyncDispose]` failed; the lease ends at its TTL. */
  "lease:release-failed": [error: Error];
}

/** What a lease needs from the locker that granted it. */
export interface LeaseGrant {
  readonly key: string;
  readonly owner: string;
  readonly token: string;
  readonly epoch: number;
  readonly ttlMs: number;
  readonly marginMs: number;
  /** performance.now() when the granting request was sent. */
  readonly sentAt: number;
  /** Called once when the lease ends, so the locker forgets it. */
  readonly onEnd: (lease: Lease) => void;
}

/**
 * A lease on a key: proof, until its deadline, that this process is the key's only holder, with
 * `epoch` as the fencing token. Made by a locker's `acquire`, `tryAcquire` or `withLock`.
 *
 * The holder judges its lease by its own monotonic clock: it is valid until the send time of the
 * last successful acquire or renewal + ttl - safety margin, which is never later than the moment
 * the database (whose clock started counting after the request was sent) lets another owner in.
 * `signal` aborts by that deadline even when the database cannot be reached.
 *
 * A listener that throws does not disturb the lease (see `SafeEmitter`): it is reported as a
 * process warning, and renewals go on.
 */
export class Lease extends SafeEmitter<LeaseEvents> implements AsyncDisposable {
  /** The locked key. */
  readonly key: string;
  /** The readable id of the holder, as shown by `inspect`. */
  readonly owner: string;
  /** The fencing token: grows by one on every change of owner of the key, never reused. */
  readonly epoch: number;
  /** The lease's lifetime, renewed by `renew()` or auto-renew. */
  readonly ttlMs: number;

  readonly #db: Database;
  readonly #token: string;
  readonly #marginMs: number;
  readonly #onEnd: (lease: Lease) => void;
  // Made when first asked for: most leases are released without anyone reading `signal`, and an
  // AbortController, like an error's stack trace, costs more than the rest of a lease.
  #controller: AbortController | undefined;
  #endError: LeaseLostError | undefined;
  #endReason: LeaseEndReason | undefined;
  #state: LeaseState = "held";
  readonly #deadline: LocalDeadline;
  #renewTimer: LongTimeout | undefined;
  #renewing: Promise<void> | undefined;
  #autoRenew = false;

  /** @internal Leases are made by a locker. */
  constructor(db: Database, grant: LeaseGrant) {
    super();
    this.#db = db;
    this.key = grant.key;
    this.owner = grant.owner;
    this.epoch = grant.epoch;
    this.ttlMs = grant.ttlMs;
    this.#token = grant.token;
    this.#marginMs = grant.marginMs;
    this.#onEnd = grant.onEnd;
    this.#deadline = new LocalDeadline(grant.ttlMs, grant.marginMs, () => this.isHeld());
    this.#deadline.extendFrom(grant.sentAt);
  }

  /** Aborts when the lease stops being held (lost or released); its reason is a {@link LeaseLostError}. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#state !== "held") this.#controller.abort(this.#error());
    }
    return this.#controller.signal;
  }

  /** `held`, `released` or `lost`. Reading it checks the local deadline. */
  get state(): LeaseState {
    this.isHeld();
    return this.#state;
  }

  /**
   * When the database will consider the lease expired, estimated from the database clock as measured
   * when the locker was created and this process's monotonic clock. Use `inspect` for the exact value.
   */
  get expiresAt(): Date {
    return new Date(this.#db.serverTimeAt(this.#deadline.at + this.#marginMs));
  }

  /** Milliseconds left before the local deadline; 0 once the lease is not held. */
  remainingMs(): number {
    return this.isHeld() ? Math.floor(this.#deadline.remainingMs()) : 0;
  }

  /**
   * Whether the lease is still held, checking the local deadline now (a process resumed after a
   * pause learns here, synchronously, that its lease ran out, and `signal` aborts at once).
   */
  isHeld(): boolean {
    if (this.#state === "held" && this.#deadline.passed()) this.#lose("expired");
    return this.#state === "held";
  }

  /** Throws the {@link LeaseLostError} that ended the lease, if it is not held. */
  throwIfNotHeld(): void {
    if (!this.isHeld()) throw this.#error();
  }

  /**
   * Extends the lease by its TTL from now, in one round trip. Concurrent calls share one request.
   * @throws {@link LeaseLostError} if the lease is no longer held, or the database refused (the
   *   lease had expired there or another owner took the key); `signal` has aborted then.
   * @throws `DatabaseUnavailableError` if the database could not be reached; the lease stays held
   *   until its local deadline, so the caller may try again.
   */
  renew(): Promise<void> {
    this.#renewing ??= this.#renewOnce().finally(() => {
      this.#renewing = undefined;
    });
    return this.#renewing;
  }

  /**
   * Ends the lease in one round trip; the key is free for others at once. The epoch is kept, so the
   * next owner gets a larger one. Resolves once a renewal in flight has been answered too. Safe to
   * call more than once.
   * @returns true if the database still had this lease, false if it was already lost or released.
   * @throws `DatabaseUnavailableError` if the database could not be reached (the lease then ends at
   *   its TTL; locally it has ended already).
   */
  async release(): Promise<boolean> {
    const wasHeld = this.isHeld();
    if (this.#state === "released") return false;
    if (wasHeld) this.#end("released");
    let released: number;
    try {
      released = await lockQueries.releaseLock(this.#db.client, { lockKey: this.key, token: this.#token });
    } finally {
      // A renewal in flight is answered before release() resolves (it cannot revive the lease: the
      // key is released or another token's), so that nothing of the lease outlives it, not even a
      // statement on a pool its owner is about to end.
      await this.#renewing?.catch(() => undefined);
    }
    if (wasHeld) this.emit("lease:released");
    return wasHeld && released === 1;
  }

  /**
   * Fences a write in the caller's own transaction: call it on the transaction's connection before
   * the write. It succeeds only while this lease's epoch is still the key's current, unexpired lease,
   * and holds a row lock that keeps any new owner out until the transaction ends (shared on
   * MySQL and MariaDB; exclusive on TiDB, which has no shared locks).
   *
   * ```ts
   * const conn = await pool.getConnection();
   * await conn.beginTransaction();
   * await lease.fence(conn); // throws unless this lease is still the newest
   * await conn.query("UPDATE accounts SET balance = ? WHERE id = ?", [balance, id]);
   * await conn.commit();
   * ```
   * @throws {@link LeaseLostError} if the lease is not held locally; {@link FencedOutError} if the
   *   database has a newer or no lease (roll back).
   */
  async fence(connection: QueryClient): Promise<void> {
    checkClient("connection", connection);
    this.throwIfNotHeld();
    await fenceOn(connection, this.key, this.epoch, serverEngine(this.#db.client));
  }

  /** Releases the lease; a failure is reported as `lease:release-failed`, not thrown. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.releaseQuietly();
  }

  /** @internal Releases, reporting a failure as an event instead of throwing. */
  async releaseQuietly(): Promise<void> {
    try {
      await this.release();
    } catch (error) {
      this.emit("lease:release-failed", error as Error);
    }
  }

  /** @internal Renews about every third of the TTL until the lease ends. */
  startAutoRenew(): void {
    if (this.#autoRenew || this.#state !== "held") return;
    this.#autoRenew = true;
    this.#scheduleRenew(this.ttlMs / 3);
  }

  async #renewOnce(): Promise<void> {
    this.throwIfNotHeld();
    const sentAt = performance.now();
    const renewed = await lockQueries.renewLock(this.#db.client, { ttlUs: this.ttlMs * 1000, lockKey: this.key, token: this.#token });
    if (renewed !== 1) {
      if (this.#state === "held") this.#lose("renewal-rejected");
      this.throwIfNotHeld();
      return;
    }
    if (this.#state !== "held") {
      // The reply came after the local deadline: the lease is already given up here, so give it up
      // in the database too rather than keep others waiting for its TTL.
      void this.releaseQuietly();
      this.throwIfNotHeld();
    }
    this.#deadline.extendFrom(sentAt);
    this.emit("lease:renewed", { key: this.key, epoch: this.epoch, remainingMs: this.remainingMs() });
  }

  #scheduleRenew(delayMs: number): void {
    this.#renewTimer?.clear();
    // A renewal that settles after the lease ended (released by a listener, say) arms nothing.
    if (this.#state !== "held") return;
    this.#renewTimer = setLongTimeout(() => {
      this.renew().then(
        () => this.#scheduleRenew(this.ttlMs / 3),
        (error: unknown) => {
          if (this.#state !== "held") return;
          // Try again soon; the deadline timer ends the lease if no renewal gets through in time.
          this.#scheduleRenew(Math.min(this.ttlMs / 10, 1000));
          this.emit("lease:renew-failed", error as Error);
        },
      );
    }, delayMs).unref();
  }

  #lose(reason: LeaseEndReason): void {
    this.#end(reason);
    this.emit("lease:lost", this.#error());
  }

  #end(reason: LeaseEndReason): void {
    this.#state = reason === "released" ? "released" : "lost";
    this.#endReason = reason;
    this.#deadline.stop();
    this.#renewTimer?.clear();
    this.#controller?.abort(this.#error());
    this.#onEnd(this);
  }

  /** Why the lease ended, as the one error that `signal`, `throwIfNotHeld` and `lease:lost` give. */
  #error(): LeaseLostError {
    this.#endError ??= new LeaseLostError(this.key, this.epoch, this.#endReason ?? "expired");
    return this.#endError;
  }
}

/**
 * Fences a write in the caller's transaction by key and epoch, for code that received the epoch
 * from elsewhere (a job payload, another service). See {@link Lease.fence}. The key and epoch are
 * checked before anything is sent.
 * @throws `InvalidArgumentError` (argument `key` or `epoch`) for a key that is not 1 to 255
 *   characters of text, or an epoch that is not a whole number from 0 to 2^53 - 1.
 * @throws {@link FencedOutError} unless `epoch` is the key's current, unexpired lease.
 */
export async function fence(connection: QueryClient, key: string, epoch: number): Promise<void> {
  checkClient("connection", connection);
  const checkedKey = checkKey(key);
  const checkedEpoch = checkInteger("epoch", epoch, 0, Number.MAX_SAFE_INTEGER);
  await fenceOn(connection, checkedKey, checkedEpoch, serverEngine(connection));
}

/** {@link fence}, locking as `engine` needs: the engine of the connection, or of the lease's own pool. */
async function fenceOn(connection: QueryClient, key: string, epoch: number, engine: Promise<Engine>): Promise<void> {
  try {
    const check = leaseFenceQuery(await engine);
    const row = await check(connection, { lockKey: key, epoch });
    if (row === null) throw new FencedOutError(key, epoch);
  } catch (error) {
    // The caller's connection, in the caller's transaction: classified, never retried.
    throw classified("the database", error);
  }
}
