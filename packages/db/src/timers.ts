/**
 * The longest delay Node's `setTimeout` takes (about 24.8 days): a longer one fires at once, with a
 * TimeoutOverflowWarning.
 */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/**
 * A timeout of any length, the one way Helix arms a timer whose delay comes from options: it waits
 * in hops of at most {@link MAX_TIMER_DELAY_MS}, so that a delay above it fires when due instead of
 * at once. Made by {@link setLongTimeout}.
 */
export class LongTimeout {
  #timer: NodeJS.Timeout | undefined;
  /** What is left to wait after the current hop. */
  #afterHopMs: number;
  #ref = true;

  /** @internal Use {@link setLongTimeout}. */
  constructor(
    private readonly callback: () => void,
    delayMs: number,
  ) {
    // As Node's timers do, a negative or NaN delay means "as soon as possible".
    this.#afterHopMs = delayMs > 0 ? delayMs : 0;
    this.#hop();
  }

  /** Cancels the timeout; safe to call more than once, and after it fired. */
  clear(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Lets the process exit while only this timeout is pending (every later hop too). */
  unref(): this {
    this.#ref = false;
    this.#timer?.unref();
    return this;
  }

  /** Whether the pending timeout keeps the process alive. */
  hasRef(): boolean {
    return this.#timer?.hasRef() ?? false;
  }

  #hop(): void {
    const hopMs = Math.min(this.#afterHopMs, MAX_TIMER_DELAY_MS);
    this.#afterHopMs -= hopMs;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#afterHopMs > 0) this.#hop();
      else this.callback();
    }, hopMs);
    if (!this.#ref) this.#timer.unref();
  }
}

/**
 * Calls `callback` once after `delayMs`, however long (`Infinity`: never); unlike `setTimeout`,
 * a delay above {@link MAX_TIMER_DELAY_MS} does not fire at once.
 */
export function setLongTimeout(callback: () => void, delayMs: number): LongTimeout {
  return new LongTimeout(callback, delayMs);
}
