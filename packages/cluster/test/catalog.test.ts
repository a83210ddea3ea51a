import { setTimeout as sleep } from "node:timers/promises";

import { createOwnershipStore, createRoutingTable, PartitionState, UnknownTaskListError } from "../src";

import { FaultyPool, until } from "./helpers";
import { assignAll, catalog, cluster, fx, member, store, useMemberFixture } from "./member-fixture";

useMemberFixture();

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
