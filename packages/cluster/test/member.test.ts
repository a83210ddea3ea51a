import { setTimeout as sleep } from "node:timers/promises";

import { createPool as createMysqlPool, type RowDataPacket } from "mysql2/promise";

import {
  AlreadyJoinedError,
  createCatalog,
  fencePartition,
  PartitionFencedError,
  InvalidArgumentError,
  join,
  MAX_PARTITIONS,
  WATCH_INTERVAL_MS,
  PartitionState,
  UnknownTaskListError,
  type OwnedPartition,
} from "../src";
import { ownershipProtocol } from "../src/internal";
import { transaction, type QueryOptions } from "@helix/db";

import { FaultyPool, until } from "./helpers";
import {
  assignAll,
  catalog,
  cluster,
  fx,
  member,
  members,
  PARTITION_READS,
  partitionReads,
  store,
  useMemberFixture,
} from "./member-fixture";

useMemberFixture();

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
    // A heartbeat every 45 s (none after the join while the test runs): what the member learns came
    // through the watch.
    const a = await member({ nodeId: "a", ttlMs: 100_000, heartbeatMs: 45_000 }, watched);
    await assignAll("d", "t", "a");
    let requested = 0;
    a.on("partition:release-requested", () => requested++);
    await until(() => a.partitions().length === 2, 30_000);

    // Quiet: each watch is one point read, and nothing else is read.
    const reads = partitionReads(watched);
    const watches = watched.count("WatchMembers");
    await until(() => watched.count("WatchMembers") >= watches + 3, 30_000);
    expect(partitionReads(watched)).toBe(reads);

    const beats = watched.count("HeartbeatMember");
    // Both asked in one transaction, so that one watch finds both.
    const release = (partition: number) =>
      ({ type: "release", domain: "d", taskList: "t", partition, generation: 1, from: "a", to: null }) as const;
    const asked = await transaction(fx.pool, (c) => ownershipProtocol.applyOwnershipChanges(c, cluster, [release(0), release(1)], 30_000));
    expect(asked.applied).toHaveLength(2);
    await until(async () => (await store.taskListPartitions("d", "t")).every((p) => p.state === PartitionState.Released), 30_000);
    expect(requested).toBe(2);
    // No heartbeat went out meanwhile: the watch brought the requests.
    expect(watched.count("HeartbeatMember")).toBe(beats);
    // Both confirmations went together.
    expect(watched.count("ConfirmPartitionsRelease")).toBe(1);
  });

  test("members that share a pool share their watch: one statement reads for all of them", async () => {
    const watched = new FaultyPool(fx.pool);
    // The values of each watch statement: the member ids it reads for.
    const watchReads: unknown[][] = [];
    const record = (options: QueryOptions): QueryOptions => {
      if (options.sql.includes("-- name: WatchMembers")) watchReads.push(options.values);
      return options;
    };
    const recording = {
      query: (options: QueryOptions) => watched.query(record(options)),
      getConnection: async () => {
        const conn = await watched.getConnection();
        return { ...conn, query: (options: QueryOptions) => conn.query(record(options)) };
      },
    };
    const many = await Promise.all(["a", "b", "c", "d"].map((nodeId) => member({ nodeId, ttlMs: 15_000, heartbeatMs: 5000 }, recording)));
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 4 });
    for (const [partition, nodeId] of ["a", "b", "c", "d"].entries()) {
      expect(await store.assign({ domain: "d", taskList: "t", partition, generation: 0 }, nodeId)).toBe(1);
    }
    // Each learns its own partition through the shared watch, long before its heartbeat.
    await until(() => many.every((m) => m.partitions().length === 1), 30_000);
    expect(many.map((m) => m.partitions()[0]!.partition)).toEqual([0, 1, 2, 3]);
    // One statement reads for all four: a poll names every member due (all but one just after its
    // heartbeat), where a watch each would name one. Looked for over the next polls, however slowly
    // a loaded machine runs them.
    const from = watchReads.length;
    const forAll = (values: unknown[]): boolean => ["a", "b", "c", "d"].every((id) => values.includes(id));
    await until(() => watchReads.length >= from + 3 && watchReads.slice(from).some(forAll), 30_000);
  });

  test("a failing watch changes nothing; heartbeats carry on", async () => {
    const watched = new FaultyPool(fx.pool);
    const a = await member({ nodeId: "a", ttlMs: 3000, heartbeatMs: 1000 }, watched);
    const errors: Error[] = [];
    a.on("member:error", (e) => errors.push(e));
    a.on("member:heartbeat-failed", (e) => errors.push(e));
    watched.failing.add("WatchMembers");
    const failed = watched.count("WatchMembers");
    // Failing watches are tried again (backing off, up to MAX_WATCH_INTERVAL_MS apart) and change nothing.
    await until(() => watched.count("WatchMembers") > failed + 2, 15_000);
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
});
