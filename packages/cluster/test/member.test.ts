import { setTimeout as sleep } from "node:timers/promises";

import { createPool as createMysqlPool, type RowDataPacket } from "mysql2/promise";

import {
  AlreadyJoinedError,
  createCatalog,
  fencePartition,
  PartitionFencedError,
  createOwnershipStore,
  createRoutingTable,
  InvalidArgumentError,
  join,
  MAX_PARTITIONS,
  WATCH_INTERVAL_MS,
  PartitionState,
  UnknownTaskListError,
  type Catalog,
  type Member,
  type OwnedPartition,
  type OwnershipStore,
  type PartitionChange,
} from "../src";
import { ownershipProtocol } from "../src/internal";
import { transaction } from "@helix/db";

import { FaultyPool, migratedDatabase, until, type Fixture } from "./helpers";

let fx: Fixture;
let clusterNo = 0;
let cluster: string;
let catalog: Catalog;
let store: OwnershipStore;
const members: Member[] = [];

async function member(options: Partial<Parameters<typeof join>[1]> = {}, source: Parameters<typeof join>[0] = fx.pool): Promise<Member> {
  const m = await join(source, { cluster, ttlMs: 3000, heartbeatMs: 100, sweepIntervalMs: 0, ...options });
  members.push(m);
  return m;
}

/** The statements a member reads its partitions with: all of them, or those changed since it last read. */
const PARTITION_READS = ["ListProcessOwnership", "ListProcessOwnershipChanges"];

/** How many times a member read its partitions through `pool`. */
const partitionReads = (pool: FaultyPool): number => PARTITION_READS.reduce((sum, name) => sum + pool.count(name), 0);

async function assignAll(domain: string, taskList: string, nodeId: string): Promise<void> {
  for (const p of await store.taskListPartitions(domain, taskList)) {
    expect(await store.assign({ domain, taskList, partition: p.partition, generation: p.generation }, nodeId)).toBe(p.generation + 1);
  }
}

beforeAll(async () => {
  fx = await migratedDatabase();
});

beforeEach(async () => {
  cluster = `c${++clusterNo}`;
  catalog = await createCatalog(fx.pool, { cluster });
  store = await createOwnershipStore(fx.pool, { cluster });
});

afterEach(async () => {
  await Promise.all(members.splice(0).map((m) => m.leave()));
});

afterAll(async () => {
  await fx.close();
});

describe("bad input", () => {
  test("is rejected with the argument's name before anything is written", async () => {
    const cases: [() => Promise<unknown>, string][] = [
      [() => join(fx.pool, { cluster: "" }), "cluster"],
      [() => join(fx.pool, { cluster: "x".repeat(129) }), "cluster"],
      [() => join(fx.pool, { cluster, nodeId: " n" }), "nodeId"],
      [() => join(fx.pool, { cluster, ttlMs: 0 }), "ttlMs"],
      [() => join(fx.pool, { cluster, ttlMs: 1000, heartbeatMs: 1000 }), "heartbeatMs"],
      // A heartbeat next to the TTL leaves no time to retry a failed one: the member would fence itself.
      [() => join(fx.pool, { cluster, ttlMs: 1000, heartbeatMs: 900 }), "heartbeatMs"],
      [() => join(fx.pool, { cluster, ttlMs: 1000, heartbeatMs: 480 }), "heartbeatMs"],
      [() => join(fx.pool, { cluster, safetyMarginMs: 0 }), "safetyMarginMs"],
      [() => join(fx.pool, { cluster, ttlMs: 10_000, safetyMarginMs: 99 }), "safetyMarginMs"],
      [() => join(fx.pool, { cluster, sweepIntervalMs: 50 }), "sweepIntervalMs"],
      [() => join(fx.pool, { cluster, sweepIntervalMs: 86_400_000 }), "sweepIntervalMs"],
      [() => join(fx.pool, { cluster, memberRetentionMs: 1000 }), "memberRetentionMs"],
      [() => join(fx.pool, { cluster, metadata: [] as unknown as Record<string, unknown> }), "metadata"],
      [() => join(fx.pool, { cluster, confirmReleases: "sometimes" as "auto" }), "confirmReleases"],
      [() => join(fx.pool, { cluster, weight: -1 }), "weight"],
      [() => join(fx.pool, { cluster, weight: 1001 }), "weight"],
      [() => join(fx.pool, { cluster, weight: 0.5 }), "weight"],
      [() => catalog.putTaskList({ domain: "d", taskList: "t", partitions: 0 }), "partitions"],
      [() => catalog.putTaskList({ domain: "d", taskList: "t", partitions: MAX_PARTITIONS + 1 }), "partitions"],
      [() => catalog.putTaskList({ domain: "d", taskList: "t", partitions: 1.5 }), "partitions"],
      [() => catalog.putTaskList({ domain: "d", taskList: "t", partitions: "3" as unknown as number }), "partitions"],
      [() => catalog.putTaskList({ domain: "", taskList: "t", partitions: 3 }), "domain"],
      [() => catalog.putTaskList({ domain: "d", taskList: "t\n", partitions: 3 }), "taskList"],
      [() => store.assign({ domain: "d", taskList: "t", partition: -1, generation: 0 }, "n"), "partition"],
      [() => createCatalog(fx.pool, { cluster: "" }), "cluster"],
    ];
    for (const [call, argument] of cases) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error).toMatchObject({ argument });
    }
    const [rows] = await fx.pool.query<RowDataPacket[]>(
      "SELECT (SELECT COUNT(*) FROM helix_nodes WHERE cluster = ?) + (SELECT COUNT(*) FROM helix_cluster WHERE cluster = ?) AS n",
      [cluster, cluster],
    );
    expect(Number(rows[0]!.n)).toBe(0);
  });

  test("joining twice with one node id, and removing an unknown task list, are typed errors", async () => {
    await member({ nodeId: "twice" });
    await expect(join(fx.pool, { cluster, nodeId: "twice" })).rejects.toBeInstanceOf(AlreadyJoinedError);
    await expect(catalog.removeTaskList("d", "missing")).rejects.toBeInstanceOf(UnknownTaskListError);
  });

  test("a join whose registration reply was lost finds its own registration", async () => {
    const faulty = new FaultyPool(fx.pool);
    // The registration is the first transaction a join commits: it commits, but the reply is lost.
    faulty.loseReplyOnce.add("COMMIT");
    const m = await member({ nodeId: "lost-reply" }, faulty);
    expect(faulty.loseReplyOnce.size).toBe(0);
    expect(faulty.count("RegisterMember")).toBe(2);
    expect(m.state).toBe("active");
    const [rows] = await fx.pool.query<RowDataPacket[]>("SELECT incarnation FROM helix_nodes WHERE cluster = ? AND node_id = ?", [
      cluster,
      "lost-reply",
    ]);
    expect(rows.map((r) => String(r.incarnation))).toEqual([m.incarnation]);
    // Another process with the node id is still refused while the member lives.
    await expect(join(fx.pool, { cluster, nodeId: "lost-reply" })).rejects.toBeInstanceOf(AlreadyJoinedError);
  });

  test("a caller's plain mysql2 pool (FOUND_ROWS on) cannot register one node id twice", async () => {
    const plain = createMysqlPool(fx.db.url);
    try {
      await member({ nodeId: "plain" }, plain);
      await expect(join(plain, { cluster, nodeId: "plain" })).rejects.toBeInstanceOf(AlreadyJoinedError);
      const plainCatalog = await createCatalog(plain, { cluster });
      expect(await plainCatalog.putTaskList({ domain: "d", taskList: "p", partitions: 2 })).toBe("created");
      expect(await plainCatalog.putTaskList({ domain: "d", taskList: "p", partitions: 2 })).toBe("unchanged");
      await members.pop()!.leave();
    } finally {
      await plain.end();
    }
  });
});

describe("catalog", () => {
  test("creates, grows, shrinks and removes task lists, releasing what disappears", async () => {
    expect(await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 4, metadata: { team: "a" } })).toBe("created");
    expect(await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 4, metadata: { team: "a" } })).toBe("unchanged");
    expect((await store.taskListPartitions("d", "t")).map((p) => p.partition)).toEqual([0, 1, 2, 3]);
    expect(await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 6, metadata: { team: "a" } })).toBe("changed");
    expect((await store.taskListPartitions("d", "t")).map((p) => p.state)).toEqual(Array(6).fill(PartitionState.Unassigned));
    expect(await catalog.getTaskList("d", "t")).toMatchObject({ partitions: 6, metadata: { team: "a" }, version: 2 });

    const worker = await member({ nodeId: "w" });
    await assignAll("d", "t", "w");
    await until(() => worker.partitions().length === 6);

    // Shrink to 3: partitions 3..5 are owned, so their owner is asked to release them first.
    const released: number[] = [];
    worker.on("partition:released", (p) => released.push(p.partition));
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 3, metadata: { team: "a" } });
    await until(() => released.length === 3);
    expect(released.sort()).toEqual([3, 4, 5]);
    expect(
      worker
        .partitions()
        .map((p) => p.partition)
        .sort(),
    ).toEqual([0, 1, 2]);
    await store.prune();
    expect((await store.taskListPartitions("d", "t")).map((p) => p.partition)).toEqual([0, 1, 2]);
    // Grown again, partitions 3..5 start at the highest generation they had, so their next owner
    // gets a larger one: fencing by generation never goes back.
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 6, metadata: { team: "a" } });
    expect((await store.taskListPartitions("d", "t")).map((p) => p.generation)).toEqual([1, 1, 1, 1, 1, 1]);
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 3, metadata: { team: "a" } });
    await store.prune();

    await catalog.removeTaskList("d", "t");
    expect(await catalog.getTaskList("d", "t")).toMatchObject({ status: 2 });
    await until(() => worker.partitions().length === 0);
    await until(async () => (await store.prune()) === 1);
    expect(await catalog.getTaskList("d", "t")).toBeNull();
    expect(await catalog.listTaskLists()).toEqual([]);
    await expect(catalog.removeTaskList("d", "t")).rejects.toBeInstanceOf(UnknownTaskListError);
    // Put again after the removal: the partitions still start at their highest old generation.
    expect(await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 2 })).toBe("changed");
    expect((await store.taskListPartitions("d", "t")).map((p) => p.generation)).toEqual([1, 1]);
  });

  test("a clean-up goes by the task list as it is when it runs, not as its caller last read it", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 4 });
    // Partition 0 is owned and never released: the removal leaves the task list being removed.
    const worker = await member({ nodeId: "w", confirmReleases: "manual" });
    expect(await store.assign({ domain: "d", taskList: "t", partition: 0, generation: 0 }, "w")).toBe(1);
    await until(() => worker.partitions().length === 1);
    await catalog.removeTaskList("d", "t");
    expect((await store.taskListPartitions("d", "t")).map((p) => p.partition)).toEqual([0]);
    // Put again between the clean-up's read of the catalog (the task list being removed) and its writes.
    const racing = new FaultyPool(fx.pool);
    racing.beforeReply.set("ListTaskLists", async () => {
      racing.beforeReply.delete("ListTaskLists");
      expect(await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 4 })).toBe("changed");
    });
    const stale = await createOwnershipStore(racing, { cluster });
    await stale.prune();
    await stale.close();
    expect((await store.taskListPartitions("d", "t")).map((p) => p.partition)).toEqual([0, 1, 2, 3]);
  });
});

describe("members", () => {
  test("learn their assignments with generations; a quiet heartbeat reads nothing else", async () => {
    const watched = new FaultyPool(fx.pool);
    const worker = await member({ nodeId: "w" }, watched);
    const assigned: OwnedPartition[] = [];
    worker.on("partition:assigned", (p) => assigned.push(p));
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 3 });
    await assignAll("d", "t", "w");
    await until(() => assigned.length === 3);
    expect(assigned.map((p) => [p.partition, p.generation]).sort()).toEqual([
      [0, 1],
      [1, 1],
      [2, 1],
    ]);
    expect(assigned.every((p) => p.isOwned() && !p.signal.aborted)).toBe(true);

    // A read already under way when the last assignment arrived (the watch's or a heartbeat's) ends
    // first; from then on, heartbeats read nothing.
    const settling = watched.count("HeartbeatMember");
    await until(() => watched.count("HeartbeatMember") >= settling + 2);
    const reads = partitionReads(watched);
    const beats = watched.count("HeartbeatMember");
    await until(() => watched.count("HeartbeatMember") >= beats + 5);
    expect(partitionReads(watched)).toBe(reads);
  });

  test("between heartbeats, a watch of one point read brings a release request and its confirmation within a poll", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 2 });
    const watched = new FaultyPool(fx.pool);
    // Heartbeats every 5 s: anything sooner came through the watch.
    const a = await member({ nodeId: "a", ttlMs: 15_000, heartbeatMs: 5000 }, watched);
    await assignAll("d", "t", "a");
    const requested: number[] = [];
    a.on("partition:release-requested", () => requested.push(performance.now()));
    await until(() => a.partitions().length === 2, 2000);

    // Quiet: each watch is one point read, and nothing else is read.
    const reads = partitionReads(watched);
    const watches = watched.count("WatchMembers");
    await sleep(1000);
    expect(watched.count("WatchMembers") - watches).toBeGreaterThanOrEqual(3);
    expect(partitionReads(watched)).toBe(reads);

    const askedAt = performance.now();
    // Both asked in one transaction, so that one watch finds both.
    const release = (partition: number) =>
      ({ type: "release", domain: "d", taskList: "t", partition, generation: 1, from: "a", to: null }) as const;
    const asked = await transaction(fx.pool, (c) => ownershipProtocol.applyOwnershipChanges(c, cluster, [release(0), release(1)], 30_000));
    expect(asked.applied).toHaveLength(2);
    await until(async () => (await store.taskListPartitions("d", "t")).every((p) => p.state === PartitionState.Released), 2000);
    expect(requested).toHaveLength(2);
    expect(Math.max(...requested) - askedAt).toBeLessThan(2000);
    // Both confirmations went together.
    expect(watched.count("ConfirmPartitionsRelease")).toBe(1);
  });

  test("members that share a pool share their watch: one statement per poll for all of them", async () => {
    const watched = new FaultyPool(fx.pool);
    const many = await Promise.all(["a", "b", "c", "d"].map((nodeId) => member({ nodeId, ttlMs: 15_000, heartbeatMs: 5000 }, watched)));
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 4 });
    for (const [partition, nodeId] of ["a", "b", "c", "d"].entries()) {
      expect(await store.assign({ domain: "d", taskList: "t", partition, generation: 0 }, nodeId)).toBe(1);
    }
    // Each learns its own partition through the shared watch, long before its heartbeat.
    await until(() => many.every((m) => m.partitions().length === 1), 2000);
    expect(many.map((m) => m.partitions()[0]!.partition)).toEqual([0, 1, 2, 3]);
    const watches = watched.count("WatchMembers");
    await sleep(1000);
    const perSecond = watched.count("WatchMembers") - watches;
    expect(perSecond).toBeGreaterThanOrEqual(3);
    expect(perSecond).toBeLessThanOrEqual(1000 / WATCH_INTERVAL_MS + 1);
  });

  test("a failing watch changes nothing; heartbeats carry on", async () => {
    const watched = new FaultyPool(fx.pool);
    const a = await member({ nodeId: "a", ttlMs: 3000, heartbeatMs: 1000 }, watched);
    const errors: Error[] = [];
    a.on("member:error", (e) => errors.push(e));
    a.on("member:heartbeat-failed", (e) => errors.push(e));
    watched.failing.add("WatchMembers");
    const failed = watched.count("WatchMembers");
    await sleep(1500);
    expect(watched.count("WatchMembers")).toBeGreaterThan(failed + 2);
    expect(errors).toEqual([]);
    expect(a.state).toBe("active");
    watched.failing.clear();
  });

  test("hand-off is acknowledged: released only after onRelease, then given to the target", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 1 });
    let finishRelease: () => void = () => undefined;
    const stopping = new Promise<void>((resolve) => (finishRelease = resolve));
    const a = await member({ nodeId: "a", onRelease: () => stopping });
    const b = await member({ nodeId: "b" });
    await assignAll("d", "t", "a");
    await until(() => a.partitions().length === 1);
    const owned = a.partitions()[0]!;

    expect(await store.requestRelease({ domain: "d", taskList: "t", partition: 0, generation: 1 }, "b")).toBe(true);
    await until(() => owned.signal.aborted);
    // a is still stopping its work: the partition cannot go to b yet.
    expect(await store.assign({ domain: "d", taskList: "t", partition: 0, generation: 1 }, "b")).toBeNull();
    finishRelease();
    await until(async () => (await store.taskListPartitions("d", "t"))[0]!.state === PartitionState.Released);
    expect(await store.assign({ domain: "d", taskList: "t", partition: 0, generation: 1 }, "b")).toBe(2);
    await until(() => b.partitions().length === 1);
    expect(b.partitions()[0]).toMatchObject({ partition: 0, generation: 2 });
  });

  test("an owner that never confirms is overruled only after the force timeout and its own TTL", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 1 });
    const a = await member({ nodeId: "a", confirmReleases: "manual", ttlMs: 1000 });
    await member({ nodeId: "b" });
    await assignAll("d", "t", "a");
    await until(() => a.partitions().length === 1);
    const lost: string[] = [];
    a.on("partition:lost", (_p, reason) => lost.push(reason));
    const requestedAt = performance.now();
    await store.requestRelease({ domain: "d", taskList: "t", partition: 0, generation: 1 }, "b");
    const ref = { domain: "d", taskList: "t", partition: 0, generation: 1 };
    expect(await store.assign(ref, "b", 60_000)).toBeNull();
    // A force timeout of 0 does not overrule the owner before its TTL (1000 ms) has passed since the
    // request: until then it may not have heard of the request and may still be working.
    expect(await store.assign(ref, "b", 0)).toBeNull();
    let generation: number | null = null;
    await until(async () => (generation = await store.assign(ref, "b", 0)) !== null, 5000);
    expect(performance.now() - requestedAt).toBeGreaterThanOrEqual(1000);
    expect(generation).toBe(2);
    await until(() => lost.length === 1);
    expect(lost).toEqual(["taken"]);
  });

  test("the partition fence admits only the current owner and holds the hand-off until the fenced transaction ends", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 1 });
    const a = await member({ nodeId: "a" });
    const b = await member({ nodeId: "b" });
    await assignAll("d", "t", "a");
    await until(() => a.partitions().length === 1);
    const owned = a.partitions()[0]!;
    const ownership = { cluster, domain: "d", taskList: "t", partition: 0, nodeId: "a", incarnation: a.incarnation, generation: 1 };

    const conn = await fx.pool.getConnection();
    try {
      await conn.beginTransaction();
      await owned.fence(conn);
      // While the fenced transaction is open, the partition cannot be moved.
      let settled = false;
      const requesting = store
        .requestRelease({ domain: "d", taskList: "t", partition: 0, generation: 1 }, "b")
        .finally(() => (settled = true));
      await sleep(300);
      expect(settled).toBe(false);
      await conn.commit();
      expect(await requesting).toBe(true);
      await until(async () => (await store.taskListPartitions("d", "t"))[0]!.state === PartitionState.Released);
      expect(await store.assign({ domain: "d", taskList: "t", partition: 0, generation: 1 }, "b")).toBe(2);
      await until(() => b.partitions().length === 1);

      // The old ownership is refused, locally and by the database; the new one is admitted.
      await conn.beginTransaction();
      await expect(owned.fence(conn)).rejects.toBeInstanceOf(PartitionFencedError);
      await expect(fencePartition(conn, ownership)).rejects.toMatchObject({ code: "HELIX_PARTITION_FENCED", generation: 1 });
      await expect(fencePartition(conn, { ...ownership, generation: 2 })).rejects.toBeInstanceOf(PartitionFencedError);
      await b.partitions()[0]!.fence(conn);
      await fencePartition(conn, { ...ownership, nodeId: "b", incarnation: b.incarnation, generation: 2 });
      await conn.rollback();
    } finally {
      conn.release();
    }
  });

  test("a shrink that waits for an owner's fenced transaction dates its release request once the owner can see it", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 8 });
    // A TTL whose write bound (40%) outlasts the wait below.
    const a = await member({ nodeId: "a", ttlMs: 10_000 });
    await assignAll("d", "t", "a");
    await until(() => a.partitions().length === 8);
    const owned = a.partitions().find((p) => p.partition === 5)!;

    const conn = await fx.pool.getConnection();
    let fencedUntil: string;
    try {
      await conn.beginTransaction();
      await owned.fence(conn);
      // 8 -> 4 asks a to release 4 to 7; partition 5 is held by the fenced transaction meanwhile.
      const shrinking = catalog.putTaskList({ domain: "d", taskList: "t", partitions: 4 });
      await sleep(1500);
      const [[now]] = await conn.query<RowDataPacket[]>("SELECT DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%d %H:%i:%s.%f') AS t");
      fencedUntil = String(now!.t);
      await conn.commit();
      expect(await shrinking).toBe("changed");
    } finally {
      conn.release();
    }
    // The force bound counts from the request's time: dated before the owner could see it (while
    // the fenced transaction held the row), the bound would pass that much early.
    const [rows] = await fx.pool.query<RowDataPacket[]>(
      "SELECT partition_id, TIMESTAMPDIFF(MICROSECOND, ?, release_asked_at) AS after_us FROM helix_allocation WHERE cluster = ? AND partition_id >= 4 ORDER BY partition_id",
      [fencedUntil, cluster],
    );
    expect(rows.map((r) => Number(r.partition_id))).toEqual([4, 5, 6, 7]);
    for (const row of rows) expect(Number(row.after_us)).toBeGreaterThanOrEqual(0);
  });

  test("a member that cannot read its partitions stops them before a release may be forced", async () => {
    const watched = new FaultyPool(fx.pool);
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 1 });
    const a = await member({ nodeId: "a", ttlMs: 1000, confirmReleases: "manual" }, watched);
    await member({ nodeId: "b" });
    await assignAll("d", "t", "a");
    await until(() => a.partitions().length === 1);
    const owned = a.partitions()[0]!;
    let stoppedAt = Infinity;
    owned.signal.addEventListener("abort", () => (stoppedAt = performance.now()));
    // Heartbeats still succeed, but the member never learns of the request: it must not take them
    // as leave to go on working.
    for (const read of PARTITION_READS) watched.failing.add(read);
    const ref = { domain: "d", taskList: "t", partition: 0, generation: 1 };
    await store.requestRelease(ref, "b");
    await until(async () => (await store.assign(ref, "b", 0)) !== null, 5000);
    const forcedAt = performance.now();
    expect(stoppedAt).toBeLessThan(forcedAt);
    watched.failing.clear();
  });

  test("a member whose partition reads answer after its statement timeout, within its deadline, keeps its partitions and stays active", async () => {
    const slow = new FaultyPool(fx.pool);
    // TTL 3 s and a heartbeat every second: a statement is given up after (3000 - 150 - 1000) / 2 =
    // 925 ms, and after a heartbeat about 1850 ms are left before the member must stop.
    const worker = await member({ nodeId: "w", ttlMs: 3000, heartbeatMs: 1000 }, slow);
    const trouble: string[] = [];
    worker.on("member:fenced", () => trouble.push("fenced"));
    worker.on("member:rejoined", () => trouble.push("rejoined"));
    worker.on("member:heartbeat-failed", (error) => trouble.push(`heartbeat failed: ${error.message}`));
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 4 });
    // From now on every read of its partitions answers 1.1 s late: a database slow to answer, not gone.
    for (const read of PARTITION_READS) slow.beforeReply.set(read, () => sleep(1100));
    for (const p of await store.taskListPartitions("d", "t")) {
      await store.assign({ domain: "d", taskList: "t", partition: p.partition, generation: p.generation }, "w");
      await until(() => worker.partitions().some((o) => o.partition === p.partition), 10_000);
    }
    const partitions = worker.partitions();
    expect(partitions.map((p) => p.partition).sort()).toEqual([0, 1, 2, 3]);
    // Two TTLs more of slow reads (each heartbeat that finds nothing new reads nothing).
    await sleep(6000);
    expect(trouble).toEqual([]);
    expect(worker.state).toBe("active");
    expect(worker.partitions()).toEqual(partitions);
    expect(partitions.every((p) => p.isOwned() && !p.signal.aborted)).toBe(true);
  }, 30_000);

  test("a confirmation lost with its connection is sent again", async () => {
    const watched = new FaultyPool(fx.pool);
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 1 });
    const a = await member({ nodeId: "a" }, watched);
    await assignAll("d", "t", "a");
    await until(() => a.partitions().length === 1);
    watched.failOnce.add("ConfirmPartitionsRelease");
    await store.requestRelease({ domain: "d", taskList: "t", partition: 0, generation: 1 }, null);
    // Released without waiting for the force timeout (30 s by default).
    await until(async () => (await store.taskListPartitions("d", "t"))[0]!.state === PartitionState.Released, 5000);
    expect(watched.count("ConfirmPartitionsRelease")).toBe(2);
  });

  test.each([
    ["a watch's read", "WatchMembers"],
    ["a read of the partitions started by a watch", "ListProcessOwnershipChanges"],
  ])("leave() waits for %s in flight: no statement outlives it", async (_, statement) => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 1 });
    const slow = new FaultyPool(fx.pool);
    // Heartbeats rarer than the watch, so that the member watches its assignment version.
    const worker = await member({ heartbeatMs: 5 * WATCH_INTERVAL_MS }, slow);
    slow.beforeReply.set(statement, () => sleep(300));
    // A new partition moves the assignment version: the next watch reads it, then the partitions.
    await assignAll("d", "t", worker.nodeId);
    await until(() => slow.inFlight(statement) > 0, 5000);
    await worker.leave();
    expect(slow.inFlight()).toBe(0);
  });

  test("leave hands everything back and deregisters at once", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 2 });
    const changes: PartitionChange[] = [];
    const worker = await join(fx.pool, { cluster, nodeId: "leaver", ttlMs: 60_000, heartbeatMs: 100, sweepIntervalMs: 0 });
    const iterating = (async () => {
      for await (const change of worker.changes()) changes.push(change);
    })();
    await assignAll("d", "t", "leaver");
    await until(() => worker.partitions().length === 2);
    await worker.leave();
    await iterating;
    expect(changes.map((c) => c.type)).toEqual(["assigned", "assigned", "lost", "lost"]);
    expect(worker.state).toBe("left");
    expect((await store.members()).find((n) => n.nodeId === "leaver")).toMatchObject({ live: false });
    expect((await store.taskListPartitions("d", "t")).map((p) => [p.nodeId, p.state])).toEqual([
      [null, PartitionState.Unassigned],
      [null, PartitionState.Unassigned],
    ]);
  });

  test("a member cut off from the database fences itself by its deadline, then recovers", async () => {
    const watched = new FaultyPool(fx.pool);
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 2 });
    const worker = await member({ nodeId: "cut", ttlMs: 1500, heartbeatMs: 100 }, watched);
    const events: string[] = [];
    worker.on("member:fenced", () => events.push("fenced"));
    worker.on("member:rejoined", () => events.push("rejoined"));
    await assignAll("d", "t", "cut");
    await until(() => worker.partitions().length === 2);
    const owned = worker.partitions();
    const cutAt = performance.now();
    watched.cut = true;
    await until(() => events.includes("fenced")).catch(() => {
      throw new Error(`no fence: state ${worker.state} beats ${watched.count("HeartbeatMember")} `);
    });
    // Fenced by the member's own clock: before the database's TTL (1500 ms after the last heartbeat).
    expect(performance.now() - cutAt).toBeLessThan(1500);
    expect(owned.every((p) => p.signal.aborted && !p.isOwned())).toBe(true);
    expect(worker.partitions()).toEqual([]);

    // Cut off past its TTL by the database clock: it comes back as a new process (incarnation).
    const firstIncarnation = worker.incarnation;
    await until(async () => (await store.members()).find((n) => n.nodeId === "cut")?.live === false, 5000);
    watched.cut = false;
    worker.on("member:heartbeat-failed", (e) => events.push(`failed: ${e.message}`));
    worker.on("member:error", (e) => events.push(`error: ${e.message}`));
    await until(() => events.includes("rejoined")).catch(() => {
      throw new Error(`no rejoin: ${events.join(", ")}`);
    });
    expect(worker.incarnation).not.toBe(firstIncarnation);
    // Nobody was given the partitions meanwhile, yet the new process does not resume what the old one
    // owned: they are its again only once given anew, at a larger generation.
    await sleep(300);
    expect(worker.partitions()).toEqual([]);
    await assignAll("d", "t", "cut");
    await until(() => worker.partitions().length === 2);
    expect(worker.partitions().map((p) => p.generation)).toEqual([2, 2]);
    expect(worker.partitions().every((p) => p.incarnation === worker.incarnation)).toBe(true);
  });

  test("rows read while a member is fenced are not applied once it is live again", async () => {
    // A pool whose ListProcessOwnership replies are held back while asked: read by the database at
    // once, delivered when released.
    class HoldingPool extends FaultyPool {
      holding = false;
      readonly held: (() => void)[] = [];
      override async getConnection(): ReturnType<FaultyPool["getConnection"]> {
        const conn = await super.getConnection();
        return {
          ...conn,
          query: async (options) => {
            const result = await conn.query(options);
            if (this.holding && options.sql.includes("ListProcessOwnership")) await new Promise<void>((resolve) => this.held.push(resolve));
            return result;
          },
        };
      }
      release(): void {
        for (const resolve of this.held.splice(0)) resolve();
      }
    }
    const pool = new HoldingPool(fx.pool);
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 1 });
    // Heartbeats every second, so that a watch reads between them; its reads are bounded at 4250 ms.
    const worker = await member({ nodeId: "w", ttlMs: 10_000, heartbeatMs: 1000 }, pool);
    const events: string[] = [];
    worker.on("change", (c) => events.push(`${c.type} ${c.partition.partition}@${c.partition.generation}`));
    worker.on("member:fenced", () => events.push("fenced"));
    worker.on("member:rejoined", () => events.push("rejoined"));
    await assignAll("d", "t", "w");
    await until(() => worker.partitions().length === 1);
    // The database keeps the member live throughout (as heartbeats it did not hear back from would),
    // while its own heartbeats fail from now on: it fences itself by its own deadline.
    await fx.pool.query("UPDATE helix_nodes SET expires_at = UTC_TIMESTAMP(6) + INTERVAL 1 HOUR WHERE cluster = ? AND node_id = 'w'", [
      cluster,
    ]);
    const beats = pool.count("HeartbeatMember");
    await until(() => pool.count("HeartbeatMember") > beats);
    await sleep(50);
    pool.failing.add("HeartbeatMember");
    // Well before its deadline, a change makes its watch read its partitions, and those reads (and
    // every one after them, queued behind) are held until the member has fenced itself.
    await sleep(6000);
    pool.holding = true;
    await fx.pool.query("UPDATE helix_nodes SET assignment_version = assignment_version + 1 WHERE cluster = ? AND node_id = 'w'", [
      cluster,
    ]);
    await until(() => pool.held.length > 0, 2000);
    await until(() => events.includes("fenced"), 6000);
    pool.release();
    // A read that began while fenced is held now. Meanwhile the partition goes to another member, and
    // the member's heartbeats get through: it is live again.
    await until(() => pool.held.length > 0, 2000);
    const [[row]] = await fx.pool.query<RowDataPacket[]>("SELECT generation FROM helix_allocation WHERE cluster = ? AND task_list = 't'", [
      cluster,
    ]);
    await fx.pool.query(
      "UPDATE helix_allocation SET node_id = 'other', incarnation = 'x', generation = generation + 1 WHERE cluster = ? AND task_list = 't'",
      [cluster],
    );
    pool.failing.delete("HeartbeatMember");
    await until(() => events.includes("rejoined"), 3000);
    pool.holding = false;
    pool.release();
    await sleep(500);
    // What it read while fenced showed the partition still its own: it must not have taken it again.
    expect(events.slice(events.indexOf("rejoined"))).not.toContain(`assigned 0@${Number(row!.generation)}`);
    expect(worker.partitions()).toEqual([]);
  }, 30_000);

  test("a member declared dead registers again as a new incarnation", async () => {
    const worker = await member({ nodeId: "dead", ttlMs: 1500 });
    const rejoined = new Promise<{ reregistered: boolean }>((resolve) => worker.once("member:rejoined", resolve));
    await fx.pool.query("UPDATE helix_nodes SET status = 0 WHERE cluster = ? AND node_id = 'dead'", [cluster]);
    expect(await rejoined).toMatchObject({ reregistered: true });
    expect((await store.members()).find((n) => n.nodeId === "dead")).toMatchObject({ live: true });
  });

  test("one member at a time sweeps expired members inactive", async () => {
    await member({ nodeId: "sweeper-1", ttlMs: 600, sweepIntervalMs: 100 });
    await member({ nodeId: "sweeper-2", ttlMs: 600, sweepIntervalMs: 100 });
    await fx.pool.query(
      "INSERT INTO helix_nodes (cluster, node_id, incarnation, metadata, status, assignment_version, registered_at, heartbeat_at, expires_at) VALUES (?, 'ghost', ?, '{}', 1, 0, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))",
      [cluster, "g".repeat(32)],
    );
    await until(async () => {
      const [rows] = await fx.pool.query<RowDataPacket[]>("SELECT status FROM helix_nodes WHERE cluster = ? AND node_id = 'ghost'", [
        cluster,
      ]);
      return Number(rows[0]!.status) === 0;
    });
    const [locks] = await fx.pool.query<RowDataPacket[]>("SELECT owner, epoch FROM helix_locks WHERE lock_key = ?", [
      `helix/${cluster}/sweep`,
    ]);
    expect(String(locks[0]!.owner)).toMatch(/^c\d+\/sweeper-[12]$/);
  });

  test("a sweeping member deletes departed members after its own retention", async () => {
    await member({ nodeId: "keeper", ttlMs: 600, sweepIntervalMs: 100, memberRetentionMs: 60_000 });
    const departed = (nodeId: string, agoSeconds: number) =>
      fx.pool.query(
        "INSERT INTO helix_nodes (cluster, node_id, incarnation, metadata, status, assignment_version, registered_at, heartbeat_at, expires_at) VALUES (?, ?, ?, '{}', 0, 1, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6) - INTERVAL ? SECOND)",
        [cluster, nodeId, "d".repeat(32), agoSeconds],
      );
    // Gone two minutes (past this member's one-minute retention, far within the 7-day default) and gone now.
    await departed("old", 120);
    await departed("recent", 0);
    await until(async () => (await store.members()).every((m) => m.nodeId !== "old"), 5000);
    expect((await store.members()).map((m) => m.nodeId).sort()).toEqual(["keeper", "recent"]);
  });
});

test("the routing table follows ownership changes", async () => {
  await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 2 });
  await member({ nodeId: "r1" });
  const table = await createRoutingTable(fx.pool, { cluster, refreshMs: 20 });
  try {
    expect(table.ownerOf("d", "t", 0)).toBeUndefined();
    await assignAll("d", "t", "r1");
    await until(() => table.ownerOf("d", "t", 1) === "r1");
    expect(table.ownerOf("d", "t", 0)).toBe("r1");
    expect(table.ownerOf("d", "t", 2)).toBeUndefined();
    // The table may have been read between the two assignments' version bumps; one more look
    // catches up, after which nothing changes.
    await table.refresh();
    const version = table.version;
    await sleep(100);
    expect(table.version).toBe(version);
  } finally {
    await table.close();
  }
});
