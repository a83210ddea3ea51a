// The planner's hand-off rule: what each transition may do, waiting for an owner's confirmation
// until the force timeout, and moving a dead owner's partitions.
import fc from "fast-check";

import { PartitionState } from "@helix/db";

import { applyPlan, type ClusterState, type Row } from "./support/model";
import { anyState, live, plan } from "./support/planner-states";

const { Unassigned, Assigned, ReleaseRequested, Released } = PartitionState;

test("every transition is allowed by the hand-off rule and touches a partition once", () => {
  fc.assert(
    fc.property(anyState, (state) => {
      const alive = live(state);
      const rows = new Map(state.lists.flatMap((l) => l.rows.map((r): [string, Row] => [`${l.taskList}/${r.partition}`, r])));
      const seen = new Set<string>();
      for (const t of plan(state).transitions) {
        const key = `${t.taskList}/${t.partition}`;
        expect(seen.has(key)).toBe(false);
        seen.add(key);
        const row = rows.get(key)!;
        expect(t.generation).toBe(row.generation);
        expect(alive.has(t.to)).toBe(true);
        if (t.type === "release") {
          expect(row.state).toBe(Assigned);
          expect(alive.has(t.from)).toBe(true);
          continue;
        }
        switch (t.reason) {
          case "unassigned":
            expect(row.state).toBe(Unassigned);
            break;
          case "released":
            expect(row.state).toBe(Released);
            break;
          case "owner-gone":
            expect(alive.has(row.nodeId!)).toBe(false);
            break;
          case "forced":
            expect(row.state).toBe(ReleaseRequested);
            expect(row.releaseAgeMs).toBeGreaterThanOrEqual(30_000);
            break;
        }
      }
    }),
    { numRuns: 500 },
  );
});

test("a release waits for its owner's confirmation until the force timeout", () => {
  const state: ClusterState = {
    members: [
      { nodeId: "a", weight: 1, live: true, sinceExpiryMs: -1 },
      { nodeId: "b", weight: 1, live: true, sinceExpiryMs: -1 },
    ],
    lists: [
      {
        domain: "d",
        taskList: "t",
        partitions: 2,
        rows: [0, 1].map((p) => ({ partition: p, nodeId: "a", state: Assigned, generation: 1, targetNodeId: null, releaseAgeMs: -1 })),
      },
    ],
  };
  const first = plan(state, { forceReleaseAfterMs: 10_000 });
  expect(first.transitions).toEqual([{ type: "release", domain: "d", taskList: "t", partition: 1, generation: 1, from: "a", to: "b" }]);
  expect(first.nextCheckMs).toBe(10_000);
  applyPlan(state, first, { confirm: false });

  state.lists[0]!.rows[1]!.releaseAgeMs = 4000;
  const waiting = plan(state, { forceReleaseAfterMs: 10_000 });
  expect(waiting.transitions).toEqual([]);
  expect(waiting.pendingHandoffs).toBe(1);
  expect(waiting.nextCheckMs).toBe(6000);

  state.lists[0]!.rows[1]!.releaseAgeMs = 10_000;
  expect(plan(state, { forceReleaseAfterMs: 10_000 }).transitions).toEqual([
    { type: "assign", domain: "d", taskList: "t", partition: 1, generation: 1, from: "a", to: "b", reason: "forced" },
  ]);
});

test("a dead owner's partitions move at once, or after the reassignment delay", () => {
  const state: ClusterState = {
    members: [
      { nodeId: "a", weight: 1, live: true, sinceExpiryMs: -1 },
      { nodeId: "b", weight: 1, live: false, sinceExpiryMs: 2000 },
    ],
    lists: [
      {
        domain: "d",
        taskList: "t",
        partitions: 4,
        rows: [0, 1, 2, 3].map((p) => ({
          partition: p,
          nodeId: p < 2 ? "a" : "b",
          state: Assigned,
          generation: 1,
          targetNodeId: null,
          releaseAgeMs: -1,
        })),
      },
    ],
  };
  const now = plan(state);
  expect(now.transitions.map((t) => [t.type, t.partition, t.to, t.type === "assign" && t.reason])).toEqual([
    ["assign", 2, "a", "owner-gone"],
    ["assign", 3, "a", "owner-gone"],
  ]);
  const delayed = plan(state, { reassignDelayMs: 5000 });
  expect(delayed.transitions).toEqual([]);
  expect(delayed.nextCheckMs).toBe(3000);
  state.members[1] = { ...state.members[1]!, sinceExpiryMs: 5000 };
  expect(plan(state, { reassignDelayMs: 5000 }).transitions).toHaveLength(2);
});

test("a member that said it would be back keeps its partitions that long; its next process gets them back", () => {
  const rows = (owner: (p: number) => string | null, stale = false) =>
    [0, 1, 2, 3].map((p) => ({
      partition: p,
      nodeId: owner(p),
      state: owner(p) === null ? Unassigned : Assigned,
      generation: 1,
      targetNodeId: null,
      releaseAgeMs: -1,
      staleOwner: stale && owner(p) === "z",
    }));
  const away: ClusterState = {
    members: [
      { nodeId: "a", weight: 1, live: true, sinceExpiryMs: -1 },
      { nodeId: "z", weight: 1, live: false, sinceExpiryMs: 2000, returnWithinMs: 5000 },
    ],
    lists: [{ domain: "d", taskList: "t", partitions: 4, rows: rows((p) => (p < 2 ? "a" : "z")) }],
  };
  const waiting = plan(away);
  expect(waiting.transitions).toEqual([]);
  expect(waiting.nextCheckMs).toBe(3000);
  // Longer than the reassignment delay, which it outlasts; once past, the partitions move.
  expect(plan(away, { reassignDelayMs: 1000 }).transitions).toEqual([]);
  away.members[1] = { ...away.members[1]!, sinceExpiryMs: 5000 };
  expect(plan(away).transitions.map((t) => [t.partition, t.to])).toEqual([
    [2, "a"],
    [3, "a"],
  ]);

  // Back (a new process of z): its earlier process's partitions go to it, the free ones to a,
  // although a comes first and needs two.
  const back: ClusterState = {
    members: [
      { nodeId: "a", weight: 1, live: true, sinceExpiryMs: -1 },
      { nodeId: "z", weight: 1, live: true, sinceExpiryMs: -1 },
    ],
    lists: [{ domain: "d", taskList: "t", partitions: 4, rows: rows((p) => (p < 2 ? "z" : null), true) }],
  };
  expect(plan(back).transitions.map((t) => [t.partition, t.to, t.type === "assign" && t.reason])).toEqual([
    [0, "z", "owner-gone"],
    [1, "z", "owner-gone"],
    [2, "a", "unassigned"],
    [3, "a", "unassigned"],
  ]);
});
