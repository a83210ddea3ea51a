/**
 * Cluster membership with failure detection, the task-list catalog, the partition ownership table,
 * the worker-side Member API and a read-only routing table, all on MySQL.
 *
 * @packageDocumentation
 */
export { Catalog, createCatalog, retireFrom, type ClusterOptions, type TaskList, type TaskListSpec } from "./catalog";
export { AlreadyJoinedError, PartitionFencedError, UnknownTaskListError } from "./errors";
export { fencePartition, type PartitionOwnership } from "./fence";
export {
  join,
  Member,
  type JoinOptions,
  type LossReason,
  type MemberEvents,
  type MemberState,
  type OwnedPartition,
  type PartitionChange,
} from "./member";
export { createRoutingTable, RoutingTable, type RoutingEvents } from "./routing";
export {
  createOwnershipStore,
  OwnershipStore,
  type ClusterVersions,
  type NodeRecord,
  type PartitionRecord,
  type PartitionRef,
} from "./store";
export { MAX_METADATA_BYTES, MAX_PARTITIONS, MAX_WEIGHT } from "./validate";
export {
  ClosedError,
  DatabaseUnavailableError,
  HelixError,
  InvalidArgumentError,
  isHelixError,
  PartitionState,
  SchemaNotMigratedError,
  Status,
  TransitionKind,
} from "@helix/db";
