// What the planner takes and gives, shared by its modules (which index.ts imports, so they cannot
// import it back).
import type { PartitionRef } from "@helix/cluster";

/** A member as the planner sees it. */
export interface PlannerMember {
  /** The member's id in the cluster. */
  readonly nodeId: string;
  /** Share of partitions relative to the others; 0 takes none. */
  readonly weight: number;
  /** Whether the member is live now by the database clock. */
  readonly live: boolean;
  /** For a member that is not live: milliseconds since its registration ended, by the database clock. */
  readonly sinceExpiryMs: number;
  /**
   * For a member that left saying it would be back: how long after its registration ended its
   * partitions stay reserved for it (as within the reassignment delay, when that is longer). @default 0
   */
  readonly returnWithinMs?: number;
  /**
   * The member's TTL: a release it was asked for is forced no sooner than this after the request,
   * whatever `forceReleaseAfterMs` says (by then it has stopped on its own). @default 0
   */
  readonly ttlMs?: number;
}

/** One partition's row of the ownership table. */
export interface PlannerPartition {
  /** The partition's number, from 0. */
  readonly partition: number;
  /** The owner, or null. */
  readonly nodeId: string | null;
  /** A `PartitionState` value. */
  readonly state: number;
  /** The generation the row is at; a transition applies only while it still is. */
  readonly generation: number;
  /** Where a requested release was meant to go, or null. */
  readonly targetNodeId: string | null;
  /** Milliseconds since the release was requested, by the database clock; -1 when none is pending. */
  readonly releaseAgeMs: number;
  /**
   * The row's owner is a process that is gone although its node id is live again: a later process
   * (incarnation) registered with the same node id, and does not resume what the earlier one owned.
   * The planner gives such a partition back to the node id when it needs one (a restart keeps its
   * partitions): with `returningWithinMs`, a leaving member's rows keep its node id for that.
   */
  readonly staleOwner?: boolean;
  /**
   * Nobody ever owned the partition (a new or grown task list's). The planner does not read it;
   * the audit trail's causes do (see `TransitionCauses`). @default false
   */
  readonly neverOwned?: boolean;
}

/** A task list with its partition count and its rows (rows numbered at or past `partitions` are ignored). */
export interface PlannerTaskList {
  /** The task list's domain. */
  readonly domain: string;
  /** The task list's name. */
  readonly taskList: string;
  /** How many partitions the catalog gives it. */
  readonly partitions: number;
  /** Its rows of the ownership table. */
  readonly rows: readonly PlannerPartition[];
  /**
   * Partitions an operator placed on a member (see `pinPartition`), by number. While that member
   * is live and not draining, the planner keeps the partition on it, asks another owner to release
   * it to the member, and counts it in the member's share (the rest balance around it); otherwise it
   * places the partition as any other. @default none
   */
  readonly placed?: ReadonlyMap<number, string>;
}

/** How the planner moves partitions. Every field is optional. */
export interface PlannerOptions {
  /**
   * A live owner that has not confirmed a requested release is overruled after this long, and never
   * sooner than its TTL. @default `DEFAULT_FORCE_RELEASE_AFTER_MS` (30000)
   */
  forceReleaseAfterMs?: number;
  /**
   * How long the partitions of a member that stopped being live stay where they are, in case it
   * comes back (its share is kept free meanwhile). 0 reassigns them at once. @default 0
   */
  reassignDelayMs?: number;
  /** Most release requests one round makes per task list. @default Infinity */
  maxMovesPerTaskList?: number;
  /** Most release requests one round makes from, and to, any one member. @default Infinity */
  maxMovesPerMember?: number;
}

/** What the planner reads: the live (and recently vanished) members and the catalog with its ownership table. */
export interface PlannerInput {
  /** The members that are live, or not live for a short while. */
  readonly members: readonly PlannerMember[];
  /** The catalog's task lists with their rows. */
  readonly taskLists: readonly PlannerTaskList[];
  /** How partitions are moved; defaults otherwise. */
  readonly options?: PlannerOptions;
}

/** Why a partition is given to a member. */
export type AssignReason =
  /** It had no owner. */
  | "unassigned"
  /** Its owner confirmed the release that was asked of it. */
  | "released"
  /** Its owner is no longer live (and any reassignment delay has passed). */
  | "owner-gone"
  /** Its live owner did not confirm a requested release within `forceReleaseAfterMs`. */
  | "forced";

/** One step of a plan, valid only while the partition is still at `generation`. */
export type Transition =
  | (PartitionRef & {
      /** Give the partition to `to`. */
      readonly type: "assign";
      /** The previous owner (gone, released or overruled), or null. */
      readonly from: string | null;
      /** The next owner. */
      readonly to: string;
      /** Why the partition goes to `to`. */
      readonly reason: AssignReason;
      /** It carries out an operator's placement (see `PlannerTaskList.placed`). */
      readonly placed?: true;
    })
  | (PartitionRef & {
      /** Ask the owner `from` to release the partition. */
      readonly type: "release";
      /** The live owner asked to release the partition. */
      readonly from: string;
      /** Where the partition is meant to go once released. */
      readonly to: string;
      /** It carries out an operator's placement (see `PlannerTaskList.placed`). */
      readonly placed?: true;
    });

/** What the planner decided. */
export interface Plan {
  /** The steps, each valid only while its partition is at its generation. */
  readonly transitions: Transition[];
  /** Requested releases still waiting for their owner's confirmation, this plan's included. */
  readonly pendingHandoffs: number;
  /**
   * Milliseconds until a pending release (this plan's included) may be forced or a vanished
   * member's partitions may be reassigned, whichever is first; null when nothing is waiting on time.
   */
  readonly nextCheckMs: number | null;
  /** How many partitions each member (live or vanished within the delay) should own, by node id. */
  readonly targets: ReadonlyMap<string, number>;
  /**
   * A draining member still owns partitions it was not asked for, because it has
   * a wave of releases in flight (250): plan again once they are handed over. Absent otherwise.
   */
  readonly drainWaiting?: true;
}

/** {@link PlannerOptions} with every default applied. */
export interface ResolvedPlannerOptions {
  readonly forceReleaseAfterMs: number;
  readonly reassignDelayMs: number;
  readonly maxMovesPerTaskList: number;
  readonly maxMovesPerMember: number;
}
