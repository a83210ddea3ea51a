import { hostname } from "node:os";

import { createOwnershipStore, endMaintenance, join, PartitionState, startMaintenance, type Member } from "@helix/coordinator";
import type { ConnectionSource, QueryClient, QueryOptions, TransactionConnection } from "@helix/db";
import type { RowDataPacket } from "mysql2";
import type { Page } from "playwright-core";

import { STATUS_PAGE_TITLE } from "../src";
import { until } from "./helpers";
import { CLUSTER, fixture, MARKUP, member, others, page, service, usePageFixture } from "./page-fixture";

/** What the tests read of an element: its attributes and text. */
interface Drawn {
  readonly attributes: Record<string, string>;
  readonly text: string;
}

/** The part of a DOM element that {@link drawn} reads in the browser. */
interface DomElement {
  readonly attributes: ArrayLike<{ readonly name: string; readonly value: string }>;
  readonly textContent: string | null;
}

/** The part of a member row (and of its cells) that {@link view} reads in the browser. */
interface DomRow {
  getAttribute(name: string): string | null;
  querySelector(selector: string): DomRow | null;
  readonly textContent: string | null;
}

/** Every element matching `selector`, as drawn now. */
const drawn = (page: Page, selector: string): Promise<Drawn[]> =>
  page.$$eval(selector, (elements: DomElement[]) =>
    elements.map((e) => ({
      attributes: Object.fromEntries(Array.from(e.attributes, (a) => [a.name, a.value])),
      text: e.textContent ?? "",
    })),
  );

/**
 * Run in the page: each member row's node id, its swatch's colour and the colours of its cells, as
 * sRGB triples the screen shows, whatever notation the page wrote the colours in.
 */
const DRAWN_COLOURS = `(() => {
  const context = document.createElement("canvas").getContext("2d", { willReadFrequently: true });
  const rgb = (element) => {
    context.clearRect(0, 0, 1, 1);
    context.fillStyle = getComputedStyle(element).backgroundColor;
    context.fillRect(0, 0, 1, 1);
    return Array.from(context.getImageData(0, 0, 1, 1).data.slice(0, 3));
  };
  return Array.from(document.querySelectorAll('[data-testid="member"]'), (row) => ({
    nodeId: row.getAttribute("data-node-id"),
    swatch: rgb(row.querySelector(".swatch")),
    cells: Array.from(document.querySelectorAll('[data-testid="cell"]'))
      .filter((cell) => cell.getAttribute("data-owner") === row.getAttribute("data-node-id"))
      .map(rgb),
  }));
})()`;

/** What the page shows, in a form to assert on. */
interface View {
  readonly cells: { owner: string; state: string }[];
  readonly members: { nodeId: string; live: boolean }[];
  /** Per member row: what its cells say. */
  readonly rows: {
    nodeId: string;
    state: string;
    stateText: string;
    incarnation: string;
    incarnationText: string;
    generations: string;
    hostsLeader: boolean;
    badge: string;
  }[];
  readonly taskLists: string[];
  readonly leader: string;
  readonly pending: string;
  readonly events: string[];
  readonly updated: string;
}

async function view(page: Page): Promise<View> {
  const [cells, members, taskLists, leader, pending, events, updated] = await Promise.all(
    ["cell", "member", "tasklist", "leader", "pending", "event", "updated"].map((id) => drawn(page, `[data-testid="${id}"]`)),
  );
  const rows = await page.$$eval('[data-testid="member"]', (elements: DomRow[]) =>
    elements.map((row) => ({
      nodeId: row.getAttribute("data-node-id") ?? "?",
      state: row.getAttribute("data-state") ?? "?",
      stateText: row.querySelector(".pill")?.textContent ?? "",
      incarnation: row.querySelector('[data-testid="incarnation"]')?.getAttribute("title") ?? "",
      incarnationText: row.querySelector('[data-testid="incarnation"]')?.textContent ?? "",
      generations: row.querySelector('[data-testid="generations"]')?.textContent ?? "",
      hostsLeader: row.getAttribute("data-hosts-leader") === "true",
      badge: row.querySelector('[data-testid="coordinator-host"]')?.textContent ?? "",
    })),
  );
  return {
    rows,
    cells: cells!.map((c) => ({ owner: c.attributes["data-owner"] ?? "?", state: c.attributes["data-state"] ?? "?" })),
    members: members!.map((m) => ({ nodeId: m.attributes["data-node-id"] ?? "?", live: m.attributes["data-live"] === "true" })),
    taskLists: taskLists!.map((t) => t.attributes["data-task-list"] ?? "?"),
    leader: leader![0]?.text ?? "",
    pending: pending![0]?.text ?? "",
    events: events!.map((e) => e.text),
    updated: updated![0]?.text ?? "",
  };
}

/** Waits until the page shows what `accept` wants, and fails with the last view otherwise. */
async function eventually(page: Page, what: string, accept: (v: View) => boolean, timeoutMs = 15_000): Promise<View> {
  let last: View | undefined;
  try {
    await until(async () => accept((last = await view(page))), timeoutMs);
  } catch {
    throw new Error(`the page did not show ${what} within ${timeoutMs} ms; it showed ${JSON.stringify(last, null, 1)}`);
  }
  return last!;
}

// The members the tests join and leave one after the other; any still in leave after the tests.
let alpha: Member | undefined;
let beta: Member | undefined;

usePageFixture(() => [beta, alpha]);

/**
 * The test pool, except that once `stopped` says so, heartbeats fail before they reach the
 * database: the member keeps running while its registration expires, as when its process hangs.
 */
function heartbeatsStoppable(pool: ConnectionSource, stopped: () => boolean): ConnectionSource {
  const filtered =
    (client: QueryClient) =>
    (options: QueryOptions): Promise<[unknown, unknown]> =>
      stopped() && options.sql.includes("name: HeartbeatMember")
        ? Promise.reject(new Error("heartbeats stopped by the test"))
        : client.query(options);
  // Statements with a timeout run on a connection of their own, so the connections filter too.
  const connection = (conn: TransactionConnection): TransactionConnection =>
    new Proxy(conn, {
      get: (target, property) => {
        if (property === "query") return filtered(target);
        const value: unknown = Reflect.get(target, property);
        return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  return { query: filtered(pool), getConnection: async () => connection(await pool.getConnection()) };
}

/** The lowest and highest generation of the partitions `nodeId` owns, as the page writes them. */
async function generationsOf(nodeId: string): Promise<string> {
  await using store = await createOwnershipStore(fixture!.pool, { cluster: CLUSTER });
  const owned = (await store.memberPartitions(nodeId)).filter(
    (p) => p.state === PartitionState.Assigned || p.state === PartitionState.ReleaseRequested,
  );
  const generations = owned.map((p) => p.generation);
  const [min, max] = [Math.min(...generations), Math.max(...generations)];
  return min === max ? String(min) : `${min}\u2013${max}`;
}

test("the page loads and draws one cell per partition before anyone joins", async () => {
  const response = await page.goto(service!.url);
  expect(response?.status()).toBe(200);
  expect(await page.title()).toBe(STATUS_PAGE_TITLE);

  const v = await eventually(page, "10 unassigned cells", (v) => v.cells.length === 10);
  expect(v.cells.every((c) => c.owner === "" && c.state === "unassigned")).toBe(true);
  expect(v.taskLists.sort()).toEqual([`${MARKUP}/outbox`, "orders/eu"].sort());
  expect(await page.$$eval(`[data-testid="cluster"][data-cluster="${CLUSTER}"]`, (e) => e.length)).toBe(1);
  expect(v.updated).toMatch(/^updated at \d\d:\d\d:\d\d$/);
  expect(v.pending).toBe("0");
  // Markup in a name is shown as text, not parsed.
  expect(await page.$$eval("#clusters em", (e) => e.length)).toBe(0);
  expect(await page.locator(`[data-task-list="${MARKUP}/outbox"] .name`).textContent()).toBe(`${MARKUP}/outbox`);
});

test("every cell is alpha's once alpha joins, and the leader and events show", async () => {
  alpha = await member("alpha");
  const v = await eventually(page, "all cells owned by alpha", (v) => v.cells.length === 10 && v.cells.every((c) => c.owner === "alpha"));
  expect(v.cells.every((c) => c.state === "assigned")).toBe(true);
  expect(v.members).toEqual([{ nodeId: "alpha", live: true }]);
  expect(v.leader).toMatch(/epoch \d+/);
  await eventually(page, "recent events with their cause", (v) =>
    v.events.some((e) => /assigned/.test(e) && e.includes("alpha") && e.includes("(task-list)")),
  );
  expect(await page.locator('[data-testid="cell"]').first().getAttribute("title")).toBe("partition 0: alpha (assigned)");
});

test("a failed poll shows a banner and keeps the last data", async () => {
  const banner = page.locator('[data-testid="error"]');
  expect(await banner.isVisible()).toBe(false);
  await page.route("**/api/status", (route) => route.fulfill({ status: 503, body: "{}" }));
  try {
    await banner.waitFor({ state: "visible", timeout: 5000 });
    expect(await banner.textContent()).toMatch(/HTTP 503.*last data/);
    const v = await view(page);
    expect(v.cells.length).toBe(10);
    expect(v.cells.every((c) => c.owner === "alpha")).toBe(true);
  } finally {
    await page.unroute("**/api/status");
  }
  await banner.waitFor({ state: "hidden", timeout: 5000 });
});

test("beta's cells appear after beta joins", async () => {
  beta = await member("beta");
  const v = await eventually(
    page,
    "cells owned by alpha and by beta, all settled",
    (v) =>
      v.cells.length === 10 &&
      v.cells.some((c) => c.owner === "beta") &&
      v.cells.every((c) => (c.owner === "alpha" || c.owner === "beta") && c.state === "assigned"),
  );
  expect(v.cells.filter((c) => c.owner === "beta").length).toBeGreaterThanOrEqual(4);
  expect(v.members.map((m) => m.nodeId).sort()).toEqual(["alpha", "beta"]);
  expect(v.members.every((m) => m.live)).toBe(true);
  expect(v.pending).toBe("0");
  await eventually(page, "a hand-off to beta among the events", (v) => v.events.some((e) => e.includes("beta")));
});

test("no cell is beta's after beta leaves", async () => {
  await beta!.leave();
  const v = await eventually(
    page,
    "every cell back with alpha and beta gone or dead",
    (v) =>
      v.cells.length === 10 &&
      v.cells.every((c) => c.owner === "alpha" && c.state === "assigned") &&
      v.members.every((m) => m.nodeId !== "beta" || !m.live),
  );
  expect(v.cells.some((c) => c.owner === "beta")).toBe(false);
  expect(v.members.find((m) => m.nodeId === "alpha")?.live).toBe(true);
  expect(v.leader).toMatch(/epoch \d+/);
  expect(v.events.length).toBeGreaterThan(0);

  // beta deregistered: it left, it did not die.
  const left = await eventually(page, "beta as left", (v) => v.rows.some((r) => r.nodeId === "beta" && r.state === "left"));
  expect(left.rows.find((r) => r.nodeId === "beta")).toMatchObject({ state: "left", stateText: "left", generations: "\u2013" });
  expect(left.rows.find((r) => r.nodeId === "alpha")).toMatchObject({ state: "live", stateText: "live" });
});

test("each member shows its incarnation and the generations of the partitions it owns", async () => {
  const expected = await generationsOf("alpha");
  // alpha got every partition, gave some to beta and took them back: more than one generation.
  expect(expected).toMatch(/^\d+\u2013\d+$/);
  const v = await eventually(
    page,
    `alpha's generations ${expected}`,
    (v) => v.rows.find((r) => r.nodeId === "alpha")?.generations === expected,
  );
  const row = v.rows.find((r) => r.nodeId === "alpha")!;
  expect(row.incarnation).toBe(alpha!.incarnation);
  expect(row.incarnationText).toBe(alpha!.incarnation.slice(0, 8));
  expect(v.rows.find((r) => r.nodeId === "beta")?.incarnation).toBe(beta!.incarnation);
});

test("a member whose heartbeats stop shows as dead, before and after the sweep", async () => {
  let stopped = false;
  const gamma = await join(
    heartbeatsStoppable(fixture!.pool, () => stopped),
    { cluster: CLUSTER, nodeId: "gamma", ttlMs: 1000, heartbeatMs: 100, sweepIntervalMs: 0 },
  );
  others.push(gamma);
  await eventually(page, "gamma live", (v) => v.rows.some((r) => r.nodeId === "gamma" && r.state === "live"));
  stopped = true;
  await eventually(page, "gamma dead", (v) => v.rows.some((r) => r.nodeId === "gamma" && r.state === "dead" && r.stateText === "dead"));

  // The coordinator's sweep marks the row inactive, as a leave does; it must still read as dead.
  let sweptAt = "";
  await until(async () => {
    const [rows] = await fixture!.pool.query<RowDataPacket[]>(
      "SELECT status, DATE_FORMAT(UTC_TIMESTAMP(3), '%Y-%m-%dT%H:%i:%s.%fZ') AS now FROM helix_nodes WHERE cluster = ? AND node_id = 'gamma'",
      [CLUSTER],
    );
    sweptAt = String(rows[0]?.now ?? "").replace(/(\.\d{3})\d*Z$/, "$1Z");
    return rows[0]?.status === 0;
  }, 15_000);
  for (let polls = 0; polls < 2; polls++) {
    await page.waitForResponse(async (response) => {
      if (!response.url().endsWith("/api/status")) return false;
      const body = (await response.json()) as { clusters: { at: string }[] };
      return body.clusters[0]!.at >= sweptAt;
    });
  }
  const v = await view(page);
  expect(v.rows.find((r) => r.nodeId === "gamma")).toMatchObject({ state: "dead", stateText: "dead" });
  expect(v.rows.find((r) => r.nodeId === "beta")).toMatchObject({ state: "left", stateText: "left" });
});

test("the leader's host shows in the header, and a member in the leader's process is marked coordinator host", async () => {
  const local = await join(fixture!.pool, { cluster: CLUSTER, ttlMs: 2000, heartbeatMs: 100, sweepIntervalMs: 0 });
  others.push(local);
  const v = await eventually(page, "a member marked coordinator host", (v) => v.rows.some((r) => r.hostsLeader));
  expect(v.rows.filter((r) => r.hostsLeader).map((r) => r.nodeId)).toEqual([local.nodeId]);
  expect(v.rows.find((r) => r.nodeId === local.nodeId)?.badge).toBe("coordinator host");
  expect(v.rows.find((r) => r.nodeId === "alpha")?.badge).toBe("");
  expect(await page.locator('[data-testid="leader-host"]').textContent()).toBe(` on ${hostname()} pid ${process.pid}`);
});

test("maintenance in force shows above the cluster, its reason as text, and goes when it ends", async () => {
  const notice = async (): Promise<string[]> => (await drawn(page, '[data-testid="maintenance"]')).map((d) => d.text);
  await startMaintenance(fixture!.pool, CLUSTER, { reason: `swap ${MARKUP}`, actor: "ops", expiresInMs: 3_600_000 });
  try {
    await until(async () => (await notice()).length === 1, 15_000);
    const [text] = await notice();
    expect(text).toMatch(
      /^Maintenance on \(whole cluster\): nothing moves\. swap <em>mail<\/em> \u2014 ops, since \S+ \S+ UTC, until \S+ \S+ UTC$/,
    );
  } finally {
    await endMaintenance(fixture!.pool, CLUSTER);
  }
  await until(async () => (await notice()).length === 0, 15_000);
});

test("sixteen members get sixteen clearly different colours, the same in their cells", async () => {
  for (let i = 0; i < 12; i++) others.push(await member(`worker-${String(i).padStart(2, "0")}`));
  // alpha, the coordinator host's member and twelve workers live; beta left; gamma is dead.
  await eventually(page, "14 live members", (v) => v.rows.filter((r) => r.state === "live").length === 14, 20_000);
  // Colours as the screen shows them (sRGB), whatever notation the page wrote them in.
  const colours = await page.evaluate<{ nodeId: string; swatch: number[]; cells: number[][] }[]>(DRAWN_COLOURS);
  expect(colours).toHaveLength(16);
  let closest = Infinity;
  for (const [i, a] of colours.entries()) {
    for (const b of colours.slice(i + 1)) closest = Math.min(closest, Math.hypot(...a.swatch.map((v, k) => v - b.swatch[k]!)));
  }
  // Out of 441 (black to white): no two members look alike.
  expect(closest).toBeGreaterThan(40);
  for (const c of colours) for (const cell of c.cells) expect([c.nodeId, cell]).toEqual([c.nodeId, c.swatch]);
});
