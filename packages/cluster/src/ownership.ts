/**
 * The ownership protocol's writes: the only code that writes the members table (helix_nodes), the
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
import { chunks, clusterQueries as q, coordinatorQueries as cq, MAX_ROWS_PER_STATEMENT, PartitionState, Status, type QueryClient } from "@helix/db";

/**
 * How long after asking a live owner to release a partition a hand-over may go ahead without its
 * confirmation, unless a caller says otherwise; never sooner than the owner's TTL, when the owner
 * has stopped on its own.
 */
export const DEFAULT_FORCE_RELEASE_AFTER_MS = 30_000;

/** The cluster's change counters; as what a write returns, how much it moved each. */
export interface ChangeCounters {
  /** Moves when a member joins, leaves, expires or is deleted. */
  readonly membership: number;
  /** Moves when a task list is created, changed or removed. */
  readonly catalog: number;
  /** Moves when a partition's owner or state changes. */
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
  /** The cluster joined. */
  readonly cluster: string;
  /** The member's id in the cluster. */
  readonly nodeId: string;
  /** The registering process's incarnation: ownerships belong to it. */
  readonly incarnation: string;
  /** JSON text of a plain object. */
  readonly metadata: string;
  /** The member's share of partitions relative to others; 0 takes none. */
  readonly weight: number;
  /** The member is dead once the database clock passes its last heartbeat + this. */
  readonly ttlMs: number;
}

/**
 * Registers a member, or registers it again as a new incarnation once its earlier registration is
 * no longer live.
 * @returns `registered` false when a live member has this node id (nothing changed).
 */
export async function registerMember(conn: QueryClient, member: Registration): Promise<{
  /** False when a live member has this node id (nothing changed). */
  registered: boolean;
  /** The change counters this call moved. */
  bumped: ChangeCounters;
}> {
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
): Promise<
  | {
      /** The incarnation is no longer live: it must register again. */
      alive: false;
    }
  | {
      /** The incarnation is live; its TTL runs from now. */
      alive: true;
      /** Moves whenever the member's partitions change. */
      assignmentVersion: number;
    }
> {
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
): Promise<{
  /** The change counters this call moved. */
  bumped: ChangeCounters;
}> {
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

/** A member's TTL unless `join()` is told otherwise: 10 s. */
export const DEFAULT_MEMBER_TTL_MS = 10_000;

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
): Promise<{
  /** Members marked inactive. */
  marked: number;
  /** Members deleted. */
  deleted: number;
  /** The change counters this call moved. */
  bumped: ChangeCounters;
}> {
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
): Promise<{
  /** Members deleted. */
  deleted: number;
  /** The change counters this call moved. */
  bumped: ChangeCounters;
}> {
  const deleted = await q.deleteDepartedMembers(conn, { cluster, retentionUs: retentionMs * 1000, limit });
  return { deleted, bumped: await bump(conn, cluster, { ...NO_CHANGE, membership: deleted > 0 ? 1 : 0 }) };
}

// ---------------------------------------------------------------------------------------------
// The ownership table

/** One partition of a task list. */
export interface PartitionKey {
  /** The partition's cluster. */
  readonly cluster: string;
  /** The partition's task-list domain. */
  readonly domain: string;
  /** The partition's task list. */
  readonly taskList: string;
  /** The partition's number, from 0. */
  readonly partition: number;
}

/**
 * A change of owner a caller wants, from what it saw: `assign` gives the partition to `to`;
 * `release` asks its owner `from` to release it so that it can go to `to`.
 */
export interface OwnershipChange {
  /** `assign` gives the partition to `to`; `release` asks its owner `from` to release it. */
  readonly type: "assign" | "release";
  /** The partition's task-list domain. */
  readonly domain: string;
  /** The partition's task list. */
  readonly taskList: string;
  /** The partition's number, from 0. */
  readonly partition: number;
  /** The generation the caller saw: the change applies only at it. */
  readonly generation: number;
  /** The owner the caller saw (null: none); told of the change. */
  readonly from: string | null;
  /** The next owner (null for a release with no destination). */
  readonly to: string | null;
}

/** A change as it was committed: its partition's generation after it (unchanged by a release request). */
export type AppliedChange<T extends OwnershipChange> = T & {
  /** The partition's generation after the change. */
  readonly newGeneration: number;
};

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
 * The changes are written in bulk: runs of up to `MAX_ROWS_PER_STATEMENT` changes, written with one
 * statement per task list, kind, destination and (for assignments) generation seen; a run's release
 * requests are checked against their rows, locked with one statement per task list first.
 *
 * The transaction holds the involved members' rows until it commits, which blocks their
 * heartbeats: with `budgetMs` it stops taking runs of changes once that long has passed (after at
 * least one), and the caller commits and goes on with the rest in a new transaction.
 *
 * Members are told of their changes through their assignment version, in the same transaction.
 * With `tellNewOwners: false`, the members a partition goes to are not (the owners asked to release
 * always are: a release request must reach its owner before the hand-off may be forced): the caller
 * tells them later with {@link tellMembers}, once for many batches, so that members do not read all
 * their partitions again after every batch of a large round. A member not told of a partition only
 * starts on it later; nobody else has it meanwhile.
 * @returns the changes applied, how many of `changes` were considered (the rest were not looked
 *   at), the members partitions went to, and the counters bumped (ownership once when any applied).
 */
export async function applyOwnershipChanges<T extends OwnershipChange>(
  conn: QueryClient,
  cluster: string,
  changes: readonly T[],
  forceAfterMs: number,
  options: { budgetMs?: number; tellNewOwners?: boolean; pace?: RunPace } = {},
): Promise<{
  /** The changes applied. */
  applied: AppliedChange<T>[];
  /** How many of `changes`, from the first, were considered; the rest were not looked at. */
  considered: number;
  /** The members partitions went to. */
  newOwners: string[];
  /** The change counters this call moved. */
  bumped: ChangeCounters;
}> {
  const stopAt = options.budgetMs === undefined ? Infinity : performance.now() + options.budgetMs;
  const involved = new Set<string>();
  for (const change of changes) {
    if (change.to !== null) involved.add(change.to);
    if (change.from !== null) involved.add(change.from);
  }
  const live = new Map<string, LiveMember>();
  for (const [nodeId, member] of await lockMembers(conn, cluster, involved)) {
    if (member.liveIncarnation !== undefined) live.set(nodeId, member as LiveMember);
  }
  const applied: AppliedChange<T>[] = [];
  let considered = 0;
  const pace = options.pace ?? new RunPace();
  while (considered < changes.length) {
    if (considered > 0 && performance.now() >= stopAt) break;
    const run = changes.slice(considered, considered + pace.size);
    const runStartedAt = performance.now();
    considered += run.length;
    for (const [, ofList] of groupBy(run, (c) => `${c.domain}\0${c.taskList}`)) {
      applied.push(...(await applyToTaskList(conn, cluster, ofList, live, forceAfterMs)));
    }
    if (options.budgetMs !== undefined) pace.record(run.length, performance.now() - runStartedAt, options.budgetMs);
  }
  const newOwners = new Set(applied.flatMap((c) => (c.type === "assign" ? [c.to!] : [])));
  const told = new Set(applied.flatMap((c) => (c.from === null ? [] : [c.from])));
  if (options.tellNewOwners !== false) for (const nodeId of newOwners) told.add(nodeId);
  await tellMembers(conn, cluster, told);
  const bumped = await bump(conn, cluster, { ...NO_CHANGE, ownership: applied.length > 0 ? 1 : 0 });
  return { applied, considered, newOwners: [...newOwners], bumped };
}

/**
 * The changes of one task list (at most `MAX_ROWS_PER_STATEMENT`; a partition named more than once
 * counts by its first change), written with one statement per kind, destination and generation
 * seen. Releases are checked against their rows, locked first in one statement. Assignments need no
 * such read: the statement itself takes only rows still at the generation the caller saw, and only
 * when some were not taken are their rows read to tell which.
 * `live` has the live incarnation of each member involved, read under its row lock.
 * @returns the changes applied.
 */
async function applyToTaskList<T extends OwnershipChange>(
  conn: QueryClient,
  cluster: string,
  changes: readonly T[],
  live: ReadonlyMap<string, LiveMember>,
  forceAfterMs: number,
): Promise<AppliedChange<T>[]> {
  const list = { cluster, domain: changes[0]!.domain, taskList: changes[0]!.taskList };
  const firsts = firstPerPartition(changes);
  const releases = firsts.filter((c) => c.type === "release");
  const locked = releases.length === 0 ? new Map<number, LockedPartition>() : await lockPartitions(conn, list, releases.map((c) => c.partition));
  const eligible = [
    // A release is asked of the live owner the caller saw, while it still holds the partition.
    ...asSeen(releases, locked, (change, row) =>
      row.state === PartitionState.Assigned && change.from !== null && row.nodeId === change.from &&
      row.incarnation === live.get(change.from)?.liveIncarnation && (change.to === null || live.has(change.to))),
    ...firsts.filter((c) => c.type === "assign" && c.to !== null && live.has(c.to)),
  ];
  const applied: AppliedChange<T>[] = [];
  // A release is written per owner: each owner's rows are stamped with its own next version.
  const statementOf = (c: T) => (c.type === "release" ? `release\0${c.to ?? ""}\0${c.from}` : `assign\0${c.to}\0${c.generation}`);
  for (const [, batch] of groupBy(eligible, statementOf)) {
    const { type, to, from, generation } = batch[0]!;
    const partitionIds = batch.map((c) => c.partition);
    if (type === "release") {
      const ownerVersion = live.get(from!)!.nextVersion;
      await q.requestPartitionsRelease(conn, { ...list, targetNodeId: to, ownerVersion, partitionIds });
      applied.push(...batch.map((c) => ({ ...c, newGeneration: c.generation })));
      continue;
    }
    const { liveIncarnation: incarnation, nextVersion: ownerVersion } = live.get(to!)!;
    const count = await q.assignPartitions(conn, {
      ...list,
      nodeId: to!,
      incarnation,
      ownerVersion,
      partitionIds,
      generation,
      forceAfterUs: forceAfterMs * 1000,
    });
    let written: readonly T[] = batch;
    // Some had moved on, or the hand-off rule, in SQL, kept them. The rows stay locked, so this
    // reads what the statement did: a row it wrote is the new owner's at the next generation.
    if (count < batch.length) {
      const after = await lockPartitions(conn, list, partitionIds);
      written = batch.filter((c) => {
        const row = after.get(c.partition);
        return row?.generation === c.generation + 1 && row.nodeId === to && row.incarnation === incarnation;
      });
    }
    applied.push(...written.map((c) => ({ ...c, newGeneration: c.generation + 1 })));
  }
  return applied;
}

/** A member as its row was locked: its live incarnation, and the version its changed rows are stamped with. */
interface LockedMember {
  /** Its incarnation when live (by the database clock); undefined when not. */
  readonly liveIncarnation: string | undefined;
  /**
   * Its assignment version + 1: what the version will be once it is told of this transaction's
   * changes, so that a member that has read its partitions as of any version it can have seen
   * meanwhile reads these rows (see 0008_owner_versions.sql). Read under the row lock, which this
   * transaction holds until it commits: no other write moves the version in between.
   */
  readonly nextVersion: number;
}

/** A member that was live when its row was locked. */
type LiveMember = LockedMember & { readonly liveIncarnation: string };

/**
 * Locks the rows of members (in node id order, the order every writer locks them in) until the
 * transaction ends. @returns them by node id (members with no row are absent).
 */
async function lockMembers(conn: QueryClient, cluster: string, nodeIds: Iterable<string>): Promise<Map<string, LockedMember>> {
  const locked = new Map<string, LockedMember>();
  for (const run of chunks([...new Set(nodeIds)].sort())) {
    for (const row of await cq.lockMembers(conn, { cluster, nodeIds: run })) {
      locked.set(row.nodeId, { liveIncarnation: row.live === 1 ? row.incarnation : undefined, nextVersion: row.assignmentVersion + 1 });
    }
  }
  return locked;
}

/**
 * How many changes one run of {@link applyOwnershipChanges} takes, adapted to how fast runs go:
 * halved when a run took more than a quarter of the transaction's time budget (a slow database or
 * machine: the member rows it holds wait less), doubled back, up to `MAX_ROWS_PER_STATEMENT`, when
 * a run took under a sixteenth. A caller that keeps one across calls (a coordinator) keeps what it
 * learnt from one batch for the next.
 */
export class RunPace {
  /** The fewest changes a run takes, however slow runs are. */
  static readonly MIN_SIZE = 50;
  #size = MAX_ROWS_PER_STATEMENT;

  /** Changes the next run takes. */
  get size(): number {
    return this.#size;
  }

  /** Adapts to a run of `changes` that took `elapsedMs`, in a transaction budgeted `budgetMs`. */
  record(changes: number, elapsedMs: number, budgetMs: number): void {
    if (elapsedMs > budgetMs / 4) this.#size = Math.max(RunPace.MIN_SIZE, Math.floor(Math.min(this.#size, changes) / 2));
    else if (elapsedMs < budgetMs / 16 && changes >= this.#size) this.#size = Math.min(MAX_ROWS_PER_STATEMENT, this.#size * 2);
  }
}

/**
 * Tells members that their partitions changed (their assignment versions move): each reads its
 * partitions again at its next watch or heartbeat.
 */
export async function tellMembers(conn: QueryClient, cluster: string, nodeIds: Iterable<string>): Promise<void> {
  for (const run of chunks([...nodeIds].sort())) await q.bumpAssignmentVersions(conn, { cluster, nodeIds: run });
}

/** A partition's row as {@link lockPartitions} locked it. */
type LockedPartition = Awaited<ReturnType<typeof q.lockPartitions>>[number];

/**
 * Locks the rows of some partitions of one task list until the transaction ends (one statement)
 * and returns them by partition: a bulk write may then name those it found as its caller saw them,
 * knowing that none changes before it.
 */
async function lockPartitions(
  conn: QueryClient,
  list: { cluster: string; domain: string; taskList: string },
  partitionIds: readonly number[],
): Promise<Map<number, LockedPartition>> {
  const rows = await q.lockPartitions(conn, { ...list, partitionIds });
  return new Map(rows.map((row) => [row.partitionId, row]));
}

/**
 * Keeps the items whose partition's locked row is at the generation the item names and passes
 * `also`, each partition once (the first such item): a bulk statement writes a row at most once.
 */
function asSeen<I extends { partition: number; generation: number }>(
  items: readonly I[],
  locked: ReadonlyMap<number, LockedPartition>,
  also: (item: I, row: LockedPartition) => boolean,
): I[] {
  const taken = new Set<number>();
  return items.filter((item) => {
    const row = locked.get(item.partition);
    if (row === undefined || row.generation !== item.generation || taken.has(item.partition) || !also(item, row)) return false;
    taken.add(item.partition);
    return true;
  });
}

/** The first of `items` naming each partition, in their order. */
function firstPerPartition<I extends { partition: number }>(items: readonly I[]): I[] {
  const named = new Set<number>();
  const firsts: I[] = [];
  for (const item of items) {
    if (named.has(item.partition)) continue;
    named.add(item.partition);
    firsts.push(item);
  }
  return firsts;
}

/** `items` grouped by `key`, groups and items in their first order. */
function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group === undefined) groups.set(k, [item]);
    else group.push(item);
  }
  return groups;
}

/** The owner as the ownership table has it now, read without a lock (null: no such partition). */
export async function currentOwner(conn: QueryClient, partition: PartitionKey): Promise<{
  /** The owner's node id; null when the partition is unassigned. */
  nodeId: string | null;
} | null> {
  const { partition: partitionId, ...rest } = partition;
  return q.getPartition(conn, { ...rest, partitionId });
}

/** A partition a process owns, at the generation of its ownership. */
export interface OwnedPartitionKey {
  /** The partition's task-list domain. */
  readonly domain: string;
  /** The partition's task list. */
  readonly taskList: string;
  /** The partition's number, from 0. */
  readonly partition: number;
  /** The generation the process owns the partition at. */
  readonly generation: number;
}

/**
 * The owning process (node id and incarnation) confirms it stopped working on partitions it was
 * asked to release, each at the generation it owns; they may then go to their next owners. One
 * statement per task list and `MAX_ROWS_PER_STATEMENT` partitions, after locking them.
 * @returns the partitions confirmed; the others' ownership no longer stands (nothing changed).
 */
export async function confirmReleases<P extends OwnedPartitionKey>(
  conn: QueryClient,
  owner: { cluster: string; nodeId: string; incarnation: string },
  partitions: readonly P[],
): Promise<{
  /** The partitions confirmed. */
  confirmed: P[];
  /** The change counters this call moved. */
  bumped: ChangeCounters;
}> {
  const confirmed: P[] = [];
  for (const run of chunks(partitions)) {
    for (const [, ofList] of groupBy(run, (p) => `${p.domain}\0${p.taskList}`)) {
      const list = { cluster: owner.cluster, domain: ofList[0]!.domain, taskList: ofList[0]!.taskList };
      const locked = await lockPartitions(conn, list, ofList.map((p) => p.partition));
      const asked = asSeen(
        ofList,
        locked,
        (_, row) => row.state === PartitionState.ReleaseRequested && row.nodeId === owner.nodeId && row.incarnation === owner.incarnation,
      );
      if (asked.length === 0) continue;
      const { nodeId, incarnation } = owner;
      await q.confirmPartitionsRelease(conn, { ...list, nodeId, incarnation, partitionIds: asked.map((p) => p.partition) });
      confirmed.push(...asked);
    }
  }
  return { confirmed, bumped: await bump(conn, owner.cluster, { ...NO_CHANGE, ownership: confirmed.length > 0 ? 1 : 0 }) };
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
): Promise<{
  /** What happened to the task list. */
  result: "created" | "changed" | "unchanged";
  /** The change counters this call moved. */
  bumped: ChangeCounters;
}> {
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
): Promise<{
  /** False when the catalog has no such task list (nothing changed); true also when it was being removed already. */
  found: boolean;
  /** The change counters this call moved. */
  bumped: ChangeCounters;
}> {
  if ((await q.markTaskListDeletable(conn, key)) === 0) {
    const existing = await q.getTaskList(conn, key);
    return { found: existing !== null && existing.status !== Status.Inactive, bumped: NO_CHANGE };
  }
  await retireFrom(conn, { ...key, firstPartition: 0 });
  await q.finishTaskListRemoval(conn, key);
  return { found: true, bumped: await bump(conn, key.cluster, { membership: 0, catalog: 1, ownership: 1 }) };
}

/** A task list that may have partitions to clean up: one removed, or shrunk. */
export interface RetiringTaskList {
  /** The task list's domain. */
  readonly domain: string;
  /** The task list's name. */
  readonly taskList: string;
}

/**
 * Cleans up after shrinks and removals: deletes retired partitions that are free, asks owners of
 * retired partitions again, and finishes removed task lists with no partition left. Each task list
 * is locked and read again first: what partitions retire follows from it as it is now (it may have
 * been put again since the caller looked), so that no partition of a live task list is deleted.
 * @returns how many task lists were finished, and the counters bumped (none when nothing changed).
 */
export async function pruneRetired(
  conn: QueryClient,
  cluster: string,
  retiring: readonly RetiringTaskList[],
): Promise<{
  /** How many removed task lists were finished. */
  finished: number;
  /** The change counters this call moved. */
  bumped: ChangeCounters;
}> {
  let changed = false;
  let finished = 0;
  for (const list of retiring) {
    const key = { cluster, domain: list.domain, taskList: list.taskList };
    const current = await q.lockTaskList(conn, key);
    // Rows with no task list behind them, or of a removed one, all retire; a live one keeps its count.
    const firstPartition = current === null || current.status !== Status.Active ? 0 : current.partitions;
    if (await retireFrom(conn, { ...key, firstPartition })) changed = true;
    if (current?.status === Status.Deletable && (await q.finishTaskListRemoval(conn, key)) > 0) finished++;
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
  // A release request is dated and stamped only once its owner can see it: the partitions' rows are
  // locked first (a fenced transaction of the owner's holds them until it ends), then their owners'
  // member rows, whose versions the stamps come from (see LockedMember).
  const owners = new Set<string>();
  for (const row of await q.lockPartitionsFrom(conn, key)) {
    const asked = row.state === PartitionState.Assigned || (row.state === PartitionState.ReleaseRequested && row.targetNodeId !== null);
    if (asked && row.nodeId !== null) owners.add(row.nodeId);
  }
  if (owners.size === 0) return deleted > 0;
  const told: string[] = [];
  for (const [nodeId, { nextVersion: ownerVersion }] of await lockMembers(conn, key.cluster, owners)) {
    if ((await q.retireOwnedPartitionsFrom(conn, { ...key, nodeId, ownerVersion })) > 0) told.push(nodeId);
  }
  await tellMembers(conn, key.cluster, told);
  return deleted + told.length > 0;
}
