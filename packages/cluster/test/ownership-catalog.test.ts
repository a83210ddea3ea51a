// What the ownership writer decides in TypeScript for the catalog and the members' settings, beside
// its SQL: what a put, a removal and a clean-up report and bump, which owners of retiring partitions
// it asks and tells, when it finishes a removal; a drain's weight; the counters' sum and creation;
// the order it locks member rows in. ownership.test.ts checks that each write's report matches the
// counters it moved; these tests say what the report and the rows must be.
import { transaction, type QueryClient } from "@helix/db/internal";
import type { RowDataPacket } from "mysql2/promise";

import { ownershipProtocol as ownership } from "../src/internal";
import { assignmentVersions, cluster, expire, fx, incarnationOf, register, useOwnershipFixture } from "./ownership-fixture";

useOwnershipFixture();

const list = (taskList = "t") => ({ cluster, domain: "d", taskList });
const put = (partitions: number, metadata = "{}", taskList = "t") =>
  transaction(fx.pool, (c) => ownership.putTaskList(c, { ...list(taskList), partitions, metadata }));
const remove = (taskList = "t") => transaction(fx.pool, (c) => ownership.removeTaskList(c, list(taskList)));
const prune = (...taskLists: string[]) =>
  transaction(fx.pool, (c) =>
    ownership.pruneRetired(
      c,
      cluster,
      taskLists.map((taskList) => ({ domain: "d", taskList })),
    ),
  );

const assign = (partition: number, to: string, taskList = "t") =>
  transaction(fx.pool, (c) =>
    ownership.applyOwnershipChanges(
      c,
      cluster,
      [{ type: "assign", domain: "d", taskList, partition, generation: 0, from: null, to }],
      60_000,
    ),
  );

const bumps = (membership: number, catalog: number, ownershipCounter: number): ownership.ChangeCounters => ({
  membership,
  catalog,
  ownership: ownershipCounter,
});

/** Each row of a task list: partition, state, owner, release target, owner's version stamp. */
async function rows(taskList = "t"): Promise<unknown[][]> {
  const [found] = await fx.pool.query<RowDataPacket[]>(
    "SELECT partition_id, state, node_id, target_node_id, owner_version FROM helix_allocation WHERE cluster = ? AND task_list = ? ORDER BY partition_id",
    [cluster, taskList],
  );
  return found.map((r): unknown[] => [r.partition_id, r.state, r.node_id, r.target_node_id, Number(r.owner_version)]);
}

/** The task list's catalog row: status, partitions, metadata parsed (null: no row). */
async function catalogRow(taskList = "t"): Promise<unknown[] | null> {
  const [[row]] = await fx.pool.query<RowDataPacket[]>(
    "SELECT status, partitions, metadata FROM helix_cluster WHERE cluster = ? AND domain = 'd' AND task_list = ?",
    [cluster, taskList],
  );
  // TiDB gives JSON back in its own spelling: compare it parsed.
  return row === undefined ? null : [row.status, row.partitions, JSON.parse(row.metadata as string)];
}

test("a put creates a task list, changes its count or metadata, or leaves it as it is, and says which", async () => {
  expect(await put(3)).toEqual({ result: "created", bumped: bumps(0, 1, 1) });
  expect(await rows()).toEqual([0, 1, 2].map((p) => [p, 0, null, null, 0]));
  expect(await put(3)).toEqual({ result: "unchanged", bumped: ownership.NO_CHANGE });
  expect(await put(3, '{"team":"a"}')).toEqual({ result: "changed", bumped: bumps(0, 1, 1) });
  expect(await catalogRow()).toEqual([1, 3, { team: "a" }]);
  expect(await put(5, '{"team":"a"}')).toEqual({ result: "changed", bumped: bumps(0, 1, 1) });
  expect((await rows()).map((r) => r[0])).toEqual([0, 1, 2, 3, 4]);
  expect(await ownership.readCounters(fx.pool, cluster)).toEqual(bumps(0, 3, 3));
});

test("a shrink deletes the free partitions beyond the count and asks their owners, each stamped with its own next version and told", async () => {
  await put(8);
  for (const nodeId of ["a", "b", "c", "d"]) await register(nodeId);
  await assign(0, "d");
  await assign(4, "a");
  await assign(5, "b");
  await assign(6, "c");
  // 6 is on its way to b: retired, it is asked again, of c, for nobody.
  await transaction(fx.pool, (c) =>
    ownership.applyOwnershipChanges(
      c,
      cluster,
      [{ type: "release", domain: "d", taskList: "t", partition: 6, generation: 1, from: "c", to: "b" }],
      60_000,
    ),
  );
  const before = await assignmentVersions();
  expect(await put(4)).toEqual({ result: "changed", bumped: bumps(0, 1, 1) });
  expect((await rows()).slice(4)).toEqual([
    [4, 2, "a", null, before.a! + 1],
    [5, 2, "b", null, before.b! + 1],
    [6, 2, "c", null, before.c! + 1],
  ]);
  const after = await assignmentVersions();
  expect(["a", "b", "c", "d"].map((nodeId) => after[nodeId]! - before[nodeId]!)).toEqual([1, 1, 1, 0]);

  // Cleaned up again before the owners answer: they are asked already, so nothing changes.
  expect(await prune("t")).toEqual({ finished: 0, bumped: ownership.NO_CHANGE });
  expect(await assignmentVersions()).toEqual(after);
  // b confirms: its partition is free, and the clean-up deletes it.
  const b = { cluster, nodeId: "b", incarnation: incarnationOf("b") };
  await transaction(fx.pool, (c) => ownership.confirmReleases(c, b, [{ domain: "d", taskList: "t", partition: 5, generation: 1 }]));
  expect(await prune("t")).toEqual({ finished: 0, bumped: bumps(0, 0, 1) });
  expect((await rows()).map((r) => r[0])).toEqual([0, 1, 2, 3, 4, 6]);
});

test("a removal asks the owners, and finishes once no partition is left; removing what is not there finds nothing", async () => {
  await put(3);
  await register("a");
  await assign(1, "a");
  expect(await remove("none")).toEqual({ found: false, bumped: ownership.NO_CHANGE });
  const before = await assignmentVersions();
  expect(await remove()).toEqual({ found: true, bumped: bumps(0, 1, 1) });
  expect(await rows()).toEqual([[1, 2, "a", null, before.a! + 1]]);
  expect((await assignmentVersions()).a).toBe(before.a! + 1);
  expect((await catalogRow())![0]).toBe(2);
  // Removed again while it is being removed: found, nothing to do.
  expect(await remove()).toEqual({ found: true, bumped: ownership.NO_CHANGE });
  expect(await prune("t")).toEqual({ finished: 0, bumped: ownership.NO_CHANGE });
  const a = { cluster, nodeId: "a", incarnation: incarnationOf("a") };
  await transaction(fx.pool, (c) => ownership.confirmReleases(c, a, [{ domain: "d", taskList: "t", partition: 1, generation: 1 }]));
  expect(await prune("t")).toEqual({ finished: 1, bumped: bumps(0, 1, 1) });
  expect(await rows()).toEqual([]);
  expect((await catalogRow())![0]).toBe(0);
  // Finished: no longer there to remove.
  expect(await remove()).toEqual({ found: false, bumped: ownership.NO_CHANGE });

  // A task list no member owns a partition of is finished at once.
  await put(2, "{}", "free");
  expect(await remove("free")).toEqual({ found: true, bumped: bumps(0, 1, 1) });
  expect((await catalogRow("free"))![0]).toBe(0);
  expect(await rows("free")).toEqual([]);
});

test("a clean-up goes by the catalog: all partitions of a task list it has no row for, none of a live one within its count", async () => {
  await put(3);
  await put(2, "{}", "gone");
  await register("a");
  await assign(0, "a", "gone");
  const before = await assignmentVersions();
  await fx.pool.query("DELETE FROM helix_cluster WHERE cluster = ? AND task_list = 'gone'", [cluster]);
  // 1 is free and deleted; 0's owner is asked.
  expect(await prune("t", "gone")).toEqual({ finished: 0, bumped: bumps(0, 0, 1) });
  expect(await rows("gone")).toEqual([[0, 2, "a", null, before.a! + 1]]);
  expect((await rows("t")).map((r) => r[0])).toEqual([0, 1, 2]);
  expect(await prune("t")).toEqual({ finished: 0, bumped: ownership.NO_CHANGE });
  // Being removed, with no partition left (they went some other way): finished, with nothing deleted.
  await fx.pool.query("UPDATE helix_cluster SET status = 2 WHERE cluster = ? AND task_list = 't'", [cluster]);
  await fx.pool.query("DELETE FROM helix_allocation WHERE cluster = ? AND task_list = 't'", [cluster]);
  expect(await prune("t")).toEqual({ finished: 1, bumped: bumps(0, 1, 1) });
  expect(await ownership.readCounters(fx.pool, cluster)).toEqual(bumps(1, 3, 5));
});

test("a weight is set only for a live member, which counts as a membership change", async () => {
  await register("a");
  await register("expired");
  await register("left");
  await expire("expired");
  await transaction(fx.pool, (c) => ownership.leaveCluster(c, { cluster, nodeId: "left", incarnation: incarnationOf("left") }));
  const counters = await ownership.readCounters(fx.pool, cluster);
  const setWeight = (nodeId: string) => transaction(fx.pool, (c) => ownership.setMemberWeight(c, { cluster, nodeId, weight: 0 }));
  for (const nodeId of ["ghost", "expired", "left"]) expect(await setWeight(nodeId)).toEqual({ found: false, bumped: ownership.NO_CHANGE });
  expect(await ownership.readCounters(fx.pool, cluster)).toEqual(counters);
  expect(await setWeight("a")).toEqual({ found: true, bumped: bumps(1, 0, 0) });
  expect(await ownership.readCounters(fx.pool, cluster)).toEqual({ ...counters, membership: counters.membership + 1 });
  const [weights] = await fx.pool.query<RowDataPacket[]>("SELECT node_id, weight FROM helix_nodes WHERE cluster = ? ORDER BY node_id", [
    cluster,
  ]);
  expect(weights.map((r): unknown[] => [r.node_id, r.weight])).toEqual([
    ["a", 0],
    ["expired", 1],
    ["left", 1],
  ]);
});

test("a heartbeat says whether the incarnation is live, and if so its assignment version", async () => {
  await register("a");
  const beat = (nodeId: string) =>
    ownership.heartbeatMember(fx.pool, { cluster, nodeId, incarnation: incarnationOf(nodeId), ttlMs: 60_000 });
  expect(await beat("a")).toEqual({ alive: true, assignmentVersion: (await assignmentVersions()).a });
  expect(await beat("ghost")).toEqual({ alive: false });
});

test("counters are created once, at zero, and added field by field", async () => {
  const stateRow = async () => {
    const [found] = await fx.pool.query<RowDataPacket[]>(
      "SELECT membership_version, catalog_version, ownership_version FROM helix_cluster_state WHERE cluster = ?",
      [cluster],
    );
    return found.map((r) => [r.membership_version, r.catalog_version, r.ownership_version].map(Number));
  };
  expect(await stateRow()).toEqual([]);
  await ownership.ensureCounters(fx.pool, cluster);
  expect(await stateRow()).toEqual([[0, 0, 0]]);
  await put(1);
  await ownership.ensureCounters(fx.pool, cluster);
  expect(await stateRow()).toEqual([[0, 1, 1]]);
  expect(ownership.addCounters(bumps(1, 2, 3), bumps(10, 20, 30))).toEqual(bumps(11, 22, 33));
});

test("member rows are locked and told in node id order across statements, the order every writer takes them in", async () => {
  // One statement locks its rows in index order whatever order it names them in; across
  // statements the order is the writer's. Two writers taking the same rows in different orders
  // could each hold what the other waits for.
  const nodeIds = Array.from({ length: 4500 }, (_, i) => `n${String((i * 7919) % 4500).padStart(5, "0")}`);
  const named: string[][] = [];
  const recording = (conn: QueryClient): QueryClient => ({
    query: (options) => {
      named.push(options.values.flat().filter((v): v is string => typeof v === "string" && v.startsWith("n")));
      return conn.query(options);
    },
  });
  await transaction(fx.pool, async (c) => {
    await ownership.lockMembers(recording(c), cluster, nodeIds);
    await ownership.tellMembers(recording(c), cluster, nodeIds);
  });
  expect(named.map((ids) => ids.length)).toEqual([2000, 2000, 500, 2000, 2000, 500]);
  for (const writer of [named.slice(0, 3), named.slice(3)]) expect(writer.flat()).toEqual([...nodeIds].sort());
});
