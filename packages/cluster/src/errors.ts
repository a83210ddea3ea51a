import type { PartitionAddress } from "./address";
import { HelixError } from "@helix/db";

/** A live member with this node id is already in the cluster. */
export class AlreadyJoinedError extends HelixError {
  readonly code = "HELIX_ALREADY_JOINED";

  constructor(
    /** The cluster joined. */
    readonly cluster: string,
    /** The node id that a live member already has. */
    readonly nodeId: string,
  ) {
    super(
      `node "${nodeId}" is already a live member of cluster "${cluster}"; ` +
        "give this process another nodeId, or wait for the other registration to leave or expire",
    );
  }
}

/** The task list is not in the catalog (or is being removed). */
export class UnknownTaskListError extends HelixError {
  readonly code = "HELIX_UNKNOWN_TASK_LIST";

  constructor(
    /** The cluster whose catalog was asked. */
    readonly cluster: string,
    /** The task list's domain. */
    readonly domain: string,
    /** The task list's name. */
    readonly taskList: string,
  ) {
    super(`task list ${domain}/${taskList} is not in the catalog of cluster "${cluster}"; create it with putTaskList`);
  }
}

/**
 * A partition fence failed: the process no longer owns the partition at that generation (it was
 * handed over, forced, or its member expired and re-registered). Roll the transaction back.
 */
export class PartitionFencedError extends HelixError implements PartitionAddress {
  readonly code = "HELIX_PARTITION_FENCED";
  /** The partition's cluster. */
  readonly cluster: string;
  /** The partition's task-list domain. */
  readonly domain: string;
  /** The partition's task list. */
  readonly taskList: string;
  /** The partition's number. */
  readonly partition: number;
  /** The node id the fence named as owner. */
  readonly nodeId: string;
  /** The generation the fence named, no longer the partition's. */
  readonly generation: number;

  constructor(ownership: PartitionAddress & { cluster: string; nodeId: string; generation: number }) {
    super(
      `partition ${ownership.domain}/${ownership.taskList}/${ownership.partition} of cluster "${ownership.cluster}" ` +
        `is no longer owned by this process of "${ownership.nodeId}" at generation ${ownership.generation}; ` +
        "roll back and stop working on it",
    );
    this.cluster = ownership.cluster;
    this.domain = ownership.domain;
    this.taskList = ownership.taskList;
    this.partition = ownership.partition;
    this.nodeId = ownership.nodeId;
    this.generation = ownership.generation;
  }
}
