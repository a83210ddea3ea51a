import { setLongTimeout, transaction, type ConnectionSource, type LongTimeout } from "@helix/db/internal";
import type { Lease, Locker } from "@helix/lock";

import { sweepLeaseKey } from "./keys";
import { sweepExpiredMembers } from "./ownership";

/** Where a {@link Sweeper} works, and how often. */
export interface SweeperInit {
  readonly cluster: string;
  readonly locker: Locker;
  readonly client: ConnectionSource;
  readonly intervalMs: number;
  /** How long a departed member (owning nothing) is kept before the sweep deletes it. */
  readonly retentionMs: number;
  /** Told of a sweep that failed. */
  readonly onError: (error: Error) => void;
}

/**
 * A member's part in sweeping expired members: about every `intervalMs` it tries to hold the
 * cluster's sweep lease, and while it does, marks expired members inactive (see
 * `sweepExpiredMembers`). One member at a time sweeps.
 */
export class Sweeper {
  #timer: LongTimeout | undefined;
  /** The sweep in flight (or the last one): stop() waits for it. */
  #sweeping: Promise<void> = Promise.resolve();
  #lease: Lease | null = null;
  #stopped = false;

  constructor(private readonly init: SweeperInit) {}

  /** Arms the next sweep, with jitter; once stopped, nothing (not even a sweep in flight) arms one. */
  start(): void {
    if (this.#stopped) return;
    const jitter = 0.75 + Math.random() * 0.5;
    this.#timer = setLongTimeout(() => {
      this.#sweeping = this.#sweep().then(() => this.start());
    }, this.init.intervalMs * jitter).unref();
  }

  /** Stops sweeping: waits for a sweep in flight (it may be taking the lease), then hands the lease back. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#timer?.clear();
    await this.#sweeping;
    await this.#lease?.release().catch(() => undefined);
  }

  /** One sweep; never rejects. */
  async #sweep(): Promise<void> {
    const { cluster, locker, client, intervalMs, retentionMs } = this.init;
    try {
      if (this.#lease?.isHeld() === true) {
        await this.#lease.renew();
      } else {
        // The sweep lease outlives two sweep intervals, so that its holder keeps it between sweeps.
        this.#lease = await locker.tryAcquire(sweepLeaseKey(cluster), { ttlMs: intervalMs * 2 });
      }
      if (this.#lease === null) return;
      await transaction(client, (conn) => sweepExpiredMembers(conn, cluster, retentionMs));
    } catch (error) {
      this.#lease = null;
      this.init.onError(error as Error);
    }
  }
}
