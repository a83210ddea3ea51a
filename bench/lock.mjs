// Lock operations against the raw single-row upsert round trip, on one server, in one run.
//   pnpm --filter @helix/bench lock    (HELIX_BENCH_MYSQL_URL: a server URL, default the local server)
import { randomBytes } from "node:crypto";

import { createDatabaseIfMissing, createPool, lockQueries, migrate } from "@helix/db";
import { createLocker } from "@helix/lock";

import { concurrent, ms, summarize } from "./stats.mjs";

// A server URL; the benchmark makes a database of its own there and drops it at the end.
const server = new URL(process.env.HELIX_BENCH_MYSQL_URL ?? "mysql://root@127.0.0.1:3306/");
const database = `helix_bench_${process.pid}`;
const url = new URL(`/${database}?connectionLimit=70`, server).toString();
const N = Number(process.env.HELIX_BENCH_N ?? 5000);
const DURATION_MS = Number(process.env.HELIX_BENCH_DURATION_MS ?? 3000);

await createDatabaseIfMissing(url);
const pool = await createPool(url);
await migrate(pool);
await pool.query("CREATE TABLE IF NOT EXISTS bench_raw (k VARCHAR(255) PRIMARY KEY, v BIGINT NOT NULL, t DATETIME(6) NOT NULL)");
const locker = await createLocker(pool, { owner: "bench" });
const run = Date.now().toString(36);
const token = randomBytes(16).toString("hex");

const rows = [];
const add = (name, s, note = "") => rows.push({ name, ...s, note });
const timed = async (samples, op) => {
  const t = performance.now();
  const result = await op();
  samples.push(performance.now() - t);
  return result;
};
const total = (samples) => samples.reduce((a, b) => a + b, 0);

// The physical limit: one single-row upsert, one round trip, through the same pool. It runs
// interleaved with the lock operations, so both see the same server state and warm-up.
const upsert = (k) =>
  pool.query("INSERT INTO bench_raw (k, v, t) VALUES (?, 1, UTC_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE v = v + 1, t = UTC_TIMESTAMP(6)", [k]);

const raw = [];
const statement = [];
const acquire = [];
const release = [];
const renew = [];
const held = await locker.acquire(`${run}-renew`, { ttlMs: 60_000 });
for (let i = 0; i < N + 200; i++) {
  const keep = i >= 200; // the first 200 rounds warm up
  const r = [];
  await timed(r, () => upsert(`raw-${i % 100}`));
  // The acquire statement alone through its generated function (no lease object, no checks); the
  // 1 us TTL leaves each of these keys free for the next round.
  await timed(r, () => lockQueries.acquireLock(pool, { lockKey: `${run}-s-${i % 100}`, owner: "bench", token, ttlUs: 1 }));
  const lease = await timed(r, () => locker.tryAcquire(`${run}-u-${i % 100}`));
  await timed(r, () => lease.release());
  await timed(r, () => held.renew());
  if (keep) {
    raw.push(r[0]);
    statement.push(r[1]);
    acquire.push(r[2]);
    release.push(r[3]);
    renew.push(r[4]);
  }
}
await held.release();
const rawStats = summarize(raw, total(raw));
add("raw upsert (1 row, 1 round trip)", rawStats);
add("acquire statement alone (generated query)", summarize(statement, total(statement)));
add("acquire, uncontended", summarize(acquire, total(acquire)));
add("release", summarize(release, total(release)));
add("renew", summarize(renew, total(renew)));

// Contention: each client loops acquire (waiting with backoff) -> release. Every round trip the
// locker makes is timed through a wrapper around the pool, so the figures are per lock operation.
for (const clients of [8, 64]) {
  add(`${clients} clients, raw upsert, distinct rows`, await concurrent((c) => upsert(`raw-c${clients}-${c}`), clients, DURATION_MS));
  for (const shape of ["one key", "distinct keys"]) {
    const trips = [];
    const timedPool = { query: (options) => timed(trips, () => pool.query(options)) };
    const contender = await createLocker(timedPool, { owner: `bench-${clients}` });
    trips.length = 0;
    let grants = 0;
    const started = performance.now();
    const s = await concurrent(async (client) => {
      const key = shape === "one key" ? `${run}-c${clients}` : `${run}-c${clients}-${client}`;
      const lease = await contender.acquire(key, { waitMs: 30_000, retry: { minDelayMs: 2, maxDelayMs: 50 } });
      grants++;
      await lease.release();
    }, clients, DURATION_MS);
    const perTrip = summarize(trips, performance.now() - started);
    add(`${clients} clients, ${shape}: each lock round trip`, { ...perTrip, errors: s.errors }, `${Math.round((grants / DURATION_MS) * 1000)} grants/s`);
    await contender.close();
  }
}

await locker.close();
await pool.query("DROP DATABASE ??", [database]);
await pool.end();

console.log(`\nLock benchmark: ${new Date().toISOString()}, ${N} interleaved rounds, ${DURATION_MS} ms per concurrent run\n`);
console.log("| operation | p50 ms | p99 ms | ops/s | p50 / raw p50 | errors | note |");
console.log("| --- | ---: | ---: | ---: | ---: | ---: | --- |");
for (const r of rows) {
  console.log(
    `| ${r.name} | ${ms(r.p50)} | ${ms(r.p99)} | ${Math.round(r.opsPerSec)} | ${(r.p50 / rawStats.p50).toFixed(2)}x | ${r.errors ?? 0} | ${r.note} |`,
  );
}
