import { DatabaseUnavailableError, type ConnectionSource } from "@helix/db";

import { createHttpServer, ServiceMetrics, startService } from "../src";
import { listen } from "../src/http";
import { request, TcpProxy, until } from "./helpers";
import { config, fx, get, logger, logs, service, useHttpFixture } from "./http-fixture";

useHttpFixture();

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
