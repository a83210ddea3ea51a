// The fixture of the member tests: a migrated database per test file; per test, a fresh cluster
// with its catalog and ownership store, and members that leave after it. The bindings below are
// live: each test reads the current test's.
import { createCatalog, createOwnershipStore, join, type Catalog, type Member, type OwnershipStore } from "../src";

import { migratedDatabase, type FaultyPool, type Fixture } from "./helpers";

export let fx: Fixture;
export let cluster: string;
export let catalog: Catalog;
export let store: OwnershipStore;
let clusterNo = 0;
/** The members joined by {@link member} in the current test, in order. */
export const members: Member[] = [];

/** Joins the current test's cluster (TTL 3 s, heartbeats every 100 ms, no sweeps unless `options` says so); it leaves after the test. */
export async function member(
  options: Partial<Parameters<typeof join>[1]> = {},
  source: Parameters<typeof join>[0] = fx.pool,
): Promise<Member> {
  const m = await join(source, { cluster, ttlMs: 3000, heartbeatMs: 100, sweepIntervalMs: 0, ...options });
  members.push(m);
  return m;
}

/** The statements a member reads its partitions with: all of them, or those changed since it last read. */
export const PARTITION_READS = ["ListProcessOwnership", "ListProcessOwnershipChanges"];

/** How many times a member read its partitions through `pool`. */
export const partitionReads = (pool: FaultyPool): number => PARTITION_READS.reduce((sum, name) => sum + pool.count(name), 0);

/** Assigns every partition of a task list to `nodeId` through the store. */
export async function assignAll(domain: string, taskList: string, nodeId: string): Promise<void> {
  for (const p of await store.taskListPartitions(domain, taskList)) {
    expect(await store.assign({ domain, taskList, partition: p.partition, generation: p.generation }, nodeId)).toBe(p.generation + 1);
  }
}

/** Registers the fixture's hooks in the calling test file. */
export function useMemberFixture(): void {
  beforeAll(async () => {
    fx = await migratedDatabase();
  });

  beforeEach(async () => {
    cluster = `c${++clusterNo}`;
    catalog = await createCatalog(fx.pool, { cluster });
    store = await createOwnershipStore(fx.pool, { cluster });
  });

  afterEach(async () => {
    await Promise.all(members.splice(0).map((m) => m.leave()));
  });

  afterAll(async () => {
    await fx.close();
  });
}
