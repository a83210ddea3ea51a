import { Writable } from "node:stream";

import { createCatalog, join, type Member } from "@helix/coordinator";
import { pino } from "pino";

import { loadConfig, startService, type Service } from "../src";
import { migratedDatabase, TcpProxy, until, type Fixture } from "./helpers";

const TOKEN = "t0ken-for-the-http-tests";
let fx: Fixture;
let service: Service;
const logs: string[] = [];
const members: Member[] = [];

const logger = pino(
  { level: "debug" },
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString());
      done();
    },
  }),
);

const config = (env: Record<string, string> = {}) =>
  loadConfig({
    HELIX_MYSQL_URL: fx.db.url,
    HELIX_CLUSTERS: "web,other",
    HELIX_HTTP_PORT: "0",
    HELIX_ADMIN_TOKEN: TOKEN,
    HELIX_LEASE_TTL_MS: "1000",
    HELIX_POLL_MS: "20",
    ...env,
  });

beforeAll(async () => {
  fx = await migratedDatabase();
  service = await startService(config(), logger);
});

afterEach(async () => {
  await Promise.all(members.splice(0).map((m) => m.leave()));
});

afterAll(async () => {
  await service.stop();
  await fx.close();
});

const get = (path: string, base = service.url) => fetch(`${base}${path}`);

test("health, readiness and metrics", async () => {
  expect(await (await get("/healthz")).json()).toEqual({ status: "ok" });
  const ready = await get("/readyz");
  expect(ready.status).toBe(200);
  expect(await ready.json()).toMatchObject({ status: "ready" });

  await until(() => service.coordinators.get("web")!.state === "leading");
  const metrics = await (await get("/metrics")).text();
  for (const line of [
    'helix_coordinator_leader{cluster="web"} 1',
    'helix_coordinator_epoch{cluster="web"} 1',
    'helix_cluster_members{cluster="web"} 0',
    "# TYPE helix_coordinator_rounds_total counter",
    "# TYPE helix_coordinator_round_seconds histogram",
    "# TYPE helix_cluster_heartbeat_lag_seconds gauge",
    "# TYPE helix_coordinator_lease_renew_failures_total counter",
    "# TYPE helix_cluster_pending_handoffs gauge",
  ]) {
    expect(metrics).toContain(line);
  }
});

test("the catalog changes over HTTP only with the token; status and metrics follow", async () => {
  const put = (path: string, body: unknown, token?: string) =>
    fetch(`${service.url}${path}`, {
      method: "PUT",
      headers: { "content-type": "application/json", ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
      body: JSON.stringify(body),
    });
  const path = "/api/clusters/web/tasklists/shop/orders";
  expect((await put(path, { partitions: 4 })).status).toBe(401);
  expect((await put(path, { partitions: 4 }, "wrong-token-wrong-token")).status).toBe(401);
  const bad = await put(path, { partitions: 0 }, TOKEN);
  expect(bad.status).toBe(400);
  expect(await bad.json()).toMatchObject({ code: "HELIX_INVALID_ARGUMENT" });
  expect((await put("/api/clusters/nowhere/tasklists/a/b", { partitions: 1 }, TOKEN)).status).toBe(404);
  expect(await (await put(path, { partitions: 4, metadata: { team: "checkout" } }, TOKEN)).json()).toEqual({ result: "created" });

  members.push(await join(fx.pool, { cluster: "web", nodeId: "m1", heartbeatMs: 100, sweepIntervalMs: 0 }));
  await until(async () => {
    const body = (await (await get("/api/status?cluster=web")).json()) as { clusters: { taskLists: { owners: string[] }[] }[] };
    return body.clusters[0]!.taskLists[0]?.owners.every((o) => o === "m1") === true;
  });
  const body = (await (await get("/api/status")).json()) as { clusters: { cluster: string; leader: { epoch: number }; members: unknown[]; recent: unknown[] }[] };
  expect(body.clusters.map((c) => c.cluster)).toEqual(["web", "other"]);
  expect(body.clusters[0]).toMatchObject({ leader: { epoch: 1 }, members: [{ nodeId: "m1", live: true, partitions: 4 }] });
  expect(body.clusters[0]!.recent).toHaveLength(4);
  const metrics = await (await get("/metrics")).text();
  expect(metrics).toContain('helix_cluster_members{cluster="web"} 1');
  expect(metrics).toContain('helix_cluster_partitions{cluster="web"} 4');
  expect(metrics).toMatch(/helix_coordinator_transitions_total\{cluster="web",kind="assigned"\} 4/);

  const removed = await fetch(`${service.url}${path}`, { method: "DELETE", headers: { authorization: `Bearer ${TOKEN}` } });
  expect(await removed.json()).toEqual({ removed: "shop/orders" });
  await using catalog = await createCatalog(fx.pool, { cluster: "web" });
  await until(async () => (await catalog.listTaskLists()).length === 0);
  expect((await get("/api/status?cluster=elsewhere")).status).toBe(404);
  expect((await get("/nothing")).status).toBe(404);
  expect(logs.join("")).not.toContain(TOKEN);
});

test("without a token, endpoints that change state are refused", async () => {
  await using other = await startService(config({ HELIX_ADMIN_TOKEN: "", HELIX_CLUSTERS: "quiet" }), logger);
  const response = await fetch(`${other.url}/api/clusters/quiet/tasklists/a/b`, { method: "PUT", body: "{}" });
  expect(response.status).toBe(403);
  expect(((await response.json()) as { error: string }).error).toContain("HELIX_ADMIN_TOKEN");
});

test("readiness fails while the database cannot be reached", async () => {
  const proxy = await TcpProxy.start(new URL(fx.db.url));
  await using other = await startService(config({ HELIX_MYSQL_URL: proxy.url(fx.db.url), HELIX_CLUSTERS: "flaky" }), logger);
  expect((await get("/readyz", other.url)).status).toBe(200);
  await proxy.close();
  const down = await get("/readyz", other.url);
  expect(down.status).toBe(503);
  expect(await down.json()).toMatchObject({ status: "database unavailable" });
  expect((await get("/healthz", other.url)).status).toBe(200);
});

test("a database that refuses the login is reported without the password", async () => {
  const url = new URL(fx.db.url);
  url.username = "nobody";
  url.password = "s3cret-pass";
  const error = await startService(config({ HELIX_MYSQL_URL: url.toString(), HELIX_AUTO_MIGRATE: "false" }), logger).catch((e: unknown) => e);
  expect((error as { code?: string }).code).toBe("HELIX_DATABASE_UNAVAILABLE");
  expect(String((error as Error).message)).not.toContain("s3cret-pass");
  expect(logs.join("")).not.toContain("s3cret-pass");
});
