import { setTimeout as sleep } from "node:timers/promises";

import { createLocker, DatabaseUnavailableError, LeaseLostError } from "../src";
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
