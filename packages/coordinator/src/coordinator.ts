import { coordinatorLeaseKey } from "@helix/cluster";
import { ownershipProtocol as ownership } from "@helix/cluster/internal";
import {
  ClosedError,
  coordinatorQueries as cq,
  isHelixError,
  SafeEmitter,
  setLongTimeout,
  type ConnectionSource,
  type LongTimeout,
} from "@helix/db/internal";
import type { Lease, Locker } from "@helix/lock";

import { readHistory, type TransitionRecord } from "./audit";
import { planNextRound, type DryRun } from "./dry-run";
import type { CoordinatorEvents, CoordinatorState, CoordinatorStats } from "./events";
import type { ResolvedCoordinatorOptions } from "./options";
import type { RoundReport, RoundTrigger } from "./round";
import { Rounds } from "./rounds";

/** How often the leader polls while owners are confirming releases it asked for (see `pollMs`). */
const HANDOFF_POLL_MS = 25;

/**
 * One cluster's coordinator. Every coordinator of a cluster competes for one leadership lease; the
 * leader keeps every task list's partitions balanced over the live members. It reacts to changes
 * within `pollMs` (it polls one row of change counters), runs a round at least every
 * `fallbackIntervalMs`, and writes nothing when nothing needs to change. Every write is fenced by
 * the lease's epoch, so a deposed leader cannot change anything.
 *
 * Made by {@link createCoordinator}; `stop()` (or `await using`) releases the lease so that a
 * standby takes over at once.
 *
 * Every step changes the state before it announces it, and a listener that throws stops neither
 * the other listeners nor the coordinator (see `SafeEmitter`): a throwing `round:done` listener is
 * no round error. Every timer is armed only while the state it serves lasts, so that nothing runs
 * after `stop()`, even when a listener calls it in the middle of a step.
 */
export class Coordinator extends SafeEmitter<CoordinatorEvents> implements AsyncDisposable {
  /** The options in force, after defaults. */
  readonly options: ResolvedCoordinatorOptions;

  readonly #source: ConnectionSource;
  /**
   * Whether hand-offs are followed: not under a move limit, where a planned round must follow each
   * step of a rebalance spread over rounds (its next releases are planned as the last ones land).
   */
  readonly #follows: boolean;
  /** What the rounds keep from one to the next, and the rounds themselves. */
  readonly #rounds: Rounds;
  readonly #locker: Locker;
  readonly #closeSource: () => Promise<void>;
  readonly #leaseKey: string;
  #state: CoordinatorState = "following";
  #lease: Lease | null = null;
  #electionTimer: LongTimeout | undefined;
  #pollTimer: LongTimeout | undefined;
  #checkTimer: LongTimeout | undefined;
  #fallbackTimer: LongTimeout | undefined;
  /** The election and the poll in flight (or the last ones): stop() waits for them, and for the round. */
  #electing: Promise<void> = Promise.resolve();
  #polling: Promise<void> = Promise.resolve();
  #round: Promise<void> | null = null;
  #queued: RoundTrigger | null = null;
  /** A poll saw the counters move while a round ran: look again once it ends. */
  #pollWhenDone = false;
  #stats: { -readonly [K in Exclude<keyof CoordinatorStats, "state" | "epoch">]: CoordinatorStats[K] } = {
    elections: 0,
    rounds: 0,
    roundsWithWrites: 0,
    roundErrors: 0,
    assigned: 0,
    releasesRequested: 0,
    fencedOut: 0,
    leaseRenewFailures: 0,
    pendingHandoffs: 0,
    members: 0,
    partitions: 0,
    lastRound: null,
  };

  /** @internal Use {@link createCoordinator}. */
  constructor(init: {
    options: ResolvedCoordinatorOptions;
    source: ConnectionSource;
    readsFor: (partitions: number) => ConnectionSource;
    locker: Locker;
    closeSource: () => Promise<void>;
  }) {
    super();
    this.options = init.options;
    this.#source = init.source;
    this.#rounds = new Rounds(init.source, init.readsFor, init.options);
    this.#locker = init.locker;
    this.#closeSource = init.closeSource;
    this.#leaseKey = coordinatorLeaseKey(init.options.cluster);
    this.#follows = init.options.maxMovesPerTaskList === Infinity && init.options.maxMovesPerMember === Infinity;
  }

  /** The cluster this coordinator works on. */
  get cluster(): string {
    return this.options.cluster;
  }

  /** See {@link CoordinatorState}. */
  get state(): CoordinatorState {
    return this.#state;
  }

  /** The epoch this coordinator leads with, or null when it does not lead. */
  get epoch(): number | null {
    return this.#state === "leading" && this.#lease !== null ? this.#lease.epoch : null;
  }

  /** Counters since the coordinator started. */
  stats(): CoordinatorStats {
    return { state: this.#state, epoch: this.epoch, ...this.#stats };
  }

  /**
   * What the next round would do, without writing anything: reads the cluster and runs the
   * planner. Works on a standby too.
   */
  async plan(): Promise<DryRun> {
    if (this.#state === "stopped") throw new ClosedError("coordinator");
    return planNextRound(this.#source, this.options);
  }

  /** The most recent transitions of the cluster, newest first, from the audit trail. */
  async history(options: { limit?: number } = {}): Promise<TransitionRecord[]> {
    if (this.#state === "stopped") throw new ClosedError("coordinator");
    return readHistory(this.#source, this.cluster, options);
  }

  /**
   * Steps down and shuts down: stops starting rounds, waits for the current one (its remaining
   * batches are not written), releases the leadership lease so a standby takes over at once, and
   * closes the pool if the coordinator made it. Safe to call more than once.
   */
  async stop(): Promise<void> {
    if (this.#state === "stopping" || this.#state === "stopped") return;
    const announce = this.#moveTo("stopping");
    this.#clearTimers();
    this.#electionTimer?.clear();
    this.#queued = null;
    this.#pollWhenDone = false;
    announce();
    // An election in flight may yet take the lease, a poll or a round may yet write: wait for them,
    // so that the lease is released and nothing uses the pool once it is closed.
    await Promise.allSettled([this.#electing, this.#polling, this.#round]);
    const lease = this.#lease;
    this.#lease = null;
    try {
      await lease?.release().catch(() => undefined);
      await this.#locker.close();
    } finally {
      await this.#closeSource();
      this.#moveTo("stopped")();
    }
  }

  /** Same as {@link Coordinator.stop}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** @internal Starts competing for the lease. */
  start(): void {
    this.#scheduleElection(0);
  }

  /** Moves to `to`; returns the announcement, for the caller to make once its step is complete. */
  #moveTo(to: CoordinatorState): () => void {
    const from = this.#state;
    this.#state = to;
    return () => {
      if (from !== to) this.emit("coordinator:state", { from, to });
    };
  }

  #scheduleElection(delayMs: number): void {
    this.#electionTimer?.clear();
    if (this.#state !== "following") return;
    this.#electionTimer = setLongTimeout(() => {
      this.#electing = this.#elect();
    }, delayMs);
  }

  async #elect(): Promise<void> {
    if (this.#state !== "following") return;
    let lease: Lease | null = null;
    try {
      lease = await this.#locker.tryAcquire(this.#leaseKey, { ttlMs: this.options.leaseTtlMs, autoRenew: true });
    } catch (error) {
      if (this.#state === "following") this.emit("election:error", error as Error);
    }
    if (lease === null || this.#state !== "following") {
      if (lease !== null) await lease.release().catch(() => undefined);
      this.#scheduleElection(this.options.electionIntervalMs);
      return;
    }
    this.#lease = lease;
    this.#rounds.reset();
    this.#stats.elections++;
    lease.signal.addEventListener("abort", () => this.#onLeaseEnded(lease), { once: true });
    lease.on("lease:renew-failed", (error) => {
      this.#stats.leaseRenewFailures++;
      this.emit("leader:renew-failed", error);
    });
    const announce = this.#moveTo("leading");
    this.#trigger("elected");
    this.#schedulePoll();
    this.#scheduleFallback();
    announce();
    this.emit("leader:elected", { epoch: lease.epoch });
  }

  #onLeaseEnded(lease: Lease): void {
    if (this.#lease !== lease || this.#state !== "leading") return;
    this.#lease = null;
    this.#clearTimers();
    this.#queued = null;
    this.#pollWhenDone = false;
    const announce = this.#moveTo("following");
    this.#scheduleElection(this.options.electionIntervalMs);
    announce();
    this.emit("leader:lost", { epoch: lease.epoch, error: lease.signal.reason as Error });
  }

  #schedulePoll(): void {
    this.#pollTimer?.clear();
    if (this.#state !== "leading") return;
    // A partition its owner confirmed has no owner until the next round: look sooner meanwhile.
    const delayMs = this.#rounds.requestedHandoffs.size > 0 ? Math.min(this.options.pollMs, HANDOFF_POLL_MS) : this.options.pollMs;
    this.#pollTimer = setLongTimeout(() => {
      this.#polling = this.#poll();
    }, delayMs);
  }

  #scheduleFallback(): void {
    this.#fallbackTimer?.clear();
    if (this.#state !== "leading") return;
    this.#fallbackTimer = setLongTimeout(() => {
      this.#trigger("fallback");
      this.#scheduleFallback();
    }, this.options.fallbackIntervalMs);
  }

  /** One look at the change counters: a round when they moved or members' TTLs passed. */
  async #poll(): Promise<void> {
    if (this.#state !== "leading") return;
    try {
      const watch = await cq.watchCluster(this.#source, { cluster: this.cluster });
      if (watch === null) {
        await ownership.ensureCounters(this.#source, this.cluster);
      } else {
        const seen = this.#rounds.seen;
        const moved =
          seen === null ||
          watch.membershipVersion !== seen.membership ||
          watch.catalogVersion !== seen.catalog ||
          watch.ownershipVersion !== seen.ownership;
        const now = { membership: watch.membershipVersion, catalog: watch.catalogVersion, ownership: watch.ownershipVersion };
        if (this.#follows && this.#rounds.requestedHandoffs.followable(seen, now, watch.expiredMembers)) this.#trigger("confirmed");
        else if (moved || watch.expiredMembers > 0) this.#trigger("change");
      }
    } catch (error) {
      if (this.#state === "leading") this.emit("round:error", error as Error);
    } finally {
      if (this.#state === "leading") this.#schedulePoll();
    }
  }

  /**
   * Starts a round, or queues one behind the round in progress. What a poll saw during a round is
   * not queued: it compared the counters with what the round before had seen, and the round in
   * progress may account for the change (a member's join seen at every poll while the round it
   * started runs, say); the counters are looked at again, against what this round saw, as it ends.
   */
  #trigger(trigger: RoundTrigger): void {
    if (this.#state !== "leading") return;
    if (this.#round !== null) {
      if (trigger === "change" || trigger === "confirmed") this.#pollWhenDone = true;
      else this.#queued ??= trigger;
      return;
    }
    this.#round = this.#runRound(trigger).finally(() => {
      this.#round = null;
      const next = this.#queued;
      this.#queued = null;
      if (next !== null) {
        this.#trigger(next);
      } else if (this.#pollWhenDone && this.#state === "leading") {
        this.#pollWhenDone = false;
        // After any poll in flight, so that stop() waits for both.
        this.#polling = this.#polling.then(() => this.#poll());
      }
    });
  }

  /**
   * One round, top-down: read a snapshot, plan, apply (fenced batches), record what was seen, report.
   * A round triggered by confirmations follows the hand-offs instead when it can (see `follow.ts`).
   */
  async #runRound(trigger: RoundTrigger): Promise<void> {
    const lease = this.#lease;
    if (lease === null || !lease.isHeld()) return;
    const leading = (): boolean => this.#state === "leading" && this.#lease === lease;
    const started = performance.now();
    const writer = this.#rounds.writer(lease, leading);
    try {
      const round =
        (trigger === "confirmed" ? await this.#rounds.following(writer, this.#stats) : null) ??
        (await this.#rounds.planned(writer, trigger === "confirmed" ? "change" : trigger));
      if (!lease.isHeld() || !leading()) {
        // Deposed (or stopped) during the round: what it wrote was fenced; it reports nothing as the
        // leader, and arms no timer.
        this.#stats.fencedOut++;
        return;
      }
      if (round.nextCheckMs !== undefined) this.#scheduleCheck(round.nextCheckMs);
      this.#report(round.report(performance.now() - started));
    } catch (error) {
      if (isHelixError(error, "HELIX_LEASE_LOST") || isHelixError(error, "HELIX_FENCED_OUT")) {
        // Deposed while planning or writing: the fenced transaction changed nothing.
        this.#stats.fencedOut++;
        if (this.#lease === lease) this.#onLeaseEnded(lease);
        return;
      }
      this.#stats.roundErrors++;
      if (this.#state === "leading") this.emit("round:error", error as Error);
    }
  }

  #report(report: RoundReport): void {
    const releases = report.releasesRequested;
    const s = this.#stats;
    s.rounds++;
    if (report.wrote) s.roundsWithWrites++;
    s.assigned += report.applied.length - releases;
    s.releasesRequested += releases;
    s.pendingHandoffs = report.pendingHandoffs;
    s.members = report.members;
    s.partitions = report.partitions;
    s.lastRound = report;
    this.emit("round:done", report);
  }

  #scheduleCheck(delayMs: number | null): void {
    this.#checkTimer?.clear();
    if (delayMs === null || this.#state !== "leading") return;
    this.#checkTimer = setLongTimeout(() => this.#trigger("timer"), delayMs + 5);
  }

  /** Clears the leader's timers (not the election's). */
  #clearTimers(): void {
    this.#pollTimer?.clear();
    this.#checkTimer?.clear();
    this.#fallbackTimer?.clear();
  }
}
