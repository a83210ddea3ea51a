import {
  assertMigrated,
  checkInteger,
  checkMs,
  checkOptions,
  type DatabaseSource,
  defaultProcessId,
  InvalidArgumentError,
  openDatabase,
  orDefault,
} from "@helix/db";
import { createLocker, MAX_TTL_MS, resolveMarginMs, type Locker } from "@helix/lock";

import { AlreadyJoinedError } from "./errors";
import { DEFAULT_MEMBER_RETENTION_MS, DEFAULT_MEMBER_TTL_MS } from "./ownership";
import { Member } from "./member";
import type { OwnedPartition } from "./member-events";
import { checkName, MAX_WEIGHT, metadataJson } from "./validate";

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
  /** Node TTL: the member is dead once the database clock passes last heartbeat + ttl. @default 10000 */
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
  /** Node TTL: the member is dead once the database clock passes last heartbeat + ttl. */
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

const MIN_SWEEP_INTERVAL_MS = 100;

/**
 * Applies defaults to join options and checks them, before anything is connected.
 * @throws `InvalidArgumentError` naming the bad option.
 */
export function resolveJoinOptions(options: JoinOptions): ResolvedJoinOptions {
  if (options === undefined) throw new InvalidArgumentError("options", "must be given: { cluster }");
  const given = checkOptions("options", options);
  const cluster = checkName("cluster", given.cluster);
  const nodeId = checkName("nodeId", orDefault(given.nodeId, defaultProcessId()));
  const metadata = metadataJson(given.metadata);
  const weight = checkInteger("weight", orDefault(given.weight, 1), 0, MAX_WEIGHT);
  const ttlMs = checkMs("ttlMs", orDefault(given.ttlMs, DEFAULT_MEMBER_TTL_MS), 100, 3_600_000);
  const marginMs = resolveMarginMs(ttlMs, given.safetyMarginMs, Math.floor(ttlMs / 2));
  // A failed heartbeat is retried at least once before the member must stop.
  const maxHeartbeatMs = Math.floor((ttlMs - marginMs) / 2);
  const heartbeatMs = checkMs("heartbeatMs", orDefault(given.heartbeatMs, Math.min(Math.floor(ttlMs / 3), maxHeartbeatMs)), 1, maxHeartbeatMs);
  const sweepIntervalMs = checkMs("sweepIntervalMs", orDefault(given.sweepIntervalMs, ttlMs), 0, MAX_TTL_MS / 2);
  if (sweepIntervalMs > 0 && sweepIntervalMs < MIN_SWEEP_INTERVAL_MS) {
    throw new InvalidArgumentError("sweepIntervalMs", `must be 0 (never sweep) or at least ${MIN_SWEEP_INTERVAL_MS} ms`);
  }
  if (given.onRelease !== undefined && typeof given.onRelease !== "function") {
    throw new InvalidArgumentError("onRelease", "must be a function");
  }
  const confirmReleases = orDefault(given.confirmReleases, "auto");
  if (confirmReleases !== "auto" && confirmReleases !== "manual") {
    throw new InvalidArgumentError("confirmReleases", 'must be "auto" or "manual"');
  }
  return {
    cluster,
    nodeId,
    metadata,
    weight,
    ttlMs,
    heartbeatMs,
    marginMs,
    statementTimeoutMs: Math.max(1, Math.floor((ttlMs - marginMs - heartbeatMs) / 2)),
    sweepIntervalMs,
    memberRetentionMs: checkMs("memberRetentionMs", orDefault(given.memberRetentionMs, DEFAULT_MEMBER_RETENTION_MS), 60_000, 3650 * 86_400_000),
    onRelease: given.onRelease,
    autoConfirm: confirmReleases === "auto",
  };
}

/**
 * Joins a cluster: registers this process as a member (checking the database and its schema),
 * reads its partitions, and starts heartbeating.
 * @throws `InvalidArgumentError` for bad options, before anything is written.
 * @throws {@link AlreadyJoinedError} when a live member with this node id exists.
 */
export async function join(source: DatabaseSource, options: JoinOptions): Promise<Member> {
  const resolved = resolveJoinOptions(options);
  const opened = await openDatabase(source, { statementTimeoutMs: resolved.statementTimeoutMs });
  let locker: Locker | undefined;
  try {
    await assertMigrated(opened.client);
    locker = await createLocker(opened.client, { owner: `${resolved.cluster}/${resolved.nodeId}` });
    // Members given the same pool share their watch; one that made its own pool has its own.
    const pool = typeof source === "object" && source !== null ? source : opened.client;
    const member = new Member(resolved, { opened, locker, pool });
    if (!(await member.start())) throw new AlreadyJoinedError(resolved.cluster, resolved.nodeId);
    return member;
  } catch (error) {
    await locker?.close().catch(() => undefined);
    await opened.close().catch(() => undefined);
    throw error;
  }
}
