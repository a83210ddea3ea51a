/**
 * The ownership protocol's writes, by table (`counters.ts`, `members.ts`, `partitions.ts`,
 * `task-lists.ts`): the only code that writes the members table (helix_nodes), the
 * ownership table (helix_allocation) and the change counters (helix_cluster_state). The catalog,
 * the ownership store, the member and the coordinator's rounds all write through these functions,
 * and each returns what it changed, counter bumps included, so that a caller never predicts them.
 *
 * Every function takes the connection of a transaction the caller opened (a caller may fence it
 * first, as the coordinator does with its lease), except {@link heartbeatMember}, one statement.
 *
 * Who tells whom:
 * - a member's assignment version moves whenever one of its partitions changes (its next heartbeat
 *   returns it and the member reads its partitions again);
 * - the cluster's counters move for readers: `membership` when a member registers, leaves or is
 *   swept, `catalog` when a task list is put or removed, `ownership` when any partition changes.
 */

export { addCounters, bump, ensureCounters, NO_CHANGE, readCounters, type ChangeCounters } from "./counters";
export {
  DEFAULT_MEMBER_RETENTION_MS,
  DEFAULT_MEMBER_TTL_MS,
  deleteDepartedMembers,
  heartbeatMember,
  leaveCluster,
  setMemberWeight,
  MEMBER_DELETE_BATCH,
  registerMember,
  sweepExpiredMembers,
  type Registration,
} from "./members";
export {
  applyOwnershipChanges,
  confirmReleases,
  currentOwner,
  DEFAULT_FORCE_RELEASE_AFTER_MS,
  lockMembers,
  RunPace,
  tellMembers,
  type AppliedChange,
  type OwnershipChange,
  type PartitionKey,
} from "./partitions";
export { pruneRetired, putTaskList, removeTaskList, type RetiringTaskList } from "./task-lists";
