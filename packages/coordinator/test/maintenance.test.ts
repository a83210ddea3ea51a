// Maintenance mode: while it is on, the coordinator moves nothing in its scope; once it ends, the
// moves it held back are made, and no more than those.
import { setTimeout as sleep } from "node:timers/promises";

import type { RowDataPacket } from "mysql2/promise";

import {
  endMaintenance,
  MAX_MAINTENANCE_EXPIRY_MS,
  PartitionState,
  planNextRound,
  readMaintenance,
  startMaintenance,
  type Coordinator,
  type MaintenanceOptions,
  type OwnedPartition,
  type TransitionRecord,
} from "../src";
import { FaultyPool, until } from "./helpers";
import { catalog, cluster, converged, coordinator, fx, member, table, useCoordinatorFixture, type OwnerRow } from "./coordinator-fixture";

useCoordinatorFixture();

const ON: MaintenanceOptions = { reason: "host upgrade", actor: "test" };

/** Waits for `n` more rounds of `c` than it has run so far (each one that could have moved something). */
async function rounds(c: Coordinator, n: number): Promise<void> {
  const seen = c.stats().rounds;
  await until(() => c.stats().rounds >= seen + n);
}

/** The transitions recorded after the one with id `after`. */
async function since(c: Coordinator, after: number): Promise<TransitionRecord[]> {
  return (await c.history({ limit: 1000 })).filter((t) => t.id > after);
}

const lastId = async (c: Coordinator): Promise<number> => (await c.history({ limit: 1 }))[0]?.id ?? 0;

const key = (r: OwnerRow): string => `${r.taskList}/${r.partition}`;

describe("maintenance", () => {
  test("a join, a leave and a crash move nothing until it is turned off; then the moves are the minimum", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 12 });
    const c = await coordinator({ fallbackIntervalMs: 50 });
    const a = await member("a");
    const b = await member("b");
    const faulty = new FaultyPool(fx.pool);
    const crashing = await member("c", {}, faulty);
    await converged(c, [a, b, crashing]);
    const before = new Map((await table()).map((r) => [key(r), r]));
    const mark = await lastId(c);

    const started = await startMaintenance(fx.pool, cluster, ON);
    expect(started).toMatchObject({ taskList: null, reason: "host upgrade", actor: "test", expiresAt: null, remainingMs: null });
    await rounds(c, 2);
    const d = await member("d");
    await a.leave();
    faulty.cut = true;
    // The crashed member's TTL (2 s) passes, and many rounds (one every 50 ms at least) with it.
    await until(async () => (await planNextRound(fx.pool, c.options)).snapshot.liveMembers === 2, 10_000);
    await rounds(c, 5);

    expect(await since(c, mark)).toEqual([]);
    expect(d.partitions()).toEqual([]);
    for (const row of await table()) {
      const was = before.get(key(row))!;
      // b and the crashed c keep theirs at the same generation; a's are left without an owner.
      if (was.nodeId === "a") expect(row.state).not.toBe(PartitionState.Assigned);
      else expect([row.nodeId, row.generation, row.state]).toEqual([was.nodeId, was.generation, PartitionState.Assigned]);
    }
    // What the rounds would have done is shown, not done: a's and c's 8 partitions to b and d.
    const dry = await c.plan();
    expect(dry.snapshot.maintenance).toHaveLength(1);
    expect(dry.heldForMaintenance).toBe(dry.transitions.length);
    expect(dry.transitions.filter((t) => t.type === "assign")).toHaveLength(8);
    expect(c.stats().lastRound?.heldForMaintenance).toBeGreaterThanOrEqual(8);

    expect(await since(c, mark)).toEqual([]);
    const off = await lastId(c);
    expect(await endMaintenance(fx.pool, cluster)).toBe(true);
    await converged(c, [b, d]);
    // The minimum: the 8 partitions without a live owner are given out, nothing of b's moves.
    const moves = await since(c, off);
    expect(moves.filter((t) => t.kind === "release-requested")).toEqual([]);
    // a's were released by its leave (no owner); c's are reclaimed from the crashed member.
    expect(moves.map((t) => t.from ?? "none").sort()).toEqual(["c", "c", "c", "c", "none", "none", "none", "none"]);
    expect(b.partitions()).toHaveLength(6);
    expect(d.partitions()).toHaveLength(6);
  });

  test("a member restarted under its node id takes its own partitions back during maintenance", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 8 });
    const c = await coordinator({ fallbackIntervalMs: 50 });
    const a = await member("a");
    const b = await member("b");
    await converged(c, [a, b]);
    const mine = a.partitions().map((p) => p.partition);
    await startMaintenance(fx.pool, cluster, ON);
    await a.leave({ returningWithinMs: 10_000 });
    const back = await member("a");
    await until(() => back.partitions().length === 4);
    expect(back.partitions().map((p) => p.partition)).toEqual(mine);
  });

  test("a hand-off asked for before maintenance completes under it", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 8 });
    const c = await coordinator();
    const a = await member("a", { confirmReleases: "manual" });
    const asked: OwnedPartition[] = [];
    a.on("partition:release-requested", (p) => asked.push(p));
    await converged(c, [a]);
    // b joins: the leader asks a for 4 partitions, which a confirms only once maintenance is on.
    const b = await member("b");
    await until(() => asked.length === 4);
    await startMaintenance(fx.pool, cluster, ON);
    for (const p of asked) await a.confirmRelease(p);
    await until(() => b.partitions().length === 4);
    await converged(c, [a, b]);
  });

  test("a task list's maintenance holds that task list only", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "held", partitions: 4 });
    await catalog.putTaskList({ domain: "d", taskList: "free", partitions: 4 });
    const c = await coordinator({ fallbackIntervalMs: 50 });
    const a = await member("a");
    await converged(c, [a]);
    await startMaintenance(fx.pool, cluster, { ...ON, taskList: { domain: "d", taskList: "held" } });
    const b = await member("b");
    await until(() => b.partitions().length === 2);
    await rounds(c, 3);
    expect(b.partitions().map((p) => p.taskList)).toEqual(["free", "free"]);
    // The cluster's maintenance is not the task list's: ending it ends nothing.
    expect(await endMaintenance(fx.pool, cluster)).toBe(false);
    expect(await endMaintenance(fx.pool, cluster, { domain: "d", taskList: "held" })).toBe(true);
    await converged(c, [a, b]);
    expect(b.partitions()).toHaveLength(4);
  });

  test("a maintenance with an expiry ends on its own, by the database clock, and the held moves are made then", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 4 });
    const c = await coordinator({ fallbackIntervalMs: 60_000 });
    const a = await member("a");
    await converged(c, [a]);
    const started = await startMaintenance(fx.pool, cluster, { ...ON, expiresInMs: 1500 });
    expect(started.remainingMs).toBeGreaterThan(1000);
    expect(started.expiresAt!.getTime() - started.startedAt.getTime()).toBe(1500);
    const at = performance.now();
    const b = await member("b");
    // Nothing moves while it lasts; the leader looks again when it ends (no fallback round comes).
    await until(() => b.partitions().length === 2, 10_000);
    expect(performance.now() - at).toBeGreaterThanOrEqual(1000);
    expect(await readMaintenance(fx.pool, cluster)).toEqual([]);
  });

  test("starting it again changes its reason, actor and expiry and keeps its start; ending it twice ends it once", async () => {
    const first = await startMaintenance(fx.pool, cluster, { reason: "one", actor: "x", expiresInMs: 60_000 });
    await sleep(20);
    const second = await startMaintenance(fx.pool, cluster, { reason: "two", actor: "y" });
    expect(second).toMatchObject({ reason: "two", actor: "y", expiresAt: null, startedAt: first.startedAt });
    expect(second.onForMs).toBeGreaterThanOrEqual(first.onForMs);
    expect(await readMaintenance(fx.pool, cluster)).toEqual([expect.objectContaining({ reason: "two", taskList: null })]);
    expect(await endMaintenance(fx.pool, cluster)).toBe(true);
    expect(await endMaintenance(fx.pool, cluster)).toBe(false);
    expect(await readMaintenance(fx.pool, cluster)).toEqual([]);
  });

  test("one whose expiry passed starts anew, its start included", async () => {
    const first = await startMaintenance(fx.pool, cluster, { ...ON, expiresInMs: 1 });
    await until(async () => (await readMaintenance(fx.pool, cluster)).length === 0);
    const again = await startMaintenance(fx.pool, cluster, ON);
    expect(again.startedAt.getTime()).toBeGreaterThan(first.startedAt.getTime());
  });

  test("bad options are refused with the option named, before anything is written", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 1 });
    const bad: [unknown, string][] = [
      [{ actor: "x" }, "reason"],
      [{ reason: "" }, "reason"],
      [{ reason: "x".repeat(513) }, "reason"],
      [{ reason: " padded" }, "reason"],
      [{ reason: "r", actor: "" }, "actor"],
      [{ reason: "r", expiresInMs: 0 }, "expiresInMs"],
      [{ reason: "r", expiresInMs: -5 }, "expiresInMs"],
      [{ reason: "r", expiresInMs: 1.5 }, "expiresInMs"],
      [{ reason: "r", expiresInMs: MAX_MAINTENANCE_EXPIRY_MS + 1 }, "expiresInMs"],
      [{ reason: "r", expiresInMs: "60000" }, "expiresInMs"],
      [{ reason: "r", expiresInMs: null }, "expiresInMs"],
      [{ reason: "r", taskList: null }, "taskList"],
      [{ reason: "r", taskList: { domain: "d" } }, "taskList.taskList"],
      [{ reason: "r", taskList: { domain: "", taskList: "t" } }, "taskList.domain"],
      [null, "options"],
    ];
    for (const [options, argument] of bad) {
      await expect(startMaintenance(fx.pool, cluster, options as MaintenanceOptions)).rejects.toMatchObject({
        code: "HELIX_INVALID_ARGUMENT",
        argument,
      });
    }
    await expect(startMaintenance(fx.pool, cluster, { reason: "r", taskList: { domain: "d", taskList: "nope" } })).rejects.toMatchObject({
      code: "HELIX_UNKNOWN_TASK_LIST",
    });
    await expect(endMaintenance(fx.pool, cluster, { domain: "d", taskList: "" })).rejects.toMatchObject({ argument: "taskList.taskList" });
    await expect(startMaintenance(fx.pool, "", ON)).rejects.toMatchObject({ argument: "cluster" });
    await expect(startMaintenance({} as never, cluster, ON)).rejects.toMatchObject({ argument: "client" });
    const [rows] = await fx.pool.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM helix_maintenance WHERE cluster = ?", [cluster]);
    expect(rows[0]!.n).toBe(0);
  });
});
