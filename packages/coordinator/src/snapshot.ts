import type { ChangeCounters } from "@helix/cluster";
import { taskListKey, type ownershipProtocol } from "@helix/cluster/internal";
import {
  clusterQueries as q,
  coordinatorQueries as cq,
  Status,
  transaction,
  type ConnectionSource,
  type QueryClient,
} from "@helix/db/internal";

import { maintenanceOn, type Maintenance } from "./maintenance";
import { placedByTaskList, placementsOn, type Placement } from "./placements";
import type { PlannerMember, PlannerPartition, PlannerTaskList } from "./planner";

type RetiringTaskList = ownershipProtocol.RetiringTaskList;

/** Everything a round plans from, read in one consistent snapshot. */
export interface ClusterSnapshot {
  /** The cluster's change counters the snapshot was read at. */
  readonly counters: ChangeCounters;
  /** Members still marked active whose TTL has passed (to be marked inactive). */
  readonly expiredMembers: number;
  /** Members that are live now, by the database clock. */
  readonly liveMembers: number;
  /**
   * Members no longer live that no ownership row names, with how long ago their registration
   * ended: those gone longer than the retention are deleted (see `sweepExpiredMembers`).
   */
  readonly departedMembers: readonly {
    /** The member's id. */
    readonly nodeId: string;
    /** Milliseconds since its registration ended, by the database clock. */
    readonly sinceExpiryMs: number;
  }[];
  /** The members as the planner sees them. */
  readonly members: PlannerMember[];
  /** Task lists in the catalog (removed ones excluded), with their rows. */
  readonly taskLists: PlannerTaskList[];
  /** Partitions of the catalog's task lists. */
  readonly partitions: number;
  /** Task lists with rows to clean up: removed ones and shrunk ones (the clean-up reads each again). */
  readonly retiring: RetiringTaskList[];
  /** The maintenance in force (see `startMaintenance`): what a round moves, it holds back. */
  readonly maintenance: readonly Maintenance[];
  /** The operator's pins and moves (see `pinPartition`), lapsed moves included; the task lists carry those that hold. */
  readonly placements: readonly Placement[];
}

/** Reads the change counters, catalog, members and the ownership table in one consistent snapshot. */
export function readSnapshot(source: ConnectionSource, cluster: string): Promise<ClusterSnapshot> {
  return transaction(source, (conn) => snapshotOn(conn, cluster), { consistentSnapshot: true });
}

/** The snapshot's reads, on a transaction's connection. */
async function snapshotOn(conn: QueryClient, cluster: string): Promise<ClusterSnapshot> {
  const watch = await cq.watchCluster(conn, { cluster });
  const lists = await q.listTaskLists(conn, { cluster });
  const memberRows = await cq.listPlanningMembers(conn, { cluster });
  const rows = await cq.listPlanningOwnership(conn, { cluster });
  const maintenance = await maintenanceOn(conn, cluster);
  const placements = await placementsOn(conn, cluster);
  const placed = placedByTaskList(placements);

  const members: PlannerMember[] = memberRows.map((n) => ({
    nodeId: n.nodeId,
    weight: n.weight,
    live: n.live === 1,
    sinceExpiryMs: n.sinceExpiryUs / 1000,
    ttlMs: n.ttlUs / 1000,
    returnWithinMs: n.returnWithinUs / 1000,
  }));
  const incarnations = new Map(memberRows.map((n) => [n.nodeId, n.incarnation]));
  const live = new Set(members.filter((m) => m.live).map((m) => m.nodeId));
  const byKey = new Map<string, { list: PlannerTaskList & { rows: PlannerPartition[] }; status: number }>();
  const taskLists: (PlannerTaskList & { rows: PlannerPartition[] })[] = [];
  let partitions = 0;
  for (const l of lists) {
    const key = taskListKey(l.domain, l.taskList);
    const list = { domain: l.domain, taskList: l.taskList, partitions: l.partitions, rows: [] as PlannerPartition[] };
    const placedHere = placed.get(key);
    if (placedHere !== undefined) Object.assign(list, { placed: placedHere });
    byKey.set(key, { list, status: l.status });
    if (l.status === Status.Active) {
      taskLists.push(list);
      partitions += l.partitions;
    }
  }
  const retiring = new Map<string, RetiringTaskList>();
  for (const r of rows) {
    const key = taskListKey(r.domain, r.taskList);
    const entry = byKey.get(key);
    if (entry === undefined || entry.status !== Status.Active || r.partitionId >= entry.list.partitions) {
      retiring.set(key, { domain: r.domain, taskList: r.taskList });
      continue;
    }
    entry.list.rows.push({
      partition: r.partitionId,
      nodeId: r.nodeId,
      state: r.state,
      generation: r.generation,
      targetNodeId: r.targetNodeId,
      releaseAgeMs: r.releaseAgeUs < 0 ? -1 : r.releaseAgeUs / 1000,
      staleOwner:
        r.nodeId !== null &&
        incarnations.has(r.nodeId) &&
        incarnations.get(r.nodeId) !== r.incarnation &&
        (r.incarnation !== null || live.has(r.nodeId)),
      neverOwned: r.neverOwned === 1,
    });
  }
  for (const [key, entry] of byKey) {
    if (entry.status !== Status.Active && !retiring.has(key)) {
      retiring.set(key, { domain: entry.list.domain, taskList: entry.list.taskList });
    }
  }
  return {
    ...watched(watch),
    liveMembers: members.filter((m) => m.live).length,
    departedMembers: departedMembers(members, rows),
    members,
    taskLists,
    partitions,
    retiring: [...retiring.values()],
    maintenance,
    placements,
  };
}

/** The change counters and the expired members' count of a `WatchCluster` answer (none yet: zeros). */
export function watched(watch: Awaited<ReturnType<typeof cq.watchCluster>>): { counters: ChangeCounters; expiredMembers: number } {
  return {
    counters: {
      membership: watch?.membershipVersion ?? 0,
      catalog: watch?.catalogVersion ?? 0,
      ownership: watch?.ownershipVersion ?? 0,
    },
    expiredMembers: watch?.expiredMembers ?? 0,
  };
}

/** Members not live whose node id no ownership row names (the rows of retiring task lists included). */
function departedMembers(
  members: readonly PlannerMember[],
  rows: readonly { nodeId: string | null }[],
): ClusterSnapshot["departedMembers"] {
  const named = new Set(rows.map((r) => r.nodeId));
  return members.filter((m) => !m.live && !named.has(m.nodeId)).map((m) => ({ nodeId: m.nodeId, sinceExpiryMs: m.sinceExpiryMs }));
}
