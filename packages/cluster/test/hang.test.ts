import { setTimeout as sleep } from "node:timers/promises";

import { createPool } from "@helix/db";
import { TcpProxy } from "@helix/testing";
import type { Pool } from "mysql2/promise";

import { createCatalog, createOwnershipStore, join, type Member, type PartitionChange } from "../src";
import { migratedDatabase, until, type Fixture } from "./helpers";

let fx: Fixture;
let proxy: TcpProxy;
let through: Pool;

beforeAll(async () => {
  fx = await migratedDatabase();
  proxy = await TcpProxy.start(new URL(fx.db.url));
  through = await createPool({ url: proxy.url(fx.db.url), connectionLimit: 4 });
});

afterAll(async () => {
  // The proxy first: it ends the hung sockets, which pool.end() would otherwise wait for.
  await proxy.close();
  await through.end().catch(() => undefined);
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
  const member: Member = await join(through, { cluster, nodeId: "m", ttlMs, sweepIntervalMs: 0 });
  try {
    for (const p of await store.taskListPartitions("d", "t")) {
      expect(await store.assign({ domain: "d", taskList: "t", partition: p.partition, generation: p.generation }, "m")).not.toBeNull();
    }
    await until(() => member.partitions().length === 3, 5000);
    const changes: PartitionChange[] = [];
    let fenced = false;
    let failures = 0;
    member.on("change", (c) => changes.push(c));
    member.on("member:fenced", () => (fenced = true));
    member.on("member:heartbeat-failed", () => failures++);

    // Every connection the member has now goes silent, twice over one TTL.
    expect(proxy.hangOpenConnections()).toBeGreaterThan(0);
    await sleep(ttlMs / 2);
    proxy.hangOpenConnections();
    await sleep(ttlMs * 1.5);

    expect(failures).toBeGreaterThan(0);
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
