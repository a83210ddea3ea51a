/**
 * The elected coordinator of a Helix cluster and its planner: one leader per cluster keeps every
 * task list's partitions spread over the live members, moving as few as balance requires, with
 * acknowledged hand-offs and every write fenced by its leadership epoch.
 *
 * @packageDocumentation
 */
export {
  Coordinator,
  createCoordinator,
  planNextRound,
  readHistory,
  type DryRun,
  type CoordinatorEvents,
  type CoordinatorState,
  type CoordinatorStats,
  type RoundReport,
  type RoundTrigger,
  type TransitionRecord,
} from "./coordinator";
export { type CoordinatorOptions, type ResolvedCoordinatorOptions } from "./options";
export {
  planAllocation,
  type AssignReason,
  type Plan,
  type PlannerInput,
  type PlannerMember,
  type PlannerOptions,
  type PlannerPartition,
  type PlannerTaskList,
  type Transition,
} from "./planner";
export { type AppliedTransition, type ClusterSnapshot, type Versions } from "./rounds";
/** Everything a member or a router needs, so that a service embedding the coordinator depends on this package alone. */
export * from "@helix/cluster";
