// Lock operations against the raw round trips of the very statements they send, on one server, in
// one run.
//   pnpm --filter @helix/bench lock    (HELIX_BENCH_MYSQL_URL: a server URL, default the local server)
import { randomBytes } from "node:crypto";

import { createDatabaseIfMissing, createPool, lockQueries, migrate } from "@helix/db/internal";
import { createLocker } from "@helix/lock";

import { ms, summarize } from "./stats.mjs";

// A server URL; the benchmark makes a database of its own there and drops it at the end.
const server = new URL(process.env.HELIX_BENCH_MYSQL_URL ?? "mysql://root@127.0.0.1:3306/");
const database = `helix_bench_${process.pid}`;
const url = new URL(`/${database}?connectionLimit=70`, server).toString();
const N = Number(process.env.HELIX_BENCH_N ?? 5000);
const DURATION_MS = Number(process.env.HELIX_BENCH_DURATION_MS ?? 3000);
/** The locker's default TTL, which the raw statements ask for too. */
const TTL_MS = 15_000;

await createDatabaseIfMissing(url);
const pool = await createPool(url);
await migrate(pool);
await pool.query("CREATE TABLE IF NOT EXISTS bench_raw (k VARCHAR(255) PRIMARY KEY, v BIGINT NOT NULL, t DATETIME(6) NOT NULL)");
const locker = await createLocker(pool, { owner: "bench", ttlMs: TTL_MS });
const run = Date.now().toString(36);
const token = randomBytes(16).toString("hex");

const rows = [];
const add = (name, s, extra = {}) => rows.push({ name, ...s, ...extra });
// While false (the concurrent runs' warm-ups), `timed` records nothing.
let recording = true;
/** Runs `op`, recording how long it took in `samples`. */
const timed = async (samples, op) => {
  const t = performance.now();
  const result = await op();
  if (recording) samples.push(performance.now() - t);
  return result;
};
const total = (samples) => samples.reduce((a, b) => a + b, 0);

// The baseline: the statements a lock operation sends (AcquireLock, RenewLock, ReleaseLock), with
// the same arguments, sent straight to the same mysql2 pool, with no Helix layer in between. Whatever
// a lock operation takes beyond its statement's raw round trip is the lock's own cost. Every key here
// is released before it is taken again, as the lock's keys are, so both take the same branch of the
// upsert (a free row is taken).
const raw = {
  acquire: (client, key) => client.query({ sql: lockQueries.acquireLockQuery, values: [key, "bench", token, TTL_MS * 1000] }),
  renew: (client, key) => client.query({ sql: lockQueries.renewLockQuery, values: [TTL_MS * 1000, key, token] }),
  release: (client, key) => client.query({ sql: lockQueries.releaseLockQuery, values: [key, token] }),
};
// For reference: the smallest single-row upsert, on a 3-column table without a secondary index.
const minimalUpsert = (k) =>
  pool.query("INSERT INTO bench_raw (k, v, t) VALUES (?, 1, UTC_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE v = v + 1, t = UTC_TIMESTAMP(6)", [
    k,
  ]);

// One at a time: every round sends each kind once, interleaved, so that all see the same server
// state and warm-up.
const names = ["rawAcquire", "rawRelease", "rawRenew", "minimal", "statement", "acquire", "release", "renew"];
const seq = Object.fromEntries(names.map((n) => [n, []]));
const rawHeld = `${run}-raw-renew`;
await raw.acquire(pool, rawHeld);
const held = await locker.acquire(`${run}-renew`);
for (let i = 0; i < N + 200; i++) {
  const r = {};
  const t = (name, op) => timed((r[name] = []), op);
  await t("rawAcquire", () => raw.acquire(pool, `${run}-r-${i % 100}`));
  await t("rawRelease", () => raw.release(pool, `${run}-r-${i % 100}`));
  await t("rawRenew", () => raw.renew(pool, rawHeld));
  await t("minimal", () => minimalUpsert(`raw-${i % 100}`));
  // The acquire statement through its generated function (no lease object, no checks); the 1 us
  // TTL leaves each of these keys free for the next round.
  await t("statement", () => lockQueries.acquireLock(pool, { lockKey: `${run}-s-${i % 100}`, owner: "bench", token, ttlUs: 1 }));
  const lease = await t("acquire", () => locker.tryAcquire(`${run}-u-${i % 100}`));
  await t("release", () => lease.release());
  await t("renew", () => held.renew());
  if (i >= 200) for (const n of names) seq[n].push(r[n][0]); // the first 200 rounds warm up
}
await held.release();
await raw.release(pool, rawHeld);
const stats = (n) => summarize(seq[n], total(seq[n]));
const rawStats = stats("rawAcquire");
const rawOf = { acquire: rawStats, release: stats("rawRelease"), renew: stats("rawRenew") };
add("raw upsert: AcquireLock statement on the pool (baseline)", rawStats);
add("raw ReleaseLock statement", rawOf.release);
add("raw RenewLock statement", rawOf.renew);
add("minimal upsert (3-column table, no secondary index)", stats("minimal"));
add("acquire statement alone (generated query)", stats("statement"));
for (const op of ["acquire", "release", "renew"]) {
  add(op === "acquire" ? "acquire, uncontended" : op, stats(op), { sameRaw: rawOf[op].p50 });
}

/**
 * Runs `clients` loops of `op(client)` for `durationMs`, after a short warm-up that also opens the
 * pool's connections. @returns the measured time and the errors thrown in it
 */
async function load(clients, durationMs, op) {
  let errors = 0;
  const loop = async (client, end) => {
    while (performance.now() < end) {
      try {
        await op(client);
      } catch {
        if (recording) errors++;
      }
    }
  };
  recording = false;
  const warm = performance.now() + Math.min(300, durationMs / 5);
  await Promise.all(Array.from({ length: clients }, (_, c) => loop(c, warm)));
  recording = true;
  const started = performance.now();
  const end = started + durationMs;
  await Promise.all(Array.from({ length: clients }, (_, c) => loop(c, end)));
  recording = false;
  return { elapsed: performance.now() - started, errors };
}

/**
 * The pool, with every statement timed into `trips`, whether sent on the pool or on a connection
 * taken from it (the locker's guard takes one per statement, to be able to destroy a hung one).
 * For the one-key runs, where an acquire may take several round trips.
 */
const timedClient = (trips) => ({
  query: (options) => timed(trips, () => pool.query(options)),
  getConnection: async () => {
    const conn = await pool.getConnection();
    const timedConn = Object.create(conn);
    timedConn.query = (options) => timed(trips, () => conn.query(options));
    return timedConn;
  },
});

// Many clients at once. Raw: each client loops the AcquireLock and ReleaseLock statements on a row of
// its own, straight on the pool. Lock, distinct keys: each client loops acquire -> release on a key
// of its own, through a locker on the same pool; each operation is one round trip, timed around the
// call as the raw statements are, so that both carry the same measuring cost. Lock, one key: the
// clients contend (acquire waits with backoff), and every round trip is timed through a wrapper
// around the pool. The runs alternate in slices, so that a change of load on the machine hits all alike.
const SLICES = 3;
const shapes = ["one key", "distinct keys"];
for (const clients of [8, 16, 64]) {
  const runs = {};
  for (const name of ["raw", ...shapes]) runs[name] = { trips: [], elapsed: 0, errors: 0, grants: 0 };
  const contenders = {
    "one key": await createLocker(timedClient(runs["one key"].trips), { owner: `bench-${clients}`, ttlMs: TTL_MS }),
    "distinct keys": await createLocker(pool, { owner: `bench-${clients}`, ttlMs: TTL_MS }),
  };
  const measure = async (into, op) => {
    const s = await load(clients, DURATION_MS / SLICES, op);
    into.elapsed += s.elapsed;
    into.errors += s.errors;
  };
  const wait = { waitMs: 30_000, retry: { minDelayMs: 2, maxDelayMs: 50 } };
  for (let slice = 0; slice < SLICES; slice++) {
    await measure(runs.raw, async (c) => {
      const key = `${run}-raw-c${clients}-${c}`;
      await timed(runs.raw.trips, () => raw.acquire(pool, key));
      await timed(runs.raw.trips, () => raw.release(pool, key));
    });
    await measure(runs["distinct keys"], async (c) => {
      const r = runs["distinct keys"];
      const lease = await timed(r.trips, () => contenders["distinct keys"].acquire(`${run}-c${clients}-${c}`, wait));
      if (recording) r.grants++;
      await timed(r.trips, () => lease.release());
    });
    await measure(runs["one key"], async () => {
      const lease = await contenders["one key"].acquire(`${run}-c${clients}`, wait);
      if (recording) runs["one key"].grants++;
      await lease.release();
    });
  }
  for (const shape of shapes) await contenders[shape].close();
  const rawRow = { ...summarize(runs.raw.trips, runs.raw.elapsed), errors: runs.raw.errors };
  add(`${clients} clients, raw upsert, distinct rows`, rawRow, { note: "AcquireLock + ReleaseLock statements per loop" });
  for (const shape of shapes) {
    const r = runs[shape];
    const row = { ...summarize(r.trips, r.elapsed), errors: r.errors };
    add(`${clients} clients, ${shape}: each lock round trip`, row, {
      note: `${Math.round((r.grants / r.elapsed) * 1000)} grants/s`,
      // Only distinct keys do the raw loop's work: one acquire and one release statement per grant.
      throughputVsRaw: shape === "distinct keys" ? row.opsPerSec / rawRow.opsPerSec : undefined,
    });
  }
}

await locker.close();
await pool.query("DROP DATABASE ??", [database]);
await pool.end();

const ratio = (x) => (x === undefined ? "" : `${x.toFixed(2)}x`);
console.log(
  `\nLock benchmark: ${new Date().toISOString()}, ${N} interleaved rounds, ${DURATION_MS} ms per concurrent run (${SLICES} slices)\n`,
);
console.log("| operation | p50 ms | p99 ms | ops/s | p50 / raw p50 | p50 / its raw statement | ops/s / raw ops/s | errors | note |");
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
for (const r of rows) {
  console.log(
    `| ${r.name} | ${ms(r.p50)} | ${ms(r.p99)} | ${Math.round(r.opsPerSec)} | ${ratio(r.p50 / rawStats.p50)} | ` +
      `${ratio(r.sameRaw === undefined ? undefined : r.p50 / r.sameRaw)} | ${ratio(r.throughputVsRaw)} | ${r.errors ?? 0} | ${r.note ?? ""} |`,
  );
}
const acquireRow = rows.find((r) => r.name === "acquire, uncontended");
const distinct16 = rows.find((r) => r.name === "16 clients, distinct keys: each lock round trip");
console.log(
  `\nacquire p50 / raw upsert p50: ${ratio(acquireRow.p50 / rawStats.p50)} (target <= 1.15x); ` +
    `16 clients, distinct keys, lock ops/s / raw upsert ops/s: ${ratio(distinct16.throughputVsRaw)} (target >= 0.90x)`,
);
