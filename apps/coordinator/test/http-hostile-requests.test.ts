import { createCatalog } from "@helix/coordinator";

import { ConfigError, startService } from "../src";
import { request } from "./helpers";
import { config, fx, logger, logs, put, service, TOKEN, useHttpFixture } from "./http-fixture";

useHttpFixture();

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
