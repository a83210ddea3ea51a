import { checkMs, InvalidArgumentError, setLongTimeout, type LongTimeout } from "@helix/db/internal";

/**
 * When a holder must stop, by its own monotonic clock: the send time of its last request the
 * database accepted, plus the TTL, minus the safety margin. The database cannot let anyone else in
 * before (that send time + TTL) by its clock, and the margin covers clocks running at slightly
 * different rates, so a holder that stops at this deadline has stopped before anyone else starts.
 * Used by leases and by cluster members alike.
 */
export class LocalDeadline {
  #at: number;
  #timer: LongTimeout | undefined;
  /** When the pending timer fires, on the `performance.now()` clock. */
  #firesAt = 0;
  #stopped = false;

  /**
   * @param ttlMs - the lifetime the database gives each accepted request
   * @param marginMs - how much earlier than (send time + ttl) the holder stops
   * @param check - called when the deadline may have passed; returns whether the holder still
   *   holds (it found time left), in which case the timer is armed again
   */
  constructor(
    private readonly ttlMs: number,
    private readonly marginMs: number,
    private readonly check: () => boolean,
  ) {
    // A deadline of NaN would never pass: the holder would never stop.
    checkMs("ttlMs", ttlMs, 2, Number.MAX_SAFE_INTEGER);
    checkMs("marginMs", marginMs, 1, ttlMs - 1);
    if (typeof check !== "function") throw new InvalidArgumentError("check", "must be a function");
    this.#at = 0;
  }

  /** The deadline on the `performance.now()` clock. */
  get at(): number {
    return this.#at;
  }

  /** Whether the deadline has passed now. */
  passed(): boolean {
    return performance.now() >= this.#at;
  }

  /** Milliseconds left, 0 once passed. */
  remainingMs(): number {
    return Math.max(0, this.#at - performance.now());
  }

  /** Moves the deadline to (sentAt + ttl - margin) for a request sent at `sentAt` and accepted, and arms the timer. */
  extendFrom(sentAt: number): void {
    if (typeof sentAt !== "number" || !Number.isFinite(sentAt)) {
      throw new InvalidArgumentError("sentAt", "must be a time on the performance.now() clock");
    }
    this.#at = sentAt + this.ttlMs - this.marginMs;
    // A pending timer that fires no later than the new deadline is kept: then the check finds time
    // left and arms again for the rest. So a holder renewing every third of its TTL sets about one
    // timer per TTL rather than one per renewal.
    if (this.#timer === undefined || this.#firesAt > this.#at) this.#arm();
  }

  /**
   * Stops the timer for good (the holder ended): a request accepted after this, still in flight when
   * the holder ended, moves the deadline but arms nothing.
   */
  stop(): void {
    this.#stopped = true;
    this.#timer?.clear();
  }

  #arm(): void {
    this.#timer?.clear();
    this.#timer = undefined;
    if (this.#stopped) return;
    // Timers measure from the event loop's cached time and may fire a little before
    // performance.now() reaches the deadline; then the check finds time left and re-arms.
    const delayMs = Math.max(1, Math.ceil(this.#at - performance.now()));
    this.#firesAt = performance.now() + delayMs;
    this.#timer = setLongTimeout(() => {
      this.#timer = undefined;
      if (this.check()) this.#arm();
    }, delayMs).unref();
  }
}
