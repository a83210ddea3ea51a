// Completing the hand-offs a round asked for, as their owners confirm, without a round of its own.
import type { ChangeCounters } from "@helix/cluster";
import { partitionKey } from "@helix/cluster/internal";
import { coordinatorQueries as cq, PartitionState, transaction, type ConnectionSource } from "@helix/db/internal";

import type { AppliedTransition } from "./audit";
import type { Transition } from "./planner";
import { watched } from "./snapshot";

/** What a leader reads to follow its hand-offs: the counters and the partitions without an owner, in one snapshot. */
export interface FreePartitions {
  /** The cluster's change counters the rows were read at. */
  readonly counters: ChangeCounters;
  /** Members still marked active whose TTL has passed. */
  readonly expiredMembers: number;
  /** The unassigned and released partitions. */
  readonly rows: readonly cq.ListFreePartitionsRow[];
}

/** Reads the change counters and the partitions without an owner in one consistent snapshot. */
export function readFreePartitions(source: ConnectionSource, cluster: string): Promise<FreePartitions> {
  return transaction(
    source,
    async (conn) => {
      const watch = await cq.watchCluster(conn, { cluster });
      const rows = await cq.listFreePartitions(conn, { cluster });
      return { ...watched(watch), rows };
    },
    { consistentSnapshot: true },
  );
}

/**
 * The hand-offs a leader asked for and has not seen completed, each by the member the partition is
 * meant for, with the membership and catalog they were planned under.
 *
 * A hand-off takes three steps: a round asks the owner to release, the owner confirms, a round gives
 * the partition to its next owner. Without this, the third step waits for a round of its own, which
 * reads the whole cluster again (at 100,000 partitions, most of a second on a busy machine) and, as
 * confirmations arrive while it reads, often a second one. With it, a leader whose last round asked
 * for releases, seeing only the ownership counter move, reads just the partitions without an owner
 * and gives each released one to the member its request named: what a round would do then, because
 * with the same members, the same catalog and no member expired the planner's targets are the same
 * and a released partition goes to the member it was meant for while that member still needs it
 * (it does: its need counted the request). Anything else (a partition freed some other way, a
 * member expired, a membership or catalog change) calls for a round. The writes are a round's:
 * fenced by the lease, applied by the same statements with the same hand-off rule in SQL, so the
 * safety of a hand-off does not rest on this choice (docs/protocol.md).
 */
export class RequestedHandoffs {
  /** The membership and catalog counters the hand-offs were planned under. */
  #basis: { membership: number; catalog: number } | null = null;
  /** The member each partition (by `partitionKey`) is meant for, and whether an operator placed it there. */
  readonly #targets = new Map<string, { readonly to: string; readonly placed: boolean }>();

  /** How many hand-offs are being followed. */
  get size(): number {
    return this.#targets.size;
  }

  /** Whether a move of the counters from `seen` to `now` may be followed rather than planned. */
  followable(seen: ChangeCounters | null, now: ChangeCounters, expiredMembers: number): boolean {
    return (
      this.#targets.size > 0 &&
      seen !== null &&
      expiredMembers === 0 &&
      this.#sameBasis(seen) &&
      now.membership === seen.membership &&
      now.catalog === seen.catalog &&
      now.ownership !== seen.ownership
    );
  }

  /**
   * Takes note of what a round (read at `counters`) applied: its release requests are followed, its
   * assignments need no following. A round planned under another membership or catalog starts
   * afresh, and a round with no hand-off pending leaves nothing to follow.
   */
  recordRound(counters: ChangeCounters, applied: readonly AppliedTransition[], pendingHandoffs: number): void {
    if (pendingHandoffs === 0 || !this.#sameBasis(counters)) this.clear();
    if (pendingHandoffs === 0) return;
    this.#basis = { membership: counters.membership, catalog: counters.catalog };
    this.recordApplied(applied);
  }

  /** Takes note of transitions applied: release requests followed, assignments done. */
  recordApplied(applied: readonly AppliedTransition[]): void {
    for (const t of applied) {
      const key = partitionKey(t.domain, t.taskList, t.partition);
      if (t.type === "release" && t.to !== null) this.#targets.set(key, { to: t.to, placed: t.placed === true });
      else this.#targets.delete(key);
    }
  }

  /** Forgets every hand-off (a new leadership, say). */
  clear(): void {
    this.#targets.clear();
    this.#basis = null;
  }

  /**
   * The assignments that complete the hand-offs whose owners have confirmed, or null when what was
   * read calls for a round: the membership or catalog moved since `seen`, a member expired, or a
   * partition is without an owner other than by a release this leader is following.
   */
  plan(read: FreePartitions, seen: ChangeCounters | null): Transition[] | null {
    if (!this.followable(seen, read.counters, read.expiredMembers)) return null;
    const transitions: Transition[] = [];
    for (const row of read.rows) {
      const target = this.#targets.get(partitionKey(row.domain, row.taskList, row.partitionId));
      if (row.state !== PartitionState.Released || row.nodeId === null || target === undefined || row.targetNodeId !== target.to)
        return null;
      const { domain, taskList, partitionId: partition, generation, nodeId: from } = row;
      const { to, placed } = target;
      transitions.push({
        type: "assign",
        domain,
        taskList,
        partition,
        generation,
        from,
        to,
        reason: "released",
        ...(placed ? { placed } : {}),
      });
    }
    return transitions.length === 0 ? null : transitions;
  }

  #sameBasis(counters: ChangeCounters): boolean {
    return this.#basis === null || (this.#basis.membership === counters.membership && this.#basis.catalog === counters.catalog);
  }
}
