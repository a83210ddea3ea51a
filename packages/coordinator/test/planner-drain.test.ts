// A draining member (weight 0) is asked for its partitions a wave at a time.
import { PartitionState } from "@helix/db";

import { planOwnership, type PlannerMember, type PlannerPartition } from "../src";
import { DRAIN_WAVE } from "../src/planner/drain-waves";

const { Assigned, ReleaseRequested } = PartitionState;
const member = (nodeId: string, weight = 1): PlannerMember => ({ nodeId, weight, live: true, sinceExpiryMs: -1000 });
/** Two task lists of `perList` partitions, all owned by the draining member `d`, `pending` of each asked for already. */
const drainingCluster = (perList: number, pending: number) =>
  ["one", "two"].map((taskList) => ({
    domain: "x",
    taskList,
    partitions: perList,
    rows: Array.from({ length: perList }, (_, partition): PlannerPartition => ({
      partition,
      nodeId: "d",
      state: partition < pending ? ReleaseRequested : Assigned,
      generation: 1,
      targetNodeId: partition < pending ? "a" : null,
      releaseAgeMs: partition < pending ? 10 : -1,
    })),
  }));

test("a draining member is asked for a wave of its partitions, over all task lists, and the plan says more wait", () => {
  const plan = planOwnership({ members: [member("a"), member("b"), member("d", 0)], taskLists: drainingCluster(300, 0) });
  expect(plan.transitions.filter((t) => t.type === "release")).toHaveLength(DRAIN_WAVE);
  expect(plan.drainWaiting).toBe(true);
});

test("releases already in flight count against the wave", () => {
  const plan = planOwnership({ members: [member("a"), member("b"), member("d", 0)], taskLists: drainingCluster(300, 100) });
  expect(plan.transitions.filter((t) => t.type === "release")).toHaveLength(DRAIN_WAVE - 200);
  expect(plan.drainWaiting).toBe(true);
});

test("the last wave asks for the rest and leaves nothing waiting; members that do not drain are not held to waves", () => {
  const last = planOwnership({ members: [member("a"), member("b"), member("d", 0)], taskLists: drainingCluster(100, 0) });
  expect(last.transitions.filter((t) => t.type === "release")).toHaveLength(200);
  expect(last.drainWaiting).toBeUndefined();
  // d has weight 1 here: balancing 600 partitions asks it for 400 at once.
  const balance = planOwnership({ members: [member("a"), member("b"), member("d")], taskLists: drainingCluster(300, 0) });
  expect(balance.transitions.filter((t) => t.type === "release")).toHaveLength(400);
  expect(balance.drainWaiting).toBeUndefined();
});
