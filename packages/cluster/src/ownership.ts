/**
 * The ownership protocol's writes: the only code that writes the members table (helix_members), the
 * ownership table (helix_ownership) and the change counters (helix_cluster_state). The catalog,
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
import { clusterQueries as q, coordinatorQueries as cq, Status, type QueryClient } from "@helix/db";

/**
 * How long after asking a live owner to release a partition a hand-over may go ahead without its
 * confirmation, unless a caller says otherwise; never sooner than the owner's TTL, when the owner
 * has stopped on its own.
 */
export const DEFAULT_FORCE_RELEASE_AFTER_MS = 30_000;

/** The cluster's change counters; as what a write returns, how much it moved each. */
export interface ChangeCounters {
  readonly membership: number;
  readonly catalog: number;
  readonly ownership: number;
}

/** No counter moved. */
export const NO_CHANGE: ChangeCounters = Object.freeze({ membership: 0, catalog: 0, ownership: 0 });

/** The sum of two sets of counters (or of bumps). */
export const addCounters = (a: ChangeCounters, b: ChangeCounters): ChangeCounters => ({
  membership: a.membership + b.membership,
  catalog: a.catalog + b.catalog,
  ownership: a.ownership + b.ownership,
});

/** Reads the cluster's change counters (all 0 for a cluster that has seen no change). */
export async function readCounters(client: QueryClient, cluster: string): Promise<ChangeCounters> {
  const row = await q.getClusterState(client, { cluster });
  return { membership: row?.membershipVersion ?? 0, catalog: row?.catalogVersion ?? 0, ownership: row?.ownershipVersion ?? 0 };
}

/** Makes the counters row of a cluster exist (watchers read it), changing nothing when it does. */
export async function ensureCounters(client: QueryClient, cluster: string): Promise<void> {
  await cq.ensureClusterState(client, { cluster });
}

async function bump(conn: QueryClient, cluster: string, bumps: ChangeCounters): Promise<ChangeCounters> {
  if (bumps.membership > 0) await q.bumpMembershipVersion(conn, { cluster });
  if (bumps.catalog > 0) await q.bumpCatalogVersion(conn, { cluster });
  if (bumps.ownership > 0) await q.bumpOwnershipVersion(conn, { cluster });
  return bumps;
}

// ---------------------------------------------------------------------------------------------
// Members

/** A process registering as a member. */
export interface Registration {
  readonly cluster: string;
  readonly nodeId: string;
  /** The registering process's incarnation: ownerships belong to it. */
  readonly incarnation: string;
  /** JSON text of a plain object. */
  readonly metadata: string;
  readonly weight: number;
  readonly ttlMs: number;
}

/**
 * Registers a member, or registers it again as a new incarnation once its earlier registration is
 * no longer live.
 * @returns `registered` false when a live member has this node id (nothing changed).
 */
export async function registerMember(conn: QueryClient, member: Registration): Promise<{ registered: boolean; bumped: ChangeCounters }> {
  const { ttlMs, ...rest } = member;
  const version = await q.registerMember(conn, { ...rest, ttlUs: ttlMs * 1000 });
  if (version === 0) return { registered: false, bumped: NO_CHANGE };
  return { registered: true, bumped: await bump(conn, member.cluster, { ...NO_CHANGE, membership: 1 }) };
}

/**
 * One heartbeat of a member's incarnation, by itself (no transaction), extending its TTL from now
 * by the database clock.
 * @returns `alive` false when the incarnation is no longer live (it must register again); else its
 *   assignment version, which moves whenever its partitions change.
 */
export async function heartbeatMember(
  client: QueryClient,
  member: { cluster: string; nodeId: string; incarnation: string; ttlMs: number },
): Promise<{ alive: false } | { alive: true; assignmentVersion: number }> {
  const { ttlMs, ...key } = member;
  const result = await q.heartbeatMember(client, { ...key, ttlUs: ttlMs * 1000 });
  return result.affectedRows === 1 ? { alive: true, assignmentVersion: result.insertId } : { alive: false };
}

/**
 * A graceful leave: every partition of this incarnation becomes unassigned at once and the member
 * inactive. A stale incarnation leaving changes nothing of a newer one with the same node id.
 */
export async function leaveCluster(
  conn: QueryClient,
  member: { cluster: string; nodeId: string; incarnation: string },
): Promise<{ bumped: ChangeCounters }> {
  const released = await q.releaseMemberPartitions(conn, member);
  const left = await q.deregisterMember(conn, member);
  return { bumped: await bump(conn, member.cluster, { membership: left > 0 ? 1 : 0, catalog: 0, ownership: released > 0 ? 1 : 0 }) };
}

/**
 * How long a member's row is kept after its registration ended (it left, or its TTL passed by the
 * database clock) unless a caller says otherwise: 7 days, long past any reassignment delay (at most
 * a day) and long enough to read who was there when looking into an incident.
 */
export const DEFAULT_MEMBER_RETENTION_MS = 7 * 86_400_000;

/** Most member rows one sweep deletes: the statement stays short however many are due. */
export const MEMBER_DELETE_BATCH = 100;

/**
 * Marks members whose TTL has passed (by the database clock) inactive.
 *
 * Who sweeps: liveness is judged by the database clock in every statement that depends on it, so
 * the flag is bookkeeping and any process may set it, at once or late, without risk. The leading
 * coordinator sweeps the members its snapshot found expired, in the round's fenced transaction, so
 * that its watch settles before it plans; members sweep too (the holder of the cluster's sweep
 * lease), because membership is used without a coordinator (failure detection, routing).
 *
 * The sweep also deletes members gone longer than `retentionMs` (see {@link deleteDepartedMembers}),
 * so that the table does not grow with every node id that ever joined (the default node id is new
 * for every process).
 * @returns how many members were marked inactive and how many deleted; membership bumped once if any.
 */
export async function sweepExpiredMembers(
  conn: QueryClient,
  cluster: string,
  retentionMs: number = DEFAULT_MEMBER_RETENTION_MS,
): Promise<{ marked: number; deleted: number; bumped: ChangeCounters }> {
  const marked = await q.markExpiredMembersInactive(conn, { cluster });
  const deleted = await q.deleteDepartedMembers(conn, { cluster, retentionUs: retentionMs * 1000, limit: MEMBER_DELETE_BATCH });
  return { marked, deleted, bumped: await bump(conn, cluster, { ...NO_CHANGE, membership: marked + deleted > 0 ? 1 : 0 }) };
}

/**
 * Deletes up to `limit` members whose registration ended more than `retentionMs` ago by the
 * database clock, longest gone first. A member whose node id any ownership row still names (as its
 * owner, of whichever incarnation) is kept, however long gone: the hand-off rule reads the owner's
 * row (its incarnation, liveness and TTL) and the coordinator's plan tells a stale owner by it; once
 * its partitions have moved on, a later sweep deletes it. A partition is assigned only to a live
 * member, so no ownership row can come to name a deleted one, and a node id that registers again
 * starts a new row (a new incarnation, whose partitions are read afresh).
 * @returns how many were deleted; membership bumped once if any (lists of members changed).
 */
export async function deleteDepartedMembers(
  conn: QueryClient,
  cluster: string,
  retentionMs: number,
  limit: number = MEMBER_DELETE_BATCH,
): Promise<{ deleted: number; bumped: ChangeCounters }> {
  const deleted = await q.deleteDepartedMembers(conn, { cluster, retentionUs: retentionMs * 1000, limit });
  return { deleted, bumped: await bump(conn, cluster, { ...NO_CHANGE, membership: deleted > 0 ? 1 : 0 }) };
}

// ---------------------------------------------------------------------------------------------
// The ownership table

/** One partition of a task list. */
export interface PartitionKey {
  readonly cluster: string;
  readonly domain: string;
  readonly taskList: string;
  readonly partition: number;
}

/**
 * A change of owner a caller wants, from what it saw: `assign` gives the partition to `to`;
 * `release` asks its owner `from` to release it so that it can go to `to`.
 */
export interface OwnershipChange {
  readonly type: "assign" | "release";
  readonly domain: string;
  readonly taskList: string;
  readonly partition: number;
  /** The generation the caller saw: the change applies only at it. */
  readonly generation: number;
  /** The owner the caller saw (null: none); told of the change. */
  readonly from: string | null;
  /** The next owner (null for a release with no destination). */
  readonly to: string | null;
}

/** A change as it was committed: its partition's generation after it (unchanged by a release request). */
export type AppliedChange<T extends OwnershipChange> = T & { readonly newGeneration: number };

/**
 * Applies a batch of ownership changes in the caller's transaction. The rows of the members
 * involved are locked first (in node id order), so that a member cannot register again as a new
 * incarnation between the liveness check and the hand-over, and a partition goes to the
 * incarnation that was live then. Each change applies only if the partition is still at the
 * generation the caller saw and the hand-off rule allows it: in SQL, a partition goes to a new
 * owner only when it is unassigned, released by its owner, owned by a process that is no longer
 * live, or asked to be released longer ago than both `forceAfterMs` and the owner's TTL. A release
 * is asked only of a live owner, for a live destination. The others are skipped.
 *
 * The transaction holds the involved members' rows (and a coordinator's lease row, through its
 * fence) until it commits, which blocks their heartbeats and the lease's renewal: with `budgetMs`
 * it stops taking changes once that long has passed (after at least one), and the caller commits
 * and goes on with the rest in a new transaction.
 * @returns the changes applied, how many of `changes` were considered (the rest were not looked
 *   at), and the counters bumped (ownership once when any applied).
 */
export async function applyOwnershipChanges<T extends OwnershipChange>(
  conn: QueryClient,
  cluster: string,
  changes: readonly T[],
  forceAfterMs: number,
  options: { budgetMs?: number } = {},
): Promise<{ applied: AppliedChange<T>[]; considered: number; bumped: ChangeCounters }> {
  const stopAt = options.budgetMs === undefined ? Infinity : performance.now() + options.budgetMs;
  const involved = new Set<string>();
  for (const change of changes) {
    if (change.to !== null) involved.add(change.to);
    if (change.from !== null) involved.add(change.from);
  }
  // The live incarnation of each member involved; absent when it is not live.
  const live = new Map<string, string>();
  for (const nodeId of [...involved].sort()) {
    const row = await cq.lockMember(conn, { cluster, nodeId });
    if (row?.live === 1) live.set(nodeId, row.incarnation);
  }
  const applied: AppliedChange<T>[] = [];
  const told = new Set<string>();
  let considered = 0;
  for (const change of changes) {
    if (considered > 0 && performance.now() >= stopAt) break;
    considered++;
    const key = { cluster, domain: change.domain, taskList: change.taskList, partitionId: change.partition };
    let newGeneration = change.generation;
    if (change.type === "assign") {
      const incarnation = change.to === null ? undefined : live.get(change.to);
      if (change.to === null || incarnation === undefined) continue;
      const result = await q.assignPartition(conn, {
        ...key,
        nodeId: change.to,
        incarnation,
        generation: change.generation,
        forceAfterUs: forceAfterMs * 1000,
      });
      if (result.affectedRows !== 1) continue;
      newGeneration = result.insertId;
      told.add(change.to);
    } else {
      if (change.from === null || !live.has(change.from) || (change.to !== null && !live.has(change.to))) continue;
      const asked = await q.requestPartitionRelease(conn, { ...key, generation: change.generation, targetNodeId: change.to });
      if (asked !== 1) continue;
    }
    if (change.from !== null) told.add(change.from);
    applied.push({ ...change, newGeneration });
  }
  for (const nodeId of [...told].sort()) await q.bumpAssignmentVersion(conn, { cluster, nodeId });
  return { applied, considered, bumped: await bump(conn, cluster, { ...NO_CHANGE, ownership: applied.length > 0 ? 1 : 0 }) };
}

/** The owner as the ownership table has it now, read without a lock (null: no such partition). */
export async function currentOwner(conn: QueryClient, partition: PartitionKey): Promise<{ nodeId: string | null } | null> {
  const { partition: partitionId, ...rest } = partition;
  return q.getPartition(conn, { ...rest, partitionId });
}

/**
 * The owning process confirms it stopped working on a partition it was asked to release; the
 * partition may then go to its next owner.
 * @returns `confirmed` false when this ownership no longer stands (nothing changed).
 */
export async function confirmRelease(
  conn: QueryClient,
  ownership: PartitionKey & { nodeId: string; incarnation: string; generation: number },
): Promise<{ confirmed: boolean; bumped: ChangeCounters }> {
  const { partition, ...rest } = ownership;
  const confirmed = (await q.confirmPartitionRelease(conn, { ...rest, partitionId: partition })) === 1;
  return { confirmed, bumped: await bump(conn, ownership.cluster, { ...NO_CHANGE, ownership: confirmed ? 1 : 0 }) };
}

// ---------------------------------------------------------------------------------------------
// Task lists: the catalog's changes and the partitions they add or retire

/**
 * Creates a task list, or changes its partition count or metadata: new partitions are added
 * unassigned, partitions beyond the count retire (see {@link pruneRetired}).
 */
export async function putTaskList(
  conn: QueryClient,
  spec: { cluster: string; domain: string; taskList: string; partitions: number; metadata: string },
): Promise<{ result: "created" | "changed" | "unchanged"; bumped: ChangeCounters }> {
  const { metadata, ...list } = spec;
  const answer = await q.putTaskList(conn, { ...list, metadata });
  if (answer === 0) return { result: "unchanged", bumped: NO_CHANGE };
  const key = { cluster: spec.cluster, domain: spec.domain, taskList: spec.taskList };
  await q.insertPartitions(conn, { ...key, partitions: spec.partitions });
  await retireFrom(conn, { ...key, firstPartition: spec.partitions });
  return { result: answer === 1 ? "created" : "changed", bumped: await bump(conn, spec.cluster, { membership: 0, catalog: 1, ownership: 1 }) };
}

/**
 * Removes a task list: its owned partitions are asked to be released, free ones deleted, and the
 * task list finished once none is left.
 * @returns `found` false when the catalog has no such task list (nothing changed); true also
 *   when it was being removed already.
 */
export async function removeTaskList(
  conn: QueryClient,
  key: { cluster: string; domain: string; taskList: string },
): Promise<{ found: boolean; bumped: ChangeCounters }> {
  if ((await q.markTaskListDeletable(conn, key)) === 0) {
    const existing = await q.getTaskList(conn, key);
    return { found: existing !== null && existing.status !== Status.Inactive, bumped: NO_CHANGE };
  }
  await retireFrom(conn, { ...key, firstPartition: 0 });
  await q.finishTaskListRemoval(conn, key);
  return { found: true, bumped: await bump(conn, key.cluster, { membership: 0, catalog: 1, ownership: 1 }) };
}

/** A task list with partitions to clean up: a removed one from 0, a shrunk one from its count. */
export interface RetiringTaskList {
  readonly domain: string;
  readonly taskList: string;
  readonly firstPartition: number;
}

/**
 * Cleans up after shrinks and removals: deletes retired partitions that are free, asks owners of
 * retired partitions again, and finishes removed task lists with no partition left.
 * @returns how many task lists were finished, and the counters bumped (none when nothing changed).
 */
export async function pruneRetired(
  conn: QueryClient,
  cluster: string,
  retiring: readonly RetiringTaskList[],
): Promise<{ finished: number; bumped: ChangeCounters }> {
  let changed = false;
  let finished = 0;
  for (const list of retiring) {
    const key = { cluster, domain: list.domain, taskList: list.taskList };
    if (await retireFrom(conn, { ...key, firstPartition: list.firstPartition })) changed = true;
    if (list.firstPartition === 0 && (await q.finishTaskListRemoval(conn, key)) > 0) finished++;
  }
  const bumps = { membership: 0, catalog: finished > 0 ? 1 : 0, ownership: changed || finished > 0 ? 1 : 0 };
  return { finished, bumped: await bump(conn, cluster, bumps) };
}

/**
 * Partitions from `firstPartition` up are leaving: free ones are deleted at once (the task list's
 * generation floor rising above them first), owned ones are asked to be released (their owners are
 * told through their assignment version).
 * @returns whether it changed anything.
 */
async function retireFrom(
  conn: QueryClient,
  key: { cluster: string; domain: string; taskList: string; firstPartition: number },
): Promise<boolean> {
  // The floor is read only when partitions are created again, so raising it is no change to report
  // (and its row count, matched or changed, would depend on the client's FOUND_ROWS flag).
  await q.raiseGenerationFloor(conn, key);
  const deleted = await q.deleteFreePartitionsFrom(conn, key);
  const retired = await q.retireOwnedPartitionsFrom(conn, key);
  if (retired > 0) await q.bumpOwnersFrom(conn, key);
  return deleted + retired > 0;
}
