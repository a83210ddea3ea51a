// What a leader keeps across its rounds, and the two kinds of round it runs: planned (a snapshot of
// the whole cluster, the planner, fenced batches) and following hand-offs (see follow.ts).
import type { ChangeCounters } from "@helix/cluster";
import { ownershipProtocol as ownership } from "@helix/cluster/internal";
import { clusterQueries as q, type ConnectionSource } from "@helix/db/internal";
import type { Lease } from "@helix/lock";

import { TransitionCauses } from "./audit";
import { readFreePartitions, RequestedHandoffs } from "./follow";
import type { ResolvedCoordinatorOptions } from "./options";
import {
  applyPlan,
  applyTransitions,
  batchBudgetMs,
  roundPlan,
  roundReport,
  type RoundReport,
  type RoundTrigger,
  type RoundWriter,
} from "./round";
import { readSnapshot } from "./snapshot";

/** A round done: when to look again (undefined: keep the check armed), and its report once timed. */
export interface DoneRound {
  readonly nextCheckMs: number | null | undefined;
  readonly report: (durationMs: number) => RoundReport;
}

/** What the round before reported, which a round following hand-offs carries on from. */
export interface LastRound {
  readonly members: number;
  readonly partitions: number;
  readonly pendingHandoffs: number;
}

/**
 * A leader's rounds and what they keep from one to the next: the change counters accounted for,
 * the members not yet told of new partitions, the pace of batches, and the hand-offs being
 * followed. One per coordinator; `reset()` when it is elected again.
 */
export class Rounds {
  /** The counters the rounds so far accounted for (null: none yet, the next poll runs a round). */
  seen: ChangeCounters | null = null;
  /** The hand-offs asked for, followed between rounds as their owners confirm. */
  readonly requestedHandoffs = new RequestedHandoffs();
  /** Members given partitions and not yet told of them (see `RoundWriter.untold`). */
  readonly #untold = new Set<string>();
  /** How many changes a run of a round's batch takes, learnt from the runs before (see `RunPace`). */
  readonly #pace = new ownership.RunPace();
  /** The batch budget of the last planned round, which a round following hand-offs keeps. */
  #budgetMs = 1;
  /** The last planned round left a draining member's next wave for later (see `Plan.drainWaiting`). */
  #drainWaiting = false;
  /** The causes as the last planned round judged them, which a round following its hand-offs keeps. */
  #causes = new TransitionCauses([], []);

  constructor(
    private readonly source: ConnectionSource,
    /** The source for a snapshot's reads, with a statement timeout for a catalog of that many partitions. */
    private readonly readsFor: (partitions: number) => ConnectionSource,
    private readonly options: ResolvedCoordinatorOptions,
  ) {}

  /** Forgets what an earlier leadership saw and followed. */
  reset(): void {
    this.seen = null;
    this.requestedHandoffs.clear();
  }

  /** Where a round writes: as the holder of `lease`, while `leading()` says it still is. */
  writer(lease: Lease, leading: () => boolean): RoundWriter {
    return { source: this.source, options: this.options, lease, leading, untold: this.#untold, pace: this.#pace };
  }

  /** A round that reads the whole cluster and plans. */
  async planned(writer: RoundWriter, trigger: RoundTrigger): Promise<DoneRound> {
    const { cluster } = this.options;
    const lists = await q.listTaskLists(this.source, { cluster });
    const snapshot = await readSnapshot(this.readsFor(lists.reduce((n, l) => n + l.partitions, 0)), cluster);
    // A leader that stopped between a batch and its round's end left new owners untold: a new
    // leader tells every live member once.
    if (trigger === "elected") for (const member of snapshot.members) if (member.live) this.#untold.add(member.nodeId);
    const held = roundPlan(snapshot, this.options);
    const { plan } = held;
    this.#drainWaiting = plan.drainWaiting === true;
    this.#budgetMs = batchBudgetMs(this.options, snapshot);
    this.#causes = new TransitionCauses(snapshot.members, snapshot.taskLists, snapshot.placements);
    const writes = await applyPlan(writer, snapshot, plan, this.#causes);
    await this.#recordSeen(snapshot.counters, writes.bumped);
    const { epoch } = writer.lease;
    const report = (durationMs: number): RoundReport => roundReport({ epoch, trigger, durationMs }, snapshot, held, writes);
    this.requestedHandoffs.recordRound(snapshot.counters, writes.applied, plan.pendingHandoffs - writes.releasesNotMade);
    return { nextCheckMs: plan.nextCheckMs, report };
  }

  /**
   * A round that gives released partitions to the members they were meant for, from a read of the
   * partitions without an owner; null when what it read calls for a planned round instead.
   */
  async following(writer: RoundWriter, last: LastRound): Promise<DoneRound | null> {
    const read = await readFreePartitions(this.source, this.options.cluster);
    const transitions = this.requestedHandoffs.plan(read, this.seen);
    if (transitions === null) return null;
    const writes = await applyTransitions(writer, transitions, this.#budgetMs, this.#causes);
    await this.#recordSeen(read.counters, writes.bumped);
    this.requestedHandoffs.recordApplied(writes.applied);
    const { epoch } = writer.lease;
    const report = (durationMs: number): RoundReport => ({
      epoch,
      trigger: "confirmed",
      durationMs,
      members: last.members,
      partitions: last.partitions,
      markedInactive: 0,
      deletedMembers: 0,
      planned: transitions.length,
      applied: writes.applied,
      releasesRequested: 0,
      pendingHandoffs: Math.max(0, last.pendingHandoffs - writes.applied.length),
      heldForMaintenance: 0,
      causes: writes.causes,
      wrote: writes.bumped.ownership > 0,
    });
    // A drain's wave handed over: plan at once, so that the next wave is asked for.
    const waveDone = this.#drainWaiting && this.requestedHandoffs.size === 0;
    return { nextCheckMs: waveDone ? 0 : undefined, report };
  }

  /**
   * Remembers which counters this round accounted for: the ones it read plus the bumps its own
   * writes reported, when nobody else wrote in between; otherwise the ones it read, so that the
   * next poll runs another round.
   */
  async #recordSeen(read: ChangeCounters, bumped: ChangeCounters): Promise<void> {
    if (bumped.membership + bumped.catalog + bumped.ownership === 0) {
      this.seen = read;
      return;
    }
    const expected = ownership.addCounters(read, bumped);
    const now = await ownership.readCounters(this.source, this.options.cluster);
    const same = now.membership === expected.membership && now.catalog === expected.catalog && now.ownership === expected.ownership;
    this.seen = same ? expected : read;
  }
}
