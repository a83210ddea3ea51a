import { setTimeout as sleep } from "node:timers/promises";

import { DatabaseUnavailableError } from "@helix/db";
import { proxiedPool, type ProxiedPool } from "@helix/testing";

import { createCatalog, createOwnershipStore, join, type Member, type PartitionChange } from "../src";
import { migratedDatabase, until, type Fixture } from "./helpers";

let fx: Fixture;
let path: ProxiedPool;

beforeAll(async () => {
  fx = await migratedDatabase();
  path = await proxiedPool(fx.db.url, 6);
});

afterAll(async () => {
  await path.close();
  await fx.close();
});

test("a member whose connections hang keeps its partitions: it gives them up in time and carries on on fresh ones", async () => {
  const cluster = "hang";
  const ttlMs = 3000;
  await using catalog = await createCatalog(fx.pool, { cluster });
  await using store = await createOwnershipStore(fx.pool, { cluster });
  await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 3 });
  // Default heartbeat interval (a third of the TTL): a heartbeat that hung until TCP gave up, or
  // one sent again only a full interval after failing, would let the deadline pass.
  const member: Member = await join(path.pool, { cluster, nodeId: "m", ttlMs, sweepIntervalMs: 0 });
  try {
    for (const p of await store.taskListPartitions("d", "t")) {
      expect(await store.assign({ domain: "d", taskList: "t", partition: p.partition, generation: p.generation }, "m")).not.toBeNull();
    }
    await until(() => member.partitions().length === 3, 5000);
    const changes: PartitionChange[] = [];
    let fenced = false;
    member.on("change", (c) => changes.push(c));
    member.on("member:fenced", () => (fenced = true));
    const givenUp = path.proxy.givenUp();

    // Every connection the member has now goes silent, twice over one TTL.
    expect(path.proxy.hangOpenConnections()).toBeGreaterThan(0);
    await sleep(ttlMs / 2);
    path.proxy.hangOpenConnections();
    await sleep(ttlMs * 1.5);

    // Its heartbeats, or the watches between them, met the silent connections and gave them up.
    expect(path.proxy.givenUp()).toBeGreaterThan(givenUp);
    expect(fenced).toBe(false);
    expect(changes).toEqual([]);
    expect(member.state).toBe("active");
    expect(member.partitions()).toHaveLength(3);
    // The database agrees: the member is live and still owns them at the generations it was given.
    const members = await store.members();
    expect(members.find((m) => m.nodeId === "m")?.live).toBe(true);
    expect((await store.taskListPartitions("d", "t")).map((p) => [p.nodeId, p.generation])).toEqual([
      ["m", 1],
      ["m", 1],
      ["m", 1],
    ]);
  } finally {
    await member.leave();
  }
});

test("a shrink whose COMMIT never reaches the database gives up in time: the owner it locked goes on heartbeating", async () => {
  const cluster = "hang-catalog";
  const ttlMs = 2000;
  await using store = await createOwnershipStore(fx.pool, { cluster });
  await using direct = await createCatalog(fx.pool, { cluster });
  await direct.putTaskList({ domain: "d", taskList: "t", partitions: 4 });
  const member: Member = await join(fx.pool, { cluster, nodeId: "owner", ttlMs, sweepIntervalMs: 0 });
  // The shrink below goes through the proxy; its COMMIT is held there, never sent.
  await using catalog = await createCatalog(path.pool, { cluster });
  try {
    for (const p of await store.taskListPartitions("d", "t")) {
      expect(await store.assign({ domain: "d", taskList: "t", partition: p.partition, generation: p.generation }, "owner")).not.toBeNull();
    }
    await until(() => member.partitions().length === 4, 5000);
    let fenced = false;
    member.on("member:fenced", () => (fenced = true));

    path.proxy.holdStatements("COMMIT");
    // 4 -> 2 partitions: the shrink locks the owner's member row to ask it to release 2 and 3.
    const shrink = catalog.putTaskList({ domain: "d", taskList: "t", partitions: 2 }).then(
      () => null,
      (error: unknown) => error,
    );
    await until(() => path.proxy.heldStatements() > 0, 5000);
    await sleep(2 * ttlMs);

    // Bounded by 40% of the owner's TTL, the shrink's session was ended and its locks with it.
    expect(await Promise.race([shrink, sleep(ttlMs, "still waiting for its COMMIT")])).toBeInstanceOf(DatabaseUnavailableError);
    expect(fenced).toBe(false);
    expect(member.state).toBe("active");
    expect((await direct.getTaskList("d", "t"))?.partitions).toBe(4);
    expect(member.partitions()).toHaveLength(4);
  } finally {
    path.proxy.releaseStatements();
    await member.leave();
  }
});
