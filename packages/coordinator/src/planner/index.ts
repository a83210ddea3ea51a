/**
 * The planner: from the members, the catalog and the ownership table to the transitions that move the
 * table toward balance. Pure: no I/O, no clock.
 *
 * Glossary (member i, a task list of n partitions, W the total weight of the members that take part):
 * - share: member i's part of a task list, n × weight(i) / W; its remainder is (n × weight(i)) mod W.
 *   Member i owns at least the floor of its share.
 * - extra: one partition above a member's floor in a task list. A task list hands out
 *   n − (sum of the floors) extras, each to a different member whose share has a remainder, so every
 *   member ends at the floor or the ceiling of its share.
 * - lo / hi: the fewest and the most extras member i may get over all task lists: the floor and the
 *   ceiling of (sum of its remainders) / W, so that its total too is the floor or ceiling of its share.
 * - pool: how many extras go to members beyond their lo: (all extras) − (sum of lo); a member takes at
 *   most hi − lo of them.
 * - over-edge: a (task list, member) pair where the member owns more than its floor and may get an
 *   extra. Giving it the extra there keeps a partition in place; the planner keeps as many as it can.
 * - needy: a member with fewer over-edges than its hi, which may have to get extras in task lists where
 *   it owns no more than its floor: its other eligible pairs there are its needy pairs.
 *
 * Where: `quotas.ts` (who takes part, floors, extras, lo/hi, pool), `extras.ts` (which members get each
 * task list's extras, with `extras-flow.ts` and `exact-extras.ts` over `flow-network.ts` and `heap.ts`;
 * `members-by-list.ts` holds such choices), `transitions.ts` (from those targets to assignments and
 * release requests), `checked.ts` (array reads at indices in range by construction).
 */
import { DEFAULT_FORCE_RELEASE_AFTER_MS } from "@helix/cluster";
import { checkInteger, checkMs, checkOptions, InvalidArgumentError, orDefault } from "@helix/db";

import { assignExtras } from "./extras";
import { Quotas, Roster } from "./quotas";
import { planTransitions } from "./transitions";

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
   */
  readonly staleOwner?: boolean;
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
  | {
      /** Give the partition to `to`. */
      readonly type: "assign";
      /** The partition's task-list domain. */
      readonly domain: string;
      /** The partition's task list. */
      readonly taskList: string;
      /** The partition's number, from 0. */
      readonly partition: number;
      /** The generation the partition was seen at. */
      readonly generation: number;
      /** The previous owner (gone, released or overruled), or null. */
      readonly from: string | null;
      /** The next owner. */
      readonly to: string;
      /** Why the partition goes to `to`. */
      readonly reason: AssignReason;
    }
  | {
      /** Ask the owner `from` to release the partition. */
      readonly type: "release";
      /** The partition's task-list domain. */
      readonly domain: string;
      /** The partition's task list. */
      readonly taskList: string;
      /** The partition's number, from 0. */
      readonly partition: number;
      /** The generation the partition was seen at. */
      readonly generation: number;
      /** The live owner asked to release the partition. */
      readonly from: string;
      /** Where the partition is meant to go once released. */
      readonly to: string;
    };

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
}

/** {@link PlannerOptions} with every default applied. */
export interface ResolvedPlannerOptions {
  readonly forceReleaseAfterMs: number;
  readonly reassignDelayMs: number;
  readonly maxMovesPerTaskList: number;
  readonly maxMovesPerMember: number;
}

/**
 * Plans the next round: from the members, the catalog and the ownership table to the transitions
 * that move the table toward balance. Pure: no I/O, no clock, the same input gives the same plan.
 *
 * Balance: per task list every member owns floor or ceil of its weighted share, and across task
 * lists each member's total is the floor or ceil of its total share, so the extra partitions of
 * uneven task lists are spread over the members instead of piling up on the first ones.
 *
 * Minimal movement: among all balanced targets the planner picks one that keeps the most
 * partitions where they are, so only as many partitions move as balance requires (a maximum flow
 * decides which members keep the extra partition of each task list). Nothing moves when the table is
 * balanced already.
 *
 * Hand-off: a partition moves away from a live owner only through a release request; it is given
 * to its next owner once released, at once when its owner is gone, and when the owner has not
 * confirmed within `forceReleaseAfterMs`.
 */
export function planAllocation(input: PlannerInput): Plan {
  const given = checkOptions("input", input);
  if (!Array.isArray(given.members)) throw new InvalidArgumentError("members", "must be an array of members");
  if (!Array.isArray(given.taskLists)) throw new InvalidArgumentError("taskLists", "must be an array of task lists");
  const options = resolvePlannerOptions(input.options);
  const roster = new Roster(input.members, options);
  const lists = input.taskLists;
  const quotas = new Quotas(roster, lists);
  const extras = assignExtras(quotas, lists);
  return planTransitions({ roster, quotas, extras, lists, options });
}

const DAY_MS = 86_400_000;

/**
 * @internal Applies the planner's defaults and checks its options (the coordinator's options of
 * the same names are checked here too).
 * @throws `InvalidArgumentError` naming the option: a time that is not a whole number of
 *   milliseconds from 0 to a day, or a move limit that is not Infinity or a whole number from 1.
 */
export function resolvePlannerOptions(options: PlannerOptions | undefined): ResolvedPlannerOptions {
  const given = checkOptions("options", options);
  const limit = (name: string, value: unknown): number =>
    value === undefined || value === Infinity ? Infinity : checkInteger(name, value, 1, 1_000_000_000);
  return {
    forceReleaseAfterMs: checkMs("forceReleaseAfterMs", orDefault(given.forceReleaseAfterMs, DEFAULT_FORCE_RELEASE_AFTER_MS), 0, DAY_MS),
    reassignDelayMs: checkMs("reassignDelayMs", orDefault(given.reassignDelayMs, 0), 0, DAY_MS),
    maxMovesPerTaskList: limit("maxMovesPerTaskList", given.maxMovesPerTaskList),
    maxMovesPerMember: limit("maxMovesPerMember", given.maxMovesPerMember),
  };
}
