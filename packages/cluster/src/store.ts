import { checkInteger, checkMs, checkOptions, clusterQueries as q, type ConnectionSource, type DatabaseSource } from "@helix/db/internal";

import { openForCluster, type BoundedWrites, type ClusterOptions } from "./catalog";
import {
  applyOwnershipChanges,
  currentOwner,
  DEFAULT_FORCE_RELEASE_AFTER_MS,
  pruneRetired,
  readCounters,
  setMemberWeight,
  sweepExpiredMembers,
  type ChangeCounters,
  type OwnershipChange,
} from "./ownership";
import { checkName, checkPartition } from "./validate";
import type { PartitionAddress, PartitionRef } from "./address";

/** One partition's row of the ownership table. */
export interface PartitionRecord extends PartitionAddress {
  /** The owner, or null when unassigned. */
  readonly nodeId: string | null;
  /** A {@link PartitionState} value. */
  readonly state: number;
  /** Grows by one on every change of owner: the owner's fencing token. */
  readonly generation: number;
  /** Where the partition goes once its owner confirms the release; null otherwise. */
  readonly targetNodeId: string | null;
}

/** A member as the members table has it. */
export interface MemberRecord {
  /** The member's id in the cluster. */
  readonly nodeId: string;
  /** What the member published about itself when it joined. */
  readonly metadata: Record<string, unknown>;
  /** The member's share of partitions relative to others (0 takes none). */
  readonly weight: number;
  /** Whether the member is live now by the database clock. */
  readonly live: boolean;
  /** Whether it is not live because it left (a graceful leave before its TTL passed), not because its TTL passed. */
  readonly left: boolean;
  /**
   * Whether it left saying it would be back (`leave({ returningWithinMs })`) and that time has not
   * passed: its partitions wait for its node id's next process.
   */
  readonly returning: boolean;
  /** The process (incarnation) that holds, or last held, the registration. */
  readonly incarnation: string;
  /** When the member (this incarnation) registered, by the database clock. */
  readonly registeredAt: Date;
  /** When its last heartbeat arrived, by the database clock. */
  readonly heartbeatAt: Date;
  /** When it stops being live unless a heartbeat arrives first, by the database clock. */
  readonly expiresAt: Date;
}

/**
 * The ownership table of one cluster: reads for routers, status pages and tools, and the writes
 * that move partitions by hand. Each write is one transaction of the ownership protocol
 * (`ownership/`), which also tells the affected members and readers.
 *
 * The hand-off rule lives in the database: a partition goes to a new owner only when it is
 * unassigned, released by its owner, owned by a process that is no longer live, or asked to be
 * released longer ago than both the caller's force timeout and the owner's TTL; and only at the
 * generation the caller saw.
 *
 * Writes are bounded as the catalog's are (see `Catalog`): one that waits longer than 40% of the
 * shortest member TTL fails with `DatabaseUnavailableError`, changing nothing; try it again.
 */
export class OwnershipStore implements AsyncDisposable {
  /** @internal Use {@link createOwnershipStore}. */
  constructor(
    private readonly client: ConnectionSource,
    /** The cluster whose members and partitions this store reads and writes. */
    readonly cluster: string,
    private readonly closeSource: () => Promise<void>,
    private readonly writes: BoundedWrites,
  ) {}

  /** The cluster's change counters (all 0 for a cluster that has seen no change). */
  async counters(): Promise<ChangeCounters> {
    return readCounters(this.client, this.cluster);
  }

  /** Every member of the cluster, live or not, by node id. */
  async members(): Promise<MemberRecord[]> {
    return (await q.listMembers(this.client, { cluster: this.cluster })).map((r) => ({
      nodeId: r.nodeId,
      metadata: JSON.parse(r.metadata) as Record<string, unknown>,
      weight: r.weight,
      live: r.live === 1,
      left: r.leftEarly === 1,
      returning: r.willReturn === 1,
      incarnation: r.incarnation,
      registeredAt: r.registeredAt,
      heartbeatAt: r.heartbeatAt,
      expiresAt: r.expiresAt,
    }));
  }

  /** The whole ownership table of the cluster. */
  async partitions(): Promise<PartitionRecord[]> {
    return (await q.listClusterOwnership(this.client, { cluster: this.cluster })).map(toRecord);
  }

  /** One task list's partitions, in order. */
  async taskListPartitions(domain: string, taskList: string): Promise<PartitionRecord[]> {
    const key = { cluster: this.cluster, domain: checkName("domain", domain), taskList: checkName("taskList", taskList) };
    return (await q.listTaskListOwnership(this.client, key)).map((r) => toRecord({ ...r, ...key }));
  }

  /** Every partition a member owns, across task lists (one indexed read). */
  async memberPartitions(nodeId: string): Promise<PartitionRecord[]> {
    const id = checkName("nodeId", nodeId);
    return (await q.listMemberOwnership(this.client, { cluster: this.cluster, nodeId: id })).map((r) => toRecord({ ...r, nodeId: id }));
  }

  /**
   * Gives a partition to the live process of member `nodeId` if the hand-off rule allows it (see the
   * class description).
   * @param forceAfterMs - how long after a release request a live owner that has not confirmed is
   *   overruled; never sooner than the owner's TTL. @default {@link DEFAULT_FORCE_RELEASE_AFTER_MS}
   * @returns the new generation, or null when the member is not live, or the partition was not free
   *   to move or was no longer at `ref.generation`.
   */
  async assign(ref: PartitionRef, nodeId: string, forceAfterMs = DEFAULT_FORCE_RELEASE_AFTER_MS): Promise<number | null> {
    const target = checkName("nodeId", nodeId);
    checkMs("forceAfterMs", forceAfterMs, 0, 86_400_000);
    const applied = await this.#change(ref, "assign", target, forceAfterMs);
    return applied?.newGeneration ?? null;
  }

  /**
   * Asks the live owner of an assigned partition to release it so that it can go to `targetNodeId`
   * (live too, when given).
   * @returns false when the partition was not assigned at `ref.generation`, or a member was not live.
   */
  async requestRelease(ref: PartitionRef, targetNodeId: string | null): Promise<boolean> {
    const target = targetNodeId === null ? null : checkName("targetNodeId", targetNodeId);
    return (await this.#change(ref, "release", target, 0)) !== undefined;
  }

  /**
   * Drains a live member for an operator (`helix members drain`): its weight is 0 for the rest of its
   * registration, so it takes no partitions and the coordinator hands what it owns to the others
   * through the acknowledged hand-off while it goes on working the rest (see `Member.drain`, which a
   * member calls on itself, and which also leaves once it owns nothing). A registration of the node
   * id after this one brings its own weight.
   * @returns false when no live member has that node id (nothing changed).
   */
  async drain(nodeId: string): Promise<boolean> {
    const member = { cluster: this.cluster, nodeId: checkName("nodeId", nodeId), weight: 0 };
    const { found } = await this.writes.transaction((conn) => setMemberWeight(conn, member));
    return found;
  }

  /**
   * Deletes partitions that a shrink or removal retired once they are free, finishes removed task
   * lists that have no partition left, and asks again for partitions still owned.
   * @returns how many task lists were finished.
   */
  async prune(): Promise<number> {
    const taskLists = await q.listTaskLists(this.client, { cluster: this.cluster });
    const { finished } = await this.writes.transaction((conn) => pruneRetired(conn, this.cluster, taskLists));
    return finished;
  }

  /**
   * Marks members whose TTL has passed (by the database clock) inactive, and deletes a batch of
   * those gone longer than `DEFAULT_MEMBER_RETENTION_MS` that own nothing. @returns how many were marked.
   */
  async sweepExpiredMembers(): Promise<number> {
    const { marked } = await this.writes.transaction((conn) => sweepExpiredMembers(conn, this.cluster));
    return marked;
  }

  /** Closes the pool if the store made it. */
  async close(): Promise<void> {
    await this.closeSource();
  }

  /** Same as {@link OwnershipStore.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** One change, from the owner the table has now; undefined when it did not apply. */
  async #change(ref: PartitionRef, type: OwnershipChange["type"], to: string | null, forceAfterMs: number) {
    const given = checkOptions("ref", ref);
    const partition = {
      cluster: this.cluster,
      domain: checkName("domain", given.domain),
      taskList: checkName("taskList", given.taskList),
      partition: checkPartition(given.partition),
    };
    const generation = checkInteger("generation", given.generation, 0, Number.MAX_SAFE_INTEGER);
    return this.writes.transaction(async (conn) => {
      // Read without a lock: the change applies only at `generation`, and at one generation the
      // owner can only have left (a stale read then tells it once more, which is harmless).
      const owner = await currentOwner(conn, partition);
      const change = { type, ...partition, generation, from: owner?.nodeId ?? null, to };
      const { applied } = await applyOwnershipChanges(conn, this.cluster, [change], forceAfterMs);
      return applied[0];
    });
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
  return openForCluster(source, options, (client, cluster, close, writes) => new OwnershipStore(client, cluster, close, writes));
}
