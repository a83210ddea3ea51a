import { setTimeout as sleep } from "node:timers/promises";

import { lockQueries } from "@helix/db/internal";

import { createLocker, InvalidArgumentError, LeaseLostError, LockHeldError, LockTimeoutError, MAX_TTL_MS } from "../src";
import { expireInDatabase, lockRows } from "./helpers";
import { a, b, freshKey, fx, useLockerFixture } from "./locker-fixture";

useLockerFixture();

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
    // A locker of its own, so that this test sees the round trip in which it read the database clock.
    const connectStarted = performance.now();
    const locker = await createLocker(fx.pool, { owner: "alice" });
    const connectMs = performance.now() - connectStarted;
    const started = performance.now();
    const lease = await locker.acquire(key, { ttlMs: 30_000 });
    const info = await b.inspect(key);
    const elapsedMs = performance.now() - started;
    expect(info).toMatchObject({ key, held: true, owner: "alice", epoch: 1 });
    // By the database clock, granted for the TTL; less of it is left only by as long as the acquire
    // and the inspect took (+1: remainingMs is rounded down).
    expect(info!.expiresAt.getTime() - info!.acquiredAt.getTime()).toBe(30_000);
    expect(info!.remainingMs).toBeGreaterThanOrEqual(30_000 - elapsedMs - 1);
    expect(info!.remainingMs).toBeLessThanOrEqual(30_000);
    // The lease's own estimate of the database expiry agrees with the database, up to what the
    // round trips can explain: the database clock was read in the middle of one within createLocker,
    // and the grant was made during the acquire (+1: the database's expiry is to the millisecond).
    expect(Math.abs(lease.expiresAt.getTime() - info!.expiresAt.getTime())).toBeLessThanOrEqual(connectMs / 2 + elapsedMs + 1);
    await lease.release();
    await locker.close();
  });
});
