// Planned restarts: a rolling restart of every worker, each started again at once with the same node
// id, once with a plain leave and once with `leave({ returningWithinMs })` (static membership).
// 4 worker processes own 4 task lists x 256 partitions (member TTL 3 s; one coordinator process with
// the library's defaults, polling every 200 ms). Each worker in turn gets SIGTERM (its members
// leave), and a new process with the same node id is started as soon as the old one has exited;
// the next one follows once the table is balanced again. Reported per mode, all read from the
// database: the partitions owned by another node id at some point, the most partitions without a
// live owner at once, how long each partition was without one (sampled every 20 ms: p50, p99, max)
// beside the workers' restart times (SIGTERM to the new process's members joined), and the
// partitions whose generation moved.
//   node restarts.mjs            HELIX_BENCH_MYSQL_URL names the server
import { setTimeout as sleep } from "node:timers/promises";

import { closeCluster, liveIds, openCluster, startCoordinator, startWorker } from "./scale/cluster.mjs";
import { readScaleConfig } from "./scale/config.mjs";
import { createDatabaseTracker } from "./scale/databases.mjs";
import { waitBalanced } from "./scale/measure.mjs";
import { createProcessGroup, eventOf } from "./scale/processes.mjs";
import { createResults } from "./scale/rows.mjs";
import { summarize } from "./stats.mjs";

const WORKERS = 4;
const LISTS = 4;
const PER_LIST = 256;
const TTL_MS = 3000;
const RETURNING_WITHIN_MS = 10_000;
const SAMPLE_MS = 20;
const POLL_MS = 200;

const config = readScaleConfig([], { ...process.env, HELIX_BENCH_SCALE_BUSY: "0" });
const run = { config, processes: createProcessGroup(), databases: createDatabaseTracker(config.server), results: createResults() };
process.on("exit", () => run.processes.killAll());

/** The partitions without a live owner now: not assigned (or asked to release) to a live process. */
async function unowned(s) {
  const [rows] = await s.pool.query(
    `SELECT CONCAT(a.task_list, '/', a.partition_id) AS p FROM helix_allocation AS a
     WHERE a.cluster = ? AND NOT (a.state IN (1, 2) AND EXISTS (
       SELECT 1 FROM helix_nodes AS n WHERE n.cluster = a.cluster AND n.node_id = a.node_id
         AND n.incarnation = a.incarnation AND n.status = 1 AND n.expires_at > UTC_TIMESTAMP(6)))`,
    [s.cluster],
  );
  return rows.map((r) => r.p);
}

/** Owner node id and generation of every partition. */
async function owners(s) {
  const [rows] = await s.pool.query(
    "SELECT CONCAT(task_list, '/', partition_id) AS p, node_id AS nodeId, generation FROM helix_allocation WHERE cluster = ?",
    [s.cluster],
  );
  return new Map(rows.map((r) => [r.p, r]));
}

async function rollingRestart(returningWithinMs) {
  const name = returningWithinMs > 0 ? "restart_returning" : "restart_plain";
  const s = await openCluster(run, name, LISTS * PER_LIST, LISTS);
  try {
    const ids = Array.from({ length: WORKERS }, (_, i) => `w${i}`);
    await Promise.all(ids.map((id) => startWorker(s, [id], TTL_MS, 60_000, returningWithinMs)));
    await startCoordinator(s);
    if ((await waitBalanced(s, liveIds(s), Date.now() + 60_000, s.running())) === null) throw new Error(`${name}: never balanced`);
    const before = await owners(s);

    // Sampling: partitions without a live owner, every SAMPLE_MS, until the restarts are done.
    let sampling = true;
    let mostAtOnce = 0;
    const since = new Map();
    const spells = [];
    const sampler = (async () => {
      while (sampling) {
        const at = performance.now();
        const now = new Set(await unowned(s));
        mostAtOnce = Math.max(mostAtOnce, now.size);
        for (const p of now) if (!since.has(p)) since.set(p, at);
        for (const [p, from] of since) {
          if (!now.has(p)) {
            spells.push(at - from);
            since.delete(p);
          }
        }
        await sleep(Math.max(0, SAMPLE_MS - (performance.now() - at)));
      }
    })();

    const restartMs = [];
    const otherNodeIds = new Set();
    const startedAt = performance.now();
    for (const id of ids) {
      const old = s.workers.get(id);
      const sent = performance.now();
      old.process.kill("SIGTERM");
      await eventOf(old, "left", 30_000);
      await old.exited;
      await startWorker(s, [id], TTL_MS, 60_000, returningWithinMs);
      restartMs.push(performance.now() - sent);
      if ((await waitBalanced(s, liveIds(s), Date.now() + 60_000, s.running())) === null) throw new Error(`${name}: ${id} never balanced`);
      // Who owned what between restarts: a partition that went to another node id and came back counts.
      for (const [p, row] of await owners(s)) if (row.nodeId !== before.get(p).nodeId) otherNodeIds.add(p);
    }
    const totalMs = performance.now() - startedAt;
    await sleep(2 * SAMPLE_MS);
    sampling = false;
    await sampler;
    // Assignments while the restarts ran (the audit trail), to another node id than the partition's before.
    const [moves] = await s.pool.query(
      "SELECT CONCAT(task_list, '/', partition_id) AS p, to_node_id AS toNodeId FROM helix_transitions WHERE cluster = ? AND kind <> 5",
      [s.cluster],
    );
    for (const m of moves) if (m.toNodeId !== null && m.toNodeId !== before.get(m.p).nodeId) otherNodeIds.add(m.p);
    const after = await owners(s);
    const generationsMoved = [...after].filter(([p, row]) => row.generation !== before.get(p).generation).length;
    const unownedMs = summarize(spells.length > 0 ? spells : [0], 1);
    return {
      name,
      returningWithinMs,
      otherNodeIds: otherNodeIds.size,
      mostAtOnce,
      unownedMs,
      spells: spells.length,
      restartMs: summarize(restartMs, 1),
      generationsMoved,
      totalMs,
    };
  } finally {
    await closeCluster(run, s);
  }
}

const rows = [];
try {
  for (const returningWithinMs of [0, RETURNING_WITHIN_MS]) rows.push(await rollingRestart(returningWithinMs));
} finally {
  run.processes.killAll();
  await run.databases.dropAll();
}

const f = (x) => x.toFixed(0);
const total = LISTS * PER_LIST;
console.log(
  `Rolling restart: ${WORKERS} worker processes (member TTL ${TTL_MS} ms) owning ${LISTS} task lists x ${PER_LIST} partitions, each in turn SIGTERMed and started again with the same node id as soon as it exited; one coordinator (poll ${POLL_MS} ms). Without a live owner: sampled every ${SAMPLE_MS} ms. Raw upsert round trip p50 ${run.results.raw.p50.toFixed(3)} ms.`,
);
console.log("");
console.log(
  "| leave | partitions owned by another node id at some point (target 0 with returningWithinMs) | most without a live owner at once | without a live owner per partition p50 / p99 / max ms | restart (SIGTERM to joined again) p50 / max ms | target: max without owner ≤ restart max + one poll | partitions whose generation moved | rolling restart total |",
);
console.log("| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |");
for (const r of rows) {
  const bound = r.restartMs.max + POLL_MS;
  const meets = r.returningWithinMs > 0 ? (r.otherNodeIds === 0 && r.unownedMs.max <= bound ? "yes" : "no") : "(no target)";
  console.log(
    `| ${r.returningWithinMs > 0 ? `leave({ returningWithinMs: ${r.returningWithinMs} })` : "leave()"} | ${r.otherNodeIds} of ${total} | ${r.mostAtOnce} | ${f(r.unownedMs.p50)} / ${f(r.unownedMs.p99)} / ${f(r.unownedMs.max)} | ${f(r.restartMs.p50)} / ${f(r.restartMs.max)} | ${meets} (bound ${f(bound)} ms) | ${r.generationsMoved} of ${total} | ${(r.totalMs / 1000).toFixed(2)} s |`,
  );
}
process.exit(0);
