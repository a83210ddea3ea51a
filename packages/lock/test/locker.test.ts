import { setTimeout as sleep } from "node:timers/promises";

import { createTestDatabase } from "@helix/testing";
import { createPool, lockQueries } from "@helix/db/internal";
import { createPool as createMysqlPool } from "mysql2/promise";

import {
  ClosedError,
  createLocker,
  DatabaseUnavailableError,
  fence,
  FencedOutError,
  InvalidArgumentError,
  LeaseLostError,
  LockHeldError,
  LockTimeoutError,
  MAX_TTL_MS,
  type Lease,
  type Locker,
} from "../src";
import { expireInDatabase, FaultyPool, lockRows, migratedDatabase, until, type Fixture } from "./helpers";

let fx: Fixture;
let a: Locker;
let b: Locker;
let keyNo = 0;
const freshKey = (): string => `key-${++keyNo}`;

beforeAll(async () => {
  fx = await migratedDatabase();
  a = await createLocker(fx.pool, { owner: "alice" });
  b = await createLocker(fx.pool, { owner: "bob" });
});

afterAll(async () => {
  await a.close();
  await b.close();
  await fx.close();
});

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

describe("acquire, renew, release", () => {
  test("one owner at a time, with epochs that grow on every change of owner", async () => {
    const key = freshKey();
    const first = await a.acquire(key);
    expect(first).toMatchObject({ key, owner: "alice", epoch: 1, state: "held" });
    expect(await b.tryAcquire(key)).toBeNull();

    await first.renew();
    expect(first.epoch).toBe(1);
    expect(await a.inspect(key)).toMatchObject({ held: true, owner: "alice", epoch: 1 });

    expect(await first.release()).toBe(true);
    expect(first.state).toBe("released");
    expect(first.signal.aborted).toBe(true);
    expect(await first.release()).toBe(false);
    expect(await a.inspect(key)).toMatchObject({ held: false, epoch: 1, remainingMs: 0 });

    const second = await b.acquire(key);
    expect(second.epoch).toBe(2);
    await second.release();
    // A new locker (a restarted process) continues the sequence.
    const restarted = await createLocker(fx.pool, { owner: "alice-again" });
    const third = await restarted.acquire(key);
    expect(third.epoch).toBe(3);
    await restarted.close();
    expect(await a.inspect(key)).toMatchObject({ held: false, epoch: 3 });
  });

  test("acquire waits for a release, and tells held from timed out", async () => {
    const key = freshKey();
    const held = await a.acquire(key);
    const error = await b.acquire(key, { waitMs: 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockHeldError);
    expect(error).toMatchObject({ code: "HELIX_LOCK_HELD", holder: "alice", epoch: 1 });

    const started = performance.now();
    await expect(b.acquire(key, { waitMs: 150 })).rejects.toBeInstanceOf(LockTimeoutError);
    expect(performance.now() - started).toBeGreaterThanOrEqual(145);

    const waiting = b.acquire(key, { waitMs: 5000 });
    await sleep(100);
    await held.release();
    const next = await waiting;
    expect(next.epoch).toBe(2);
    await next.release();
  });

  test("acquire can be cancelled by its signal", async () => {
    const key = freshKey();
    const held = await a.acquire(key);
    const controller = new AbortController();
    const waiting = b.acquire(key, { waitMs: 10_000, signal: controller.signal });
    setTimeout(() => controller.abort(new Error("shutting down")), 50);
    await expect(waiting).rejects.toThrow("shutting down");
    await held.release();
  });

  test("a stale token can neither renew nor release, and an expired lease cannot be renewed", async () => {
    const key = freshKey();
    const stale = await a.acquire(key, { ttlMs: 60_000 });
    await expireInDatabase(fx.pool, key);
    // Expired by the database clock (the local deadline is still ahead): the renewal is refused.
    const renewal = await stale.renew().catch((e: unknown) => e);
    expect(renewal).toBeInstanceOf(LeaseLostError);
    expect(renewal).toMatchObject({ reason: "renewal-rejected", epoch: 1 });
    expect(stale.signal.aborted).toBe(true);
    expect(stale.state).toBe("lost");

    const current = await b.acquire(key);
    expect(current.epoch).toBe(2);
    expect(await stale.release()).toBe(false);
    expect(await a.inspect(key)).toMatchObject({ held: true, owner: "bob", epoch: 2 });
    // The stale token is refused by the database itself, not only by the local state.
    expect(await lockQueries.renewLock(fx.pool, { ttlUs: 60_000_000, lockKey: key, token: "0".repeat(32) })).toBe(0);
    await current.release();
  });

  test("bad input is rejected before anything is written", async () => {
    const before = await lockRows(fx.pool);
    const cases: [() => Promise<unknown>, string][] = [
      [() => a.acquire(""), "key"],
      [() => a.acquire("x".repeat(256)), "key"],
      [() => a.acquire(42 as unknown as string), "key"],
      [() => a.acquire(" padded"), "key"],
      [() => a.acquire("line\nbreak"), "key"],
      [() => a.acquire("k", { ttlMs: 0 }), "ttlMs"],
      [() => a.acquire("k", { ttlMs: 1.5 }), "ttlMs"],
      [() => a.acquire("k", { ttlMs: MAX_TTL_MS + 1 }), "ttlMs"],
      [() => a.acquire("k", { ttlMs: 10 }), "ttlMs"],
      [() => a.acquire("k", { waitMs: -5 }), "waitMs"],
      [() => a.tryAcquire("", {}), "key"],
      [() => a.withLock("k", "nope" as unknown as () => Promise<void>), "fn"],
      [() => a.inspect(""), "key"],
    ];
    for (const [call, argument] of cases) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error).toMatchObject({ argument });
    }
    expect(await a.acquire("x".repeat(255)).then((l) => l.release())).toBe(true);
    expect(await lockRows(fx.pool)).toBe(before + 1);
  });

  test("inspect reports the database's view; a never-locked key is null", async () => {
    const key = freshKey();
    expect(await a.inspect(key)).toBeNull();
    const lease = await a.acquire(key, { ttlMs: 30_000 });
    const info = await b.inspect(key);
    expect(info).toMatchObject({ key, held: true, owner: "alice", epoch: 1 });
    expect(info!.remainingMs).toBeGreaterThan(25_000);
    expect(info!.remainingMs).toBeLessThanOrEqual(30_000);
    // The lease's own estimate of the database expiry agrees with the database.
    expect(Math.abs(lease.expiresAt.getTime() - info!.expiresAt.getTime())).toBeLessThan(250);
    await lease.release();
  });
});

describe("auto-renew and the holder's signal", () => {
  test("withLock renews while fn runs, then releases", async () => {
    const key = freshKey();
    const renewals: number[] = [];
    const result = await a.withLock(
      key,
      async (lease) => {
        lease.on("lease:renewed", (r) => renewals.push(r.epoch));
        await sleep(700);
        expect(lease.isHeld()).toBe(true);
        return "done";
      },
      { ttlMs: 300 },
    );
    expect(result).toBe("done");
    expect(renewals.length).toBeGreaterThanOrEqual(3);
    expect(new Set(renewals)).toEqual(new Set([1]));
    expect(await a.inspect(key)).toMatchObject({ held: false, epoch: 1 });
  });

  test("withLock reports a lease lost while fn ran, after fn saw its signal abort", async () => {
    const key = freshKey();
    let sawAbort = false;
    const run = a.withLock(
      key,
      async (lease) => {
        await expireInDatabase(fx.pool, key);
        await b.acquire(key, { waitMs: 1000 });
        await until(() => lease.signal.aborted);
        sawAbort = true;
        return "unprotected";
      },
      { ttlMs: 300 },
    );
    await expect(run).rejects.toMatchObject({ code: "HELIX_LEASE_LOST", reason: "renewal-rejected" });
    expect(sawAbort).toBe(true);
    expect(await a.inspect(key)).toMatchObject({ held: true, owner: "bob", epoch: 2 });
  });

  test("with the database unreachable, the signal fires by the local deadline", async () => {
    const faulty = new FaultyPool(fx.pool);
    const locker = await createLocker(faulty, { owner: "cut-off" });
    const key = freshKey();
    const lease = await locker.acquire(key, { ttlMs: 400, autoRenew: true });
    const acquiredAt = performance.now();
    const failures: Error[] = [];
    lease.on("lease:renew-failed", (e) => failures.push(e));
    const lost = new Promise<LeaseLostError>((resolve) => lease.once("lease:lost", resolve));
    faulty.cut = true;
    const error = await lost;
    const abortedAfter = performance.now() - acquiredAt;
    expect(error.reason).toBe("expired");
    expect(lease.signal.aborted).toBe(true);
    expect(lease.signal.reason).toBe(error);
    // Renewals keep failing, so only the local deadline timer (ttl 400 - margin 20 after the send
    // time) can have ended it: never before that, and not long after (the bound allows a busy machine).
    expect(abortedAfter).toBeGreaterThan(300);
    expect(abortedAfter).toBeLessThan(2000);
    expect(failures.length).toBeGreaterThan(0);
    expect(failures[0]).toBeInstanceOf(DatabaseUnavailableError);
    await expect(lease.renew()).rejects.toBeInstanceOf(LeaseLostError);
    await expect(locker.tryAcquire(freshKey())).rejects.toBeInstanceOf(DatabaseUnavailableError);
    faulty.cut = false;
    await locker.close();
  });

  test("a resumed holder learns synchronously that its lease ran out", async () => {
    const key = freshKey();
    const lease = await a.acquire(key, { ttlMs: 200 });
    const stalledUntil = performance.now() + 250;
    while (performance.now() < stalledUntil) {
      // Busy-wait: the event loop is blocked, as in a long GC pause; no timer can run.
    }
    expect(lease.signal.aborted).toBe(false);
    expect(lease.isHeld()).toBe(false);
    expect(lease.signal.aborted).toBe(true);
    await expect(lease.fence(fx.pool)).rejects.toMatchObject({ reason: "expired" });
  });

  test("an acquire whose reply was lost finds its own grant when it tries again", async () => {
    const faulty = new FaultyPool(fx.pool);
    const locker = await createLocker(faulty, { owner: "lost-reply" });
    const key = freshKey();
    faulty.loseReplyOnce.add("AcquireLock");
    const started = performance.now();
    // The first attempt took the key but its reply never came; the retry gets the same grant at
    // once, not a 60 s wait for its own lease to expire.
    const lease = await locker.acquire(key, { ttlMs: 60_000, waitMs: 5_000 });
    expect(performance.now() - started).toBeLessThan(4_000);
    expect(faulty.count("AcquireLock")).toBe(2);
    expect(lease.epoch).toBe(1);
    const info = await locker.inspect(key);
    expect(info).toMatchObject({ held: true, owner: "lost-reply", epoch: 1 });
    // The grant was extended from the retry, so the holder's deadline is never after the database's.
    expect(info!.expiresAt.getTime()).toBeGreaterThanOrEqual(lease.expiresAt.getTime() - 50);
    // Another owner's attempt is still refused.
    const other = await createLocker(fx.pool, { owner: "other" });
    expect(await other.tryAcquire(key)).toBeNull();
    expect(await lease.release()).toBe(true);
    await other.close();
    await locker.close();
  });

  test("deadlocks and lock-wait timeouts are retried, never surfaced", async () => {
    const faulty = new FaultyPool(fx.pool);
    const locker = await createLocker(faulty, { owner: "retrier" });
    faulty.injected.push({ errno: 1213, code: "ER_LOCK_DEADLOCK" }, { errno: 1205, code: "ER_LOCK_WAIT_TIMEOUT" });
    const lease = await locker.acquire(freshKey());
    expect(faulty.injected).toHaveLength(0);
    faulty.injected.push({ errno: 1213, code: "ER_LOCK_DEADLOCK" });
    await lease.renew();
    faulty.injected.push({ errno: 1205, code: "ER_LOCK_WAIT_TIMEOUT" });
    expect(await lease.release()).toBe(true);
    await locker.close();
  });
});

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
