// Fencing of a deposed leader's writes, and the coordinator's operations: telling new owners,
// plan(), deleting departed members and the audit trail.
import { setTimeout as sleep } from "node:timers/promises";

import type { RowDataPacket } from "mysql2/promise";

import { createLocker } from "@helix/lock";

import { ownershipProtocol as ownership } from "@helix/cluster/internal";
import { createOwnershipStore, PartitionState } from "../src";
import { resolveCoordinatorOptions } from "../src/options";
import { TransitionCauses } from "../src/audit";
import type { Plan } from "../src/planner";
import { applyPlan, applyTransitions, planFor } from "../src/round";
import { readSnapshot } from "../src/snapshot";
import { FaultyPool, nextEvent, until } from "./helpers";
import { catalog, cluster, converged, coordinator, fx, member, table, useCoordinatorFixture } from "./coordinator-fixture";

useCoordinatorFixture();

describe("fencing and operations", () => {
  test("a deposed leader's batch is refused and changes nothing", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 1 });
    await member("a");
    const key = `helix/${cluster}/coordinator`;
    const old = await createLocker(fx.pool, { owner: "old" });
    const lease = (await old.tryAcquire(key, { ttlMs: 60_000 }))!;
    // The database ends the old lease and a new leader takes the key; the old one has not noticed.
    await fx.pool.query("UPDATE helix_locks SET expires_at = UTC_TIMESTAMP(6) WHERE lock_key = ?", [key]);
    const successor = await createLocker(fx.pool, { owner: "new" });
    expect((await successor.tryAcquire(key, { ttlMs: 60_000 }))!.epoch).toBe(lease.epoch + 1);
    expect(lease.isHeld()).toBe(true);

    const before = await table();
    const options = resolveCoordinatorOptions({ cluster, forceReleaseAfterMs: 0 });
    const snapshot = await readSnapshot(fx.pool, cluster);
    const plan = planFor(snapshot, options);
    expect(plan.transitions).toMatchObject([{ type: "assign", partition: 0, to: "a", reason: "unassigned" }]);
    const error = await applyPlan(
      { source: fx.pool, options, lease, leading: () => true, untold: new Set(), pace: new ownership.RunPace() },
      snapshot,
      plan,
    ).catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe("HELIX_FENCED_OUT");
    expect(await table()).toEqual(before);
    const [audit] = await fx.pool.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM helix_transitions WHERE cluster = ?", [cluster]);
    expect(audit[0]!.n).toBe(0);
    await old.close();
    await successor.close();
  });

  test("a deposed leader's sweep of expired members, prune of a removed task list and telling of new owners are refused and change nothing", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "gone", partitions: 2 });
    const cut = new FaultyPool(fx.pool);
    await member("x", {}, cut);
    await member("a");
    cut.cut = true;
    // x owns a partition of the task list that is then removed: its rows wait for the round's
    // prune (x, its pool cut, confirms nothing meanwhile); then x's TTL passes.
    await using store = await createOwnershipStore(fx.pool, { cluster });
    expect(await store.assign({ domain: "d", taskList: "gone", partition: 0, generation: 0 }, "x")).toBe(1);
    await catalog.removeTaskList("d", "gone");
    await fx.pool.query("UPDATE helix_nodes SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE cluster = ? AND node_id = 'x'", [
      cluster,
    ]);
    const key = `helix/${cluster}/coordinator`;
    const old = await createLocker(fx.pool, { owner: "old" });
    const lease = (await old.tryAcquire(key, { ttlMs: 60_000 }))!;
    await fx.pool.query("UPDATE helix_locks SET expires_at = UTC_TIMESTAMP(6) WHERE lock_key = ?", [key]);
    const successor = await createLocker(fx.pool, { owner: "new" });
    expect(await successor.tryAcquire(key, { ttlMs: 60_000 })).not.toBeNull();

    const state = async (): Promise<unknown> => {
      const [members] = await fx.pool.query<RowDataPacket[]>(
        "SELECT node_id, status, assignment_version FROM helix_nodes WHERE cluster = ? ORDER BY node_id",
        [cluster],
      );
      const [lists] = await fx.pool.query<RowDataPacket[]>("SELECT task_list, status FROM helix_cluster WHERE cluster = ?", [cluster]);
      return [members, lists, await table()];
    };
    const before = await state();
    const options = resolveCoordinatorOptions({ cluster });
    const snapshot = await readSnapshot(fx.pool, cluster);
    expect([snapshot.expiredMembers, snapshot.retiring.length]).toEqual([1, 1]);
    const nothing: Plan = { transitions: [], pendingHandoffs: 0, nextCheckMs: null, targets: new Map() };
    const writer = (untold: string[]) => ({
      source: fx.pool,
      options,
      lease,
      leading: () => true,
      untold: new Set(untold),
      pace: new ownership.RunPace(),
    });
    const refusal = (promise: Promise<unknown>) =>
      promise.then(
        () => "written",
        (e: unknown) => (e as { code?: string }).code,
      );
    // The sweep (it comes first), the prune (with nothing to sweep), and the telling of new owners.
    expect(await refusal(applyPlan(writer([]), snapshot, nothing))).toBe("HELIX_FENCED_OUT");
    expect(await refusal(applyPlan(writer([]), { ...snapshot, expiredMembers: 0, departedMembers: [] }, nothing))).toBe("HELIX_FENCED_OUT");
    expect(await refusal(applyTransitions(writer(["a"]), [], 100, new TransitionCauses([], [])))).toBe("HELIX_FENCED_OUT");
    expect(await state()).toEqual(before);
    await old.close();
    await successor.close();
  });

  test("a leader deposed after its batch committed has its trim of the audit trail refused", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 1 });
    await member("a");
    const key = `helix/${cluster}/coordinator`;
    const locker = await createLocker(fx.pool, { owner: "leader" });
    const lease = (await locker.tryAcquire(key, { ttlMs: 60_000 }))!;
    // An audit row past the retention, for the trim to delete.
    const options = resolveCoordinatorOptions({ cluster, auditRetentionMs: 60_000 });
    await fx.pool.query(
      "INSERT INTO helix_transitions (cluster, created_at, epoch, kind, domain, task_list, partition_id, generation) VALUES (?, UTC_TIMESTAMP(6) - INTERVAL 1 DAY, 1, 1, 'd', 't', 0, 1)",
      [cluster],
    );
    // The batch and the telling of its new owner commit under the lease; from the third fence on,
    // the lease is one a successor took (the lease's own fence, refusing as a deposed one would).
    let fences = 0;
    const deposed = {
      epoch: lease.epoch,
      fence: (conn: Parameters<typeof lease.fence>[0]) =>
        ++fences <= 2 ? lease.fence(conn) : Promise.reject(Object.assign(new Error("deposed"), { code: "HELIX_FENCED_OUT" })),
    };
    const snapshot = await readSnapshot(fx.pool, cluster);
    const plan = planFor(snapshot, options);
    expect(plan.transitions).toHaveLength(1);
    const writer = {
      source: fx.pool,
      options,
      lease: deposed as never,
      leading: () => true,
      untold: new Set<string>(),
      pace: new ownership.RunPace(),
    };
    const error = await applyTransitions(writer, plan.transitions, 100, new TransitionCauses(snapshot.members, snapshot.taskLists)).catch(
      (e: unknown) => e,
    );
    expect((error as { code?: string }).code).toBe("HELIX_FENCED_OUT");
    expect(fences).toBe(3);
    const [audit] = await fx.pool.query<RowDataPacket[]>("SELECT epoch FROM helix_transitions WHERE cluster = ? ORDER BY id", [cluster]);
    // The old row is still there, beside the batch's own.
    expect(audit.map((r) => Number(r.epoch))).toEqual([1, lease.epoch]);
    await locker.close();
  });

  test("new owners learn their partitions at the round's end; a leader that stopped before it leaves them to the next, which tells every member", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 2 });
    const a = await member("a");
    const key = `helix/${cluster}/coordinator`;
    const locker = await createLocker(fx.pool, { owner: "gone-before-the-end" });
    const lease = (await locker.tryAcquire(key, { ttlMs: 60_000 }))!;
    const options = resolveCoordinatorOptions({ cluster });
    const snapshot = await readSnapshot(fx.pool, cluster);
    const plan = planFor(snapshot, options);
    // Leading for the batch, not for the telling that ends the round.
    let asked = 0;
    const untold = new Set<string>();
    const writes = await applyPlan(
      { source: fx.pool, options, lease, leading: () => ++asked < 2, untold, pace: new ownership.RunPace() },
      snapshot,
      plan,
    );
    expect(writes.applied).toHaveLength(2);
    expect([...untold]).toEqual(["a"]);
    expect((await table()).map((r) => r.nodeId)).toEqual(["a", "a"]);
    // a heartbeats every 50 ms, but nothing told it: it does not know.
    await sleep(300);
    expect(a.partitions()).toEqual([]);
    await lease.release();
    await locker.close();
    await coordinator();
    await until(() => a.partitions().length === 2);
  });

  test("plan() shows what the next round would do without writing, on a standby too", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 3 });
    const holder = await createLocker(fx.pool, { owner: "elsewhere" });
    await holder.tryAcquire(`helix/${cluster}/coordinator`, { ttlMs: 60_000 });
    const standby = await coordinator();
    await member("a");
    await member("b");
    const plan = await standby.plan();
    expect(standby.state).toBe("following");
    expect(plan.transitions.map((t) => t.type === "assign" && t.reason)).toEqual(["unassigned", "unassigned", "unassigned"]);
    expect(plan.snapshot.liveMembers).toBe(2);
    expect((await table()).every((r) => r.state === PartitionState.Unassigned)).toBe(true);
    await holder.close();
  });

  test("a round deletes members gone longer than the retention, once; later quiet rounds write nothing", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 2 });
    const faulty = new FaultyPool(fx.pool);
    const c = await coordinator({ fallbackIntervalMs: 50, memberRetentionMs: 60_000 }, faulty);
    const a = await member("a");
    const gone = await member("gone");
    await converged(c, [a, gone]);
    const deleted: number[] = [];
    c.on("round:done", (r) => {
      if (r.deletedMembers > 0) deleted.push(r.deletedMembers);
    });
    await gone.leave();
    await converged(c, [a]);
    // Gone for half the retention: kept through any number of rounds.
    const setGone = (ms: number) =>
      fx.pool.query(
        "UPDATE helix_nodes SET expires_at = UTC_TIMESTAMP(6) - INTERVAL ? MICROSECOND WHERE cluster = ? AND node_id = 'gone'",
        [ms * 1000, cluster],
      );
    await setGone(30_000);
    await sleep(300);
    expect(faulty.count("DeleteDepartedMembers")).toBe(0);
    expect((await c.plan()).snapshot.members.map((m) => m.nodeId)).toEqual(["a", "gone"]);
    // Past the retention: the next round deletes it, and the rounds after it have nothing to do.
    await setGone(61_000);
    await until(() => deleted.length > 0, 5000);
    expect(deleted).toEqual([1]);
    expect((await c.plan()).snapshot.members.map((m) => m.nodeId)).toEqual(["a"]);
    const statements = faulty.count("DeleteDepartedMembers");
    const written = c.stats().roundsWithWrites;
    await sleep(300);
    expect(faulty.count("DeleteDepartedMembers")).toBe(statements);
    expect(c.stats().roundsWithWrites).toBe(written);
  });

  test("the audit trail records each change with the leader's epoch and keeps only the retention", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 2 });
    const c = await coordinator({ auditRetentionMs: 500 });
    const [{ epoch }] = await nextEvent(c, "leader:elected");
    const a = await member("a");
    await converged(c, [a]);
    const first = await c.history();
    expect(first.map((t) => [t.kind, t.to, t.epoch, t.generation])).toEqual([
      ["assigned", "a", epoch, 1],
      ["assigned", "a", epoch, 1],
    ]);
    await sleep(600);
    const b = await member("b");
    await converged(c, [a, b]);
    const later = await c.history();
    expect(later.some((t) => t.id === first[0]!.id)).toBe(false);
    expect(later.map((t) => t.kind)).toEqual(["handed-off", "release-requested"]);
  });
});
