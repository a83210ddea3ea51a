// Planner scale: time and memory of one plan for a large cluster (default 10,000 task lists x 100
// partitions = 1M partitions over 1,000 members), in three situations: the first assignment of an
// empty table, a steady (balanced) table, and the round after one member joins.
//   pnpm --filter @helix/bench planner
//   (HELIX_BENCH_LISTS, HELIX_BENCH_PARTITIONS, HELIX_BENCH_MEMBERS; HELIX_BENCH_WEIGHTED=1 gives
//   members weights 1, 2 and 3 in turn)
import { planOwnership } from "@helix/coordinator";
import { createDatabaseIfMissing, createPool } from "@helix/db";

import { ms, rawUpsertRoundTrip } from "./stats.mjs";

const LISTS = Number(process.env.HELIX_BENCH_LISTS ?? 10_000);
const PARTITIONS = Number(process.env.HELIX_BENCH_PARTITIONS ?? 100);
const MEMBERS = Number(process.env.HELIX_BENCH_MEMBERS ?? 1000);
const RUNS = Number(process.env.HELIX_BENCH_RUNS ?? 3);
const WEIGHTED = process.env.HELIX_BENCH_WEIGHTED === "1";

const mb = (bytes) => (bytes / 1024 / 1024).toFixed(0);

// The raw database round trip of the same machine, for scale: a plan costs this many round trips.
const server = new URL(process.env.HELIX_BENCH_MYSQL_URL ?? "mysql://root@127.0.0.1:3306/");
const database = `helix_bench_planner_${process.pid}`;
const url = new URL(`/${database}`, server).toString();
await createDatabaseIfMissing(url);
const pool = await createPool(url);
const raw = await rawUpsertRoundTrip(pool, 1000);
await pool.query("DROP DATABASE ??", [database]);
await pool.end();
const gc = () => globalThis.gc?.();
if (globalThis.gc === undefined) {
  console.error("run with node --expose-gc for memory figures");
  process.exit(2);
}

const members = Array.from({ length: MEMBERS }, (_, i) => ({
  nodeId: `member-${String(i).padStart(4, "0")}`,
  weight: WEIGHTED ? 1 + (i % 3) : 1,
  live: true,
  sinceExpiryMs: -1,
}));

function emptyTable() {
  return Array.from({ length: LISTS }, (_, l) => ({
    domain: "bench",
    taskList: `list-${l}`,
    partitions: PARTITIONS,
    rows: Array.from({ length: PARTITIONS }, (_, p) => ({
      partition: p,
      nodeId: null,
      state: 0,
      generation: 0,
      targetNodeId: null,
      releaseAgeMs: -1,
    })),
  }));
}

/** Carries out a plan on the in-memory table, releases confirmed at once. */
function apply(taskLists, plan) {
  const index = new Map(taskLists.map((l) => [l.taskList, l]));
  for (const t of plan.transitions) {
    const row = index.get(t.taskList).rows[t.partition];
    if (t.type === "assign") Object.assign(row, { nodeId: t.to, state: 1, generation: row.generation + 1 });
    else Object.assign(row, { state: 3, targetNodeId: t.to });
  }
}

function measure(label, input) {
  const times = [];
  let plan;
  let heapDelta = 0;
  for (let run = 0; run < RUNS; run++) {
    // The last run's plan is let go before the heap is measured, or it would count in this run's.
    // eslint-disable-next-line no-useless-assignment
    plan = undefined;
    gc();
    const before = process.memoryUsage().heapUsed;
    const started = performance.now();
    plan = planOwnership(input);
    times.push(performance.now() - started);
    heapDelta = Math.max(heapDelta, process.memoryUsage().heapUsed - before);
  }
  times.sort((a, b) => a - b);
  const releases = plan.transitions.filter((t) => t.type === "release").length;
  const assigns = plan.transitions.length - releases;
  console.log(
    `| ${label} | ${(times[0] / 1000).toFixed(3)} | ${(times[Math.floor(times.length / 2)] / 1000).toFixed(3)} | ` +
      `${Math.round(times[Math.floor(times.length / 2)] / raw.p50)}x | ${mb(heapDelta)} | ${assigns} | ${releases} |`,
  );
  return plan;
}

const table = emptyTable();
gc();
const inputHeap = process.memoryUsage().heapUsed;
console.log(
  `planner: ${LISTS} task lists x ${PARTITIONS} partitions = ${LISTS * PARTITIONS} partitions, ${MEMBERS} members` +
    `${WEIGHTED ? " (weights 1, 2, 3)" : ""}, best of ${RUNS}`,
);
console.log(`input (the ownership table as plain objects): ${mb(inputHeap)} MB of heap\n`);
console.log(`raw upsert round trip (sequential, same server): p50 ${ms(raw.p50)} ms\n`);
console.log("| situation | best s | median s | median / raw p50 | heap kept by the plan MB | assigns | releases |");
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
const first = measure("first assignment (empty table)", { members, taskLists: table });
apply(table, first);
measure("steady (balanced, nothing to do)", { members, taskLists: table });
const joined = [...members, { nodeId: "member-joined", weight: 1, live: true, sinceExpiryMs: -1 }];
const join = measure("one member joins", { members: joined, taskLists: table });
apply(table, join);
apply(table, measure("after the join's releases are confirmed", { members: joined, taskLists: table }));
for (const count of [10, 100]) {
  const many = [
    ...joined,
    ...Array.from({ length: count }, (_, i) => ({ nodeId: `member-new-${i}`, weight: 1, live: true, sinceExpiryMs: -1 })),
  ];
  measure(`${count} members join at once`, { members: many, taskLists: table });
}
const left = joined.map((m) => (m.nodeId === "member-0000" ? { ...m, live: false, sinceExpiryMs: 1 } : m));
measure("one member is gone", { members: left, taskLists: table });
console.log(`\npeak resident set size of the whole run: ${mb(process.resourceUsage().maxRSS * 1024)} MB`);
