// The options of join(), as given and as resolved: types only, so that the member can name them
// without importing join() (which makes members).
import type { OwnedPartition } from "./member-events";

/** Options of {@link join}. Every field but `cluster` is optional. */
export interface JoinOptions {
  /** The cluster to join. */
  cluster: string;
  /** This member's id in the cluster. @default "host:pid:random" */
  nodeId?: string;
  /** What others see about this member (a plain JSON object). @default {} */
  metadata?: Record<string, unknown>;
  /**
   * This member's share of partitions relative to others: a member of weight 2 gets twice the
   * partitions of a member of weight 1; 0 takes none (for draining). An integer from 0 to 1000.
   * @default 1
   */
  weight?: number;
  /** Member TTL: the member is dead once the database clock passes last heartbeat + ttl. @default 10000 */
  ttlMs?: number;
  /**
   * Time between heartbeats: at most half of (ttlMs - safetyMarginMs), so that a failed heartbeat
   * is retried before the member must stop. @default a third of ttlMs, or that half if smaller
   */
  heartbeatMs?: number;
  /**
   * How much before (heartbeat send time + ttl) the member stops its partitions: at least 1% of
   * ttlMs (clocks run at slightly different rates). @default 5% of ttl, 10 ms to 1 s
   */
  safetyMarginMs?: number;
  /**
   * Stops a partition's work when it is leaving this member (release requested, or the member
   * leaves). The release is confirmed when it resolves (not when it throws). @default nothing to wait for
   */
  onRelease?: (partition: OwnedPartition) => Promise<void> | void;
  /** `auto` confirms releases after `onRelease`; `manual` waits for {@link Member.confirmRelease}. @default "auto" */
  confirmReleases?: "auto" | "manual";
  /**
   * How often a member tries to become the cluster's sweeper: 0 (never), or 100 ms to 12 hours.
   * @default ttlMs
   */
  sweepIntervalMs?: number;
  /**
   * When this member sweeps: how long a departed member that owns nothing is kept before it is
   * deleted. Give every member and coordinator of a cluster the same value. 1 minute to 3,650 days.
   * @default `DEFAULT_MEMBER_RETENTION_MS` (7 days)
   */
  memberRetentionMs?: number;
}

/** {@link JoinOptions} after defaults and validation. */
export interface ResolvedJoinOptions {
  /** The cluster to join. */
  readonly cluster: string;
  /** This member's id in the cluster. */
  readonly nodeId: string;
  /** JSON text of the metadata object. */
  readonly metadata: string;
  /** This member's share of partitions relative to others; 0 takes none. */
  readonly weight: number;
  /** Member TTL: the member is dead once the database clock passes last heartbeat + ttl. */
  readonly ttlMs: number;
  /** Time between heartbeats. */
  readonly heartbeatMs: number;
  /** How much before (heartbeat send time + ttl) the member stops its partitions. */
  readonly marginMs: number;
  /**
   * How long one of the member's statements may go unanswered before its connection is given up
   * (a black-holed socket): half of what is left of the deadline after a heartbeat interval, so a
   * heartbeat that hangs fails, and one sent again on a fresh connection lands, before the member
   * must stop.
   */
  readonly statementTimeoutMs: number;
  /** How often the member tries to become the cluster's sweeper; 0 for never. */
  readonly sweepIntervalMs: number;
  /** How long a departed member that owns nothing is kept before this member's sweep deletes it. */
  readonly memberRetentionMs: number;
  /** Stops a partition's work when it is leaving this member; `undefined` when there is nothing to wait for. */
  readonly onRelease: ((partition: OwnedPartition) => Promise<void> | void) | undefined;
  /** Whether releases are confirmed once `onRelease` resolves (`confirmReleases: "auto"`). */
  readonly autoConfirm: boolean;
}
