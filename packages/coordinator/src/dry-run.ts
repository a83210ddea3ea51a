import { checkClient, guardClient, type ConnectionSource } from "@helix/db/internal";

import { resolveCoordinatorOptions, type CoordinatorOptions, type ResolvedCoordinatorOptions } from "./options";
import type { Plan } from "./planner";
import { planFor } from "./round";
import { readSnapshot, type ClusterSnapshot } from "./snapshot";

/** A plan with the snapshot it was made from. */
export type DryRun = Plan & {
  /** The cluster as the plan saw it. */
  readonly snapshot: ClusterSnapshot;
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
  return { ...planFor(snapshot, resolved), snapshot };
}
