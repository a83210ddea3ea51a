// The migration lease: one row in helix_schema_lock, judged by the database clock. Whoever holds
// it applies migrations; the others wait.
//
// DDL cannot be fenced: a statement the server has started runs to its end whatever happens to the
// lease. So the holder (1) starts a statement only while, by its own clock, the lease is surely
// held for a good while more, (2) keeps renewing it while the statement runs, on another connection
// of the pool (the statement occupies its own), retrying soon when a renewal fails, and (3) records
// the statement with a query that checks its token: a record that fails means the lease lapsed at
// some point, so another process may have run the same statement, and the run stops (migrate.ts).
// The TTL therefore only has to outlast a gap in renewals, not the longest statement.

import { Backoff } from "./backoff";
import { MigrationLockError } from "./errors";
import type { QueryClient } from "./generated/db";
import * as q from "./generated/schema";

/**
 * Takes the migration lease, waiting up to `waitMs` for another process's to end or expire.
 * @throws {@link MigrationLockError} when it stays taken; the signal's reason when aborted.
 */
export async function acquireLease(
  client: QueryClient,
  owner: string,
  token: string,
  ttlMs: number,
  waitMs: number,
  signal: AbortSignal | undefined,
): Promise<MigrationLease> {
  const deadline = performance.now() + waitMs;
  const backoff = new Backoff(25, 500);
  for (;;) {
    signal?.throwIfAborted();
    const sentAt = performance.now();
    if ((await q.acquireSchemaLock(client, { owner, token, ttlUs: ttlMs * 1000 })) > 0) {
      return new MigrationLease(client, token, ttlMs, sentAt);
    }
    if (performance.now() >= deadline) {
      throw new MigrationLockError(
        `another process has been migrating for more than ${waitMs} ms (lockWaitMs); ` +
          "wait for it to finish, or raise lockWaitMs for long migrations",
      );
    }
    await backoff.wait({ limitMs: deadline - performance.now(), signal });
  }
}

/** Renewals in flight at most: one that hangs does not stop the next (on another connection). */
const MAX_RENEWALS_IN_FLIGHT = 2;

/**
 * The lease while this process holds it. Renews it every third of the TTL, whatever became of the
 * previous renewal (one that hangs must not hold up the next), and within a tenth of the TTL after
 * one fails, until {@link stop}.
 */
export class MigrationLease {
  /**
   * Until when, by the local clock, the lease is surely held: the send time of the last renewal that
   * succeeded (or of the acquisition) plus the TTL, less a tenth of it. The database set the expiry
   * from its own clock when the statement got there, which is later than it was sent; the tenth
   * covers the two clocks running at different rates (or the database's being stepped).
   */
  #heldUntil: number;
  #renewedAt: number;
  /** Renewals that failed since the last that succeeded. */
  #failures = 0;
  #lastError: unknown;
  /** A renewal found the lease expired or another process's: it is gone for good. */
  #lost = false;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  readonly #inFlight = new Set<Promise<void>>();
  #waiting: (() => void)[] = [];
  #retry: Backoff;

  constructor(
    private readonly client: QueryClient,
    private readonly token: string,
    private readonly ttlMs: number,
    acquiredAt: number,
  ) {
    this.#renewedAt = acquiredAt;
    this.#heldUntil = acquiredAt + ttlMs * 0.9;
    this.#retry = this.#backoff();
    this.#schedule(ttlMs / 3);
  }

  /**
   * Resolves when a statement may be started: by the local clock, the lease is held for at least a
   * third of its TTL more, so that the statement reaches the server (even after waiting for a
   * pooled connection) well before the lease could expire. When renewals fall behind, it waits for
   * one to succeed.
   * @param what - the statement, as error messages name it
   * @throws {@link MigrationLockError} when the lease is lost, or is not renewed before it would expire.
   */
  async ready(what: string): Promise<void> {
    for (;;) {
      const left = this.#heldUntil - performance.now();
      if (this.#lost || left <= 0) {
        throw new MigrationLockError(
          `stopped before ${what}: the migration lease could not be renewed (${this.describe()}), so another ` +
            "process may take it over. Nothing of this statement ran. Run migrate again: it resumes with it.",
        );
      }
      if (left >= this.ttlMs / 3) return;
      // Renewals on time that have not caught up (a busy event loop): renew now. After failures,
      // they are already being retried; wait for the next attempt.
      if (this.#inFlight.size === 0 && this.#failures === 0) this.#renew();
      await this.#nextAttempt(left);
    }
  }

  /** What the renewals saw, for error messages. */
  describe(): string {
    const since = `the last renewal that succeeded was sent ${Math.round(performance.now() - this.#renewedAt)} ms ago`;
    if (this.#lost) return `a renewal found it expired or taken by another process; ${since}, lockTtlMs is ${this.ttlMs}`;
    const error = this.#lastError instanceof Error ? this.#lastError.message : String(this.#lastError);
    const failures = this.#failures === 0 ? "" : `; ${this.#failures} renewal(s) failed since, the last with: ${error}`;
    return `${since}, lockTtlMs is ${this.ttlMs}${failures}`;
  }

  /**
   * Stops renewing. Waits a little for a renewal under way: one that reaches the database after the
   * release could extend the released lease, and keep others waiting for nothing.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.min(1000, this.ttlMs / 3))));
    await Promise.race([Promise.all(this.#inFlight), bound]);
    clearTimeout(timer);
    for (const wake of this.#waiting.splice(0)) wake();
  }

  #backoff(): Backoff {
    return new Backoff(Math.max(1, this.ttlMs / 30), Math.max(1, this.ttlMs / 10));
  }

  #schedule(delayMs: number): void {
    clearTimeout(this.#timer);
    if (this.#stopped || this.#lost) return;
    this.#timer = setTimeout(() => this.#renew(), Math.max(0, delayMs));
    // A migration that is waited for keeps the process alive; a forgotten timer must not.
    this.#timer.unref();
  }

  #renew(): void {
    if (this.#stopped || this.#lost) return;
    if (this.#inFlight.size >= MAX_RENEWALS_IN_FLIGHT) {
      // Renewals hang: sending more would only tie up the pool's connections.
      this.#schedule(this.#retry.next());
      return;
    }
    this.#schedule(this.ttlMs / 3);
    const attempt: Promise<void> = this.#attempt(performance.now()).finally(() => {
      this.#inFlight.delete(attempt);
      for (const wake of this.#waiting.splice(0)) wake();
    });
    this.#inFlight.add(attempt);
  }

  async #attempt(sentAt: number): Promise<void> {
    try {
      const renewed = await q.renewSchemaLock(this.client, { ttlUs: this.ttlMs * 1000, token: this.token });
      if (renewed !== 1) {
        this.#lost = true;
        clearTimeout(this.#timer);
        return;
      }
      this.#renewedAt = Math.max(this.#renewedAt, sentAt);
      this.#heldUntil = Math.max(this.#heldUntil, sentAt + this.ttlMs * 0.9);
      this.#failures = 0;
      this.#retry = this.#backoff();
    } catch (error) {
      // Not yet a lost lease: a retry may succeed before it expires. ready() and the record of the
      // statement decide whether the lease was held throughout.
      this.#failures++;
      this.#lastError = error;
      this.#schedule(this.#retry.next());
    }
  }

  /** Resolves after the next renewal attempt ends, or after `limitMs`. */
  #nextAttempt(limitMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, limitMs);
      this.#waiting.push(done);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
    });
  }
}
