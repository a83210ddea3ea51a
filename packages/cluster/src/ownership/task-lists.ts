// Task lists: the catalog's changes and the partitions they add or retire.
import { clusterQueries as q, Status, type QueryClient } from "@helix/db/internal";

import { bump, NO_CHANGE, type ChangeCounters } from "./counters";
import { lockMembers, tellMembers } from "./partitions";

/**
 * Creates a task list, or changes its partition count or metadata: new partitions are added
 * unassigned, partitions beyond the count retire (see {@link pruneRetired}).
 */
export async function putTaskList(
  conn: QueryClient,
  spec: { cluster: string; domain: string; taskList: string; partitions: number; metadata: string },
): Promise<{
  /** What happened to the task list. */
  result: "created" | "changed" | "unchanged";
  /** The change counters this call moved. */
  bumped: ChangeCounters;
}> {
  const { metadata, ...list } = spec;
  const answer = await q.putTaskList(conn, { ...list, metadata });
  if (answer === 0) return { result: "unchanged", bumped: NO_CHANGE };
  const key = { cluster: spec.cluster, domain: spec.domain, taskList: spec.taskList };
  await q.insertPartitions(conn, { ...key, partitions: spec.partitions });
  await retireFrom(conn, { ...key, firstPartition: spec.partitions });
  return {
    result: answer === 1 ? "created" : "changed",
    bumped: await bump(conn, spec.cluster, { membership: 0, catalog: 1, ownership: 1 }),
  };
}

/**
 * Removes a task list: its owned partitions are asked to be released, free ones deleted, and the
 * task list finished once none is left.
 * @returns `found` false when the catalog has no such task list (nothing changed); true also
 *   when it was being removed already.
 */
export async function removeTaskList(
  conn: QueryClient,
  key: { cluster: string; domain: string; taskList: string },
): Promise<{
  /** False when the catalog has no such task list (nothing changed); true also when it was being removed already. */
  found: boolean;
  /** The change counters this call moved. */
  bumped: ChangeCounters;
}> {
  if ((await q.markTaskListDeletable(conn, key)) === 0) {
    const existing = await q.getTaskList(conn, key);
    return { found: existing !== null && existing.status !== Status.Inactive, bumped: NO_CHANGE };
  }
  await retireFrom(conn, { ...key, firstPartition: 0 });
  await q.finishTaskListRemoval(conn, key);
  return { found: true, bumped: await bump(conn, key.cluster, { membership: 0, catalog: 1, ownership: 1 }) };
}

/** A task list that may have partitions to clean up: one removed, or shrunk. */
export interface RetiringTaskList {
  /** The task list's domain. */
  readonly domain: string;
  /** The task list's name. */
  readonly taskList: string;
}

/**
 * Cleans up after shrinks and removals: deletes retired partitions that are free, asks owners of
 * retired partitions again, and finishes removed task lists with no partition left. Each task list
 * is locked and read again first: what partitions retire follows from it as it is now (it may have
 * been put again since the caller looked), so that no partition of a live task list is deleted.
 * @returns how many task lists were finished, and the counters bumped (none when nothing changed).
 */
export async function pruneRetired(
  conn: QueryClient,
  cluster: string,
  retiring: readonly RetiringTaskList[],
): Promise<{
  /** How many removed task lists were finished. */
  finished: number;
  /** The change counters this call moved. */
  bumped: ChangeCounters;
}> {
  let changed = false;
  let finished = 0;
  for (const list of retiring) {
    const key = { cluster, domain: list.domain, taskList: list.taskList };
    const current = await q.lockTaskList(conn, key);
    // Rows with no task list behind them, or of a removed one, all retire; a live one keeps its count.
    const firstPartition = current === null || current.status !== Status.Active ? 0 : current.partitions;
    if (await retireFrom(conn, { ...key, firstPartition })) changed = true;
    // Only a task list being removed, and with no partition left, finishes (the statement says so).
    if ((await q.finishTaskListRemoval(conn, key)) > 0) finished++;
  }
  const bumps = { membership: 0, catalog: finished > 0 ? 1 : 0, ownership: changed || finished > 0 ? 1 : 0 };
  return { finished, bumped: await bump(conn, cluster, bumps) };
}

/**
 * Partitions from `firstPartition` up are leaving: free ones are deleted at once (the task list's
 * generation floor rising above them first), owned ones are asked to be released (their owners are
 * told through their assignment version).
 * @returns whether it changed anything.
 */
async function retireFrom(
  conn: QueryClient,
  key: { cluster: string; domain: string; taskList: string; firstPartition: number },
): Promise<boolean> {
  // The floor is read only when partitions are created again, so raising it is no change to report
  // (and its row count, matched or changed, would depend on the client's FOUND_ROWS flag).
  await q.raiseGenerationFloor(conn, key);
  const deleted = await q.deleteFreePartitionsFrom(conn, key);
  // A release request is dated and stamped only once its owner can see it: the partitions' rows are
  // locked first (a fenced transaction of the owner's holds them until it ends), then their owners'
  // member rows, whose versions the stamps come from (see LockedMember). The statement asks only
  // for what is not asked already, and an owner is told only when it was asked for something.
  const owners = new Set<string>();
  for (const row of await q.lockPartitionsFrom(conn, key)) if (row.nodeId !== null) owners.add(row.nodeId);
  const told: string[] = [];
  for (const [nodeId, { nextVersion: ownerVersion }] of await lockMembers(conn, key.cluster, owners)) {
    if ((await q.retireOwnedPartitionsFrom(conn, { ...key, nodeId, ownerVersion })) > 0) told.push(nodeId);
  }
  await tellMembers(conn, key.cluster, told);
  return deleted + told.length > 0;
}
