import { join as joinPath } from "node:path";

import { FORCED_EXIT_CODE } from "../src";
import { JsonChild, migratedDatabase, TcpProxy, until, type Fixture } from "./helpers";

const CLI = joinPath(__dirname, "..", "dist", "cli.js");
let fx: Fixture;
let clusterNo = 0;
let cluster: string;
const started: JsonChild[] = [];

function serve(env: Record<string, string>): JsonChild {
  const child = JsonChild.start(CLI, ["serve"], {
    env: { HELIX_MYSQL_URL: fx.db.url, HELIX_HTTP_PORT: "0", HELIX_CLUSTERS: cluster, HELIX_LOG_LEVEL: "info", ...env },
  });
  started.push(child);
  return child;
}

const logged = (child: JsonChild, msg: string): number => child.events.filter((e) => e.msg === msg).length;

beforeAll(async () => {
  fx = await migratedDatabase();
});

beforeEach(() => {
  cluster = `svc${++clusterNo}`;
});

afterEach(() => {
  for (const child of started.splice(0)) child.kill();
});

afterAll(async () => {
  await fx.close();
});

test("SIGTERM steps down: a standby leads at once and the process exits 0", async () => {
  // A lease of 100 s: a standby that leads within this test's 30 s was handed the lease by the
  // step-down, not left to wait for it to run out.
  const first = serve({ HELIX_LEASE_TTL_MS: "100000" });
  await until(() => logged(first, "leading") === 1, 15_000);
  const second = serve({ HELIX_LEASE_TTL_MS: "100000" });
  await until(() => logged(second, "serving") === 1, 15_000);

  first.process.kill("SIGTERM");
  await until(() => logged(second, "leading") === 1, 20_000);
  expect(await first.exited).toBe(0);
  expect(logged(first, "shutting down")).toBe(1);
  expect(logged(first, "stopped")).toBe(1);
  expect(first.stderr).toBe("");
  const epochs = [first, second].map((c) => c.events.find((e) => e.msg === "leading")!.epoch as number);
  expect(epochs[1]).toBe(epochs[0]! + 1);
}, 30_000);

/** A leading `helix serve` whose database connections then stop answering. */
async function stuckLeader(env: Record<string, string>, fn: (child: JsonChild) => Promise<void>): Promise<void> {
  const proxy = await TcpProxy.start(new URL(fx.db.url));
  try {
    const child = serve({ HELIX_MYSQL_URL: proxy.url(fx.db.url), ...env });
    await until(() => logged(child, "leading") === 1, 15_000);
    proxy.pause();
    await fn(child);
  } finally {
    await proxy.close();
  }
}

test("a second signal exits at once while the graceful shutdown waits for the database", async () => {
  await stuckLeader({ HELIX_SHUTDOWN_TIMEOUT_MS: "60000" }, async (child) => {
    child.process.kill("SIGTERM");
    await until(() => logged(child, "shutting down") === 1);
    child.process.kill("SIGTERM");
    // Ended by the second signal: a graceful shutdown, however it ends, exits 0 or 1, never with
    // this code.
    expect(await child.exited).toBe(FORCED_EXIT_CODE);
    expect(logged(child, "stopped")).toBe(0);
  });
}, 30_000);

test("a graceful shutdown that cannot finish is cut off after HELIX_SHUTDOWN_TIMEOUT_MS", async () => {
  await stuckLeader({ HELIX_SHUTDOWN_TIMEOUT_MS: "500" }, async (child) => {
    const signalledAt = performance.now();
    child.process.kill("SIGINT");
    // It ends (within this test's time) and says it was cut off by the timeout, not before it.
    expect(await child.exited).toBe(1);
    expect(performance.now() - signalledAt).toBeGreaterThanOrEqual(500);
    expect(child.stderr).toContain("the graceful shutdown took longer than HELIX_SHUTDOWN_TIMEOUT_MS (500 ms)");
  });
}, 30_000);
