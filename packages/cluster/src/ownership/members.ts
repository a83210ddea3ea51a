// The members table's writes: registration, heartbeats, leaving, sweeping the expired.
import { clusterQueries as q, type QueryClient } from "@helix/db/internal";

import { bump, NO_CHANGE, type ChangeCounters } from "./counters";
import { lockMembers } from "./partitions";

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
export async function registerMember(
  conn: QueryClient,
  member: Registration,
): Promise<{
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
 * Sets a live member's weight (0: a drain, see `Member.drain`), and tells the coordinator.
 * @returns whether a live member with that node id was found.
 */
export async function setMemberWeight(
  conn: QueryClient,
  member: { cluster: string; nodeId: string; weight: number },
): Promise<{
  /** Whether a live member with that node id was found. */
  found: boolean;
  /** The change counters this call moved. */
  bumped: ChangeCounters;
}> {
  // Found by a read under the row's lock, not by the count of changed rows: a weight set again
  // changes nothing, and that count depends on the client's FOUND_ROWS flag.
  const locked = await lockMembers(conn, member.cluster, [member.nodeId]);
  if (locked.get(member.nodeId)?.liveIncarnation === undefined) return { found: false, bumped: NO_CHANGE };
  await q.setMemberWeight(conn, member);
  return { found: true, bumped: await bump(conn, member.cluster, { ...NO_CHANGE, membership: 1 }) };
}

/**
 * A graceful leave: every partition of this incarnation becomes unassigned at once and the member
 * inactive. With `returnWithinMs` > 0 (a restart: the member will be back) its partitions stay
 * reserved for its node id instead, that long, out of reach of this incarnation's fences. A stale
 * incarnation leaving changes nothing of a newer one with the same node id.
 */
export async function leaveCluster(
  conn: QueryClient,
  member: { cluster: string; nodeId: string; incarnation: string },
  returnWithinMs = 0,
): Promise<{
  /** The change counters this call moved. */
  bumped: ChangeCounters;
}> {
  const released = returnWithinMs > 0 ? await q.reserveMemberPartitions(conn, member) : await q.releaseMemberPartitions(conn, member);
  const left = await q.deregisterMember(conn, { ...member, returnWithinUs: returnWithinMs * 1000 });
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
