import { setTimeout as sleep } from "node:timers/promises";

import { createPool } from "@helix/db";
import { TcpProxy } from "@helix/testing";
import type { Pool } from "mysql2/promise";

import { createCoordinator } from "../src";
import { migratedDatabase, until, type Fixture } from "./helpers";

let fx: Fixture;
let proxy: TcpProxy;
let through: Pool;

beforeAll(async () => {
  fx = await migratedDatabase();
  proxy = await TcpProxy.start(new URL(fx.db.url));
  through = await createPool({ url: proxy.url(fx.db.url), connectionLimit: 6 });
});

afterAll(async () => {
  // The proxy first: it ends the hung sockets, which pool.end() would otherwise wait for.
  await proxy.close();
  await through.end().catch(() => undefined);
  await fx.close();
});

test("a leader whose connections hang keeps its lease: it renews on a fresh connection in time", async () => {
  const leaseTtlMs = 3000;
  const coordinator = await createCoordinator(through, { cluster: "hang", leaseTtlMs, electionIntervalMs: 50, pollMs: 50 });
  try {
    await until(() => coordinator.state === "leading", 5000);
    const epoch = coordinator.epoch;
    const lost: unknown[] = [];
    coordinator.on("leader:lost", (info) => lost.push(info));
    expect(proxy.hangOpenConnections()).toBeGreaterThan(0);
    await sleep(leaseTtlMs / 2);
    proxy.hangOpenConnections();
    await sleep(leaseTtlMs * 1.5);
    expect(lost).toEqual([]);
    expect(coordinator.state).toBe("leading");
    expect(coordinator.epoch).toBe(epoch);
  } finally {
    await coordinator.stop();
  }
});
