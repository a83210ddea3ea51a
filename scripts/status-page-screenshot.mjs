// Refreshes docs/status-page.png, the status page screenshot in docs/operations.md. It runs the built
// service (`pnpm build` first) against a throwaway database on a local MySQL server, puts three task
// lists in cluster "demo", joins four members in this process (one of weight 2, one that leaves a
// release unconfirmed so that a pending hand-off shows), and screenshots the page in headless
// Chromium at 1200x900.
//
//   node scripts/status-page-screenshot.mjs
//
// HELIX_MYSQL_SERVER overrides the server (default mysql://root@127.0.0.1:3306/), CHROMIUM the
// browser (default /usr/bin/chromium).
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const app = join(root, "apps", "coordinator");
const require = createRequire(join(app, "package.json"));

const { chromium } = require("playwright-core");
const mysql = require("mysql2/promise");
const { createPool, migrate } = await import(pathToFileURL(require.resolve("@helix/db")).href);
const { createCatalog, join: joinCluster } = await import(pathToFileURL(require.resolve("@helix/coordinator")).href);
const { loadConfig, startService } = await import(pathToFileURL(join(app, "dist", "index.js")).href);

const CLUSTER = "demo";
const OUTPUT = join(root, "docs", "status-page.png");
const server = new URL(process.env.HELIX_MYSQL_SERVER ?? "mysql://root@127.0.0.1:3306/");
const database = `helix_screenshot_${process.pid}_${randomBytes(3).toString("hex")}`;
const url = new URL(server);
url.pathname = `/${database}`;

/** Resolves once `predicate` holds, checking every 50 ms; throws `what` after `timeoutMs`. */
async function until(what, predicate, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const admin = await mysql.createConnection({
  host: server.hostname,
  port: Number(server.port || 3306),
  user: decodeURIComponent(server.username),
  password: decodeURIComponent(server.password),
});
const cleanup = [];
try {
  await admin.query("CREATE DATABASE ?? CHARACTER SET utf8mb4", [database]);
  cleanup.push(() => admin.query("DROP DATABASE IF EXISTS ??", [database]));

  const pool = await createPool(url.toString());
  cleanup.push(() => pool.end());
  await migrate(pool);

  const catalog = await createCatalog(pool, { cluster: CLUSTER });
  await catalog.putTaskList({ domain: "orders", taskList: "fulfilment", partitions: 16 });
  await catalog.putTaskList({ domain: "payments", taskList: "settlement", partitions: 12 });
  await catalog.putTaskList({ domain: "emails", taskList: "outbound", partitions: 8 });
  await catalog.close();

  const service = await startService(
    loadConfig({
      HELIX_MYSQL_URL: url.toString(),
      HELIX_CLUSTERS: CLUSTER,
      HELIX_HTTP_PORT: "0",
      HELIX_LOG_LEVEL: "silent",
      HELIX_LEASE_TTL_MS: "2000",
      HELIX_POLL_MS: "50",
    }),
  );
  cleanup.push(() => service.stop());

  const member = async (nodeId, options = {}) => {
    const m = await joinCluster(pool, { cluster: CLUSTER, nodeId, ttlMs: 5000, heartbeatMs: 500, sweepIntervalMs: 0, ...options });
    cleanup.push(() => m.leave());
    return m;
  };
  const settled = (status) => status.taskLists.every((t) => t.states.every((s) => s === "assigned"));

  await member("api-7f9c2", { weight: 2 });
  await member("worker-1a44");
  await member("worker-b803", { confirmReleases: "manual" });
  await until("the first members to own every partition", async () => settled(await service.status(CLUSTER)));

  // The fourth member takes partitions from the others; worker-b803 does not confirm its
  // releases, so its share stays pending on the page.
  await member("worker-e51d");
  await until("the fourth member's partitions", async () => {
    const status = await service.status(CLUSTER);
    const others = status.taskLists.flatMap((t) => t.states.filter((s) => s !== "assigned" && s !== "releasing"));
    return status.pendingHandoffs > 0 && others.length === 0 && status.members.find((m) => m.nodeId === "worker-e51d").partitions > 0;
  });

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
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
  cleanup.push(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  await page.goto(service.url);
  await page.waitForSelector('[data-testid="cell"][data-state="releasing"]');
  // eslint-disable-next-line no-undef -- the function runs in the page, where document is defined
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="member"]').length === 4);
  mkdirSync(dirname(OUTPUT), { recursive: true });
  await page.screenshot({ path: OUTPUT });
  console.log(OUTPUT);
} finally {
  for (const close of cleanup.reverse()) {
    await Promise.resolve()
      .then(close)
      .catch((error) => console.error(`cleanup: ${error.message}`));
  }
  await admin.end();
}
