// The fixture of the status-page tests: a migrated database with two task lists in cluster CLUSTER
// (one named with markup), a service polling it every 50 ms, and a Chromium page; after the tests,
// the members they joined leave and all of it is closed. The bindings are live.
import { createCatalog, join, type Member } from "@helix/coordinator";
import { chromium, type Browser, type Page } from "playwright-core";

import { loadConfig, startService, type Service } from "../src";
import { migratedDatabase, type Fixture } from "./helpers";

export const CLUSTER = "pagetest";
/** A task list name with markup in it: the page must show it as text. */
export const MARKUP = "<em>mail</em>";

export let fixture: Fixture | undefined;
export let service: Service | undefined;
let browser: Browser | undefined;
export let page: Page;
/** Members the tests leave themselves, whatever happens. */
export const others: Member[] = [];

/** Joins CLUSTER as `nodeId` (TTL 2 s, heartbeats every 100 ms, no sweeps). */
export const member = (nodeId: string): Promise<Member> =>
  join(fixture!.pool, { cluster: CLUSTER, nodeId, ttlMs: 2000, heartbeatMs: 100, sweepIntervalMs: 0 });

/**
 * Registers the fixture's hooks in the calling test file. After the tests, the members in
 * {@link others} leave, then those `leaveLast` returns, in its order.
 */
export function usePageFixture(leaveLast: () => (Member | undefined)[]): void {
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
      for (const m of [...others, ...leaveLast()]) if (m !== undefined && m.state !== "left") await m.leave();
      await browser?.close();
      await service?.stop();
    } finally {
      await fixture?.close();
    }
  });
}
