// The ownership table's writes: assignments, release requests, confirmations, and the locks they take.
import {
  chunks,
  clusterQueries as q,
  coordinatorQueries as cq,
  MAX_ROWS_PER_STATEMENT,
  PartitionState,
  type QueryClient,
} from "@helix/db/internal";

import type { PartitionAddress, PartitionRef } from "../address";
import { bump, NO_CHANGE, type ChangeCounters } from "./counters";
import { asSeen, firstPerPartition, groupBy, lockPartitions, type LockedPartition } from "./locked-rows";

/**
 * How long after asking a live owner to release a partition a hand-off may go ahead without its
 * confirmation, unless a caller says otherwise; never sooner than the owner's TTL, when the owner
 * has stopped on its own.
 */
export const DEFAULT_FORCE_RELEASE_AFTER_MS = 30_000;

/** One partition of a task list. */
export interface PartitionKey extends PartitionAddress {
  /** The partition's cluster. */
  readonly cluster: string;
}

/**
 * A change of owner a caller wants, from what it saw: `assign` gives the partition to `to`;
 * `release` asks its owner `from` to release it so that it can go to `to`.
 */
export interface OwnershipChange extends PartitionRef {
  /** `assign` gives the partition to `to`; `release` asks its owner `from` to release it. */
  readonly type: "assign" | "release";
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
 * incarnation between the liveness check and the hand-off, and a partition goes to the
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
  const locked =
    releases.length === 0
      ? new Map<number, LockedPartition>()
      : await lockPartitions(
          conn,
          list,
          releases.map((c) => c.partition),
        );
  const eligible = [
    // A release is asked of the live owner the caller saw, while it still holds the partition.
    ...asSeen(
      releases,
      locked,
      (change, row) =>
        row.state === PartitionState.Assigned &&
        change.from !== null &&
        row.nodeId === change.from &&
        row.incarnation === live.get(change.from)?.liveIncarnation &&
        (change.to === null || live.has(change.to)),
    ),
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
export async function lockMembers(conn: QueryClient, cluster: string, nodeIds: Iterable<string>): Promise<Map<string, LockedMember>> {
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

/** The owner as the ownership table has it now, read without a lock (null: no such partition). */
export async function currentOwner(
  conn: QueryClient,
  partition: PartitionKey,
): Promise<{
  /** The owner's node id; null when the partition is unassigned. */
  nodeId: string | null;
} | null> {
  const { partition: partitionId, ...rest } = partition;
  return q.getPartition(conn, { ...rest, partitionId });
}

/**
 * The owning process (node id and incarnation) confirms it stopped working on partitions it was
 * asked to release, each at the generation it owns; they may then go to their next owners. One
 * statement per task list and `MAX_ROWS_PER_STATEMENT` partitions, after locking them.
 * @returns the partitions confirmed; the others' ownership no longer stands (nothing changed).
 */
export async function confirmReleases<P extends PartitionRef>(
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
      const locked = await lockPartitions(
        conn,
        list,
        ofList.map((p) => p.partition),
      );
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
