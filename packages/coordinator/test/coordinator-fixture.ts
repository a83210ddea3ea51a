// The fixture of the coordinator tests: a migrated database per test file and a trap for unhandled
// rejections and uncaught exceptions; per test, a fresh cluster with its catalog, and the
// coordinators and members a test starts, stopped after it. The bindings below are live: each test
// reads the current test's.
import type { Pool, RowDataPacket } from "mysql2/promise";

import { ProcessTrap } from "@helix/testing";

import {
  createCatalog,
  createCoordinator,
  join,
  PartitionState,
  type Catalog,
  type Coordinator,
  type CoordinatorOptions,
  type Member,
} from "../src";
import { migratedDatabase, until, type Fixture } from "./helpers";

export let fx: Fixture;
let clusterNo = 0;
export let cluster: string;
export let catalog: Catalog;
const members: Member[] = [];
const coordinators: Coordinator[] = [];
/** Unhandled rejections and uncaught exceptions, on the real process (jest's copy never emits them). */
const trap = new ProcessTrap();

/** Registers the fixture's hooks in the calling test file. */
export function useCoordinatorFixture(): void {
  beforeAll(async () => {
    fx = await migratedDatabase();
    trap.start();
  });

  beforeEach(async () => {
    cluster = `c${++clusterNo}`;
    catalog = await createCatalog(fx.pool, { cluster });
  });

  afterEach(async () => {
    await Promise.all(coordinators.splice(0).map((c) => c.stop()));
    await Promise.all(members.splice(0).map((m) => m.leave().catch(() => undefined)));
    await catalog.close();
    expect(trap.escaped.splice(0)).toEqual([]);
  });

  afterAll(async () => {
    trap.stop();
    await fx.close();
  });
}

/** Starts a coordinator for the current test's cluster (lease 1 s, elections every 50 ms, polls every 20 ms); it stops after the test. */
export async function coordinator(
  options: Partial<CoordinatorOptions> = {},
  source: Parameters<typeof createCoordinator>[0] = fx.pool,
): Promise<Coordinator> {
  const c = await createCoordinator(source, { cluster, leaseTtlMs: 1000, electionIntervalMs: 50, pollMs: 20, ...options });
  coordinators.push(c);
  return c;
}

/** Joins `nodeId` to the current test's cluster (TTL 2 s, heartbeats every 50 ms, no sweeps); it leaves after the test. */
export async function member(
  nodeId: string,
  options: Partial<Parameters<typeof join>[1]> = {},
  source: Parameters<typeof join>[0] = fx.pool,
): Promise<Member> {
  const m = await join(source, { cluster, nodeId, ttlMs: 2000, heartbeatMs: 50, sweepIntervalMs: 0, ...options });
  members.push(m);
  return m;
}

/** One row of the current cluster's ownership table. */
export interface OwnerRow {
  taskList: string;
  partition: number;
  nodeId: string | null;
  state: number;
  generation: number;
}

/** The current cluster's ownership table, by task list and partition. */
export async function table(pool: Pool = fx.pool): Promise<OwnerRow[]> {
  const [rows] = await pool.query<RowDataPacket[]>(
    "SELECT task_list AS taskList, partition_id AS `partition`, node_id AS nodeId, state, generation FROM helix_allocation WHERE cluster = ? ORDER BY task_list, partition_id",
    [cluster],
  );
  return rows as OwnerRow[];
}

/** Per member, how many partitions it owns (state Assigned). */
export async function counts(): Promise<Map<string, number>> {
  const result = new Map<string, number>();
  for (const r of await table())
    if (r.state === PartitionState.Assigned && r.nodeId !== null) result.set(r.nodeId, (result.get(r.nodeId) ?? 0) + 1);
  return result;
}

/**
 * Waits until the coordinator has nothing left to do, every partition is assigned, and each member
 * believes exactly what the table says.
 */
export async function converged(c: Coordinator, expected: Member[], timeoutMs = 10_000): Promise<void> {
  await until(async () => {
    const plan = await c.plan();
    if (plan.transitions.length > 0 || plan.pendingHandoffs > 0 || plan.snapshot.liveMembers !== expected.length) return false;
    const rows = await table();
    if (rows.some((r) => r.state !== PartitionState.Assigned)) return false;
    const believed = new Map<string, string>();
    for (const m of expected) for (const p of m.partitions()) believed.set(`${p.taskList}/${p.partition}`, m.nodeId);
    return rows.length === believed.size && rows.every((r) => believed.get(`${r.taskList}/${r.partition}`) === r.nodeId);
  }, timeoutMs);
}
