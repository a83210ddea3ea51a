import { Backoff, setLongTimeout, type LongTimeout } from "@helix/db/internal";

/**
 * When a member's heartbeats go out: every `intervalMs`, and sooner, backing off, while they fail
 * (the failure took time out of the deadline already, and the next attempt goes out on a fresh
 * connection). One heartbeat at a time; the one in flight is remembered so that stopping can wait
 * for it.
 */
export class HeartbeatSchedule {
  readonly #intervalMs: number;
  readonly #send: () => Promise<void>;
  #timer: LongTimeout | undefined;
  /** While heartbeats fail: how soon the next one goes out. */
  #retry: Backoff | null = null;
  #inFlight: Promise<void> = Promise.resolve();
  #stopped = false;
  /** When the last heartbeat was sent (performance.now()). */
  #lastSentAt = 0;

  /** @param send - one heartbeat; it reports how it went with {@link succeeded} or {@link failed}. */
  constructor(intervalMs: number, send: () => Promise<void>) {
    this.#intervalMs = intervalMs;
    this.#send = send;
  }

  /** When the last heartbeat was sent (performance.now()). */
  get lastSentAt(): number {
    return this.#lastSentAt;
  }

  /** Sends a heartbeat now, then schedules the next. */
  beat(): Promise<void> {
    this.#timer?.clear();
    this.#lastSentAt = performance.now();
    const sent = this.#send().finally(() => this.#scheduleNext());
    this.#inFlight = sent;
    return sent;
  }

  /** The heartbeat was answered: the next goes out a whole interval later. */
  succeeded(): void {
    this.#retry = null;
  }

  /** The heartbeat failed: the next goes out sooner. */
  failed(): void {
    this.#retry ??= new Backoff(Math.max(1, Math.floor(this.#intervalMs / 10)), this.#intervalMs);
  }

  /** Sends no more heartbeats; resolves once the one in flight, if any, has ended (however it ended). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#timer?.clear();
    await this.#inFlight.catch(() => undefined);
  }

  #scheduleNext(): void {
    this.#timer?.clear();
    if (this.#stopped) return;
    this.#timer = setLongTimeout(() => void this.beat(), this.#retry?.next() ?? this.#intervalMs);
  }
}
