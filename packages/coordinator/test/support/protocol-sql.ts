// The protocol model's actions as the real statements (see protocol-sql.test.ts). Every database
// action of protocol-actions.ts becomes the generated queries the library sends for it, on one
// connection whose session clock is pinned to the model's clock T; the database's rows and the
// fences' answers are then read back in the model's terms and compared with the model's state.
import {
  clusterQueries as q,
  coordinatorQueries as cq,
  leaseFenceQuery,
  lockQueries as lq,
  partitionFenceQuery,
  serverEngine,
  type Engine,
} from "@helix/db/internal";
import type { PoolConnection } from "mysql2/promise";

import type { Protocol } from "./protocol";
import { leaseHolds, type Call } from "./protocol-calls";
import { ASSIGNED, holds, live, NONE, RELEASE_REQUESTED, type NodeRow, type PartitionRow, type State } from "./protocol-state";

/** What the statements answered: rows written (or the epoch granted), and for a sync the beliefs read. */
export interface Answer {
  written: number;
  owns?: number[];
  releasing?: number[];
}

/** The tables the model's state describes. */
export type Table = "members" | "partitions" | "lease";

/** The tables a call's statements write (all single-table statements): the others need no reading after it. */
export const WRITES: Record<Call["op"], readonly Table[]> = {
  tick: [],
  sync: [],
  register: ["members"],
  heartbeat: ["members"],
  sweep: ["members"],
  leave: ["members", "partitions"],
  "leave-returning": ["members", "partitions"],
  confirm: ["partitions"],
  request: ["partitions"],
  assign: ["partitions"],
  acquire: ["lease"],
  renew: ["lease"],
};

type Diff = (what: string, db: unknown, expected: unknown) => void;

/** The session clock at T = 0, in seconds since 1970: a fraction shows any rounding of it. */
const EPOCH_SECONDS = 1_900_000_000;
const FRACTION = ".123";
const SECOND_US = 1_000_000;
/** How long a member leaving with a promise says it will be away; the model has no expiry for it. */
const RETURN_WITHIN_US = 3600 * SECOND_US;

/** The database side of one run: a cluster of its own, one task list, one lease key, on a connection with a pinned clock. */
export class SqlWorld {
  readonly cluster: string;
  readonly list: { cluster: string; domain: string; taskList: string };
  readonly lockKey: string;
  #t = NONE;
  #checked = { partitions: "", lease: "" };
  #open = false;

  private constructor(
    readonly conn: PoolConnection,
    readonly engine: Engine,
    readonly model: Protocol,
    name: string,
  ) {
    this.cluster = name;
    this.list = { cluster: name, domain: "d", taskList: "t" };
    this.lockKey = `${name}/coordinator`;
  }

  /** A fresh cluster with the model's partitions, all unassigned at generation 0, and the clock at T = 0. */
  static async create(conn: PoolConnection, model: Protocol, name: string): Promise<SqlWorld> {
    const world = new SqlWorld(conn, await serverEngine(conn), model, name);
    await world.setClock(0);
    await q.putTaskList(conn, { ...world.list, partitions: model.cfg.partitions, metadata: "{}" });
    await q.insertPartitions(conn, { ...world.list, partitions: model.cfg.partitions });
    return world;
  }

  /** Moves the session's clock (UTC_TIMESTAMP(6)) to model time t: one tick is one second. */
  async setClock(t: number): Promise<void> {
    if (t === this.#t) return;
    await this.conn.query({ sql: "SET timestamp = ?", values: [Number(`${EPOCH_SECONDS + t}${FRACTION}`)] });
    this.#t = t;
  }

  #nodeId = (node: number): string => this.model.nodeIds[node]!;
  #incarnation = (inc: number): string => `i${inc}`;
  #token = (coord: number, epoch: number): string => `${this.cluster}/C${coord + 1}@${epoch}`;
  #us = (ticks: number): number => ticks * SECOND_US;

  /** Runs a call's statements as the library sends them. `s` is the model's state before it (the lease epoch a new grant gets). */
  async run(call: Call, s: State): Promise<Answer> {
    const { conn, list, cluster, model } = this;
    const { nodeTtl, leaseTtl, forceAfter } = model.cfg;
    if (call.op === "tick") {
      await this.setClock(s.t + 1);
      return { written: 0 };
    }
    if ("proc" in call) {
      const nodeId = this.#nodeId(model.procNode[call.proc]!);
      const member = { cluster, nodeId, incarnation: this.#incarnation(call.inc) };
      switch (call.op) {
        case "register":
          return { written: await q.registerMember(conn, { ...member, metadata: "{}", weight: 1, ttlUs: this.#us(nodeTtl) }) };
        case "heartbeat":
          return { written: (await q.heartbeatMember(conn, { ...member, ttlUs: this.#us(nodeTtl) })).affectedRows };
        case "sync":
          return this.#sync(member);
        case "confirm":
          // The library confirms only rows it locked at the generation it was asked about (the
          // statement has no generation condition); owner, incarnation and state are left to the
          // statement here, so that its own conditions are what is tested.
          return this.#transaction(async () => {
            const [row] = await q.lockPartitions(conn, { ...list, partitionIds: [call.part] });
            if (row?.generation !== call.gen) return 0;
            return q.confirmPartitionsRelease(conn, { ...list, nodeId, incarnation: member.incarnation, partitionIds: [call.part] });
          });
        case "leave":
        case "leave-returning": {
          const returning = call.op === "leave-returning";
          return this.#transaction(async () => {
            const freed = returning ? await q.reserveMemberPartitions(conn, member) : await q.releaseMemberPartitions(conn, member);
            const left = await q.deregisterMember(conn, { ...member, returnWithinUs: returning ? RETURN_WITHIN_US : 0 });
            return freed + left;
          });
        }
      }
    }
    const token = this.#token(call.coord, call.epoch);
    switch (call.op) {
      case "acquire": {
        const owner = `C${call.coord + 1}`;
        const { insertId } = await lq.acquireLock(conn, {
          lockKey: this.lockKey,
          owner,
          token: this.#token(call.coord, s.lease.epoch + 1),
          ttlUs: this.#us(leaseTtl),
        });
        return { written: insertId };
      }
      case "renew":
        return { written: await lq.renewLock(conn, { lockKey: this.lockKey, token, ttlUs: this.#us(leaseTtl) }) };
      case "sweep":
        return this.#fenced(call.epoch, () => q.markExpiredMembersInactive(conn, { cluster }));
      case "request":
        return this.#fenced(call.epoch, async () => {
          // As applyOwnershipChanges: the owner's member row is locked first, for the version the
          // request is stamped with, then the partition's row. (The library asks only owners it
          // finds live; the model, like the statement, lets any assigned row be asked.)
          const seen = await q.getPartition(conn, { ...list, partitionId: call.part });
          const [owner] = seen?.nodeId ? await cq.lockMembers(conn, { cluster, nodeIds: [seen.nodeId] }) : [];
          await q.lockPartitions(conn, { ...list, partitionIds: [call.part] });
          const ownerVersion = (owner?.assignmentVersion ?? 0) + 1;
          return q.requestPartitionsRelease(conn, { ...list, targetNodeId: null, ownerVersion, partitionIds: [call.part] });
        });
      case "assign":
        return this.#fenced(call.epoch, async () => {
          // As applyOwnershipChanges: the new owner's incarnation is the live one read under its row
          // lock (no statement for a member that is not live), at the generation the plan read.
          const seen = await q.getPartition(conn, { ...list, partitionId: call.part });
          const [target] = await cq.lockMembers(conn, { cluster, nodeIds: [this.#nodeId(call.node)] });
          if (target?.live !== 1 || seen === null) return 0;
          return q.assignPartitions(conn, {
            ...list,
            nodeId: target.nodeId,
            incarnation: target.incarnation,
            ownerVersion: target.assignmentVersion + 1,
            partitionIds: [call.part],
            generation: seen.generation,
            forceAfterUs: this.#us(forceAfter),
          });
        });
    }
  }

  /** A member's read of its partitions (ListProcessOwnership), as the beliefs it leads to. */
  async #sync(member: { cluster: string; nodeId: string; incarnation: string }): Promise<Answer> {
    const owns = Array.from({ length: this.model.cfg.partitions }, () => NONE);
    const releasing = owns.slice();
    for (const row of await q.listProcessOwnership(this.conn, member)) {
      if (row.state === ASSIGNED) owns[row.partitionId] = row.generation;
      if (row.state === RELEASE_REQUESTED) releasing[row.partitionId] = row.generation;
    }
    return { written: 0, owns, releasing };
  }

  /**
   * Runs a call's statements in a transaction that is then rolled back, and reads `tables` inside
   * it: what the call does in s, compared with `expected`, leaving nothing behind.
   */
  async tryOut(call: Call, s: State, expected: State, tables: readonly Table[]): Promise<{ answer: Answer; differences: string[] }> {
    await this.conn.beginTransaction();
    this.#open = true;
    try {
      const answer = await this.run(call, s);
      // A call the model takes is checked as a step is, its fences' answers included.
      const fences = expected === s ? [] : await this.fenceDifferences(expected, false);
      return { answer, differences: [...(await this.differences(expected, tables)), ...fences] };
    } finally {
      this.#open = false;
      await this.conn.rollback();
    }
  }

  async #transaction(body: () => Promise<number>): Promise<Answer> {
    if (this.#open) return { written: await body() }; // inside tryOut's transaction
    await this.conn.beginTransaction();
    try {
      const written = await body();
      await this.conn.commit();
      return { written };
    } catch (error) {
      await this.conn.rollback();
      throw error;
    }
  }

  /** A coordinator's write transaction: the lease fence at the epoch it was elected with, then the write; nothing when the fence fails. */
  #fenced(epoch: number, write: () => Promise<number>): Promise<Answer> {
    return this.#transaction(async () => {
      const held = await leaseFenceQuery(this.engine)(this.conn, { lockKey: this.lockKey, epoch });
      return held === null ? 0 : write();
    });
  }

  /** The differences between the database's rows of `tables` and the model's state s, one line each (none: equal). */
  async differences(s: State, tables: readonly Table[]): Promise<string[]> {
    const out: string[] = [];
    const diff = (what: string, db: unknown, expected: unknown): void => {
      if (JSON.stringify(db) !== JSON.stringify(expected))
        out.push(`${what}: database ${JSON.stringify(db)}, model ${JSON.stringify(expected)}`);
    };
    if (tables.includes("members")) await this.#members(s, diff);
    if (tables.includes("partitions")) await this.#partitions(s, diff);
    if (tables.includes("lease")) await this.#lease(s, diff);
    return out;
  }

  async #members(s: State, diff: Diff): Promise<void> {
    const nowMs = (EPOCH_SECONDS + s.t) * 1000 + Number(FRACTION) * 1000;
    const members = await q.listMembers(this.conn, { cluster: this.cluster });
    this.model.nodeIds.forEach((nodeId, node) => {
      const row = members.find((m) => m.nodeId === nodeId);
      const expected: NodeRow = s.nodes[node]!;
      // A row's expiry is the model's only while it is active: a leave sets expires_at to its own
      // time, where the model keeps the last one (no guard reads the expiry of an inactive row).
      const view = (inc: string, status: number, isLive: boolean, expiresInMs: number): unknown => ({
        inc,
        status,
        live: isLive,
        expiresInMs: status === 1 ? expiresInMs : "-",
      });
      diff(
        `member ${nodeId}`,
        row ? view(row.incarnation, row.status, row.live === 1, row.expiresAt.getTime() - nowMs) : null,
        expected.inc === 0 ? null : view(this.#incarnation(expected.inc), expected.status, live(s, node), (expected.expires - s.t) * 1000),
      );
    });
    diff("members", members.length, s.nodes.filter((r) => r.inc !== 0).length);
  }

  async #partitions(s: State, diff: Diff): Promise<void> {
    const { list } = this;
    const rows = await cq.listPlanningOwnership(this.conn, { cluster: this.cluster });
    const parts = rows.filter((r) => r.domain === list.domain && r.taskList === list.taskList);
    diff("partitions", parts.length, s.parts.length);
    s.parts.forEach((expected: PartitionRow, k) => {
      const row = parts.find((r) => r.partitionId === k);
      // How long ago the release was asked for matters only while it is pending (state 2).
      const view = (owner: string | null, inc: string | null, state: number, gen: number, askedUs: number): unknown => ({
        owner,
        inc,
        state,
        gen,
        askedAgoUs: state === RELEASE_REQUESTED ? askedUs : "-",
      });
      diff(
        `p${k}`,
        row ? view(row.nodeId, row.incarnation, row.state, row.generation, row.releaseAgeUs) : null,
        view(
          expected.owner === NONE ? null : this.#nodeId(expected.owner),
          expected.inc === NONE ? null : this.#incarnation(expected.inc),
          expected.state,
          expected.gen,
          this.#us(s.t - expected.reqAt),
        ),
      );
    });
  }

  async #lease(s: State, diff: Diff): Promise<void> {
    const lease = await lq.getLock(this.conn, { lockKey: this.lockKey });
    diff(
      "lease",
      lease ? { epoch: lease.epoch, holder: lease.owner, held: lease.held === 1, remainingUs: lease.remainingUs } : null,
      s.lease.epoch === 0
        ? null
        : {
            epoch: s.lease.epoch,
            holder: `C${s.lease.holder + 1}`,
            held: s.lease.expires > s.t,
            remainingUs: this.#us(s.lease.expires - s.t),
          },
    );
  }

  /**
   * The fences' answers in s against the model's: the partition fence of every process that ever
   * registered, for every partition at its row's generation (and the one before), passes only
   * for the row's own process at the row's generation while the model says the row holds
   * (`holds`); the lease fence of every coordinator passes only at the lease's epoch before it
   * expires, the condition the model lets a coordinator write under.
   */
  async fenceDifferences(s: State, remember = true): Promise<string[]> {
    const { conn, list, model } = this;
    const out: string[] = [];
    // A fence's answer depends only on the rows it reads and the clock: after a step that changed
    // neither (for it), the answers are the ones just checked. A state about to be rolled back
    // (`remember` false) is checked whole and not remembered.
    const partitionInputs = JSON.stringify([s.parts, s.procs.map((p) => p.inc)]);
    const leaseInputs = JSON.stringify([s.t, s.lease, s.coords]);
    const checkPartitions = !remember || partitionInputs !== this.#checked.partitions;
    const checkLease = !remember || leaseInputs !== this.#checked.lease;
    if (remember) this.#checked = { partitions: partitionInputs, lease: leaseInputs };
    for (const [proc, p] of checkPartitions ? s.procs.entries() : []) {
      if (p.inc === 0) continue;
      const node = model.procNode[proc]!;
      for (const [k, row] of s.parts.entries()) {
        // The generation before the row's only for the row's own process: for any other the
        // owner or incarnation alone decides.
        const mine = row.owner === node && row.inc === p.inc;
        for (const gen of mine && row.gen > 0 ? [row.gen, row.gen - 1] : [row.gen]) {
          const args = { ...list, partitionId: k, nodeId: this.#nodeId(node), incarnation: this.#incarnation(p.inc), generation: gen };
          const passed = (await partitionFenceQuery(this.engine)(conn, args)) !== null;
          const expected = holds(row) && row.owner === node && row.inc === p.inc && row.gen === gen;
          if (passed !== expected)
            out.push(`partition fence of ${model.procName[proc]} (inc ${p.inc}) on p${k}@${gen}: database ${passed}, model ${expected}`);
        }
      }
    }
    for (const [coord, epoch] of checkLease ? s.coords.entries() : []) {
      if (epoch === 0) continue;
      const passed = (await leaseFenceQuery(this.engine)(conn, { lockKey: this.lockKey, epoch })) !== null;
      const expected = leaseHolds(s, epoch);
      if (passed !== expected) out.push(`lease fence of C${coord + 1} at epoch ${epoch}: database ${passed}, model ${expected}`);
    }
    return out;
  }
}
