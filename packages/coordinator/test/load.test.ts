import { spawn, type ChildProcess } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";

import type { RowDataPacket } from "mysql2/promise";

import { ProcessTrap, TcpProxy } from "@helix/testing";

import { createCatalog, createCoordinator, join, TransitionKind, type Catalog, type Coordinator, type Member } from "../src";
import { migratedDatabase, until, type Fixture } from "./helpers";

// Slow is not dead: a database that answers every statement late, on a machine whose cores are
// taken by other processes, for longer than a TTL, must not make a member fence itself, nor the
// coordinator lose its lease; the work planned meanwhile (a join) moves no more than balance needs.

// Slow is not dead, but a heartbeat must still be answered within the TTL: at a 2 s TTL, TiDB on two
// cores that the hogs keep busy at times answered none in time and members fenced themselves, as
// they must. The TTL here is 3 s on every engine.
const TTL_MS = 3000;
const PARTITIONS = 240;
const cluster = "load";
let fx: Fixture;
let proxy: TcpProxy;
const trap = new ProcessTrap();

beforeAll(async () => {
  trap.start();
  fx = await migratedDatabase();
  proxy = await TcpProxy.start(new URL(fx.db.url));
});

afterAll(async () => {
  trap.stop();
  await proxy.close();
  await fx.close();
});

/** A process that keeps one core busy until killed. */
const cpuHog = (): ChildProcess => spawn(process.execPath, ["-e", "for (;;) Math.sqrt(Math.random());"], { stdio: "ignore" });

/** Owned partitions per member, as the ownership table has them. */
async function owned(): Promise<Map<string, number>> {
  const [rows] = await fx.pool.query<RowDataPacket[]>(
    "SELECT node_id, COUNT(*) AS n FROM helix_allocation WHERE cluster = ? AND state = 1 GROUP BY node_id",
    [cluster],
  );
  return new Map(rows.map((r) => [String(r.node_id), Number(r.n)]));
}

/** Every partition assigned, each of `nodeIds` owning its equal share. */
async function balanced(nodeIds: string[]): Promise<boolean> {
  const counts = await owned();
  return counts.size === nodeIds.length && nodeIds.every((id) => counts.get(id) === PARTITIONS / nodeIds.length);
}

test("a database answering 40 ms late and two busy cores, for three TTLs, fence no one; the join made meanwhile moves its share only", async () => {
  const url = proxy.url(fx.db.url);
  const trouble: string[] = [];
  const members: Member[] = [];
  let catalog: Catalog | undefined;
  let coordinator: Coordinator | undefined;
  const hogs: ChildProcess[] = [];
  const joinMember = async (nodeId: string): Promise<void> => {
    const member = await join(url, { cluster, nodeId, ttlMs: TTL_MS });
    member.on("member:fenced", () => trouble.push(`${nodeId} fenced`));
    member.on("member:rejoined", () => trouble.push(`${nodeId} rejoined`));
    members.push(member);
  };
  try {
    catalog = await createCatalog(url, { cluster });
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: PARTITIONS });
    coordinator = await createCoordinator(url, { cluster, leaseTtlMs: TTL_MS });
    coordinator.on("leader:lost", () => trouble.push("leadership lost"));
    for (const id of ["a", "b", "c"]) await joinMember(id);
    await until(() => balanced(["a", "b", "c"]), 20_000);
    const [lastRows] = await fx.pool.query<RowDataPacket[]>(
      "SELECT COALESCE(MAX(id), 0) AS last FROM helix_transitions WHERE cluster = ?",
      [cluster],
    );
    const last = Number(lastRows[0]!.last);

    proxy.setLatency(40);
    hogs.push(cpuHog(), cpuHog());
    await joinMember("d");
    await sleep(3 * TTL_MS);
    proxy.setLatency(0);
    for (const hog of hogs) hog.kill("SIGKILL");

    await until(() => balanced(["a", "b", "c", "d"]), 20_000);
    expect(trouble).toEqual([]);
    expect(members.every((m) => m.state === "active")).toBe(true);
    // Partitions that changed owner since: the newcomer's share, and nothing else.
    const [movedRows] = await fx.pool.query<RowDataPacket[]>(
      "SELECT COALESCE(SUM(partition_count), 0) AS moved FROM helix_transitions WHERE cluster = ? AND id > ? AND kind IN (?, ?, ?)",
      [cluster, last, TransitionKind.HandedOff, TransitionKind.Reclaimed, TransitionKind.Forced],
    );
    expect(Number(movedRows[0]!.moved)).toBe(PARTITIONS / 4);
  } finally {
    proxy.setLatency(0);
    for (const hog of hogs) hog.kill("SIGKILL");
    await Promise.all(members.map((m) => m.leave()));
    await coordinator?.stop();
    await catalog?.close();
  }
  expect(trap.escaped).toEqual([]);
}, 90_000);
