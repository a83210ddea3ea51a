import { setTimeout as sleep } from "node:timers/promises";

import type { RowDataPacket } from "mysql2/promise";

import { createLocker, fence, FencedOutError, InvalidArgumentError, type Lease, type Locker, type PruneOptions } from "../src";
import { lockRows, migratedDatabase, type Fixture } from "./helpers";

// Its own database: pruning raises one floor for every key, which would change the epochs that
// other files' tests expect of new keys.
let fx: Fixture;
let a: Locker;
let b: Locker;
let keyNo = 0;
const freshKey = (): string => `prune-${++keyNo}`;
const DAY_MS = 86_400_000;

beforeAll(async () => {
  fx = await migratedDatabase();
  a = await createLocker(fx.pool, { owner: "alice" });
  b = await createLocker(fx.pool, { owner: "bob" });
});

beforeEach(async () => {
  // Every test counts what prune deletes, so none inherits another's idle rows.
  await fx.pool.query("DELETE FROM helix_locks");
});

afterAll(async () => {
  await a.close();
  await b.close();
  await fx.close();
});

/** Moves a key's row into the past, as if it had been released or had expired `ms` ago. */
async function age(key: string, ms: number): Promise<void> {
  await fx.pool.query(
    "UPDATE helix_locks SET acquired_at = acquired_at - INTERVAL ? MICROSECOND, expires_at = LEAST(expires_at, UTC_TIMESTAMP(6)) - INTERVAL ? MICROSECOND WHERE lock_key = ?",
    [ms * 1000, ms * 1000, key],
  );
}

/** Grants the key `times` times in a row (each released), returning the leases. */
async function grants(key: string, times: number): Promise<Lease[]> {
  const leases: Lease[] = [];
  for (let i = 0; i < times; i++) {
    const lease = await (i % 2 === 0 ? a : b).acquire(key);
    await lease.release();
    leases.push(lease);
  }
  return leases;
}

async function floor(): Promise<number> {
  const [rows] = await fx.pool.query<RowDataPacket[]>("SELECT epoch_floor FROM helix_lock_epoch_floor WHERE id = 1");
  return Number(rows[0]!.epoch_floor);
}

/** Runs `fence` for `epoch` in a transaction: resolves when the fence lets the write through. */
async function fenceIn(key: string, epoch: number): Promise<void> {
  const conn = await fx.pool.getConnection();
  try {
    await conn.beginTransaction();
    await fence(conn, key, epoch);
    await conn.commit();
  } finally {
    await conn.rollback().catch(() => undefined);
    conn.release();
  }
}

test("without the floor, a key whose row is deleted starts over, and an old holder's fence passes", async () => {
  // What pruning must prevent, shown by deleting a row by hand (no floor raised).
  const key = freshKey();
  const start = await floor();
  const old = await a.acquire(key, { ttlMs: 60_000 });
  expect(old.epoch).toBe(start + 1);
  await age(key, 2 * DAY_MS);
  await fx.pool.query("DELETE FROM helix_locks WHERE lock_key = ?", [key]);
  const next = await b.acquire(key);
  expect(next.epoch).toBe(old.epoch);
  // The old holder's fence lets its write through: the epoch no longer tells the two apart.
  await expect(fenceIn(key, old.epoch)).resolves.toBeUndefined();
  await next.release();
});

test("a pruned key's next grant is above every epoch it had, and old epochs fail their fence", async () => {
  const key = freshKey();
  const history = await grants(key, 3);
  const epochs = history.map((l) => l.epoch);
  expect(epochs).toEqual([epochs[0], epochs[0]! + 1, epochs[0]! + 2]);
  await age(key, 2 * DAY_MS);

  expect(await a.prune({ idleForMs: DAY_MS })).toBe(1);
  expect(await a.inspect(key)).toBeNull();
  expect(await floor()).toBeGreaterThanOrEqual(Math.max(...epochs));

  const next = await b.acquire(key, { ttlMs: 60_000 });
  expect(next.epoch).toBeGreaterThan(Math.max(...epochs));
  await expect(fenceIn(key, next.epoch)).resolves.toBeUndefined();
  for (const epoch of epochs) await expect(fenceIn(key, epoch)).rejects.toBeInstanceOf(FencedOutError);
  await next.release();
});

test("held, recently released and recently expired rows are kept", async () => {
  const held = freshKey();
  const released = freshKey();
  const expired = freshKey();
  const old = freshKey();
  const lease = await a.acquire(held, { ttlMs: 60_000 });
  await grants(released, 1);
  await grants(expired, 1);
  await age(expired, DAY_MS - 60_000); // expired a minute short of the idle time
  await grants(old, 1);
  await age(old, DAY_MS + 60_000);
  // A lease acquired long ago and renewed since is not idle: it is in force.
  await fx.pool.query("UPDATE helix_locks SET acquired_at = acquired_at - INTERVAL 30 DAY WHERE lock_key = ?", [held]);

  expect(await a.prune({ idleForMs: DAY_MS })).toBe(1);
  expect(await a.inspect(old)).toBeNull();
  expect(await a.inspect(held)).toMatchObject({ held: true, epoch: lease.epoch });
  expect(await a.inspect(released)).toMatchObject({ held: false });
  expect(await a.inspect(expired)).toMatchObject({ held: false });
  expect(lease.isHeld()).toBe(true);
  await lease.renew();
  expect(lease.isHeld()).toBe(true);
  await lease.release();
  // Nothing idle long enough is left: a prune with nothing to do deletes nothing.
  expect(await a.prune({ idleForMs: DAY_MS })).toBe(0);
});

test("a prune deletes at most `limit` rows, oldest first", async () => {
  const keys = Array.from({ length: 25 }, () => freshKey());
  for (const [i, key] of keys.entries()) {
    await grants(key, 1);
    await age(key, DAY_MS + (keys.length - i) * 60_000); // keys[0] is the oldest
  }
  expect(await a.prune({ idleForMs: DAY_MS, limit: 10 })).toBe(10);
  const left = async (): Promise<string[]> => {
    const [rows] = await fx.pool.query<RowDataPacket[]>("SELECT lock_key FROM helix_locks ORDER BY expires_at");
    return rows.map((r) => String(r.lock_key));
  };
  expect(await left()).toEqual(keys.slice(10));
  expect(await a.prune({ idleForMs: DAY_MS, limit: 10 })).toBe(10);
  expect(await a.prune({ idleForMs: DAY_MS })).toBe(5);
  expect(await lockRows(fx.pool)).toBe(0);
  expect(await a.prune({ idleForMs: DAY_MS })).toBe(0);
});

test("an acquire that read the floor before a raise holds the raise off, so a deleted key never gets an old epoch", async () => {
  // The interleaving a prune must survive: another transaction deletes the key's row (uncommitted),
  // an acquire reads the floor and waits for the row, then the floor is raised and committed.
  const key = freshKey();
  const epochs = (await grants(key, 3)).map((l) => l.epoch);
  const conn = await fx.pool.getConnection();
  try {
    await conn.beginTransaction();
    await conn.query("DELETE FROM helix_locks WHERE lock_key = ?", [key]);
    const acquiring = b.acquire(key, { waitMs: 10_000 });
    await sleep(200); // the acquire has read the floor and waits for the deleted row
    // The raise waits for the acquire's shared lock on the floor, and the acquire for the row: the
    // server breaks the deadlock by rolling one back (the acquire is then sent again, and waits).
    const raised = await conn
      .query("UPDATE helix_lock_epoch_floor SET epoch_floor = GREATEST(epoch_floor, ?) WHERE id = 1", [Math.max(...epochs)])
      .then(
        async () => {
          await conn.commit();
          return true;
        },
        async () => {
          await conn.rollback();
          return false;
        },
      );
    const lease = await acquiring;
    // Either way the grant is above every epoch the key had: a new row above the raised floor (the
    // raise committed), or the key's own row again (the delete was rolled back).
    expect(lease.epoch).toBe(Math.max(...epochs) + 1);
    if (raised) expect(await floor()).toBe(Math.max(...epochs));
    await lease.release();
  } finally {
    conn.release();
  }
});

test("epochs of every key only grow while prunes run alongside acquires and releases", async () => {
  const keys = Array.from({ length: 6 }, () => freshKey());
  const highest = new Map<string, number>();
  const violations: string[] = [];
  let pruned = 0;
  let stop = false;
  const worker = async (locker: Locker): Promise<void> => {
    while (!stop) {
      const key = keys[Math.floor(Math.random() * keys.length)]!;
      const lease = await locker.acquire(key, { waitMs: 5000 });
      // The lease is held: no other grant of this key can happen until it is released.
      const before = highest.get(key) ?? 0;
      if (lease.epoch <= before) violations.push(`${key}: ${lease.epoch} after ${before}`);
      highest.set(key, Math.max(before, lease.epoch));
      await lease.release();
    }
  };
  const pruner = async (): Promise<void> => {
    while (!stop) pruned += await a.prune({ idleForMs: 0, limit: 3 });
  };
  const running = [worker(a), worker(b), worker(a), pruner()];
  await sleep(1500);
  stop = true;
  await Promise.all(running);
  expect(violations).toEqual([]);
  expect(pruned).toBeGreaterThan(10);
});

test("bad options are refused before anything is deleted", async () => {
  const key = freshKey();
  await grants(key, 1);
  await age(key, 2 * DAY_MS);
  const cases: [unknown, string][] = [
    [undefined, "options"],
    [{}, "idleForMs"],
    [{ idleForMs: -1 }, "idleForMs"],
    [{ idleForMs: 1.5 }, "idleForMs"],
    [{ idleForMs: DAY_MS, limit: 0 }, "limit"],
    [{ idleForMs: DAY_MS, limit: 10_001 }, "limit"],
  ];
  for (const [options, argument] of cases) {
    const error = await a.prune(options as PruneOptions).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error).toMatchObject({ argument, code: "HELIX_INVALID_ARGUMENT" });
  }
  expect(await lockRows(fx.pool)).toBe(1);
});
