import type { ConnectionSource } from "@helix/db/internal";

import { ConfirmationBatch } from "./confirmations";
import type { OwnedPartition, PartitionChange } from "./member-events";
import { lost, type Ownership } from "./owned";

/** What a member lends its releases. */
export interface ReleaseHost {
  /** The member's `onRelease`, if it has one. */
  readonly onRelease: ((partition: OwnedPartition) => Promise<void> | void) | undefined;
  /** Ends an ownership that is still current with `change`, and announces it. */
  end(ownership: Ownership, change: PartitionChange): void;
  /** A confirmation did not reach the database: the member reads its partitions again at its next heartbeat. */
  confirmationFailed(error: Error): void;
  /** `onRelease` threw. */
  releaseFailed(error: Error): void;
}

/**
 * A member's releases under way: stopping a partition's work (`onRelease`) and confirming the
 * release, in the background, each remembered until it ends so that leaving waits for them.
 */
export class Releases {
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #confirmations: ConfirmationBatch;
  readonly #host: ReleaseHost;

  /** @param member - whose releases these are; `client` is the member's (bounded) client. */
  constructor(client: ConnectionSource, member: { cluster: string; nodeId: string }, host: ReleaseHost) {
    this.#confirmations = new ConfirmationBatch(client, { cluster: member.cluster, nodeId: member.nodeId });
    this.#host = host;
  }

  /** Stops the partition's work, then confirms its release (unless `onRelease` threw), in the background. */
  stopThenConfirm(ownership: Ownership): void {
    this.#background(this.stop(ownership.partition).then((stopped) => stopped && this.confirm(ownership)));
  }

  /** Sends a confirmation again (its work stopped already), in the background. */
  confirmAgain(ownership: Ownership): void {
    this.#background(this.confirm(ownership));
  }

  /** Runs `onRelease`. @returns whether it returned without throwing. */
  async stop(partition: OwnedPartition): Promise<boolean> {
    try {
      await this.#host.onRelease?.(partition);
      return true;
    } catch (error) {
      this.#host.releaseFailed(error instanceof Error ? error : new Error(String(error)));
      return false;
    }
  }

  /** Confirms a release whose work stopped. @returns whether the database took the confirmation. */
  async confirm(ownership: Ownership): Promise<boolean> {
    const p = ownership.partition;
    ownership.confirmPending = false;
    ownership.confirming = true;
    try {
      const confirmed = await this.#confirmations.confirm(p);
      this.#host.end(ownership, confirmed ? { type: "released", partition: p } : lost(ownership, "taken"));
      return confirmed;
    } catch (error) {
      // Not confirmed: the work is stopped already; the next heartbeat reads the partitions again
      // and sends the confirmation again.
      ownership.confirmPending = true;
      ownership.confirming = false;
      this.#host.confirmationFailed(error as Error);
      return false;
    }
  }

  /** Resolves once every release under way has ended, however it ended. */
  async settled(): Promise<void> {
    await Promise.allSettled(this.#inFlight);
  }

  #background(work: Promise<unknown>): void {
    const done = (): void => void this.#inFlight.delete(work);
    this.#inFlight.add(work);
    work.then(done, done);
  }
}
