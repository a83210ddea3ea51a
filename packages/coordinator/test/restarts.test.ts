// Static membership: a member that leaves saying it will be back keeps its partitions reserved for
// its node id; its next process takes them back, and no other member owns them meanwhile.
import { setTimeout as sleep } from "node:timers/promises";

import { transaction } from "@helix/db";

import { fencePartition, PartitionState } from "../src";
import { until } from "./helpers";
import { catalog, cluster, converged, coordinator, fx, member, table, useCoordinatorFixture } from "./coordinator-fixture";

useCoordinatorFixture();

/** One task list of `partitions` balanced over members a and b by a coordinator. */
async function twoMembers(partitions: number, options: Parameters<typeof coordinator>[0] = {}) {
  await catalog.putTaskList({ domain: "d", taskList: "t", partitions });
  const c = await coordinator(options);
  const a = await member("a");
  const b = await member("b");
  await converged(c, [a, b]);
  return { c, a, b };
}

describe("restarts", () => {
  test("a member back within the time it gave gets its own partitions again; nobody else owned them meanwhile", async () => {
    // Rounds at least every 50 ms, so that many come and go while a is away.
    const { c, a, b } = await twoMembers(8, { fallbackIntervalMs: 50 });
    const mine = a.partitions();
    const others = b.partitions().map((p) => p.partition);
    expect(mine).toHaveLength(4);

    await a.leave({ returningWithinMs: 10_000 });
    // The leaving process is fenced out at once, although its node id keeps the rows.
    const [first] = mine;
    await expect(transaction(fx.pool, (conn) => fencePartition(conn, { cluster, nodeId: "a", ...first! }))).rejects.toMatchObject({
      code: "HELIX_PARTITION_FENCED",
    });
    // Rounds come and go (one every 50 ms at least); nothing moves.
    const rounds = c.stats().rounds;
    await until(() => c.stats().rounds > rounds + 3);
    await sleep(300);
    const reserved = (await table()).filter((r) => r.nodeId === "a");
    expect(reserved.map((r) => r.partition).sort()).toEqual(mine.map((p) => p.partition).sort());
    expect(b.partitions().map((p) => p.partition)).toEqual(others);

    const back = await member("a");
    await converged(c, [back, b]);
    expect(back.partitions().map((p) => [p.partition, p.generation])).toEqual(mine.map((p) => [p.partition, p.generation + 1]));
    expect(back.partitions().every((p) => p.incarnation === back.incarnation)).toBe(true);
    // The audit trail has a's partitions going to a, and never to b.
    const moves = (await c.history()).filter((t) => mine.some((p) => p.partition === t.partition) && t.generation > first!.generation);
    expect(moves.length).toBeGreaterThanOrEqual(4);
    expect(moves.every((t) => t.to === "a")).toBe(true);
  });

  test("a member not back within the time it gave has its partitions moved then, not before", async () => {
    const { c, a, b } = await twoMembers(4);
    const leftAt = performance.now();
    await a.leave({ returningWithinMs: 1500 });
    await until(async () => (await table()).every((r) => r.nodeId === "b" && r.state === PartitionState.Assigned), 10_000);
    // Not before the time it gave had passed (measured here from before the leave, so a little
    // early at most: the database clock starts it at the leave's commit).
    expect(performance.now() - leftAt).toBeGreaterThanOrEqual(1400);
    await converged(c, [b]);
  });

  test("a member that left for good, or gave no time, has its partitions moved at once", async () => {
    const { c, a, b } = await twoMembers(4);
    expect(a.partitions()).toHaveLength(2);
    await a.leave({ returningWithinMs: 0 });
    // The leave itself handed them back: nothing is kept for a's node id, as it would be for a member
    // that said it would return, and nothing waits for a's TTL.
    expect((await table()).filter((r) => r.nodeId === "a")).toEqual([]);
    await converged(c, [b]);
    // Given to b as free partitions, not reclaimed from a member whose time ran out.
    expect((await c.history()).map((t) => t.kind)).not.toContain("reclaimed");
  });

  test("bad leave options are refused before the member stops", async () => {
    const a = await member("a");
    for (const bad of [-1, 1.5, Number.NaN, 86_400_001, "10"]) {
      await expect(a.leave({ returningWithinMs: bad as number })).rejects.toMatchObject({
        code: "HELIX_INVALID_ARGUMENT",
        argument: "returningWithinMs",
      });
    }
    await expect(a.leave(null as never)).rejects.toMatchObject({ code: "HELIX_INVALID_ARGUMENT" });
    expect(a.state).toBe("active");
  });
});
