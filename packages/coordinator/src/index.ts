/**
 * The elected coordinator of a Helix cluster and its planner: one leader per cluster keeps every
 * task list's partitions spread over the live members, moving as few as balance requires, with
 * acknowledged hand-offs and every write fenced by its leadership epoch.
 *
 * @packageDocumentation
 */
export { Coordinator, createCoordinator } from "./coordinator";
export { planNextRound, type DryRun } from "./dry-run";
export { type CoordinatorEvents, type CoordinatorState, type CoordinatorStats } from "./events";
export { readHistory, transitionKindName, type AppliedTransition, type TransitionKindName, type TransitionRecord } from "./audit";
export { type RoundReport, type RoundTrigger } from "./round";
export { type ClusterSnapshot } from "./snapshot";
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
/** Everything a member or a router needs, so that a service embedding the coordinator depends on this package alone. */
export * from "@helix/cluster";
