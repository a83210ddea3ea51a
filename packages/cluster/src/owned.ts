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
