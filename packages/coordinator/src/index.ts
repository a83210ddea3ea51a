/**
 * The elected coordinator of a Helix cluster and its planner: one leader per cluster keeps every
 * task list's partitions spread over the live members, moving as few as balance requires, with
 * acknowledged hand-offs and every write fenced by its leadership epoch.
 *
 * @packageDocumentation
 */
export { Coordinator } from "./coordinator";
export { createCoordinator } from "./create";
export { planNextRound, type DryRun } from "./dry-run";
export { type CoordinatorEvents, type CoordinatorState, type CoordinatorStats } from "./events";
export {
  readHistory,
  transitionCauseName,
  transitionKindName,
  type AppliedTransition,
  type TransitionCauseName,
  type TransitionKindName,
  type TransitionRecord,
} from "./audit";
export { type RoundReport, type RoundTrigger } from "./round";
export {
  endMaintenance,
  MAX_MAINTENANCE_ACTOR_LENGTH,
  MAX_MAINTENANCE_EXPIRY_MS,
  MAX_MAINTENANCE_REASON_LENGTH,
  readMaintenance,
  resolveMaintenanceOptions,
  startMaintenance,
  type Maintenance,
  type MaintenanceOptions,
  type ResolvedMaintenanceOptions,
  type MaintenanceScope,
} from "./maintenance";
export {
  liftMemberPlacements,
  liftPlacement,
  MAX_PLACEMENT_ACTOR_LENGTH,
  MAX_PLACEMENT_REASON_LENGTH,
  moveMemberPartitions,
  movePartition,
  pinPartition,
  PlacementRefusedError,
  readPlacements,
  resolvePlacementOptions,
  type Placement,
  type PlacementKind,
  type PlacementOptions,
  type PlacementRule,
} from "./placements";
export { type ClusterSnapshot } from "./snapshot";
export { type CoordinatorOptions, type ResolvedCoordinatorOptions } from "./options";
export {
  planOwnership,
  type AssignReason,
  type Plan,
  type PlannerInput,
  type PlannerMember,
  type PlannerOptions,
  type PlannerPartition,
  type PlannerTaskList,
  type Transition,
} from "./planner";
/** Everything a member or a router needs, so that a service embedding the coordinator depends on this package alone. */
// What an application embedding the coordinator uses of @helix/cluster, named here so that this
// package's surface is chosen, not inherited (the protocol's writer and the key helpers stay there).
export {
  AlreadyJoinedError,
  Catalog,
  ClosedError,
  coordinatorLeaseKey,
  createCatalog,
  createOwnershipStore,
  createRoutingTable,
  DatabaseUnavailableError,
  DEFAULT_FORCE_RELEASE_AFTER_MS,
  DEFAULT_MEMBER_RETENTION_MS,
  fencePartition,
  HelixError,
  InvalidArgumentError,
  isHelixError,
  join,
  MAX_METADATA_BYTES,
  MAX_PARTITIONS,
  MAX_WEIGHT,
  Member,
  OwnershipStore,
  PartitionFencedError,
  PartitionState,
  resolveJoinOptions,
  resolveDrainOptions,
  resolveLeaveOptions,
  resolveTaskListSpec,
  RoutingTable,
  SchemaNotMigratedError,
  Status,
  TransitionCause,
  TransitionKind,
  UnknownTaskListError,
  type ChangeCounters,
  type ClusterOptions,
  type JoinOptions,
  type DrainOptions,
  type LeaveOptions,
  type LossReason,
  type ResolvedDrainOptions,
  type ResolvedLeaveOptions,
  type MemberEvents,
  type MemberRecord,
  type MemberState,
  type OwnedPartition,
  type PartitionChange,
  type PartitionOwnership,
  type PartitionRecord,
  type PartitionAddress,
  type PartitionRef,
  type ResolvedJoinOptions,
  type ResolvedTaskListSpec,
  type RoutingEvents,
  type TaskList,
  type TaskListSpec,
} from "@helix/cluster";
