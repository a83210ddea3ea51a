import type { RoundReport } from "./round";

/**
 * Where a coordinator stands:
 * - `following`: a standby, trying to take the leadership lease every `electionIntervalMs`;
 * - `leading`: holds the lease and runs rounds;
 * - `stopping`: `stop()` was called; finishing the current round and releasing the lease;
 * - `stopped`: the lease is released and the connections closed.
 */
export type CoordinatorState = "following" | "leading" | "stopping" | "stopped";

/** Events of a {@link Coordinator}, by name, with their arguments. */
export interface CoordinatorEvents {
  /** The state changed. */
  "coordinator:state": [
    change: {
      /** The state before. */
      from: CoordinatorState;
      /** The state now. */
      to: CoordinatorState;
    },
  ];
  /** This coordinator took the leadership lease. */
  "leader:elected": [
    info: {
      /** The leadership epoch: every write of this leadership is fenced with it. */
      epoch: number;
    },
  ];
  /** A renewal of the leadership lease could not reach the database; the lease holds until its deadline. */
  "leader:renew-failed": [error: Error];
  /** This coordinator lost the lease it led with (expired, refused, or fenced out); it follows again. */
  "leader:lost": [
    info: {
      /** The epoch of the leadership that ended. */
      epoch: number;
      /** Why it ended: the reason its lease's signal aborted with. */
      error: Error;
    },
  ];
  /** A round finished. */
  "round:done": [report: RoundReport];
  /** A round failed (the database is unreachable, say); the next trigger tries again. */
  "round:error": [error: Error];
  /** A standby's attempt to take the lease failed (not "held by another": that is normal). */
  "election:error": [error: Error];
}

/** Counters since the coordinator started, for metrics. */
export interface CoordinatorStats {
  /** Where the coordinator stands now. */
  readonly state: CoordinatorState;
  /** The epoch this coordinator leads with, or null when it does not lead. */
  readonly epoch: number | null;
  /** How many times this coordinator became the leader. */
  readonly elections: number;
  /** Rounds finished. */
  readonly rounds: number;
  /** Rounds that wrote something. */
  readonly roundsWithWrites: number;
  /** Rounds that failed. */
  readonly roundErrors: number;
  /** Transitions committed, by kind. */
  readonly assigned: number;
  /** Release requests committed. */
  readonly releasesRequested: number;
  /** Rounds cut short because the lease was no longer this coordinator's (their writes refused or not made). */
  readonly fencedOut: number;
  /** Renewals of the leadership lease that could not reach the database. */
  readonly leaseRenewFailures: number;
  /** Hand-offs waiting for confirmation after the last round. */
  readonly pendingHandoffs: number;
  /** Live members and catalog partitions as of the last round. */
  readonly members: number;
  /** Catalog partitions as of the last round. */
  readonly partitions: number;
  /** The report of the last round, or null before the first. */
  readonly lastRound: RoundReport | null;
}
