import { hostname } from "node:os";

import { createCatalog, join } from "@helix/coordinator";

import { startService } from "../src";
import { until } from "./helpers";
import { config, fx, get, logger, logs, members, service, TOKEN, useHttpFixture } from "./http-fixture";

useHttpFixture();

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
  const returner = await join(fx.pool, { cluster: "web", nodeId: "returner", heartbeatMs: 100, sweepIntervalMs: 0 });
  await returner.leave({ returningWithinMs: 60_000 });
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
    expect(byId.get("returner")).toMatchObject({ live: false, state: "returning" });
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

test("maintenance starts and ends over HTTP only with the token, for the cluster or a task list; status and metrics show it", async () => {
  const send = (method: string, path: string, body?: unknown, token: string | null = TOKEN) =>
    fetch(`${service.url}${path}`, {
      method,
      headers: { "content-type": "application/json", ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const path = "/api/clusters/other/maintenance";
  expect((await send("PUT", path, { reason: "upgrade" }, null)).status).toBe(401);
  expect((await send("DELETE", path, undefined, "wrong-token-wrong-token")).status).toBe(401);
  const bad = await send("PUT", path, { reason: "upgrade", expiresInMs: 0 }, TOKEN);
  expect(bad.status).toBe(400);
  const refusal = (await bad.json()) as { code: string; error: string };
  expect(refusal.code).toBe("HELIX_INVALID_ARGUMENT");
  expect(refusal.error).toContain("expiresInMs");
  const notObject = await send("PUT", path, [1], TOKEN);
  expect(notObject.status).toBe(400);
  expect(((await notObject.json()) as { error: string }).error).toContain('"reason"');
  expect((await send("PUT", "/api/clusters/nowhere/maintenance", { reason: "x" })).status).toBe(404);
  expect((await send("PUT", "/api/clusters/other/tasklists/no/such/maintenance", { reason: "x" })).status).toBe(404);
  expect((await send("GET", path)).status).toBe(405);

  const started = await send("PUT", path, { reason: "database upgrade", expiresInMs: 3_600_000 });
  expect(started.status).toBe(200);
  const { maintenance } = (await started.json()) as { maintenance: { taskList: unknown; reason: string; actor: string } };
  expect([maintenance.taskList, maintenance.reason]).toEqual([null, "database upgrade"]);
  expect(maintenance.actor).toMatch(/^http /);
  const status = (await (await get("/api/status?cluster=other")).json()) as {
    clusters: { maintenance: { reason: string; expiresAt: string | null }[] }[];
  };
  expect(status.clusters[0]!.maintenance.map((m) => [m.reason, typeof m.expiresAt])).toEqual([["database upgrade", "string"]]);
  await until(async () =>
    /helix_cluster_maintenance_seconds\{cluster="other",scope="cluster"\} \d/.test(await (await get("/metrics")).text()),
  );

  expect(await (await send("DELETE", path)).json()).toEqual({ ended: true });
  expect(await (await send("DELETE", path)).json()).toEqual({ ended: false });
  expect(logs.join("\n")).toContain("maintenance ended");
});

test("partitions are pinned, moved and lifted over HTTP only with the token; a refused placement is a conflict that writes nothing", async () => {
  const send = (method: string, path: string, body?: unknown, token: string | null = TOKEN) =>
    fetch(`${service.url}${path}`, {
      method,
      headers: { "content-type": "application/json", ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const catalog = await createCatalog(fx.pool, { cluster: "other" });
  await catalog.putTaskList({ domain: "shop", taskList: "carts", partitions: 4 });
  await catalog.close();
  members.push(await join(fx.pool, { cluster: "other", nodeId: "o1", heartbeatMs: 100, sweepIntervalMs: 0 }));
  const path = "/api/clusters/other/tasklists/shop/carts/partitions/2/placement";
  expect((await send("PUT", path, { nodeId: "o1", kind: "pin" }, null)).status).toBe(401);
  expect((await send("DELETE", path, undefined, "wrong-token-wrong-token")).status).toBe(401);
  const badKind = await send("PUT", path, { nodeId: "o1", kind: "stick" });
  expect(badKind.status).toBe(400);
  expect(((await badKind.json()) as { error: string }).error).toContain('"kind"');
  const badPartition = await send("PUT", "/api/clusters/other/tasklists/shop/carts/partitions/two/placement", {
    nodeId: "o1",
    kind: "pin",
  });
  expect(badPartition.status).toBe(400);
  expect(await badPartition.json()).toMatchObject({ code: "HELIX_INVALID_ARGUMENT" });
  expect((await send("PUT", "/api/clusters/other/tasklists/shop/none/partitions/2/placement", { nodeId: "o1", kind: "pin" })).status).toBe(
    404,
  );
  expect(
    (await send("PUT", "/api/clusters/nowhere/tasklists/shop/carts/partitions/2/placement", { nodeId: "o1", kind: "pin" })).status,
  ).toBe(404);
  const notLive = await send("PUT", path, { nodeId: "gone", kind: "move" });
  expect(notLive.status).toBe(409);
  expect(await notLive.json()).toMatchObject({ code: "HELIX_PLACEMENT_REFUSED" });
  expect((await send("GET", path)).status).toBe(405);

  const pinned = await send("PUT", path, { nodeId: "o1", kind: "pin", reason: "warm cache" });
  expect(pinned.status).toBe(200);
  const { placement } = (await pinned.json()) as { placement: { partition: number; nodeId: string; kind: string; actor: string } };
  expect(placement).toMatchObject({ partition: 2, nodeId: "o1", kind: "pin" });
  expect(placement.actor).toMatch(/^http /);
  await until(async () => {
    const status = (await (await get("/api/status?cluster=other")).json()) as { clusters: { placed: number }[] };
    return status.clusters[0]!.placed === 1;
  });
  expect(await (await send("DELETE", path)).json()).toEqual({ lifted: true });
  expect(await (await send("DELETE", path)).json()).toEqual({ lifted: false });

  // All of a member's partitions: o1 owns none yet without a coordinator's round, or some with one.
  const moved = await send("POST", "/api/clusters/other/members/o1/move", { to: "o1" });
  expect(moved.status).toBe(400);
  const toGone = await send("POST", "/api/clusters/other/members/o1/move", { to: "gone" });
  expect(toGone.status).toBe(409);
  expect((await send("PUT", "/api/clusters/other/members/o1/move", { to: "o1" })).status).toBe(405);
  expect(await (await send("DELETE", "/api/clusters/other/members/o1/placements")).json()).toEqual({ lifted: 0 });
  expect(logs.join("\n")).toContain("partition placed");
});
