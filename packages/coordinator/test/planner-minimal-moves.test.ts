// The planner moves the theoretical minimum: checked against enumeration of every balanced target
// and against a flow oracle, on static clusters and after joins, leaves and resizes.
import fc from "fast-check";

import { PartitionState } from "@helix/db";

import { converge, isBalanced, minimumMovesByEnumeration, minimumMovesByFlow, orphans } from "./support/model";
import { anyState, arbitraryCluster, plan, releases } from "./support/planner-states";

const { Unassigned } = PartitionState;

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
