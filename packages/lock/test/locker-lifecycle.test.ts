import { createTestDatabase } from "@helix/testing";
import { createPool } from "@helix/db/internal";
import { createPool as createMysqlPool } from "mysql2/promise";

import { ClosedError, createLocker, DatabaseUnavailableError, LeaseLostError, LockHeldError, MAX_TTL_MS } from "../src";
import { a, b, freshKey, fx, useLockerFixture } from "./locker-fixture";

useLockerFixture();

describe("createLocker", () => {
  test("refuses a database without the schema, saying what to run", async () => {
    await using empty = await createTestDatabase();
    const pool = await createPool(empty.url);
    try {
      await expect(createLocker(pool)).rejects.toMatchObject({
        code: "HELIX_SCHEMA_NOT_MIGRATED",
        message: expect.stringMatching(/helix migrate/) as unknown,
      });
    } finally {
      await pool.end();
    }
  });

  test("makes and closes its own pool from a URL", async () => {
    const locker = await createLocker(fx.db.url, { owner: "url-owner" });
    const lease = await locker.acquire(freshKey());
    await locker.close();
    expect(lease.state).toBe("released");
    await expect(locker.acquire(freshKey())).rejects.toBeInstanceOf(ClosedError);
  });

  test("reports an unreachable database as DatabaseUnavailableError", async () => {
    await expect(createLocker("mysql://root:pw@127.0.0.1:1/helix")).rejects.toBeInstanceOf(DatabaseUnavailableError);
  });

  test.each([
    [{ ttlMs: 0 }, "ttlMs"],
    [{ ttlMs: MAX_TTL_MS + 1 }, "ttlMs"],
    [{ waitMs: -1 }, "waitMs"],
    [{ owner: "" }, "owner"],
    [{ safetyMarginMs: 20_000, ttlMs: 10_000 }, "safetyMarginMs"],
    // A holder with no margin would give up only when the database already lets someone else in.
    [{ safetyMarginMs: 0 }, "safetyMarginMs"],
    [{ safetyMarginMs: 99, ttlMs: 10_000 }, "safetyMarginMs"],
  ])("rejects bad options %j", async (options, argument) => {
    await expect(createLocker(fx.pool, options)).rejects.toMatchObject({ code: "HELIX_INVALID_ARGUMENT", argument });
  });
});

describe("a caller's own mysql2 pool", () => {
  // mysql2's defaults differ from Helix's pool (FOUND_ROWS on, local time zone, JSON parsed): the
  // answers must not depend on them.
  test("with default flags gives one holder per key and fences that refuse the loser", async () => {
    const plain = createMysqlPool(fx.db.url);
    try {
      const one = await createLocker(plain, { owner: "one" });
      const two = await createLocker(plain, { owner: "two" });
      const key = freshKey();
      const lease = await one.tryAcquire(key);
      expect(lease).toMatchObject({ epoch: 1 });
      expect(await two.tryAcquire(key)).toBeNull();
      await expect(two.acquire(key, { waitMs: 0 })).rejects.toBeInstanceOf(LockHeldError);
      expect(await two.inspect(key)).toMatchObject({ held: true, owner: "one", epoch: 1 });
      await lease!.release();
      expect(await two.tryAcquire(key)).toMatchObject({ epoch: 2 });
      const conn = await plain.getConnection();
      try {
        await conn.beginTransaction();
        await expect(lease!.fence(conn)).rejects.toBeInstanceOf(LeaseLostError);
        await conn.rollback();
      } finally {
        conn.release();
      }
      await one.close();
      await two.close();
    } finally {
      await plain.end();
    }
  });
});

test("close releases what the locker holds and refuses further use", async () => {
  const locker = await createLocker(fx.pool, { owner: "closer" });
  const key = freshKey();
  const lease = await locker.acquire(key, { autoRenew: true });
  await locker.close();
  expect(lease.state).toBe("released");
  expect(await a.inspect(key)).toMatchObject({ held: false });
  await expect(locker.tryAcquire(key)).rejects.toMatchObject({ code: "HELIX_CLOSED" });
  await expect(locker.inspect(key)).rejects.toBeInstanceOf(ClosedError);
});

test("await using releases a lease at the end of its scope", async () => {
  const key = freshKey();
  {
    await using lease = await a.acquire(key);
    expect(lease.isHeld()).toBe(true);
  }
  expect(await b.inspect(key)).toMatchObject({ held: false, epoch: 1 });
});
