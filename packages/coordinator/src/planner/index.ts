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
 * release requests, with `drain-waves.ts` for a draining member's), `checked.ts` (array reads at indices in range by construction), `types.ts`
 * (what goes in and out, shared by all of them).
 */
import { DEFAULT_FORCE_RELEASE_AFTER_MS } from "@helix/cluster";
import { checkInteger, checkMs, checkOptions, InvalidArgumentError, orDefault } from "@helix/db/internal";

import { assignExtras } from "./extras";
import { Quotas, Roster } from "./quotas";
import { planTransitions } from "./transitions";
import type { Plan, PlannerInput, PlannerOptions, ResolvedPlannerOptions } from "./types";

export type {
  AssignReason,
  Plan,
  PlannerInput,
  PlannerMember,
  PlannerOptions,
  PlannerPartition,
  PlannerTaskList,
  ResolvedPlannerOptions,
  Transition,
} from "./types";

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
export function planOwnership(input: PlannerInput): Plan {
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
