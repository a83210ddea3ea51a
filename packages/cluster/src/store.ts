import {
  clusterQueries as q,
  coordinatorQueries as cq,
  Status,
  transaction,
  type ConnectionSource,
  type DatabaseSource,
} from "@helix/db";

import { openForCluster, retireFrom, type ClusterOptions } from "./catalog";
import { checkMs, checkName, checkPartition } from "./validate";

/** One partition's row of the ownership table. */
export interface PartitionRecord {
  readonly domain: string;
  readonly taskList: string;
  readonly partition: number;
  /** The owner, or null when unassigned. */
  readonly nodeId: string | null;
  /** A {@link PartitionState} value. */
  readonly state: number;
  /** Grows by one on every change of owner: the owner's fencing token. */
  readonly generation: number;
  /** Where the partition goes once its owner confirms the release; null otherwise. */
  readonly targetNodeId: string | null;
}

/** A member as the membership table has it. */
export interface NodeRecord {
  readonly nodeId: string;
  readonly metadata: Record<string, unknown>;
  /** The member's share of partitions relative to others (0 takes none). */
  readonly weight: number;
  /** Whether the member is live now by the database clock. */
  readonly live: boolean;
  readonly registeredAt: Date;
  readonly heartbeatAt: Date;
  readonly expiresAt: Date;
}

/** Change counters of a cluster; a reader compares them with what it saw last. */
export interface ClusterVersions {
  readonly membership: number;
  readonly catalog: number;
  readonly allocation: number;
}

/** A partition to act on, at the generation the caller last saw. */
export interface PartitionRef {
  domain: string;
  taskList: string;
  partition: number;
  generation: number;
}

/**
 * The ownership table of one cluster: reads for routers and the coordinator, and the writes that
 * move partitions. Each write is one transaction that also tells the affected members (through
 * their assignment version) and readers (through the cluster's allocation version).
 *
 * The hand-off rule lives in the database: a partition goes to a new owner only when it is
 * unassigned, released by its owner, owned by a member that is no longer live, or asked to be
 * released longer ago than the caller's force timeout; and only at the generation the caller saw.
 */
export class OwnershipStore implements AsyncDisposable {
  /** @internal Use {@link createOwnershipStore}. */
  constructor(
    private readonly client: ConnectionSource,
    readonly cluster: string,
    private readonly closeSource: () => Promise<void>,
  ) {}

  /** The cluster's change counters (all 0 for a cluster that has seen no change). */
  async versions(): Promise<ClusterVersions> {
    const row = await q.getClusterState(this.client, { cluster: this.cluster });
    return {
      membership: row?.membershipVersion ?? 0,
      catalog: row?.catalogVersion ?? 0,
      allocation: row?.allocationVersion ?? 0,
    };
  }

  /** Every member of the cluster, live or not, by node id. */
  async nodes(): Promise<NodeRecord[]> {
    return (await q.listNodes(this.client, { cluster: this.cluster })).map((r) => ({
      nodeId: r.nodeId,
      metadata: JSON.parse(r.metadata) as Record<string, unknown>,
      weight: r.weight,
      live: r.live === 1,
      registeredAt: r.registeredAt,
      heartbeatAt: r.heartbeatAt,
      expiresAt: r.expiresAt,
    }));
  }

  /** The whole ownership table of the cluster. */
  async allocation(): Promise<PartitionRecord[]> {
    return (await q.listClusterAllocation(this.client, { cluster: this.cluster })).map(toRecord);
  }

  /** One task list's partitions, in order. */
  async taskListAllocation(domain: string, taskList: string): Promise<PartitionRecord[]> {
    const key = { cluster: this.cluster, domain: checkName("domain", domain), taskList: checkName("taskList", taskList) };
    return (await q.listTaskListAllocation(this.client, key)).map((r) => toRecord({ ...r, ...key }));
  }

  /** Every partition a member owns, across task lists (one indexed read). */
  async nodeAllocation(nodeId: string): Promise<PartitionRecord[]> {
    const id = checkName("nodeId", nodeId);
    return (await q.listNodeAllocation(this.client, { cluster: this.cluster, nodeId: id })).map((r) =>
      toRecord({ ...r, nodeId: id }),
    );
  }

  /**
   * Gives a partition to the live process of member `nodeId` if the hand-off rule allows it (see the
   * class description).
   * @param forceAfterMs - how long after a release request a live owner that has not confirmed is
   *   overruled; never sooner than the owner's TTL. @default 30000
   * @returns the new generation, or null when the member is not live, or the partition was not free
   *   to move or was no longer at `ref.generation`.
   */
  async assign(ref: PartitionRef, nodeId: string, forceAfterMs = 30_000): Promise<number | null> {
    const key = this.#key(ref);
    const target = checkName("nodeId", nodeId);
    checkMs("forceAfterMs", forceAfterMs, 0, 86_400_000);
    return transaction(this.client, async (conn) => {
      // The partition goes to the member's live process, locked so it cannot re-register meanwhile.
      const member = await cq.lockNode(conn, { cluster: this.cluster, nodeId: target });
      if (member?.live !== 1) return null;
      const previous = await q.getPartitionForUpdate(conn, key);
      const result = await q.assignPartition(conn, {
        ...key,
        nodeId: target,
        incarnation: member.incarnation,
        generation: ref.generation,
        forceAfterUs: forceAfterMs * 1000,
      });
      if (result.affectedRows === 0) return null;
      await q.bumpAssignmentVersion(conn, { cluster: this.cluster, nodeId: target });
      if (previous?.nodeId != null && previous.nodeId !== target) {
        await q.bumpAssignmentVersion(conn, { cluster: this.cluster, nodeId: previous.nodeId });
      }
      await q.bumpAllocationVersion(conn, { cluster: this.cluster });
      return result.insertId;
    });
  }

  /**
   * Asks the owner of an assigned partition to release it so that it can go to `targetNodeId`.
   * @returns false when the partition was not assigned at `ref.generation`.
   */
  async requestRelease(ref: PartitionRef, targetNodeId: string | null): Promise<boolean> {
    const key = this.#key(ref);
    const target = targetNodeId === null ? null : checkName("targetNodeId", targetNodeId);
    return transaction(this.client, async (conn) => {
      const owner = await q.getPartitionForUpdate(conn, key);
      const changed = await q.requestPartitionRelease(conn, { ...key, generation: ref.generation, targetNodeId: target });
      if (changed === 0 || owner?.nodeId == null) return false;
      await q.bumpAssignmentVersion(conn, { cluster: this.cluster, nodeId: owner.nodeId });
      await q.bumpAllocationVersion(conn, { cluster: this.cluster });
      return true;
    });
  }

  /**
   * Deletes partitions that a shrink or removal retired once they are free, finishes removed task
   * lists that have no partition left, and asks again for partitions still owned.
   * @returns how many task lists were finished.
   */
  async prune(): Promise<number> {
    const taskLists = await q.listTaskLists(this.client, { cluster: this.cluster });
    let finished = 0;
    for (const tl of taskLists) {
      const key = { cluster: this.cluster, domain: tl.domain, taskList: tl.taskList };
      const first = tl.status === Status.Deletable ? 0 : tl.partitions;
      await transaction(this.client, async (conn) => {
        await retireFrom(conn, { ...key, firstPartition: first });
        if (tl.status === Status.Deletable && (await q.finishTaskListRemoval(conn, key)) === 1) {
          finished++;
          await q.bumpCatalogVersion(conn, { cluster: this.cluster });
        }
        await q.bumpAllocationVersion(conn, { cluster: this.cluster });
      });
    }
    return finished;
  }

  /** Marks members whose TTL has passed (by the database clock) inactive. @returns how many. */
  async markExpiredNodesInactive(): Promise<number> {
    const marked = await q.markExpiredNodesInactive(this.client, { cluster: this.cluster });
    if (marked > 0) await q.bumpMembershipVersion(this.client, { cluster: this.cluster });
    return marked;
  }

  /** Closes the pool if the store made it. */
  async close(): Promise<void> {
    await this.closeSource();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #key(ref: PartitionRef): { cluster: string; domain: string; taskList: string; partitionId: number } {
    return {
      cluster: this.cluster,
      domain: checkName("domain", ref?.domain),
      taskList: checkName("taskList", ref.taskList),
      partitionId: checkPartition(ref.partition),
    };
  }
}

function toRecord(r: {
  domain: string;
  taskList: string;
  partitionId: number;
  nodeId: string | null;
  state: number;
  generation: number;
  targetNodeId: string | null;
}): PartitionRecord {
  return {
    domain: r.domain,
    taskList: r.taskList,
    partition: r.partitionId,
    nodeId: r.nodeId,
    state: r.state,
    generation: r.generation,
    targetNodeId: r.targetNodeId,
  };
}

/** Opens the ownership table of a cluster after checking the database and its schema. */
export function createOwnershipStore(source: DatabaseSource, options: ClusterOptions): Promise<OwnershipStore> {
  return openForCluster(source, options, (client, cluster, close) => new OwnershipStore(client, cluster, close));
}
