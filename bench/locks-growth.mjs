// The lock table over a simulated year of unique keys, pruned every hour (as `helix serve` does)
// and never pruned, side by side, judged by the database clock.
//   pnpm --filter @helix/bench locks-growth
//   (HELIX_BENCH_MYSQL_URL: a server URL; HELIX_BENCH_KEYS_PER_HOUR: keys per simulated hour, default
//   200, at most 416; HELIX_BENCH_DAYS: simulated days, default 365)
//
// A year at 100 new keys per second is 3.15 billion rows: too many to write. Time is compressed and
// the rate scaled instead. Simulated hour h lies (hours - h) hours before the database's now: its
// keys are written with their acquired and released times in that hour (each released 2 s after it
// was taken, as AcquireLock + ReleaseLock leave a row, at the epoch floor + 1), and the prune that
// ends the hour runs with idleForMs stretched by how far that hour lies in the past, so that it
// deletes exactly what a prune at that hour would. Row counts scale with the rate; the figures at
// 100 keys/s are the measured bytes per row times the formula (rate x time, or rate x (retention +
// prune interval) when pruned).
import { createDatabaseIfMissing, createPool, migrate, serverQueries } from "@helix/db/internal";
import { createLocker, fence, pruneLocks } from "@helix/lock";

const server = new URL(process.env.HELIX_BENCH_MYSQL_URL ?? "mysql://root@127.0.0.1:3306/");
const PER_HOUR = Number(process.env.HELIX_BENCH_KEYS_PER_HOUR ?? 200);
const DAYS = Number(process.env.HELIX_BENCH_DAYS ?? 365);
if (!Number.isInteger(PER_HOUR) || PER_HOUR < 1 || PER_HOUR * 24 > 10_000) throw new Error("HELIX_BENCH_KEYS_PER_HOUR: 1 to 416");
if (!Number.isInteger(DAYS) || DAYS < 2) throw new Error("HELIX_BENCH_DAYS: at least 2");
const HOURS = DAYS * 24;
const HOUR_US = 3_600_000_000;
// The service's defaults: HELIX_LOCK_RETENTION_MS and LOCK_PRUNE_INTERVAL_MS.
const RETENTION_MS = 86_400_000;
const INTERVAL_MS = 3_600_000;
const REAL_RATE = 100; // new keys per second, the load simulated
const SAMPLE_DAYS = new Set([1, 2, 7, 30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 330, 365, DAYS]);

async function open(name) {
  const url = new URL(`/${name}`, server).toString();
  await createDatabaseIfMissing(url);
  const pool = await createPool(url);
  await migrate(pool);
  return { name, pool };
}
const keep = await open(`helix_bench_growth_keep_${process.pid}`);
const pruned = await open(`helix_bench_growth_prune_${process.pid}`);

// The database clock now, paired with the monotonic clock: simulated hour h ends (HOURS - h - 1)
// hours before this instant, and "now" later in the run is this instant plus the time spent.
const sentAt = performance.now();
const { nowUs: startUs } = await serverQueries.serverTime(keep.pool);
const startedAt = (sentAt + performance.now()) / 2;
const realNowUs = () => startUs + Math.round((performance.now() - startedAt) * 1000);
const hourStartUs = (h) => startUs - (HOURS - h) * HOUR_US;

// Keys `first` .. `first + count - 1`, taken evenly over the hours from `fromUs` at PER_HOUR an
// hour and released 2 s after: random-looking keys (job:<md5>), as unique ids are.
const insertKeys = (pool, first, count, fromUs) =>
  pool.query(
    `INSERT INTO helix_locks (lock_key, owner, token, epoch, status, acquired_at, expires_at)
     SELECT CONCAT('job:', MD5(? + n)), 'worker-7f3a:4242:9c1e0b', MD5(CONCAT('token', ? + n)),
            (SELECT epoch_floor FROM helix_lock_epoch_floor WHERE id = 1) + 1, 0,
            '1970-01-01 00:00:00' + INTERVAL (? + n * ?) MICROSECOND,
            '1970-01-01 00:00:00' + INTERVAL (? + n * ? + 2000000) MICROSECOND
     FROM helix_numbers WHERE n < ?`,
    [first, first, fromUs, Math.floor(HOUR_US / PER_HOUR), fromUs, Math.floor(HOUR_US / PER_HOUR), count],
  );

async function measure({ pool }) {
  await pool.query("ANALYZE TABLE helix_locks");
  const [[{ n: rows }]] = await pool.query("SELECT COUNT(*) AS n FROM helix_locks");
  const [[size]] = await pool.query(
    "SELECT data_length + index_length AS bytes, data_free AS free FROM information_schema.TABLES WHERE table_schema = DATABASE() AND table_name = 'helix_locks'",
  );
  return { rows: Number(rows), bytes: Number(size.bytes), free: Number(size.free) };
}

// One key used once a week through the real locker: pruned between uses (idle 7 days > 1 day), it
// must come back above every epoch it had, and its earlier epochs must fail their fence.
const weekly = await createLocker(pruned.pool, { owner: "bench-weekly" });
const WEEKLY = "report:weekly";
const weeklyEpochs = [];
let weeklyPrunedBetween = 0;
let weeklyStaleFenced = 0;
async function useWeekly(h) {
  const [[{ n }]] = await pruned.pool.query("SELECT COUNT(*) AS n FROM helix_locks WHERE lock_key = ?", [WEEKLY]);
  if (weeklyEpochs.length > 0 && Number(n) === 0) weeklyPrunedBetween++;
  const lease = await weekly.acquire(WEEKLY, { ttlMs: 60_000 });
  if (weeklyEpochs.length > 0 && lease.epoch <= Math.max(...weeklyEpochs))
    throw new Error(`epoch went back: ${lease.epoch} after ${weeklyEpochs}`);
  const conn = await pruned.pool.getConnection();
  try {
    await conn.beginTransaction();
    await fence(conn, WEEKLY, lease.epoch);
    for (const old of weeklyEpochs.slice(-3)) {
      const refused = await fence(conn, WEEKLY, old).then(
        () => false,
        (error) => error.code === "HELIX_FENCED_OUT",
      );
      if (!refused) throw new Error(`the fence let epoch ${old} through after ${lease.epoch} was granted`);
      weeklyStaleFenced++;
    }
  } finally {
    await conn.rollback();
    conn.release();
  }
  weeklyEpochs.push(lease.epoch);
  await lease.release();
  // Its use happened in simulated hour h, by the simulated clock.
  await pruned.pool.query(
    "UPDATE helix_locks SET acquired_at = '1970-01-01 00:00:00' + INTERVAL ? MICROSECOND, expires_at = '1970-01-01 00:00:00' + INTERVAL ? MICROSECOND WHERE lock_key = ?",
    [hourStartUs(h) + 600_000_000, hourStartUs(h) + 602_000_000, WEEKLY],
  );
}

const samples = [];
let pruneMs = 0;
let pruneRuns = 0;
let pruneBatches = 0;
let pruneDeleted = 0;
let worstRunMs = 0;
const runStarted = performance.now();
for (let day = 0; day < DAYS; day++) {
  await insertKeys(keep.pool, day * 24 * PER_HOUR, 24 * PER_HOUR, hourStartUs(day * 24));
  for (let hour = 0; hour < 24; hour++) {
    const h = day * 24 + hour;
    await insertKeys(pruned.pool, h * PER_HOUR, PER_HOUR, hourStartUs(h));
    if (h % (7 * 24) === 12) await useWeekly(h);
    // The prune at the end of hour h: idle means released before (end of hour h - retention).
    const idleForMs = Math.floor((realNowUs() - hourStartUs(h + 1)) / 1000) + RETENTION_MS;
    const t = performance.now();
    for (;;) {
      const n = await pruneLocks(pruned.pool, { idleForMs, limit: 1000 });
      pruneBatches++;
      pruneDeleted += n;
      if (n < 1000) break;
    }
    const spent = performance.now() - t;
    pruneMs += spent;
    worstRunMs = Math.max(worstRunMs, spent);
    pruneRuns++;
  }
  if (SAMPLE_DAYS.has(day + 1)) {
    samples.push({ day: day + 1, created: (day + 1) * 24 * PER_HOUR, keep: await measure(keep), pruned: await measure(pruned) });
    process.stderr.write(`locks-growth: day ${day + 1}/${DAYS}, ${((performance.now() - runStarted) / 1000).toFixed(0)} s\n`);
  }
}
const [[{ floor }]] = await pruned.pool.query("SELECT epoch_floor AS floor FROM helix_lock_epoch_floor WHERE id = 1");
// What catching up costs where pruning starts late: full batches of 1000 off the never-pruned table.
const catchUp = [];
const endIdleMs = Math.floor((realNowUs() - hourStartUs(HOURS)) / 1000) + RETENTION_MS;
for (let i = 0; i < 31; i++) {
  const t = performance.now();
  const n = await pruneLocks(keep.pool, { idleForMs: endIdleMs, limit: 1000 });
  if (n < 1000) break;
  catchUp.push(performance.now() - t);
}
catchUp.sort((a, b) => a - b);
const catchUpMedian = catchUp[Math.floor(catchUp.length / 2)] ?? NaN;
await weekly.close();
for (const { name, pool } of [keep, pruned]) {
  await pool.query("DROP DATABASE ??", [name]);
  await pool.end();
}

const mb = (bytes) => (bytes / 2 ** 20).toFixed(1);
const gb = (bytes) => (bytes / 2 ** 30).toFixed(1);
const last = samples.at(-1);
const bytesPerRow = last.keep.bytes / last.keep.rows;
const scale = (REAL_RATE * 3600) / PER_HOUR;
const yearRows = REAL_RATE * 86_400 * DAYS;
const boundRows = (REAL_RATE * (RETENTION_MS + INTERVAL_MS)) / 1000;
const steady = samples.filter((s) => s.day >= 2);
const maxPrunedRows = Math.max(...steady.map((s) => s.pruned.rows));
const maxPrunedBytes = Math.max(...steady.map((s) => s.pruned.bytes));

console.log(`\nLock table growth: ${new Date().toISOString()}, ${DAYS} simulated days, ${PER_HOUR} new keys per simulated hour`);
console.log(`(${REAL_RATE} keys/s scaled down ${scale}x), each released 2 s after it was taken; pruned at the end of every`);
console.log(`simulated hour with idleForMs = ${RETENTION_MS} (the service's defaults), in batches of 1000. Sizes are`);
console.log("information_schema.TABLES data_length + index_length after ANALYZE TABLE.\n");
console.log("| simulated day | keys created | rows, never pruned | MB, never pruned | rows, pruned hourly | MB, pruned hourly |");
console.log("| ---: | ---: | ---: | ---: | ---: | ---: |");
for (const s of samples) {
  console.log(`| ${s.day} | ${s.created} | ${s.keep.rows} | ${mb(s.keep.bytes)} | ${s.pruned.rows} | ${mb(s.pruned.bytes)} |`);
}
console.log("");
console.log(
  `- Never pruned, the table grows with every key: ${Math.round(bytesPerRow)} bytes per row (rows and secondary index) at day ${last.day}.`,
);
console.log(
  `  At ${REAL_RATE} keys/s that is ${(yearRows / 1e9).toFixed(2)} billion rows, about ${gb(yearRows * bytesPerRow)} GiB, after ${DAYS} days, and growing.`,
);
console.log(
  `- Pruned hourly, it holds between rate x retention and rate x (retention + interval) rows: here at most ${maxPrunedRows} rows ` +
    `(bound ${PER_HOUR * 25}) and ${mb(maxPrunedBytes)} MB from day 2 on, flat through day ${last.day}.`,
);
console.log(
  `  At ${REAL_RATE} keys/s: ${REAL_RATE} x (86400 + 3600) s = ${(boundRows / 1e6).toFixed(1)} million rows, about ${gb(boundRows * bytesPerRow)} GiB, whatever the age.`,
);
console.log(
  `- Pruning cost: ${pruneRuns} hourly runs, ${pruneBatches} batches, ${pruneDeleted} rows deleted, ${(pruneMs / pruneRuns).toFixed(1)} ms per run on average ` +
    `(worst ${worstRunMs.toFixed(0)} ms) for ${PER_HOUR} rows. A full batch of 1000, taken off the never-pruned table of ` +
    `${last.keep.rows} rows: median ${catchUpMedian.toFixed(1)} ms, worst ${catchUp.at(-1)?.toFixed(1)} ms (${catchUp.length} batches); ` +
    `at ${REAL_RATE} keys/s an hourly run deletes ${REAL_RATE * 3600} rows in ${REAL_RATE * 3.6} such batches, about ` +
    `${((catchUpMedian * REAL_RATE * 3.6) / 1000).toFixed(0)} s.`,
);
console.log(
  `- Epochs: the floor ended at ${floor}. A weekly key used ${weeklyEpochs.length} times through the locker was pruned between ` +
    `${weeklyPrunedBetween} of ${weeklyEpochs.length - 1} uses; its epochs only grew (${weeklyEpochs[0]} to ${weeklyEpochs.at(-1)}) and ` +
    `${weeklyStaleFenced} fences with an earlier epoch were refused.`,
);
