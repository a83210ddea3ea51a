import { setTimeout as sleep } from "node:timers/promises";

/**
 * Exponential backoff with jitter, the one way Helix waits between attempts (conflict retries,
 * waiting for a held lock, waiting for another process's migration). Each delay is drawn between
 * half and all of the current step, so that processes that collided spread out; the step doubles
 * after each delay, up to `maxMs`.
 */
export class Backoff {
  #stepMs: number;

  /**
   * @param firstMs - the first step
   * @param maxMs - the largest step
   */
  constructor(
    firstMs: number,
    private readonly maxMs: number,
  ) {
    this.#stepMs = firstMs;
  }

  /** The next delay, in milliseconds. */
  next(): number {
    const delay = this.#stepMs / 2 + (Math.random() * this.#stepMs) / 2;
    this.#stepMs = Math.min(this.#stepMs * 2, this.maxMs);
    return delay;
  }

  /**
   * Waits the next delay, cut to `limitMs` when that is shorter.
   * @throws the signal's reason when `signal` aborts (at once when it already has).
   */
  async wait(options: { limitMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    options.signal?.throwIfAborted();
    const delay = Math.max(0, Math.min(this.next(), options.limitMs ?? Number.POSITIVE_INFINITY));
    try {
      await sleep(delay, undefined, { signal: options.signal });
    } catch (error) {
      options.signal?.throwIfAborted();
      throw error;
    }
  }
}
