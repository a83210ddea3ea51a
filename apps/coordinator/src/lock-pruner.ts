import type { QueryClient } from "@helix/db";
import { DEFAULT_PRUNE_LIMIT, pruneLocks } from "@helix/lock";

/** How often the service deletes idle lock rows. */
export const LOCK_PRUNE_INTERVAL_MS = 3_600_000;

/** The first prune comes this long after the start (with jitter), so that a service restarted more often than hourly still prunes. */
export const LOCK_PRUNE_FIRST_DELAY_MS = 60_000;

/**
 * Most batches of {@link DEFAULT_PRUNE_LIMIT} rows one run deletes (a million rows): a run ends in
 * bounded time even on a table that was never pruned, and the next run goes on from there.
 */
export const LOCK_PRUNE_MAX_BATCHES = 1000;

/** What one run of the pruner did. */
export interface LockPruneRun {
  readonly deleted: number;
  readonly batches: number;
  readonly durationMs: number;
}

/** Where and how a {@link LockPruner} works. */
export interface LockPrunerInit {
  readonly client: QueryClient;
  /** Rows released or expired at least this long ago are deleted. */
  readonly idleForMs: number;
  readonly intervalMs?: number;
  readonly firstDelayMs?: number;
  readonly onRun: (run: LockPruneRun) => void;
  readonly onError: (error: Error) => void;
}

/**
 * Deletes idle rows of `helix_locks` on a schedule, in batches, one after another (see
 * `pruneLocks`: a deleted key's next epoch stays above all its earlier ones), so that a database
 * whose applications lock ever-new keys keeps a bounded table: about (new keys per second) ×
 * (idle time + interval) rows. Every service instance may run one; concurrent prunes are safe.
 */
export class LockPruner {
  #timer: NodeJS.Timeout | undefined;
  /** The run in flight (or the last one): stop() waits for it. */
  #running: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(private readonly init: LockPrunerInit) {}

  /** Arms the first run, after `firstDelayMs` with jitter; each run arms the next. */
  start(): void {
    this.#arm((this.init.firstDelayMs ?? LOCK_PRUNE_FIRST_DELAY_MS) * (0.5 + Math.random()));
  }

  /** Stops: no run starts after this, and one in flight ends after its current batch. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  #arm(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#running = this.#run().then(() => this.#arm(this.init.intervalMs ?? LOCK_PRUNE_INTERVAL_MS));
    }, delayMs).unref();
  }

  /** One run: batches until fewer than a full batch were idle, or the run's bound; never rejects. */
  async #run(): Promise<void> {
    const started = performance.now();
    let deleted = 0;
    let batches = 0;
    try {
      while (!this.#stopped && batches < LOCK_PRUNE_MAX_BATCHES) {
        const n = await pruneLocks(this.init.client, { idleForMs: this.init.idleForMs, limit: DEFAULT_PRUNE_LIMIT });
        batches++;
        deleted += n;
        if (n < DEFAULT_PRUNE_LIMIT) break;
      }
      this.init.onRun({ deleted, batches, durationMs: performance.now() - started });
    } catch (error) {
      this.init.onError(error as Error);
    }
  }
}
