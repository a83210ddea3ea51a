// Every parameter of @helix/lock's public API, given each value of its kind that it must refuse:
// each is refused at once with HELIX_INVALID_ARGUMENT naming the parameter, and nothing is sent.
import { expectRefusal, FaultyPool, HOSTILE_VALUES, hostileCases, type HostileParameter, UNICODE_TEXT } from "@helix/testing";

import {
  createLocker,
  defaultMarginMs,
  fence,
  inspectLock,
  LocalDeadline,
  minMarginMs,
  pruneLocks,
  resolveMarginMs,
  type Lease,
  type Locker,
} from "../src";
import { migratedDatabase, type Fixture } from "./helpers";

let fx: Fixture;
let counted: FaultyPool;
let locker: Locker;
let lease: Lease;

beforeAll(async () => {
  fx = await migratedDatabase();
  counted = new FaultyPool(fx.pool);
  locker = await createLocker(counted, { owner: "sweeper" });
  lease = await locker.acquire("held", { autoRenew: false });
});

afterAll(async () => {
  await locker.close();
  await fx.close();
});

const { integer, text, options } = HOSTILE_VALUES;

/** [what is called, the parameter named in the refusal, its hostile values, the call]. */
const parameters: HostileParameter[] = [
  ["createLocker(pool, options)", "options", options.filter((v) => v !== undefined), (v) => createLocker(counted, v as never)],
  ["createLocker(pool, { owner })", "owner", text, (v) => createLocker(counted, { owner: v as string })],
  ["createLocker(pool, { ttlMs })", "ttlMs", integer, (v) => createLocker(counted, { ttlMs: v as number })],
  ["createLocker(pool, { waitMs })", "waitMs", integer, (v) => createLocker(counted, { waitMs: v as number })],
  ["createLocker(pool, { safetyMarginMs })", "safetyMarginMs", integer, (v) => createLocker(counted, { safetyMarginMs: v as number })],
  ["locker.acquire(key)", "key", text, (v) => locker.acquire(v as string)],
  ["locker.acquire(key, options)", "options", options, (v) => locker.acquire("k", v as never)],
  ["locker.acquire(key, { ttlMs })", "ttlMs", integer, (v) => locker.acquire("k", { ttlMs: v as number })],
  ["locker.acquire(key, { waitMs })", "waitMs", integer, (v) => locker.acquire("k", { waitMs: v as number })],
  ["locker.acquire(key, { autoRenew })", "autoRenew", [null, 1, "yes"], (v) => locker.acquire("k", { autoRenew: v as boolean })],
  ["locker.acquire(key, { signal })", "signal", [null, 1, {}], (v) => locker.acquire("k", { signal: v as AbortSignal })],
  ["locker.acquire(key, { retry })", "retry", options, (v) => locker.acquire("k", { retry: v as never })],
  [
    "locker.acquire(key, { retry: { minDelayMs } })",
    "retry.minDelayMs",
    integer,
    (v) => locker.acquire("k", { retry: { minDelayMs: v as number } }),
  ],
  [
    "locker.acquire(key, { retry: { maxDelayMs } })",
    "retry.maxDelayMs",
    integer,
    (v) => locker.acquire("k", { retry: { maxDelayMs: v as number } }),
  ],
  ["locker.tryAcquire(key)", "key", text, (v) => locker.tryAcquire(v as string)],
  ["locker.tryAcquire(key, { ttlMs })", "ttlMs", integer, (v) => locker.tryAcquire("k", { ttlMs: v as number })],
  ["locker.withLock(key, fn)", "key", text, (v) => locker.withLock(v as string, async () => undefined)],
  ["locker.withLock(key, fn)", "fn", [null, 42, "fn", {}], (v) => locker.withLock("k", v as never)],
  ["locker.inspect(key)", "key", text, (v) => locker.inspect(v as string)],
  ["locker.prune(options)", "options", options, (v) => locker.prune(v as never)],
  ["locker.prune({ idleForMs })", "idleForMs", integer, (v) => locker.prune({ idleForMs: v as number })],
  ["locker.prune({ limit })", "limit", integer, (v) => locker.prune({ idleForMs: 0, limit: v as number })],
  ["inspectLock(pool, key)", "key", text, (v) => inspectLock(counted, v as string)],
  ["pruneLocks(pool, { idleForMs })", "idleForMs", integer, (v) => pruneLocks(counted, { idleForMs: v as number })],
  ["pruneLocks(pool, { limit })", "limit", integer, (v) => pruneLocks(counted, { idleForMs: 0, limit: v as number })],
  ["fence(conn, key, epoch)", "key", text, (v) => fence(counted, v as string, 1)],
  ["fence(conn, key, epoch)", "epoch", integer, (v) => fence(counted, "k", v as number)],
  ["lease.fence(conn)", "connection", [null, 42, "conn", {}], (v) => lease.fence(v as never)],
  ["defaultMarginMs(ttlMs)", "ttlMs", integer, (v) => defaultMarginMs(v as number)],
  ["minMarginMs(ttlMs)", "ttlMs", integer, (v) => minMarginMs(v as number)],
  ["resolveMarginMs(ttlMs, givenMs, maxMs)", "safetyMarginMs", integer, (v) => resolveMarginMs(10_000, v, 5_000)],
  ["new LocalDeadline(ttlMs)", "ttlMs", integer, (v) => new LocalDeadline(v as number, 1, () => true)],
  ["new LocalDeadline(ttlMs, marginMs)", "marginMs", integer, (v) => new LocalDeadline(10_000, v as number, () => true)],
  ["new LocalDeadline(ttlMs, marginMs, check)", "check", [null, 42, "f", {}], (v) => new LocalDeadline(10_000, 100, v as never)],
  [
    "deadline.extendFrom(sentAt)",
    "sentAt",
    [Number.NaN, Number.POSITIVE_INFINITY, "1", null, {}],
    (v) => new LocalDeadline(10_000, 100, () => true).extendFrom(v as number),
  ],
];

test.each(hostileCases(parameters))("%s refuses %s = %s at once, naming it, sending nothing", (_name, argument, _label, value, call) =>
  expectRefusal(
    () => call(value),
    argument,
    () => counted.sent(),
  ),
);

test("a key in any script is taken, and comes back as it was given", async () => {
  const taken = await locker.acquire(UNICODE_TEXT);
  expect(taken.key).toBe(UNICODE_TEXT);
  expect(await locker.inspect(UNICODE_TEXT)).toMatchObject({ key: UNICODE_TEXT, owner: "sweeper" });
  expect(await taken.release()).toBe(true);
});
