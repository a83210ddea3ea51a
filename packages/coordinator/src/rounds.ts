import {
  clusterQueries as q,
  coordinatorQueries as cq,
  Status,
  transaction,
  TransitionKind,
  type ConnectionSource,
  type QueryClient,
} from "@helix/db";
import { retireFrom } from "@helix/cluster";
import type { Lease } from "@helix/lock";

import type { PlannerMember, PlannerPartition, PlannerTaskList, Transition } from "./planner";

/** The cluster's change counters. */
export interface Versions {
  readonly membership: number;
  readonly catalog: number;
  readonly allocation: number;
}

/** Everything a round plans from, read in one consistent snapshot. */
export interface ClusterSnapshot {
  readonly versions: Versions;
  /** Members still marked active whose TTL has passed (to be marked inactive). */
  readonly expiredMembers: number;
  /** Members that are live now, by the database clock. */
  readonly liveMembers: number;
  readonly members: PlannerMember[];
  /** Task lists in the catalog (removed ones excluded), with their rows. */
  readonly taskLists: PlannerTaskList[];
  /** Partitions of the catalog's task lists. */
  readonly partitions: number;
  /** Task lists with rows to clean up: removed ones (from 0) and shrunk ones (from their count). */
  readonly retiring: { domain: string; taskList: string; firstPartition: number }[];
}

/** Reads versions, catalog, members and the ownership table in one REPEATABLE READ snapshot. */
export async function readSnapshot(source: ConnectionSource, cluster: string): Promise<ClusterSnapshot> {
  return transaction(source, async (conn) => {
    const watch = await cq.watchCluster(conn, { cluster });
    const lists = await q.listTaskLists(conn, { cluster });
    const nodes = await cq.listPlanningNodes(conn, { cluster });
    const rows = await cq.listPlanningAllocation(conn, { cluster });

    const members: PlannerMember[] = nodes.map((n) => ({
      nodeId: n.nodeId,
      weight: n.weight,
      live: n.live === 1,
      sinceExpiryMs: n.sinceExpiryUs / 1000,
      ttlMs: n.ttlUs / 1000,
    }));
    const incarnations = new Map(nodes.map((n) => [n.nodeId, n.incarnation]));
    const byKey = new Map<string, { list: PlannerTaskList & { rows: PlannerPartition[] }; status: number }>();
    const taskLists: (PlannerTaskList & { rows: PlannerPartition[] })[] = [];
    let partitions = 0;
    for (const l of lists) {
      const list = { domain: l.domain, taskList: l.taskList, partitions: l.partitions, rows: [] as PlannerPartition[] };
      byKey.set(`${l.domain}\u0000${l.taskList}`, { list, status: l.status });
      if (l.status === Status.Active) {
        taskLists.push(list);
        partitions += l.partitions;
      }
    }
    const retiring = new Map<string, { domain: string; taskList: string; firstPartition: number }>();
    for (const r of rows) {
      const key = `${r.domain}\u0000${r.taskList}`;
      const entry = byKey.get(key);
      if (entry === undefined || entry.status !== Status.Active || r.partitionId >= entry.list.partitions) {
        const firstPartition = entry === undefined || entry.status !== Status.Active ? 0 : entry.list.partitions;
        retiring.set(key, { domain: r.domain, taskList: r.taskList, firstPartition });
        continue;
      }
      entry.list.rows.push({
        partition: r.partitionId,
        nodeId: r.nodeId,
        state: r.state,
        generation: r.generation,
        targetNodeId: r.targetNodeId,
        releaseAgeMs: r.releaseAgeUs < 0 ? -1 : r.releaseAgeUs / 1000,
        staleOwner: r.nodeId !== null && incarnations.has(r.nodeId) && incarnations.get(r.nodeId) !== r.incarnation,
      });
    }
    for (const [key, entry] of byKey) {
      if (entry.status !== Status.Active && !retiring.has(key)) {
        retiring.set(key, { domain: entry.list.domain, taskList: entry.list.taskList, firstPartition: 0 });
      }
    }
    return {
      versions: {
        membership: watch?.membershipVersion ?? 0,
        catalog: watch?.catalogVersion ?? 0,
        allocation: watch?.allocationVersion ?? 0,
      },
      expiredMembers: watch?.expiredNodes ?? 0,
      liveMembers: members.filter((m) => m.live).length,
      members,
      taskLists,
      partitions,
      retiring: [...retiring.values()],
    };
  });
}

/** A transition as it was committed. */
export type AppliedTransition = Transition & {
  /** The partition's generation after the transition (unchanged by a release request). */
  readonly newGeneration: number;
};

const kindOf = (t: Transition): number => {
  if (t.type === "release") return TransitionKind.ReleaseRequested;
  switch (t.reason) {
    case "unassigned":
      return TransitionKind.Assigned;
    case "released":
      return TransitionKind.HandedOff;
    case "owner-gone":
      return TransitionKind.Reclaimed;
    case "forced":
      return TransitionKind.Forced;
  }
};

/** What a round's writes need: where, as whom, and how they are fenced. */
export interface WriteContext {
  readonly source: ConnectionSource;
  readonly cluster: string;
  readonly lease: Lease;
  readonly forceReleaseAfterMs: number;
}

/**
 * Writes one batch of transitions in one transaction, fenced by the leadership lease: it commits
 * only while the lease is still the key's current one, and holds it against a takeover until the
 * commit. The rows of the members involved are locked first, so a member cannot re-register (as a
 * new incarnation) between the liveness check and the hand-over, and a partition goes to the
 * incarnation that was live then. Each transition applies only if the partition is still at the
 * generation the plan saw and the hand-off rule (in SQL, which also judges whether the current
 * owner is gone) allows it; the others are skipped and left to the next round.
 * @returns the transitions that were applied.
 * @throws `LeaseLostError` or `FencedOutError` when this coordinator is no longer the leader; the
 *   transaction is rolled back and nothing is written.
 */
export async function writeBatch(context: WriteContext, batch: readonly Transition[]): Promise<AppliedTransition[]> {
  const { cluster, lease } = context;
  return transaction(context.source, async (conn) => {
    await lease.fence(conn);
    const involved = new Set<string>();
    for (const t of batch) {
      involved.add(t.to);
      if (t.from !== null) involved.add(t.from);
    }
    // The live incarnation of each member involved; absent when it is not live.
    const live = new Map<string, string>();
    for (const nodeId of [...involved].sort()) {
      const row = await cq.lockNode(conn, { cluster, nodeId });
      if (row?.live === 1) live.set(nodeId, row.incarnation);
    }
    const applied: AppliedTransition[] = [];
    const changedNodes = new Set<string>();
    for (const t of batch) {
      const key = { cluster, domain: t.domain, taskList: t.taskList, partitionId: t.partition };
      const incarnation = live.get(t.to);
      if (incarnation === undefined) continue;
      let newGeneration = t.generation;
      if (t.type === "assign") {
        const result = await q.assignPartition(conn, {
          ...key,
          nodeId: t.to,
          incarnation,
          generation: t.generation,
          forceAfterUs: context.forceReleaseAfterMs * 1000,
        });
        if (result.affectedRows !== 1) continue;
        newGeneration = result.insertId;
        changedNodes.add(t.to);
      } else {
        if (!live.has(t.from)) continue;
        const changed = await q.requestPartitionRelease(conn, { ...key, generation: t.generation, targetNodeId: t.to });
        if (changed !== 1) continue;
      }
      if (t.from !== null) changedNodes.add(t.from);
      await cq.insertTransition(conn, {
        ...key,
        epoch: lease.epoch,
        kind: kindOf(t),
        fromNodeId: t.from,
        toNodeId: t.to,
        generation: newGeneration,
      });
      applied.push({ ...t, newGeneration });
    }
    for (const nodeId of [...changedNodes].sort()) await q.bumpAssignmentVersion(conn, { cluster, nodeId });
    if (applied.length > 0) await q.bumpAllocationVersion(conn, { cluster });
    return applied;
  });
}

/** Runs `fn` in a transaction fenced by the leadership lease. */
export function fenced<T>(context: WriteContext, fn: (conn: QueryClient) => Promise<T>): Promise<T> {
  return transaction(context.source, async (conn) => {
    await context.lease.fence(conn);
    return fn(conn);
  });
}

/** Marks members whose TTL passed inactive, fenced. @returns how many. */
export function sweepExpiredMembers(context: WriteContext): Promise<number> {
  return fenced(context, async (conn) => {
    const marked = await q.markExpiredNodesInactive(conn, { cluster: context.cluster });
    if (marked > 0) await q.bumpMembershipVersion(conn, { cluster: context.cluster });
    return marked;
  });
}

/**
 * Cleans up after shrinks and removals, fenced: raises the task list's generation floor, deletes
 * retired partitions that are free, asks owners of retired partitions again, and finishes removed
 * task lists with no partition left.
 * Writes (and bumps versions) only when something changed.
 * @returns which change counters it bumped (by 1 each).
 */
export function pruneRetired(
  context: WriteContext,
  retiring: ClusterSnapshot["retiring"],
): Promise<{ allocation: number; catalog: number }> {
  const cluster = context.cluster;
  return fenced(context, async (conn) => {
    let changed = false;
    let catalogChanged = false;
    for (const r of retiring) {
      const key = { cluster, domain: r.domain, taskList: r.taskList };
      if (await retireFrom(conn, { ...key, firstPartition: r.firstPartition })) changed = true;
      if (r.firstPartition === 0 && (await q.finishTaskListRemoval(conn, key)) > 0) catalogChanged = true;
    }
    if (catalogChanged) await q.bumpCatalogVersion(conn, { cluster });
    if (changed || catalogChanged) await q.bumpAllocationVersion(conn, { cluster });
    return { allocation: changed || catalogChanged ? 1 : 0, catalog: catalogChanged ? 1 : 0 };
  });
}

/** Deletes audit rows older than the retention, a bounded batch at a time, fenced. */
export function trimAudit(context: WriteContext, retentionMs: number): Promise<number> {
  return fenced(context, (conn) =>
    cq.deleteTransitionsBefore(conn, { cluster: context.cluster, retentionUs: retentionMs * 1000, limit: 1000 }),
  );
}
