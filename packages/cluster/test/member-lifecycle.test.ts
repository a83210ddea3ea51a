import { setTimeout as sleep } from "node:timers/promises";

import { type RowDataPacket } from "mysql2/promise";

import { join, PartitionState, type PartitionChange } from "../src";

import { FaultyPool, until } from "./helpers";
import { assignAll, catalog, cluster, fx, member, members, store, useMemberFixture } from "./member-fixture";

useMemberFixture();

describe("members joining, leaving, cut off, declared dead and swept", () => {
  test("partitions a member owns by its first read are announced after join() returns, to the listeners attached then", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 2 });
    const early = new FaultyPool(fx.pool);
    // The partitions are given to the member between its registration and its first heartbeat's
    // read (as a coordinator's round may do): join() reads them before it returns.
    let given = false;
    early.beforeReply.set("HeartbeatMember", async () => {
      if (given) return;
      given = true;
      await assignAll("d", "t", "early");
    });
    const worker = await join(early, { cluster, nodeId: "early", ttlMs: 60_000, heartbeatMs: 100, sweepIntervalMs: 0 });
    members.push(worker);
    const assigned: number[] = [];
    const changes: string[] = [];
    worker.on("partition:assigned", (p) => assigned.push(p.partition));
    const iterating = (async () => {
      for await (const change of worker.changes()) changes.push(change.type);
    })();
    expect(worker.partitions().map((p) => p.partition)).toEqual([0, 1]);
    await until(() => assigned.length === 2, 5000);
    expect(assigned).toEqual([0, 1]);
    await worker.leave();
    await iterating;
    expect(changes).toEqual(["assigned", "assigned", "lost", "lost"]);
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
    watched.cut = true;
    // Fenced by the member's own clock before the database's TTL (1500 ms after the last heartbeat
    // it accepted) runs out: its deadline runs from that heartbeat's send time, a margin earlier. So
    // by the time the database counts it dead, none of its partitions is its own any more. Asking
    // `isOwned()` checks the deadline there and then, so a timer that a busy machine runs late does
    // not change the answer; the database is looked at first, and the member only after.
    let ownedWhenDead: boolean[] | undefined;
    await until(async () => {
      if (ownedWhenDead === undefined && (await store.members()).find((n) => n.nodeId === "cut")?.live === false) {
        ownedWhenDead = owned.map((p) => p.isOwned());
      }
      return ownedWhenDead !== undefined && events.includes("fenced");
    }, 30_000).catch(() => {
      throw new Error(`no fence: state ${worker.state} beats ${watched.count("HeartbeatMember")} `);
    });
    expect(ownedWhenDead).toEqual([false, false]);
    expect(owned.every((p) => p.signal.aborted && !p.isOwned())).toBe(true);
    expect(worker.partitions()).toEqual([]);

    // Cut off past its TTL by the database clock: it comes back as a new process (incarnation).
    const firstIncarnation = worker.incarnation;
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
