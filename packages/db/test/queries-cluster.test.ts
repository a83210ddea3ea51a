import { PartitionState, Status } from "../src/internal";
import * as cluster from "../src/generated/cluster";
import * as coordinator from "../src/generated/coordinator";
import { bothForms, clients, engine, expectEveryQueryCalled, pool, track, useQueriesFixture } from "./queries-fixture";

describe.each(clients)("through %s", (_, makePool) => {
  useQueriesFixture(makePool);

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

    // A weight set on the live registration only (n1 is live here).
    const setWeight = track("cluster.setMemberWeight", cluster.setMemberWeight);
    expect(await setWeight(pool, { cluster: "c", nodeId: "n1", weight: 0 })).toBe(1);
    expect(await setWeight(pool, { cluster: "c", nodeId: "nobody", weight: 0 })).toBe(0);
    expect((await cluster.listMembers(pool, { cluster: "c" }))[0]).toMatchObject({ nodeId: "n1", weight: 0 });
    expect(await setWeight(pool, { cluster: "c", nodeId: "n1", weight: 3 })).toBe(1);

    const shortest = track("cluster.shortestMemberTtl", cluster.shortestMemberTtl);
    await register(pool, { ...node, nodeId: "n2", ttlUs: 2_000_000 });
    expect(await shortest(pool, { cluster: "c" })).toEqual({ ttlUs: 2_000_000 });
    expect(await cluster.deregisterMember(pool, { cluster: "c", nodeId: "n2", incarnation: "i".repeat(32), returnWithinUs: 0 })).toBe(1);
    // A member that left holds up nothing; no registered member at all reads 0.
    expect(await shortest(pool, { cluster: "c" })).toEqual({ ttlUs: 60_000_000 });
    expect(await shortest(pool, { cluster: "nobody" })).toEqual({ ttlUs: 0 });
    await pool.query("DELETE FROM helix_nodes WHERE cluster = 'c' AND node_id = 'n2'");

    expect(await track("cluster.markExpiredMembersInactive", cluster.markExpiredMembersInactive)(pool, { cluster: "c" })).toBe(0);
    expect(
      await track("cluster.deregisterMember", cluster.deregisterMember)(pool, {
        cluster: "c",
        nodeId: "n1",
        incarnation: "i".repeat(32),
        returnWithinUs: 5_000_000,
      }),
    ).toBe(1);
    expect((await cluster.listMembers(pool, { cluster: "c" }))[0]).toMatchObject({ status: Status.Inactive, live: 0 });
    const returnWithin = async () =>
      (await coordinator.listPlanningMembers(pool, { cluster: "c" })).find((m) => m.nodeId === "n1")!.returnWithinUs;
    expect(await returnWithin()).toBe(5_000_000);
    expect(await register(pool, { ...node, incarnation: "j".repeat(32) })).toBe(3);
    // Its next process is back: its own leave starts from 0 again.
    expect(await returnWithin()).toBe(0);

    // Retention: a member gone longer than it, named by no ownership row, is deleted.
    const day = 86_400_000_000;
    const purge = track("cluster.deleteDepartedMembers", cluster.deleteDepartedMembers);
    expect(await purge(pool, { cluster: "c", retentionUs: 0, limit: 10 })).toBe(0); // live
    expect(await cluster.deregisterMember(pool, { cluster: "c", nodeId: "n1", incarnation: "j".repeat(32), returnWithinUs: 0 })).toBe(1);
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
    // Nor before forceAfterUs when the owner's TTL is the shorter: the later of the two.
    await pool.query("UPDATE helix_nodes SET ttl_us = 1 WHERE cluster = 'c' AND node_id = 'n1'");
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await assign(pool, { ...key, partitionIds: [0], ...n9, ...force, generation: 1 })).toBe(0);
    await pool.query("UPDATE helix_nodes SET ttl_us = 60000000 WHERE cluster = 'c' AND node_id = 'n1'");
    const fence = bothForms(
      () => engine,
      ["cluster.checkPartitionForShare", cluster.checkPartitionForShare],
      ["cluster.checkPartitionForUpdate", cluster.checkPartitionForUpdate],
    );
    // Asked to release but not released yet, the owner still passes its fence.
    expect(await fence(pool, { ...p0, ...n1, generation: 1 })).toEqual({ generation: 1 });
    const confirm = track("cluster.confirmPartitionsRelease", cluster.confirmPartitionsRelease);
    // Another process with the same node id cannot confirm for the owner.
    expect(await confirm(pool, { ...key, partitionIds: [0], nodeId: "n1", incarnation: "i".repeat(32) })).toBe(0);
    expect(await confirm(pool, { ...key, partitionIds: [0, 2], ...n1 })).toBe(1);
    // Released, its fence fails at once, though the row still names it at the same generation.
    expect(await cluster.getPartition(pool, p0)).toMatchObject({ nodeId: "n1", state: PartitionState.Released, generation: 1 });
    expect(await fence(pool, { ...p0, ...n1, generation: 1 })).toBeNull();
    // Released: free to go, but only at the generation it is at.
    expect(await assign(pool, { ...key, partitionIds: [0], ...n1, ...force, generation: 0 })).toBe(0);
    expect(await assign(pool, { ...key, partitionIds: [0], ...n1, ...force, generation: 1 })).toBe(1);
    // n9 (never registered) owns partition 1 only here; free it for what follows.
    await pool.query("UPDATE helix_allocation SET node_id = NULL, incarnation = NULL, state = 0 WHERE cluster = 'c' AND partition_id = 1");

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

  test("a leave makes what the process owns unassigned and leaves what it released to its hand-off", async () => {
    const key = { cluster: "q", domain: "d", taskList: "t" };
    const owner = { nodeId: "n1", incarnation: "k".repeat(32) };
    await cluster.putTaskList(pool, { ...key, partitions: 2, metadata: "{}" });
    await cluster.insertPartitions(pool, { ...key, partitions: 2 });
    await cluster.assignPartitions(pool, { ...key, partitionIds: [0, 1], ...owner, generation: 0, forceAfterUs: 0, ownerVersion: 1 });
    await cluster.requestPartitionsRelease(pool, { ...key, partitionIds: [1], targetNodeId: "n2", ownerVersion: 2 });
    await cluster.confirmPartitionsRelease(pool, { ...key, partitionIds: [1], ...owner });
    expect(await cluster.releaseMemberPartitions(pool, { cluster: "q", ...owner })).toBe(1);
    const rows = await coordinator.listPlanningOwnership(pool, { cluster: "q" });
    expect(rows.map((r) => [r.partitionId, r.nodeId, r.state, r.targetNodeId])).toEqual([
      [0, null, PartitionState.Unassigned, null],
      [1, "n1", PartitionState.Released, "n2"],
    ]);
  });

  test("a leave saying the member will be back keeps its partitions with its node id, out of its process's reach", async () => {
    const key = { cluster: "r", domain: "d", taskList: "t" };
    const owner = { nodeId: "n1", incarnation: "k".repeat(32) };
    await cluster.putTaskList(pool, { ...key, partitions: 3, metadata: "{}" });
    await cluster.insertPartitions(pool, { ...key, partitions: 3 });
    await cluster.assignPartitions(pool, { ...key, partitionIds: [0, 1], ...owner, generation: 0, forceAfterUs: 0, ownerVersion: 1 });
    await cluster.requestPartitionsRelease(pool, { ...key, partitionIds: [1], targetNodeId: "n2", ownerVersion: 2 });
    const reserve = track("cluster.reserveMemberPartitions", cluster.reserveMemberPartitions);
    expect(await reserve(pool, { cluster: "r", nodeId: "n1", incarnation: "i".repeat(32) })).toBe(0);
    expect(await reserve(pool, { cluster: "r", ...owner })).toBe(2);
    const rows = await coordinator.listPlanningOwnership(pool, { cluster: "r" });
    expect(rows.map((r) => [r.partitionId, r.nodeId, r.incarnation, r.state, r.generation, r.targetNodeId])).toEqual([
      [0, "n1", null, PartitionState.Assigned, 1, null],
      // A release it was asked for counts as confirmed.
      [1, "n1", null, PartitionState.Released, 1, "n2"],
      [2, null, null, PartitionState.Unassigned, 0, null],
    ]);
    expect(await cluster.checkPartitionForUpdate(pool, { ...key, partitionId: 0, ...owner, generation: 1 })).toBeNull();
    expect(await cluster.listProcessOwnership(pool, { cluster: "r", ...owner })).toEqual([]);
  });
});

expectEveryQueryCalled("cluster");
