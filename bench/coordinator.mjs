// The coordinator end to end, with every coordinator and worker in a process of its own:
// - failover: leader SIGKILL -> a standby leads; graceful stop -> a standby leads;
// - convergence: worker SIGKILL -> all its partitions owned again; graceful leave -> owned again;
//   join -> the new worker has its share;
// - moves per membership change against the theoretical minimum (the leaver's or the newcomer's share).
// Coordinators run with the library's default election interval and poll (200 ms each).
//   pnpm --filter @helix/bench coordinator
//   (HELIX_BENCH_LEASE_TTL_MS, HELIX_BENCH_NODE_TTL_MS, HELIX_BENCH_REPEATS, HELIX_BENCH_WORKERS)
import { fileURLToPath } from "node:url";

import { createDatabaseIfMissing, createPool, migrate } from "@helix/db";
import { createCatalog } from "@helix/coordinator";
import { JsonChild, until } from "@helix/testing";

import { ms, rawUpsertRoundTrip } from "./stats.mjs";

const server = new URL(process.env.HELIX_BENCH_MYSQL_URL ?? "mysql://root@127.0.0.1:3306/");
const database = `helix_bench_coordinator_${process.pid}`;
const url = new URL(`/${database}`, server).toString();
const LEASE_TTL_MS = Number(process.env.HELIX_BENCH_LEASE_TTL_MS ?? 2000);
const MEMBER_TTL_MS = Number(process.env.HELIX_BENCH_NODE_TTL_MS ?? 2000);
const REPEATS = Number(process.env.HELIX_BENCH_REPEATS ?? 5);
const WORKERS = Number(process.env.HELIX_BENCH_WORKERS ?? 6);
const LISTS = 20;
const PARTITIONS = 32;
const cluster = "bench";
const fixture = (name) => fileURLToPath(new URL(`../packages/coordinator/test/fixtures/${name}`, import.meta.url));

await createDatabaseIfMissing(url);
const pool = await createPool(url);
await migrate(pool);
const raw = await rawUpsertRoundTrip(pool);

const children = new Set();
const startCoordinator = (id) => {
  const child = JsonChild.start(fixture("coordinator-child.cjs"), [url, cluster, id, String(LEASE_TTL_MS), "200", "200"]);
  children.add(child);
  return child;
};
const startWorker = (id) => {
  const child = JsonChild.start(fixture("worker-child.cjs"), [url, cluster, id, String(MEMBER_TTL_MS), "0"]);
  children.add(child);
  return child;
};
const isLeading = (child) => {
  const elected = child.events.filter((e) => e.event === "elected").at(-1);
  const lost = child.events.filter((e) => e.event === "lost").at(-1);
  return elected !== undefined && (lost === undefined || lost.epoch < elected.epoch) && child.process.exitCode === null;
};
const leaderOf = async (group) => {
  let found;
  await until(() => (found = group.find(isLeading)) !== undefined, 30_000);
  return found;
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const max = (xs) => Math.max(...xs);

// Failover.
let coordinators = [startCoordinator("c0"), startCoordinator("c1"), startCoordinator("c2")];
let nextCoordinator = 3;
const killed = [];
const stopped = [];
for (let r = 0; r < 2 * REPEATS; r++) {
  const leader = await leaderOf(coordinators);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const others = coordinators.filter((c) => c !== leader);
  const graceful = r % 2 === 1;
  const started = performance.now();
  if (graceful) leader.process.stdin.end();
  else leader.process.kill("SIGKILL");
  await leaderOf(others);
  (graceful ? stopped : killed).push(performance.now() - started);
  await leader.exited;
  coordinators = [...others, startCoordinator(`c${nextCoordinator++}`)];
}

// Convergence and moves.
const catalog = await createCatalog(pool, { cluster });
for (let l = 0; l < LISTS; l++) await catalog.putTaskList({ domain: "bench", taskList: `list-${l}`, partitions: PARTITIONS });
const workers = new Map();
let nextWorker = 0;
for (let w = 0; w < WORKERS; w++) workers.set(`w${nextWorker}`, startWorker(`w${nextWorker++}`));

async function ownership() {
  const [rows] = await pool.query("SELECT task_list, node_id, state FROM helix_allocation WHERE cluster = ?", [cluster]);
  return rows;
}
/** Every partition owned by a live worker, each task list balanced over them. */
async function converged() {
  const rows = await ownership();
  if (rows.length !== LISTS * PARTITIONS) return false;
  const perList = new Map();
  for (const r of rows) {
    if (r.state !== 1 || !workers.has(r.node_id)) return false;
    const counts = perList.get(r.task_list) ?? new Map([...workers.keys()].map((id) => [id, 0]));
    counts.set(r.node_id, counts.get(r.node_id) + 1);
    perList.set(r.task_list, counts);
  }
  return [...perList.values()].every((c) => Math.max(...c.values()) - Math.min(...c.values()) <= 1);
}
async function lastTransition() {
  const [[row]] = await pool.query("SELECT COALESCE(MAX(id), 0) AS id FROM helix_transitions WHERE cluster = ?", [cluster]);
  return Number(row.id);
}
/** Partitions that changed owner since transition `after` (a release request alone is not a change). */
async function ownerChanges(after) {
  const [[row]] = await pool.query(
    "SELECT COALESCE(SUM(partition_count), 0) AS n FROM helix_transitions WHERE cluster = ? AND id > ? AND kind <> 5",
    [cluster, after],
  );
  return Number(row.n);
}
const owned = async (id) => (await ownership()).filter((r) => r.node_id === id).length;

await until(converged, 60_000);
const results = { kill: [], leave: [], join: [] };
for (let r = 0; r < REPEATS; r++) {
  for (const kind of ["kill", "join", "leave", "join"]) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const before = await lastTransition();
    let minimum;
    let id;
    const started = performance.now();
    if (kind === "join") {
      id = `w${nextWorker++}`;
      workers.set(id, startWorker(id));
    } else {
      id = [...workers.keys()][r % workers.size];
      minimum = await owned(id);
      const child = workers.get(id);
      workers.delete(id);
      if (kind === "kill") child.process.kill("SIGKILL");
      else child.process.stdin.end();
    }
    await until(converged, 60_000);
    const elapsed = performance.now() - started;
    if (kind === "join") minimum = await owned(id);
    results[kind].push({ elapsed, moved: await ownerChanges(before), minimum });
  }
}

for (const child of children) child.kill();
await catalog.close();
await pool.query("DROP DATABASE ??", [database]);
await pool.end();

const sum = (rows, key) => rows.reduce((a, r) => a + r[key], 0);
console.log(`Coordinator end to end: ${new Date().toISOString()}, ${REPEATS} repeats`);
console.log(`lease TTL ${LEASE_TTL_MS} ms, member TTL ${MEMBER_TTL_MS} ms, election interval and poll 200 ms (defaults)`);
console.log(`${LISTS} task lists x ${PARTITIONS} partitions over ${WORKERS} worker processes`);
console.log(`raw upsert round trip (sequential, same server): p50 ${ms(raw.p50)} ms, p99 ${ms(raw.p99)} ms\n`);
console.log("| measurement | median ms | max ms | target | median / raw p50 |");
console.log("| --- | ---: | ---: | --- | ---: |");
const line = (name, xs, target) =>
  console.log(`| ${name} | ${Math.round(median(xs))} | ${Math.round(max(xs))} | ${target} | ${Math.round(median(xs) / raw.p50)}x |`);
line("leader SIGKILL -> new leader", killed, `TTL + 250 = ${LEASE_TTL_MS + 250}`);
line("leader graceful stop -> new leader", stopped, "< 300");
line(
  "worker SIGKILL -> all its partitions owned again",
  results.kill.map((r) => r.elapsed),
  `member TTL + 1000 = ${MEMBER_TTL_MS + 1000}`,
);
line(
  "worker graceful leave -> owned again",
  results.leave.map((r) => r.elapsed),
  "< 1000",
);
line(
  "worker join -> it owns its share",
  results.join.map((r) => r.elapsed),
  "-",
);
console.log("\n| membership change | events | partitions moved | theoretical minimum | moved / minimum |");
console.log("| --- | ---: | ---: | ---: | ---: |");
for (const [kind, rows] of Object.entries(results)) {
  console.log(
    `| ${kind} | ${rows.length} | ${sum(rows, "moved")} | ${sum(rows, "minimum")} | ${(sum(rows, "moved") / sum(rows, "minimum")).toFixed(2)} |`,
  );
}
