// Each clause of the lease statements where it alone decides (see clauses-fixture.ts).
import * as locks from "../src/generated/locks";
import { createPool } from "../src/internal";
import { atPinnedInstant, rowOf, SECOND_US, TOKEN, writeWhileFenced } from "./clauses-fixture";
import { engine, pool, useQueriesFixture } from "./queries-fixture";

useQueriesFixture(createPool);

test("a lease is over at the instant it expires: no renewal, no fence, and another owner takes it", async () => {
  await atPinnedInstant(async (conn) => {
    expect((await locks.acquireLock(conn, { lockKey: "edge", owner: "a", token: TOKEN.a, ttlUs: 60 * SECOND_US })).insertId).toBe(1);
    await conn.query(
      "UPDATE helix_locks SET acquired_at = UTC_TIMESTAMP(6) - INTERVAL 10 SECOND, expires_at = UTC_TIMESTAMP(6) WHERE lock_key = 'edge'",
    );
    expect(await locks.renewLock(conn, { lockKey: "edge", token: TOKEN.a, ttlUs: 60 * SECOND_US })).toBe(0);
    expect(await locks.checkLockEpochForUpdate(conn, { lockKey: "edge", epoch: 1 })).toBeNull();
    if (engine !== "tidb") expect(await locks.checkLockEpochForShare(conn, { lockKey: "edge", epoch: 1 })).toBeNull();

    // Released as well, so that the takeover must set the status too.
    await conn.query("UPDATE helix_locks SET status = 0 WHERE lock_key = 'edge'");
    expect((await locks.acquireLock(conn, { lockKey: "edge", owner: "b", token: TOKEN.b, ttlUs: 60 * SECOND_US })).insertId).toBe(2);
    expect(
      await rowOf(
        conn,
        `SELECT owner, token, epoch, status, TIMESTAMPDIFF(MICROSECOND, acquired_at, UTC_TIMESTAMP(6)) AS acquiredAgoUs,
                TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(6), expires_at) AS leftUs
         FROM helix_locks WHERE lock_key = ?`,
        ["edge"],
      ),
    ).toEqual({ owner: "b", token: TOKEN.b, epoch: 2, status: 1, acquiredAgoUs: 0, leftUs: 60 * SECOND_US });
  });
});

test("a lost reply's retry is told its own epoch, whatever the connection reported last", async () => {
  await atPinnedInstant(async (conn) => {
    await locks.acquireLock(conn, { lockKey: "retried", owner: "a", token: TOKEN.a, ttlUs: 60 * SECOND_US });
    await conn.query("UPDATE helix_locks SET expires_at = UTC_TIMESTAMP(6) WHERE lock_key = 'retried'");
    expect((await locks.acquireLock(conn, { lockKey: "retried", owner: "b", token: TOKEN.b, ttlUs: 60 * SECOND_US })).insertId).toBe(2);
    // The connection's last reported id is now another key's epoch (1), not the retried one's (2).
    expect((await locks.acquireLock(conn, { lockKey: "other", owner: "a", token: TOKEN.a, ttlUs: 60 * SECOND_US })).insertId).toBe(1);
    expect((await locks.acquireLock(conn, { lockKey: "retried", owner: "b", token: TOKEN.b, ttlUs: 60 * SECOND_US })).insertId).toBe(2);
  });
});

describe("a lease's fence holds its row until its transaction ends", () => {
  test.each([["FOR UPDATE"], ["LOCK IN SHARE MODE"]])("a lease's fence (%s) keeps a takeover waiting", async (form) => {
    if (form === "LOCK IN SHARE MODE" && engine === "tidb") return; // TiDB refuses the shared form (queries-locks.test.ts)
    const check = form === "FOR UPDATE" ? locks.checkLockEpochForUpdate : locks.checkLockEpochForShare;
    const lockKey = `fenced-${form}`;
    await locks.acquireLock(pool, { lockKey, owner: "a", token: TOKEN.a, ttlUs: 60 * SECOND_US });
    const during = await writeWhileFenced(
      (conn) => check(conn, { lockKey, epoch: 1 }),
      (conn) => locks.releaseLock(conn, { lockKey, token: TOKEN.a }),
    );
    expect(during).toEqual({ errno: 1205 });
    expect(await locks.releaseLock(pool, { lockKey, token: TOKEN.a })).toBe(1);
  });
});
