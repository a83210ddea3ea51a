// The planner's balance: every task list and every member's total even, by weight; stickiness, move
// limits and determinism.
import fc from "fast-check";

import { PartitionState } from "@helix/db";

import type { PlannerMember } from "../src";
import { converge, isBalanced, type ClusterState } from "./support/model";
import { anyState, clusterState, plan } from "./support/planner-states";

const { Unassigned, Assigned } = PartitionState;

test("after the plan is carried out, every task list and every member's total is balanced", () => {
  fc.assert(
    fc.property(anyState, (state) => {
      converge(state, { forceReleaseAfterMs: 0 });
      expect(isBalanced(state)).toBe(true);
    }),
    { numRuns: 500 },
  );
});

test("stickiness: a balanced table gives an empty plan", () => {
  fc.assert(
    fc.property(anyState, (state) => {
      converge(state);
      expect(plan(state).transitions).toEqual([]);
    }),
    { numRuns: 300 },
  );
});

test("totals stay even across many uneven task lists", () => {
  const members: PlannerMember[] = [
    { nodeId: "a", weight: 1, live: true, sinceExpiryMs: -1 },
    { nodeId: "b", weight: 1, live: true, sinceExpiryMs: -1 },
  ];
  const state: ClusterState = {
    members,
    lists: Array.from({ length: 100 }, (_, l) => ({
      domain: "d",
      taskList: `t${l}`,
      partitions: 3,
      rows: [0, 1, 2].map((p) => ({ partition: p, nodeId: null, state: Unassigned, generation: 0, targetNodeId: null, releaseAgeMs: -1 })),
    })),
  };
  converge(state);
  const owned = (id: string): number => state.lists.flatMap((l) => l.rows).filter((r) => r.nodeId === id).length;
  expect([owned("a"), owned("b")]).toEqual([150, 150]);
});

test("weights: shares follow them, and weight 0 takes nothing", () => {
  const state: ClusterState = {
    members: [
      { nodeId: "heavy", weight: 3, live: true, sinceExpiryMs: -1 },
      { nodeId: "light", weight: 1, live: true, sinceExpiryMs: -1 },
      { nodeId: "drained", weight: 0, live: true, sinceExpiryMs: -1 },
    ],
    lists: [
      {
        domain: "d",
        taskList: "t",
        partitions: 40,
        rows: Array.from({ length: 40 }, (_, p) => ({
          partition: p,
          nodeId: "drained",
          state: Assigned,
          generation: 1,
          targetNodeId: null,
          releaseAgeMs: -1,
        })),
      },
    ],
  };
  converge(state);
  const owned = (id: string): number => state.lists[0]!.rows.filter((r) => r.nodeId === id).length;
  expect([owned("heavy"), owned("light"), owned("drained")]).toEqual([30, 10, 0]);
});

test("move limits cap release requests per task list and per member; rounds still converge", () => {
  fc.assert(
    fc.property(clusterState, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), (state, perList, perMember) => {
      const options = { maxMovesPerTaskList: perList, maxMovesPerMember: perMember, forceReleaseAfterMs: 0 };
      const first = plan(state, options);
      const perListCount = new Map<string, number>();
      const out = new Map<string, number>();
      const into = new Map<string, number>();
      for (const t of first.transitions) {
        if (t.type !== "release") continue;
        perListCount.set(t.taskList, (perListCount.get(t.taskList) ?? 0) + 1);
        out.set(t.from, (out.get(t.from) ?? 0) + 1);
        into.set(t.to, (into.get(t.to) ?? 0) + 1);
      }
      for (const c of [...perListCount.values()]) expect(c).toBeLessThanOrEqual(perList);
      for (const c of [...out.values(), ...into.values()]) expect(c).toBeLessThanOrEqual(perMember);
      converge(state, options);
      expect(isBalanced(state)).toBe(true);
    }),
    { numRuns: 300 },
  );
});

test("the planner is deterministic", () => {
  fc.assert(
    fc.property(anyState, (state) => {
      expect(plan(state)).toEqual(plan(state));
    }),
    { numRuns: 100 },
  );
});
