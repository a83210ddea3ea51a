import { setTimeout as sleep } from "node:timers/promises";

import { fence, FencedOutError, InvalidArgumentError, type Lease } from "../src";
import { expireInDatabase } from "./helpers";
import { a, b, freshKey, fx, useLockerFixture } from "./locker-fixture";

useLockerFixture();

describe("fencing the user's own writes", () => {
  beforeAll(async () => {
    await fx.pool.query("CREATE TABLE account (id INT PRIMARY KEY, balance INT NOT NULL, epoch BIGINT NOT NULL)");
    await fx.pool.query("INSERT INTO account VALUES (1, 0, 0)");
  });

  async function fencedWrite(lease: Lease, balance: number): Promise<void> {
    const conn = await fx.pool.getConnection();
    try {
      await conn.beginTransaction();
      await lease.fence(conn);
      await conn.query("UPDATE account SET balance = ?, epoch = ? WHERE id = 1", [balance, lease.epoch]);
      await conn.commit();
    } catch (error) {
      await conn.rollback();
      throw error;
    } finally {
      conn.release();
    }
  }

  test("a write fenced by the current epoch commits; a stale epoch's is refused", async () => {
    const key = freshKey();
    const old = await a.acquire(key, { ttlMs: 60_000 });
    await fencedWrite(old, 10);
    await expireInDatabase(fx.pool, key);
    const current = await b.acquire(key);
    await fencedWrite(current, 20);
    // The old holder's local deadline has not passed, so only the database can stop it.
    expect(old.isHeld()).toBe(true);
    await expect(fencedWrite(old, 30)).rejects.toBeInstanceOf(FencedOutError);
    const [rows] = await fx.pool.query("SELECT balance, epoch FROM account WHERE id = 1");
    expect(rows).toEqual([{ balance: 20, epoch: 2 }]);
    await current.release();
  });

  test("fence() by key and epoch refuses a bad key or epoch, naming it, before anything is sent", async () => {
    const sent: unknown[] = [];
    const recording = { query: (...args: unknown[]) => (sent.push(args), Promise.reject(new Error("nothing may be sent"))) };
    const cases: [unknown, unknown, string][] = [
      [undefined, 1, "key"],
      ["", 1, "key"],
      ["k".repeat(256), 1, "key"],
      [42, 1, "key"],
      ["k", Number.NaN, "epoch"],
      ["k", Number.POSITIVE_INFINITY, "epoch"],
      ["k", -1, "epoch"],
      ["k", 1.5, "epoch"],
      ["k", 2 ** 53, "epoch"],
      ["k", "1", "epoch"],
    ];
    for (const [key, epoch, argument] of cases) {
      const error = await fence(recording as never, key as string, epoch as number).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error).toMatchObject({ argument, code: "HELIX_INVALID_ARGUMENT" });
    }
    expect(sent).toEqual([]);
    // A well-formed key and epoch no lease has are fenced out by the database.
    await expect(fence(fx.pool, freshKey(), 1)).rejects.toBeInstanceOf(FencedOutError);
  });

  test("a fenced transaction keeps a new owner out until it ends", async () => {
    const key = freshKey();
    const lease = await a.acquire(key, { ttlMs: 300 });
    const conn = await fx.pool.getConnection();
    await conn.beginTransaction();
    await lease.fence(conn);
    await sleep(400); // the lease has expired by the database clock, but the row is share-locked
    let takenAt = 0;
    const taking = b.acquire(key, { waitMs: 5000 }).then((l) => {
      takenAt = performance.now();
      return l;
    });
    await sleep(200);
    expect(takenAt).toBe(0);
    const committedAt = performance.now();
    await conn.commit();
    conn.release();
    const next = await taking;
    expect(takenAt).toBeGreaterThanOrEqual(committedAt);
    expect(next.epoch).toBe(2);
    await next.release();
  });
});
