/**
 * The keys Helix builds from names: lease keys in helix_locks, and map keys for task lists and
 * partitions. Names may hold any printable character but never NUL, so NUL separates their parts.
 */

/** The lease every coordinator of `cluster` competes for; its holder is the leader. */
export const coordinatorLeaseKey = (cluster: string): string => `helix/${cluster}/coordinator`;

/** The lease whose holder among a cluster's members marks expired members inactive. */
export const sweepLeaseKey = (cluster: string): string => `helix/${cluster}/sweep`;

/** A map key for a task list. */
export const taskListKey = (domain: string, taskList: string): string => `${domain}\u0000${taskList}`;

/** A map key for a partition of a task list. */
export const partitionKey = (domain: string, taskList: string, partition: number): string => `${domain}\u0000${taskList}\u0000${partition}`;
