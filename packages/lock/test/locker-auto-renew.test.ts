import type { RowDataPacket } from "mysql2/promise";

import { createLocker, DatabaseUnavailableError, inspectLock, LeaseLostError } from "../src";
import { expireInDatabase, FaultyPool, until } from "./helpers";
import { a, b, freshKey, fx, useLockerFixture } from "./locker-fixture";

useLockerFixture();

describe("auto-renew and the holder's signal", () => {
  test("withLock renews while fn runs, then releases", async () => {
    const key = freshKey();
    const renewals: number[] = [];
    const result = await a.withLock(
      key,
      async (lease) => {
        lease.on("lease:renewed", (r) => renewals.push(r.epoch));
        // Three renewals however slowly they come (one is due every 500 ms), the lease held throughout.
        await until(() => renewals.length >= 3, 30_000);
        expect(lease.isHeld()).toBe(true);
        return "done";
      },
      { ttlMs: 1500 },
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
    // Before the acquire is sent, so that a slow reply cannot make the deadline look early.
    const requestedAt = performance.now();
    // Renewals are due a third of the TTL in, long before the deadline, so they are tried (and
    // fail) first even on a slow machine.
    const lease = await locker.acquire(key, { ttlMs: 1500, autoRenew: true });
    const failures: Error[] = [];
    lease.on("lease:renew-failed", (e) => failures.push(e));
    let lostAt = 0;
    const lost = new Promise<LeaseLostError>((resolve) =>
      lease.once("lease:lost", (e) => {
        lostAt = performance.now();
        resolve(e);
      }),
    );
    faulty.cut = true;
    // By the time the database lets others in (a TTL after the grant, by its clock), the holder has
    // stopped by its own: its deadline ran from the send time, a margin earlier. Asked now, the
    // lease checks its deadline itself, so a late timer on a busy machine does not matter here.
    await until(async () => (await inspectLock(fx.pool, key))?.held === false, 30_000);
    expect(lease.isHeld()).toBe(false);
    const error = await lost;
    expect(error.reason).toBe("expired");
    expect(lease.signal.aborted).toBe(true);
    expect(lease.signal.reason).toBe(error);
    // Renewals keep failing, so only the local deadline (ttl 1500 - margin 75 after the send time)
    // can have ended it: never before that.
    expect(lostAt - requestedAt).toBeGreaterThanOrEqual(1500 - 75);
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
    // Whether the first attempt's grant was in the database before its reply was lost (on TiDB a
    // statement whose connection is lost before the reply may be rolled back with it).
    let landed: boolean | undefined;
    faulty.beforeReply.set("AcquireLock", async () => {
      landed ??= (await inspectLock(fx.pool, key))?.held === true;
    });
    // The first attempt took the key but its reply never came; the retry gets the same grant, rather
    // than find the key held (by its own first attempt, for 60 s) and time out.
    const lease = await locker.acquire(key, { ttlMs: 60_000, waitMs: 30_000 });
    expect(faulty.count("AcquireLock")).toBe(2);
    expect(lease.epoch).toBe(1);
    const info = await locker.inspect(key);
    expect(info).toMatchObject({ held: true, owner: "lost-reply", epoch: 1 });
    // The grant was extended from the retry, so the holder's deadline (counted from the retry's
    // send) is never after the database's: by the database clock, the expiry is more than a TTL
    // after the first attempt's grant.
    const [rows] = await fx.pool.query<RowDataPacket[]>(
      "SELECT TIMESTAMPDIFF(MICROSECOND, acquired_at, expires_at) AS us FROM helix_locks WHERE lock_key = ?",
      [key],
    );
    if (landed === true) expect(Number(rows[0]!.us)).toBeGreaterThan(60_000_000);
    else expect(Number(rows[0]!.us)).toBe(60_000_000);
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
