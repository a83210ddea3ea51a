/**
 * `status` of rows in helix_locks, helix_nodes and helix_cluster, stored as a TINYINT.
 * - `Active` (1): the lease is held, the member is registered, the task list is in the catalog.
 * - `Inactive` (0): released, left, expired or removed; the row is kept (a lock row keeps its
 *   epoch, a removed task list its generation floor).
 * - `Deletable` (2): removed, waiting for clean-up (a task list whose partitions are being released).
 */
export const Status = {
  /** Released, left, expired or removed; the row is kept. */
  Inactive: 0,
  /** The lease is held, the member is registered, the task list is in the catalog. */
  Active: 1,
  /** Removed, waiting for clean-up. */
  Deletable: 2,
} as const;

/** One of the values of {@link Status}. */
export type Status = (typeof Status)[keyof typeof Status];

/**
 * `state` of a partition in helix_allocation, stored as a TINYINT.
 * - `Unassigned` (0): no owner.
 * - `Assigned` (1): owned by `node_id`.
 * - `ReleaseRequested` (2): `node_id` has been asked to stop so the partition can move to `target_node_id`.
 * - `Released` (3): `node_id` confirmed it stopped; the partition may be given to its target.
 */
export const PartitionState = {
  /** No owner. */
  Unassigned: 0,
  /** Owned by `node_id`. */
  Assigned: 1,
  /** `node_id` has been asked to stop so the partition can move to `target_node_id`. */
  ReleaseRequested: 2,
  /** `node_id` confirmed it stopped; the partition may be given to its target. */
  Released: 3,
} as const;

/** One of the values of {@link PartitionState}. */
export type PartitionState = (typeof PartitionState)[keyof typeof PartitionState];

/**
 * `kind` of a row in helix_transitions (the coordinator's audit trail), stored as a TINYINT.
 * - `Assigned` (1): an unassigned partition was given to a member.
 * - `HandedOff` (2): the owner confirmed its release and the partition went to its next owner.
 * - `Reclaimed` (3): the owner was no longer live; the partition went to another member.
 * - `Forced` (4): the owner did not confirm a release in time; the partition was moved anyway.
 * - `ReleaseRequested` (5): the owner was asked to release the partition for a move.
 */
export const TransitionKind = {
  /** An unassigned partition was given to a member. */
  Assigned: 1,
  /** The owner confirmed its release and the partition went to its next owner. */
  HandedOff: 2,
  /** The owner was no longer live; the partition went to another member. */
  Reclaimed: 3,
  /** The owner did not confirm a release in time; the partition was moved anyway. */
  Forced: 4,
  /** The owner was asked to release the partition for a move. */
  ReleaseRequested: 5,
} as const;

/** One of the values of {@link TransitionKind}. */
export type TransitionKind = (typeof TransitionKind)[keyof typeof TransitionKind];

/** Why a transition of the audit trail happened (`helix_transitions.cause`). */
export const TransitionCause = {
  /** Not recorded: written before causes were, or by an earlier version. */
  Unknown: 0,
  /** A member joined: its share was asked of the others. */
  Join: 1,
  /** A member left: its partitions went to the others. */
  Leave: 2,
  /** A member's TTL passed (it crashed or hung), or it did not confirm a release in time. */
  Expiry: 3,
  /** A node id's new process took its partition back. */
  Restart: 4,
  /** A member drains: its partitions were asked of it for the others. */
  Drain: 5,
  /** Balance among members already there (a weight changed, an earlier move ended). */
  Rebalance: 6,
  /** A partition never owned before was given out: a task list was created or grew. */
  TaskList: 7,
  /** An operator pinned or moved the partition to a member (see `pinPartition`). */
  Operator: 8,
} as const;

/** One of the values of {@link TransitionCause}. */
export type TransitionCause = (typeof TransitionCause)[keyof typeof TransitionCause];

/** Longest lock key, in characters (helix_locks.lock_key is VARCHAR(255)). */
export const MAX_LOCK_KEY_LENGTH = 255;

/** Longest owner id, in characters (helix_locks.owner is VARCHAR(255)). */
export const MAX_OWNER_LENGTH = 255;

/** Longest cluster, node, domain or task-list name, in characters (VARCHAR(128) columns). */
export const MAX_NAME_LENGTH = 128;
