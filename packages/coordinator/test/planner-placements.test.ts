// Partitions an operator pinned or moved to a member: the planner keeps them there while the member
// is live and takes partitions, and balances the rest around them.
import fc from "fast-check";

import { PartitionState } from "@helix/db";

import { planOwnership, type PlannerMember, type PlannerPartition, type PlannerTaskList, type Transition } from "../src";
import { holdForMaintenance } from "../src/maintenance";
import { TransitionCauses, transitionCauseName } from "../src/audit";
import { converge, isBalanced, type ClusterState } from "./support/model";
import { clusterState, plan } from "./support/planner-states";

const { Assigned, ReleaseRequested, Released } = PartitionState;
const member = (nodeId: string, over: Partial<PlannerMember> = {}): PlannerMember => ({
  nodeId,
  weight: 1,
  live: true,
  sinceExpiryMs: -1,
  ...over,
});
const row = (partition: number, nodeId: string | null, over: Partial<PlannerPartition> = {}): PlannerPartition => ({
  partition,
  nodeId,
  state: nodeId === null ? PartitionState.Unassigned : Assigned,
  generation: 1,
  targetNodeId: null,
  releaseAgeMs: -1,
  ...over,
});
/** One task list of four partitions, 0 and 1 on a, 2 and 3 on b; `placed` pins some. */
const halves = (placed?: ReadonlyMap<number, string>, rows?: PlannerPartition[]): PlannerTaskList => ({
  domain: "d",
  taskList: "t",
  partitions: 4,
  rows: rows ?? [row(0, "a"), row(1, "a"), row(2, "b"), row(3, "b")],
  ...(placed === undefined ? {} : { placed }),
});
const describe = (ts: readonly Transition[]) => ts.map((t) => `${t.type} ${t.partition} ${t.from} -> ${t.to}${t.placed ? " placed" : ""}`);

test("a partition placed on a live member that another owns is asked of its owner for it, and the member gives one of its own back", () => {
  const planned = planOwnership({ members: [member("a"), member("b")], taskLists: [halves(new Map([[2, "a"]]))] });
  expect(describe(planned.transitions)).toEqual(["release 2 b -> a placed", "release 1 a -> b"]);
  expect(planned.pendingHandoffs).toBe(2);
});

test("a placed partition its member owns stays, whatever the order of its rows; the member's others balance around it", () => {
  // a owns all four; a second member joins. Without the placement a would keep 0 and 1.
  const rows = [row(0, "a"), row(1, "a"), row(2, "a"), row(3, "a")];
  const planned = planOwnership({ members: [member("a"), member("b")], taskLists: [halves(new Map([[3, "a"]]), rows)] });
  expect(describe(planned.transitions)).toEqual(["release 1 a -> b", "release 2 a -> b"]);
});

test("a free placed partition goes to its member at once, even one over its share; a pending release is waited for", () => {
  const rows = [row(0, "a"), row(1, "a"), row(2, "b"), row(3, null)];
  const free = planOwnership({ members: [member("a"), member("b")], taskLists: [halves(new Map([[3, "a"]]), rows)] });
  expect(describe(free.transitions)).toEqual(["assign 3 null -> a placed", "release 1 a -> b"]);

  const released = [row(0, "a"), row(1, "a"), row(2, "b", { state: Released, targetNodeId: "a" }), row(3, "b")];
  expect(
    describe(planOwnership({ members: [member("a"), member("b")], taskLists: [halves(new Map([[2, "a"]]), released)] }).transitions),
  ).toEqual(["assign 2 b -> a placed", "release 1 a -> b"]);
  const pending = [row(0, "a"), row(1, "a"), row(2, "b", { state: ReleaseRequested, targetNodeId: "a", releaseAgeMs: 10 }), row(3, "b")];
  const waiting = planOwnership({ members: [member("a"), member("b")], taskLists: [halves(new Map([[2, "a"]]), pending)] });
  expect(describe(waiting.transitions)).toEqual(["release 1 a -> b"]);
  expect(waiting.pendingHandoffs).toBe(2);
  expect(waiting.nextCheckMs).not.toBeNull();
});

test("a placement on a member that is not live, is draining or is not a member is set aside: the plan is the one without it", () => {
  const rows = [row(0, "a"), row(1, "a"), row(2, "b"), row(3, "c")];
  const members = [member("a"), member("b"), member("c", { live: false, sinceExpiryMs: 5000 }), member("d", { weight: 0 })];
  const without = planOwnership({ members, taskLists: [halves(undefined, rows)] });
  for (const on of ["c", "d", "nobody"]) {
    const planned = planOwnership({ members, taskLists: [halves(new Map([[0, on]]), rows)] });
    expect(planned).toEqual(without);
  }
  // The placement on the member that is back takes effect again.
  const back = planOwnership({ members: [member("a"), member("b"), member("c")], taskLists: [halves(new Map([[0, "c"]]), rows)] });
  expect(describe(back.transitions)).toContain("release 0 a -> c placed");
});

test("a placed partition whose owner's TTL passed goes to its member at once, without the reassignment delay", () => {
  const members = [member("a"), member("b", { live: false, sinceExpiryMs: 100 })];
  const planned = planOwnership({ members, taskLists: [halves(new Map([[2, "a"]]))], options: { reassignDelayMs: 60_000 } });
  expect(describe(planned.transitions)).toEqual(["assign 2 b -> a placed"]);
});

test("placements are moves like any other: the move limits hold them back until a later round", () => {
  const placed = new Map([
    [2, "a"],
    [3, "a"],
  ]);
  const planned = planOwnership({ members: [member("a"), member("b")], taskLists: [halves(placed)], options: { maxMovesPerTaskList: 1 } });
  expect(describe(planned.transitions)).toEqual(["release 2 b -> a placed"]);
});

test("a placement partition numbered past the catalog's count is ignored", () => {
  const planned = planOwnership({ members: [member("a"), member("b")], taskLists: [halves(new Map([[7, "a"]]))] });
  expect(planned.transitions).toEqual([]);
});

test("maintenance holds every move but those that carry out a placement; their cause is the operator", () => {
  const taskLists = [halves(new Map([[2, "a"]]))];
  const members = [member("a"), member("b")];
  const planned = planOwnership({ members, taskLists });
  const maintenance = [{ taskList: null, reason: "r", actor: "x", startedAt: new Date(), expiresAt: null, onForMs: 0, remainingMs: null }];
  const { plan: held } = holdForMaintenance(planned, taskLists, maintenance);
  expect(describe(held.transitions)).toEqual(["release 2 b -> a placed"]);
  const causes = new TransitionCauses(members, taskLists);
  expect(planned.transitions.map((t) => transitionCauseName(causes.of(t)))).toEqual(["operator", "rebalance"]);
});

test("from any cluster, rounds with a partition of each task list placed on a live member end balanced with every placement where it was put", () => {
  let placedAny = 0;
  fc.assert(
    fc.property(clusterState, fc.nat(), (state: ClusterState, pick) => {
      const live = state.members.filter((m) => m.live);
      for (const [i, list] of state.lists.entries()) {
        // One placement a list: each member's share of it is at least one, so balance can hold it.
        if (list.partitions < live.length) continue;
        list.placed = new Map([[(pick + i) % list.partitions, live[(pick + i) % live.length]!.nodeId]]);
        placedAny++;
      }
      converge(state);
      for (const list of state.lists) {
        for (const [partition, nodeId] of list.placed ?? []) {
          expect(list.rows.find((r) => r.partition === partition)).toMatchObject({ nodeId, state: Assigned });
        }
      }
      expect(isBalanced(state)).toBe(true);
      expect(plan(state).transitions).toEqual([]);
    }),
    { numRuns: 300 },
  );
  expect(placedAny).toBeGreaterThan(100);
});

test("a member given more placements than its share keeps them all; the others share the rest, and the plan settles", () => {
  const state: ClusterState = {
    members: [member("a"), member("b"), member("c")],
    lists: [
      {
        domain: "d",
        taskList: "t",
        partitions: 6,
        rows: [0, 1, 2, 3, 4, 5].map((p) => ({ ...row(p, ["a", "b", "c"][p % 3]!) })),
        placed: new Map([0, 1, 2, 3].map((p) => [p, "a"] as const)),
      },
    ],
  };
  converge(state);
  const owners = state.lists[0]!.rows.map((r) => r.nodeId);
  expect(owners.slice(0, 4)).toEqual(["a", "a", "a", "a"]);
  expect(new Set(owners.slice(4))).toEqual(new Set(["b", "c"]));
  expect(plan(state).transitions).toEqual([]);
});
