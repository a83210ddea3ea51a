// Drains: a member's partitions go to the others one by one through the acknowledged hand-off while
// it works the rest; then it leaves.
import { createOwnershipStore, type OwnedPartition } from "../src";
import { DRAIN_WAVE } from "../src/planner/drain-waves";
import { until } from "./helpers";
import { catalog, cluster, converged, coordinator, fx, member, useCoordinatorFixture } from "./coordinator-fixture";

useCoordinatorFixture();

describe("drains", () => {
  test("a draining member hands every partition over through the hand-off, working the rest meanwhile, then leaves", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 12 });
    const c = await coordinator({ maxMovesPerMember: 2 });
    const released: OwnedPartition[] = [];
    const stillWorking: number[] = [];
    let draining = false;
    // Confirmed by hand, so that the test sees what the member still works on at each release.
    const a = await member("a", { confirmReleases: "manual" });
    a.on("partition:release-requested", (p) => {
      if (draining) {
        released.push(p);
        stillWorking.push(a.partitions().length);
      }
      void a.confirmRelease(p);
    });
    const b = await member("b");
    const d = await member("d");
    await converged(c, [a, b, d]);
    const mine = a.partitions();
    expect(mine).toHaveLength(4);

    draining = true;
    const { remaining } = await a.drain({ timeoutMs: 20_000 });
    expect(remaining).toBe(0);
    expect(a.state).toBe("left");
    expect(released.map((p) => p.partition).sort()).toEqual(mine.map((p) => p.partition).sort());
    // The move limit (2 per member per round) spread the drain: when the first release came, the
    // member still worked the partitions not yet asked for.
    expect(Math.max(...stillWorking)).toBeGreaterThan(0);
    await converged(c, [b, d]);
    // Every partition went through the hand-off (confirmed, then given), none was reclaimed or forced.
    const moves = (await c.history()).filter((t) => mine.some((p) => p.partition === t.partition) && t.generation > p0(mine, t.partition));
    expect(moves.filter((t) => t.kind !== "release-requested").map((t) => t.kind)).toEqual(Array(4).fill("handed-off"));
  });

  test("a drain of more than a wave is asked for a wave at a time, the next as soon as the last is handed over", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 600 });
    // No fallback round comes within the test: the next wave must follow the last one's hand-offs.
    const c = await coordinator({ fallbackIntervalMs: 600_000 });
    const a = await member("a");
    const b = await member("b");
    await converged(c, [a, b]);
    const asked: number[] = [];
    c.on("round:done", (r) => void (r.releasesRequested > 0 && asked.push(r.releasesRequested)));
    const { remaining } = await a.drain({ timeoutMs: 20_000 });
    expect(remaining).toBe(0);
    await converged(c, [b]);
    expect(asked).toEqual([DRAIN_WAVE, 300 - DRAIN_WAVE]);
  });

  test("an operator drains a member by node id; an unknown or gone one is reported", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 6 });
    const c = await coordinator();
    const a = await member("a");
    const b = await member("b");
    await converged(c, [a, b]);
    await using store = await createOwnershipStore(fx.pool, { cluster });
    expect(await store.drain("a")).toBe(true);
    expect(await store.drain("nobody")).toBe(false);
    // a stays (an operator stops it), owning nothing; b has everything.
    await until(() => a.partitions().length === 0 && b.partitions().length === 6);
    expect((await store.members()).find((m) => m.nodeId === "a")).toMatchObject({ weight: 0 });
    await a.leave();
    expect(await store.drain("a")).toBe(false);
  });

  test("a drain nobody takes partitions from leaves after its timeout, handing the rest back", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 4 });
    const c = await coordinator();
    const a = await member("a");
    await converged(c, [a]);
    // No other member: the coordinator has nobody to give a's partitions to.
    const started = performance.now();
    const { remaining } = await a.drain({ timeoutMs: 600 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(590);
    expect(remaining).toBe(4);
    expect(a.state).toBe("left");
    // Handed back by the leave: unassigned until a member comes.
    const b = await member("b");
    await converged(c, [b]);
  });

  test("a leave during a drain ends it", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 4 });
    const c = await coordinator();
    const a = await member("a");
    await converged(c, [a]);
    const draining = a.drain({ timeoutMs: 60_000 });
    await a.leave();
    // Nothing had moved yet (a is the only member): the leave handed all 4 back.
    expect(await draining).toEqual({ remaining: 4 });
    expect(a.state).toBe("left");
    await expect(a.drain()).rejects.toMatchObject({ code: "HELIX_CLOSED" });
  });

  test("bad drain options are refused before anything changes", async () => {
    const a = await member("a");
    for (const bad of [0, -1, 1.5, Number.NaN, 86_400_001, "10"]) {
      await expect(a.drain({ timeoutMs: bad as number })).rejects.toMatchObject({ code: "HELIX_INVALID_ARGUMENT", argument: "timeoutMs" });
    }
    await expect(a.drain(null as never)).rejects.toMatchObject({ code: "HELIX_INVALID_ARGUMENT" });
    expect(a.state).toBe("active");
  });
});

/** The generation a partition had among `owned`. */
function p0(owned: readonly OwnedPartition[], partition: number): number {
  return owned.find((p) => p.partition === partition)!.generation;
}
