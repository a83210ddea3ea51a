import { createCatalog, join, type Member } from "@helix/coordinator";
import { chromium, type Browser, type Page } from "playwright-core";

import { loadConfig, startService, STATUS_PAGE_TITLE, type Service } from "../src";
import { migratedDatabase, until, type Fixture } from "./helpers";

const CLUSTER = "pagetest";
/** A task list name with markup in it: the page must show it as text. */
const MARKUP = "<em>mail</em>";

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

/** Every element matching `selector`, as drawn now. */
const drawn = (page: Page, selector: string): Promise<Drawn[]> =>
  page.$$eval(selector, (elements: DomElement[]) =>
    elements.map((e) => ({
      attributes: Object.fromEntries(Array.from(e.attributes, (a) => [a.name, a.value])),
      text: e.textContent ?? "",
    })),
  );

/** What the page shows, in a form to assert on. */
interface View {
  readonly cells: { owner: string; state: string }[];
  readonly members: { nodeId: string; live: boolean }[];
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
  return {
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

let fixture: Fixture | undefined;
let service: Service | undefined;
let browser: Browser | undefined;
let page: Page;
let alpha: Member | undefined;
let beta: Member | undefined;

const member = (nodeId: string): Promise<Member> =>
  join(fixture!.pool, { cluster: CLUSTER, nodeId, ttlMs: 2000, heartbeatMs: 100, sweepIntervalMs: 0 });

beforeAll(async () => {
  fixture = await migratedDatabase();
  const catalog = await createCatalog(fixture.pool, { cluster: CLUSTER });
  try {
    await catalog.putTaskList({ domain: "orders", taskList: "eu", partitions: 6 });
    await catalog.putTaskList({ domain: MARKUP, taskList: "outbox", partitions: 4 });
  } finally {
    await catalog.close();
  }
  service = await startService(
    loadConfig({
      HELIX_MYSQL_URL: fixture.db.url,
      HELIX_CLUSTERS: CLUSTER,
      HELIX_HTTP_PORT: "0",
      HELIX_LOG_LEVEL: "silent",
      HELIX_LEASE_TTL_MS: "1000",
      HELIX_POLL_MS: "50",
    }),
  );
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
});

afterAll(async () => {
  try {
    for (const m of [beta, alpha]) if (m !== undefined && m.state !== "left") await m.leave();
    await browser?.close();
    await service?.stop();
  } finally {
    await fixture?.close();
  }
});

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
  await eventually(page, "recent events", (v) => v.events.some((e) => /assigned/.test(e) && e.includes("alpha")));
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
});
