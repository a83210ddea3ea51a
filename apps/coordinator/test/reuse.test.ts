import type { Server } from "node:http";

import { coordinatorLeaseKey } from "@helix/cluster";
import { createCatalog } from "@helix/coordinator";
import type { ConnectionSource, QueryOptions } from "@helix/db";
import { createLocker } from "@helix/lock";
import { pino } from "pino";

import { ClusterRegistry, createHttpServer, loadConfig, main, ServiceMetrics, startService, StatusReader } from "../src";
import { listen } from "../src/http";
import { capture, migratedDatabase, type Fixture } from "./helpers";

// Spies that still do the real work: the tests count how often the app opens a catalog or a locker.
jest.mock("@helix/coordinator", () => {
  const actual = jest.requireActual<typeof import("@helix/coordinator")>("@helix/coordinator");
  return { ...actual, createCatalog: jest.fn(actual.createCatalog) };
});
jest.mock("@helix/lock", () => {
  const actual = jest.requireActual<typeof import("@helix/lock")>("@helix/lock");
  return { ...actual, createLocker: jest.fn(actual.createLocker) };
});

const TOKEN = "t0ken-for-the-reuse-tests";
const logger = pino({ level: "silent" });
let fx: Fixture;

beforeAll(async () => {
  fx = await migratedDatabase();
});

afterAll(async () => {
  await fx.close();
});

/** A client of the fixture's pool that counts the queries reading the schema's migration table. */
function countingSchemaReads(): { pool: ConnectionSource; reads: () => number } {
  let reads = 0;
  const pool: ConnectionSource = {
    query: (options: QueryOptions) => {
      if (options.sql.includes("helix_schema_migrations")) reads++;
      return fx.pool.query(options);
    },
    getConnection: () => fx.pool.getConnection(),
  };
  return { pool, reads: () => reads };
}

const put = (base: string, path: string, partitions: number) =>
  fetch(`${base}${path}`, {
    method: "PUT",
    headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ partitions }),
  });

test("the service opens a cluster's catalog once for all its HTTP requests and status reads", async () => {
  await using service = await startService(
    loadConfig({ HELIX_MYSQL_URL: fx.db.url, HELIX_CLUSTERS: "reuse", HELIX_HTTP_PORT: "0", HELIX_ADMIN_TOKEN: TOKEN }),
    logger,
  );
  const opened = (): number => jest.mocked(createCatalog).mock.calls.filter(([, options]) => options.cluster === "reuse").length;
  for (let i = 1; i <= 5; i++) expect((await put(service.url, `/api/clusters/reuse/tasklists/shop/list${i}`, i)).status).toBe(200);
  const removed = await fetch(`${service.url}/api/clusters/reuse/tasklists/shop/list1`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  expect(removed.status).toBe(200);
  expect((await fetch(`${service.url}/api/status?cluster=reuse`)).status).toBe(200);
  expect(await service.status("reuse")).toMatchObject({ partitions: 2 + 3 + 4 + 5 });
  expect(opened()).toBe(1);
});

test("N catalog changes over HTTP read the schema's migrations once, not N times", async () => {
  const { pool, reads } = countingSchemaReads();
  await using clusters = new ClusterRegistry(pool);
  const status = StatusReader.sharing(clusters);
  const http: Server = createHttpServer({
    pool,
    clusters: ["counted"],
    adminToken: TOKEN,
    metrics: new ServiceMetrics(new Map(), (c) => status.read(c)),
    status: (c) => status.read(c),
    catalog: (c) => clusters.catalog(c),
    logger,
  });
  const url = await listen(http, "127.0.0.1", 0);
  try {
    // Requests arriving together still open one catalog.
    const answers = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => put(url, `/api/clusters/counted/tasklists/mail/list${i}`, i)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(reads()).toBe(1);
    // The status reader shares the catalog and opens only the ownership store (one more check).
    expect((await status.read("counted")).taskLists).toHaveLength(6);
    expect((await status.read("counted")).taskLists).toHaveLength(6);
    expect(reads()).toBe(2);
  } finally {
    await new Promise((resolve) => http.close(resolve));
  }
  await clusters.close();
  await expect(clusters.catalog("counted")).rejects.toMatchObject({ code: "HELIX_CLOSED" });
});

test("helix status reads the leader without a locker of its own", async () => {
  const cluster = "led";
  await using leader = await createLocker(fx.pool, { owner: "the-leader" });
  await using lease = await leader.acquire(coordinatorLeaseKey(cluster));
  jest.mocked(createLocker).mockClear();

  const out = capture();
  expect(await main(["status", "--cluster", cluster], { HELIX_MYSQL_URL: fx.db.url }, out)).toBe(0);
  expect(out.text()).toContain(`cluster ${cluster}: leader the-leader (epoch ${lease.epoch}), 0 live member(s)`);
  const json = capture();
  expect(await main(["status", "--cluster", cluster, "--json"], { HELIX_MYSQL_URL: fx.db.url }, json)).toBe(0);
  expect(JSON.parse(json.text())).toMatchObject({ cluster, leader: { id: "the-leader", epoch: lease.epoch, held: true } });

  expect(createLocker).not.toHaveBeenCalled();
  const [rows] = await fx.pool.query<import("mysql2").RowDataPacket[]>(
    "SELECT COUNT(*) AS n FROM helix_locks WHERE owner = 'helix-status'",
  );
  expect(Number(rows[0]!.n)).toBe(0);
});
