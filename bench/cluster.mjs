// Heartbeat capacity: how many members at a 1 s heartbeat one server sustains, and what a member's
// heartbeats and watches (one read between heartbeats, shared by the members of a pool) cost when
// nothing changed, against the raw single-row upsert round trip in the same run.
//   pnpm --filter @helix/bench cluster    (HELIX_BENCH_MEMBERS, default "1000,2000,4000")
import { createDatabaseIfMissing, createPool, migrate } from "@helix/db";
import { join } from "@helix/cluster";

import { ms, rawUpsertRoundTrip, summarize } from "./stats.mjs";

const server = new URL(process.env.HELIX_BENCH_MYSQL_URL ?? "mysql://root@127.0.0.1:3306/");
const database = `helix_bench_${process.pid}`;
const url = new URL(`/${database}?connectionLimit=32`, server).toString();
const sizes = (process.env.HELIX_BENCH_MEMBERS ?? "1000,2000,4000").split(",").map(Number);
const HEARTBEAT_MS = 1000;
const MEASURE_MS = Number(process.env.HELIX_BENCH_DURATION_MS ?? 10_000);

await createDatabaseIfMissing(url);
const pool = await createPool(url);
await migrate(pool);

// Every statement the members send goes through here, timed by its sqlc name.
let recording = false;
const timings = new Map();
const record = (sql, t) => {
  if (!recording) return;
  const name = /-- name: (\w+)/.exec(sql)?.[1] ?? "other";
  if (!timings.has(name)) timings.set(name, []);
  timings.get(name).push(performance.now() - t);
};
const timed = (run, sql) => {
  const t = performance.now();
  return run().finally(() => record(sql, t));
};
// Helix sends a bounded statement on a connection of its own (getConnection), so both ways are timed.
const timedPool = {
  query: (options) => timed(() => pool.query(options), options.sql),
  async getConnection() {
    const conn = await pool.getConnection();
    return new Proxy(conn, {
      get(target, property) {
        if (property === "query") return (options) => timed(() => target.query(options), options.sql);
        const value = target[property];
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  },
};

const rows = [];
const rawStats = await rawUpsertRoundTrip(pool);

const members = [];
for (const size of sizes) {
  const joinStarted = performance.now();
  while (members.length < size) {
    const batch = [];
    for (let i = 0; i < 50 && members.length + batch.length < size; i++) {
      batch.push(
        join(timedPool, {
          cluster: "bench",
          nodeId: `m${members.length + batch.length}`,
          ttlMs: 3 * HEARTBEAT_MS + 1000,
          heartbeatMs: HEARTBEAT_MS,
          sweepIntervalMs: 0,
        }),
      );
    }
    members.push(...(await Promise.all(batch)));
  }
  const joinMs = performance.now() - joinStarted;
  await new Promise((resolve) => setTimeout(resolve, 2 * HEARTBEAT_MS));
  timings.clear();
  recording = true;
  let fenced = 0;
  const onFenced = () => fenced++;
  for (const m of members) m.on("member:fenced", onFenced);
  await new Promise((resolve) => setTimeout(resolve, MEASURE_MS));
  recording = false;
  for (const m of members) m.off("member:fenced", onFenced);
  const beats = timings.get("HeartbeatMember") ?? [];
  const reads = (timings.get("ListProcessOwnership") ?? []).length + (timings.get("ListProcessOwnershipChanges") ?? []).length;
  const watches = (timings.get("WatchMembers") ?? []).length;
  const s = summarize(beats, MEASURE_MS);
  rows.push({ size, ...s, reads, watchesPerSec: (watches * 1000) / MEASURE_MS, fenced, joinMs });
}

await Promise.all(members.map((m) => m.leave()));
await pool.query("DROP DATABASE ??", [database]);
await pool.end();

console.log(`\nHeartbeat capacity: ${new Date().toISOString()}, heartbeat every ${HEARTBEAT_MS} ms, ${MEASURE_MS} ms measured per size`);
console.log(`raw upsert round trip (sequential, same server): p50 ${ms(rawStats.p50)} ms, p99 ${ms(rawStats.p99)} ms\n`);
console.log(
  "| members | heartbeats/s | heartbeat p50 ms | p99 ms | p50 / raw | watch reads/s | partition reads while idle | members fenced | join all (s) |",
);
console.log("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const r of rows) {
  console.log(
    `| ${r.size} | ${Math.round(r.opsPerSec)} | ${ms(r.p50)} | ${ms(r.p99)} | ${(r.p50 / rawStats.p50).toFixed(2)}x | ${Math.round(r.watchesPerSec)} | ${r.reads} | ${r.fenced} | ${(r.joinMs / 1000).toFixed(1)} |`,
  );
}
