import { checkClient, guardClient, type ConnectionSource } from "@helix/db/internal";

import { holdForMaintenance } from "./maintenance";
import { resolveCoordinatorOptions, type CoordinatorOptions, type ResolvedCoordinatorOptions } from "./options";
import type { Plan } from "./planner";
import { planFor } from "./round";
import { readSnapshot, type ClusterSnapshot } from "./snapshot";

/**
 * A plan with the snapshot it was made from: what the next round would do were no maintenance on
 * (`snapshot.maintenance` says what is; a round holds back `heldForMaintenance` of the transitions).
 */
export type DryRun = Plan & {
  /** The cluster as the plan saw it. */
  readonly snapshot: ClusterSnapshot;
  /** How many of the plan's transitions the maintenance in force holds back. */
  readonly heldForMaintenance: number;
};

/**
 * What the next round of a cluster would do, without writing anything and without taking part in
 * the election: reads the cluster in one snapshot and runs the planner with the coordinator
 * options given (their defaults otherwise). For command lines and dashboards; a running
 * coordinator offers the same as `plan()`.
 * @throws `InvalidArgumentError` for bad options.
 */
export async function planNextRound(client: ConnectionSource, options: CoordinatorOptions | ResolvedCoordinatorOptions): Promise<DryRun> {
  checkClient("client", client);
  const resolved = resolveCoordinatorOptions(options);
  const snapshot = await readSnapshot(guardClient(client), resolved.cluster);
  const plan = planFor(snapshot, resolved);
  return { ...plan, snapshot, heldForMaintenance: holdForMaintenance(plan, snapshot.taskLists, snapshot.maintenance).held };
}
