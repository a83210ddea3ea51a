// Operator placements against the database: a moved or pinned partition goes to its member through
// the hand-off and stays there while the rule says; refused placements write nothing.
import type { RowDataPacket } from "mysql2/promise";

import {
  createOwnershipStore,
  InvalidArgumentError,
  liftMemberPlacements,
  liftPlacement,
  moveMemberPartitions,
  movePartition,
  PartitionState,
  pinPartition,
  PlacementRefusedError,
  readPlacements,
  startMaintenance,
  UnknownTaskListError,
  type Coordinator,
  type PartitionAddress,
  type TransitionRecord,
} from "../src";
import { until } from "./helpers";
import { catalog, cluster, converged, coordinator, counts, fx, member, table, useCoordinatorFixture } from "./coordinator-fixture";

useCoordinatorFixture();

const at = (partition: number): PartitionAddress => ({ domain: "d", taskList: "t", partition });
const ownerOf = async (partition: number): Promise<string | null> => {
  const row = (await table()).find((r) => r.partition === partition)!;
  return row.state === PartitionState.Assigned ? row.nodeId : null;
};
const history = async (c: Coordinator, partition: number): Promise<TransitionRecord[]> =>
  (await c.history({ limit: 1000 })).filter((t) => t.partition === partition).reverse();
const catalogVersion = async (): Promise<number> => {
  const [rows] = await fx.pool.query<RowDataPacket[]>("SELECT catalog_version FROM helix_cluster_state WHERE cluster = ?", [cluster]);
  return Number(rows[0]!.catalog_version);
};

describe("placements", () => {
  test("a moved partition goes to its member through the hand-off, recorded as the operator's; the others balance around it", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 8 });
    const c = await coordinator();
    const a = await member("a");
    const b = await member("b");
    await converged(c, [a, b]);
    const partition = a.partitions()[0]!.partition;

    const moved = await movePartition(fx.pool, cluster, at(partition), "b", { reason: "hot key", actor: "alice" });
    expect(moved).toMatchObject({ ...at(partition), nodeId: "b", kind: "move", holds: true, reason: "hot key", actor: "alice" });
    await until(async () => (await ownerOf(partition)) === "b");
    await converged(c, [a, b]);
    expect(b.partitions().map((p) => p.partition)).toContain(partition);
    expect(await counts()).toEqual(
      new Map([
        ["a", 4],
        ["b", 4],
      ]),
    );
    const steps = (await history(c, partition)).slice(-2);
    expect(steps.map((t) => [t.kind, t.from, t.to, t.cause, t.actor])).toEqual([
      ["release-requested", "a", "b", "operator", "alice"],
      ["handed-off", "a", "b", "operator", "alice"],
    ]);
    // The partition b gave back to balance is the coordinator's move, not the operator's.
    const rebalanced = (await c.history({ limit: 1000 })).filter((t) => t.kind === "handed-off" && t.from === "b" && t.to === "a");
    expect(rebalanced).toHaveLength(1);
    expect(rebalanced[0]).toMatchObject({ cause: "rebalance", actor: c.options.id });
  });

  test("a pin holds while its member lives; when it leaves the partition goes elsewhere, and back when it is live again", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 6 });
    const c = await coordinator();
    const a = await member("a");
    const b = await member("b");
    await converged(c, [a, b]);
    const partition = a.partitions()[0]!.partition;
    await pinPartition(fx.pool, cluster, at(partition), "b", { actor: "ops" });
    await until(async () => (await ownerOf(partition)) === "b");

    await b.leave();
    await until(async () => (await ownerOf(partition)) === "a");
    expect((await readPlacements(fx.pool, cluster))[0]).toMatchObject({ nodeId: "b", kind: "pin", holds: true });
    const back = await member("b");
    await until(async () => (await ownerOf(partition)) === "b");
    await converged(c, [a, back]);
    expect((await history(c, partition)).at(-1)).toMatchObject({ kind: "handed-off", from: "a", to: "b", cause: "operator", actor: "ops" });
  });

  test("a move lapses when its member's node id registers again: the partition is the planner's from then on", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 4 });
    const c = await coordinator();
    const a = await member("a");
    const b = await member("b");
    await converged(c, [a, b]);
    const partition = a.partitions()[0]!.partition;
    await movePartition(fx.pool, cluster, at(partition), "b");
    await until(async () => (await ownerOf(partition)) === "b");
    await b.leave();
    const again = await member("b");
    expect(await readPlacements(fx.pool, cluster)).toMatchObject([{ nodeId: "b", kind: "move", holds: false }]);
    await converged(c, [a, again]);
    const snapshot = (await c.plan()).snapshot;
    expect(snapshot.taskLists[0]!.placed).toBeUndefined();
    // A later placement forgets the lapsed move.
    await pinPartition(fx.pool, cluster, at((partition + 1) % 4), "a");
    expect((await readPlacements(fx.pool, cluster)).map((p) => p.kind)).toEqual(["pin"]);
  });

  test("all of a member's partitions move to another member; lifting the moves lets the planner balance them again", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 6 });
    await catalog.putTaskList({ domain: "d", taskList: "u", partitions: 3 });
    const c = await coordinator();
    const a = await member("a");
    const b = await member("b");
    const e = await member("e");
    await converged(c, [a, b, e]);
    const owned = a.partitions().length;

    expect(await moveMemberPartitions(fx.pool, cluster, "a", "b", { actor: "ops" })).toBe(owned);
    const placements = await readPlacements(fx.pool, cluster);
    expect(placements).toHaveLength(owned);
    expect(placements.every((p) => p.nodeId === "b" && p.kind === "move" && p.actor === "ops")).toBe(true);
    await until(async () => {
      const rows = await table();
      return placements.every((p) => rows.some((r) => r.taskList === p.taskList && r.partition === p.partition && r.nodeId === "b"));
    });
    // b gives its own partitions away to keep the balance around the ones it was given.
    await converged(c, [a, b, e]);
    expect(await counts()).toEqual(
      new Map([
        ["a", 3],
        ["b", 3],
        ["e", 3],
      ]),
    );

    expect(await liftMemberPlacements(fx.pool, cluster, "b")).toBe(owned);
    expect(await liftMemberPlacements(fx.pool, cluster, "b")).toBe(0);
    await converged(c, [a, b, e]);
  });

  test("a move is made while maintenance holds every other move", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 4 });
    const c = await coordinator({ fallbackIntervalMs: 50 });
    const a = await member("a");
    await converged(c, [a]);
    await startMaintenance(fx.pool, cluster, { reason: "upgrade" });
    const b = await member("b");
    await movePartition(fx.pool, cluster, at(2), "b");
    await until(async () => (await ownerOf(2)) === "b");
    // The join itself moved nothing: b owns only what the operator moved to it, round after round.
    const seen = c.stats().rounds;
    await until(() => c.stats().rounds >= seen + 3 && b.partitions().length > 0);
    expect(b.partitions().map((p) => p.partition)).toEqual([2]);
    expect((await c.plan()).heldForMaintenance).toBeGreaterThan(0);
    expect(await counts()).toEqual(
      new Map([
        ["a", 3],
        ["b", 1],
      ]),
    );
  });

  test("a placement is refused, with nothing written, when its member is not live or drains, or the partition does not exist", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 4 });
    const a = await member("a");
    await member("b");
    const left = await member("gone");
    await left.leave();
    await using store = await createOwnershipStore(fx.pool, { cluster });
    await store.drain("b");
    const version = await catalogVersion();

    const refusal = async (promise: Promise<unknown>) => {
      const error = await promise.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(PlacementRefusedError);
      expect((error as PlacementRefusedError).code).toBe("HELIX_PLACEMENT_REFUSED");
      return (error as PlacementRefusedError).rule;
    };
    expect(await refusal(pinPartition(fx.pool, cluster, at(0), "gone"))).toBe("member-not-live");
    expect(await refusal(movePartition(fx.pool, cluster, at(0), "nobody"))).toBe("member-not-live");
    expect(await refusal(movePartition(fx.pool, cluster, at(0), "b"))).toBe("member-draining");
    expect(await refusal(moveMemberPartitions(fx.pool, cluster, "a", "b"))).toBe("member-draining");
    expect(await refusal(pinPartition(fx.pool, cluster, at(4), "a"))).toBe("no-such-partition");
    await expect(pinPartition(fx.pool, cluster, { domain: "d", taskList: "nope", partition: 0 }, "a")).rejects.toBeInstanceOf(
      UnknownTaskListError,
    );
    await expect(pinPartition(fx.pool, cluster, at(-1), "a")).rejects.toThrow(/partition\.partition/);
    await expect(moveMemberPartitions(fx.pool, cluster, "a", "a")).rejects.toThrow(/toNodeId/);
    await expect(movePartition(fx.pool, cluster, at(0), "a", { reason: "x".repeat(513) })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(movePartition(fx.pool, cluster, at(0), "a", { actor: "" })).rejects.toBeInstanceOf(InvalidArgumentError);

    expect(await readPlacements(fx.pool, cluster)).toEqual([]);
    expect(await catalogVersion()).toBe(version);
    expect(a.partitions()).toEqual([]);
  });

  test("lifting a placement that is not there says so and moves no counter", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 4 });
    await member("a");
    await pinPartition(fx.pool, cluster, at(1), "a");
    const version = await catalogVersion();
    expect(await liftPlacement(fx.pool, cluster, at(1))).toBe(true);
    expect(await catalogVersion()).toBe(version + 1);
    expect(await liftPlacement(fx.pool, cluster, at(1))).toBe(false);
    expect(await catalogVersion()).toBe(version + 1);
  });
});
