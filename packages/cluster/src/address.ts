// The address of a partition, the one shape every part of Helix names a partition by.

/** Where a partition is: its task list (domain and name) and its number in it. */
export interface PartitionAddress {
  /** The partition's task-list domain. */
  readonly domain: string;
  /** The partition's task list. */
  readonly taskList: string;
  /** The partition's number, from 0. */
  readonly partition: number;
}

/** A partition at the generation a caller saw it (or owns it) at: a write applies only if it is still at it. */
export interface PartitionRef extends PartitionAddress {
  /** The generation the caller last saw; the write applies only if the partition is still at it. */
  readonly generation: number;
}
