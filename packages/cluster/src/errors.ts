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
