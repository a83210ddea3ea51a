// A round's transitions split into lanes with no member in common, and the lanes written at once.
import { setTimeout as sleep } from "node:timers/promises";

import type { RowDataPacket } from "mysql2/promise";

import { createLocker } from "@helix/lock";

import { ownershipProtocol as ownership } from "@helix/cluster/internal";
import { TransitionCauses } from "../src/audit";
import { CONCURRENT_WRITE_LANES, splitIntoWriteLanes } from "../src/write-lanes";
import { resolveCoordinatorOptions } from "../src/options";
import type { Transition } from "../src/planner";
import { applyTransitions, planFor } from "../src/round";
import { readSnapshot } from "../src/snapshot";
import { FaultyPool } from "./helpers";
import { catalog, cluster, fx, member, table, useCoordinatorFixture } from "./coordinator-fixture";

const assign = (partition: number, to: string, from: string | null = null): Transition => ({
  type: "assign",
  domain: "d",
  taskList: "t",
  partition,
  generation: 0,
  from,
  to,
  reason: "unassigned",
});
const release = (partition: number, from: string, to: string): Transition => ({
  type: "release",
  domain: "d",
  taskList: "t",
  partition,
  generation: 1,
  from,
  to,
});
/** Each lane as its partitions. */
const partitionsOf = (lanes: Transition[][]) => lanes.map((lane) => lane.map((t) => t.partition));
/** Each lane as the members its transitions name. */
const membersOf = (lanes: Transition[][]) =>
  lanes.map((lane) => [...new Set(lane.flatMap((t) => (t.from === null ? [t.to] : [t.from, t.to])))].sort());

describe("splitting transitions into lanes", () => {
  test("a first assignment splits by member, the lanes balanced and each in the plan's order", () => {
    const plan = [0, 1, 2, 3, 4, 5, 6, 7].map((p) => assign(p, "abcd"[p % 4]!));
    const lanes = splitIntoWriteLanes(plan, 2);
    expect(partitionsOf(lanes)).toEqual([
      [0, 2, 4, 6],
      [1, 3, 5, 7],
    ]);
    expect(membersOf(lanes)).toEqual([
      ["a", "c"],
      ["b", "d"],
    ]);
  });

  test("members connected through transitions share a lane: a newcomer taking from every owner, a dead member's partitions going to every survivor", () => {
    const joining = [release(0, "a", "new"), release(1, "b", "new"), release(2, "c", "new")];
    expect(partitionsOf(splitIntoWriteLanes(joining, 2))).toEqual([[0, 1, 2]]);
    const dead = [assign(0, "a", "dead"), assign(1, "b", "dead"), assign(2, "c", "dead")];
    expect(partitionsOf(splitIntoWriteLanes(dead, 2))).toEqual([[0, 1, 2]]);
    // Connected only through a chain: a -> b, c -> b... and d -> c.
    const chain = [release(0, "a", "b"), release(1, "c", "b"), release(2, "d", "c"), assign(3, "e")];
    expect(partitionsOf(splitIntoWriteLanes(chain, 2))).toEqual([[0, 1, 2], [3]]);
  });

  test("groups go largest first, each to the lane with the fewest transitions so far", () => {
    const plan = [assign(0, "small"), ...[1, 2, 3].map((p) => assign(p, "big")), assign(4, "mid"), assign(5, "mid")];
    // big (3) to lane 0, mid (2) to lane 1, small (1) to lane 1 (2 < 3).
    expect(membersOf(splitIntoWriteLanes(plan, 2))).toEqual([["big"], ["mid", "small"]]);
    expect(membersOf(splitIntoWriteLanes(plan, 3))).toEqual([["big"], ["mid"], ["small"]]);
  });

  test("no more lanes than groups, and none when there is nothing to write", () => {
    expect(splitIntoWriteLanes([], 2)).toEqual([]);
    expect(partitionsOf(splitIntoWriteLanes([assign(0, "a"), assign(1, "a")], 2))).toEqual([[0, 1]]);
    expect(partitionsOf(splitIntoWriteLanes([assign(0, "a"), assign(1, "b")], 1))).toEqual([[0, 1]]);
  });
});

describe("writing lanes at once", () => {
  useCoordinatorFixture();

  /** A lease held by the test, for a writer of its own. */
  async function leaseOf(owner: string) {
    const locker = await createLocker(fx.pool, { owner });
    const lease = (await locker.tryAcquire(`helix/${cluster}/coordinator`, { ttlMs: 60_000 }))!;
    return { locker, lease };
  }

  test(`${CONCURRENT_WRITE_LANES} lanes' batches are in the database at the same time, and each is written`, async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 4 });
    await member("a");
    await member("b");
    const { locker, lease } = await leaseOf("leader");
    const options = resolveCoordinatorOptions({ cluster });
    const snapshot = await readSnapshot(fx.pool, cluster);
    const plan = planFor(snapshot, options);
    expect(splitIntoWriteLanes(plan.transitions, CONCURRENT_WRITE_LANES)).toHaveLength(2);
    // Each lane's assignment is held until the other's has reached the database too (or 3 s).
    const source = new FaultyPool(fx.pool);
    let together = 0;
    let arrived: () => void = () => undefined;
    const both = new Promise<void>((resolve) => (arrived = resolve));
    source.beforeReply.set("AssignPartitions", async () => {
      together = Math.max(together, source.inFlight("AssignPartitions"));
      if (together === 2) arrived();
      await Promise.race([both, sleep(3000, undefined, { ref: false })]);
    });
    const writes = await applyTransitions(
      { source, options, lease, leading: () => true, untold: new Set(), pace: new ownership.RunPace() },
      plan.transitions,
      1000,
      new TransitionCauses(snapshot.members, snapshot.taskLists),
    );
    expect(together).toBe(2);
    expect(writes.applied).toHaveLength(4);
    expect(writes.bumped.ownership).toBe(2);
    expect((await table()).map((r) => r.nodeId).sort()).toEqual(["a", "a", "b", "b"]);
    // One audit row per lane: its member's two assignments.
    const [audit] = await fx.pool.query<RowDataPacket[]>(
      "SELECT to_node_id AS toNodeId, partition_count AS n FROM helix_transitions WHERE cluster = ? ORDER BY to_node_id",
      [cluster],
    );
    expect(audit.map((r) => [r.toNodeId as string, Number(r.n)])).toEqual([
      ["a", 2],
      ["b", 2],
    ]);
    await locker.close();
  });

  test("a lane that fails stops the other at its next batch, and the round fails with its error", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 10 });
    await member("a");
    await member("b");
    const { locker, lease } = await leaseOf("leader");
    // One transition per batch. The first fence refuses; the others pass, 200 ms late, by which
    // time the refusal has reached its lane.
    const options = resolveCoordinatorOptions({ cluster, batchSize: 1 });
    let fences = 0;
    const refusing = {
      epoch: lease.epoch,
      fence: async (conn: Parameters<typeof lease.fence>[0]) => {
        if (++fences === 1) throw Object.assign(new Error("deposed"), { code: "HELIX_FENCED_OUT" });
        await sleep(200);
        return lease.fence(conn);
      },
    };
    const snapshot = await readSnapshot(fx.pool, cluster);
    const plan = planFor(snapshot, options);
    expect(splitIntoWriteLanes(plan.transitions, CONCURRENT_WRITE_LANES).map((lane) => lane.length)).toEqual([5, 5]);
    const error = await applyTransitions(
      { source: fx.pool, options, lease: refusing as never, leading: () => true, untold: new Set(), pace: new ownership.RunPace() },
      plan.transitions,
      1000,
      new TransitionCauses(snapshot.members, snapshot.taskLists),
    ).catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe("HELIX_FENCED_OUT");
    // The refused batch and the other lane's first: nothing after.
    expect(fences).toBe(2);
    expect((await table()).filter((r) => r.nodeId !== null)).toHaveLength(1);
    await locker.close();
  });
});
