// Drains in waves: how many releases a draining member may have in flight, and how many it has.
import { PartitionState } from "@helix/db";

import { addAt } from "./checked";
import type { Roster } from "./quotas";
import type { PlannerTaskList } from "./types";

/**
 * Most releases a draining member (weight 0) has in flight at once, over all task lists. A
 * partition is without an owner from its owner's confirmation until the round that gives it away:
 * asked for in waves, a drain's thousands are given away a wave at a time by small rounds, instead
 * of all waiting for one round that writes thousands. The next wave is asked for once a wave is
 * handed over (see `Plan.drainWaiting`).
 */
export const DRAIN_WAVE = 250;

/**
 * Per member, the releases a draining (weight 0) live member has pending, over all task lists: a
 * pass over the rows only when some member drains.
 */
export function countDrainInFlight(input: { readonly roster: Roster; readonly lists: readonly PlannerTaskList[] }): Int32Array {
  const { roster, lists } = input;
  const inFlight = new Int32Array(roster.size);
  let anyDraining = false;
  for (let member = 0; member < roster.size; member++) if (roster.isLive(member) && roster.weightOf(member) === 0) anyDraining = true;
  if (!anyDraining) return inFlight;
  for (const list of lists) {
    for (const row of list.rows) {
      if (row.state !== PartitionState.ReleaseRequested || row.nodeId === null || row.partition >= list.partitions) continue;
      const owner = roster.index.get(row.nodeId);
      if (owner !== undefined && roster.weightOf(owner) === 0) addAt(inFlight, owner, 1);
    }
  }
  return inFlight;
}
