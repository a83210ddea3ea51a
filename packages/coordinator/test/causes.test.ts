// Why each transition happened, as the audit trail records it: the rules on their own, then with
// real members and a real coordinator.
import { FaultyPool, until } from "./helpers";
import { TransitionCause, type PlannerMember, type PlannerPartition, type Transition, type TransitionRecord } from "../src";
import { TransitionCauses } from "../src/audit";
import { catalog, converged, coordinator, fx, member, useCoordinatorFixture } from "./coordinator-fixture";

const live = (nodeId: string, weight = 1): PlannerMember => ({ nodeId, weight, live: true, sinceExpiryMs: -1000 });
const row = (partition: number, nodeId: string | null, extra: Partial<PlannerPartition> = {}): PlannerPartition => ({
  partition,
  nodeId,
  state: nodeId === null ? 0 : 1,
  generation: 3,
  targetNodeId: null,
  releaseAgeMs: -1,
  ...extra,
});
const at = { domain: "d", taskList: "t", generation: 3 };
const assign = (
  partition: number,
  from: string | null,
  to: string,
  reason: "unassigned" | "released" | "owner-gone" | "forced",
): Transition => ({
  type: "assign",
  ...at,
  partition,
  from,
  to,
  reason,
});
const release = (partition: number, from: string, to: string): Transition => ({ type: "release", ...at, partition, from, to });

describe("the causes of transitions", () => {
  // a owns 0-1, b (draining) owns 2-3, c joined and owns nothing; d died, e left saying it would be
  // back and did not come back in time; 4 was never owned, 5 was left by its owner.
  const causes = new TransitionCauses(
    [
      live("a"),
      live("b", 0),
      live("c"),
      { nodeId: "d", weight: 1, live: false, sinceExpiryMs: 5000 },
      { nodeId: "e", weight: 1, live: false, sinceExpiryMs: 5000, returnWithinMs: 1000 },
    ],
    [
      {
        ...at,
        partitions: 8,
        rows: [
          row(0, "a"),
          row(1, "a"),
          row(2, "b"),
          row(3, "b"),
          row(4, null, { neverOwned: true }),
          row(5, null),
          row(6, "d"),
          row(7, "e"),
        ],
      },
    ],
  );

  test.each([
    ["a partition never owned", assign(4, null, "a", "unassigned"), TransitionCause.TaskList],
    ["a partition its owner left", assign(5, null, "a", "unassigned"), TransitionCause.Leave],
    ["a dead member's partition", assign(6, "d", "a", "owner-gone"), TransitionCause.Expiry],
    ["the partition of a member that did not come back in time", assign(7, "e", "a", "owner-gone"), TransitionCause.Leave],
    ["a release not confirmed in time", assign(0, "a", "c", "forced"), TransitionCause.Expiry],
    ["a partition back to its node id", assign(6, "d", "d", "owner-gone"), TransitionCause.Restart],
    ["a release from a draining member", release(2, "b", "a"), TransitionCause.Drain],
    ["the hand-off of a draining member", assign(2, "b", "a", "released"), TransitionCause.Drain],
    ["a release towards a member that owned nothing", release(0, "a", "c"), TransitionCause.Join],
    ["the hand-off to a member that owned nothing", assign(0, "a", "c", "released"), TransitionCause.Join],
    ["a release between members that own partitions", release(0, "a", "b"), TransitionCause.Rebalance],
  ])("%s", (_, transition, cause) => {
    expect(causes.of(transition)).toBe(cause);
  });
});

describe("the audit trail", () => {
  useCoordinatorFixture();

  /** The causes recorded after row `after`, by transition kind, each as "kind cause from>to". */
  const since = async (c: { history: (o: { limit: number }) => Promise<TransitionRecord[]> }, after: number): Promise<string[]> =>
    (await c.history({ limit: 1000 }))
      .filter((t) => t.id > after)
      .map((t) => `${t.kind} ${t.cause} ${t.from ?? "none"}>${t.to ?? "none"}`)
      .sort();
  const last = async (c: { history: (o: { limit: number }) => Promise<TransitionRecord[]> }): Promise<number> =>
    (await c.history({ limit: 1 }))[0]?.id ?? 0;

  test("says why each move happened and which coordinator made it: task list, join, drain, leave, expiry, restart", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 2 });
    const c = await coordinator();
    const a = await member("a");
    await converged(c, [a]);
    const first = await c.history({ limit: 10 });
    expect(first.map((t) => [t.kind, t.cause, t.actor])).toEqual([
      ["assigned", "task-list", c.options.id],
      ["assigned", "task-list", c.options.id],
    ]);

    let mark = await last(c);
    const b = await member("b");
    await converged(c, [a, b]);
    expect(await since(c, mark)).toEqual(["handed-off join a>b", "release-requested join a>b"]);

    mark = await last(c);
    await b.drain({ timeoutMs: 10_000 });
    await converged(c, [a]);
    expect(await since(c, mark)).toEqual(["handed-off drain b>a", "release-requested drain b>a"]);

    // b leaves (it drained: nothing moves); e joins and gets its share; then a leaves.
    const e = await member("e");
    await converged(c, [a, e]);
    mark = await last(c);
    await a.leave();
    await converged(c, [e]);
    expect(await since(c, mark)).toEqual(["assigned leave none>e"]);

    // f's heartbeats stop: its partition is reclaimed once its TTL (2 s) passed.
    const faulty = new FaultyPool(fx.pool);
    const f = await member("f", {}, faulty);
    await converged(c, [e, f]);
    mark = await last(c);
    faulty.cut = true;
    await until(async () => (await since(c, mark)).some((t) => t.startsWith("reclaimed")), 10_000);
    expect(await since(c, mark)).toEqual(["reclaimed expiry f>e"]);

    // e restarts under its node id, saying it will be back: its partitions go back to it.
    mark = await last(c);
    await e.leave({ returningWithinMs: 10_000 });
    const back = await member("e");
    await until(() => back.partitions().length === 2);
    expect(await since(c, mark)).toEqual(["reclaimed restart e>e", "reclaimed restart e>e"]);
  });
});
