import { readdirSync, readFileSync, statSync } from "node:fs";
import { join as joinPath, sep } from "node:path";

import { MAX_ROWS_PER_STATEMENT, transaction, type QueryClient } from "@helix/db/internal";
import { fence } from "@helix/lock";
import type { RowDataPacket } from "mysql2/promise";

import { DatabaseUnavailableError, fencePartition, type ChangeCounters } from "../src";
import { ownershipProtocol as ownership } from "../src/internal";
import { cluster, fx, useOwnershipFixture } from "./ownership-fixture";

useOwnershipFixture();

/**
 * Runs one write of the protocol in a transaction and checks that what it reports as bumped is
 * exactly how far the cluster's counters moved.
 */
async function write<T extends { bumped: ChangeCounters }>(fn: (conn: QueryClient) => Promise<T>): Promise<T> {
  const before = await ownership.readCounters(fx.pool, cluster);
  const result = await transaction(fx.pool, fn);
  const after = await ownership.readCounters(fx.pool, cluster);
  expect({
    membership: after.membership - before.membership,
    catalog: after.catalog - before.catalog,
    ownership: after.ownership - before.ownership,
  }).toEqual(result.bumped);
  return result;
}

/** A write that finds nothing to change must move no counter (readers would wake for nothing). */
async function noop<T extends { bumped: ChangeCounters }>(fn: (conn: QueryClient) => Promise<T>): Promise<T> {
  const result = await write(fn);
  expect(result.bumped).toEqual(ownership.NO_CHANGE);
  return result;
}

const member = (nodeId: string, ttlMs = 60_000) => ({
  cluster,
  nodeId,
  incarnation: nodeId.padEnd(32, "0"),
  metadata: "{}",
  weight: 1,
  ttlMs,
});

test("every write reports exactly the counter bumps it made, and nothing when it changed nothing", async () => {
  const list = { cluster, domain: "d", taskList: "t" };
  expect((await write((c) => ownership.putTaskList(c, { ...list, partitions: 3, metadata: "{}" }))).result).toBe("created");
  expect((await noop((c) => ownership.putTaskList(c, { ...list, partitions: 3, metadata: "{}" }))).result).toBe("unchanged");
  expect((await write((c) => ownership.registerMember(c, member("a")))).registered).toBe(true);
  // Another process with a's node id is refused and changes nothing; a's own registration sent
  // again (its reply lost) is found.
  expect((await noop((c) => ownership.registerMember(c, { ...member("a"), incarnation: "z".repeat(32) }))).registered).toBe(false);
  expect((await write((c) => ownership.registerMember(c, member("a")))).registered).toBe(true);
  expect((await write((c) => ownership.registerMember(c, member("b")))).registered).toBe(true);

  const assign = (partition: number, to: string, generation = 0) =>
    ({ type: "assign", domain: "d", taskList: "t", partition, generation, from: null, to }) as const;
  const first = await write((c) => ownership.applyOwnershipChanges(c, cluster, [assign(0, "a"), assign(1, "a"), assign(2, "b")], 0));
  expect(first.applied.map((t) => t.newGeneration)).toEqual([1, 1, 1]);
  // At a generation the partition has left, and to a member that is not live: nothing applies.
  const stale = await noop((c) => ownership.applyOwnershipChanges(c, cluster, [assign(0, "b"), assign(1, "ghost", 1)], 0));
  expect(stale.applied).toEqual([]);

  const release = { type: "release", domain: "d", taskList: "t", partition: 0, generation: 1, from: "a", to: "b" } as const;
  expect((await write((c) => ownership.applyOwnershipChanges(c, cluster, [release], 0))).applied).toHaveLength(1);
  const a = { cluster, nodeId: "a", incarnation: member("a").incarnation };
  const a0 = { domain: "d", taskList: "t", partition: 0, generation: 1 };
  expect((await write((c) => ownership.confirmReleases(c, a, [a0]))).confirmed).toEqual([a0]);
  expect((await noop((c) => ownership.confirmReleases(c, a, [a0]))).confirmed).toEqual([]);

  // Shrinking retires partition 2 (owned by b: asked to release) and keeps the rest.
  expect((await write((c) => ownership.putTaskList(c, { ...list, partitions: 2, metadata: "{}" }))).result).toBe("changed");
  const nothingFree = await write((c) => ownership.pruneRetired(c, cluster, [{ domain: "d", taskList: "t" }]));
  expect(nothingFree.finished).toBe(0);

  // b leaves: its partitions are free, so pruning deletes partition 2 and a removal finishes.
  await write((c) => ownership.leaveCluster(c, { cluster, nodeId: "b", incarnation: member("b").incarnation }));
  await noop((c) => ownership.leaveCluster(c, { cluster, nodeId: "b", incarnation: member("b").incarnation }));
  expect((await write((c) => ownership.removeTaskList(c, list))).found).toBe(true);
  expect((await noop((c) => ownership.removeTaskList(c, { ...list, taskList: "none" }))).found).toBe(false);
  expect((await write((c) => ownership.pruneRetired(c, cluster, [{ domain: "d", taskList: "t" }]))).finished).toBe(0);
  await write((c) => ownership.leaveCluster(c, { cluster, nodeId: "a", incarnation: member("a").incarnation }));
  expect((await write((c) => ownership.pruneRetired(c, cluster, [{ domain: "d", taskList: "t" }]))).finished).toBe(1);
  expect((await noop((c) => ownership.pruneRetired(c, cluster, [{ domain: "d", taskList: "t" }]))).finished).toBe(0);

  // The sweep marks a member whose TTL passed, once.
  await write((c) => ownership.registerMember(c, member("short", 100)));
  await new Promise((resolve) => setTimeout(resolve, 150));
  expect((await write((c) => ownership.sweepExpiredMembers(c, cluster))).marked).toBe(1);
  expect((await noop((c) => ownership.sweepExpiredMembers(c, cluster))).marked).toBe(0);
});

test("members gone longer than the retention are deleted, longest gone first, unless an ownership row names them", async () => {
  const DAY_MS = 86_400_000;
  const retention = 7 * DAY_MS;
  /** Ends a member's registration `ms` ago by the database clock (still marked active). */
  const goneFor = async (nodeId: string, ms: number): Promise<void> => {
    await fx.pool.query("UPDATE helix_nodes SET expires_at = UTC_TIMESTAMP(6) - INTERVAL ? MICROSECOND WHERE cluster = ? AND node_id = ?", [
      ms * 1000,
      cluster,
      nodeId,
    ]);
  };
  const names = async (): Promise<string[]> => {
    const [rows] = await fx.pool.query<RowDataPacket[]>("SELECT node_id FROM helix_nodes WHERE cluster = ? ORDER BY node_id", [cluster]);
    return rows.map((r) => String(r.node_id));
  };
  for (const id of ["left", "owner", "recent", "live"]) await write((c) => ownership.registerMember(c, member(id)));
  await write((c) => ownership.putTaskList(c, { cluster, domain: "d", taskList: "t", partitions: 1, metadata: "{}" }));
  const assign = { type: "assign", domain: "d", taskList: "t", partition: 0, generation: 0, from: null, to: "owner" } as const;
  expect((await write((c) => ownership.applyOwnershipChanges(c, cluster, [assign], 0))).applied).toHaveLength(1);
  await write((c) => ownership.leaveCluster(c, { cluster, nodeId: "left", incarnation: member("left").incarnation }));
  await goneFor("left", retention + 60_000);
  await goneFor("owner", retention + 60_000); // dead long ago, yet still named by partition 0
  await goneFor("recent", retention - 60_000);

  const swept = await write((c) => ownership.sweepExpiredMembers(c, cluster, retention));
  expect(swept).toMatchObject({ marked: 2, deleted: 1 });
  expect(await names()).toEqual(["live", "owner", "recent"]);
  expect((await noop((c) => ownership.sweepExpiredMembers(c, cluster, retention))).deleted).toBe(0);

  // Once its partition has moved on (its owner is gone, so it goes at once), the owner goes too.
  const away = { ...assign, generation: 1, from: "owner", to: "live" } as const;
  expect((await write((c) => ownership.applyOwnershipChanges(c, cluster, [away], 0))).applied).toHaveLength(1);
  expect((await write((c) => ownership.deleteDepartedMembers(c, cluster, retention))).deleted).toBe(1);
  expect(await names()).toEqual(["live", "recent"]);

  // Bounded: `limit` at a time, the longest gone first.
  for (const [i, id] of ["x1", "x2", "x3"].entries()) {
    await write((c) => ownership.registerMember(c, member(id)));
    await goneFor(id, retention + (3 - i) * 60_000);
  }
  expect((await write((c) => ownership.deleteDepartedMembers(c, cluster, retention, 2))).deleted).toBe(2);
  expect(await names()).toEqual(["live", "recent", "x3"]);

  // A deleted node id registers again as a new member.
  expect((await write((c) => ownership.registerMember(c, member("left")))).registered).toBe(true);
  expect(await names()).toEqual(["left", "live", "recent", "x3"]);
});

/** Generated statements that write the members table, the ownership table or the change counters. */
const protocolWrites = [
  "registerMember",
  "heartbeatMember",
  "deregisterMember",
  "markExpiredMembersInactive",
  "deleteDepartedMembers",
  "bumpAssignmentVersions",
  "bumpMembershipVersion",
  "bumpCatalogVersion",
  "bumpOwnershipVersion",
  "ensureClusterState",
  "insertPartitions",
  "raiseGenerationFloor",
  "retireOwnedPartitionsFrom",
  "deleteFreePartitionsFrom",
  "assignPartitions",
  "requestPartitionsRelease",
  "confirmPartitionsRelease",
  "releaseMemberPartitions",
  "putTaskList",
  "markTaskListDeletable",
  "finishTaskListRemoval",
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = joinPath(dir, name);
    if (statSync(path).isDirectory()) return name === "generated" || name === "node_modules" ? [] : sourceFiles(path);
    return path.endsWith(".ts") ? [path] : [];
  });
}

test("no source file outside src/ownership/ runs a statement that writes those tables", () => {
  const root = joinPath(__dirname, "..", "..", "..");
  const files = ["packages", "apps"].flatMap((top) =>
    readdirSync(joinPath(root, top))
      .map((name) => joinPath(root, top, name, "src"))
      .filter((dir) => statSync(dir, { throwIfNoEntry: false })?.isDirectory() === true)
      .flatMap(sourceFiles),
  );
  expect(files.length).toBeGreaterThan(20);
  const call = new RegExp(`\\b(?:q|cq|clusterQueries|coordinatorQueries)\\.(${protocolWrites.join("|")})\\(`);
  const protocol = joinPath(root, "packages", "cluster", "src", "ownership");
  const offenders = files.filter((file) => !file.startsWith(protocol + sep) && call.test(readFileSync(file, "utf8")));
  expect(offenders).toEqual([]);
  // The protocol's own modules do run them (the pattern finds what it looks for).
  expect(sourceFiles(protocol).filter((file) => call.test(readFileSync(file, "utf8"))).length).toBeGreaterThanOrEqual(3);
});

test("a fence on a connection that died is a DatabaseUnavailableError, for partitions and leases alike", async () => {
  const dead = {
    query: () =>
      Promise.reject(
        Object.assign(new Error("Connection lost: The server closed the connection."), { code: "PROTOCOL_CONNECTION_LOST", fatal: true }),
      ),
  };
  const ownershipRef = { cluster, domain: "d", taskList: "t", partition: 0, nodeId: "a", incarnation: "a".repeat(32), generation: 1 };
  await expect(fencePartition(dead, ownershipRef)).rejects.toBeInstanceOf(DatabaseUnavailableError);
  await expect(fence(dead, "some-key", 1)).rejects.toBeInstanceOf(DatabaseUnavailableError);
});

test("bulk writes skip, and never overwrite, a partition that is not as the caller saw it", async () => {
  const list = { cluster, domain: "bulk", taskList: "t" };
  await transaction(fx.pool, (c) => ownership.putTaskList(c, { ...list, partitions: 6, metadata: "{}" }));
  for (const name of ["a", "b"]) await transaction(fx.pool, (c) => ownership.registerMember(c, member(name)));
  const change = (type: "assign" | "release", partition: number, generation: number, from: string | null, to: string | null) =>
    ({ type, domain: "bulk", taskList: "t", partition, generation, from, to }) as const;
  const apply = (changes: readonly ownership.OwnershipChange[]) =>
    transaction(fx.pool, (c) => ownership.applyOwnershipChanges(c, cluster, changes, 60_000));
  await apply([0, 1, 2, 3, 4, 5].map((p) => change("assign", p, 0, null, "a")));
  // In one statement's worth: partition 1 seen at a generation it has left, 2 asked of an owner it
  // does not have, 3 held by a live owner (the hand-off rule keeps it), 4 and 5 as seen.
  const mixed = await apply([
    change("release", 0, 1, "a", "b"),
    change("assign", 1, 0, null, "b"),
    change("release", 2, 1, "b", "a"),
    change("assign", 3, 1, "a", "b"),
    change("release", 4, 1, "a", "b"),
    change("release", 5, 1, "a", null),
  ]);
  expect(mixed.applied.map((t) => [t.partition, t.newGeneration])).toEqual([
    [0, 1],
    [4, 1],
    [5, 1],
  ]);
  const rows = await transaction(fx.pool, (c) =>
    Promise.all([0, 1, 2, 3, 4, 5].map((p) => ownership.currentOwner(c, { ...list, partition: p }))),
  );
  expect(rows.map((r) => r!.nodeId)).toEqual(["a", "a", "a", "a", "a", "a"]);
  const state = async (): Promise<unknown[]> => {
    const [found] = await fx.pool.query<RowDataPacket[]>(
      "SELECT partition_id, state, generation, target_node_id FROM helix_allocation WHERE domain = 'bulk' ORDER BY partition_id",
    );
    return found.map((r): unknown[] => [r.partition_id, r.state, r.generation, r.target_node_id]);
  };
  expect(await state()).toEqual([
    [0, 2, 1, "b"],
    [1, 1, 1, null],
    [2, 1, 1, null],
    [3, 1, 1, null],
    [4, 2, 1, "b"],
    [5, 2, 1, null],
  ]);

  // a confirms 0 and 4 (and, at a generation it does not own, 5; and 1, which nobody asked for);
  // another incarnation of a confirms nothing.
  const a = { cluster, nodeId: "a", incarnation: member("a").incarnation };
  const owned = (partition: number, generation = 1) => ({ domain: "bulk", taskList: "t", partition, generation });
  const impostor = { ...a, incarnation: "z".repeat(32) };
  expect((await transaction(fx.pool, (c) => ownership.confirmReleases(c, impostor, [owned(0)]))).confirmed).toEqual([]);
  const confirmed = await transaction(fx.pool, (c) => ownership.confirmReleases(c, a, [owned(0), owned(4), owned(5, 2), owned(1)]));
  expect(confirmed.confirmed).toEqual([owned(0), owned(4)]);
  expect(confirmed.bumped.ownership).toBe(1);
  // Now b may take 0 and 4 (released), not 5 (still a's); 0 at a generation it left is skipped.
  // prettier-ignore
  const handed = await apply([change("assign", 0, 1, "a", "b"), change("assign", 4, 1, "a", "b"), change("assign", 5, 1, "a", "b"), change("assign", 0, 0, "a", "b"),
    // Named twice at the generation the first changes: written once.
    change("assign", 4, 1, "a", "a")]);
  expect(handed.applied.map((t) => [t.partition, t.newGeneration])).toEqual([
    [0, 2],
    [4, 2],
  ]);
  expect(await state()).toEqual([
    [0, 1, 2, null],
    [1, 1, 1, null],
    [2, 1, 1, null],
    [3, 1, 1, null],
    [4, 1, 2, null],
    [5, 2, 1, null],
  ]);

  // Released, so the hand-off rule would let it go, but seen at a generation it has left: skipped.
  expect((await transaction(fx.pool, (c) => ownership.confirmReleases(c, a, [owned(5)]))).confirmed).toEqual([owned(5)]);
  expect((await apply([change("assign", 5, 0, null, "b")])).applied).toEqual([]);
  expect((await state())[5]).toEqual([5, 3, 1, null]);
  expect((await apply([change("assign", 5, 1, null, "b")])).applied.map((t) => [t.partition, t.newGeneration])).toEqual([[5, 2]]);
});

test("a batch with a time budget stops taking changes once it is spent, after at least one statement's worth", async () => {
  const run = MAX_ROWS_PER_STATEMENT;
  await transaction(fx.pool, (c) => ownership.putTaskList(c, { cluster, domain: "d", taskList: "t", partitions: run + 2, metadata: "{}" }));
  await transaction(fx.pool, (c) => ownership.registerMember(c, member("a")));
  const assign = (partition: number) =>
    ({ type: "assign", domain: "d", taskList: "t", partition, generation: 0, from: null, to: "a" }) as const;
  const batch = Array.from({ length: run + 2 }, (_, p) => assign(p));
  const spent = await transaction(fx.pool, (c) => ownership.applyOwnershipChanges(c, cluster, batch, 0, { budgetMs: 0 }));
  expect(spent.considered).toBe(run);
  expect(spent.applied.map((t) => t.partition)).toEqual(batch.slice(0, run).map((t) => t.partition));
  const rest = await transaction(fx.pool, (c) =>
    ownership.applyOwnershipChanges(c, cluster, batch.slice(spent.considered), 0, { budgetMs: 60_000 }),
  );
  expect(rest.considered).toBe(2);
  expect(rest.applied.map((t) => [t.partition, t.newGeneration])).toEqual([
    [run, 1],
    [run + 1, 1],
  ]);
});

test("runs of changes shrink while they are slow for the time budget, down to a floor, and grow back while they are fast", () => {
  const pace = new ownership.RunPace();
  expect(pace.size).toBe(MAX_ROWS_PER_STATEMENT);
  // A run that took more than a quarter of a 300 ms budget halves the next one.
  pace.record(MAX_ROWS_PER_STATEMENT, 100, 300);
  expect(pace.size).toBe(MAX_ROWS_PER_STATEMENT / 2);
  for (let i = 0; i < 20; i++) pace.record(pace.size, 1000, 300);
  expect(pace.size).toBe(ownership.RunPace.MIN_SIZE);
  // In between, it stays; a full run under a sixteenth of the budget doubles it, up to the most a statement takes.
  pace.record(pace.size, 50, 300);
  expect(pace.size).toBe(ownership.RunPace.MIN_SIZE);
  pace.record(pace.size, 10, 300);
  expect(pace.size).toBe(2 * ownership.RunPace.MIN_SIZE);
  // A short last run, fast or not, says nothing about a full one.
  pace.record(10, 1, 300);
  expect(pace.size).toBe(2 * ownership.RunPace.MIN_SIZE);
  for (let i = 0; i < 20; i++) pace.record(pace.size, 1, 300);
  expect(pace.size).toBe(MAX_ROWS_PER_STATEMENT);
});

test("a run's pace changes only past a quarter (slower) or under a sixteenth (faster) of the budget, and halves from the run it measured", () => {
  const pace = new ownership.RunPace();
  // Exactly a quarter, or exactly a sixteenth: it stays.
  pace.record(MAX_ROWS_PER_STATEMENT, 25, 100);
  expect(pace.size).toBe(MAX_ROWS_PER_STATEMENT);
  pace.record(MAX_ROWS_PER_STATEMENT, 100, 100);
  pace.record(MAX_ROWS_PER_STATEMENT / 2, 6.25, 100);
  expect(pace.size).toBe(MAX_ROWS_PER_STATEMENT / 2);
  // A slow short run halves what it took, not the size it was allowed.
  pace.record(400, 100, 100);
  expect(pace.size).toBe(200);
});

test("a slow batch takes smaller runs: each run's transaction holds the members' rows for less", async () => {
  await transaction(fx.pool, (c) => ownership.putTaskList(c, { cluster, domain: "d", taskList: "t", partitions: 500, metadata: "{}" }));
  await transaction(fx.pool, (c) => ownership.registerMember(c, member("a")));
  const batch = Array.from(
    { length: 500 },
    (_, partition) => ({ type: "assign", domain: "d", taskList: "t", partition, generation: 0, from: null, to: "a" }) as const,
  );
  const pace = new ownership.RunPace();
  pace.record(MAX_ROWS_PER_STATEMENT, 1000, 100);
  pace.record(pace.size, 1000, 100);
  pace.record(pace.size, 1000, 100);
  expect(pace.size).toBe(MAX_ROWS_PER_STATEMENT / 8);
  // The budget is spent (0 ms) after the first run: only that run's worth is taken.
  const first = await transaction(fx.pool, (c) => ownership.applyOwnershipChanges(c, cluster, batch, 0, { budgetMs: 0, pace }));
  expect(first.considered).toBe(MAX_ROWS_PER_STATEMENT / 8);
  expect(first.applied).toHaveLength(MAX_ROWS_PER_STATEMENT / 8);
  // That run took more than a quarter of no time at all: the pace halved again.
  expect(pace.size).toBe(MAX_ROWS_PER_STATEMENT / 16);
  // With time to spare every run is taken, and a full run that was fast doubles the pace.
  const rest = await transaction(fx.pool, (c) =>
    ownership.applyOwnershipChanges(c, cluster, batch.slice(first.considered), 0, { budgetMs: 60_000, pace }),
  );
  expect(rest.considered).toBe(500 - MAX_ROWS_PER_STATEMENT / 8);
  expect(rest.applied).toHaveLength(500 - MAX_ROWS_PER_STATEMENT / 8);
  expect(pace.size).toBe(MAX_ROWS_PER_STATEMENT / 8);
});
