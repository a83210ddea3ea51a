import { hostname } from "node:os";
import { Writable } from "node:stream";

import { createCatalog, join, type Member } from "@helix/coordinator";
import { DatabaseUnavailableError, type ConnectionSource } from "@helix/db";
import { pino } from "pino";

import { ConfigError, createHttpServer, loadConfig, ServiceMetrics, startService, type Service } from "../src";
import { listen } from "../src/http";
import { migratedDatabase, request, TcpProxy, until, type Fixture } from "./helpers";

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
  const body = (await (await get("/api/status")).json()) as {
    clusters: { cluster: string; leader: { epoch: number }; members: unknown[]; recent: unknown[] }[];
  };
  expect(body.clusters.map((c) => c.cluster)).toEqual(["web", "other"]);
  expect(body.clusters[0]).toMatchObject({
    leader: { epoch: 1 },
    members: [
      {
        nodeId: "m1",
        live: true,
        state: "live",
        incarnation: members[0]!.incarnation,
        hostsLeader: false,
        partitions: 4,
        generations: { min: 1, max: 1 },
      },
    ],
  });
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

test("/api/status tells a member that left from one whose TTL passed, and names the leader's process", async () => {
  type Body = {
    clusters: {
      leader: { id: string; host: string | null; pid: number | null };
      members: { nodeId: string; live: boolean; state: string; hostsLeader: boolean; generations: unknown }[];
    }[];
  };
  const read = async (): Promise<Body["clusters"][number]> => ((await (await get("/api/status?cluster=web")).json()) as Body).clusters[0]!;
  const leaver = await join(fx.pool, { cluster: "web", nodeId: "leaver", heartbeatMs: 100, sweepIntervalMs: 0 });
  await leaver.leave();
  // What the sweep leaves of a member whose heartbeats stopped: inactive, expired a TTL after its last heartbeat.
  await fx.pool.query(
    `INSERT INTO helix_nodes (cluster, node_id, incarnation, metadata, weight, ttl_us, status, assignment_version, registered_at, heartbeat_at, expires_at)
     VALUES ('web', 'expired', REPEAT('e', 32), '{}', 1, 3000000, 0, 1, UTC_TIMESTAMP(6) - INTERVAL 20 SECOND,
             UTC_TIMESTAMP(6) - INTERVAL 10 SECOND, UTC_TIMESTAMP(6) - INTERVAL 10 SECOND + INTERVAL 3000000 MICROSECOND)`,
  );
  // ... and one the sweep has not reached yet: still marked active.
  await fx.pool.query(
    `INSERT INTO helix_nodes (cluster, node_id, incarnation, metadata, weight, ttl_us, status, assignment_version, registered_at, heartbeat_at, expires_at)
     VALUES ('web', 'unswept', REPEAT('f', 32), '{}', 1, 3000000, 1, 1, UTC_TIMESTAMP(6) - INTERVAL 20 SECOND,
             UTC_TIMESTAMP(6) - INTERVAL 10 SECOND, UTC_TIMESTAMP(6) - INTERVAL 10 SECOND + INTERVAL 3000000 MICROSECOND)`,
  );
  members.push(await join(fx.pool, { cluster: "web", heartbeatMs: 100, sweepIntervalMs: 0 }));
  const local = members.at(-1)!;
  await until(async () => (await read()).members.some((m) => m.nodeId === local.nodeId && m.live && m.hostsLeader));
  try {
    const status = await read();
    const byId = new Map(status.members.map((m) => [m.nodeId, m]));
    expect(byId.get("leaver")).toMatchObject({ live: false, state: "left", hostsLeader: false, generations: null });
    expect(byId.get("expired")).toMatchObject({ live: false, state: "dead" });
    expect(byId.get("unswept")).toMatchObject({ live: false, state: "dead" });
    expect(byId.get(local.nodeId)).toMatchObject({ live: true, state: "live", hostsLeader: true });
    expect(status.leader).toMatchObject({ id: service.coordinators.get("web")!.options.id, host: hostname(), pid: process.pid });
  } finally {
    await fx.pool.query("DELETE FROM helix_nodes WHERE cluster = 'web' AND node_id IN ('expired', 'unswept')");
  }
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
  const port = String(proxy.port);
  await proxy.close();
  const logged = logs.length;
  const down = await get("/readyz", other.url);
  expect(down.status).toBe(503);
  // The probe gets no driver message (it names the server here); the log gets the whole error.
  const body = (await down.json()) as Record<string, unknown>;
  expect(body).toMatchObject({ status: "database unavailable" });
  expect(Object.keys(body).filter((k) => k !== "status" && k !== "code")).toEqual([]);
  expect(JSON.stringify(body)).not.toContain(port);
  const entries = logs.slice(logged).map((l) => JSON.parse(l) as { level: number; msg: string; err?: { message: string } });
  const warned = entries.find((e) => e.msg === "readiness check failed");
  expect(warned?.level).toBe(40);
  expect(warned?.err?.message).toContain(port);
  expect((await get("/healthz", other.url)).status).toBe(200);
});

test("readiness reports a Helix error's code and never a driver's message", async () => {
  const sql = Object.assign(
    new Error("You have an error in your SQL syntax near 'SELECT version FROM helix_schema_migrations' for user 'admin'@'db.internal'"),
    {
      code: "ER_PARSE_ERROR",
      errno: 1064,
    },
  );
  const unavailable = new DatabaseUnavailableError(
    "db.internal:3306/helix",
    "cannot use MySQL at db.internal:3306/helix as admin: connect ECONNREFUSED",
  );
  for (const [error, answer] of [
    [sql, { status: "database unavailable" }],
    [unavailable, { status: "database unavailable", code: "HELIX_DATABASE_UNAVAILABLE" }],
  ] as const) {
    const failing: ConnectionSource = { query: () => Promise.reject(error), getConnection: () => Promise.reject(error) };
    const http = createHttpServer({
      pool: failing,
      clusters: ["web"],
      adminToken: null,
      metrics: new ServiceMetrics(new Map(), () => Promise.reject(error)),
      status: () => Promise.reject(error),
      catalog: () => Promise.reject(error),
      logger,
    });
    const url = await listen(http, "127.0.0.1", 0);
    try {
      expect(await request(url, "/readyz")).toEqual({ status: 503, body: answer });
      // A failed request shows a Helix error's code, never a message with a driver's text in it
      // (a DatabaseUnavailableError's message carries the driver's).
      const failed = await request(url, "/api/status");
      expect(failed.status).toBe(500);
      expect(JSON.stringify(failed.body)).not.toContain("db.internal");
      expect(failed.body).toEqual(
        error === sql
          ? { error: "internal error: see the service's log" }
          : { error: "the database is unavailable: see the service's log", code: "HELIX_DATABASE_UNAVAILABLE" },
      );
      // Metrics whose cluster reads fail are served without them, and without the error's text.
      expect(JSON.stringify((await request(url, "/metrics")).body)).not.toContain("db.internal");
    } finally {
      await new Promise((resolve) => http.close(resolve));
    }
  }
});

test("a database that refuses the login is reported without the password", async () => {
  const url = new URL(fx.db.url);
  url.username = "nobody";
  url.password = "s3cret-pass";
  const error = await startService(config({ HELIX_MYSQL_URL: url.toString(), HELIX_AUTO_MIGRATE: "false" }), logger).catch(
    (e: unknown) => e,
  );
  expect((error as { code?: string }).code).toBe("HELIX_DATABASE_UNAVAILABLE");
  expect(String((error as Error).message)).not.toContain("s3cret-pass");
  expect(logs.join("")).not.toContain("s3cret-pass");
});

const put = (base: string, path: string, headers: Record<string, string> = {}) =>
  request(base, path, { method: "PUT", headers: { authorization: `Bearer ${TOKEN}`, ...headers }, body: '{"partitions": 1}' });

test("a malformed percent-escape in the path is a 400 that says so, not a failure", async () => {
  const logged = logs.length;
  for (const [path, part] of [
    ["/api/clusters/%E0%A4%A/tasklists/d/t", "cluster"],
    ["/api/clusters/web/tasklists/%ZZ/t", "domain"],
    ["/api/clusters/web/tasklists/d/100%", "task list"],
  ] as const) {
    const answer = await put(service.url, path);
    expect(answer.status).toBe(400);
    expect((answer.body as { error: string }).error).toContain(`the ${part} in the path has a malformed percent-escape`);
  }
  expect(
    (await request(service.url, "/api/clusters/web/tasklists/%ZZ/t", { method: "DELETE", headers: { authorization: `Bearer ${TOKEN}` } }))
      .status,
  ).toBe(400);
  expect(logs.slice(logged).join("")).not.toContain("request failed");
});

describe("the Host header (DNS-rebinding protection)", () => {
  const port = (base: string): string => new URL(base).port;
  const as = (base: string, host: string, path = "/api/status") => request(base, path, { headers: { host: `${host}:${port(base)}` } });

  test("localhost names and IP addresses are served; other names are refused before anything runs", async () => {
    for (const host of ["localhost", "LocalHost.", "127.0.0.1", "[::1]", "app.localhost", "10.1.2.3", "[fd00::7]"]) {
      expect([host, (await as(service.url, host)).status]).toEqual([host, 200]);
    }
    for (const host of ["evil.example", "localhost.evil.example", "127.0.0.1.nip.io"]) {
      for (const path of ["/", "/api/status", "/metrics", "/nothing"]) {
        const answer = await as(service.url, host, path);
        expect([host, path, answer.status]).toEqual([host, path, 403]);
        expect((answer.body as { error: string }).error).toContain("HELIX_ALLOWED_HOSTS");
      }
    }
    // A rebinding page holding the token still changes nothing.
    expect((await put(service.url, "/api/clusters/web/tasklists/rebound/list", { host: "evil.example" })).status).toBe(403);
    await using catalog = await createCatalog(fx.pool, { cluster: "web" });
    expect((await catalog.listTaskLists()).filter((l) => l.domain === "rebound")).toEqual([]);
  });

  test("health probes answer whatever the Host", async () => {
    expect(await as(service.url, "evil.example", "/healthz")).toEqual({ status: 200, body: { status: "ok" } });
    expect(await as(service.url, "pod-7.internal", "/readyz")).toMatchObject({ status: 200, body: { status: "ready" } });
  });

  test("HELIX_ALLOWED_HOSTS adds names (.name: it and its subdomains); * allows any", async () => {
    await using named = await startService(
      config({ HELIX_CLUSTERS: "hosts", HELIX_ALLOWED_HOSTS: " helix.example.com, .corp.example " }),
      logger,
    );
    for (const [host, status] of [
      ["helix.example.com", 200],
      ["HELIX.example.com", 200],
      ["corp.example", 200],
      ["a.b.corp.example", 200],
      ["localhost", 200],
      ["other.example.com", 403],
      ["xcorp.example", 403],
    ] as const) {
      expect([host, (await as(named.url, host)).status]).toEqual([host, status]);
    }
    await using any = await startService(config({ HELIX_CLUSTERS: "hosts", HELIX_ALLOWED_HOSTS: "*" }), logger);
    expect((await as(any.url, "evil.example")).status).toBe(200);
  });

  test("HELIX_ALLOWED_HOSTS takes host names only", () => {
    expect(config({ HELIX_ALLOWED_HOSTS: "a.example,.b.example, *" }).http.allowedHosts).toEqual(["a.example", ".b.example", "*"]);
    expect(config().http.allowedHosts).toEqual([]);
    for (const bad of ["a.example:7400", "http://a.example", "*.example.com", "a b"]) {
      expect(() => config({ HELIX_ALLOWED_HOSTS: bad })).toThrow(ConfigError);
    }
    expect(() => config({ HELIX_ALLOWED_HOSTS: "*.example.com" })).toThrow(/\.example\.com/);
  });
});

describe("hostile input over HTTP", () => {
  const long = "x".repeat(10_000);
  const send = (method: string, path: string, body?: string) =>
    request(service.url, path, {
      method,
      headers: { host: "127.0.0.1", "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
      body,
    });
  const put = (domain: string, taskList: string, body: unknown) =>
    send("PUT", `/api/clusters/web/tasklists/${encodeURIComponent(domain)}/${encodeURIComponent(taskList)}`, JSON.stringify(body));

  /** [what is hostile, the argument the answer names, the request]. */
  const cases: [string, string, () => ReturnType<typeof send>][] = [
    ...["", long, " padded", "new\nline"].map((v): [string, string, () => ReturnType<typeof send>] => [
      `domain ${JSON.stringify(v.slice(0, 12))}`,
      "domain",
      () => put(v, "t", { partitions: 1 }),
    ]),
    ...["", long, " padded", "new\nline"].map((v): [string, string, () => ReturnType<typeof send>] => [
      `taskList ${JSON.stringify(v.slice(0, 12))}`,
      "taskList",
      () => put("d", v, { partitions: 1 }),
    ]),
    ...[-1, 0, 1.5, 2 ** 53, 1e308, "1", "", null, {}, [], true].map((v): [string, string, () => ReturnType<typeof send>] => [
      `partitions ${JSON.stringify(v)}`,
      "partitions",
      () => put("d", "t", { partitions: v }),
    ]),
    ["partitions left out", "partitions", () => put("d", "t", {})],
    ...[null, [1], "x", 3].map((v): [string, string, () => ReturnType<typeof send>] => [
      `metadata ${JSON.stringify(v)}`,
      "metadata",
      () => put("d", "t", { partitions: 1, metadata: v }),
    ]),
    ...["", long, "new\nline"].map((v): [string, string, () => ReturnType<typeof send>] => [
      `DELETE domain ${JSON.stringify(v.slice(0, 12))}`,
      "domain",
      () => send("DELETE", `/api/clusters/web/tasklists/${encodeURIComponent(v)}/t`),
    ]),
  ];

  test.each(cases)("%s: 400 naming %s, the value never echoed whole, nothing written", async (_what, argument, call) => {
    await using catalog = await createCatalog(fx.pool, { cluster: "web" });
    const before = await catalog.listTaskLists();
    const answer = await call();
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ code: "HELIX_INVALID_ARGUMENT", error: expect.stringContaining(`${argument}:`) as unknown });
    expect(JSON.stringify(answer.body).length).toBeLessThan(1_000);
    expect(await catalog.listTaskLists()).toEqual(before);
  });

  test.each([
    ["/api/status?cluster=" + "c".repeat(10_000), "GET", 404],
    ["/" + "p".repeat(10_000), "GET", 404],
    ["/api/" + "p".repeat(10_000), "POST", 405],
  ])("a long path or cluster is never echoed whole (%#)", async (path, method, status) => {
    const answer = await send(method, path);
    expect(answer.status).toBe(status);
    expect(JSON.stringify(answer.body).length).toBeLessThan(1_000);
  });
});
