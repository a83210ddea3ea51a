import {
  checkClient,
  checkInteger,
  checkOptions,
  classified,
  type Engine,
  partitionFenceQuery,
  type QueryClient,
  serverEngine,
} from "@helix/db/internal";

import type { PartitionAddress } from "./address";
import { PartitionFencedError } from "./errors";
import { checkName, checkPartition } from "./validate";

/** Which ownership a fenced write belongs to: the partition, the owning process and its generation. */
export interface PartitionOwnership extends PartitionAddress {
  /** The partition's cluster. */
  readonly cluster: string;
  /** The owner's node id. */
  readonly nodeId: string;
  /** The owning process's incarnation (`member.incarnation` when it was given the partition). */
  readonly incarnation: string;
  /** The generation the partition was given at. */
  readonly generation: number;
}

/**
 * Fences a write in the caller's transaction by partition ownership, for code that received the
 * ownership from elsewhere (a job payload, another service). The partition form of the lease fence:
 * it succeeds only while this process (node id and incarnation) owns the partition at this
 * generation, and holds a lock on the partition's row until the caller's transaction ends (shared
 * on MySQL and MariaDB, exclusive on TiDB), so the coordinator cannot hand the partition to anyone
 * before the fenced write commits. Every later owner has a larger generation, so once it has the
 * partition this fence fails.
 * @throws {@link PartitionFencedError} when the ownership is not the current one (roll back).
 */
export async function fencePartition(connection: QueryClient, ownership: PartitionOwnership): Promise<void> {
  await fencePartitionOn(connection, ownership, () => serverEngine(connection));
}

/**
 * {@link fencePartition}, locking as the engine needs: the engine of the connection, or of the
 * member's own pool. Arguments are checked before anything is sent.
 */
export async function fencePartitionOn(
  connection: QueryClient,
  ownership: PartitionOwnership,
  engine: () => Promise<Engine>,
): Promise<void> {
  checkClient("connection", connection);
  const given = checkOptions("ownership", ownership);
  const args = {
    cluster: checkName("cluster", given.cluster),
    domain: checkName("domain", given.domain),
    taskList: checkName("taskList", given.taskList),
    partitionId: checkPartition(given.partition),
    nodeId: checkName("nodeId", given.nodeId),
    incarnation: checkName("incarnation", given.incarnation),
    generation: checkInteger("generation", given.generation, 0, Number.MAX_SAFE_INTEGER),
  };
  let row: unknown;
  try {
    row = await partitionFenceQuery(await engine())(connection, args);
  } catch (error) {
    // The caller's connection, in the caller's transaction: connection errors are classified as
    // everywhere, but nothing is retried here (a conflict rolled back the caller's whole transaction).
    throw classified("the database", error);
  }
  if (row === null) throw new PartitionFencedError(ownership);
}
