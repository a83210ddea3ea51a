// Epochs under prunes: three workers acquire and release leases on six keys while a fourth prunes
// every idle row, for a while; every grant of a key must have a larger epoch than the key's grants
// before it (a prune deletes a key's row only after raising the epoch floor above it). Exits 1 with
// the grants that did not grow.
//   pnpm --filter @helix/bench epoch-race
//   (HELIX_BENCH_MYSQL_URL: a server URL, TiDB's for instance; HELIX_BENCH_SECONDS: default 15)
import { createDatabaseIfMissing, createPool, migrate, serverEngine } from "@helix/db/internal";
import { createLocker } from "@helix/lock";

const server = new URL(process.env.HELIX_BENCH_MYSQL_URL ?? "mysql://root@127.0.0.1:3306/");
const SECONDS = Number(process.env.HELIX_BENCH_SECONDS ?? 15);
if (!(SECONDS > 0)) throw new Error("HELIX_BENCH_SECONDS: a positive number");

const url = new URL(`/helix_bench_epochs_${process.pid}`, server).toString();
await createDatabaseIfMissing(url);
const pool = await createPool(url);
await migrate(pool);
const lockers = [await createLocker(pool, { owner: "a" }), await createLocker(pool, { owner: "b" })];
const keys = Array.from({ length: 6 }, (_, i) => `key-${i}`);
const highest = new Map();
const notGrown = [];
let grants = 0;
let pruned = 0;
let stop = false;

async function worker(locker) {
  while (!stop) {
    const key = keys[Math.floor(Math.random() * keys.length)];
    const lease = await locker.acquire(key, { waitMs: 5000 });
    // Held: no other grant of this key happens until the release.
    grants++;
    const before = highest.get(key) ?? 0;
    if (lease.epoch <= before) notGrown.push(`${key}: ${lease.epoch} after ${before}`);
    highest.set(key, Math.max(before, lease.epoch));
    await lease.release();
  }
}

async function pruner() {
  while (!stop) pruned += await lockers[0].prune({ idleForMs: 0, limit: 3 });
}

const running = [worker(lockers[0]), worker(lockers[1]), worker(lockers[0]), pruner()];
await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
stop = true;
await Promise.all(running);
console.log(
  `epoch-race on ${await serverEngine(pool)}: ${SECONDS} s, ${grants} grants, ${pruned} rows pruned, ${notGrown.length} grants whose epoch did not grow`,
);
for (const line of notGrown.slice(0, 10)) console.log(`  ${line}`);
await Promise.all(lockers.map((l) => l.close()));
await pool.query("DROP DATABASE ??", [new URL(url).pathname.slice(1)]);
await pool.end();
process.exitCode = notGrown.length === 0 ? 0 : 1;
