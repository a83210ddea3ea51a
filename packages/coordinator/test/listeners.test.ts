// A listener's exception is the application's bug: it must not stop a leader, count as a round
// error, break stop(), nor escape as an unhandled rejection or an uncaught exception.
import { ProcessTrap } from "@helix/testing";

import { createCatalog, createCoordinator, join, type Catalog, type Coordinator, type CoordinatorEvents, type Member } from "../src";
import { FaultyPool, migratedDatabase, until, type Fixture } from "./helpers";

let fx: Fixture;
let catalog: Catalog;
const cluster = "listeners";
const members: Member[] = [];
const trap = new ProcessTrap();

beforeAll(async () => {
  fx = await migratedDatabase();
  catalog = await createCatalog(fx.pool, { cluster });
  trap.start();
});

/** Coordinators the tests made, stopped at the end even when a test fails before it stops its own. */
const coordinators: Coordinator[] = [];

afterAll(async () => {
  await Promise.all(coordinators.map((c) => c.stop()));
  trap.stop();
  await Promise.all(members.splice(0).map((m) => m.leave()));
  await catalog.close();
  await fx.close();
});

async function member(nodeId: string): Promise<Member> {
  const m = await join(fx.pool, { cluster, nodeId, ttlMs: 2000, heartbeatMs: 50, sweepIntervalMs: 0 });
  members.push(m);
  m.on("partition:assigned", () => {
    throw new Error("a partition:assigned listener's bug");
  });
  return m;
}

/** Adds a listener that throws, then one that records what it sees, to each of `events`. */
function listen(c: Coordinator, events: (keyof CoordinatorEvents)[], describe: (...args: unknown[]) => string): string[] {
  const seen: string[] = [];
  for (const event of events) {
    c.on(event, () => {
      throw new Error(`a ${event} listener's bug`);
    });
    c.on(event, (...args: unknown[]) => void seen.push(`${event}: ${describe(...args)}`));
  }
  return seen;
}

const shares = (): number[] => members.map((m) => m.partitions().length);

test("a leader balances, goes on after a failed round and stops although its listeners throw", async () => {
  const faulty = new FaultyPool(fx.pool);
  const c = await createCoordinator(faulty, { cluster, leaseTtlMs: 1000, electionIntervalMs: 50, pollMs: 20 });
  coordinators.push(c);
  const seen = listen(c, ["coordinator:state", "leader:elected", "round:done", "round:error"], (info) => {
    // What a listener sees is complete: the state it is told of, the round already counted.
    const report = (info as { trigger?: unknown }).trigger === undefined ? null : info;
    return `${c.state}${report === null ? "" : ` counted ${String(c.stats().lastRound === report)}`}`;
  });
  await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 6 });
  await member("a");
  await member("b");
  await until(() => shares().join() === "3,3");
  expect(seen).toContain("coordinator:state: leading");
  expect(seen).toContain("leader:elected: leading");
  expect(seen).toContain("round:done: leading counted true");
  expect(c.stats().roundErrors).toBe(0);

  // A round that fails is reported (its listener throws too), and the next one goes on.
  faulty.failOnce.add("ListPlanningOwnership");
  await member("c");
  await until(() => shares().join() === "2,2,2");
  expect(seen).toContain("round:error: leading");
  expect(c.stats()).toMatchObject({ state: "leading", roundErrors: 1 });

  await expect(c.stop()).resolves.toBeUndefined();
  expect(c.state).toBe("stopped");
  expect(seen.slice(-2)).toEqual(["coordinator:state: stopping", "coordinator:state: stopped"]);
  expect(trap.escaped).toEqual([]);
});
