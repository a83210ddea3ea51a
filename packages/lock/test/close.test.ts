// Nothing outlives a locker's close(): no acquire() goes on polling, and no attempt in flight is left
// to take the key after it.
import { setTimeout as sleep } from "node:timers/promises";

import type { QueryClient, QueryOptions } from "@helix/db";

import { ClosedError, createLocker, inspectLock } from "../src";
import { migratedDatabase, type Fixture } from "./helpers";

let fx: Fixture;
let keyNo = 0;
const freshKey = (): string => `close-${++keyNo}`;

/** A client on the test pool whose statements named `statement` (sqlc's name) take 300 ms to be sent. */
const delaying = (statement: string): QueryClient => ({
  async query(options: QueryOptions) {
    if (options.sql.includes(`-- name: ${statement}`)) await sleep(300);
    return fx.pool.query(options);
  },
});

beforeAll(async () => {
  fx = await migratedDatabase();
});

afterAll(async () => {
  await fx.close();
});

test("close() ends an acquire() that waits for a held key, at once", async () => {
  const key = freshKey();
  const holder = await createLocker(fx.pool, { owner: "holder" });
  const waiter = await createLocker(fx.pool, { owner: "waiter" });
  const lease = await holder.acquire(key);
  // Between attempts the waiter sleeps 30 to 60 s: only close() cutting that sleep short ends the
  // acquire within the 20 s allowed below, however busy the machine.
  const waiting = waiter.acquire(key, { waitMs: 600_000, retry: { minDelayMs: 60_000, maxDelayMs: 60_000 } }).catch((e: unknown) => e);
  await sleep(100);
  await waiter.close();
  const giveUp = new AbortController();
  const outcome = await Promise.race([waiting, sleep(20_000, "still waiting", { signal: giveUp.signal }).catch(() => "")]);
  giveUp.abort();
  expect(outcome).toBeInstanceOf(ClosedError);
  await lease.release();
  await holder.close();
});

test("close() waits for an attempt in flight, whose grant is handed straight back", async () => {
  const key = freshKey();
  // The attempt below is still in flight when close() is called.
  const locker = await createLocker(delaying("AcquireLock"), { owner: "slow" });
  const attempt = locker.tryAcquire(key).catch((error: unknown) => error);
  await sleep(50);
  await locker.close();
  // By the time close() resolved, the attempt had been granted and had handed the key back.
  expect(await inspectLock(fx.pool, key)).toMatchObject({ held: false, owner: "slow" });
  expect(await attempt).toBeInstanceOf(ClosedError);
});

test("close() waits for a renewal in flight, which then cannot keep the key", async () => {
  const key = freshKey();
  // The renewal below is still in flight when close() is called.
  const locker = await createLocker(delaying("RenewLock"), { owner: "slow" });
  const lease = await locker.acquire(key);
  let renewal = "in flight";
  lease.renew().then(
    () => (renewal = "renewed"),
    (error: unknown) => (renewal = (error as Error).name),
  );
  await sleep(50);
  await locker.close();
  // Nothing of the lease outlives close(): a caller may end its pool now.
  expect(renewal).toBe("LeaseLostError");
  expect(await inspectLock(fx.pool, key)).toMatchObject({ held: false, owner: "slow" });
});
