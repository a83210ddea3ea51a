import { HelixError } from "@helix/db";

/** A live member with this node id is already in the cluster. */
export class AlreadyJoinedError extends HelixError {
  readonly code = "HELIX_ALREADY_JOINED";

  constructor(
    readonly cluster: string,
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
    readonly cluster: string,
    readonly domain: string,
    readonly taskList: string,
  ) {
    super(`task list ${domain}/${taskList} is not in the catalog of cluster "${cluster}"; create it with putTaskList`);
  }
}

/**
 * A partition fence failed: the process no longer owns the partition at that generation (it was
 * handed over, forced, or its member expired and re-registered). Roll the transaction back.
 */
export class PartitionFencedError extends HelixError {
  readonly code = "HELIX_PARTITION_FENCED";
  readonly cluster: string;
  readonly domain: string;
  readonly taskList: string;
  readonly partition: number;
  readonly nodeId: string;
  readonly generation: number;

  constructor(ownership: {
    cluster: string;
    domain: string;
    taskList: string;
    partition: number;
    nodeId: string;
    generation: number;
  }) {
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
