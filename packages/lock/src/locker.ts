import { randomFillSync } from "node:crypto";
import { setMaxListeners } from "node:events";

import {
  assertMigrated,
  Backoff,
  checkClient,
  checkMs,
  checkOptions,
  defaultProcessId,
  guardClient,
  ClosedError,
  DatabaseUnavailableError,
  InvalidArgumentError,
  lockQueries,
  openDatabase,
  orDefault,
  type DatabaseSource,
  type QueryClient,
} from "@helix/db/internal";

import { Database } from "./database";
import { LockHeldError, LockTimeoutError } from "./errors";
import { Lease } from "./lease";
import {
  checkKey,
  checkOwner,
  MAX_TTL_MS,
  MAX_WAIT_MS,
  resolveAcquireOptions,
  type AcquireOptions,
  type ResolvedAcquireOptions,
} from "./options";
import { pruneLocks, type PruneOptions } from "./prune";

/** Options of {@link createLocker}. Every field is optional. */
export interface LockerOptions {
  /** The readable id of this locker's leases, shown by `inspect`. @default "host:pid:random" */
  owner?: string;
  /**
   * Default lease lifetime. Also bounds how long one of the locker's statements may hang (40% of
   * it) before its connection is given up and the statement fails as unavailable. @default 15000
   */
  ttlMs?: number;
  /** Default time `acquire` waits for a held key. @default 10000 */
  waitMs?: number;
  /**
   * How much before (send time + ttl) a holder considers its lease gone. Covers clock-rate
   * differences and writes in flight; at least 1% of the TTL. @default 5% of the TTL, from 10 ms to 1 s
   */
  safetyMarginMs?: number;
}

/** A key's lease as the database sees it now. */
export interface LockInfo {
  /** The lock key. */
  readonly key: string;
  /** Whether a lease is in force now (active and not expired, by the database clock). */
  readonly held: boolean;
  /** The owner id of the last holder. */
  readonly owner: string;
  /** The epoch of the last grant (the current one when `held`). */
  readonly epoch: number;
  /** When the last grant was made, by the database clock (UTC, to the millisecond). */
  readonly acquiredAt: Date;
  /** When the last grant expires or expired, by the database clock; the release time once released. */
  readonly expiresAt: Date;
  /** Milliseconds until the lease expires, by the database clock; 0 when not held. */
  readonly remainingMs: number;
}

/**
 * Lease locks with fencing epochs on MySQL. Make one with {@link createLocker}; share it across a
 * process; `close()` it (or `await using`) at shutdown to release what it still holds.
 */
export class Locker implements AsyncDisposable {
  /** The owner id of this locker's leases. */
  readonly owner: string;

  readonly #db: Database;
  readonly #ttlMs: number;
  readonly #waitMs: number;
  readonly #marginMs: number | undefined;
  /** The options of an acquire() given none, and of a tryAcquire() given none: resolved once. */
  readonly #defaults: ResolvedAcquireOptions;
  readonly #tryDefaults: ResolvedAcquireOptions;
  readonly #closePool: () => Promise<void>;
  readonly #leases = new Set<Lease>();
  readonly #forget = (lease: Lease): void => {
    this.#leases.delete(lease);
  };
  /** Attempts whose reply has not come yet: close() waits for them (see there). */
  #attempts = 0;
  /** Called when the last attempt settles while close() waits. */
  #attemptsDone: (() => void) | undefined;
  /** Aborts on close(), cutting short every acquire() waiting between attempts. */
  readonly #closing = new AbortController();
  #closed = false;

  /** @internal Use {@link createLocker}. */
  constructor(
    db: Database,
    options: { owner: string; ttlMs: number; waitMs: number; marginMs: number | undefined },
    closePool: () => Promise<void>,
  ) {
    this.#db = db;
    this.owner = options.owner;
    this.#ttlMs = options.ttlMs;
    this.#waitMs = options.waitMs;
    this.#marginMs = options.marginMs;
    this.#defaults = this.#resolve({});
    this.#tryDefaults = this.#resolve({ waitMs: 0 });
    this.#closePool = closePool;
    // Every acquire() waiting between attempts listens to it: many at once are expected, not a leak.
    setMaxListeners(0, this.#closing.signal);
  }

  /**
   * Acquires the key, waiting up to `waitMs` with backoff and jitter while another owner holds it.
   * @throws `InvalidArgumentError` for a bad key or option, before anything is sent.
   * @throws {@link LockHeldError} when `waitMs` is 0 and the key is held.
   * @throws {@link LockTimeoutError} when the key stayed held for `waitMs`.
   * @throws `DatabaseUnavailableError` when the database could not be reached until the deadline.
   * @throws the signal's reason when `signal` aborts.
   */
  async acquire(key: string, options?: AcquireOptions): Promise<Lease> {
    this.#assertOpen();
    const checkedKey = checkKey(key);
    const o = options === undefined ? this.#defaults : this.#resolve(options);
    const deadline = performance.now() + o.waitMs;
    let backoff: Backoff | undefined;
    // Every attempt of this call sends the same token: an attempt whose reply was lost has taken the
    // key, and the next attempt then finds its own grant instead of waiting out its TTL.
    const token = newToken();
    let waitSignal: AbortSignal | undefined;
    for (;;) {
      o.signal?.throwIfAborted();
      this.#assertOpen();
      let unavailable: DatabaseUnavailableError | undefined;
      try {
        const lease = await this.#attempt(checkedKey, o, token);
        if (lease !== null) return lease;
      } catch (error) {
        if (!(error instanceof DatabaseUnavailableError)) throw error;
        unavailable = error;
      }
      const left = deadline - performance.now();
      if (left <= 0) {
        if (unavailable !== undefined) throw unavailable;
        if (o.waitMs === 0) throw await this.#heldError(checkedKey);
        throw new LockTimeoutError(checkedKey, o.waitMs);
      }
      // close() ends the wait: a closed locker neither polls on nor keeps the process alive.
      waitSignal ??= o.signal === undefined ? this.#closing.signal : AbortSignal.any([o.signal, this.#closing.signal]);
      backoff ??= new Backoff(o.minDelayMs, o.maxDelayMs);
      await backoff.wait({ limitMs: left, signal: waitSignal });
    }
  }

  /**
   * One attempt to acquire the key, in one round trip.
   * @returns the lease, or null when another owner holds the key.
   * @throws `InvalidArgumentError`, `DatabaseUnavailableError` as {@link Locker.acquire}.
   */
  async tryAcquire(key: string, options?: Omit<AcquireOptions, "waitMs" | "retry" | "signal">): Promise<Lease | null> {
    this.#assertOpen();
    const checkedKey = checkKey(key);
    const o = options === undefined ? this.#tryDefaults : this.#resolve({ ...checkOptions("options", options), waitMs: 0 });
    return this.#attempt(checkedKey, o, newToken());
  }

  /**
   * Runs `fn` while holding the key: acquires (waiting as {@link Locker.acquire}), renews about every
   * third of the TTL while `fn` runs, and releases when it settles. `fn` gets the lease; stop work
   * when `lease.signal` aborts, and fence writes with `lease.fence(conn)`.
   * @returns what `fn` returns.
   * @throws {@link LeaseLostError} when `fn` resolved but the lease was lost before it did: its work
   *   was not protected by the lock throughout.
   */
  async withLock<T>(key: string, fn: (lease: Lease) => Promise<T> | T, options?: AcquireOptions): Promise<T> {
    if (typeof fn !== "function") throw new InvalidArgumentError("fn", "must be a function");
    const lease = await this.acquire(key, { ...checkOptions("options", options), autoRenew: true });
    try {
      const result = await fn(lease);
      lease.throwIfNotHeld();
      return result;
    } finally {
      await lease.releaseQuietly();
    }
  }

  /**
   * Reads a key's lease as the database sees it now (see {@link inspectLock}).
   * @returns null for a key that has never been locked.
   */
  async inspect(key: string): Promise<LockInfo | null> {
    this.#assertOpen();
    return inspectLock(this.#db.client, key);
  }

  /**
   * Deletes up to `limit` (1000) rows of keys released or expired at least `idleForMs` ago, so that
   * a table of ever-new keys stays bounded; a deleted key's next grant still gets an epoch above
   * every epoch it had (see {@link pruneLocks}). Call it again while it returns `limit`.
   * @returns how many rows were deleted.
   * @throws `InvalidArgumentError` for bad options, before anything is sent.
   */
  async prune(options: PruneOptions): Promise<number> {
    this.#assertOpen();
    return pruneLocks(this.#db.client, options);
  }

  /** Releases every lease this locker still holds, then closes the pool if the locker made it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort(new ClosedError("locker"));
    // An attempt in flight may still be granted: it then hands the key straight back (it finds the
    // locker closed), which needs the pool open; otherwise the key would stay taken for its TTL.
    if (this.#attempts > 0) await new Promise<void>((resolve) => (this.#attemptsDone = resolve));
    await Promise.all([...this.#leases].map((lease) => lease.releaseQuietly()));
    await this.#closePool();
  }

  /** Same as {@link Locker.close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** One attempt, counted until it settles so that close() can wait for it. */
  async #attempt(key: string, o: ResolvedAcquireOptions, token: string): Promise<Lease | null> {
    this.#attempts++;
    try {
      const sentAt = performance.now();
      const result = await lockQueries.acquireLock(this.#db.client, { lockKey: key, owner: this.owner, token, ttlUs: o.ttlMs * 1000 });
      // The granted epoch, or 0 when another owner holds the key (see AcquireLock).
      if (result.insertId === 0) return null;
      const lease = new Lease(this.#db, {
        key,
        owner: this.owner,
        token,
        epoch: result.insertId,
        ttlMs: o.ttlMs,
        marginMs: o.marginMs,
        sentAt,
        onEnd: this.#forget,
      });
      this.#leases.add(lease);
      if (this.#closed || o.signal?.aborted === true) {
        // Granted after the caller gave up: hand the key straight back.
        await lease.releaseQuietly();
        o.signal?.throwIfAborted();
        this.#assertOpen();
      }
      if (o.autoRenew) lease.startAutoRenew();
      return lease;
    } finally {
      if (--this.#attempts === 0) this.#attemptsDone?.();
    }
  }

  async #heldError(key: string): Promise<LockHeldError> {
    const info = await this.inspect(key).catch(() => null);
    return new LockHeldError(key, info?.held === true ? info.owner : undefined, info?.held === true ? info.epoch : undefined);
  }

  #resolve(options: AcquireOptions | undefined): ResolvedAcquireOptions {
    return resolveAcquireOptions(options, { ttlMs: this.#ttlMs, waitMs: this.#waitMs, marginMs: this.#marginMs });
  }

  #assertOpen(): void {
    if (this.#closed) throw new ClosedError("locker");
  }
}

/**
 * Reads a key's lease as the database sees it now, in one round trip, without a locker: for status
 * pages and command lines that only look.
 * @returns null for a key that has never been locked.
 * @throws `InvalidArgumentError` for a bad key.
 */
export async function inspectLock(client: QueryClient, key: string): Promise<LockInfo | null> {
  const lockKey = checkKey(key);
  const row = await lockQueries.getLock(guardClient(checkClient("client", client)), { lockKey });
  if (row === null) return null;
  const held = row.held === 1;
  return {
    key: row.lockKey,
    held,
    owner: row.owner,
    epoch: row.epoch,
    acquiredAt: row.acquiredAt,
    expiresAt: row.expiresAt,
    remainingMs: held ? Math.max(0, Math.floor(row.remainingUs / 1000)) : 0,
  };
}

const TOKEN_BYTES = 16;
/** Random bytes for tokens, drawn from the system's generator 256 tokens at a time. */
const tokenBytes = Buffer.alloc(TOKEN_BYTES * 256);
let tokenOffset = tokenBytes.length;

/**
 * A lease's secret token, 128 random bits: it alone can renew, release or fence the lease. Drawing
 * the bytes in batches saves a call into the system's generator per acquire (the costliest step of
 * an acquire after the round trip); each token still has bytes of its own, never reused.
 */
function newToken(): string {
  if (tokenOffset === tokenBytes.length) {
    randomFillSync(tokenBytes);
    tokenOffset = 0;
  }
  const token = tokenBytes.toString("hex", tokenOffset, tokenOffset + TOKEN_BYTES);
  tokenOffset += TOKEN_BYTES;
  return token;
}

/** Where a locker's queries go: a mysql2 pool (or anything with its `query`), a URL, or options. */
export type LockerSource = DatabaseSource<QueryClient>;

/**
 * Creates a locker after checking that the database answers and has Helix's schema.
 *
 * Given a URL or connection options, the locker makes its own pool and closes it in `close()`;
 * given a pool, it leaves the pool to the caller.
 * @throws `InvalidArgumentError` for bad options; `DatabaseUnavailableError` when the database does
 *   not answer; `SchemaNotMigratedError` (saying what to run) when the schema is missing or old.
 */
export async function createLocker(source: LockerSource, options: LockerOptions = {}): Promise<Locker> {
  const given = checkOptions("options", options);
  const owner = checkOwner(orDefault(given.owner, defaultProcessId()));
  const ttlMs = checkMs("ttlMs", orDefault(given.ttlMs, 15_000), 1, MAX_TTL_MS);
  const waitMs = checkMs("waitMs", orDefault(given.waitMs, 10_000), 0, MAX_WAIT_MS);
  const marginMs = given.safetyMarginMs === undefined ? undefined : checkMs("safetyMarginMs", given.safetyMarginMs, 1, ttlMs - 1);
  resolveAcquireOptions(undefined, { ttlMs, waitMs, marginMs });

  // A statement that hangs fails in time for a renewal (due at a third of the TTL, then retried
  // within a tenth) to be sent again on a fresh connection before the lease's deadline. Leases much
  // shorter than the locker's `ttlMs` want a locker of their own with a shorter one.
  const opened = await openDatabase(source, { statementTimeoutMs: Math.max(1, Math.floor(ttlMs * 0.4)) });
  try {
    const db = await Database.connect(opened.client);
    await assertMigrated(opened.client);
    return new Locker(db, { owner, ttlMs, waitMs, marginMs }, () => opened.close());
  } catch (error) {
    await opened.close().catch(() => undefined);
    throw error;
  }
}
