import { setTimeout as sleep } from "node:timers/promises";

import { TcpProxy } from "@helix/testing";
import { pino } from "pino";

import { HTTP_POOL_CONNECTIONS, loadConfig, startService, StatusReader, type ServiceConfig } from "../src";
import { migratedDatabase, until, type Fixture } from "./helpers";

const logger = pino({ level: "silent" });
let fx: Fixture;

beforeAll(async () => {
  fx = await migratedDatabase();
});

afterAll(async () => {
  await fx.close();
});

/** The service's configuration for `clusters`, with status reads reused for `statusCacheMs`. */
function config(clusters: string, statusCacheMs: number): ServiceConfig {
  const base = loadConfig({
    HELIX_MYSQL_URL: fx.db.url,
    HELIX_CLUSTERS: clusters,
    HELIX_HTTP_PORT: "0",
    HELIX_LEASE_TTL_MS: "1000",
    HELIX_POLL_MS: "50",
  });
  return { ...base, http: { ...base.http, statusCacheMs } };
}

test("/api/status and /metrics read each cluster once per interval, however many requests poll them", async () => {
  const read = jest.spyOn(StatusReader.prototype, "read");
  const reads = (cluster: string): number => read.mock.calls.filter(([c]) => c === cluster).length;
  try {
    // An interval far longer than the test: every request below falls within it.
    await using service = await startService(config("polled,idle", 60_000), logger);
    const status = async (path: string): Promise<number> => (await fetch(`${service.url}${path}`)).status;
    const together = await Promise.all(
      Array.from({ length: 20 }, (_, i) => status(i % 2 === 0 ? "/api/status" : "/api/status?cluster=polled")),
    );
    expect(together).toEqual(Array(20).fill(200));
    for (let i = 0; i < 5; i++) expect(await status("/api/status")).toBe(200);
    expect(await status("/metrics")).toBe(200);
    expect({ polled: reads("polled"), idle: reads("idle") }).toEqual({ polled: 1, idle: 1 });
  } finally {
    read.mockRestore();
  }
});

test("a burst of slow status reads cannot take the connections the coordinators' lease renewals need", async () => {
  // The service reaches the database through a proxy that holds every statement on the audit
  // trail: each status read waits in its last statement, connection in hand, until released. The
  // coordinators never touch that table while idle.
  const proxy = await TcpProxy.start(new URL(fx.db.url));
  try {
    await using service = await startService({ ...config("busy", 0), mysqlUrl: proxy.url(fx.db.url) }, logger);
    const coordinator = service.coordinators.get("busy");
    await until(() => coordinator?.state === "leading");
    const epoch = coordinator?.epoch;
    const trouble: string[] = [];
    coordinator?.on("leader:renew-failed", (error) => trouble.push(`renewal failed: ${error.message}`));
    coordinator?.on("leader:lost", ({ error }) => trouble.push(`lost: ${error.message}`));

    proxy.holdStatements("helix_transitions");
    const answers = Promise.all(Array.from({ length: 50 }, async () => (await fetch(`${service.url}/api/status?cluster=busy`)).status));
    try {
      await until(() => proxy.heldStatements() > 0);
      await sleep(3000); // three lease TTLs: renewals fall due every third of one
      expect({ state: coordinator?.state, epoch: coordinator?.epoch, trouble }).toEqual({ state: "leading", epoch, trouble: [] });
      // The status reads wait in a pool of their own: only its connections are held.
      expect(proxy.heldStatements()).toBe(HTTP_POOL_CONNECTIONS);
    } finally {
      proxy.releaseStatements();
    }
    expect(await answers).toEqual(Array(50).fill(200));
  } finally {
    await proxy.close();
  }
});
