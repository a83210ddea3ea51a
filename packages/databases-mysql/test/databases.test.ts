import { setTimeout as sleep } from "node:timers/promises";

import createConnectionPool, { sql, type ConnectionPool } from "@databases/mysql";
import { createPool, InvalidArgumentError, migrate } from "@helix/db";
import { fencePartition, join, PartitionFencedError } from "@helix/cluster";
import { createLocker, fence, FencedOutError, type Locker } from "@helix/lock";
import { createTestDatabase, type TestDatabase } from "@helix/testing";

import { databasesClient, databasesPool } from "../src";

let db: TestDatabase;
let pool: ConnectionPool;
let locker: Locker;
let rival: Locker;

beforeAll(async () => {
  db = await createTestDatabase();
  const migrating = await createPool(db.url);
  await migrate(migrating);
  await migrating.query("CREATE TABLE accounts (id INT PRIMARY KEY, balance INT NOT NULL)");
  await migrating.end();
  pool = createConnectionPool({ connectionString: db.url, bigIntMode: "number", onError: () => undefined });
  // Helix on the @databases pool itself: every statement of these lockers goes through it.
  locker = await createLocker(databasesPool(pool), { owner: "holder", ttlMs: 2000 });
  rival = await createLocker(databasesPool(pool), { owner: "rival", ttlMs: 2000 });
});

afterAll(async () => {
  await locker.close();
  await rival.close();
  await pool.dispose();
  await db.drop();
});

beforeEach(async () => {
  await pool.query(sql`DELETE FROM accounts`);
  await pool.query(sql`INSERT INTO accounts (id, balance) VALUES (1, 100), (2, 0)`);
});

const balances = async (): Promise<number[]> =>
  (await pool.query(sql`SELECT balance FROM accounts ORDER BY id`)).map((r: { balance: number }) => r.balance);

/** Moves `amount` from account 1 to 2 in a @databases transaction, fenced first. */
const transfer = (amount: number, fenced: (tx: Parameters<Parameters<ConnectionPool["tx"]>[0]>[0]) => Promise<void>) =>
  pool.tx(async (tx) => {
    await fenced(tx);
    await tx.query(sql`UPDATE accounts SET balance = balance - ${amount} WHERE id = 1`);
    await tx.query(sql`UPDATE accounts SET balance = balance + ${amount} WHERE id = 2`);
  });

test("a lease on a @databases pool is acquired, inspected in UTC, renewed and released", async () => {
  const key = `k-${Date.now()}`;
  const lease = await locker.acquire(key);
  expect(lease.epoch).toBe(1);
  expect(await rival.tryAcquire(key)).toBeNull();
  const seen = await rival.inspect(key);
  // The pool parsed expires_at as local time, here Kolkata's (jest.config.cjs); read back as the
  // UTC it is stored as: the instant the database holds, not one 5.5 hours off.
  expect(new Date().getTimezoneOffset()).toBe(-330);
  const [stored] = (
    await pool.query(
      sql`SELECT CONCAT(DATE_FORMAT(expires_at, '%Y-%m-%dT%H:%i:%s.'), LEFT(DATE_FORMAT(expires_at, '%f'), 3), 'Z') AS utc FROM helix_locks WHERE lock_key = ${key}`,
    )
  ).map((r: { utc: string }) => r.utc);
  // Within a millisecond: the driver may round the microseconds where the text above cuts them.
  expect(Math.abs(seen!.expiresAt.getTime() - Date.parse(stored!))).toBeLessThanOrEqual(1);
  await lease.renew();
  await lease.release();
  expect((await rival.tryAcquire(key))?.epoch).toBe(2);
});

test("a transfer fenced by a lease commits; a paused holder's fenced transfer is refused and writes nothing", async () => {
  const key = `transfer-${Date.now()}`;
  const lease = await locker.acquire(key);
  await transfer(30, (tx) => lease.fence(databasesClient(tx)));
  expect(await balances()).toEqual([70, 30]);

  // The holder pauses past its TTL (it never renews); another process takes the key.
  const staleEpoch = lease.epoch;
  await sleep(2100);
  const next = await rival.acquire(key);
  expect(next.epoch).toBe(staleEpoch + 1);
  // Waking up, the paused process still has its old epoch: the database refuses it.
  await expect(transfer(50, (tx) => fence(databasesClient(tx), key, staleEpoch))).rejects.toBeInstanceOf(FencedOutError);
  expect(await balances()).toEqual([70, 30]);
  await transfer(5, (tx) => next.fence(databasesClient(tx)));
  expect(await balances()).toEqual([65, 35]);
  await next.release();
});

test("a fenced @databases transaction keeps a new owner out until it commits", async () => {
  const key = `hold-${Date.now()}`;
  const lease = await locker.acquire(key, { ttlMs: 300 });
  let takenAt = 0;
  let committedAt = 0;
  let taking: Promise<void> | undefined;
  await transfer(10, async (tx) => {
    await lease.fence(databasesClient(tx));
    await sleep(400); // expired by the database clock, but the fence holds the row
    taking = rival.acquire(key, { waitMs: 30_000 }).then(async (next) => {
      takenAt = performance.now();
      await next.release();
    });
    await sleep(300);
    expect(takenAt).toBe(0);
    committedAt = performance.now();
  });
  // Taken once the fenced transaction ended, not while it ran.
  await taking;
  expect(takenAt).toBeGreaterThanOrEqual(committedAt);
  expect(await balances()).toEqual([90, 10]);
});

test("the partition fence admits the owner's @databases transaction at its generation and refuses another", async () => {
  const ownership = { cluster: "c", domain: "d", taskList: "t", partition: 0, nodeId: "n1", incarnation: "i".repeat(32), generation: 3 };
  await pool.query(sql`DELETE FROM helix_allocation`);
  await pool.query(
    sql`INSERT INTO helix_allocation (cluster, domain, task_list, partition_id, node_id, incarnation, state, generation, updated_at)
        VALUES ('c', 'd', 't', 0, 'n1', ${ownership.incarnation}, 1, 3, UTC_TIMESTAMP(6))`,
  );
  await transfer(20, (tx) => fencePartition(databasesClient(tx), ownership));
  expect(await balances()).toEqual([80, 20]);
  await expect(transfer(20, (tx) => fencePartition(databasesClient(tx), { ...ownership, generation: 2 }))).rejects.toBeInstanceOf(
    PartitionFencedError,
  );
  await expect(
    transfer(20, (tx) => fencePartition(databasesClient(tx), { ...ownership, incarnation: "j".repeat(32) })),
  ).rejects.toBeInstanceOf(PartitionFencedError);
  expect(await balances()).toEqual([80, 20]);
});

test("a member joins, heartbeats and leaves through the @databases pool", async () => {
  const member = await join(databasesPool(pool), { cluster: "dbx", nodeId: "m1", ttlMs: 1000, heartbeatMs: 200 });
  await sleep(500);
  const live = async (): Promise<unknown[]> =>
    pool.query(sql`SELECT node_id FROM helix_nodes WHERE cluster = 'dbx' AND status = 1 AND expires_at > UTC_TIMESTAMP(6)`);
  expect(await live()).toEqual([{ node_id: "m1" }]);
  await member.leave();
  expect(await live()).toEqual([]);
});

test("a bad time zone is refused before anything is sent", () => {
  let error: unknown;
  try {
    databasesPool(pool, { timeZone: "Europe/Paris" as "utc" });
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(InvalidArgumentError);
  expect(error).toMatchObject({ code: "HELIX_INVALID_ARGUMENT", argument: "timeZone" });
  expect((error as Error).message).toMatch(/must be "local" or "utc"/);
});
