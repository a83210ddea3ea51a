/**
 * The elected coordinator of a Helix cluster and its planner: one leader per cluster keeps every
 * task list's partitions spread over the live members, moving as few as balance requires, with
 * acknowledged hand-offs and every write fenced by its leadership epoch.
 *
 * @packageDocumentation
 */
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
