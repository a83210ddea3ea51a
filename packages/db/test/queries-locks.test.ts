import type { RowDataPacket } from "mysql2/promise";

import { Status } from "../src/internal";
import * as locks from "../src/generated/locks";
import { bothForms, clients, engine, expectEveryQueryCalled, pool, track, useQueriesFixture } from "./queries-fixture";

describe.each(clients)("through %s", (_, makePool) => {
  useQueriesFixture(makePool);

  test("lock queries: acquire, contend, renew, release, take over, fence", async () => {
    const acquire = track("locks.acquireLock", locks.acquireLock);
    const first = await acquire(pool, { lockKey: "k", owner: "a", token: "t".repeat(32), ttlUs: 60_000_000 });
    expect(first.insertId).toBe(1);
    // The same attempt sent again (its first reply lost) gets its own grant back, extended from now.
    await pool.query("UPDATE helix_locks SET expires_at = UTC_TIMESTAMP(6) + INTERVAL 10 SECOND WHERE lock_key = 'k'");
    expect((await acquire(pool, { lockKey: "k", owner: "a", token: "t".repeat(32), ttlUs: 60_000_000 })).insertId).toBe(1);
    expect((await locks.getLock(pool, { lockKey: "k" }))!.remainingUs).toBeGreaterThan(50_000_000);

    const contended = await acquire(pool, { lockKey: "k", owner: "b", token: "u".repeat(32), ttlUs: 60_000_000 });
    expect(contended.insertId).toBe(0);

    expect(await track("locks.renewLock", locks.renewLock)(pool, { ttlUs: 60_000_000, lockKey: "k", token: "t".repeat(32) })).toBe(1);
    expect(await locks.renewLock(pool, { ttlUs: 60_000_000, lockKey: "k", token: "u".repeat(32) })).toBe(0);

    const held = await track("locks.getLock", locks.getLock)(pool, { lockKey: "k" });
    expect(held).toMatchObject({ lockKey: "k", owner: "a", epoch: 1, status: Status.Active, held: 1 });
    expect(held!.expiresAt).toBeInstanceOf(Date);
    expect(held!.remainingUs).toBeGreaterThan(50_000_000);

    const fence = bothForms(
      () => engine,
      ["locks.checkLockEpochForShare", locks.checkLockEpochForShare],
      ["locks.checkLockEpochForUpdate", locks.checkLockEpochForUpdate],
    );
    expect(await fence(pool, { lockKey: "k", epoch: 1 })).toEqual({ epoch: 1 });
    // Past its expiry, though nobody took the key since, the lease no longer passes its fence.
    await pool.query("UPDATE helix_locks SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE lock_key = 'k'");
    expect(await fence(pool, { lockKey: "k", epoch: 1 })).toBeNull();
    // Nor can its holder renew it: an expired lease is over, whoever holds the token.
    expect(await locks.renewLock(pool, { ttlUs: 60_000_000, lockKey: "k", token: "t".repeat(32) })).toBe(0);
    await pool.query("UPDATE helix_locks SET expires_at = UTC_TIMESTAMP(6) + INTERVAL 60 SECOND WHERE lock_key = 'k'");

    const release = track("locks.releaseLock", locks.releaseLock);
    expect(await release(pool, { lockKey: "k", token: "u".repeat(32) })).toBe(0);
    expect(await release(pool, { lockKey: "k", token: "t".repeat(32) })).toBe(1);
    expect(await fence(pool, { lockKey: "k", epoch: 1 })).toBeNull();
    // Released is over even with time left on the row: no fence, no renewal, no second release.
    await pool.query("UPDATE helix_locks SET expires_at = UTC_TIMESTAMP(6) + INTERVAL 60 SECOND WHERE lock_key = 'k'");
    expect(await fence(pool, { lockKey: "k", epoch: 1 })).toBeNull();
    expect(await locks.renewLock(pool, { ttlUs: 60_000_000, lockKey: "k", token: "t".repeat(32) })).toBe(0);
    expect(await release(pool, { lockKey: "k", token: "t".repeat(32) })).toBe(0);
    await pool.query("UPDATE helix_locks SET expires_at = UTC_TIMESTAMP(6) WHERE lock_key = 'k'");

    const takeover = await acquire(pool, { lockKey: "k", owner: "b", token: "u".repeat(32), ttlUs: 60_000_000 });
    expect(takeover.insertId).toBe(2);
    expect(await locks.getLock(pool, { lockKey: "k" })).toMatchObject({ owner: "b", epoch: 2, held: 1 });
    // The earlier epoch's fence fails while the new lease is held.
    expect(await fence(pool, { lockKey: "k", epoch: 1 })).toBeNull();
    expect(await fence(pool, { lockKey: "k", epoch: 2 })).toEqual({ epoch: 2 });
    expect(await locks.getLock(pool, { lockKey: "missing" })).toBeNull();

    // Pruning: a held row is never idle; a released one is, once idle long enough.
    const day = 86_400_000_000;
    const find = track("locks.findIdleLocks", locks.findIdleLocks);
    expect(await find(pool, { idleUs: 0, limit: 10 })).toEqual({ idle: 0, maxEpoch: 0, lastExpiryUs: 0 });
    expect(await locks.releaseLock(pool, { lockKey: "k", token: "u".repeat(32) })).toBe(1);
    await pool.query("UPDATE helix_locks SET expires_at = expires_at - INTERVAL 2 DAY WHERE lock_key = 'k'");
    const batch = await find(pool, { idleUs: day, limit: 10 });
    expect(batch).toMatchObject({ idle: 1, maxEpoch: 2 });
    const [[row]] = await pool.query<RowDataPacket[]>("SELECT TIMESTAMPDIFF(MICROSECOND, '1970-01-01', expires_at) AS us FROM helix_locks");
    expect(batch!.lastExpiryUs).toBe(Number(row!.us));
    await track("locks.raiseLockEpochFloor", locks.raiseLockEpochFloor)(pool, { maxEpoch: batch!.maxEpoch });
    await locks.raiseLockEpochFloor(pool, { maxEpoch: 1 }); // never lowers it
    const remove = track("locks.deleteIdleLocks", locks.deleteIdleLocks);
    // Only rows the floor covers go.
    expect(await remove(pool, { ...batch!, idleUs: day, limit: 10, maxEpoch: 1 })).toBe(0);
    expect(await remove(pool, { ...batch!, idleUs: day, limit: 10 })).toBe(1);
    expect(await locks.getLock(pool, { lockKey: "k" })).toBeNull();
    // The key comes back above every epoch it had; a new key starts above the floor too.
    expect((await acquire(pool, { lockKey: "k", owner: "a", token: "v".repeat(32), ttlUs: 60_000_000 })).insertId).toBe(3);
    expect((await acquire(pool, { lockKey: "new", owner: "a", token: "w".repeat(32), ttlUs: 60_000_000 })).insertId).toBe(3);
  });
});

expectEveryQueryCalled("locks");
