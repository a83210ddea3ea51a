import { setTimeout as sleep } from "node:timers/promises";

import { proxiedPool, type ProxiedPool } from "@helix/testing";

import { createLocker } from "../src";
import { migratedDatabase, type Fixture } from "./helpers";

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

test("a lease holder whose connections hang renews on a fresh one before its deadline", async () => {
  const ttlMs = 3000;
  const locker = await createLocker(path.pool, { owner: "hung", ttlMs });
  try {
    const lease = await locker.acquire("hang-key", { autoRenew: true });
    const events: string[] = [];
    lease.on("lease:lost", () => events.push("lost"));
    lease.on("lease:renew-failed", () => events.push("renew-failed"));
    expect(path.proxy.hangOpenConnections()).toBeGreaterThan(0);
    await sleep(ttlMs / 2);
    path.proxy.hangOpenConnections();
    await sleep(ttlMs * 1.5);
    expect(events).toContain("renew-failed");
    expect(events).not.toContain("lost");
    expect(lease.isHeld()).toBe(true);
    const other = await createLocker(fx.pool, { owner: "other" });
    expect(await other.inspect("hang-key")).toMatchObject({ held: true, owner: "hung", epoch: lease.epoch });
    await other.close();
  } finally {
    await locker.close();
  }
});
