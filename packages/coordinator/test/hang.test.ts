import { setTimeout as sleep } from "node:timers/promises";

import { proxiedPool, type ProxiedPool } from "@helix/testing";

import { createCoordinator } from "../src";
import { migratedDatabase, until, type Fixture } from "./helpers";

let fx: Fixture;
let path: ProxiedPool;

beforeAll(async () => {
  fx = await migratedDatabase();
  path = await proxiedPool(fx.db.url, 6);
});

afterAll(async () => {
  await path.close();
  await fx.close();
});

test("a leader whose connections hang keeps its lease: it renews on a fresh connection in time", async () => {
  const leaseTtlMs = 3000;
  const coordinator = await createCoordinator(path.pool, { cluster: "hang", leaseTtlMs, electionIntervalMs: 50, pollMs: 50 });
  try {
    await until(() => coordinator.state === "leading", 5000);
    const epoch = coordinator.epoch;
    const lost: unknown[] = [];
    coordinator.on("leader:lost", (info) => lost.push(info));
    expect(path.proxy.hangOpenConnections()).toBeGreaterThan(0);
    await sleep(leaseTtlMs / 2);
    path.proxy.hangOpenConnections();
    await sleep(leaseTtlMs * 1.5);
    expect(lost).toEqual([]);
    expect(coordinator.state).toBe("leading");
    expect(coordinator.epoch).toBe(epoch);
  } finally {
    await coordinator.stop();
  }
});
