// Planned events with real processes: a rolling restart, a drain, maintenance mode, and an operator's move.
// - Rolling restart: 4 worker processes own 4 task lists x 256 partitions; each worker in turn gets
//   SIGTERM (its members leave) and a new process with the same node id is started as soon as the
//   old one has exited; the next follows once the table is balanced again. Once with a plain leave,
//   once with `leave({ returningWithinMs })` (static membership).
// - Drain: 4 worker processes own 4 task lists x 2,000 partitions; one gets SIGUSR2 and drains
//   (`member.drain()`, the coordinator's default throttle) its 2,000 partitions to the others.
// - Maintenance: 4 worker processes own 4 task lists x 256 partitions; with maintenance on, a fifth
//   worker joins, one leaves (SIGTERM) and one is SIGKILLed; once the killed one's TTL has passed and
//   the leader has polled for some seconds, maintenance is turned off and the moves it held are made.
// - Operator move: 4 worker processes own 4 task lists x 256 partitions; an operator moves every
//   partition of one worker to another (`moveMemberPartitions`, `helix members move`), which gives
//   its own to the others to stay balanced.
// Member TTL 3 s; one coordinator process with the library's defaults (polling every 200 ms).
// Reported, all read from the database: the partitions owned by another node id at some point, the
// most without a live owner at once, how long each partition was without one (sampled every
// 20 ms: p50, p99, max), beside the restart times (SIGTERM to the new process's members joined) or
// the drain's time (SIGUSR2 to owning none), and the partitions whose generation moved.
//   node planned-events.mjs [--busy]     HELIX_BENCH_MYSQL_URL names the server; --busy (or
//   HELIX_BENCH_SCALE_BUSY=1) runs it beside CPU hogs, as the scale benchmark's busy mode
import { setTimeout as sleep } from "node:timers/promises";

import { endMaintenance, moveMemberPartitions, readHistory, startMaintenance, TransitionCause } from "@helix/coordinator";

import { closeCluster, liveIds, openCluster, startCoordinator, startWorker } from "./scale/cluster.mjs";
import { readScaleConfig } from "./scale/config.mjs";
import { createDatabaseTracker } from "./scale/databases.mjs";
import { waitBalanced } from "./scale/measure.mjs";
import { killBusyNeighbours, startBusyNeighbours } from "./scale/neighbours.mjs";
import { createProcessGroup, eventOf } from "./scale/processes.mjs";
import { createResults } from "./scale/rows.mjs";
import { summarize } from "./stats.mjs";

const WORKERS = 4;
const LISTS = 4;
const PER_LIST = 256;
const DRAIN_PER_LIST = 2000;
const TTL_MS = 3000;
const RETURNING_WITHIN_MS = 10_000;
const SAMPLE_MS = 20;
const POLL_MS = 200;

const config = readScaleConfig();
const run = { config, processes: createProcessGroup(), databases: createDatabaseTracker(config.server), results: createResults() };
process.on("exit", () => {
  killBusyNeighbours();
  run.processes.killAll();
});

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

/**
 * Samples the partitions without a live owner every SAMPLE_MS until `stop()`, which resolves to the
 * most at once and every spell a partition spent without one (ms).
 */
function sampleUnowned(s) {
  let sampling = true;
  let mostAtOnce = 0;
  const since = new Map();
  const spells = [];
  const done = (async () => {
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
  return {
    async stop() {
      await sleep(2 * SAMPLE_MS);
      sampling = false;
      await done;
      return { mostAtOnce, spells };
    },
  };
}

/** A cluster of `perList` x LISTS partitions balanced over WORKERS worker processes w0.., and its coordinator. */
async function balancedCluster(name, perList, returningWithinMs) {
  const s = await openCluster(run, name, LISTS * perList, LISTS);
  const ids = Array.from({ length: WORKERS }, (_, i) => `w${i}`);
  await Promise.all(ids.map((id) => startWorker(s, [id], TTL_MS, 60_000, returningWithinMs)));
  await startCoordinator(s);
  if ((await waitBalanced(s, liveIds(s), Date.now() + 120_000, s.running())) === null) throw new Error(`${name}: never balanced`);
  return { s, ids };
}

/** Where the audit trail is now: `movedAway` reads what came after. */
async function auditMark(s) {
  const [[row]] = await s.pool.query("SELECT COALESCE(MAX(id), 0) AS id FROM helix_transitions WHERE cluster = ?", [s.cluster]);
  return row.id;
}

/** Partitions that went to another node id than `before` names after audit row `mark` (release requests aside). */
async function movedAway(s, before, mark) {
  const history = await readHistory(s.pool, s.cluster, { limit: 10_000 });
  if (history.length === 10_000 && history.at(-1).id > mark) throw new Error("more than 10,000 transitions since the mark");
  const moves = history
    .filter((t) => t.id > mark && t.kind !== "release-requested")
    .map((t) => ({ ...t, p: `${t.taskList}/${t.partition}` }));
  return new Set(moves.filter((m) => m.to !== null && m.to !== before.get(m.p).nodeId).map((m) => m.p));
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
  const { s, ids } = await balancedCluster(name, PER_LIST, returningWithinMs);
  try {
    const before = await owners(s);
    const mark = await auditMark(s);

    const sampler = sampleUnowned(s);
    const restartMs = [];
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
    }
    const totalMs = performance.now() - startedAt;
    const { mostAtOnce, spells } = await sampler.stop();
    // A partition that went to another node id and came back counts: the audit trail has both moves.
    const otherNodeIds = await movedAway(s, before, mark);
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

/** One worker of a balanced cluster drains (SIGUSR2: `member.drain()`) its share to the others. */
async function drain() {
  const { s } = await balancedCluster("drain", DRAIN_PER_LIST, 0);
  try {
    const before = await owners(s);
    const mark = await auditMark(s);
    const [id, child] = [...s.workers.entries()][1];
    const held = [...before.values()].filter((r) => r.nodeId === id).length;
    const sampler = sampleUnowned(s);
    const sent = performance.now();
    const sentAt = Date.now();
    child.process.kill("SIGUSR2");
    const drained = await eventOf(child, "drained", 120_000);
    const drainMs = performance.now() - sent;
    s.workers.delete(id);
    if ((await waitBalanced(s, liveIds(s), Date.now() + 60_000, s.running())) === null) throw new Error("drain: never balanced");
    const { mostAtOnce, spells } = await sampler.stop();
    const moved = await movedAway(s, before, mark);
    const rounds = s.coordinator.events
      .filter((e) => e.event === "round" && e.at >= sentAt)
      .map((e) => `${e.trigger} ${e.ms} ms (${e.applied})`);
    return {
      rounds,
      held,
      drainMs,
      remaining: drained.remaining,
      mostAtOnce,
      unownedMs: summarize(spells.length > 0 ? spells : [0], 1),
      moved: moved.size,
    };
  } finally {
    await closeCluster(run, s);
  }
}

/** Audit rows after `mark`: owner changes, and release requests. */
async function auditSince(s, mark) {
  const [[row]] = await s.pool.query(
    "SELECT COALESCE(SUM((kind <> 5) * partition_count), 0) AS moves, COALESCE(SUM((kind = 5) * partition_count), 0) AS releases FROM helix_transitions WHERE cluster = ? AND id > ?",
    [s.cluster, mark],
  );
  return { moves: Number(row.moves), releases: Number(row.releases) };
}

/**
 * The fewest partitions that must change owner for `live` to be balanced: those without a live
 * owner, and what a live member owns beyond its ceiling.
 */
function minimumMoves(table, live, total) {
  const ceiling = Math.ceil(total / live.size);
  const owned = new Map([...live].map((id) => [id, 0]));
  let free = 0;
  for (const row of table.values()) {
    if (row.nodeId !== null && owned.has(row.nodeId)) owned.set(row.nodeId, owned.get(row.nodeId) + 1);
    else free++;
  }
  return free + [...owned.values()].reduce((n, c) => n + Math.max(0, c - ceiling), 0);
}

/** A join, a leave and a crash under maintenance, then maintenance off. */
async function maintenance() {
  const { s } = await balancedCluster("maintenance", PER_LIST, 0);
  try {
    const before = await owners(s);
    const mark = await auditMark(s);
    await startMaintenance(s.pool, s.cluster, { reason: "planned-events benchmark", actor: "bench" });
    await startWorker(s, ["w4"], TTL_MS);
    for (const [id, signal] of [
      ["w0", "SIGTERM"],
      ["w1", "SIGKILL"],
    ]) {
      const child = s.workers.get(id);
      s.workers.delete(id);
      child.process.kill(signal);
      await child.exited;
    }
    // The killed member's TTL passes, and the leader polls (every 200 ms) for some seconds more.
    await sleep(TTL_MS + 3000);
    const during = await auditSince(s, mark);
    const table = await owners(s);
    const tookOver = [...table].filter(([p, row]) => row.nodeId !== null && row.nodeId !== before.get(p).nodeId).length;
    const minimum = minimumMoves(table, liveIds(s), s.total);
    const offMark = await auditMark(s);
    const offAt = performance.now();
    await endMaintenance(s.pool, s.cluster);
    if ((await waitBalanced(s, liveIds(s), Date.now() + 60_000, s.running())) === null) throw new Error("maintenance: never balanced");
    const settleMs = performance.now() - offAt;
    const after = await auditSince(s, offMark);
    return { during, tookOver, minimum, after, settleMs };
  } finally {
    await closeCluster(run, s);
  }
}

/** An operator moves every partition of w0 to w1; w1 gives its own to the others. */
async function operatorMove() {
  const { s } = await balancedCluster("operator", PER_LIST, 0);
  try {
    const before = await owners(s);
    const mark = await auditMark(s);
    const sampler = sampleUnowned(s);
    const startedAt = performance.now();
    const moved = await moveMemberPartitions(s.pool, s.cluster, "w0", "w1", { actor: "bench", reason: "planned-events benchmark" });
    const own = [...before].filter(([, r]) => r.nodeId === "w1").length;
    const placed = [...before].filter(([, r]) => r.nodeId === "w0").map(([p]) => p);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const [rows] = await s.pool.query(
        "SELECT CONCAT(task_list, '/', partition_id) AS p FROM helix_allocation WHERE cluster = ? AND node_id = 'w1' AND state = 1",
        [s.cluster],
      );
      const onTarget = new Set(rows.map((r) => r.p));
      if (placed.every((p) => onTarget.has(p))) break;
      if (Date.now() > deadline) throw new Error("operator move: the moved partitions never all reached their member");
      await sleep(50);
    }
    if ((await waitBalanced(s, liveIds(s), Date.now() + 60_000, s.running())) === null) throw new Error("operator move: never balanced");
    const settleMs = performance.now() - startedAt;
    const { mostAtOnce, spells } = await sampler.stop();
    const [causes] = await s.pool.query(
      "SELECT cause, SUM(partition_count) AS n FROM helix_transitions WHERE cluster = ? AND id > ? AND kind <> 5 GROUP BY cause",
      [s.cluster, mark],
    );
    const byCause = new Map(causes.map((r) => [Number(r.cause), Number(r.n)]));
    const { moves, releases } = await auditSince(s, mark);
    return {
      moved,
      // Each moved partition goes to w1, and w1, held to its share, gives all of its own away.
      minimum: moved + own,
      moves,
      releases,
      operator: byCause.get(TransitionCause.Operator) ?? 0,
      rebalance: byCause.get(TransitionCause.Rebalance) ?? 0,
      settleMs,
      mostAtOnce,
      unownedMs: summarize(spells.length > 0 ? spells : [0], 1),
    };
  } finally {
    await closeCluster(run, s);
  }
}

const rows = [];
let drained;
let maintained;
let operated;
// Busy (--busy or HELIX_BENCH_SCALE_BUSY=1): CPU hogs spin beside everything, as in the scale benchmark.
const neighbours = config.busy ? await startBusyNeighbours(config.busyHogs, "planned events") : undefined;
let busyNote = "";
try {
  for (const returningWithinMs of [0, RETURNING_WITHIN_MS]) rows.push(await rollingRestart(returningWithinMs));
  drained = await drain();
  maintained = await maintenance();
  operated = await operatorMove();
} finally {
  if (neighbours !== undefined) busyNote = await neighbours.stop();
  run.processes.killAll();
  await run.databases.dropAll();
}

const f = (x) => x.toFixed(0);
const total = LISTS * PER_LIST;
console.log(`Machine: ${config.busy ? `busy (${config.busyHogs} CPU hogs beside it, bench/busy.mjs)` : "quiet"}.`);
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
console.log("");
console.log(
  `Drain: ${WORKERS} worker processes (member TTL ${TTL_MS} ms) owning ${LISTS} task lists x ${DRAIN_PER_LIST.toLocaleString("en-US")} partitions; one gets SIGUSR2 and drains (member.drain(), the coordinator's default throttle) until it owns none, then leaves.`,
);
console.log("");
console.log(
  "| partitions the worker held | drain time (SIGUSR2 to owning none) | target | left to the leave | moved / minimum | most without a live owner at once | without a live owner per partition p50 / p99 / max ms | target p99 | meets targets |",
);
console.log("| ---: | ---: | --- | ---: | ---: | ---: | ---: | --- | --- |");
const d = drained;
const meetsDrain = d.drainMs <= 10_000 && d.unownedMs.p99 <= 200 && d.remaining === 0 ? "yes" : "no";
console.log(
  `| ${d.held} | ${(d.drainMs / 1000).toFixed(2)} s | ≤ 10 s | ${d.remaining} | ${(d.moved / d.held).toFixed(2)} | ${d.mostAtOnce} | ${f(d.unownedMs.p50)} / ${f(d.unownedMs.p99)} / ${f(d.unownedMs.max)} | ≤ 200 ms | ${meetsDrain} |`,
);
console.log("");
console.log(`- drain: the coordinator's rounds that wrote, by trigger, with their time and changes: ${d.rounds.join(", ")}`);
console.log("");
console.log(
  `Maintenance: ${WORKERS} worker processes (member TTL ${TTL_MS} ms) owning ${LISTS} task lists x ${PER_LIST} partitions; maintenance on, a fifth worker joins, one leaves (SIGTERM), one is SIGKILLed; ${(TTL_MS + 3000) / 1000} s later maintenance is turned off.`,
);
console.log("");
console.log(
  "| while on: owner changes / release requests in the audit trail | while on: partitions owned by another node id | after off: owner changes / minimum | after off: release requests | balanced after off | meets targets (0 while on, the minimum after) |",
);
console.log("| ---: | ---: | ---: | ---: | ---: | --- |");
const m = maintained;
const meetsMaintenance = m.during.moves + m.during.releases + m.tookOver === 0 && m.after.moves === m.minimum && m.after.releases === 0;
console.log(
  `| ${m.during.moves} / ${m.during.releases} | ${m.tookOver} | ${m.after.moves} / ${m.minimum} | ${m.after.releases} | ${(m.settleMs / 1000).toFixed(2)} s | ${meetsMaintenance ? "yes" : "no"} |`,
);
console.log("");
console.log(
  `Operator move: ${WORKERS} worker processes (member TTL ${TTL_MS} ms) owning ${LISTS} task lists x ${PER_LIST} partitions; an operator moves every partition of one worker to another (moveMemberPartitions, as helix members move does); the target gives its own to the others to stay balanced.`,
);
console.log("");
console.log(
  "| partitions moved by the operator | owner changes / minimum | by cause: operator / rebalance | move to balanced | most without a live owner at once | without a live owner per partition p50 / p99 / max ms | meets target (moves at the minimum) |",
);
console.log("| ---: | ---: | ---: | ---: | ---: | ---: | --- |");
const o = operated;
console.log(
  `| ${o.moved} | ${o.moves} / ${o.minimum} | ${o.operator} / ${o.rebalance} | ${(o.settleMs / 1000).toFixed(2)} s | ${o.mostAtOnce} | ${f(o.unownedMs.p50)} / ${f(o.unownedMs.p99)} / ${f(o.unownedMs.max)} | ${o.moves === o.minimum ? "yes" : "no"} |`,
);
if (busyNote !== "") console.log(busyNote);
process.exit(0);
