import { randomBytes } from "node:crypto";
import { on, once } from "node:events";
import { setTimeout as delay } from "node:timers/promises";

import { checkOptions, ClosedError, clusterQueries as q, PartitionState, SafeEmitter, serverEngine, transaction } from "@helix/db/internal";
import type { ConnectionSource, Lane, OpenedDatabase } from "@helix/db/internal";
import { LocalDeadline, type Locker } from "@helix/lock";

import { AlreadyJoinedError } from "./errors";
import type { ResolvedJoinOptions } from "./join-options";
import { resolveDrainOptions, resolveLeaveOptions, type DrainOptions, type LeaveOptions } from "./leave-options";
import type { MemberEvents, MemberState, OwnedPartition, PartitionChange } from "./member-events";
import { Announcer, lost, newOwnership } from "./owned";
import { OwnedPartitions } from "./owned-partitions";
import { Releases } from "./releases";
import { heartbeatMember, leaveCluster, registerMember, setMemberWeight } from "./ownership";
import { Sweeper } from "./sweeper";
import { WATCH_INTERVAL_MS, watchMember } from "./watch";
import { whileUnavailable } from "./while-unavailable";
import { beatOnce } from "./heartbeat";
import { HeartbeatSchedule } from "./heartbeat-schedule";
import { PartitionSync } from "./partition-sync";
import { heartbeatBoundMs, readBoundMs } from "./statement-bounds";

/** How often a drain looks at what the member still owns. */
const DRAIN_CHECK_MS = 50;

/**
 * Starts a member made by {@link join}: registers it, reads its partitions and starts its timers.
 * @returns false if a live member holds its node id. Not exported from the package: a member is
 * started once, by `join`.
 */
export let startMember: (member: Member) => Promise<boolean>;

/**
 * This process's membership of a cluster: heartbeats, the partitions it owns, and their changes.
 * Made by {@link join}; `leave()` (or `await using`) hands everything back at once.
 *
 * Every step applies its changes before it announces them, and a listener that throws stops
 * neither the other listeners nor the member (see `SafeEmitter`).
 */
export class Member extends SafeEmitter<MemberEvents> implements AsyncDisposable {
  /** The cluster this member joined. */
  readonly cluster: string;
  /** The id this process goes by in the cluster. */
  readonly nodeId: string;

  readonly #options: ResolvedJoinOptions;
  /** Writes and transactions, each statement bounded by the member's statement timeout. */
  readonly #client: ConnectionSource;
  /**
   * Heartbeats, on a lane of their own where the pool allows (see `OpenedDatabase.lane`), so that
   * they never wait for a connection behind reads; each bounded by `heartbeatBoundMs`.
   */
  readonly #heartbeats: Lane;
  /** Reads of the member's partitions, each bounded by the time left before it must stop. */
  readonly #reads: ConnectionSource;
  readonly #locker: Locker;
  readonly #close: () => Promise<void>;
  readonly #owned = new OwnedPartitions((domain, taskList, partition, generation) => {
    const ref = { cluster: this.cluster, domain, taskList, partition, nodeId: this.nodeId, incarnation: this.#incarnation, generation };
    return newOwnership(
      ref,
      () => this.#checkDeadline(),
      () => serverEngine(this.#client),
    );
  });
  readonly #left = new AbortController();
  /** Announces changes, holding those made before `join()` returned the member (see `Announcer`). */
  readonly #announcer = new Announcer(this);
  readonly #deadline: LocalDeadline;
  #incarnation = randomBytes(16).toString("hex");
  #state: MemberState = "active";
  /** How many times the member fenced itself: a sync applies only rows read since it was last active. */
  #fences = 0;
  readonly #sync: PartitionSync;
  /** Releases being stopped (`onRelease`) and confirmed in the background: leave() waits for them. */
  readonly #releases: Releases;
  readonly #schedule: HeartbeatSchedule;
  /** Stops the watch between heartbeats (see {@link watchMember}). */
  #unwatch: () => Promise<void> = () => Promise.resolve();
  /** What the member's pool is shared by: members sharing it share a watch. */
  readonly #pool: object;
  #sweeper: Sweeper | undefined;
  /** How many partitions the member owned when it started leaving (what a drain did not move). */
  #ownedAtLeave = 0;
  /** The weight it registers with: the option's, 0 once it drains (a registration after a fence keeps it). */
  #weight: number;

  /** @internal Use {@link join}. */
  constructor(options: ResolvedJoinOptions, opened: { opened: OpenedDatabase; locker: Locker; pool: object }) {
    super();
    this.cluster = options.cluster;
    this.nodeId = options.nodeId;
    this.#options = options;
    this.#weight = options.weight;
    this.#client = opened.opened.client;
    // While not active (joining, fenced) there is no deadline: null.
    const left = (): number | null => (this.#state === "active" ? this.#deadline.remainingMs() : null);
    this.#heartbeats = opened.opened.lane(() => heartbeatBoundMs(left(), options.statementTimeoutMs));
    this.#reads = opened.opened.withTimeout(() => readBoundMs(left(), options.statementTimeoutMs));
    this.#locker = opened.locker;
    this.#close = async () => {
      await this.#heartbeats.close();
      await opened.opened.close();
    };
    this.#pool = opened.pool;
    this.#releases = new Releases(this.#client, this, {
      onRelease: options.onRelease,
      end: (ownership, change) => this.#announcer.announce([this.#owned.drop(ownership, change)]),
      confirmationFailed: (error) => {
        this.#sync.forget();
        this.emit("member:error", error);
      },
      releaseFailed: (error) => this.emit("member:error", error),
    });
    this.#deadline = new LocalDeadline(options.ttlMs, options.marginMs, () => this.#checkDeadline());
    this.#sync = new PartitionSync(this.#owned, {
      reads: {
        all: () => q.listProcessOwnership(this.#reads, this.#identity()),
        changedSince: (since) => q.listProcessOwnershipChanges(this.#reads, { ...this.#identity(), since }),
        releaseRequests: () => q.listProcessReleaseRequests(this.#reads, this.#identity()),
      },
      activeSpell: () => (this.#checkDeadline() ? this.#fences : undefined),
      announce: (changes) => this.#announcer.announce(changes),
      release: (toRelease, toConfirm) => {
        if (options.autoConfirm) {
          for (const o of toRelease) this.#releases.stopThenConfirm(o);
        }
        for (const o of toConfirm) this.#releases.confirmAgain(o);
      },
    });
    const heartbeat = {
      stopped: () => this.#stopped(),
      fenced: () => this.#state === "fenced",
      send: () => heartbeatMember(this.#heartbeats.client, { ...this.#identity(), ttlMs: options.ttlMs }),
      extendDeadlineFrom: (sentAt: number) => this.#deadline.extendFrom(sentAt),
      rejoined: (reregistered: boolean) => this.#rejoined(reregistered),
      fenceAndRenew: () => {
        this.#fence();
        this.#incarnation = randomBytes(16).toString("hex");
      },
      register: () => this.#register(),
      nodeIdTaken: () => this.emit("member:error", new AlreadyJoinedError(this.cluster, this.nodeId)),
      heartbeatFailed: (error: Error) => this.emit("member:heartbeat-failed", error),
    };
    this.#schedule = new HeartbeatSchedule(options.heartbeatMs, () => beatOnce(heartbeat, this.#schedule, this.#sync));
  }

  /**
   * This process's incarnation: changes whenever the member registers again (after being declared
   * dead). Ownerships belong to an incarnation, not to the node id.
   */
  get incarnation(): string {
    return this.#incarnation;
  }

  /** Where the member stands; reading it checks the heartbeat deadline. */
  get state(): MemberState {
    this.#checkDeadline();
    return this.#state;
  }

  /** The partitions this member owns now (releasing ones excluded). */
  partitions(): OwnedPartition[] {
    this.#checkDeadline();
    return this.#owned
      .all()
      .filter((o) => !o.releasing)
      .map((o) => o.partition);
  }

  /** Every change of this member's partitions, from now until the member leaves. */
  async *changes(options: { signal?: AbortSignal } = {}): AsyncGenerator<PartitionChange> {
    const signal = options.signal === undefined ? this.#left.signal : AbortSignal.any([this.#left.signal, options.signal]);
    try {
      for await (const [change] of on(this, "change", { signal }) as AsyncIterable<[PartitionChange]>) {
        yield change;
      }
    } catch (error) {
      if (!signal.aborted) throw error;
    }
  }

  /**
   * Confirms the release of a partition this member was asked to release (with
   * `confirmReleases: "manual"`). @returns false when there was no such request (any more).
   */
  async confirmRelease(partition: OwnedPartition): Promise<boolean> {
    if (this.#state === "left") throw new ClosedError("member");
    const given = checkOptions("partition", partition);
    const ownership = this.#owned.get(given.domain as string, given.taskList as string, given.partition as number);
    if (ownership === undefined || ownership.partition.generation !== partition.generation || !ownership.releasing) {
      return false;
    }
    return this.#releases.confirm(ownership);
  }

  /**
   * Drains the member, then leaves. It takes no more partitions (its weight is 0 from now on, a
   * registration after a fence included), and the coordinator hands each partition it owns to the
   * others through the acknowledged hand-off, at the coordinator's pace (its move limits): a release
   * request (`partition:release-requested`), the work stopped (`onRelease`), the confirmation, the
   * next owner. The member goes on working the partitions not yet asked for, and a partition is
   * without an owner only between its confirmation and the next owner's assignment. Once it owns
   * none (or `timeoutMs` passed: the leave then hands the rest back at once) it leaves.
   * `partitions()` shows the progress. Needs a running coordinator and other members to take the
   * partitions.
   * @returns how many partitions it still owned when it started leaving (a leave called meanwhile
   *   ends the drain): 0 when every one went through the hand-off.
   * @throws `InvalidArgumentError` for bad options; `ClosedError` once the member is leaving.
   */
  async drain(options: DrainOptions = {}): Promise<{
    /** How many partitions the member still owned when it started leaving. */
    remaining: number;
  }> {
    const { timeoutMs } = resolveDrainOptions(options);
    if (this.#state === "leaving" || this.#state === "left") throw new ClosedError("member");
    this.#weight = 0;
    const member = { cluster: this.cluster, nodeId: this.nodeId, weight: 0 };
    await whileUnavailable(() => transaction(this.#client, (conn) => setMemberWeight(conn, member)), this.#options);
    const giveUpAt = performance.now() + timeoutMs;
    // A leave called meanwhile ends the drain; the leave below then returns at once.
    const leaving = (): boolean => this.#state === "leaving" || this.#state === "left";
    while ((await this.#ownsAny()) && !leaving() && performance.now() < giveUpAt) {
      await delay(DRAIN_CHECK_MS, undefined, { ref: false });
    }
    await this.leave();
    // A leave called meanwhile may still be under way (ours then returned at once): its count is the answer.
    if (!this.#left.signal.aborted) await once(this.#left.signal, "abort");
    return { remaining: this.#ownedAtLeave };
  }

  /**
   * Whether this process owns a partition, by its own record or, when that has none, by the table
   * (a round may have given it partitions it has not read yet: a drain must wait for those too).
   * A failed read counts as owning: the drain looks again.
   */
  async #ownsAny(): Promise<boolean> {
    if (this.#owned.all().length > 0) return true;
    const rows = await q.listProcessOwnership(this.#reads, this.#identity()).catch(() => null);
    return rows === null || rows.some((r) => r.state === PartitionState.Assigned || r.state === PartitionState.ReleaseRequested);
  }

  /**
   * Leaves the cluster at once: stops every partition (running `onRelease`), hands them all back
   * (or, with `returningWithinMs`, keeps them reserved for this node id), deregisters, and closes
   * the pool if the member made it. Safe to call more than once.
   * @throws `InvalidArgumentError` for bad options, before anything is stopped.
   */
  async leave(options: LeaveOptions = {}): Promise<void> {
    const { returningWithinMs } = resolveLeaveOptions(options);
    if (this.#state === "leaving" || this.#state === "left") return;
    this.#state = "leaving";
    const beaten = this.#schedule.stop();
    const unwatched = this.#unwatch();
    this.#deadline.stop();
    // Nothing in flight may outlive the deregistration or the pool: a heartbeat may be re-registering,
    // a watch reading, a sweep taking the sweep lease, a release being confirmed (once confirmed, it
    // is not stopped again); a read of the partitions started by a watch is waited for after the
    // watch (none starts once the member is leaving).
    await Promise.allSettled([beaten, unwatched, this.#sweeper?.stop()]);
    await this.#sync.settled();
    await this.#releases.settled();
    const owned = this.#owned.all();
    this.#ownedAtLeave = owned.length;
    for (const o of owned) o.abort(new Error("the member is leaving"));
    await Promise.all(owned.map((o) => this.#releases.stop(o.partition)));
    try {
      // A leave sent again finds nothing more to do: this incarnation's partitions are free and it is inactive.
      await whileUnavailable(
        () => transaction(this.#client, (conn) => leaveCluster(conn, this.#identity(), returningWithinMs)),
        this.#options,
      );
    } finally {
      const changes = owned.map((o) => this.#owned.drop(o, lost(o, "left")));
      this.#state = "left";
      this.#announcer.announce(changes);
      this.#left.abort();
      await this.#locker.close();
      await this.#close();
    }
  }

  /** Same as {@link Member.leave}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.leave();
  }

  static {
    startMember = (member) => member.#start();
  }

  /** Registers, reads the partitions and starts the timers; false if the id is taken. */
  async #start(): Promise<boolean> {
    // A member that does not start is dropped by its caller, which closes what it opened: the
    // heartbeat lane is the member's own.
    const registered = await this.#registerAtJoin().catch(async (error: unknown) => {
      await this.#heartbeats.close();
      throw error;
    });
    if (!registered) {
      await this.#heartbeats.close();
      return false;
    }
    await this.#schedule.beat();
    this.#startWatch();
    this.#announcer.releaseSoon();
    const { sweepIntervalMs: intervalMs, memberRetentionMs: retentionMs } = this.#options;
    if (intervalMs > 0) {
      const onError = (error: Error): boolean => this.emit("member:error", error);
      this.#sweeper = new Sweeper({ cluster: this.cluster, locker: this.#locker, client: this.#client, intervalMs, retentionMs, onError });
      this.#sweeper.start();
    }
    return true;
  }

  /**
   * The first registration, sent again with the same incarnation while the database is unavailable
   * (for up to a TTL): a registration whose reply was lost has taken the node id, and sending it
   * again finds it instead of being refused as "already joined" until its TTL ends.
   */
  #registerAtJoin(): Promise<boolean> {
    return whileUnavailable(() => this.#register(), this.#options);
  }

  async #register(): Promise<boolean> {
    const sentAt = performance.now();
    const { metadata, ttlMs } = this.#options;
    const weight = this.#weight;
    const { registered } = await transaction(this.#client, (conn) =>
      registerMember(conn, { ...this.#identity(), metadata, weight, ttlMs }),
    );
    if (registered) this.#deadline.extendFrom(sentAt);
    return registered;
  }

  /** Active again (see {@link beatOnce}, which calls this only while the member is not leaving). */
  #rejoined(reregistered: boolean): void {
    this.#state = "active";
    this.#sync.forget();
    this.emit("member:rejoined", { incarnation: this.#incarnation, reregistered });
  }

  /** Self-fencing: stop every partition before anyone else can be given them. */
  #fence(): void {
    if (this.#state !== "active") return;
    this.#state = "fenced";
    this.#fences++;
    this.#sync.forget();
    this.#announcer.announce(this.#owned.dropAll("fenced"));
    this.emit("member:fenced");
  }

  /** Whether the heartbeat deadline is still ahead; fences synchronously when it passed. */
  #checkDeadline(): boolean {
    if (this.#state === "active" && this.#deadline.passed()) this.#fence();
    return this.#state === "active";
  }

  /** Between heartbeats, a watch of the member's assignment version (see {@link watchMember}). */
  #startWatch(): void {
    if (this.#options.heartbeatMs <= WATCH_INTERVAL_MS) return;
    this.#unwatch = watchMember(this.#pool, this.cluster, {
      nodeId: this.nodeId,
      incarnation: () => this.#incarnation,
      client: this.#client,
      due: () => this.#state === "active" && performance.now() - this.#schedule.lastSentAt >= WATCH_INTERVAL_MS,
      seen: (version) => {
        // null: this incarnation was replaced; its next heartbeat registers again.
        if (version === null || version === this.#sync.version || this.#state !== "active") return;
        // A failed read changes nothing: the next watch or heartbeat reads again.
        this.#sync.sync(version).catch(() => undefined);
      },
    });
  }

  /** This process as a member: the ownership protocol's writes and reads are scoped by it. */
  #identity(): { cluster: string; nodeId: string; incarnation: string } {
    return { cluster: this.cluster, nodeId: this.nodeId, incarnation: this.#incarnation };
  }

  #stopped(): boolean {
    return this.#state === "leaving" || this.#state === "left";
  }
}
