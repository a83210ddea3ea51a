import { DEFAULT_MEMBER_RETENTION_MS } from "@helix/cluster";
import {
  checkInteger,
  checkMs,
  checkOptions,
  checkText,
  defaultProcessId,
  InvalidArgumentError,
  MAX_NAME_LENGTH,
  MAX_OWNER_LENGTH,
  orDefault,
} from "@helix/db/internal";

import { resolvePlannerOptions } from "./planner";

/** Options of `createCoordinator`. Every field but `cluster` is optional. */
export interface CoordinatorOptions {
  /** The cluster to coordinate: 1 to 128 characters. */
  cluster: string;
  /** This coordinator's id, shown as the owner of the leadership lease. @default "host:pid:random" */
  id?: string;
  /**
   * Lifetime of the leadership lease, renewed every third of it. A crashed leader is replaced
   * within about this long. @default 5000
   */
  leaseTtlMs?: number;
  /** How often a standby tries to take the leadership lease. @default 200 */
  electionIntervalMs?: number;
  /**
   * How often the leader reads the cluster's change counters (one indexed row) to notice
   * membership, catalog and hand-off changes; while owners are confirming releases it asked for,
   * every 25 ms at most, so that a confirmed partition waits little for its next owner. @default 200
   */
  pollMs?: number;
  /** A full round at least this often, whether or not anything seems to have changed. @default 30000 */
  fallbackIntervalMs?: number;
  /**
   * A live owner that has not confirmed a requested release is overruled after this long, and never
   * before the owner's own TTL has passed since the request (by the database clock), whatever this
   * says: by then the owner has stopped on its own. @default `DEFAULT_FORCE_RELEASE_AFTER_MS` (30000)
   */
  forceReleaseAfterMs?: number;
  /**
   * How long the partitions of a member that stopped being live stay where they are, in case it
   * comes back (its share is kept free meanwhile). 0 reassigns them at once. @default 0
   */
  reassignDelayMs?: number;
  /** Most release requests one round makes per task list (`Infinity`: no limit). @default Infinity */
  maxMovesPerTaskList?: number;
  /** Most release requests one round makes from, and to, any one member (`Infinity`: no limit). @default Infinity */
  maxMovesPerMember?: number;
  /** Most transitions written in one fenced transaction (a time budget may cut it shorter). @default 5000 */
  batchSize?: number;
  /** How long the audit trail keeps a transition. @default 7 days */
  auditRetentionMs?: number;
  /**
   * How long a member's row is kept after its registration ended (it left, or its TTL passed),
   * from 1 minute to 3650 days; then a round deletes it, unless an ownership row still names it.
   * Members that sweep (`sweepIntervalMs` of `join`) delete with the default.
   * @default `DEFAULT_MEMBER_RETENTION_MS` (7 days)
   */
  memberRetentionMs?: number;
}

/** {@link CoordinatorOptions} after defaults and validation. */
export interface ResolvedCoordinatorOptions {
  /** The cluster to coordinate. */
  readonly cluster: string;
  /** This coordinator's id, shown as the owner of the leadership lease. */
  readonly id: string;
  /** Lifetime of the leadership lease, renewed every third of it. */
  readonly leaseTtlMs: number;
  /** How often a standby tries to take the leadership lease. */
  readonly electionIntervalMs: number;
  /** How often the leader reads the cluster's change counters. */
  readonly pollMs: number;
  /** A full round at least this often. */
  readonly fallbackIntervalMs: number;
  /** How long a live owner may leave a requested release unconfirmed before it is overruled (never before its own TTL). */
  readonly forceReleaseAfterMs: number;
  /** How long the partitions of a member that stopped being live stay where they are; 0 reassigns them at once. */
  readonly reassignDelayMs: number;
  /** Most release requests one round makes per task list; `Infinity` for no limit. */
  readonly maxMovesPerTaskList: number;
  /** Most release requests one round makes from, and to, any one member; `Infinity` for no limit. */
  readonly maxMovesPerMember: number;
  /** Most transitions written in one fenced transaction. */
  readonly batchSize: number;
  /** How long the audit trail keeps a transition. */
  readonly auditRetentionMs: number;
  /** How long a member's row is kept after its registration ended. */
  readonly memberRetentionMs: number;
}

const DAY_MS = 86_400_000;

/** Applies defaults and validates, before anything is connected. @throws `InvalidArgumentError` naming the option. */
export function resolveCoordinatorOptions(options: CoordinatorOptions): ResolvedCoordinatorOptions {
  if (options === undefined) throw new InvalidArgumentError("options", "must be given: { cluster }");
  const given = checkOptions("options", options);
  const leaseTtlMs = checkMs("leaseTtlMs", orDefault(given.leaseTtlMs, 5000), 100, 3_600_000);
  const { forceReleaseAfterMs, reassignDelayMs, maxMovesPerTaskList, maxMovesPerMember } = given;
  const planner = resolvePlannerOptions({ forceReleaseAfterMs, reassignDelayMs, maxMovesPerTaskList, maxMovesPerMember });
  return Object.freeze({
    cluster: checkText("cluster", given.cluster, MAX_NAME_LENGTH),
    id: checkText("id", orDefault(given.id, defaultProcessId()), MAX_OWNER_LENGTH),
    leaseTtlMs,
    electionIntervalMs: checkMs("electionIntervalMs", orDefault(given.electionIntervalMs, 200), 1, 3_600_000),
    pollMs: checkMs("pollMs", orDefault(given.pollMs, 200), 1, 3_600_000),
    fallbackIntervalMs: checkMs("fallbackIntervalMs", orDefault(given.fallbackIntervalMs, 30_000), 1, DAY_MS),
    ...planner,
    batchSize: checkInteger("batchSize", orDefault(given.batchSize, 5000), 1, 100_000),
    auditRetentionMs: checkMs("auditRetentionMs", orDefault(given.auditRetentionMs, 7 * DAY_MS), 1, 3650 * DAY_MS),
    memberRetentionMs: checkMs("memberRetentionMs", orDefault(given.memberRetentionMs, DEFAULT_MEMBER_RETENTION_MS), 60_000, 3650 * DAY_MS),
  });
}
