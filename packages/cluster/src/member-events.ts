import type { PartitionAddress } from "./address";
import type { QueryClient } from "@helix/db";

/** Why an ownership ended without a confirmed release. */
export type LossReason =
  /** This member missed heartbeats for (TTL - margin) by its own clock and stopped everything. */
  | "fenced"
  /** The ownership table no longer gives it to this member (reassigned after a forced timeout). */
  | "taken"
  /** The member left. */
  | "left";

/** A partition this member owns, with the ownership's fencing generation and signal. */
export interface OwnedPartition extends PartitionAddress {
  /** Grows on every change of owner: fence the partition's side effects with it. */
  readonly generation: number;
  /** The incarnation of the process that owns it (this member's when the partition was given). */
  readonly incarnation: string;
  /** Aborts when this ownership ends: release requested, lost, or the member left. */
  readonly signal: AbortSignal;
  /** Whether the ownership still holds, checking the member's heartbeat deadline now. */
  isOwned(): boolean;
  /**
   * Fences a write in the caller's transaction: succeeds only while this process still owns the
   * partition at this generation, and keeps the coordinator from handing it over until the
   * transaction ends (see `fencePartition`).
   * @throws `PartitionFencedError` when it does not (roll back); also when this member already
   *   knows the ownership ended.
   */
  fence(connection: QueryClient): Promise<void>;
}

/** One change of this member's partitions. */
export type PartitionChange =
  | {
      /** The partition was given to this member (`partition:assigned`). */
      readonly type: "assigned";
      /** The partition that changed. */
      readonly partition: OwnedPartition;
    }
  | {
      /** The coordinator wants the partition elsewhere (`partition:release-requested`). */
      readonly type: "release-requested";
      /** The partition that changed. */
      readonly partition: OwnedPartition;
      /** The member it is to go to; null when none is named. */
      readonly targetNodeId: string | null;
    }
  | {
      /** This member's release is recorded (`partition:released`). */
      readonly type: "released";
      /** The partition that changed. */
      readonly partition: OwnedPartition;
    }
  | {
      /** The ownership ended without a release (`partition:lost`). */
      readonly type: "lost";
      /** The partition that changed. */
      readonly partition: OwnedPartition;
      /** Why the ownership ended. */
      readonly reason: LossReason;
    };

/** Events of a {@link Member}, by name, with their arguments. */
export interface MemberEvents {
  /** A partition was given to this member; start its work. */
  "partition:assigned": [partition: OwnedPartition];
  /** The coordinator wants a partition elsewhere: its signal has aborted; stop its work. */
  "partition:release-requested": [partition: OwnedPartition, targetNodeId: string | null];
  /** This member's release of a partition is recorded; the partition may go to its next owner. */
  "partition:released": [partition: OwnedPartition];
  /** An ownership ended without a release: stop its work at once (its signal has aborted). */
  "partition:lost": [partition: OwnedPartition, reason: LossReason];
  /** Every change above, in order. */
  change: [change: PartitionChange];
  /** Heartbeats missed the deadline; every partition was stopped. */
  "member:fenced": [];
  /** After being fenced or declared dead, the member is registered and heartbeating again. */
  "member:rejoined": [
    info: {
      /** The member's incarnation now: a new one when it registered again. */
      incarnation: string;
      /** Whether it was declared dead and registered again as a new incarnation (else it was only fenced). */
      reregistered: boolean;
    },
  ];
  /** A heartbeat could not reach the database (the member keeps trying until its deadline). */
  "member:heartbeat-failed": [error: Error];
  /** A background step failed (an `onRelease` handler threw, a sweep failed, ...). */
  "member:error": [error: Error];
}

/** `active`, `fenced` (stopped everything, trying to get back), `leaving`, `left`. */
export type MemberState = "active" | "fenced" | "leaving" | "left";
