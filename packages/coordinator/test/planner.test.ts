import fc from "fast-check";

import { InvalidArgumentError, PartitionState } from "@helix/db";

import { planOwnership, type PlannerMember, type Transition } from "../src";
import {
  applyPlan,
  converge,
  isBalanced,
  minimumMovesByEnumeration,
  minimumMovesByFlow,
  orphans,
  toPlannerLists,
  type ClusterState,
  type ListState,
  type Row,
} from "./support/model";

const { Unassigned, Assigned, ReleaseRequested, Released } = PartitionState;

/** Random small clusters in any state: owners live, dead or unknown, rows in every state. */
function arbitraryCluster(options: { weighted: boolean; maxMembers?: number; maxLists?: number; maxPartitions?: number }) {
  const maxMembers = options.maxMembers ?? 5;
  return fc
    .record({
      members: fc.array(fc.record({ live: fc.boolean(), weight: options.weighted ? fc.integer({ min: 0, max: 3 }) : fc.constant(1) }), {
        minLength: 1,
        maxLength: maxMembers,
      }),
      lists: fc.array(
        fc.record({
          partitions: fc.integer({ min: 1, max: options.maxPartitions ?? 12 }),
          rows: fc.array(
            fc.record({
              owner: fc.integer({ min: -1, max: maxMembers }),
              state: fc.constantFrom(Assigned, Assigned, Assigned, Unassigned, ReleaseRequested, Released),
              generation: fc.integer({ min: 0, max: 9 }),
              releaseAgeMs: fc.integer({ min: 0, max: 60_000 }),
            }),
            { minLength: 12, maxLength: 12 },
          ),
        }),
        { minLength: 1, maxLength: options.maxLists ?? 4 },
      ),
    })
    .map(({ members, lists }): ClusterState => {
      const planned: PlannerMember[] = members.map((m, i) => ({
        nodeId: `m${i}`,
        weight: i === 0 ? Math.max(1, m.weight) : m.weight,
        live: m.live || i === 0,
        sinceExpiryMs: m.live || i === 0 ? -1 : 5000,
      }));
      return {
        members: planned,
        lists: lists.map((l, li): ListState => ({
          domain: "d",
          taskList: `t${li}`,
          partitions: l.partitions,
          rows: l.rows.slice(0, l.partitions).map((r, p): Row => {
            const nodeId = r.owner === -1 || r.state === Unassigned ? null : `m${r.owner}`;
            return {
              partition: p,
              nodeId,
              state: nodeId === null ? Unassigned : r.state,
              generation: r.generation,
              targetNodeId: null,
              releaseAgeMs: nodeId !== null && r.state === ReleaseRequested ? r.releaseAgeMs : -1,
            };
          }),
        })),
      };
    });
}

const clusterState = arbitraryCluster({ weighted: false });
const weightedState = arbitraryCluster({ weighted: true });
const anyState = fc.oneof(clusterState, weightedState);

const plan = (state: ClusterState, options = {}) => planOwnership({ members: state.members, taskLists: toPlannerLists(state), options });
const releases = (transitions: Transition[]): number => transitions.filter((t) => t.type === "release").length;
const live = (state: ClusterState): Set<string> => new Set(state.members.filter((m) => m.live).map((m) => m.nodeId));

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

test("after the plan is carried out, every task list and every member's total is balanced", () => {
  fc.assert(
    fc.property(anyState, (state) => {
      converge(state, { forceReleaseAfterMs: 0 });
      expect(isBalanced(state)).toBe(true);
    }),
    { numRuns: 500 },
  );
});

test("releases equal the theoretical minimum, by enumerating every balanced target", () => {
  fc.assert(
    fc.property(
      fc.oneof(arbitraryCluster({ weighted: false, maxMembers: 4 }), arbitraryCluster({ weighted: true, maxMembers: 4 })),
      (state) => {
        expect(releases(plan(state).transitions)).toBe(minimumMovesByEnumeration(state));
      },
    ),
    { numRuns: 400 },
  );
});

test("the flow oracle agrees with enumeration, so it can judge clusters too large to enumerate", () => {
  fc.assert(
    fc.property(
      fc.oneof(arbitraryCluster({ weighted: false, maxMembers: 4 }), arbitraryCluster({ weighted: true, maxMembers: 4 })),
      (state) => {
        expect(minimumMovesByFlow(state)).toBe(minimumMovesByEnumeration(state));
      },
    ),
    { numRuns: 300 },
  );
});

test("releases equal the theoretical minimum on larger clusters", () => {
  fc.assert(
    fc.property(arbitraryCluster({ weighted: true, maxMembers: 9, maxLists: 8, maxPartitions: 12 }), (state) => {
      expect(releases(plan(state).transitions)).toBe(minimumMovesByFlow(state));
    }),
    { numRuns: 200 },
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

test("joins, leaves and partition-count changes move exactly the theoretical minimum", () => {
  const change = fc.oneof(
    fc.record({ kind: fc.constant("join" as const), weight: fc.integer({ min: 1, max: 3 }) }),
    fc.record({ kind: fc.constant("leave" as const), which: fc.nat() }),
    fc.record({ kind: fc.constant("resize" as const), which: fc.nat(), partitions: fc.integer({ min: 1, max: 12 }) }),
  );
  fc.assert(
    fc.property(anyState, change, (state, event) => {
      converge(state);
      if (event.kind === "join") {
        state.members.push({ nodeId: "new", weight: event.weight, live: true, sinceExpiryMs: -1 });
      } else if (event.kind === "leave") {
        const alive = state.members.filter((m) => m.live);
        const leaver = alive[event.which % alive.length]!;
        // Someone must be left to take the leaver's partitions.
        if (alive.every((m) => m === leaver || m.weight === 0)) return;
        Object.assign(leaver, { live: false, sinceExpiryMs: 1 });
      } else {
        const list = state.lists[event.which % state.lists.length]!;
        list.partitions = event.partitions;
        list.rows = list.rows.filter((r) => r.partition < event.partitions);
        for (let p = list.rows.length; p < event.partitions; p++) {
          list.rows.push({ partition: p, nodeId: null, state: Unassigned, generation: 0, targetNodeId: null, releaseAgeMs: -1 });
        }
      }
      const minimum = orphans(state) + minimumMovesByEnumeration(state);
      expect(converge(state).ownerChanges).toBe(minimum);
      expect(isBalanced(state)).toBe(true);
    }),
    { numRuns: 400 },
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

test("bad planner options are refused with the option's name, never planned with", () => {
  const cases: [object, string][] = [
    [{ forceReleaseAfterMs: Number.NaN }, "forceReleaseAfterMs"],
    [{ forceReleaseAfterMs: -1 }, "forceReleaseAfterMs"],
    [{ reassignDelayMs: Number.POSITIVE_INFINITY }, "reassignDelayMs"],
    [{ reassignDelayMs: 1.5 }, "reassignDelayMs"],
    [{ maxMovesPerMember: 0 }, "maxMovesPerMember"],
    [{ maxMovesPerMember: Number.NaN }, "maxMovesPerMember"],
    [{ maxMovesPerTaskList: -3 }, "maxMovesPerTaskList"],
    [{ maxMovesPerTaskList: "5" }, "maxMovesPerTaskList"],
  ];
  for (const [options, argument] of cases) {
    let error: unknown;
    try {
      planOwnership({ members: [], taskLists: [], options });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error).toMatchObject({ argument, code: "HELIX_INVALID_ARGUMENT" });
  }
  const notAnObject = (() => {
    try {
      return planOwnership({ members: [], taskLists: [], options: null as never });
    } catch (e) {
      return e;
    }
  })();
  expect(notAnObject).toMatchObject({ argument: "options" });
  // Infinity and the defaults plan as before.
  expect(planOwnership({ members: [], taskLists: [], options: { maxMovesPerMember: Infinity } }).transitions).toEqual([]);
});
