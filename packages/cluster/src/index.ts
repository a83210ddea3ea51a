/**
 * Cluster membership with failure detection, the task-list catalog, the partition ownership table,
 * the worker-side Member API and a read-only routing table, all on MySQL.
 *
 * @packageDocumentation
 */
export {
  Catalog,
  createCatalog,
  resolveTaskListSpec,
  type ClusterOptions,
  type ResolvedTaskListSpec,
  type TaskList,
  type TaskListSpec,
} from "./catalog";
export { AlreadyJoinedError, PartitionFencedError, UnknownTaskListError } from "./errors";
export { fencePartition, type PartitionOwnership } from "./fence";
export { coordinatorLeaseKey } from "./keys";
export { join, resolveJoinOptions } from "./join";
export type { JoinOptions, ResolvedJoinOptions } from "./join-options";
export {
  resolveDrainOptions,
  resolveLeaveOptions,
  type DrainOptions,
  type LeaveOptions,
  type ResolvedDrainOptions,
  type ResolvedLeaveOptions,
} from "./leave-options";
export { Member } from "./member";
export { WATCH_INTERVAL_MS } from "./watch";
export { type LossReason, type MemberEvents, type MemberState, type OwnedPartition, type PartitionChange } from "./member-events";
export { DEFAULT_FORCE_RELEASE_AFTER_MS, DEFAULT_MEMBER_RETENTION_MS, type ChangeCounters } from "./ownership";
export { createRoutingTable, RoutingTable, type RoutingEvents } from "./routing";
export type { PartitionAddress, PartitionRef } from "./address";
export { createOwnershipStore, OwnershipStore, type MemberRecord, type PartitionRecord } from "./store";
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
  TransitionCause,
  TransitionKind,
} from "@helix/db";
