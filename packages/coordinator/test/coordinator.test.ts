import { setTimeout as sleep } from "node:timers/promises";
import { monitorEventLoopDelay } from "node:perf_hooks";

import type { Pool, RowDataPacket } from "mysql2/promise";

import { createLocker } from "@helix/lock";

import { ownershipProtocol as ownership } from "@helix/cluster/internal";
import {
  createCatalog,
  createCoordinator,
  InvalidArgumentError,
  join,
  PartitionState,
  TransitionKind,
  type Catalog,
  type Coordinator,
  type CoordinatorOptions,
  type Member,
  type OwnedPartition,
} from "../src";
import { resolveCoordinatorOptions } from "../src/options";
import { applyPlan, planFor } from "../src/round";
import { readSnapshot } from "../src/snapshot";
import { FaultyPool, migratedDatabase, nextEvent, until, type Fixture } from "./helpers";

let fx: Fixture;
let clusterNo = 0;
let cluster: string;
let catalog: Catalog;
const members: Member[] = [];
const coordinators: Coordinator[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);

beforeAll(async () => {
  fx = await migratedDatabase();
  process.on("unhandledRejection", onUnhandled);
});

beforeEach(async () => {
  cluster = `c${++clusterNo}`;
  catalog = await createCatalog(fx.pool, { cluster });
});

afterEach(async () => {
  await Promise.all(coordinators.splice(0).map((c) => c.stop()));
  await Promise.all(members.splice(0).map((m) => m.leave().catch(() => undefined)));
  await catalog.close();
  expect(unhandled).toEqual([]);
});

afterAll(async () => {
  process.off("unhandledRejection", onUnhandled);
  await fx.close();
});

async function coordinator(
  options: Partial<CoordinatorOptions> = {},
  source: Parameters<typeof createCoordinator>[0] = fx.pool,
): Promise<Coordinator> {
  const c = await createCoordinator(source, { cluster, leaseTtlMs: 1000, electionIntervalMs: 50, pollMs: 20, ...options });
  coordinators.push(c);
  return c;
}

async function member(
  nodeId: string,
  options: Partial<Parameters<typeof join>[1]> = {},
  source: Parameters<typeof join>[0] = fx.pool,
): Promise<Member> {
  const m = await join(source, { cluster, nodeId, ttlMs: 2000, heartbeatMs: 50, sweepIntervalMs: 0, ...options });
  members.push(m);
  return m;
}

interface OwnerRow {
  taskList: string;
  partition: number;
  nodeId: string | null;
  state: number;
  generation: number;
}

async function table(pool: Pool = fx.pool): Promise<OwnerRow[]> {
  const [rows] = await pool.query<RowDataPacket[]>(
    "SELECT task_list AS taskList, partition_id AS `partition`, node_id AS nodeId, state, generation FROM helix_allocation WHERE cluster = ? ORDER BY task_list, partition_id",
    [cluster],
  );
  return rows as OwnerRow[];
}

/** Per member, how many partitions it owns (state Assigned). */
async function counts(): Promise<Map<string, number>> {
  const result = new Map<string, number>();
  for (const r of await table())
    if (r.state === PartitionState.Assigned && r.nodeId !== null) result.set(r.nodeId, (result.get(r.nodeId) ?? 0) + 1);
  return result;
}

/**
 * Waits until the coordinator has nothing left to do, every partition is assigned, and each member
 * believes exactly what the table says.
 */
async function converged(c: Coordinator, expected: Member[], timeoutMs = 10_000): Promise<void> {
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

describe("options", () => {
  test("bad options are refused with the option's name before anything is written", async () => {
    const cases: [Partial<CoordinatorOptions>, string][] = [
      [{ cluster: "" }, "cluster"],
      [{ cluster: "x".repeat(129) }, "cluster"],
      [{ leaseTtlMs: 0 }, "leaseTtlMs"],
      [{ pollMs: -1 }, "pollMs"],
      [{ batchSize: 0 }, "batchSize"],
      [{ maxMovesPerMember: 0 }, "maxMovesPerMember"],
      [{ forceReleaseAfterMs: 1.5 }, "forceReleaseAfterMs"],
      [{ id: "" }, "id"],
      [{ memberRetentionMs: 59_999 }, "memberRetentionMs"],
    ];
    for (const [options, argument] of cases) {
      const error = await createCoordinator(fx.pool, { cluster: "never-written", ...options }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).argument).toBe(argument);
      expect((error as InvalidArgumentError).code).toBe("HELIX_INVALID_ARGUMENT");
    }
    const [rows] = await fx.pool.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM helix_cluster_state WHERE cluster = 'never-written'");
    expect(rows[0]!.n).toBe(0);
  });
});

describe("election", () => {
  test("one of two coordinators leads; stopping it hands leadership to the other at once", async () => {
    // A lease that would take 30 s to run out: a hand-off well before that came from the release.
    const a = await coordinator({ id: "a", leaseTtlMs: 30_000 });
    await nextEvent(a, "leader:elected");
    const b = await coordinator({ id: "b", leaseTtlMs: 30_000 });
    await sleep(200);
    expect([a.state, b.state]).toEqual(["leading", "following"]);
    const firstEpoch = a.epoch!;

    const states: string[] = [];
    a.on("coordinator:state", ({ to }) => states.push(to));
    const elected = nextEvent(b, "leader:elected");
    const stoppedAt = performance.now();
    await a.stop();
    const [{ epoch }] = await elected;
    const handOff = performance.now() - stoppedAt;
    expect(states).toEqual(["stopping", "stopped"]);
    expect(epoch).toBe(firstEpoch + 1);
    // A standby tries every 50 ms here; the lease was released, not left to expire (30 s).
    expect(handOff).toBeLessThan(10_000);
    expect(b.epoch).toBe(epoch);
  });

  test("a leader cut off from the database steps down by its deadline and leads again when it returns", async () => {
    const faulty = new FaultyPool(fx.pool);
    const c = await coordinator({ leaseTtlMs: 600 }, faulty);
    const [{ epoch }] = await nextEvent(c, "leader:elected");
    const lost = nextEvent(c, "leader:lost");
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const cutAt = performance.now();
    faulty.cut = true;
    await lost;
    const steppedDownAfter = performance.now() - cutAt;
    loopDelay.disable();
    expect(c.stats().leaseRenewFailures).toBeGreaterThan(0);
    // Its deadline is at most the TTL after the cut (its last renewal came before). The deadline
    // timer fires late only by as much as this process's event loop was late (a loaded machine),
    // plus a little.
    expect(steppedDownAfter).toBeLessThan(600 + 50 + loopDelay.max / 1e6);
    expect(c.state).toBe("following");
    faulty.cut = false;
    const [again] = await nextEvent(c, "leader:elected", 5000);
    expect(again.epoch).toBe(epoch + 1);
  });
});

describe("rounds", () => {
  test("joining members get balanced, exclusive partitions; quiet rounds write nothing", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "a", partitions: 7 });
    await catalog.putTaskList({ domain: "d", taskList: "b", partitions: 5 });
    const faulty = new FaultyPool(fx.pool);
    const c = await coordinator({ fallbackIntervalMs: 50 }, faulty);
    const m1 = await member("m1");
    await converged(c, [m1]);
    expect(await counts()).toEqual(new Map([["m1", 12]]));

    const m2 = await member("m2");
    const m3 = await member("m3");
    await converged(c, [m1, m2, m3]);
    expect([...(await counts()).values()].sort()).toEqual([4, 4, 4]);
    for (const [tl, n] of [
      ["a", 7],
      ["b", 5],
    ] as const) {
      const per = new Map<string, number>();
      for (const r of await table()) if (r.taskList === tl) per.set(r.nodeId!, (per.get(r.nodeId!) ?? 0) + 1);
      expect(Math.max(...per.values()) - Math.min(...per.values())).toBeLessThanOrEqual(1);
      expect([...per.values()].reduce((x, y) => x + y, 0)).toBe(n);
    }

    // Steady state: rounds keep running (fallback every 50 ms) but none writes.
    await sleep(300);
    const writes = [
      "AssignPartitions",
      "RequestPartitionsRelease",
      "InsertTransitions",
      "BumpOwnershipVersion",
      "MarkExpiredMembersInactive",
      "DeleteDepartedMembers",
    ];
    const before = writes.map((w) => faulty.count(w));
    const rounds = c.stats().rounds;
    const written = c.stats().roundsWithWrites;
    // At least four more rounds, however slowly a loaded machine runs them.
    await until(() => c.stats().rounds > rounds + 3);
    expect(c.stats().roundsWithWrites).toBe(written);
    expect(writes.map((w) => faulty.count(w))).toEqual(before);
    expect(faulty.count("ListPlanningOwnership")).toBeGreaterThan(3);
  });

  test("a hand-off waits for the owner's confirmation, then goes to the new member", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 2 });
    const c = await coordinator({ forceReleaseAfterMs: 60_000 });
    const asked: OwnedPartition[] = [];
    const a = await member("a", { confirmReleases: "manual" });
    a.on("partition:release-requested", (p) => asked.push(p));
    await converged(c, [a]);

    const b = await member("b");
    await until(() => asked.length === 1);
    await sleep(300);
    const moving = asked[0]!;
    const row = (await table()).find((r) => r.partition === moving.partition)!;
    expect(row).toMatchObject({ nodeId: "a", state: PartitionState.ReleaseRequested, generation: moving.generation });
    expect(b.partitions()).toEqual([]);

    expect(await a.confirmRelease(moving)).toBe(true);
    // Well before the force timeout (60 s): the confirmation moved it.
    await converged(c, [a, b], 10_000);
    expect((await c.history()).find((t) => t.partition === moving.partition && t.to === "b")).toMatchObject({ kind: "handed-off" });
    expect(b.partitions().map((p) => [p.partition, p.generation])).toEqual([[moving.partition, moving.generation + 1]]);
  });

  test("an unconfirmed release is forced only after the timeout and the owner's TTL", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 2 });
    // A force timeout of 0 still waits for the owner's TTL (1000 ms) after the request.
    const c = await coordinator({ forceReleaseAfterMs: 0 });
    const a = await member("a", { confirmReleases: "manual", ttlMs: 1000 });
    await converged(c, [a]);
    const b = await member("b");
    await until(async () => b.partitions().length === 1, 5000);
    const history = await c.history();
    expect(history[0]).toMatchObject({ kind: "forced", from: "a", to: "b" });
    expect(history[1]).toMatchObject({ kind: "release-requested", from: "a", to: "b" });
    // Forced no earlier than the owner's TTL after the request, by the database clock.
    const [gap] = await fx.pool.query<RowDataPacket[]>(
      "SELECT TIMESTAMPDIFF(MICROSECOND, MIN(created_at), MAX(created_at)) AS us FROM helix_transitions WHERE cluster = ? AND kind IN (?, ?)",
      [cluster, TransitionKind.ReleaseRequested, TransitionKind.Forced],
    );
    expect(Number(gap[0]!.us)).toBeGreaterThanOrEqual(1_000_000);
  });

  test("a member that comes back as a new process gets its partitions anew, at larger generations", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 4 });
    const c = await coordinator();
    const a = await member("a");
    await converged(c, [a]);
    const before = a.incarnation;
    const rejoined = new Promise((resolve) => a.once("member:rejoined", resolve));
    // Declared dead (as if it had been cut off past its TTL): it registers again as a new incarnation.
    await fx.pool.query("UPDATE helix_nodes SET status = 0 WHERE cluster = ? AND node_id = 'a'", [cluster]);
    await rejoined;
    expect(a.incarnation).not.toBe(before);
    await until(() => a.partitions().length === 4, 5000);
    expect(a.partitions().every((p) => p.generation === 2 && p.incarnation === a.incarnation)).toBe(true);
    expect((await c.history()).filter((t) => t.kind === "reclaimed")).toHaveLength(4);
  });

  test("a dead member's partitions are reclaimed when its TTL passes, or after the reassignment delay", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 4 });
    const c = await coordinator({ reassignDelayMs: 800 });
    const faulty = new FaultyPool(fx.pool);
    const a = await member("a");
    const doomed = await member("doomed", { ttlMs: 500, heartbeatMs: 100 }, faulty);
    await converged(c, [a, doomed]);
    const gone = (await table()).filter((r) => r.nodeId === "doomed").map((r) => r.partition);
    expect(gone).toHaveLength(2);

    faulty.cut = true;
    const cutAt = performance.now();
    await until(async () => (await table()).every((r) => r.nodeId === "a" && r.state === PartitionState.Assigned), 5000);
    // At most TTL 500 ms + reassignment delay 800 ms after the cut, then one poll and one round;
    // a loaded machine may add to that, so this only checks it came well before twice that.
    expect(performance.now() - cutAt).toBeLessThan(2 * (500 + 800) + 1000);
    // Not before the delay had passed since the member's registration ended, by the database clock.
    const [early] = await fx.pool.query<RowDataPacket[]>(
      `SELECT COUNT(*) AS n FROM helix_transitions AS t JOIN helix_nodes AS n ON n.cluster = t.cluster AND n.node_id = 'doomed'
       WHERE t.cluster = ? AND t.kind = ? AND t.created_at < n.expires_at + INTERVAL 800000 MICROSECOND`,
      [cluster, TransitionKind.Reclaimed],
    );
    expect(Number(early[0]!.n)).toBe(0);
    const reclaimed = (await c.history()).filter((t) => t.kind === "reclaimed");
    expect(reclaimed.map((t) => t.partition).sort()).toEqual(gone);
    await doomed.leave().catch(() => undefined);
  });

  test("a graceful leave hands its partitions to the others at once", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 6 });
    const c = await coordinator();
    const a = await member("a");
    const b = await member("b");
    await converged(c, [a, b]);
    const heldByB = b.partitions().map((p) => p.partition);
    expect(heldByB).toHaveLength(3);
    await b.leave();
    // Well before b's registration (TTL 2000 ms) and the reassignment delay would have run out:
    // the leave handed them over, they were not reclaimed from a dead member.
    await converged(c, [a]);
    // b released them as it left: they were assigned afresh, not reclaimed from a dead member.
    const history = await c.history();
    expect(history.map((t) => t.kind)).not.toContain("reclaimed");
    // History is newest first: each of b's partitions last moved by an assignment to a.
    const last = heldByB.map((partition) => history.find((t) => t.partition === partition));
    expect(last.map((t) => [t?.kind, t?.to])).toEqual(heldByB.map(() => ["assigned", "a"]));
    expect(await counts()).toEqual(new Map([["a", 6]]));
  });

  test("weights set each member's share", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 12 });
    const c = await coordinator();
    const heavy = await member("heavy", { weight: 2 });
    const light = await member("light", { weight: 1 });
    const drained = await member("drained", { weight: 0 });
    await converged(c, [heavy, light, drained]);
    expect(await counts()).toEqual(
      new Map([
        ["heavy", 8],
        ["light", 4],
      ]),
    );
  });

  test("shrinking and removing task lists releases and deletes what disappears", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 6 });
    await catalog.putTaskList({ domain: "d", taskList: "gone", partitions: 2 });
    const c = await coordinator();
    const a = await member("a");
    const b = await member("b");
    await converged(c, [a, b]);
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 3 });
    await catalog.removeTaskList("d", "gone");
    await until(async () => (await table()).length === 3 && (await catalog.listTaskLists()).length === 1, 5000);
    await converged(c, [a, b]);
    expect([...(await counts()).values()].sort()).toEqual([1, 2]);
  });

  test("the move limit spreads a rebalance over rounds", async () => {
    await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 8 });
    const c = await coordinator({ maxMovesPerTaskList: 1 });
    const a = await member("a");
    await converged(c, [a]);
    const rounds: number[] = [];
    c.on("round:done", (r) => {
      const releases = r.applied.filter((t) => t.type === "release").length;
      if (releases > 0) rounds.push(releases);
    });
    const b = await member("b");
    await converged(c, [a, b]);
    expect(rounds).toEqual([1, 1, 1, 1]);
  });
});

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
