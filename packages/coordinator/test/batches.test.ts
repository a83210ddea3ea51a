import { createCatalog, createCoordinator, join, PartitionState, type Coordinator, type Member } from "../src";

/**
 * 3,000 by default, which already fails without the time budget; `HELIX_BATCH_TEST_PARTITIONS=10000`
 * runs the full-size case (about two minutes here).
 */
const PARTITIONS = Number(process.env.HELIX_BATCH_TEST_PARTITIONS ?? 3000);
import { migratedDatabase, until, type Fixture } from "./helpers";

let fx: Fixture;

beforeAll(async () => {
  fx = await migratedDatabase();
});

afterAll(async () => {
  await fx.close();
});

/**
 * A round's transactions hold the involved members' rows and (through the fence) the lease row
 * until they commit. With thousands of partitions moving at once and a batch size that would put
 * all of them in one transaction, only the time budget keeps heartbeats and the leader's renewals
 * going.
 */
test(`${PARTITIONS} partitions moving at once starve neither the members' heartbeats nor the leader's lease`, async () => {
  const cluster = "ten-thousand";
  await using catalog = await createCatalog(fx.pool, { cluster });
  await catalog.putTaskList({ domain: "d", taskList: "big", partitions: PARTITIONS });
  const members: Member[] = [];
  const events: string[] = [];
  const coordinator: Coordinator = await createCoordinator(fx.pool, {
    cluster,
    leaseTtlMs: 3000,
    electionIntervalMs: 50,
    pollMs: 50,
    batchSize: PARTITIONS,
  });
  coordinator.on("leader:lost", () => events.push("leader lost"));
  coordinator.on("leader:renew-failed", () => events.push("renewal failed"));
  try {
    for (const nodeId of ["a", "b"]) {
      const m = await join(fx.pool, { cluster, nodeId, ttlMs: 2000, sweepIntervalMs: 0 });
      m.on("member:fenced", () => events.push(`${nodeId} fenced`));
      members.push(m);
    }
    const settled = async (count: number): Promise<boolean> => {
      const plan = await coordinator.plan();
      return (
        plan.transitions.length === 0 && plan.pendingHandoffs === 0 && members.every((m) => m.partitions().length === PARTITIONS / count)
      );
    };
    await until(() => settled(2), 120_000);
    // A third member: a third of everything moves (release requests, confirmations, hand-offs).
    const c = await join(fx.pool, { cluster, nodeId: "c", ttlMs: 2000, sweepIntervalMs: 0 });
    c.on("member:fenced", () => events.push("c fenced"));
    members.push(c);
    await until(async () => {
      const plan = await coordinator.plan();
      const owned = members.map((m) => m.partitions().length);
      const share = PARTITIONS / 3;
      return (
        plan.transitions.length === 0 && plan.pendingHandoffs === 0 && owned.every((n) => n >= Math.floor(share) && n <= Math.ceil(share))
      );
    }, 120_000);
    expect(events).toEqual([]);
    expect(coordinator.stats()).toMatchObject({ state: "leading", elections: 1, leaseRenewFailures: 0, fencedOut: 0 });
    const [rows] = await fx.pool.query("SELECT COUNT(*) AS n FROM helix_allocation WHERE cluster = ? AND state = ?", [
      cluster,
      PartitionState.Assigned,
    ]);
    expect(rows).toEqual([{ n: PARTITIONS }]);
  } finally {
    await coordinator.stop();
    await Promise.all(members.map((m) => m.leave()));
  }
}, 300_000);
