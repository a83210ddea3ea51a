// What the ownership writer decides in TypeScript, beside its SQL: which release requests it asks
// (only of the live incarnation that holds the partition as the caller saw it, for a live
// destination), what it reports as written when a statement wrote fewer rows than it was given,
// which members it tells, and what a leave gives back or keeps.
import { transaction } from "@helix/db/internal";
import type { RowDataPacket } from "mysql2/promise";

import { ownershipProtocol as ownership } from "../src/internal";
import { assignmentVersions, cluster, expire, fx, incarnationOf, newCluster, register, useOwnershipFixture } from "./ownership-fixture";

useOwnershipFixture();

beforeEach(async () => {
  await transaction(fx.pool, (c) => ownership.putTaskList(c, { cluster, domain: "d", taskList: "t", partitions: 8, metadata: "{}" }));
});

const change = (type: "assign" | "release", partition: number, generation: number, from: string | null, to: string | null) =>
  ({ type, domain: "d", taskList: "t", partition, generation, from, to }) as const;

const apply = (changes: readonly ownership.OwnershipChange[], options: { tellNewOwners?: boolean } = {}) =>
  transaction(fx.pool, (c) => ownership.applyOwnershipChanges(c, cluster, changes, 60_000, options));

/** Each row of task list "t": partition, state, generation, owner, incarnation, release target. */
async function rows(): Promise<unknown[][]> {
  const [found] = await fx.pool.query<RowDataPacket[]>(
    "SELECT partition_id, state, generation, node_id, incarnation, target_node_id FROM helix_allocation WHERE cluster = ? AND task_list = 't' ORDER BY partition_id",
    [cluster],
  );
  return found.map((r): unknown[] => [r.partition_id, r.state, r.generation, r.node_id, r.incarnation, r.target_node_id]);
}

const applied = (result: { applied: readonly { partition: number; newGeneration: number }[] }) =>
  result.applied.map((c) => [c.partition, c.newGeneration]);

test("a release is asked only of the live incarnation holding the partition, while it holds it, for a live destination", async () => {
  await register("a");
  await register("b");
  await apply([0, 1, 2, 3, 4, 5].map((p) => change("assign", p, 0, null, "a")));
  // 0 is asked already; 1 has no owner named; 2 is for a destination that is not live; 3 and 4 as
  // they should be; 5 is held by an earlier incarnation of a (its row names it; a registered again).
  expect(applied(await apply([change("release", 0, 1, "a", "b")]))).toEqual([[0, 1]]);
  await fx.pool.query("UPDATE helix_allocation SET incarnation = ? WHERE cluster = ? AND partition_id = 5", ["e".repeat(32), cluster]);
  const asked = await apply([
    change("release", 0, 1, "a", "a"),
    change("release", 1, 1, null, "b"),
    change("release", 2, 1, "a", "ghost"),
    change("release", 3, 1, "a", "b"),
    change("release", 4, 1, "a", null),
    change("release", 5, 1, "a", "b"),
  ]);
  expect(applied(asked)).toEqual([
    [3, 1],
    [4, 1],
  ]);
  const a = incarnationOf("a");
  expect(await rows()).toEqual([
    [0, 2, 1, "a", a, "b"],
    [1, 1, 1, "a", a, null],
    [2, 1, 1, "a", a, null],
    [3, 2, 1, "a", a, "b"],
    [4, 2, 1, "a", a, null],
    [5, 1, 1, "a", "e".repeat(32), null],
    [6, 0, 0, null, null, null],
    [7, 0, 0, null, null, null],
  ]);
});

test("a release is not asked of an owner that is no longer live, nor for a partition that has no row", async () => {
  await register("a");
  await register("gone");
  await apply([change("assign", 0, 0, null, "gone"), change("assign", 1, 0, null, "a")]);
  await expire("gone");
  const result = await apply([
    change("release", 0, 1, "gone", "a"),
    change("release", 99, 0, "a", null),
    change("release", 1, 1, "a", null),
  ]);
  expect(applied(result)).toEqual([[1, 1]]);
  expect((await rows()).slice(0, 2).map((r) => [r[1], r[3]])).toEqual([
    [1, "gone"],
    [2, "a"],
  ]);
});

test("a partition given to a member that is not live (never registered, or expired), or to nobody, or one with no row, is not assigned", async () => {
  await register("a");
  await register("dead");
  await expire("dead");
  const result = await apply([
    change("assign", 0, 0, null, "ghost"),
    change("assign", 1, 0, null, null),
    change("assign", 3, 0, null, "dead"),
    change("assign", 2, 0, null, "a"),
    change("assign", 99, 0, null, "a"),
  ]);
  expect(applied(result)).toEqual([[2, 1]]);
  expect(result.newOwners).toEqual(["a"]);
  expect(result.bumped).toEqual({ membership: 0, catalog: 0, ownership: 1 });
  expect((await rows()).slice(0, 4).map((r) => r[3])).toEqual([null, null, "a", null]);
});

test("releases asked of two owners in one statement's worth are stamped each with its own owner's next version", async () => {
  for (const nodeId of ["a", "b", "c"]) await register(nodeId);
  await apply([change("assign", 0, 0, null, "a"), change("assign", 1, 0, null, "b")]);
  await apply([change("assign", 2, 0, null, "b")]);
  const before = await assignmentVersions();
  await apply([change("release", 0, 1, "a", "c"), change("release", 1, 1, "b", "c")]);
  const [stamped] = await fx.pool.query<RowDataPacket[]>(
    "SELECT partition_id, owner_version FROM helix_allocation WHERE cluster = ? AND partition_id IN (0, 1) ORDER BY partition_id",
    [cluster],
  );
  expect(stamped.map((r) => Number(r.owner_version))).toEqual([before.a! + 1, before.b! + 1]);
  expect(before.a).not.toBe(before.b);
  expect((await rows()).slice(0, 2).map((r) => [r[1], r[5]])).toEqual([
    [2, "c"],
    [2, "c"],
  ]);
});

test("when a statement writes fewer rows than it was given, only those it wrote are reported", async () => {
  await register("a");
  await register("b");
  await apply([0, 1, 2, 3].map((p) => change("assign", p, 0, null, "a")));
  // Seen at generation 1, but meanwhile: 0 went to b at generation 2 (as the caller would have
  // written it, but for another owner), 1 to an earlier incarnation of b at generation 2, 2 moved on
  // to b's live incarnation at generation 5; 3 is free (its owner released it) and is written.
  await fx.pool.query("UPDATE helix_allocation SET generation = 2, node_id = 'a' WHERE cluster = ? AND partition_id = 0", [cluster]);
  await fx.pool.query("UPDATE helix_allocation SET generation = 2, node_id = 'b', incarnation = ? WHERE cluster = ? AND partition_id = 1", [
    "e".repeat(32),
    cluster,
  ]);
  await fx.pool.query("UPDATE helix_allocation SET generation = 5, node_id = 'b', incarnation = ? WHERE cluster = ? AND partition_id = 2", [
    incarnationOf("b"),
    cluster,
  ]);
  await fx.pool.query("UPDATE helix_allocation SET state = 3 WHERE cluster = ? AND partition_id = 3", [cluster]);
  const result = await apply([0, 1, 2, 3].map((p) => change("assign", p, 1, "a", "b")));
  expect(applied(result)).toEqual([[3, 2]]);
  expect(result.newOwners).toEqual(["b"]);
});

test("the owners asked to release are told at once; new owners too, unless the caller tells them later", async () => {
  await register("a");
  await register("b");
  await register("c");
  await apply([change("assign", 0, 0, null, "a")]);
  const before = await assignmentVersions();
  // A release asked of a, and 1 given to b, its telling left to the caller.
  const result = await apply([change("release", 0, 1, "a", "c"), change("assign", 1, 0, null, "b")], { tellNewOwners: false });
  expect(result.newOwners).toEqual(["b"]);
  const after = await assignmentVersions();
  expect([after.a! - before.a!, after.b! - before.b!, after.c! - before.c!]).toEqual([1, 0, 0]);
  await transaction(fx.pool, (c) => ownership.tellMembers(c, cluster, result.newOwners));
  expect((await assignmentVersions()).b! - before.b!).toBe(1);
  // Told at once by default.
  await apply([change("assign", 2, 0, null, "c")]);
  expect((await assignmentVersions()).c! - before.c!).toBe(1);
  // Nothing applied: nobody is told, and the ownership counter stays.
  const counters = await ownership.readCounters(fx.pool, cluster);
  const nothing = await apply([change("assign", 2, 0, null, "b")]);
  expect(nothing).toMatchObject({ applied: [], newOwners: [], bumped: ownership.NO_CHANGE });
  expect(await ownership.readCounters(fx.pool, cluster)).toEqual(counters);
  expect((await assignmentVersions()).b! - before.b!).toBe(1);
});

test("a confirmation counts only for partitions asked of that process, in each task list it names", async () => {
  await transaction(fx.pool, (c) => ownership.putTaskList(c, { cluster, domain: "d", taskList: "u", partitions: 2, metadata: "{}" }));
  await register("a");
  await register("b");
  await apply([
    change("assign", 0, 0, null, "a"),
    change("assign", 1, 0, null, "a"),
    { ...change("assign", 0, 0, null, "a"), taskList: "u" },
  ]);
  await apply([change("release", 0, 1, "a", "b"), { ...change("release", 0, 1, "a", "b"), taskList: "u" }]);
  const a = { cluster, nodeId: "a", incarnation: incarnationOf("a") };
  const owned = (partition: number, taskList = "t") => ({ domain: "d", taskList, partition, generation: 1 });
  // 1 was not asked; b does not own 0.
  expect(
    (await transaction(fx.pool, (c) => ownership.confirmReleases(c, { ...a, nodeId: "b", incarnation: incarnationOf("b") }, [owned(0)])))
      .confirmed,
  ).toEqual([]);
  const result = await transaction(fx.pool, (c) => ownership.confirmReleases(c, a, [owned(1), owned(0), owned(0, "u")]));
  expect(result.confirmed).toEqual([owned(0), owned(0, "u")]);
  expect((await rows()).slice(0, 2).map((r) => r[1])).toEqual([3, 1]);
});

test("a leave gives the member's partitions back, or with returningWithinMs keeps them for its node id and no incarnation", async () => {
  for (const [returning, expected] of [
    [0, [0, null, null]],
    [60_000, [1, "a", null]],
  ] as const) {
    newCluster();
    await transaction(fx.pool, (c) => ownership.putTaskList(c, { cluster, domain: "d", taskList: "t", partitions: 2, metadata: "{}" }));
    await register("a");
    await apply([change("assign", 0, 0, null, "a")]);
    const member = { cluster, nodeId: "a", incarnation: incarnationOf("a") };
    const left = await transaction(fx.pool, (c) => ownership.leaveCluster(c, member, returning));
    expect(left.bumped).toEqual({ membership: 1, catalog: 0, ownership: 1 });
    // Reserved: still the node id's, but no incarnation's (out of reach of the one that left).
    expect((await rows())[0]!.slice(1)).toEqual([expected[0], 1, expected[1], expected[2], null]);
    // Sent again: nothing more to do.
    expect((await transaction(fx.pool, (c) => ownership.leaveCluster(c, member, returning))).bumped).toEqual(ownership.NO_CHANGE);
  }
});

test("a hand-off goes ahead without the owner's confirmation only once both the force delay and the owner's TTL have passed", async () => {
  await register("a");
  await register("b");
  await apply([change("assign", 0, 0, null, "a")]);
  await apply([change("release", 0, 1, "a", "b")]);
  /** Moves the release request `agoMs` into the past, then tries the hand-off with a force delay of 120 s (the TTL is 60 s). */
  const handOff = async (agoMs: number) => {
    await fx.pool.query("UPDATE helix_allocation SET release_asked_at = UTC_TIMESTAMP(6) - INTERVAL ? MICROSECOND WHERE cluster = ?", [
      agoMs * 1000,
      cluster,
    ]);
    return transaction(fx.pool, (c) => ownership.applyOwnershipChanges(c, cluster, [change("assign", 0, 1, "a", "b")], 120_000));
  };
  expect(applied(await handOff(90_000))).toEqual([]);
  expect(applied(await handOff(121_000))).toEqual([[0, 2]]);
});

test("a leave that will return says how long its node id keeps its partitions", async () => {
  await register("a");
  await transaction(fx.pool, (c) => ownership.leaveCluster(c, { cluster, nodeId: "a", incarnation: incarnationOf("a") }, 60_000));
  const [[row]] = await fx.pool.query<RowDataPacket[]>("SELECT return_within_us FROM helix_nodes WHERE cluster = ? AND node_id = 'a'", [
    cluster,
  ]);
  expect(Number(row!.return_within_us)).toBe(60_000_000);
});

test("a sweep and a deletion of members move the membership counter exactly when they changed a member", async () => {
  const retention = 60_000;
  const goneFor = (nodeId: string, ms: number) =>
    fx.pool.query(
      "UPDATE helix_nodes SET status = 0, expires_at = UTC_TIMESTAMP(6) - INTERVAL ? MICROSECOND WHERE cluster = ? AND node_id = ?",
      [ms * 1000, cluster, nodeId],
    );
  const sweep = () => transaction(fx.pool, (c) => ownership.sweepExpiredMembers(c, cluster, retention));
  const deleteDeparted = () => transaction(fx.pool, (c) => ownership.deleteDepartedMembers(c, cluster, retention));
  await register("a");
  await register("b");
  // Nothing to mark or delete.
  expect(await sweep()).toEqual({ marked: 0, deleted: 0, bumped: ownership.NO_CHANGE });
  expect(await deleteDeparted()).toEqual({ deleted: 0, bumped: ownership.NO_CHANGE });
  // One to delete and none to mark: the counter moves by one.
  await goneFor("a", retention + 60_000);
  expect(await sweep()).toEqual({ marked: 0, deleted: 1, bumped: { membership: 1, catalog: 0, ownership: 0 } });
  await goneFor("b", retention + 60_000);
  expect(await deleteDeparted()).toEqual({ deleted: 1, bumped: { membership: 1, catalog: 0, ownership: 0 } });
});
