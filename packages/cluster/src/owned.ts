import type { EventEmitter } from "node:events";

import type { Engine, QueryClient } from "@helix/db/internal";

import { PartitionFencedError } from "./errors";
import { fencePartitionOn, type PartitionOwnership } from "./fence";
import type { LossReason, MemberEvents, OwnedPartition, PartitionChange } from "./member-events";

/** A member's record of one partition it owns. */
export interface Ownership {
  readonly partition: OwnedPartition;
  readonly controller: AbortController;
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
  const controller = new AbortController();
  const owned: OwnedPartition = {
    domain: ref.domain,
    taskList: ref.taskList,
    partition: ref.partition,
    generation: ref.generation,
    incarnation: ref.incarnation,
    signal: controller.signal,
    isOwned() {
      checkDeadline();
      return !controller.signal.aborted;
    },
    async fence(connection: QueryClient) {
      if (!owned.isOwned()) throw new PartitionFencedError(ref);
      await fencePartitionOn(connection, ref, engine);
    },
  };
  return { partition: owned, controller, releasing: false, confirmPending: false, confirming: false };
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
