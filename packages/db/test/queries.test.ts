import { createTestDatabase, type TestDatabase } from "@helix/testing";
import { createPool as createMysqlPool, type Pool, type RowDataPacket } from "mysql2/promise";

import { createPool, engineOfVersion, migrate, PartitionState, Status, TransitionKind, type Engine } from "../src/internal";
import * as cluster from "../src/generated/cluster";
import * as coordinator from "../src/generated/coordinator";
import * as locks from "../src/generated/locks";
import * as schema from "../src/generated/schema";
import * as server from "../src/generated/server";

// Every generated query runs here against the real, migrated schema. The list below must name
// every generated function, so a query added without a test here fails this file.
const called = new Set<string>();
function track<A extends unknown[], R>(name: string, fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return (...args) => {
    called.add(name);
    return fn(...args);
  };
}

// Every answer must mean the same whatever client the caller hands in: Helix's own pool, a plain
// mysql2 pool (FOUND_ROWS on, local time zone, JSON parsed) and one with every result flag flipped.
const clients: [string, (url: string) => Promise<Pool>][] = [
  ["Helix's pool", (url) => createPool(url)],
  ["a plain mysql2 pool", async (url) => createMysqlPool(url)],
  [
    "a mysql2 pool with every result flag flipped",
    async (url) =>
      createMysqlPool({
        uri: url,
        dateStrings: true,
        supportBigNumbers: true,
        bigNumberStrings: true,
        jsonStrings: false,
        decimalNumbers: true,
        timezone: "+05:00",
        namedPlaceholders: true,
      }),
  ],
];

/**
 * A fence check in both its forms, each tracked: the exclusive one runs on every engine; the shared
 * one runs where the engine takes shared row locks, and TiDB, which takes none, must refuse it.
 */
function bothForms<A, R>(
  engine: () => Engine,
  share: [string, (pool: Pool, args: A) => Promise<R>],
  update: [string, (pool: Pool, args: A) => Promise<R>],
): (pool: Pool, args: A) => Promise<R> {
  const [shareName, shareFn] = share;
  const forUpdate = track(...update);
  return async (pool, args) => {
    called.add(shareName);
    const answer = await forUpdate(pool, args);
    if (engine() === "tidb") await expect(shareFn(pool, args)).rejects.toMatchObject({ errno: 1235 });
    else expect(await shareFn(pool, args)).toEqual(answer);
    return answer;
  };
}

describe.each(clients)("through %s", (_, makePool) => {
  let db: TestDatabase;
  let pool: Pool;
  let engine: Engine;

  beforeAll(async () => {
    db = await createTestDatabase();
    const migrating = await createPool(db.url);
    await migrate(migrating);
    await migrating.end();
    pool = await makePool(db.url);
    const version = await track("server.serverVersion", server.serverVersion)(pool);
    engine = engineOfVersion(version!.version);
  });

  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  test("lock queries: acquire, contend, renew, release, take over, fence", async () => {
    const acquire = track("locks.acquireLock", locks.acquireLock);
    const first = await acquire(pool, { lockKey: "k", owner: "a", token: "t".repeat(32), ttlUs: 60_000_000 });
    expect(first.insertId).toBe(1);

    const contended = await acquire(pool, { lockKey: "k", owner: "b", token: "u".repeat(32), ttlUs: 60_000_000 });
    expect(contended.insertId).toBe(0);

    expect(await track("locks.renewLock", locks.renewLock)(pool, { ttlUs: 60_000_000, lockKey: "k", token: "t".repeat(32) })).toBe(1);
    expect(await locks.renewLock(pool, { ttlUs: 60_000_000, lockKey: "k", token: "u".repeat(32) })).toBe(0);

    const held = await track("locks.getLock", locks.getLock)(pool, { lockKey: "k" });
    expect(held).toMatchObject({ lockKey: "k", owner: "a", epoch: 1, status: Status.Active, held: 1 });
    expect(held!.expiresAt).toBeInstanceOf(Date);
    expect(held!.remainingUs).toBeGreaterThan(50_000_000);

    const fence = bothForms(
      () => engine,
      ["locks.checkLockEpochForShare", locks.checkLockEpochForShare],
      ["locks.checkLockEpochForUpdate", locks.checkLockEpochForUpdate],
    );
    expect(await fence(pool, { lockKey: "k", epoch: 1 })).toEqual({ epoch: 1 });

    expect(await track("locks.releaseLock", locks.releaseLock)(pool, { lockKey: "k", token: "t".repeat(32) })).toBe(1);
    expect(await fence(pool, { lockKey: "k", epoch: 1 })).toBeNull();

    const takeover = await acquire(pool, { lockKey: "k", owner: "b", token: "u".repeat(32), ttlUs: 60_000_000 });
    expect(takeover.insertId).toBe(2);
    expect(await locks.getLock(pool, { lockKey: "k" })).toMatchObject({ owner: "b", epoch: 2, held: 1 });
    expect(await locks.getLock(pool, { lockKey: "missing" })).toBeNull();

    // Pruning: a held row is never idle; a released one is, once idle long enough.
    const day = 86_400_000_000;
    const find = track("locks.findIdleLocks", locks.findIdleLocks);
    expect(await find(pool, { idleUs: 0, limit: 10 })).toEqual({ idle: 0, maxEpoch: 0, lastExpiryUs: 0 });
    expect(await locks.releaseLock(pool, { lockKey: "k", token: "u".repeat(32) })).toBe(1);
    await pool.query("UPDATE helix_locks SET expires_at = expires_at - INTERVAL 2 DAY WHERE lock_key = 'k'");
    const batch = await find(pool, { idleUs: day, limit: 10 });
    expect(batch).toMatchObject({ idle: 1, maxEpoch: 2 });
    const [[row]] = await pool.query<RowDataPacket[]>("SELECT TIMESTAMPDIFF(MICROSECOND, '1970-01-01', expires_at) AS us FROM helix_locks");
    expect(batch!.lastExpiryUs).toBe(Number(row!.us));
    await track("locks.raiseLockEpochFloor", locks.raiseLockEpochFloor)(pool, { maxEpoch: batch!.maxEpoch });
    await locks.raiseLockEpochFloor(pool, { maxEpoch: 1 }); // never lowers it
    const remove = track("locks.deleteIdleLocks", locks.deleteIdleLocks);
    // Only rows the floor covers go.
    expect(await remove(pool, { ...batch!, idleUs: day, limit: 10, maxEpoch: 1 })).toBe(0);
    expect(await remove(pool, { ...batch!, idleUs: day, limit: 10 })).toBe(1);
    expect(await locks.getLock(pool, { lockKey: "k" })).toBeNull();
    // The key comes back above every epoch it had; a new key starts above the floor too.
    expect((await acquire(pool, { lockKey: "k", owner: "a", token: "v".repeat(32), ttlUs: 60_000_000 })).insertId).toBe(3);
    expect((await acquire(pool, { lockKey: "new", owner: "a", token: "w".repeat(32), ttlUs: 60_000_000 })).insertId).toBe(3);
  });

  test("cluster queries: membership", async () => {
    const register = track("cluster.registerMember", cluster.registerMember);
    const node = { cluster: "c", nodeId: "n1", incarnation: "i".repeat(32), metadata: '{"zone":"a"}', weight: 3, ttlUs: 60_000_000 };
    expect(await register(pool, node)).toBe(1);
    expect(await register(pool, { ...node, incarnation: "j".repeat(32) })).toBe(0);
    // The same incarnation sending its registration again (a lost reply) finds it, version unchanged.
    expect(await register(pool, node)).toBe(1);

    const bumpVersions = track("cluster.bumpAssignmentVersions", cluster.bumpAssignmentVersions);
    expect(await bumpVersions(pool, { cluster: "c", nodeIds: ["n1", "nobody"] })).toBe(1);
    expect(await bumpVersions(pool, { cluster: "c", nodeIds: [] })).toBe(0);
    const watch = track("cluster.watchMembers", cluster.watchMembers);
    expect(await watch(pool, { cluster: "c", nodeIds: ["n1", "nobody"] })).toEqual([
      { nodeId: "n1", incarnation: "i".repeat(32), assignmentVersion: 2 },
    ]);
    const beat = await track("cluster.heartbeatMember", cluster.heartbeatMember)(pool, {
      ttlUs: 60_000_000,
      cluster: "c",
      nodeId: "n1",
      incarnation: "i".repeat(32),
    });
    expect(beat).toEqual({ affectedRows: 1, insertId: 2 });

    const nodes = await track("cluster.listMembers", cluster.listMembers)(pool, { cluster: "c" });
    expect(nodes).toHaveLength(1);
    expect(nodes[0]).toMatchObject({ nodeId: "n1", weight: 3, status: Status.Active, live: 1, assignmentVersion: 2 });
    expect(JSON.parse(nodes[0]!.metadata)).toEqual({ zone: "a" });
    expect(nodes[0]!.heartbeatAt).toBeInstanceOf(Date);
    expect(Math.abs(nodes[0]!.heartbeatAt.getTime() - Date.now())).toBeLessThan(60_000);

    const shortest = track("cluster.shortestMemberTtl", cluster.shortestMemberTtl);
    await register(pool, { ...node, nodeId: "n2", ttlUs: 2_000_000 });
    expect(await shortest(pool, { cluster: "c" })).toEqual({ ttlUs: 2_000_000 });
    expect(await cluster.deregisterMember(pool, { cluster: "c", nodeId: "n2", incarnation: "i".repeat(32) })).toBe(1);
    // A member that left holds up nothing; no registered member at all reads 0.
    expect(await shortest(pool, { cluster: "c" })).toEqual({ ttlUs: 60_000_000 });
    expect(await shortest(pool, { cluster: "nobody" })).toEqual({ ttlUs: 0 });
    await pool.query("DELETE FROM helix_nodes WHERE cluster = 'c' AND node_id = 'n2'");

    expect(await track("cluster.markExpiredMembersInactive", cluster.markExpiredMembersInactive)(pool, { cluster: "c" })).toBe(0);
    expect(
      await track("cluster.deregisterMember", cluster.deregisterMember)(pool, { cluster: "c", nodeId: "n1", incarnation: "i".repeat(32) }),
    ).toBe(1);
    expect((await cluster.listMembers(pool, { cluster: "c" }))[0]).toMatchObject({ status: Status.Inactive, live: 0 });
    expect(await register(pool, { ...node, incarnation: "j".repeat(32) })).toBe(3);

    // Retention: a member gone longer than it, named by no ownership row, is deleted.
    const day = 86_400_000_000;
    const purge = track("cluster.deleteDepartedMembers", cluster.deleteDepartedMembers);
    expect(await purge(pool, { cluster: "c", retentionUs: 0, limit: 10 })).toBe(0); // live
    expect(await cluster.deregisterMember(pool, { cluster: "c", nodeId: "n1", incarnation: "j".repeat(32) })).toBe(1);
    expect(await purge(pool, { cluster: "c", retentionUs: day, limit: 10 })).toBe(0); // gone just now
    await pool.query("UPDATE helix_nodes SET expires_at = expires_at - INTERVAL 2 DAY WHERE cluster = 'c'");
    expect(await purge(pool, { cluster: "c", retentionUs: day, limit: 10 })).toBe(1);
    expect(await cluster.listMembers(pool, { cluster: "c" })).toEqual([]);
    // Registering again makes a new row (its assignment version starts over); the next test wants J.
    expect(await register(pool, { ...node, incarnation: "j".repeat(32) })).toBe(1);
  });

  test("cluster queries: versions, catalog and ownership", async () => {
    const c = { cluster: "c" };
    await track("cluster.bumpMembershipVersion", cluster.bumpMembershipVersion)(pool, c);
    await track("cluster.bumpCatalogVersion", cluster.bumpCatalogVersion)(pool, c);
    await track("cluster.bumpCatalogVersion", cluster.bumpCatalogVersion)(pool, c);
    await track("cluster.bumpOwnershipVersion", cluster.bumpOwnershipVersion)(pool, c);
    expect(await track("cluster.getClusterState", cluster.getClusterState)(pool, c)).toEqual({
      membershipVersion: 1,
      catalogVersion: 2,
      ownershipVersion: 1,
    });

    const put = track("cluster.putTaskList", cluster.putTaskList);
    const key = { cluster: "c", domain: "d", taskList: "t" };
    const tl = { ...key, partitions: 2, metadata: "{}" };
    expect(await put(pool, tl)).toBe(1);
    expect(await put(pool, tl)).toBe(0);
    expect(await put(pool, { ...tl, partitions: 3 })).toBe(2);
    expect(await track("cluster.getTaskList", cluster.getTaskList)(pool, key)).toMatchObject({
      partitions: 3,
      version: 2,
      status: Status.Active,
    });
    expect(await track("cluster.listTaskLists", cluster.listTaskLists)(pool, c)).toHaveLength(1);
    const lockTaskList = track("cluster.lockTaskList", cluster.lockTaskList);
    expect(await lockTaskList(pool, key)).toEqual({ partitions: 3, status: Status.Active });
    expect(await lockTaskList(pool, { ...key, taskList: "none" })).toBeNull();

    const insert = track("cluster.insertPartitions", cluster.insertPartitions);
    expect(await insert(pool, { ...key, partitions: 3 })).toBe(3);
    expect(await insert(pool, { ...key, partitions: 3 })).toBe(0);
    const table = await track("cluster.listTaskListOwnership", cluster.listTaskListOwnership)(pool, key);
    expect(table.map((r) => [r.partitionId, r.nodeId, r.state])).toEqual([
      [0, null, PartitionState.Unassigned],
      [1, null, PartitionState.Unassigned],
      [2, null, PartitionState.Unassigned],
    ]);

    // n1 is live with incarnation J (registered again by the membership test); n9 never was.
    const J = "j".repeat(32);
    const n1 = { nodeId: "n1", incarnation: J };
    const n9 = { nodeId: "n9", incarnation: "9".repeat(32) };
    const lockRows = track("cluster.lockPartitions", cluster.lockPartitions);
    const assign = track("cluster.assignPartitions", cluster.assignPartitions);
    const p0 = { ...key, partitionId: 0 };
    const force = { forceAfterUs: 60_000_000, ownerVersion: 1 };
    expect(await assign(pool, { ...key, partitionIds: [0, 2], ...n1, ...force, generation: 0 })).toBe(2);
    // n1 holds them, live: the hand-off rule keeps them from anyone else; at the generation they
    // left, only the free one is taken.
    expect(await assign(pool, { ...key, partitionIds: [0, 2], ...n9, ...force, generation: 1 })).toBe(0);
    expect(await assign(pool, { ...key, partitionIds: [0, 2, 1], ...n9, ...force, generation: 0 })).toBe(1);
    expect(await assign(pool, { ...key, partitionIds: [], ...n9, ...force, generation: 0 })).toBe(0);
    expect(
      (await lockRows(pool, { ...key, partitionIds: [2, 0, 1, 7] })).map((r) => [
        r.partitionId,
        r.nodeId,
        r.incarnation,
        r.state,
        r.generation,
      ]),
    ).toEqual([
      [0, "n1", J, PartitionState.Assigned, 1],
      [1, "n9", n9.incarnation, PartitionState.Assigned, 1],
      [2, "n1", J, PartitionState.Assigned, 1],
    ]);
    const current = await track("cluster.getPartition", cluster.getPartition)(pool, p0);
    expect(current).toEqual({ nodeId: "n1", state: PartitionState.Assigned, generation: 1, targetNodeId: null });

    const request = track("cluster.requestPartitionsRelease", cluster.requestPartitionsRelease);
    expect(await request(pool, { ...key, partitionIds: [0], targetNodeId: "n9", ownerVersion: 2 })).toBe(1);
    expect(await request(pool, { ...key, partitionIds: [0], targetNodeId: "n9", ownerVersion: 3 })).toBe(0);
    expect(await assign(pool, { ...key, partitionIds: [0], ...n9, ...force, generation: 1 })).toBe(0);
    // Forcing never comes before the owner's TTL (60 s here) has passed since the request.
    expect(await assign(pool, { ...key, partitionIds: [0], ...n9, forceAfterUs: 0, ownerVersion: 1, generation: 1 })).toBe(0);
    const confirm = track("cluster.confirmPartitionsRelease", cluster.confirmPartitionsRelease);
    // Another process with the same node id cannot confirm for the owner.
    expect(await confirm(pool, { ...key, partitionIds: [0], nodeId: "n1", incarnation: "i".repeat(32) })).toBe(0);
    expect(await confirm(pool, { ...key, partitionIds: [0, 2], ...n1 })).toBe(1);
    // Released: free to go, but only at the generation it is at.
    expect(await assign(pool, { ...key, partitionIds: [0], ...n1, ...force, generation: 0 })).toBe(0);
    expect(await assign(pool, { ...key, partitionIds: [0], ...n1, ...force, generation: 1 })).toBe(1);
    // n9 (never registered) owns partition 1 only here; free it for what follows.
    await pool.query("UPDATE helix_allocation SET node_id = NULL, incarnation = NULL, state = 0 WHERE cluster = 'c' AND partition_id = 1");

    const fence = bothForms(
      () => engine,
      ["cluster.checkPartitionForShare", cluster.checkPartitionForShare],
      ["cluster.checkPartitionForUpdate", cluster.checkPartitionForUpdate],
    );
    expect(await fence(pool, { ...p0, ...n1, generation: 2 })).toEqual({ generation: 2 });
    expect(await fence(pool, { ...p0, ...n1, generation: 1 })).toBeNull();
    expect(await fence(pool, { ...p0, nodeId: "n1", incarnation: "i".repeat(32), generation: 2 })).toBeNull();
    const mine = track("cluster.listProcessOwnership", cluster.listProcessOwnership);
    expect((await mine(pool, { cluster: "c", ...n1 })).map((r) => [r.partitionId, r.generation])).toEqual([
      [0, 2],
      [2, 1],
    ]);
    expect(await mine(pool, { cluster: "c", nodeId: "n1", incarnation: "i".repeat(32) })).toEqual([]);
    // Both of n1's rows were stamped 1 by their assignments; partition 0 again by its release request
    // (2) and its second assignment (1, as the test passes it).
    const changed = track("cluster.listProcessOwnershipChanges", cluster.listProcessOwnershipChanges);
    await pool.query("UPDATE helix_allocation SET owner_version = 5 WHERE cluster = 'c' AND partition_id = 2");
    expect((await changed(pool, { cluster: "c", ...n1, since: 4 })).map((r) => [r.partitionId, r.generation])).toEqual([[2, 1]]);
    expect(await changed(pool, { cluster: "c", ...n1, since: 5 })).toEqual([]);
    expect((await changed(pool, { cluster: "c", ...n1, since: 0 })).map((r) => r.partitionId).sort()).toEqual([0, 2]);
    expect(await changed(pool, { cluster: "c", nodeId: "n1", incarnation: "i".repeat(32), since: 0 })).toEqual([]);

    expect(await track("cluster.listMemberOwnership", cluster.listMemberOwnership)(pool, { cluster: "c", nodeId: "n1" })).toEqual([
      { domain: "d", taskList: "t", partitionId: 0, state: PartitionState.Assigned, generation: 2, targetNodeId: null },
      { domain: "d", taskList: "t", partitionId: 2, state: PartitionState.Assigned, generation: 1, targetNodeId: null },
    ]);
    expect(await track("cluster.listClusterOwnership", cluster.listClusterOwnership)(pool, c)).toHaveLength(3);

    // Shrink to 2: partition 2 is owned, so it is asked for; nothing free lies beyond.
    const from2 = { ...key, firstPartition: 2 };
    expect(await track("cluster.deleteFreePartitionsFrom", cluster.deleteFreePartitionsFrom)(pool, from2)).toBe(0);
    const oldest = track("cluster.oldestReleaseRequest", cluster.oldestReleaseRequest);
    expect(await oldest(pool, c)).toEqual({ waitedUs: 0 });
    expect(
      (await track("cluster.lockPartitionsFrom", cluster.lockPartitionsFrom)(pool, from2)).map((r) => [r.partitionId, r.nodeId, r.state]),
    ).toEqual([[2, "n1", PartitionState.Assigned]]);
    const retire = track("cluster.retireOwnedPartitionsFrom", cluster.retireOwnedPartitionsFrom);
    expect(await retire(pool, { ...from2, nodeId: "n9", ownerVersion: 7 })).toBe(0);
    expect(await retire(pool, { ...from2, nodeId: "n1", ownerVersion: 7 })).toBe(1);
    expect((await changed(pool, { cluster: "c", ...n1, since: 6 })).map((r) => [r.partitionId, r.state])).toEqual([
      [2, PartitionState.ReleaseRequested],
    ]);
    const asked = track("cluster.listProcessReleaseRequests", cluster.listProcessReleaseRequests);
    expect((await asked(pool, { cluster: "c", ...n1 })).map((r) => [r.partitionId, r.generation])).toEqual([[2, 1]]);
    expect(await asked(pool, { cluster: "c", nodeId: "n1", incarnation: "i".repeat(32) })).toEqual([]);
    await pool.query(
      "UPDATE helix_allocation SET release_asked_at = release_asked_at - INTERVAL 30 SECOND WHERE cluster = 'c' AND state = 2",
    );
    const waited = (await oldest(pool, c))!.waitedUs;
    expect(waited).toBeGreaterThanOrEqual(30_000_000);
    expect(waited).toBeLessThan(40_000_000);
    expect(await confirm(pool, { ...key, partitionIds: [2], ...n1 })).toBe(1);
    expect(await cluster.deleteFreePartitionsFrom(pool, from2)).toBe(1);

    const releaseAll = track("cluster.releaseMemberPartitions", cluster.releaseMemberPartitions);
    expect(await releaseAll(pool, { cluster: "c", nodeId: "n1", incarnation: "i".repeat(32) })).toBe(0);
    expect(await releaseAll(pool, { cluster: "c", ...n1 })).toBe(1);
    expect(await track("cluster.markTaskListDeletable", cluster.markTaskListDeletable)(pool, key)).toBe(1);
    const finish = track("cluster.finishTaskListRemoval", cluster.finishTaskListRemoval);
    expect(await finish(pool, key)).toBe(0);
    const raise = track("cluster.raiseGenerationFloor", cluster.raiseGenerationFloor);
    expect(await raise(pool, { ...key, firstPartition: 0 })).toBe(1);
    expect(await cluster.deleteFreePartitionsFrom(pool, { ...key, firstPartition: 0 })).toBe(2);
    expect(await finish(pool, key)).toBe(1);
    expect(await cluster.listTaskLists(pool, c)).toEqual([]);
    // Put again, the task list's partitions start above every generation they had.
    expect(await put(pool, tl)).toBeGreaterThan(1);
    expect(await insert(pool, { ...key, partitions: 2 })).toBe(2);
    expect((await cluster.listTaskListOwnership(pool, key)).map((r) => r.generation)).toEqual([2, 2]);
  });

  test("coordinator queries: watching, planning reads, member locks, audit trail", async () => {
    const c = { cluster: "w" };
    expect(await track("coordinator.watchCluster", coordinator.watchCluster)(pool, c)).toBeNull();
    const ensure = track("coordinator.ensureClusterState", coordinator.ensureClusterState);
    expect(await ensure(pool, c)).toBe(1);
    expect(await ensure(pool, c)).toBe(0);
    expect(await coordinator.watchCluster(pool, c)).toEqual({
      membershipVersion: 0,
      catalogVersion: 0,
      ownershipVersion: 0,
      expiredMembers: 0,
    });

    const node = { cluster: "w", incarnation: "i".repeat(32), metadata: "{}", weight: 2 };
    await cluster.registerMember(pool, { ...node, nodeId: "live", ttlUs: 60_000_000 });
    await cluster.registerMember(pool, { ...node, nodeId: "dead", ttlUs: 1 });
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect((await coordinator.watchCluster(pool, c))!.expiredMembers).toBe(1);
    const nodes = await track("coordinator.listPlanningMembers", coordinator.listPlanningMembers)(pool, c);
    expect(nodes.map((n) => [n.nodeId, n.incarnation, n.weight, n.ttlUs, n.live])).toEqual([
      ["dead", "i".repeat(32), 2, 1, 0],
      ["live", "i".repeat(32), 2, 60_000_000, 1],
    ]);
    expect(nodes[0]!.sinceExpiryUs).toBeGreaterThan(0);
    expect(nodes[1]!.sinceExpiryUs).toBeLessThan(0);

    const lock = track("coordinator.lockMembers", coordinator.lockMembers);
    expect(await lock(pool, { cluster: "w", nodeIds: ["nobody", "live", "dead"] })).toEqual([
      { nodeId: "dead", incarnation: "i".repeat(32), live: 0, assignmentVersion: 1 },
      { nodeId: "live", incarnation: "i".repeat(32), live: 1, assignmentVersion: 1 },
    ]);
    expect(await lock(pool, { cluster: "w", nodeIds: [] })).toEqual([]);

    const key = { cluster: "w", domain: "d", taskList: "t" };
    await cluster.putTaskList(pool, { ...key, partitions: 2, metadata: "{}" });
    await cluster.insertPartitions(pool, { ...key, partitions: 2 });
    await cluster.assignPartitions(pool, {
      ...key,
      partitionIds: [1],
      nodeId: "live",
      incarnation: "i".repeat(32),
      generation: 0,
      forceAfterUs: 0,
      ownerVersion: 2,
    });
    await cluster.requestPartitionsRelease(pool, { ...key, partitionIds: [1], targetNodeId: null, ownerVersion: 2 });
    const table = await track("coordinator.listPlanningOwnership", coordinator.listPlanningOwnership)(pool, c);
    expect(table.map((r) => [r.partitionId, r.nodeId, r.incarnation, r.state, r.generation])).toEqual([
      [0, null, null, PartitionState.Unassigned, 0],
      [1, "live", "i".repeat(32), PartitionState.ReleaseRequested, 1],
    ]);
    expect(table[0]!.releaseAgeUs).toBe(-1);
    expect(table[1]!.releaseAgeUs).toBeGreaterThanOrEqual(0);

    const insert = track("coordinator.insertTransitions", coordinator.insertTransitions);
    const createdAt = new Date().toISOString().replace("T", " ").replace("Z", "");
    const transition = {
      ...key,
      createdAt,
      epoch: 7,
      kind: TransitionKind.Assigned,
      partitionId: 0,
      fromNodeId: null,
      toNodeId: "live",
      generation: 1,
    };
    expect(await insert(pool, [])).toBe(0);
    expect(
      await insert(pool, [transition, { ...transition, kind: TransitionKind.ReleaseRequested, fromNodeId: "live", toNodeId: "dead" }]),
    ).toBe(2);
    const history = await track("coordinator.listTransitions", coordinator.listTransitions)(pool, { cluster: "w", limit: 10 });
    expect(history.map((t) => [t.kind, t.fromNodeId, t.toNodeId])).toEqual([
      [TransitionKind.ReleaseRequested, "live", "dead"],
      [TransitionKind.Assigned, null, "live"],
    ]);
    expect(history[0]!.id).toBeGreaterThan(history[1]!.id);
    const trim = track("coordinator.deleteTransitionsBefore", coordinator.deleteTransitionsBefore);
    expect(await trim(pool, { cluster: "w", retentionUs: 60_000_000, limit: 10 })).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await trim(pool, { cluster: "w", retentionUs: 1, limit: 1 })).toBe(1);
    expect(await coordinator.listTransitions(pool, { cluster: "w", limit: 10 })).toHaveLength(1);
  });

  test("schema queries: the migration lease and bookkeeping", async () => {
    const rows = await track("schema.listSchemaMigrations", schema.listSchemaMigrations)(pool);
    expect(rows.every((r) => r.finishedAt instanceof Date)).toBe(true);

    const acquire = track("schema.acquireSchemaLock", schema.acquireSchemaLock);
    expect(await acquire(pool, { owner: "a", token: "a".repeat(32), ttlUs: 60_000_000 })).toBeGreaterThan(0);
    expect(await acquire(pool, { owner: "b", token: "b".repeat(32), ttlUs: 60_000_000 })).toBe(0);
    expect(await track("schema.renewSchemaLock", schema.renewSchemaLock)(pool, { ttlUs: 60_000_000, token: "a".repeat(32) })).toBe(1);

    await track("schema.startSchemaMigration", schema.startSchemaMigration)(pool, {
      version: 999,
      name: "probe",
      checksum: "0".repeat(64),
    });
    const record = track("schema.recordSchemaStatement", schema.recordSchemaStatement);
    expect(await record(pool, { statementsApplied: 1, version: 999, token: "a".repeat(32) })).toBe(1);
    expect(await record(pool, { statementsApplied: 2, version: 999, token: "b".repeat(32) })).toBe(0);
    expect(await track("schema.finishSchemaMigration", schema.finishSchemaMigration)(pool, { version: 999 })).toBe(1);
    expect(await track("schema.releaseSchemaLock", schema.releaseSchemaLock)(pool, { token: "a".repeat(32) })).toBe(1);
    expect(await acquire(pool, { owner: "b", token: "b".repeat(32), ttlUs: 60_000_000 })).toBeGreaterThan(0);
    await pool.query("DELETE FROM helix_schema_migrations WHERE version = 999");
  });

  test("server queries: the database clock", async () => {
    const row = await track("server.serverTime", server.serverTime)(pool);
    // The test server runs on this machine, with this machine's clock.
    expect(Math.abs(row!.nowUs / 1000 - Date.now())).toBeLessThan(5000);
    expect(Number.isSafeInteger(row!.nowUs)).toBe(true);
  });

  test("server queries: a session as the server describes it, found again by its id", async () => {
    const conn = await pool.getConnection();
    try {
      const [rows] = await conn.query<RowDataPacket[]>("SELECT CONNECTION_ID() AS id, CURRENT_USER() AS user");
      const own = await track("server.ownSession", server.ownSession)(conn);
      expect(own).toMatchObject({ id: Number(rows[0]!.id), userName: String(rows[0]!.user).split("@")[0] });
      // Over TCP, the address carries the client's port: unique among the server's connections.
      expect(own!.clientAddress).toMatch(/:\d+$/);
      expect(own!.serverPort).toBeGreaterThan(0);
      expect(own!.serverHost.length).toBeGreaterThan(0);
      const byId = track("server.sessionById", server.sessionById);
      // From another connection of the same pool, the same description; an id in use by no one, none.
      expect(await byId(pool, { id: own!.id })).toEqual(own);
      expect(await byId(pool, { id: 4_000_000_000 })).toBeNull();
    } finally {
      conn.release();
    }
  });

  test("server queries: a TiDB session, whichever tidb-server it is on (TiDB only; elsewhere the table does not exist)", async () => {
    const tidbSession = track("server.tidbSession", server.tidbSession);
    const conn = await pool.getConnection();
    try {
      const own = (await server.ownSession(conn))!;
      if (engine === "tidb") {
        // Asked on the session itself, which is running that very statement.
        expect(await tidbSession(conn, own)).toEqual({ command: "Query", userName: own.userName, clientAddress: own.clientAddress });
        expect(await tidbSession(pool, { id: 4_000_000_000 })).toBeNull();
      } else {
        await expect(tidbSession(conn, own)).rejects.toMatchObject({ code: "ER_UNKNOWN_TABLE" });
      }
    } finally {
      conn.release();
    }
  });
});

afterAll(() => {
  const generated = [
    ...Object.entries(cluster).map(([k, v]) => ["cluster", k, v] as const),
    ...Object.entries(coordinator).map(([k, v]) => ["coordinator", k, v] as const),
    ...Object.entries(locks).map(([k, v]) => ["locks", k, v] as const),
    ...Object.entries(schema).map(([k, v]) => ["schema", k, v] as const),
    ...Object.entries(server).map(([k, v]) => ["server", k, v] as const),
  ]
    .filter(([, , v]) => typeof v === "function")
    .map(([m, k]) => `${m}.${k}`);
  expect(generated.length).toBeGreaterThan(20);
  expect([...called].sort()).toEqual(generated.sort());
});
