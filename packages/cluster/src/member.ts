import { randomBytes } from "node:crypto";
import { EventEmitter, on } from "node:events";
import { hostname } from "node:os";

import {
  assertMigrated,
  checkInteger,
  ClosedError,
  clusterQueries as q,
  InvalidArgumentError,
  openDatabase,
  PartitionState,
  runStatement,
  transaction,
  type ConnectionSource,
  type DatabaseSource,
  type QueryClient,
} from "@helix/db";
import { createLocker, defaultMarginMs, minMarginMs, MAX_TTL_MS, type Lease, type Locker } from "@helix/lock";

import { AlreadyJoinedError, PartitionFencedError } from "./errors";
import { fencePartition } from "./fence";
import { checkMs, checkName, MAX_WEIGHT, metadataJson } from "./validate";

/** Why an ownership ended without a confirmed release. */
export type LossReason =
  /** This member missed heartbeats for (TTL - margin) by its own clock and stopped everything. */
  | "fenced"
  /** The ownership table no longer gives it to this member (reassigned after a forced timeout). */
  | "taken"
  /** The member left. */
  | "left";

/** A partition this member owns, with the ownership's fencing generation and signal. */
export interface OwnedPartition {
  readonly domain: string;
  readonly taskList: string;
  readonly partition: number;
  /** Grows on every change of owner: fence the partition's side effects with it. */
  readonly generation: number;
  /** The incarnation of the process that owns it (this member's when the partition was given). */
  readonly incarnation: string;
  /** Aborts when this ownership ends: release requested, lost, or the member left. */
  readonly signal: AbortSignal;
  /** Whether the ownership still holds, checking the member's heartbeat deadline now. */
  isOwned(): boolean;
  /**
   * Fences a write in the caller's transaction: succeeds only while this process still owns the
   * partition at this generation, and keeps the coordinator from handing it over until the
   * transaction ends (see `fencePartition`).
   * @throws `PartitionFencedError` when it does not (roll back); also when this member already
   *   knows the ownership ended.
   */
  fence(connection: QueryClient): Promise<void>;
}

/** One change of this member's partitions. */
export type PartitionChange =
  | { readonly type: "assigned"; readonly partition: OwnedPartition }
  | { readonly type: "release-requested"; readonly partition: OwnedPartition; readonly targetNodeId: string | null }
  | { readonly type: "released"; readonly partition: OwnedPartition }
  | { readonly type: "lost"; readonly partition: OwnedPartition; readonly reason: LossReason };

/** Events of a {@link Member}, by name, with their arguments. */
export interface MemberEvents {
  /** A partition was given to this member; start its work. */
  "partition:assigned": [partition: OwnedPartition];
  /** The coordinator wants a partition elsewhere: its signal has aborted; stop its work. */
  "partition:release-requested": [partition: OwnedPartition, targetNodeId: string | null];
  /** This member's release of a partition is recorded; the partition may go to its next owner. */
  "partition:released": [partition: OwnedPartition];
  /** An ownership ended without a release: stop its work at once (its signal has aborted). */
  "partition:lost": [partition: OwnedPartition, reason: LossReason];
  /** Every change above, in order. */
  change: [change: PartitionChange];
  /** Heartbeats missed the deadline; every partition was stopped. */
  "member:fenced": [];
  /** After being fenced or declared dead, the member is registered and heartbeating again. */
  "member:rejoined": [info: { incarnation: string; reregistered: boolean }];
  /** A heartbeat could not reach the database (the member keeps trying until its deadline). */
  "member:heartbeat-failed": [error: Error];
  /** A background step failed (an `onRelease` handler threw, a sweep failed, ...). */
  "member:error": [error: Error];
}

/** Options of {@link join}. Every field but `cluster` is optional. */
export interface JoinOptions {
  /** The cluster to join. */
  cluster: string;
  /** This member's id in the cluster. @default "host:pid:random" */
  nodeId?: string;
  /** What others see about this member (a plain JSON object). @default {} */
  metadata?: Record<string, unknown>;
  /**
   * This member's share of partitions relative to others: a member of weight 2 gets twice the
   * partitions of a member of weight 1; 0 takes none (for draining). An integer from 0 to 1000.
   * @default 1
   */
  weight?: number;
  /** Node TTL: the member is dead once the database clock passes last heartbeat + ttl. @default 10000 */
  ttlMs?: number;
  /**
   * Time between heartbeats: at most half of (ttlMs - safetyMarginMs), so that a failed heartbeat
   * is retried before the member must stop. @default a third of ttlMs, or that half if smaller
   */
  heartbeatMs?: number;
  /**
   * How much before (heartbeat send time + ttl) the member stops its partitions: at least 1% of
   * ttlMs (clocks run at slightly different rates). @default 5% of ttl, 10 ms to 1 s
   */
  safetyMarginMs?: number;
  /**
   * Stops a partition's work when it is leaving this member (release requested, or the member
   * leaves). The release is confirmed when it resolves (not when it throws). @default nothing to wait for
   */
  onRelease?: (partition: OwnedPartition) => Promise<void> | void;
  /** `auto` confirms releases after `onRelease`; `manual` waits for {@link Member.confirmRelease}. @default "auto" */
  confirmReleases?: "auto" | "manual";
  /**
   * How often a member tries to become the cluster's sweeper: 0 (never), or 100 ms to 12 hours.
   * @default ttlMs
   */
  sweepIntervalMs?: number;
}

/** `active`, `fenced` (stopped everything, trying to get back), `leaving`, `left`. */
export type MemberState = "active" | "fenced" | "leaving" | "left";

interface Ownership {
  readonly partition: OwnedPartition;
  readonly controller: AbortController;
  releasing: boolean;
  /** The work stopped (onRelease returned) but the confirmation did not reach the database. */
  confirmPending: boolean;
}

const keyOf = (domain: string, taskList: string, partition: number): string => `${domain}\u0000${taskList}\u0000${partition}`;

/**
 * This process's membership of a cluster: heartbeats, the partitions it owns, and their changes.
 * Made by {@link join}; `leave()` (or `await using`) hands everything back at once.
 */
export class Member extends EventEmitter<MemberEvents> implements AsyncDisposable {
  readonly cluster: string;
  readonly nodeId: string;

  readonly #client: ConnectionSource;
  readonly #server: string;
  readonly #close: () => Promise<void>;
  readonly #locker: Locker;
  readonly #metadata: string;
  readonly #weight: number;
  readonly #ttlMs: number;
  readonly #heartbeatMs: number;
  readonly #marginMs: number;
  readonly #sweepIntervalMs: number;
  readonly #onRelease: JoinOptions["onRelease"];
  readonly #autoConfirm: boolean;
  readonly #owned = new Map<string, Ownership>();
  readonly #left = new AbortController();
  #incarnation: string;
  #state: MemberState = "active";
  #deadline = 0;
  #version: number | undefined;
  #syncing: Promise<void> = Promise.resolve();
  #beating: Promise<void> = Promise.resolve();
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #deadlineTimer: NodeJS.Timeout | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;
  #sweepLease: Lease | null = null;

  /** @internal Use {@link join}. */
  constructor(init: {
    client: ConnectionSource;
    server: string;
    close: () => Promise<void>;
    locker: Locker;
    cluster: string;
    nodeId: string;
    incarnation: string;
    metadata: string;
    weight: number;
    ttlMs: number;
    heartbeatMs: number;
    marginMs: number;
    sweepIntervalMs: number;
    onRelease: JoinOptions["onRelease"];
    autoConfirm: boolean;
  }) {
    super();
    this.#client = init.client;
    this.#server = init.server;
    this.#close = init.close;
    this.#locker = init.locker;
    this.cluster = init.cluster;
    this.nodeId = init.nodeId;
    this.#incarnation = init.incarnation;
    this.#metadata = init.metadata;
    this.#weight = init.weight;
    this.#ttlMs = init.ttlMs;
    this.#heartbeatMs = init.heartbeatMs;
    this.#marginMs = init.marginMs;
    this.#sweepIntervalMs = init.sweepIntervalMs;
    this.#onRelease = init.onRelease;
    this.#autoConfirm = init.autoConfirm;
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
    return [...this.#owned.values()].filter((o) => !o.releasing).map((o) => o.partition);
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
    const ownership = this.#owned.get(keyOf(partition.domain, partition.taskList, partition.partition));
    if (ownership === undefined || ownership.partition.generation !== partition.generation || !ownership.releasing) {
      return false;
    }
    return this.#confirm(ownership);
  }

  /**
   * Leaves the cluster at once: stops every partition (running `onRelease`), hands them all back,
   * deregisters, and closes the pool if the member made it. Safe to call more than once.
   */
  async leave(): Promise<void> {
    if (this.#state === "leaving" || this.#state === "left") return;
    this.#state = "leaving";
    this.#stopTimers();
    // A heartbeat in flight may be re-registering; let it finish so it cannot outlive the deregistration.
    await this.#beating;
    const owned = [...this.#owned.values()];
    for (const o of owned) o.controller.abort(new Error("the member is leaving"));
    await Promise.all(owned.map((o) => this.#runOnRelease(o.partition)));
    try {
      await transaction(this.#client, async (conn) => {
        await q.releaseNodePartitions(conn, { cluster: this.cluster, nodeId: this.nodeId, incarnation: this.#incarnation });
        await q.deregisterNode(conn, { cluster: this.cluster, nodeId: this.nodeId, incarnation: this.#incarnation });
        await q.bumpMembershipVersion(conn, { cluster: this.cluster });
        await q.bumpAllocationVersion(conn, { cluster: this.cluster });
      });
    } finally {
      for (const o of owned) this.#end(o, { type: "lost", partition: o.partition, reason: "left" });
      this.#state = "left";
      this.#left.abort();
      await this.#sweepLease?.release().catch(() => undefined);
      await this.#locker.close();
      await this.#close();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.leave();
  }

  /** @internal Registers, reads the partitions and starts the timers; false if the id is taken. */
  async start(): Promise<boolean> {
    if (!(await this.#register())) return false;
    await this.#beat();
    if (this.#sweepIntervalMs > 0) this.#scheduleSweep();
    return true;
  }

  async #register(): Promise<boolean> {
    const sentAt = performance.now();
    const registered = await runStatement(this.#server, () =>
      q.registerNode(this.#client, {
        cluster: this.cluster,
        nodeId: this.nodeId,
        incarnation: this.#incarnation,
        metadata: this.#metadata,
        weight: this.#weight,
        ttlUs: this.#ttlMs * 1000,
      }),
    );
    if (registered === 0) return false;
    this.#extendDeadline(sentAt);
    await runStatement(this.#server, () => q.bumpMembershipVersion(this.#client, { cluster: this.cluster }));
    return true;
  }

  /** One heartbeat, remembered so that `leave()` can wait for it. */
  #beat(): Promise<void> {
    const beat = this.#beatOnce();
    this.#beating = beat;
    return beat;
  }

  /** One heartbeat; reads the partitions when the assignment version moved. */
  async #beatOnce(): Promise<void> {
    if (this.#stopped()) return;
    const sentAt = performance.now();
    try {
      const result = await runStatement(this.#server, () =>
        q.heartbeatNode(this.#client, {
          ttlUs: this.#ttlMs * 1000,
          cluster: this.cluster,
          nodeId: this.nodeId,
          incarnation: this.#incarnation,
        }),
      );
      if (result.affectedRows === 1) {
        if (this.#state === "fenced") {
          // A fenced member owns nothing, so a longer deadline cannot prolong any ownership.
          this.#extendDeadline(sentAt);
          this.#rejoined(false);
        }
        // The deadline moves only once the member knows its partitions as of this heartbeat: a
        // release requested before it is then seen and its work stopped, so that forcing the release
        // at (request + TTL) by the database clock is safe. A failed read leaves the deadline as it was.
        if (result.insertId !== this.#version) await this.#sync(result.insertId);
        this.#extendDeadline(sentAt);
      } else {
        // Declared dead (or deregistered): stop everything, then register as a new incarnation.
        this.#fence();
        this.#incarnation = randomBytes(16).toString("hex");
        if (await this.#register()) {
          if (this.#stopped()) return;
          this.#rejoined(true);
          await this.#sync(undefined);
        } else {
          this.emit("member:error", new AlreadyJoinedError(this.cluster, this.nodeId));
        }
      }
    } catch (error) {
      if (this.#stopped()) return;
      this.emit("member:heartbeat-failed", error as Error);
    } finally {
      this.#scheduleHeartbeat();
    }
  }

  #rejoined(reregistered: boolean): void {
    // A heartbeat or registration that returns after leave() began must not revive the member.
    if (this.#stopped()) return;
    this.#state = "active";
    this.#version = undefined;
    this.emit("member:rejoined", { incarnation: this.#incarnation, reregistered });
  }

  /** Reads this member's rows and turns the differences into events. Serialised. */
  #sync(version: number | undefined): Promise<void> {
    this.#syncing = this.#syncing.then(async () => {
      const rows = await runStatement(this.#server, () =>
        q.listProcessAllocation(this.#client, { cluster: this.cluster, nodeId: this.nodeId, incarnation: this.#incarnation }),
      );
      if (!this.#checkDeadline() || this.#state !== "active") return;
      const seen = new Set<string>();
      for (const row of rows) {
        if (row.state !== PartitionState.Assigned && row.state !== PartitionState.ReleaseRequested) continue;
        const key = keyOf(row.domain, row.taskList, row.partitionId);
        seen.add(key);
        let ownership = this.#owned.get(key);
        if (ownership !== undefined && ownership.partition.generation !== row.generation) {
          this.#end(ownership, { type: "lost", partition: ownership.partition, reason: "taken" });
          ownership = undefined;
        }
        if (ownership === undefined) {
          ownership = this.#own(row.domain, row.taskList, row.partitionId, row.generation);
        }
        if (row.state === PartitionState.ReleaseRequested && !ownership.releasing) {
          this.#beginRelease(ownership, row.targetNodeId);
        } else if (row.state === PartitionState.ReleaseRequested && ownership.confirmPending) {
          // The work stopped but the confirmation was lost (a dropped connection): send it again, or
          // the hand-off would wait for the force timeout.
          void this.#confirm(ownership);
        }
      }
      for (const [key, ownership] of this.#owned) {
        if (!seen.has(key)) this.#end(ownership, { type: "lost", partition: ownership.partition, reason: "taken" });
      }
      this.#version = version;
    });
    const done = this.#syncing;
    this.#syncing = done.catch(() => undefined);
    return done;
  }

  #own(domain: string, taskList: string, partition: number, generation: number): Ownership {
    const controller = new AbortController();
    const checkDeadline = (): boolean => this.#checkDeadline();
    const ref = { cluster: this.cluster, domain, taskList, partition, nodeId: this.nodeId, incarnation: this.#incarnation, generation };
    const owned: OwnedPartition = {
      domain,
      taskList,
      partition,
      generation,
      incarnation: ref.incarnation,
      signal: controller.signal,
      isOwned() {
        checkDeadline();
        return !controller.signal.aborted;
      },
      async fence(connection: QueryClient) {
        if (!owned.isOwned()) throw new PartitionFencedError(ref);
        await fencePartition(connection, ref);
      },
    };
    const ownership: Ownership = { partition: owned, controller, releasing: false, confirmPending: false };
    this.#owned.set(keyOf(domain, taskList, partition), ownership);
    this.#emitChange({ type: "assigned", partition: owned });
    return ownership;
  }

  #beginRelease(ownership: Ownership, targetNodeId: string | null): void {
    ownership.releasing = true;
    ownership.controller.abort(new Error("release requested"));
    this.#emitChange({ type: "release-requested", partition: ownership.partition, targetNodeId });
    if (!this.#autoConfirm) return;
    void this.#runOnRelease(ownership.partition).then((ok) => (ok ? this.#confirm(ownership) : false));
  }

  async #runOnRelease(partition: OwnedPartition): Promise<boolean> {
    try {
      await this.#onRelease?.(partition);
      return true;
    } catch (error) {
      this.emit("member:error", error instanceof Error ? error : new Error(String(error)));
      return false;
    }
  }

  async #confirm(ownership: Ownership): Promise<boolean> {
    const p = ownership.partition;
    ownership.confirmPending = false;
    try {
      const confirmed = await transaction(this.#client, async (conn) => {
        const changed = await q.confirmPartitionRelease(conn, {
          cluster: this.cluster,
          domain: p.domain,
          taskList: p.taskList,
          partitionId: p.partition,
          nodeId: this.nodeId,
          incarnation: p.incarnation,
          generation: p.generation,
        });
        if (changed === 1) await q.bumpAllocationVersion(conn, { cluster: this.cluster });
        return changed === 1;
      });
      if (this.#owned.get(keyOf(p.domain, p.taskList, p.partition)) === ownership) {
        this.#end(ownership, confirmed ? { type: "released", partition: p } : { type: "lost", partition: p, reason: "taken" });
      }
      return confirmed;
    } catch (error) {
      // Not confirmed: the work is stopped already; the next heartbeat reads the partitions again
      // and sends the confirmation again.
      ownership.confirmPending = true;
      this.#version = undefined;
      this.emit("member:error", error as Error);
      return false;
    }
  }

  #end(ownership: Ownership, change: PartitionChange): void {
    const p = ownership.partition;
    const key = keyOf(p.domain, p.taskList, p.partition);
    if (this.#owned.get(key) !== ownership) return;
    this.#owned.delete(key);
    ownership.controller.abort(new Error(change.type === "lost" ? `partition lost (${change.reason})` : "partition released"));
    this.#emitChange(change);
  }

  #emitChange(change: PartitionChange): void {
    switch (change.type) {
      case "assigned":
        this.emit("partition:assigned", change.partition);
        break;
      case "release-requested":
        this.emit("partition:release-requested", change.partition, change.targetNodeId);
        break;
      case "released":
        this.emit("partition:released", change.partition);
        break;
      case "lost":
        this.emit("partition:lost", change.partition, change.reason);
        break;
    }
    this.emit("change", change);
  }

  /** Self-fencing: stop every partition before anyone else can be given them. */
  #fence(): void {
    if (this.#state !== "active") return;
    this.#state = "fenced";
    this.#version = undefined;
    for (const o of [...this.#owned.values()]) this.#end(o, { type: "lost", partition: o.partition, reason: "fenced" });
    this.emit("member:fenced");
  }

  /** Whether the heartbeat deadline is still ahead; fences synchronously when it passed. */
  #checkDeadline(): boolean {
    if (this.#state === "active" && performance.now() >= this.#deadline) this.#fence();
    return this.#state === "active";
  }

  #extendDeadline(sentAt: number): void {
    this.#deadline = sentAt + this.#ttlMs - this.#marginMs;
    this.#armDeadline();
  }

  #armDeadline(): void {
    clearTimeout(this.#deadlineTimer);
    // Timers measure from the event loop's cached time and may fire a little before
    // performance.now() reaches the deadline; then the check finds time left and re-arms.
    this.#deadlineTimer = setTimeout(() => {
      if (this.#checkDeadline()) this.#armDeadline();
    }, Math.max(1, Math.ceil(this.#deadline - performance.now())));
    this.#deadlineTimer.unref();
  }

  #scheduleHeartbeat(): void {
    if (this.#stopped()) return;
    clearTimeout(this.#heartbeatTimer);
    this.#heartbeatTimer = setTimeout(() => void this.#beat(), this.#heartbeatMs);
  }

  #scheduleSweep(): void {
    const jitter = 0.75 + Math.random() * 0.5;
    this.#sweepTimer = setTimeout(() => void this.#sweep().finally(() => this.#scheduleSweep()), this.#sweepIntervalMs * jitter);
    this.#sweepTimer.unref();
  }

  /** One member at a time (the holder of the cluster's sweep lease) marks expired members inactive. */
  async #sweep(): Promise<void> {
    if (this.#stopped()) return;
    try {
      if (this.#sweepLease?.isHeld() === true) {
        await this.#sweepLease.renew();
      } else {
        this.#sweepLease = await this.#locker.tryAcquire(`helix/${this.cluster}/sweep`, { ttlMs: sweepLeaseTtlMs(this.#sweepIntervalMs) });
      }
      if (this.#sweepLease === null) return;
      const marked = await q.markExpiredNodesInactive(this.#client, { cluster: this.cluster });
      if (marked > 0) await q.bumpMembershipVersion(this.#client, { cluster: this.cluster });
    } catch (error) {
      this.#sweepLease = null;
      this.emit("member:error", error as Error);
    }
  }

  #stopped(): boolean {
    return this.#state === "leaving" || this.#state === "left";
  }

  #stopTimers(): void {
    clearTimeout(this.#heartbeatTimer);
    clearTimeout(this.#deadlineTimer);
    clearTimeout(this.#sweepTimer);
  }
}

const MIN_SWEEP_INTERVAL_MS = 100;

/** The sweep lease outlives two sweep intervals, so that its holder keeps it between sweeps. */
const sweepLeaseTtlMs = (sweepIntervalMs: number): number => sweepIntervalMs * 2;

/**
 * Joins a cluster: registers this process as a member (checking the database and its schema),
 * reads its partitions, and starts heartbeating.
 * @throws `InvalidArgumentError` for bad options, before anything is written.
 * @throws {@link AlreadyJoinedError} when a live member with this node id exists.
 */
export async function join(source: DatabaseSource, options: JoinOptions): Promise<Member> {
  if (typeof options !== "object" || options === null) throw new InvalidArgumentError("options", "must be an object");
  const cluster = checkName("cluster", options.cluster);
  const nodeId = checkName("nodeId", options.nodeId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`);
  const metadata = metadataJson(options.metadata);
  const weight = checkInteger("weight", options.weight ?? 1, 0, MAX_WEIGHT);
  const ttlMs = checkMs("ttlMs", options.ttlMs ?? 10_000, 100, 3_600_000);
  const marginMs = checkMs("safetyMarginMs", options.safetyMarginMs ?? defaultMarginMs(ttlMs), minMarginMs(ttlMs), Math.floor(ttlMs / 2));
  const maxHeartbeatMs = Math.floor((ttlMs - marginMs) / 2);
  const heartbeatMs = checkMs("heartbeatMs", options.heartbeatMs ?? Math.min(Math.floor(ttlMs / 3), maxHeartbeatMs), 1, maxHeartbeatMs);
  const sweepIntervalMs = checkMs("sweepIntervalMs", options.sweepIntervalMs ?? ttlMs, 0, MAX_TTL_MS / 2);
  if (sweepIntervalMs > 0 && sweepIntervalMs < MIN_SWEEP_INTERVAL_MS) {
    throw new InvalidArgumentError("sweepIntervalMs", `must be 0 (never sweep) or at least ${MIN_SWEEP_INTERVAL_MS} ms`);
  }
  if (options.onRelease !== undefined && typeof options.onRelease !== "function") {
    throw new InvalidArgumentError("onRelease", "must be a function");
  }
  const confirmReleases = options.confirmReleases ?? "auto";
  if (confirmReleases !== "auto" && confirmReleases !== "manual") {
    throw new InvalidArgumentError("confirmReleases", 'must be "auto" or "manual"');
  }

  const opened = await openDatabase(source);
  let locker: Locker | undefined;
  try {
    await assertMigrated(opened.client, opened.server);
    locker = await createLocker(opened.client, { owner: `${cluster}/${nodeId}` });
    const member = new Member({
      client: opened.client,
      server: opened.server,
      close: () => opened.close(),
      locker,
      cluster,
      nodeId,
      incarnation: randomBytes(16).toString("hex"),
      metadata,
      weight,
      ttlMs,
      heartbeatMs,
      marginMs,
      sweepIntervalMs,
      onRelease: options.onRelease,
      autoConfirm: confirmReleases === "auto",
    });
    if (!(await member.start())) throw new AlreadyJoinedError(cluster, nodeId);
    return member;
  } catch (error) {
    await locker?.close().catch(() => undefined);
    await opened.close().catch(() => undefined);
    throw error;
  }
}
