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
} from "@helix/db/internal";
import { createLocker, MAX_TTL_MS, resolveMarginMs, type Locker } from "@helix/lock";

import { AlreadyJoinedError } from "./errors";
import { DEFAULT_MEMBER_RETENTION_MS, DEFAULT_MEMBER_TTL_MS } from "./ownership";
import { Member, startMember } from "./member";
import type { JoinOptions, ResolvedJoinOptions } from "./join-options";
import { checkName, MAX_WEIGHT, metadataJson } from "./validate";

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
  const heartbeatMs = checkMs(
    "heartbeatMs",
    orDefault(given.heartbeatMs, Math.min(Math.floor(ttlMs / 3), maxHeartbeatMs)),
    1,
    maxHeartbeatMs,
  );
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
    memberRetentionMs: checkMs(
      "memberRetentionMs",
      orDefault(given.memberRetentionMs, DEFAULT_MEMBER_RETENTION_MS),
      60_000,
      3650 * 86_400_000,
    ),
    onRelease: given.onRelease,
    autoConfirm: confirmReleases === "auto",
  };
}

/**
 * Joins a cluster: registers this process as a member (checking the database and its schema),
 * reads its partitions, and starts heartbeating. The partitions its first read finds (a coordinator
 * may give some before it returns) are announced on the next turn of the event loop after the
 * returned promise resolves, so that listeners attached at once see every one.
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
    if (!(await startMember(member))) throw new AlreadyJoinedError(resolved.cluster, resolved.nodeId);
    return member;
  } catch (error) {
    await locker?.close().catch(() => undefined);
    await opened.close().catch(() => undefined);
    throw error;
  }
}
