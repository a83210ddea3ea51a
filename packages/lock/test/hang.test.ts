import { setTimeout as sleep } from "node:timers/promises";

import { createPool } from "@helix/db";
import { TcpProxy } from "@helix/testing";
import type { Pool } from "mysql2/promise";

import { createLocker } from "../src";
import { migratedDatabase, type Fixture } from "./helpers";

let fx: Fixture;
let proxy: TcpProxy;
let through: Pool;

beforeAll(async () => {
  fx = await migratedDatabase();
  proxy = await TcpProxy.start(new URL(fx.db.url));
  through = await createPool({ url: proxy.url(fx.db.url), connectionLimit: 4 });
});

afterAll(async () => {
  // The proxy first: it ends the hung sockets, which pool.end() would otherwise wait for.
  await proxy.close();
  await through.end().catch(() => undefined);
  await fx.close();
});

test("a lease holder whose connections hang renews on a fresh one before its deadline", async () => {
  const ttlMs = 3000;
  const locker = await createLocker(through, { owner: "hung", ttlMs });
  try {
    const lease = await locker.acquire("hang-key", { autoRenew: true });
    const events: string[] = [];
    lease.on("lease:lost", () => events.push("lost"));
    lease.on("lease:renew-failed", () => events.push("renew-failed"));
    expect(proxy.hangOpenConnections()).toBeGreaterThan(0);
    await sleep(ttlMs / 2);
    proxy.hangOpenConnections();
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
