import { readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join as joinPath } from "node:path";

import { createCatalog, createCoordinator, join, type Member } from "@helix/coordinator";

import { main, variables } from "../src";
import { capture, migratedDatabase, testServerUrl, until, withServer, type Fixture } from "./helpers";

let fx: Fixture;
const members: Member[] = [];

beforeAll(async () => {
  fx = await migratedDatabase();
});

afterEach(async () => {
  await Promise.all(members.splice(0).map((m) => m.leave()));
});

afterAll(async () => {
  await fx.close();
});

/** Runs `helix` with `env`, returning what it printed; a non-zero exit fails the test with the output. */
const runner =
  (env: Record<string, string>) =>
  async (...argv: string[]): Promise<string> => {
    const out = capture();
    const code = await main(argv, env, out);
    if (code !== 0) throw new Error(`helix ${argv.join(" ")} exited ${code}: ${out.text()}`);
    return out.text();
  };

test("migrate creates a missing database, applies the schema, and is a no-op the second time", async () => {
  const url = new URL(testServerUrl());
  const name = `helix_test_cli_${process.pid}`;
  url.pathname = `/${name}`;
  try {
    const first = capture();
    expect(await main(["migrate"], { HELIX_MYSQL_URL: url.toString() }, first)).toBe(0);
    expect(first.lines.at(-1)).toMatch(/applied \d+ migration\(s\), schema at version \d+$/);
    expect(first.lines[0]).toBe("applying migration 1 (locks)");

    const second = capture();
    expect(await main(["migrate", "--url", url.toString()], {}, second)).toBe(0);
    expect(second.lines).toEqual([expect.stringMatching(new RegExp(`/${name}: schema already at version \\d+, nothing to do$`))]);
  } finally {
    await withServer(new URL(testServerUrl()), (conn) => conn.query("DROP DATABASE IF EXISTS ??", [name]));
  }
});

test("failures exit 1 with the error code and without the password", async () => {
  const out = capture();
  expect(await main(["migrate", "--url", "mysql://root:hunter2@127.0.0.1:1/helix"], {}, out)).toBe(1);
  expect(out.errors.join("\n")).toMatch(/^helix: cannot use MySQL at 127\.0\.0\.1:1\/helix .*\[HELIX_DATABASE_UNAVAILABLE\]$/);
  expect(out.errors.join("\n")).not.toContain("hunter2");

  const bad = capture();
  expect(await main(["migrate", "--url", "mysql://root:hunter2@127.0.0.1:3306/"], {}, bad)).toBe(2);
  expect(bad.errors.join("\n")).toMatch(/database: is required.*\[HELIX_INVALID_ARGUMENT\]/);
  expect(bad.errors.join("\n")).not.toContain("hunter2");
});

test("unknown commands fail with 2; --help names every command and variable", async () => {
  const out = capture();
  expect(await main(["bogus"], {}, out)).toBe(2);
  expect(out.errors.join("\n")).toMatch(/unknown command 'bogus'/);
  const help = capture();
  expect(await main(["--help"], {}, help)).toBe(0);
  for (const command of ["serve", "migrate", "tasklist", "members", "status", "plan", "demo"]) expect(help.text()).toContain(command);
  expect(help.text()).toContain("HELIX_ADMIN_TOKEN");
  const sub = capture();
  expect(await main(["tasklist", "put", "--help"], {}, sub)).toBe(0);
  expect(sub.text()).toMatch(/<domain> <taskList> <partitions>/);
});

test("bad configuration names the variable and where it came from, and never prints the password", async () => {
  const port = capture();
  expect(await main(["status"], { HELIX_HTTP_PORT: "eighty" }, port)).toBe(2);
  expect(port.errors.join("\n")).toMatch(
    /^helix: HELIX_HTTP_PORT \(from the environment\): must be a whole number from 0 to 65535 \(got "eighty"\) \[HELIX_INVALID_CONFIG\]$/,
  );

  const url = capture();
  expect(await main(["status"], { HELIX_MYSQL_URL: "postgres://root:hunter2@db/x" }, url)).toBe(2);
  expect(url.text()).toMatch(/HELIX_MYSQL_URL \(from the environment\): url: must start with mysql:\/\//);
  expect(url.text()).not.toContain("hunter2");

  const file = joinPath(tmpdir(), `helix-${process.pid}.env`);
  writeFileSync(file, "# service settings\nHELIX_CLUSTERS=a,b\nHELIX_LOG_LVL=debug\n");
  const typo = capture();
  expect(await main(["--config", file, "status"], {}, typo)).toBe(2);
  expect(typo.text()).toContain(`HELIX_LOG_LVL (from ${file}:3): unknown variable`);

  // A line that is not NAME=value, or whose name is not a Helix variable's, is never echoed.
  for (const line of ["HELIX_MYSQL_URL: mysql://helix:s3cret@db/helix", "mysql://helix:s3cret@db/helix?a=b", "s3cret"]) {
    writeFileSync(file, `HELIX_CLUSTERS=a\n${line}\n`);
    const malformed = capture();
    expect(await main(["--config", file, "status"], {}, malformed)).toBe(2);
    expect(malformed.text()).toContain(`HELIX_CONFIG_FILE (from ${file}:2): expected HELIX_NAME=value`);
    expect(malformed.text()).not.toContain("s3cret");
  }

  writeFileSync(file, "HELIX_LEASE_TTL_MS=50\n");
  const range = capture();
  expect(await main(["plan"], { HELIX_CONFIG_FILE: file }, range)).toBe(2);
  expect(range.text()).toContain(`HELIX_LEASE_TTL_MS (from ${file}:1): must be at least 100`);
});

test("--version prints the package's version and exits 0", async () => {
  const { version } = JSON.parse(readFileSync(joinPath(__dirname, "..", "package.json"), "utf8")) as { version: string };
  for (const flag of ["--version", "-V"]) {
    const out = capture();
    expect(await main([flag], {}, out)).toBe(0);
    expect(out.lines).toEqual([version]);
  }
});

test("the operations guide's configuration table lists every variable with its default", () => {
  const readme = readFileSync(joinPath(__dirname, "..", "..", "..", "docs", "operations.md"), "utf8");
  for (const [name, spec] of Object.entries(variables)) {
    const row = readme.split("\n").find((line) => line.startsWith(`| \`${name}\` |`));
    expect(row).toBeDefined();
    expect(row).toContain(spec.default === "" ? "| unset |" : `| \`${spec.default}\` |`);
  }
});

test("tasklist, nodes, plan and status work against the database", async () => {
  const env = { HELIX_MYSQL_URL: fx.db.url, HELIX_CLUSTERS: "shop" };
  const run = runner(env);
  expect(await run("tasklist", "put", "sales", "orders", "4", "--metadata", '{"team":"checkout"}')).toBe(
    "shop: sales/orders created (4 partitions)",
  );
  expect(await run("tasklist", "put", "sales", "refunds", "2")).toBe("shop: sales/refunds created (2 partitions)");
  expect(await run("tasklist", "put", "sales", "orders", "4", "--metadata", '{"team":"checkout"}')).toBe(
    "shop: sales/orders unchanged (4 partitions)",
  );
  expect(await run("tasklist", "ls")).toBe('sales/orders  4 partition(s)  {"team":"checkout"}\nsales/refunds  2 partition(s)  {}');
  expect(JSON.parse(await run("tasklist", "ls", "--json"))).toHaveLength(2);

  members.push(await join(fx.pool, { cluster: "shop", nodeId: "m1", sweepIntervalMs: 0 }));
  const m1 = members[0]!;
  expect(await run("members", "ls")).toMatch(
    new RegExp(`^m1 {2}live {2}incarnation ${m1.incarnation.slice(0, 8)} {2}weight 1 {2}last heartbeat \\S+ {2}\\{\\}$`),
  );
  // The older name of the command still works.
  expect(await run("nodes", "ls")).toMatch(/^m1 {2}live/);

  const plan = await run("plan", "--cluster", "shop");
  expect(plan.split("\n")[0]).toBe("cluster shop: the next round would make 6 transition(s); 0 hand-off(s) would be pending");
  expect(plan).toContain("  give sales/orders#0 to m1 (unassigned)");

  const m0 = await join(fx.pool, { cluster: "shop", nodeId: "m0", sweepIntervalMs: 0 });
  await m0.leave();
  expect(await run("members", "ls")).toMatch(new RegExp(`^m0 {2}left {2}incarnation ${m0.incarnation.slice(0, 8)} `));
  const status = await run("status");
  expect(status).toContain("cluster shop: no leader, 1 live member(s), 6 partition(s), 0 pending hand-off(s)");
  expect(status).toMatch(
    new RegExp(` {2}A m0 {2}left {2}incarnation ${m0.incarnation.slice(0, 8)} {2}weight 1 {2}0 partition\\(s\\) {2}heartbeat`),
  );
  expect(status).toMatch(
    new RegExp(` {2}B m1 {2}live {2}incarnation ${members[0]!.incarnation.slice(0, 8)} {2}weight 1 {2}0 partition\\(s\\) {2}heartbeat`),
  );
  expect(status).toContain("  sales/orders (4)   ....");
  expect(JSON.parse(await run("status", "--json"))).toMatchObject({ cluster: "shop", partitions: 6 });

  // A drain sets the live member's weight to 0 (its partitions move once a coordinator runs).
  expect(await run("members", "drain", "m1")).toMatch(/^m1: draining;/);
  expect(await run("members", "ls")).toMatch(/^m1 {2}live {2}incarnation \S+ {2}weight 0 /m);
  const gone = capture();
  expect(await main(["members", "drain", "m0"], env, gone)).toBe(1);
  expect(gone.text()).toContain('no live member "m0" in cluster shop');

  expect(await run("tasklist", "rm", "sales", "refunds")).toBe("shop: sales/refunds removed");
  await using catalog = await createCatalog(fx.pool, { cluster: "shop" });
  expect((await catalog.listTaskLists()).map((l) => l.taskList)).toEqual(["orders"]);

  const bad = capture();
  expect(await main(["tasklist", "put", "sales", "orders", "0"], env, bad)).toBe(2);
  expect(bad.text()).toMatch(/partitions: must be a positive integer from 1 to 10000 \(got 0\) \[HELIX_INVALID_ARGUMENT\]/);
  const unknown = capture();
  expect(await main(["tasklist", "rm", "sales", "nothing"], env, unknown)).toBe(1);
  expect(unknown.text()).toMatch(/\[HELIX_UNKNOWN_TASK_LIST\]/);
  const metadata = capture();
  expect(await main(["tasklist", "put", "sales", "orders", "3", "--metadata", "{oops"], env, metadata)).toBe(2);
  expect(metadata.text()).toContain("--metadata: must be a JSON object");
});

test("maintenance on, ls and off, for the cluster and for a task list; status and plan show it", async () => {
  const env = { HELIX_MYSQL_URL: fx.db.url, HELIX_CLUSTERS: "upkeep" };
  const run = runner(env);
  await run("tasklist", "put", "mail", "outbox", "2");
  expect(await run("maintenance", "ls")).toBe("upkeep: no maintenance");
  expect(await run("maintenance", "on", "--reason", "disk swap", "--actor", "ops@example")).toMatch(
    /^upkeep: maintenance on \(whole cluster: "disk swap" by ops@example, since \S+Z, until ended\)$/,
  );
  expect(await run("maintenance", "on", "mail", "outbox", "--reason", "reindex", "--expires-in-ms", "600000")).toMatch(
    /^upkeep: maintenance on \(mail\/outbox: "reindex" by \S+@\S+, since \S+Z, until \S+Z\)$/,
  );
  expect((await run("maintenance", "ls")).split("\n")).toEqual([
    expect.stringMatching(/^whole cluster: "disk swap" by ops@example/),
    expect.stringMatching(/^mail\/outbox: "reindex"/),
  ]);
  expect(JSON.parse(await run("maintenance", "ls", "--json"))).toHaveLength(2);
  expect(await run("status")).toContain('  maintenance on, nothing moves: whole cluster: "disk swap" by ops@example');
  members.push(await join(fx.pool, { cluster: "upkeep", nodeId: "u1", sweepIntervalMs: 0 }));
  expect(await run("plan")).toContain("  maintenance holds 2 of these until it ends (helix maintenance ls)");

  expect(await run("maintenance", "off", "mail", "outbox")).toBe("upkeep mail/outbox: maintenance off");
  expect(await run("maintenance", "off")).toBe("upkeep: maintenance off");
  expect(await run("maintenance", "off")).toBe("upkeep: maintenance was not on");
  expect(await run("plan")).not.toContain("maintenance holds");

  // A coordinator gives u1 the two partitions: the history says why, and which coordinator.
  expect(await run("history")).toBe("upkeep: no transitions recorded");
  const leader = await createCoordinator(fx.pool, { cluster: "upkeep", pollMs: 20 });
  try {
    await until(async () => (await run("history")).split("\n").length === 2);
    expect((await run("history", "--limit", "1")).split("\n")).toEqual([
      expect.stringMatching(
        new RegExp(
          `^\\S+Z {2}assigned mail/outbox#[01] {2}none -> u1 {2}generation 1 \\(task-list\\) {2}epoch 1 by ${leader.options.id.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`,
        ),
      ),
    ]);
    expect(JSON.parse(await run("history", "--json"))).toEqual([
      expect.objectContaining({ cause: "task-list", actor: leader.options.id }),
      expect.objectContaining({ cause: "task-list", actor: leader.options.id }),
    ]);
  } finally {
    await leader.stop();
  }
  const unknown = capture();
  expect(await main(["maintenance", "on", "mail", "nothing", "--reason", "x"], env, unknown)).toBe(1);
  expect(unknown.text()).toMatch(/\[HELIX_UNKNOWN_TASK_LIST\]/);
});

test("placements pin, move, ls and lift, and members move; a refused placement exits 1 with its code", async () => {
  const env = { HELIX_MYSQL_URL: fx.db.url, HELIX_CLUSTERS: "placed" };
  const run = runner(env);
  await run("tasklist", "put", "mail", "outbox", "4");
  for (const nodeId of ["p1", "p2"]) members.push(await join(fx.pool, { cluster: "placed", nodeId, sweepIntervalMs: 0 }));
  expect(await run("placements", "ls")).toBe("placed: no placements");
  expect(await run("placements", "pin", "mail", "outbox", "1", "p1", "--reason", "warm cache", "--actor", "ops@example")).toMatch(
    /^placed: mail\/outbox#1 pinned to p1 "warm cache" by ops@example, since \S+Z$/,
  );
  expect(await run("placements", "move", "mail", "outbox", "2", "p2")).toMatch(/^placed: mail\/outbox#2 moved to p2 by \S+, since \S+Z$/);
  expect((await run("placements", "ls")).split("\n")).toEqual([
    expect.stringMatching(/^mail\/outbox#1 pinned to p1 "warm cache" by ops@example/),
    expect.stringMatching(/^mail\/outbox#2 moved to p2 by /),
  ]);
  expect(JSON.parse(await run("placements", "ls", "--json"))).toEqual([
    expect.objectContaining({ partition: 1, nodeId: "p1", kind: "pin", holds: true }),
    expect.objectContaining({ partition: 2, nodeId: "p2", kind: "move", holds: true }),
  ]);
  expect(await run("status")).toContain("  2 partition(s) pinned or moved to a member by an operator (helix placements ls)");
  const plan = await run("plan");
  expect(plan).toContain("  give mail/outbox#1 to p1 (unassigned) (an operator placed it there)");
  expect(plan).toContain("  give mail/outbox#2 to p2 (unassigned) (an operator placed it there)");
  const leaving = await join(fx.pool, { cluster: "placed", nodeId: "p3", sweepIntervalMs: 0 });
  await run("placements", "pin", "mail", "outbox", "3", "p3");
  await leaving.leave();
  expect(await run("plan")).toContain("  1 placement(s) set aside while their member is not live or drains");
  await run("placements", "lift", "mail", "outbox", "3");
  // No coordinator has given p1 anything yet: there is nothing of it to move.
  expect(await run("members", "move", "p1", "p2", "--reason", "rebuild p1")).toBe(
    "placed: 0 partition(s) of p1 moving to p2, each as p1 confirms its release",
  );
  expect(await run("placements", "lift", "mail", "outbox", "1")).toBe("placed: mail/outbox#1 placement lifted");
  expect(await run("placements", "lift", "mail", "outbox", "1")).toBe("placed: mail/outbox#1 had no placement");
  expect(await run("placements", "lift", "--member", "p2")).toBe("placed: 1 placement(s) on p2 lifted");
  for (const argv of [
    ["placements", "pin", "mail", "outbox", "1", "nobody"],
    ["placements", "move", "mail", "outbox", "9", "p1"],
    ["members", "move", "p2", "nobody"],
  ]) {
    const refused = capture();
    expect(await main(argv, env, refused)).toBe(1);
    expect(refused.text()).toMatch(/\[HELIX_PLACEMENT_REFUSED\]/);
  }
  expect(await run("placements", "ls")).toBe("placed: no placements");
});

test("bad numbers and metadata are bad usage (exit 2) naming the argument, before any connection", async () => {
  // Nothing listens on port 1: a command that connected would fail with the database unavailable (exit 1).
  const env = { HELIX_MYSQL_URL: "mysql://root@127.0.0.1:1/helix" };
  for (const partitions of ["", "0x10", "1e3", "-1", "1.5", " 4", "4 ", "+4", "9".repeat(16)]) {
    const out = capture();
    expect(await main(["tasklist", "put", "d", "t", partitions], env, out)).toBe(2);
    expect(out.text()).toContain("partitions must be a whole number written in digits");
  }
  for (const metadata of ["[1]", "null", "3", '"text"', "{oops"]) {
    const out = capture();
    expect(await main(["tasklist", "put", "d", "t", "3", "--metadata", metadata], env, out)).toBe(2);
    expect(out.text()).toContain("--metadata: must be a JSON object");
  }
  const returning = capture();
  expect(await main(["worker", "--returning-within-ms", "86400001"], env, returning)).toBe(2);
  expect(returning.text()).toContain("--returning-within-ms");
  const drain = capture();
  expect(await main(["members", "drain", " padded"], env, drain)).toBe(2);
  expect(drain.text()).toContain("<node-id>");
  for (const [argv, named] of [
    [["maintenance", "on"], "--reason"],
    [["maintenance", "on", "--reason", ""], "--reason"],
    [["maintenance", "on", "--reason", "x", "--expires-in-ms", "0"], "--expires-in-ms"],
    [["maintenance", "on", "--reason", "x", "--expires-in-ms", "2592000001"], "--expires-in-ms"],
    [["maintenance", "on", "mail", "--reason", "x"], "<taskList>"],
    [["maintenance", "off", "mail"], "<taskList>"],
    [["history", "--limit", "0"], "--limit"],
    [["placements", "pin", "mail", "outbox", "x", "p1"], "<partition>"],
    [["placements", "move", "mail", "outbox", "1", " padded"], "<node-id>"],
    [["placements", "pin", "mail", "outbox", "1", "p1", "--actor", ""], "--actor"],
    [["placements", "lift", "mail"], "<partition>"],
    [["members", "move", "p1", ""], "<to>"],
  ] as const) {
    const out = capture();
    expect(await main([...argv], env, out)).toBe(2);
    expect(out.text()).toContain(named);
  }
  const weight = capture();
  expect(await main(["worker", "--weight", "1e3"], env, weight)).toBe(2);
  expect(weight.text()).toContain("--weight must be a whole number written in digits");
});

test("demo: worker processes come and go and the ownership table is printed as it changes", async () => {
  const out = capture();
  const code = await main(
    ["demo", "--cluster", "demo-test", "--workers", "2", "--interval", "2", "--seconds", "9"],
    {
      HELIX_MYSQL_URL: fx.db.url,
      HELIX_HTTP_PORT: "0",
    },
    out,
  );
  expect(code).toBe(0);
  const text = out.text();
  expect(text).toMatch(/^status page: http:\/\/127\.0\.0\.1:\d+/);
  expect(text).toContain("+ worker-1 joins");
  expect(text).toContain("+ worker-2 joins");
  // A change beyond the first two workers happened and its table was printed.
  expect(text).toMatch(/\+ worker-3 joins|- worker-\d leaves gracefully|x worker-\d crashes/);
  expect(text).toMatch(/cluster demo-test: leader \S+ \(epoch \d+\), \d live member\(s\), 26 partition\(s\)/);
  expect(text).toMatch(/ {2}shop\/orders \(12\) {3}[A-Z~]{12}/);
  expect(out.lines.at(-1)).toBe("stopping the demo");
}, 30_000);
