// A listener's exception is the application's bug: it must not leave a sync half-applied, stop the
// heartbeats, break leave(), nor escape as an unhandled rejection or an uncaught exception.
import {
  createCatalog,
  createOwnershipStore,
  createRoutingTable,
  join,
  type Catalog,
  type Member,
  type MemberEvents,
  type OwnershipStore,
} from "../src";
import { ProcessTrap } from "@helix/testing";

import { FaultyPool, migratedDatabase, until, type Fixture } from "./helpers";

let fx: Fixture;
let clusterNo = 0;
let cluster: string;
let catalog: Catalog;
let store: OwnershipStore;
const members: Member[] = [];
const trap = new ProcessTrap();

beforeAll(async () => {
  fx = await migratedDatabase();
  trap.start();
});

beforeEach(async () => {
  cluster = `l${++clusterNo}`;
  catalog = await createCatalog(fx.pool, { cluster });
  store = await createOwnershipStore(fx.pool, { cluster });
});

afterEach(async () => {
  await Promise.all(members.splice(0).map((m) => m.leave()));
  await store.close();
  await catalog.close();
  expect(trap.escaped).toEqual([]);
});

afterAll(async () => {
  trap.stop();
  await fx.close();
});

async function member(nodeId: string, source: Parameters<typeof join>[0] = fx.pool): Promise<Member> {
  const m = await join(source, { cluster, nodeId, ttlMs: 3000, heartbeatMs: 50, sweepIntervalMs: 0 });
  members.push(m);
  return m;
}

/** Adds a listener that throws, then one that records what it sees, to each of `events`. */
function listen(m: Member, events: (keyof MemberEvents)[], describe: () => string): string[] {
  const seen: string[] = [];
  for (const event of events) {
    m.on(event, () => {
      throw new Error(`a ${event} listener's bug`);
    });
    m.on(event, () => void seen.push(`${event}: ${describe()}`));
  }
  return seen;
}

const named = (seen: string[], event: string): string[] => seen.filter((s) => s.startsWith(`${event}:`));

test("a member applies whole syncs, keeps heartbeating and leaves although its listeners throw", async () => {
  const watched = new FaultyPool(fx.pool);
  const a = await member("a", watched);
  await member("b");
  const seen = listen(
    a,
    ["partition:assigned", "partition:release-requested", "partition:released", "partition:lost", "change", "member:heartbeat-failed"],
    () => `${a.state} owns ${a.partitions().length}`,
  );
  await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 4 });
  // The member reads its partitions only once all four are given: one sync brings them all.
  for (const read of ["ListProcessOwnership", "ListProcessOwnershipChanges"]) watched.failing.add(read);
  for (const p of await store.taskListPartitions("d", "t")) {
    await store.assign({ domain: "d", taskList: "t", partition: p.partition, generation: p.generation }, "a");
  }
  await until(() => named(seen, "member:heartbeat-failed").length > 0, 3000);
  watched.failing.clear();

  await until(() => named(seen, "partition:assigned").length === 4, 3000);
  // Every event of the sync came after the whole sync was applied.
  expect(named(seen, "partition:assigned")).toEqual(Array(4).fill("partition:assigned: active owns 4"));
  expect(named(seen, "change")).toEqual(Array(4).fill("change: active owns 4"));

  expect(await store.requestRelease({ domain: "d", taskList: "t", partition: 0, generation: 1 }, "b")).toBe(true);
  await until(() => named(seen, "partition:released").length === 1, 3000);
  expect(named(seen, "partition:release-requested")).toEqual(["partition:release-requested: active owns 3"]);
  expect(named(seen, "partition:released")).toEqual(["partition:released: active owns 3"]);

  // Heartbeats go on, and the member stays whole.
  const beats = watched.count("HeartbeatMember");
  await until(() => watched.count("HeartbeatMember") >= beats + 3, 3000);
  expect(a.state).toBe("active");
  expect(a.partitions().map((p) => p.partition)).toEqual([1, 2, 3]);

  await expect(a.leave()).resolves.toBeUndefined();
  expect(a.state).toBe("left");
  expect(named(seen, "partition:lost")).toEqual(Array(3).fill("partition:lost: left owns 0"));
  expect(trap.warningsWithCode("HELIX_LISTENER_THREW").length).toBeGreaterThanOrEqual(13);
});

test("a routing table refreshes although its listeners throw", async () => {
  await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 1 });
  await member("r");
  const faulty = new FaultyPool(fx.pool);
  const table = await createRoutingTable(faulty, { cluster, refreshMs: 20 });
  try {
    const errors: Error[] = [];
    table.on("routing:changed", () => {
      throw new Error("a routing:changed listener's bug");
    });
    table.on("routing:error", () => {
      throw new Error("a routing:error listener's bug");
    });
    table.on("routing:error", (error) => errors.push(error));
    await store.assign({ domain: "d", taskList: "t", partition: 0, generation: 0 }, "r");
    // This refresh or a timed one, whichever reads first, finds the change (and its listener throws).
    await table.refresh();
    expect(table.ownerOf("d", "t", 0)).toBe("r");

    // Two refreshes fail (the error listener throws too); the next ones go on.
    const failure = { errno: 1146, code: "ER_NO_SUCH_TABLE" };
    faulty.injected.push(failure, failure);
    await until(() => errors.length === 2, 3000);
    const version = table.version;
    expect(await store.requestRelease({ domain: "d", taskList: "t", partition: 0, generation: 1 }, null)).toBe(true);
    await until(() => table.version > version, 3000);
  } finally {
    await table.close();
  }
});
