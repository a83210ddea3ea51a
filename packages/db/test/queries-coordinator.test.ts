import { PartitionState, TransitionCause, TransitionKind } from "../src/internal";
import * as cluster from "../src/generated/cluster";
import * as coordinator from "../src/generated/coordinator";
import { clients, expectEveryQueryCalled, pool, track, useQueriesFixture } from "./queries-fixture";

describe.each(clients)("through %s", (_, makePool) => {
  useQueriesFixture(makePool);

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
    // Partition 0 was never given to anyone; 1 was.
    expect(table.map((r) => [r.partitionId, r.nodeId, r.incarnation, r.state, r.generation, r.neverOwned])).toEqual([
      [0, null, null, PartitionState.Unassigned, 0, 1],
      [1, "live", "i".repeat(32), PartitionState.ReleaseRequested, 1, 0],
    ]);
    expect(table[0]!.releaseAgeUs).toBe(-1);
    expect(table[1]!.releaseAgeUs).toBeGreaterThanOrEqual(0);

    // Without an owner: unassigned, or released by its owner once it confirmed (not while asked).
    const free = track("coordinator.listFreePartitions", coordinator.listFreePartitions);
    const describe = (rows: Awaited<ReturnType<typeof free>>) =>
      rows.map((r) => [r.partitionId, r.nodeId, r.state, r.generation, r.targetNodeId]);
    expect(describe(await free(pool, c))).toEqual([[0, null, PartitionState.Unassigned, 0, null]]);
    await cluster.confirmPartitionsRelease(pool, { ...key, partitionIds: [1], nodeId: "live", incarnation: "i".repeat(32) });
    expect(describe(await free(pool, c))).toEqual([
      [0, null, PartitionState.Unassigned, 0, null],
      [1, "live", PartitionState.Released, 1, null],
    ]);
    expect(await free(pool, { cluster: "other" })).toEqual([]);

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
      cause: TransitionCause.TaskList,
      actor: "leader-1",
      partitionCount: 1,
      partitions: null,
    };
    expect(await insert(pool, [])).toBe(0);
    expect(
      await insert(pool, [
        transition,
        {
          ...transition,
          kind: TransitionKind.ReleaseRequested,
          fromNodeId: "live",
          toNodeId: "dead",
          cause: TransitionCause.Join,
          actor: null,
          partitionCount: 2,
          partitions: "0:1,1:4",
        },
      ]),
    ).toBe(2);
    const list = track("coordinator.listTransitions", coordinator.listTransitions);
    const history = await list(pool, { cluster: "w", beforeId: Number.MAX_SAFE_INTEGER, limit: 10 });
    expect(history.map((t) => [t.kind, t.fromNodeId, t.toNodeId, t.cause, t.actor, t.partitionCount, t.partitions])).toEqual([
      [TransitionKind.ReleaseRequested, "live", "dead", TransitionCause.Join, null, 2, "0:1,1:4"],
      [TransitionKind.Assigned, null, "live", TransitionCause.TaskList, "leader-1", 1, null],
    ]);
    expect(history[0]!.id).toBeGreaterThan(history[1]!.id);
    // Rows before a row: the older one alone.
    expect((await list(pool, { cluster: "w", beforeId: history[0]!.id, limit: 10 })).map((t) => t.id)).toEqual([history[1]!.id]);
    const trim = track("coordinator.deleteTransitionsBefore", coordinator.deleteTransitionsBefore);
    expect(await trim(pool, { cluster: "w", retentionUs: 60_000_000, limit: 10 })).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await trim(pool, { cluster: "w", retentionUs: 1, limit: 1 })).toBe(1);
    expect(await list(pool, { cluster: "w", beforeId: Number.MAX_SAFE_INTEGER, limit: 10 })).toHaveLength(1);
  });

  test("coordinator queries: maintenance started, changed, expired and ended", async () => {
    const scope = { cluster: "m", domain: "", taskList: "" };
    const put = track("coordinator.putMaintenance", coordinator.putMaintenance);
    const list = track("coordinator.listMaintenance", coordinator.listMaintenance);
    const deleteEnded = track("coordinator.deleteEndedMaintenance", coordinator.deleteEndedMaintenance);
    await put(pool, { ...scope, reason: "one", actor: "a", expiresInUs: 0 });
    await put(pool, { ...scope, domain: "d", taskList: "t", reason: "short", actor: "b", expiresInUs: 1000 });
    const [first] = await list(pool, { cluster: "m" });
    // 0: no expiry, and -1 left.
    expect(first).toMatchObject({ domain: "", taskList: "", reason: "one", actor: "a", expiresAt: null, remainingUs: -1 });
    expect(first!.onForUs).toBeGreaterThanOrEqual(0);
    await new Promise((resolve) => setTimeout(resolve, 5));
    // The one whose expiry passed is listed with no time left.
    const [, ended] = await list(pool, { cluster: "m" });
    expect(ended).toMatchObject({ domain: "d", taskList: "t", reason: "short" });
    expect(ended!.remainingUs).toBeLessThanOrEqual(0);
    // A second put changes the reason, actor and expiry, and keeps the start.
    await put(pool, { ...scope, reason: "two", actor: "c", expiresInUs: 60_000_000 });
    const [second] = await list(pool, { cluster: "m" });
    expect(second).toMatchObject({ reason: "two", actor: "c", startedAt: first!.startedAt });
    expect(second!.remainingUs).toBeGreaterThan(59_000_000);
    expect(second!.expiresAt!.getTime() - second!.startedAt.getTime()).toBeGreaterThanOrEqual(60_000);
    // Only the ended one is deleted by deleteEndedMaintenance.
    expect(await deleteEnded(pool, scope)).toBe(0);
    expect(await deleteEnded(pool, { ...scope, domain: "d", taskList: "t" })).toBe(1);
    const remove = track("coordinator.deleteMaintenance", coordinator.deleteMaintenance);
    expect(await remove(pool, scope)).toBe(1);
    expect(await remove(pool, scope)).toBe(0);
    expect(await list(pool, { cluster: "m" })).toEqual([]);
  });

  test("coordinator queries: placements made, replaced, lapsed and lifted", async () => {
    const c = { cluster: "p" };
    const node = { cluster: "p", metadata: "{}", weight: 1, ttlUs: 60_000_000 };
    await cluster.registerMember(pool, { ...node, nodeId: "a", incarnation: "a".repeat(32) });
    await cluster.registerMember(pool, { ...node, nodeId: "b", incarnation: "b".repeat(32) });
    const live = track("coordinator.getLiveMember", coordinator.getLiveMember);
    expect(await live(pool, { cluster: "p", nodeId: "a" })).toEqual({ nodeId: "a", incarnation: "a".repeat(32), weight: 1 });
    expect(await live(pool, { cluster: "p", nodeId: "nobody" })).toBeNull();

    const put = track("coordinator.putPlacement", coordinator.putPlacement);
    const list = track("coordinator.listPlacements", coordinator.listPlacements);
    const at = { cluster: "p", domain: "d", taskList: "t" };
    await put(pool, { ...at, partitionId: 1, nodeId: "a", incarnation: "", reason: "pin", actor: "x" });
    await put(pool, { ...at, partitionId: 2, nodeId: "b", incarnation: "b".repeat(32), reason: "move", actor: "y" });
    await put(pool, { ...at, partitionId: 3, nodeId: "b", incarnation: "old".padEnd(32, "0"), reason: "stale", actor: "y" });
    expect((await list(pool, c)).map((p) => [p.partitionId, p.nodeId, p.reason, p.holds])).toEqual([
      [1, "a", "pin", 1],
      [2, "b", "move", 1],
      [3, "b", "stale", 0],
    ]);
    // A second placement of a partition replaces the first.
    await put(pool, { ...at, partitionId: 1, nodeId: "b", incarnation: "", reason: "again", actor: "z" });
    expect((await list(pool, c))[0]).toMatchObject({ partitionId: 1, nodeId: "b", reason: "again", actor: "z" });
    expect(await track("coordinator.deleteLapsedPlacements", coordinator.deleteLapsedPlacements)(pool, c)).toBe(1);
    expect((await list(pool, c)).map((p) => p.partitionId)).toEqual([1, 2]);

    // Every partition a member owns, in the catalog's active task lists, within its count (3 here, a row for 4).
    await cluster.putTaskList(pool, { ...at, partitions: 3, metadata: "{}" });
    await cluster.insertPartitions(pool, { ...at, partitions: 4 });
    await pool.query("UPDATE helix_allocation SET node_id = 'a', state = 1 WHERE cluster = 'p'");
    const moveAll = track("coordinator.putOwnerPlacements", coordinator.putOwnerPlacements);
    expect(await moveAll(pool, { cluster: "p", ownerNodeId: "nobody", nodeId: "b", incarnation: "", reason: "", actor: "x" })).toBe(0);
    expect(
      await moveAll(pool, { cluster: "p", ownerNodeId: "a", nodeId: "b", incarnation: "", reason: "all", actor: "x" }),
    ).toBeGreaterThan(0);
    expect((await list(pool, c)).map((p) => [p.partitionId, p.nodeId, p.reason])).toEqual([
      [0, "b", "all"],
      [1, "b", "all"],
      [2, "b", "all"],
    ]);

    const lift = track("coordinator.deletePlacement", coordinator.deletePlacement);
    expect(await lift(pool, { ...at, partitionId: 0 })).toBe(1);
    expect(await lift(pool, { ...at, partitionId: 0 })).toBe(0);
    const liftAll = track("coordinator.deleteMemberPlacements", coordinator.deleteMemberPlacements);
    expect(await liftAll(pool, { cluster: "p", nodeId: "b" })).toBe(2);
    expect(await list(pool, c)).toEqual([]);
  });
});

expectEveryQueryCalled("coordinator");
