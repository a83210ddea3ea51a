import { coordinatorLeaseKey } from "@helix/cluster";
import { taskListKey } from "@helix/cluster/internal";
import { readHistory, readMaintenance, readPlacements, Status, type Maintenance, type TransitionRecord } from "@helix/coordinator";
import { clusterQueries, PartitionState, processOfId, serverQueries, type ConnectionSource } from "@helix/db/internal";
import { inspectLock } from "@helix/lock";

import { ClusterRegistry } from "./clusters";

/**
 * Where a member's registration stands, by the database clock:
 * - `live`: registered, its TTL not passed;
 * - `returning`: it left saying it would be back (`leave({ returningWithinMs })`), and that time has
 *   not passed: its partitions wait for its node id's next process;
 * - `left`: it deregistered (a graceful leave) while it was live;
 * - `dead`: its TTL passed without a heartbeat (swept or not yet).
 */
export type MemberState = "live" | "returning" | "left" | "dead";

/** A member as the status page shows it. */
export interface MemberStatus {
  readonly nodeId: string;
  /** Live now, by the database clock (`state === "live"`). */
  readonly live: boolean;
  readonly state: MemberState;
  /** The process that holds (or last held) the registration; a new one at every registration. */
  readonly incarnation: string;
  /** Whether this member runs in the process of the coordinator that holds the leadership lease. */
  readonly hostsLeader: boolean;
  readonly weight: number;
  readonly metadata: Record<string, unknown>;
  /** Milliseconds since its last heartbeat, by the database clock. */
  readonly heartbeatAgeMs: number;
  /** Partitions it owns (assigned or being released). */
  readonly partitions: number;
  /** Lowest and highest generation of the partitions it owns; null when it owns none. */
  readonly generations: { readonly min: number; readonly max: number } | null;
}

/** The leadership lease and the process of its owner. */
export interface LeaderStatus {
  readonly id: string;
  readonly epoch: number;
  readonly held: boolean;
  readonly remainingMs: number;
  /** The leader's host, when its id is a default id (`host:pid:random`); null otherwise. */
  readonly host: string | null;
  /** The leader's process id on `host`; null when `host` is. */
  readonly pid: number | null;
}

/** A task list and, when the cluster is small enough to draw, each partition's owner and state. */
export interface TaskListStatus {
  readonly domain: string;
  readonly taskList: string;
  readonly partitions: number;
  /** `active`, or `removing` while a removed task list's partitions are released. */
  readonly status: "active" | "removing";
  /** Per partition (index = partition number): the owner, or null. Null for clusters too large to draw. */
  readonly owners: (string | null)[] | null;
  /** Per partition: "unassigned" | "assigned" | "releasing" | "released". Null when `owners` is. */
  readonly states: PartitionStateName[] | null;
  /** Partitions waiting for their owner to confirm a release. */
  readonly pendingHandoffs: number;
}

export type PartitionStateName = "unassigned" | "assigned" | "releasing" | "released";

/** One cluster as `/api/status` reports it. */
export interface ClusterStatus {
  readonly cluster: string;
  /** The database clock when this was read, ISO 8601. */
  readonly at: string;
  /** The leadership lease: who leads, at which epoch. Null when no coordinator ever led. */
  readonly leader: LeaderStatus | null;
  readonly members: MemberStatus[];
  readonly taskLists: TaskListStatus[];
  readonly partitions: number;
  readonly pendingHandoffs: number;
  /** How long the oldest pending hand-off has waited since its release was asked for, by the database clock; 0 when none is pending. */
  readonly oldestHandoffMs: number;
  /**
   * The maintenance in force (the cluster's first, then its task lists'): while it is on, the
   * coordinator moves nothing in its scope. Times are ISO 8601.
   */
  readonly maintenance: (Omit<Maintenance, "startedAt" | "expiresAt"> & {
    readonly startedAt: string;
    readonly expiresAt: string | null;
  })[];
  /** Partitions an operator pinned or moved to a member whose placement holds (`helix placements ls` lists them). */
  readonly placed: number;
  /** The latest transitions from the audit trail, newest first. */
  readonly recent: (Omit<TransitionRecord, "at"> & { readonly at: string })[];
}

/** Most partitions a cluster may have for `/api/status` to list each one. */
export const MAX_DRAWN_PARTITIONS = 20_000;

const stateNames: Record<number, PartitionStateName> = {
  [PartitionState.Unassigned]: "unassigned",
  [PartitionState.Assigned]: "assigned",
  [PartitionState.ReleaseRequested]: "releasing",
  [PartitionState.Released]: "released",
};

/** A member's state from its row: live, else whether it left or its TTL passed. */
export function memberState(member: { readonly live: boolean; readonly left: boolean; readonly returning: boolean }): MemberState {
  if (member.live) return "live";
  if (member.returning) return "returning";
  return member.left ? "left" : "dead";
}

/**
 * Reads clusters' status from the database, for the status page, `/api/status` and `helix status`.
 * It only reads: the leader comes from the lease row itself, with no locker (and no lock owner) of
 * its own, and each cluster's catalog and store come from a {@link ClusterRegistry}.
 */
export class StatusReader implements AsyncDisposable {
  readonly #clusters: ClusterRegistry;
  readonly #ownsClusters: boolean;

  private constructor(clusters: ClusterRegistry, ownsClusters: boolean) {
    this.#clusters = clusters;
    this.#ownsClusters = ownsClusters;
  }

  /** A reader on a pool that the caller keeps and closes; the reader closes the catalogs and stores it opens. */
  static async open(pool: ConnectionSource): Promise<StatusReader> {
    return new StatusReader(new ClusterRegistry(pool), true);
  }

  /** A reader on catalogs and stores shared with others (the service's HTTP handler); the caller closes `clusters`. */
  static sharing(clusters: ClusterRegistry): StatusReader {
    return new StatusReader(clusters, false);
  }

  /** One cluster's status now. */
  async read(cluster: string, options: { recent?: number } = {}): Promise<ClusterStatus> {
    const { pool } = this.#clusters;
    const [catalog, store] = await Promise.all([this.#clusters.catalog(cluster), this.#clusters.store(cluster)]);
    const [now, lease, nodes, lists, rows, recent, oldestHandoff, maintenance, placements] = await Promise.all([
      serverQueries.serverTime(pool),
      inspectLock(pool, coordinatorLeaseKey(cluster)),
      store.members(),
      catalog.listTaskLists(),
      store.partitions(),
      readHistory(pool, cluster, { limit: options.recent ?? 20 }),
      clusterQueries.oldestReleaseRequest(pool, { cluster }),
      readMaintenance(pool, cluster),
      readPlacements(pool, cluster),
    ]);
    const nowMs = (now?.nowUs ?? 0) / 1000;
    const owned = new Map<string, { count: number; min: number; max: number }>();
    const byList = new Map<string, typeof rows>();
    for (const row of rows) {
      const key = taskListKey(row.domain, row.taskList);
      const list = byList.get(key);
      if (list === undefined) byList.set(key, [row]);
      else list.push(row);
      if (row.nodeId !== null && (row.state === PartitionState.Assigned || row.state === PartitionState.ReleaseRequested)) {
        const seen = owned.get(row.nodeId);
        if (seen === undefined) owned.set(row.nodeId, { count: 1, min: row.generation, max: row.generation });
        else
          owned.set(row.nodeId, {
            count: seen.count + 1,
            min: Math.min(seen.min, row.generation),
            max: Math.max(seen.max, row.generation),
          });
      }
    }
    const drawn = rows.length <= MAX_DRAWN_PARTITIONS;
    const taskLists: TaskListStatus[] = lists.map((l) => {
      const listRows = (byList.get(taskListKey(l.domain, l.taskList)) ?? []).filter((r) => r.partition < l.partitions);
      const owners: (string | null)[] = Array.from({ length: l.partitions }, () => null);
      const states: PartitionStateName[] = Array.from({ length: l.partitions }, () => "unassigned");
      for (const r of listRows) {
        owners[r.partition] = r.state === PartitionState.Unassigned ? null : r.nodeId;
        states[r.partition] = stateNames[r.state] ?? "unassigned";
      }
      return {
        domain: l.domain,
        taskList: l.taskList,
        partitions: l.partitions,
        status: l.status === Status.Active ? "active" : "removing",
        owners: drawn ? owners : null,
        states: drawn ? states : null,
        pendingHandoffs: listRows.filter((r) => r.state === PartitionState.ReleaseRequested).length,
      };
    });
    const leaderProcess = lease === null ? null : processOfId(lease.owner);
    const hostsLeader = (nodeId: string): boolean => {
      const member = processOfId(nodeId);
      return (
        lease?.held === true &&
        leaderProcess !== null &&
        member !== null &&
        member.host === leaderProcess.host &&
        member.pid === leaderProcess.pid
      );
    };
    return {
      cluster,
      at: new Date(nowMs).toISOString(),
      leader:
        lease === null
          ? null
          : {
              id: lease.owner,
              epoch: lease.epoch,
              held: lease.held,
              remainingMs: lease.remainingMs,
              host: leaderProcess?.host ?? null,
              pid: leaderProcess?.pid ?? null,
            },
      members: nodes.map((n) => {
        const own = owned.get(n.nodeId);
        return {
          nodeId: n.nodeId,
          live: n.live,
          state: memberState(n),
          incarnation: n.incarnation,
          hostsLeader: hostsLeader(n.nodeId),
          weight: n.weight,
          metadata: n.metadata,
          heartbeatAgeMs: Math.max(0, Math.round(nowMs - n.heartbeatAt.getTime())),
          partitions: own?.count ?? 0,
          generations: own === undefined ? null : { min: own.min, max: own.max },
        };
      }),
      taskLists,
      partitions: taskLists.filter((t) => t.status === "active").reduce((a, t) => a + t.partitions, 0),
      pendingHandoffs: taskLists.reduce((a, t) => a + t.pendingHandoffs, 0),
      oldestHandoffMs: Math.round((oldestHandoff?.waitedUs ?? 0) / 1000),
      maintenance: maintenance.map((m) => ({ ...m, startedAt: m.startedAt.toISOString(), expiresAt: m.expiresAt?.toISOString() ?? null })),
      placed: placements.filter((p) => p.holds).length,
      recent: recent.map((t) => ({ ...t, at: t.at.toISOString() })),
    };
  }

  /** Closes the catalogs and stores the reader opened (not the pool; not a shared registry). */
  async close(): Promise<void> {
    if (this.#ownsClusters) await this.#clusters.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
