import type { ChangeCounters } from "@helix/cluster";
import { ownershipProtocol as ownership, type RunPace } from "@helix/cluster/internal";
import { transaction, type ConnectionSource, type QueryClient } from "@helix/db";
import type { Lease } from "@helix/lock";

import {
  recordTransitions,
  transitionCauseName,
  TransitionCauses,
  trimTransitions,
  type AppliedTransition,
  type TransitionCauseName,
} from "./audit";
import { holdForMaintenance, type HeldPlan } from "./maintenance";
import type { ResolvedCoordinatorOptions } from "./options";
import { planOwnership, type Plan, type Transition } from "./planner";
import type { ClusterSnapshot } from "./snapshot";
import { CONCURRENT_WRITE_LANES, splitIntoWriteLanes } from "./write-lanes";

/** What started a round. */
export type RoundTrigger =
  /** The coordinator just became the leader. */
  | "elected"
  /** The change counters moved, or members' TTLs passed. */
  | "change"
  /** A pending release may now be forced, or a vanished member's delay ended. */
  | "timer"
  /** The slow fallback tick. */
  | "fallback"
  /**
   * Owners confirmed releases the leader asked for, and nothing else changed: the round gives the
   * released partitions to the members they were meant for, from a read of the partitions without
   * an owner rather than of the whole cluster (a round of this kind plans nothing else; its
   * `members` and `partitions` are those of the round before).
   */
  | "confirmed";

/** What one round did. */
export interface RoundReport {
  /** The leadership epoch the round's writes were fenced with. */
  readonly epoch: number;
  /** What started the round. */
  readonly trigger: RoundTrigger;
  /** How long the round took, in milliseconds. */
  readonly durationMs: number;
  /** Live members. */
  readonly members: number;
  /** Partitions in the catalog. */
  readonly partitions: number;
  /** Members whose TTL had passed, marked inactive by this round. */
  readonly markedInactive: number;
  /** Members gone longer than `memberRetentionMs` (owning nothing), deleted by this round. */
  readonly deletedMembers: number;
  /** Transitions the plan asked for. */
  readonly planned: number;
  /** Transitions committed (the others found their partition changed and wait for the next round). */
  readonly applied: readonly AppliedTransition[];
  /** How many of `applied` are release requests (the rest are assignments). */
  readonly releasesRequested: number;
  /** Hand-offs waiting for their owner's confirmation after this round. */
  readonly pendingHandoffs: number;
  /** Transitions the plan would have made that maintenance held back (see `startMaintenance`). */
  readonly heldForMaintenance: number;
  /** How many of `applied` happened for each cause (see `TransitionCauses`); causes with none are left out. */
  readonly causes: Readonly<Partial<Record<TransitionCauseName, number>>>;
  /** Whether the round wrote anything. A round with nothing to do writes nothing. */
  readonly wrote: boolean;
}

/**
 * Runs the planner on a snapshot with the coordinator's options: what a round would do, were no
 * maintenance on (a round holds back what maintenance says, see {@link roundPlan}).
 */
export function planFor(snapshot: ClusterSnapshot, options: ResolvedCoordinatorOptions): Plan {
  return planOwnership({
    members: snapshot.members,
    taskLists: snapshot.taskLists,
    options: {
      forceReleaseAfterMs: options.forceReleaseAfterMs,
      reassignDelayMs: options.reassignDelayMs,
      maxMovesPerTaskList: options.maxMovesPerTaskList,
      maxMovesPerMember: options.maxMovesPerMember,
    },
  });
}

/** What a round does of the plan for a snapshot: the plan less what maintenance holds back. */
export function roundPlan(snapshot: ClusterSnapshot, options: ResolvedCoordinatorOptions): HeldPlan {
  return holdForMaintenance(planFor(snapshot, options), snapshot.taskLists, snapshot.maintenance);
}

/** Where a round writes, and how: as the holder of `lease`, while `leading()` says it still is. */
export interface RoundWriter {
  readonly source: ConnectionSource;
  readonly options: ResolvedCoordinatorOptions;
  readonly lease: Lease;
  /** Whether to go on with the next batch (false once the coordinator stopped or lost the lease). */
  readonly leading: () => boolean;
  /**
   * Members given partitions but not yet told (see `tellNewOwners` of `applyOwnershipChanges`):
   * the coordinator's, kept across rounds until a round's last transaction tells them.
   */
  readonly untold: Set<string>;
  /** How many changes a run takes: shrinks while the database or the machine is slow (see `RunPace`). */
  readonly pace: RunPace;
}

/** What a round's writes did, as they reported it. */
export interface RoundWrites {
  readonly markedInactive: number;
  readonly deletedMembers: number;
  readonly applied: readonly AppliedTransition[];
  /** How many of `applied` are release requests. */
  readonly releasesRequested: number;
  /** Release requests the plan made that were not written (their partition had changed). */
  readonly releasesNotMade: number;
  /** How many of `applied` happened for each cause. */
  readonly causes: Partial<Record<TransitionCauseName, number>>;
  /** Counter bumps of the round's own writes: the coordinator adds them to what it read. */
  readonly bumped: ChangeCounters;
}

/**
 * Carries out a plan, every write in a transaction fenced by the leadership lease (it commits only
 * while the lease is the key's current one, and holds it against a takeover until the commit):
 * marks expired members inactive and deletes those gone longer than `memberRetentionMs` (only
 * when the snapshot shows some: a quiet round writes nothing), cleans up retired partitions, then
 * applies the transitions ({@link applyTransitions}, each batch cut short at {@link batchBudgetMs}).
 * @throws `LeaseLostError` or `FencedOutError` when this coordinator is no longer the leader; the
 *   transaction is rolled back and nothing of it is written.
 */
export async function applyPlan(
  writer: RoundWriter,
  snapshot: ClusterSnapshot,
  plan: Plan,
  causes = new TransitionCauses(snapshot.members, snapshot.taskLists, snapshot.placements),
): Promise<RoundWrites> {
  const { cluster, memberRetentionMs } = writer.options;
  let bumped: ChangeCounters = ownership.NO_CHANGE;
  let markedInactive = 0;
  let deletedMembers = 0;
  const due = snapshot.departedMembers.some((m) => m.sinceExpiryMs > memberRetentionMs);
  if (snapshot.expiredMembers > 0 || due) {
    const swept = await fenced(writer, (conn) => ownership.sweepExpiredMembers(conn, cluster, memberRetentionMs));
    markedInactive = swept.marked;
    deletedMembers = swept.deleted;
    bumped = ownership.addCounters(bumped, swept.bumped);
  }
  if (snapshot.retiring.length > 0) {
    const pruned = await fenced(writer, (conn) => ownership.pruneRetired(conn, cluster, snapshot.retiring));
    bumped = ownership.addCounters(bumped, pruned.bumped);
  }
  const written = await applyTransitions(writer, plan.transitions, batchBudgetMs(writer.options, snapshot), causes);
  return { markedInactive, deletedMembers, ...written, bumped: ownership.addCounters(bumped, written.bumped) };
}

/**
 * Applies transitions in fenced batches of at most `batchSize`, each cut short at `budgetMs`, with
 * their audit rows (their causes judged by `causes`); tells the members partitions went to, and
 * trims the audit trail. The transitions are split into lanes with no member in common
 * ({@link splitIntoWriteLanes}), written at once. A batch's transitions that find their partition
 * changed are skipped and left to the next round. A lane that fails stops the others at their next
 * batch, and the round fails with its error once every lane has stopped.
 */
export async function applyTransitions(
  writer: RoundWriter,
  transitions: readonly Transition[],
  budgetMs: number,
  causes: TransitionCauses,
): Promise<Omit<RoundWrites, "markedInactive" | "deletedMembers">> {
  const { cluster, auditRetentionMs } = writer.options;
  const written = new LaneWrites();
  let failed = false;
  const lanes = await Promise.allSettled(
    splitIntoWriteLanes(transitions, CONCURRENT_WRITE_LANES).map((lane) =>
      writeLane(writer, lane, budgetMs, causes, written, () => !failed).catch((error: unknown) => {
        failed = true;
        throw error;
      }),
    ),
  );
  for (const lane of lanes) if (lane.status === "rejected") throw lane.reason;
  // New owners learn of their partitions once per round, not after every batch: each reads all its
  // partitions when told, and a large round has many batches.
  if (writer.untold.size > 0 && writer.leading()) {
    const told = [...writer.untold];
    await fenced(writer, (conn) => ownership.tellMembers(conn, cluster, told));
    for (const nodeId of told) writer.untold.delete(nodeId);
  }
  if (written.applied.length > 0) await fenced(writer, (conn) => trimTransitions(conn, cluster, auditRetentionMs));
  const { applied, releasesRequested, releasesNotMade, byCause, bumped } = written;
  return { applied, releasesRequested, releasesNotMade, causes: byCause, bumped };
}

/** What the lanes of a round wrote, added up batch by batch. */
class LaneWrites {
  readonly applied: AppliedTransition[] = [];
  readonly byCause: Partial<Record<TransitionCauseName, number>> = {};
  // Counted batch by batch: at a million transitions, a pass over all of them at the round's end
  // holds the event loop long enough, on a loaded machine, to miss a lease renewal.
  releasesRequested = 0;
  releasesNotMade = 0;
  bumped: ChangeCounters = ownership.NO_CHANGE;
}

/** Writes one lane's transitions in fenced batches while the writer leads and `goOn()` says so. */
async function writeLane(
  writer: RoundWriter,
  transitions: readonly Transition[],
  budgetMs: number,
  causes: TransitionCauses,
  into: LaneWrites,
  goOn: () => boolean,
): Promise<void> {
  const { cluster, batchSize, forceReleaseAfterMs, id: actor } = writer.options;
  for (let at = 0; at < transitions.length && writer.leading() && goOn();) {
    const batch = transitions.slice(at, at + batchSize);
    const written = await fenced(writer, async (conn) => {
      const result = await ownership.applyOwnershipChanges(conn, cluster, batch, forceReleaseAfterMs, {
        budgetMs,
        tellNewOwners: false,
        pace: writer.pace,
      });
      const recorded = await recordTransitions(conn, { cluster, epoch: writer.lease.epoch, actor, causes }, result.applied);
      return { ...result, causes: recorded };
    });
    for (const cause of written.causes) {
      const name = transitionCauseName(cause);
      into.byCause[name] = (into.byCause[name] ?? 0) + 1;
    }
    const made = countReleases(written.applied);
    into.releasesRequested += made;
    into.releasesNotMade += countReleases(batch, written.considered) - made;
    at += written.considered;
    into.applied.push(...written.applied);
    for (const nodeId of written.newOwners) writer.untold.add(nodeId);
    into.bumped = ownership.addCounters(into.bumped, written.bumped);
  }
}

/** How many of the first `count` transitions (all by default) are release requests. */
function countReleases(transitions: readonly Transition[], count = transitions.length): number {
  let releases = 0;
  for (let i = 0; i < count; i++) if (transitions[i]!.type === "release") releases++;
  return releases;
}

/**
 * How long one batch's transaction may take: a tenth of the shortest TTL it can hold up. The
 * transaction holds the involved members' rows, blocking their heartbeats, and at its end (through
 * the fence) the lease row, blocking the leader's own renewal; a tenth leaves both most of their
 * TTL, and well over their statement timeouts, after waiting for it.
 */
export function batchBudgetMs(options: ResolvedCoordinatorOptions, snapshot: ClusterSnapshot): number {
  let shortestTtlMs = options.leaseTtlMs;
  for (const member of snapshot.members) {
    if (member.live && member.ttlMs !== undefined && member.ttlMs < shortestTtlMs) shortestTtlMs = member.ttlMs;
  }
  return Math.max(1, Math.floor(shortestTtlMs / 10));
}

/**
 * Runs `fn` in a transaction fenced by the leadership lease. The fence comes last, just before the
 * commit: it holds the lease's row (shared) until the transaction ends, and the leader's own renewal
 * waits for it. Taken first, a batch slowed by a loaded database would hold it the whole batch long
 * and the renewal could miss the lease's deadline. Either way the writes commit only while the lease
 * is held, and no new leader can take it before they do; a deposed leader's writes roll back.
 */
function fenced<T>(writer: RoundWriter, fn: (conn: QueryClient) => Promise<T>): Promise<T> {
  return transaction(writer.source, async (conn) => {
    const result = await fn(conn);
    await writer.lease.fence(conn);
    return result;
  });
}

/** The report of a round from what it read, planned and wrote. */
export function roundReport(
  round: { epoch: number; trigger: RoundTrigger; durationMs: number },
  snapshot: ClusterSnapshot,
  { plan, held }: HeldPlan,
  writes: RoundWrites,
): RoundReport {
  const { membership, catalog, ownership: owned } = writes.bumped;
  return {
    ...round,
    members: snapshot.liveMembers,
    partitions: snapshot.partitions,
    markedInactive: writes.markedInactive,
    deletedMembers: writes.deletedMembers,
    planned: plan.transitions.length,
    applied: writes.applied,
    releasesRequested: writes.releasesRequested,
    // Releases the plan counted as pending but that were not made are not pending.
    pendingHandoffs: plan.pendingHandoffs - writes.releasesNotMade,
    heldForMaintenance: held,
    causes: writes.causes,
    wrote: membership + catalog + owned > 0,
  };
}
