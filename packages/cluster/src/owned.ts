import type { EventEmitter } from "node:events";

import type { Engine, QueryClient } from "@helix/db/internal";

import { PartitionFencedError } from "./errors";
import { fencePartitionOn, type PartitionOwnership } from "./fence";
import type { LossReason, MemberEvents, OwnedPartition, PartitionChange } from "./member-events";

/** A member's record of one partition it owns. */
export interface Ownership {
  readonly partition: OwnedPartition;
  /** Aborts the partition's signal, once: the work must stop (lost, released, asked to release). */
  abort(reason: Error): void;
  releasing: boolean;
  /** The work stopped (onRelease returned) but the confirmation did not reach the database. */
  confirmPending: boolean;
  /** Its confirmation is on its way: that answer, not a read, says how the ownership ended. */
  confirming: boolean;
}

/**
 * A new ownership, not yet announced. `checkDeadline` is the member's (it fences the member when
 * its heartbeat deadline passed), so that `isOwned()` is true only while the member may work.
 * `engine` is the member's database's, which decides how the fence locks.
 */
export function newOwnership(ref: PartitionOwnership, checkDeadline: () => boolean, engine: () => Promise<Engine>): Ownership {
  // The signal is made when first read: a member given 25,000 partitions at once would otherwise
  // make as many AbortControllers, most never looked at, while its heartbeats wait for the event
  // loop (on a busy machine that took seconds).
  let controller: AbortController | undefined;
  let abortedWith: Error | undefined;
  const owned: OwnedPartition = {
    domain: ref.domain,
    taskList: ref.taskList,
    partition: ref.partition,
    generation: ref.generation,
    incarnation: ref.incarnation,
    get signal(): AbortSignal {
      if (controller === undefined) {
        controller = new AbortController();
        if (abortedWith !== undefined) controller.abort(abortedWith);
      }
      return controller.signal;
    },
    isOwned() {
      checkDeadline();
      return abortedWith === undefined;
    },
    async fence(connection: QueryClient) {
      if (!owned.isOwned()) throw new PartitionFencedError(ref);
      await fencePartitionOn(connection, ref, engine);
    },
  };
  return {
    partition: owned,
    abort(reason: Error) {
      if (abortedWith !== undefined) return;
      abortedWith = reason;
      controller?.abort(reason);
    },
    releasing: false,
    confirmPending: false,
    confirming: false,
  };
}

/** The change that ends an ownership without a release. */
export const lost = (ownership: Ownership, reason: LossReason): PartitionChange => ({
  type: "lost",
  partition: ownership.partition,
  reason,
});

/** Emits a change as its own event, then as `change`. */
export function announce(member: EventEmitter<MemberEvents>, change: PartitionChange): void {
  switch (change.type) {
    case "assigned":
      member.emit("partition:assigned", change.partition);
      break;
    case "release-requested":
      member.emit("partition:release-requested", change.partition, change.targetNodeId);
      break;
    case "released":
      member.emit("partition:released", change.partition);
      break;
    case "lost":
      member.emit("partition:lost", change.partition, change.reason);
      break;
  }
  member.emit("change", change);
}

/**
 * Announces a member's changes (see {@link announce}), holding them until {@link Announcer.releaseSoon}:
 * the changes made before `join()` returned the member (its first read may find partitions already
 * given to it) are announced on the next turn of the event loop after it does, so that listeners
 * attached as soon as `join()` resolves see them.
 */
export class Announcer {
  readonly #member: EventEmitter<MemberEvents>;
  /** The changes held; null once released. */
  #held: (PartitionChange | null)[] | null = [];

  constructor(member: EventEmitter<MemberEvents>) {
    this.#member = member;
  }

  /** Announces the changes (null: an ownership that had ended already), or holds them. */
  announce(changes: readonly (PartitionChange | null)[]): void {
    if (this.#held !== null) {
      this.#held.push(...changes);
      return;
    }
    for (const change of changes) if (change !== null) announce(this.#member, change);
  }

  /** Announces what is held on the next turn of the event loop, and every change at once from then on. */
  releaseSoon(): void {
    setImmediate(() => {
      const held = this.#held ?? [];
      this.#held = null;
      this.announce(held);
    });
  }
}
