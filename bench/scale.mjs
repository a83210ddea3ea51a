// Scale end to end: a coordinator and worker processes on 100,000 and 1,000,000 partitions, and a
// join in a small cluster, each figure beside its target and the raw round trip of the same run.
// - 100k: 4 workers (one member each, member TTL 3 s); the coordinator starts -> first assignment;
//   a 5th worker joins; one is SIGKILLed; one gets SIGTERM and leaves.
// - 1M: 100 members in 10 worker processes (10 members each, each its own join()), default TTL.
// - small: 200 partitions over 4 workers with every default (TTL 10 s); a 5th joins, 3 times.
// Every measurement is read from the database: the time from the event (createCoordinator() or
// join() called, kill or SIGTERM sent) to the ownership change that made the table balanced — every
// partition assigned (state 1) to the live process of an expected member, each member owning the
// floor or ceiling of total / members. Each row counts, inside its measurement window (from just
// before the event to the balance seen), the members that fenced themselves and rejoined, and the
// coordinator's errors, and compares the partitions moved with the minimum. Children are
// SIGKILLed on every way out.
// Quiet or busy: with --busy (or HELIX_BENCH_SCALE_BUSY=1), HELIX_BENCH_SCALE_BUSY_HOGS (2) CPU hogs
// (busy.mjs: node processes hashing in a tight loop) run beside each scenario, started before it
// and SIGKILLed after it (and on every way out).
//   pnpm --filter @helix/bench scale            node scale.mjs --busy
//   HELIX_BENCH_SCALE_PARTITIONS (100000, over HELIX_BENCH_SCALE_LISTS = 10), HELIX_BENCH_SCALE_WORKERS (4),
//   HELIX_BENCH_SCALE_TTL_MS (3000), HELIX_BENCH_SCALE_SKIP_MILLION=1, HELIX_BENCH_SCALE_MILLION_PARTITIONS
//   (1000000), HELIX_BENCH_SCALE_MILLION_PROCESSES (10) x _MEMBERS_PER_PROCESS (10),
//   HELIX_BENCH_SCALE_SMALL_PARTITIONS (200), HELIX_BENCH_SCALE_SMALL_REPEATS (3),
//   HELIX_BENCH_SCALE_TIMEOUT_S (120), HELIX_BENCH_SCALE_MILLION_TIMEOUT_S (300),
//   HELIX_BENCH_SCALE_SETTLE_S (240: after a timeout, how much longer to wait so the next rows can run),
//   HELIX_BENCH_SCALE_ONLY (e.g. "large,small": the scenarios to run, of large, small, million)
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";

import { createDatabaseIfMissing, createPool, migrate } from "@helix/db";
import { createCatalog } from "@helix/cluster";
import { JsonChild } from "@helix/testing";

import { ms, rawUpsertRoundTrip } from "./stats.mjs";
import { killHogs, startHogs } from "./busy.mjs";

const env = (name, fallback) => Number(process.env[`HELIX_BENCH_SCALE_${name}`] ?? fallback);
const server = new URL(process.env.HELIX_BENCH_MYSQL_URL ?? "mysql://root@127.0.0.1:3306/");
const LARGE = env("PARTITIONS", 100_000);
const LARGE_LISTS = env("LISTS", 10);
const WORKERS = env("WORKERS", 4);
const TTL_MS = env("TTL_MS", 3000);
const SKIP_MILLION = process.env.HELIX_BENCH_SCALE_SKIP_MILLION === "1";
const MILLION = env("MILLION_PARTITIONS", 1_000_000);
const MILLION_PROCESSES = env("MILLION_PROCESSES", 10);
const MEMBERS_PER_PROCESS = env("MILLION_MEMBERS_PER_PROCESS", 10);
const SMALL = env("SMALL_PARTITIONS", 200);
const SMALL_REPEATS = env("SMALL_REPEATS", 3);
const TIMEOUT_MS = env("TIMEOUT_S", 120) * 1000;
const MILLION_TIMEOUT_MS = env("MILLION_TIMEOUT_S", 300) * 1000;
const SETTLE_MS = env("SETTLE_S", 240) * 1000;
const BUSY = process.argv.includes("--busy") || process.env.HELIX_BENCH_SCALE_BUSY === "1";
const HOGS = env("BUSY_HOGS", 2);
const DEFAULT_TTL_MS = 10_000;
const MAX_PER_LIST = 10_000;
const here = (name) => fileURLToPath(new URL(name, import.meta.url));

const started = performance.now();
const children = new Set();
const databases = new Set();
let raw;
/** Rows by key, printed in the order of `rowOrder`. */
const rows = new Map();
const notes = [];
/** What the hogs did beside each scenario (busy mode). */
const busyNotes = [];
let failures = 0;
/** Worker events already counted in a row (the rest are reported as outside the rows' windows). */
const counted = new WeakSet();

// ---- processes -------------------------------------------------------------------------------

function killAll() {
  killHogs();
  for (const child of children) child.kill();
}
process.on("exit", killAll);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    process.stderr.write(`scale: ${signal}, killing ${children.size} children and the hogs\n`);
    killAll();
    void dropDatabases().finally(() => process.exit(130));
  });
}

function spawnChild(script, args, nodeOptions = "") {
  const child = JsonChild.start(here(script), args, { env: { NODE_OPTIONS: nodeOptions } });
  children.add(child);
  void child.exited.then(() => children.delete(child));
  return child;
}

/** Stops children at once: the scenario is over and its database is dropped next. */
async function killChildren(list) {
  for (const child of list) child.kill();
  await Promise.all(list.map((c) => c.exited));
}

/** The last lines of a child's stderr, without stack frames. */
const stderrTail = (child) =>
  child.stderr
    .split("\n")
    .filter((l) => l.trim() !== "" && !/^\s+at /.test(l))
    .slice(-3)
    .join(" / ");

/** Throws when a child that should be running has exited. */
function checkAlive(list) {
  for (const child of list) {
    if (child.process.exitCode !== null || child.process.signalCode !== null) {
      throw new Error(`child ${child.name} exited (${child.process.exitCode ?? child.process.signalCode}): ${stderrTail(child)}`);
    }
  }
}

/** The first event `name` (matching `match`) of a child; throws when it exits first or after `timeoutMs`. */
async function eventOf(child, name, timeoutMs, match = () => true) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const found = child.events.find((e) => e.event === name && match(e));
    if (found !== undefined) return found;
    checkAlive([child]);
    if (performance.now() > deadline) throw new Error(`no "${name}" from ${child.name} within ${timeoutMs} ms: ${stderrTail(child)}`);
    await sleep(20);
  }
}

// ---- databases -------------------------------------------------------------------------------

async function openDatabase(name) {
  const database = `helix_bench_scale_${process.pid}_${name}`;
  const url = new URL(`/${database}`, server).toString();
  await createDatabaseIfMissing(url);
  databases.add(database);
  const pool = await createPool(url);
  await migrate(pool);
  return { database, url, pool };
}

async function dropDatabases() {
  if (databases.size === 0) return;
  const pool = await createPool(new URL("/mysql", server).toString()).catch(() => undefined);
  for (const database of databases) await pool?.query("DROP DATABASE IF EXISTS ??", [database]).catch(() => undefined);
  databases.clear();
  await pool?.end().catch(() => undefined);
}

/** `total` partitions in task lists of at most 10,000 (the catalog's limit), all the same size. */
async function putCatalog(pool, cluster, total, lists) {
  const perList = total / lists;
  if (!Number.isInteger(perList) || perList > MAX_PER_LIST || perList < 1) {
    throw new Error(`${total} partitions do not split into ${lists} task lists of 1 to ${MAX_PER_LIST}`);
  }
  const catalog = await createCatalog(pool, { cluster });
  try {
    for (let l = 0; l < lists; l++) await catalog.putTaskList({ domain: "bench", taskList: `list-${l}`, partitions: perList });
  } finally {
    await catalog.close();
  }
  return perList;
}

// ---- measuring -------------------------------------------------------------------------------

/** The ownership table grouped by owner process and state, with the members' liveness. */
async function readOwnership(pool, cluster) {
  const [groups] = await pool.query(
    `SELECT node_id AS nodeId, incarnation, state, COUNT(*) AS n,
            TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', MAX(updated_at)) AS lastUs
     FROM helix_allocation WHERE cluster = ? GROUP BY node_id, incarnation, state`,
    [cluster],
  );
  const [members] = await pool.query(
    "SELECT node_id AS nodeId, incarnation, status = 1 AND expires_at > UTC_TIMESTAMP(6) AS live FROM helix_nodes WHERE cluster = ?",
    [cluster],
  );
  return { groups, members };
}

/**
 * Whether every partition is assigned to the live process of one of `expected` and each of them
 * owns floor or ceiling of total / members (the planner's quota for equal weights); `counts` per
 * member and `lastChange` (wall-clock ms of the newest ownership change) either way.
 */
function judge({ groups, members }, expected, total) {
  const live = new Map(members.filter((m) => Number(m.live) === 1).map((m) => [m.nodeId, m.incarnation]));
  const counts = new Map([...expected].map((id) => [id, 0]));
  let rowsSeen = 0;
  let lastChange = 0;
  let strays = 0;
  for (const g of groups) {
    const n = Number(g.n);
    rowsSeen += n;
    lastChange = Math.max(lastChange, Number(g.lastUs) / 1000);
    if (Number(g.state) === 1 && expected.has(g.nodeId) && live.get(g.nodeId) === g.incarnation)
      counts.set(g.nodeId, counts.get(g.nodeId) + n);
    else strays += n;
  }
  const low = Math.floor(total / expected.size);
  const high = Math.ceil(total / expected.size);
  const balanced =
    rowsSeen === total &&
    strays === 0 &&
    [...expected].every((id) => live.has(id)) &&
    [...counts.values()].every((c) => c >= low && c <= high);
  return { balanced, counts, lastChange };
}

async function lastTransition(pool, cluster) {
  const [[row]] = await pool.query("SELECT COALESCE(MAX(id), 0) AS id FROM helix_transitions WHERE cluster = ?", [cluster]);
  return Number(row.id);
}

/** Partitions that changed owner since transition `after` (a release request alone is not a change). */
async function ownerChanges(pool, cluster, after) {
  const [[row]] = await pool.query("SELECT COUNT(*) AS n FROM helix_transitions WHERE cluster = ? AND id > ? AND kind <> 5", [
    cluster,
    after,
  ]);
  return Number(row.n);
}

/**
 * Waits until the table is balanced over `expected`, or the wall clock passes `deadline`. The
 * table (a scan of every row: a second at a million) is read again once the cluster's change
 * counters moved and, with a coordinator, one of its rounds that wrote has ended since the last
 * read: a read in the middle of a round finds it unbalanced and takes the database's time from it.
 * Without such a change the table is read again after `idleReadMs` (30 s with a coordinator, whose
 * round ends are the changes that matter; 1 s without); reads come at least as long apart as one
 * took. The measured time does not depend on when the read ran, only on what it finds.
 */
async function waitBalanced(s, expected, deadline, running) {
  let seen;
  let readAt = 0;
  let roundsSeen = -1;
  const idleReadMs = s.coordinator === undefined ? 1000 : 30_000;
  for (;;) {
    checkAlive(running);
    const [[versions]] = await s.pool.query(
      "SELECT membership_version AS m, ownership_version AS o FROM helix_cluster_state WHERE cluster = ?",
      [s.cluster],
    );
    const key = `${versions?.m}/${versions?.o}`;
    const rounds = s.coordinator?.events.filter((e) => e.event === "round").length ?? 0;
    const moved = key !== seen && (s.coordinator === undefined || rounds !== roundsSeen);
    if (moved || Date.now() - readAt > idleReadMs) {
      seen = key;
      roundsSeen = rounds;
      const before = Date.now();
      const judged = judge(await readOwnership(s.pool, s.cluster), expected, s.total);
      readAt = Date.now();
      if (judged.balanced) return judged;
      if (readAt > deadline) return null;
      await sleep(Math.max(50, readAt - before));
    } else {
      if (Date.now() > deadline) return null;
      await sleep(50);
    }
  }
}

const seconds = (xMs) => `${(xMs / 1000).toFixed(xMs < 10_000 ? 2 : 1)} s`;

/**
 * One measured membership change: `act()` makes it and returns its wall-clock time; then waits for
 * balance over `expected` within `timeoutMs`. On a timeout it waits up to `settleMs` more so that
 * the next step starts balanced, and throws when even that does not come.
 */
async function measure(s, { key, expected, timeoutMs, settleMs = SETTLE_MS, minimum, act }) {
  const before = await lastTransition(s.pool, s.cluster);
  const window = { start: eventCounts(), end: undefined };
  const at = await act();
  let judged = await waitBalanced(s, expected, at + timeoutMs, s.running());
  if (judged === null && settleMs > 0) {
    process.stderr.write(`scale: ${key} not balanced after ${timeoutMs / 1000} s; waiting up to ${settleMs / 1000} s more\n`);
    judged = await waitBalanced(s, expected, Date.now() + settleMs, s.running());
  }
  const elapsed = judged === null ? null : Math.max(0, judged.lastChange - at);
  // By the database's clock: balance seen just after the deadline may have come just before it.
  const timedOut = elapsed === null || elapsed > timeoutMs;
  // The round that made the last change reports when it ends, a moment after its commit.
  for (let waited = 0; judged !== null && s.coordinator !== undefined && waited < 3000; waited += 20) {
    if (s.coordinator.events.some((e) => e.event === "round" && e.at >= judged.lastChange - 1)) break;
    await sleep(20);
  }
  window.end = eventCounts();
  const moved = await ownerChanges(s.pool, s.cluster, before);
  const result = {
    key,
    elapsed,
    timedOut,
    timeoutMs,
    moved,
    minimum: typeof minimum === "function" ? minimum(judged) : minimum,
    judged,
    ...windowCounts(s, window),
    detail: stepDetail(s, window),
  };
  process.stderr.write(
    `scale: ${key}: ${elapsed === null ? "not balanced" : seconds(elapsed)}${timedOut ? " (timed out)" : ""}, ${moved} moved, ` +
      `${result.fenced} fenced, ${result.rejoined} rejoined, ${result.coordinatorErrors} coordinator errors\n`,
  );
  if (judged === null) throw Object.assign(new Error(`not balanced ${(timeoutMs + settleMs) / 1000} s after the event`), { result });
  return result;
}

// ---- scenarios -------------------------------------------------------------------------------

/** A scenario's cluster: its database, its worker processes by node ids, its coordinator. */
async function cluster(name, total, lists) {
  const db = await openDatabase(name);
  const s = { ...db, name, cluster: "scale", total, workers: new Map(), spawned: [], coordinator: undefined };
  s.running = () => [...new Set(s.workers.values()), ...(s.coordinator === undefined ? [] : [s.coordinator])];
  if (raw === undefined) raw = await rawUpsertRoundTrip(db.pool);
  const t = performance.now();
  s.perList = await putCatalog(db.pool, s.cluster, total, lists);
  s.catalogMs = performance.now() - t;
  return s;
}

/** A worker process with members `nodeIds`; resolves once all joined (their join() wall-clock start in `at`). */
async function startWorker(s, nodeIds, ttl, timeoutMs = 60_000) {
  // Members share their process's pool; 6 connections for 10 members keep 100 members within the
  // server's default max_connections (151) beside the coordinator and this process.
  const url = nodeIds.length > 1 ? `${s.url}?connectionLimit=6` : s.url;
  const child = spawnChild("scale-worker.mjs", [url, s.cluster, String(ttl), ...nodeIds]);
  child.name = `worker ${nodeIds[0]}${nodeIds.length > 1 ? `..${nodeIds.at(-1)}` : ""}`;
  s.spawned.push(child);
  for (const id of nodeIds) s.workers.set(id, child);
  const joining = await eventOf(child, "joining", timeoutMs);
  await eventOf(child, "ready", timeoutMs);
  return { child, at: joining.at };
}

async function startCoordinator(s) {
  // The planner of a million partitions needs more than the default heap (as in the planner benchmark).
  s.coordinator = spawnChild("scale-coordinator.mjs", [s.url, s.cluster], "--max-old-space-size=4096");
  s.coordinator.name = "coordinator";
  return (await eventOf(s.coordinator, "starting", 30_000)).at;
}

async function closeCluster(s) {
  // Fences between the rows' windows (while a scenario sets up, between steps) are in no row.
  const outside = s.spawned.flatMap((c) => c.events).filter((e) => (e.event === "fenced" || e.event === "rejoined") && !counted.has(e));
  const fenced = outside.filter((e) => e.event === "fenced").length;
  if (outside.length > 0)
    notes.push(
      `- ${s.name}: outside the rows' measurement windows ${fenced} members fenced themselves, ${outside.length - fenced} rejoined`,
    );
  await killChildren(s.running());
  await s.pool.query("DROP DATABASE IF EXISTS ??", [s.database]).catch(() => undefined);
  databases.delete(s.database);
  await s.pool.end();
}

const liveIds = (s) => new Set(s.workers.keys());

/** How many events each child has reported so far: one end of a measurement window. */
const eventCounts = () => new Map([...children].map((c) => [c, c.events.length]));

/**
 * The events of a measurement window (`start`, `end`: event counts from eventCounts(); a child
 * started inside the window counts from its first event) of the coordinator and of the workers.
 */
function windowEvents(s, { start, end }) {
  const within = (child) => child.events.slice(start.get(child) ?? 0, end?.get(child) ?? child.events.length);
  const coordinator = s.coordinator === undefined ? [] : within(s.coordinator);
  const workers = s.spawned.flatMap(within);
  return { coordinator, workers };
}

const isCoordinatorError = (e) => e.event === "round-error" || e.event === "lost";

/** A row's columns: members fenced and rejoined, coordinator errors, in the measurement window. */
function windowCounts(s, window) {
  const { coordinator, workers } = windowEvents(s, window);
  const fenced = workers.filter((e) => e.event === "fenced");
  const rejoined = workers.filter((e) => e.event === "rejoined");
  for (const e of [...fenced, ...rejoined]) counted.add(e);
  return { fenced: fenced.length, rejoined: rejoined.length, coordinatorErrors: coordinator.filter(isCoordinatorError).length };
}

/**
 * What the processes reported during a step: the coordinator's rounds that wrote, its errors
 * (their count is a column too), the members' errors.
 */
function stepDetail(s, window) {
  const { coordinator, workers } = windowEvents(s, window);
  const rounds = coordinator.filter((e) => e.event === "round");
  const errors = coordinator.filter(isCoordinatorError);
  const parts = [`${rounds.length} coordinator rounds wrote (longest ${Math.max(0, ...rounds.map((r) => r.ms))} ms)`];
  const elected = coordinator.find((e) => e.event === "elected");
  const starting = coordinator.find((e) => e.event === "starting");
  if (elected !== undefined && starting !== undefined)
    parts.unshift(`the coordinator led ${elected.at - starting.at} ms after createCoordinator()`);
  if (errors.length > 0) parts.push(`${errors.length} coordinator errors (first: ${errors[0].message})`);
  const memberErrors = workers.filter((e) => e.event === "member-error");
  const errorCount = memberErrors.reduce((a, e) => a + e.count, 0);
  if (errorCount > 0) parts.push(`${errorCount} member errors (first: ${memberErrors[0].message})`);
  return parts.join(", ");
}

function row(key, result, extra = {}) {
  rows.set(key, { ...result, ...extra });
}

/** Runs `steps` in order; once one fails, the rest are reported as not run. */
async function runSteps(label, steps) {
  let broken;
  for (const [key, step] of steps) {
    if (broken !== undefined) {
      row(key, { skipped: `not run: ${broken}` });
      continue;
    }
    try {
      await step();
    } catch (error) {
      const timedOut = error.result?.key === key;
      if (!timedOut) failures++;
      broken = timedOut ? "the previous step never balanced" : `${label} failed`;
      row(key, timedOut ? error.result : { skipped: `failed: ${error.message}` });
      process.stderr.write(`scale: ${key}: ${error.stack}\n`);
    }
  }
}

async function large() {
  const s = await cluster("large", LARGE, LARGE_LISTS);
  try {
    let next = 0;
    const ids = Array.from({ length: WORKERS }, () => `w${next++}`);
    await runSteps("the 100k scenario", [
      [
        "first",
        async () => {
          await Promise.all(ids.map((id) => startWorker(s, [id], TTL_MS)));
          const result = await measure(s, {
            key: "first",
            expected: liveIds(s),
            timeoutMs: TIMEOUT_MS,
            minimum: s.total,
            act: () => startCoordinator(s),
          });
          row("first", result);
        },
      ],
      [
        "join",
        async () => {
          await sleep(1000);
          const id = `w${next++}`;
          const result = await measure(s, {
            key: "join",
            expected: new Set([...s.workers.keys(), id]),
            timeoutMs: TIMEOUT_MS,
            minimum: (j) => j?.counts.get(id),
            act: async () => (await startWorker(s, [id], TTL_MS)).at,
          });
          row("join", result);
        },
      ],
      [
        "kill",
        async () => {
          const { result } = await stopOneWorker(s, "kill", (child) => child.kill());
          row("kill", result);
        },
      ],
      [
        "leave",
        async () => {
          const { result, child } = await stopOneWorker(s, "leave", (child) => child.process.kill("SIGTERM"));
          const left = await eventOf(child, "left", 30_000).catch(() => undefined);
          row("leave", result, {
            detail: `${result.detail}; ${left === undefined ? "the worker did not report leaving" : `member.leave() took ${left.ms} ms in the worker`}`,
          });
        },
      ],
    ]);
  } finally {
    await closeCluster(s);
  }
}

async function million() {
  const lists = Math.ceil(MILLION / MAX_PER_LIST);
  const s = await cluster("million", MILLION, lists);
  try {
    await runSteps("the 1M scenario", [
      [
        "million",
        async () => {
          const started = performance.now();
          await Promise.all(
            Array.from({ length: MILLION_PROCESSES }, (_, p) =>
              startWorker(
                s,
                Array.from({ length: MEMBERS_PER_PROCESS }, (_, m) => `p${p}m${m}`),
                "default",
                120_000,
              ),
            ),
          );
          const joinedMs = performance.now() - started;
          const result = await measure(s, {
            key: "million",
            expected: liveIds(s),
            timeoutMs: MILLION_TIMEOUT_MS,
            settleMs: 0,
            minimum: s.total,
            act: () => startCoordinator(s),
          });
          row("million", result, {
            detail: `catalog written in ${seconds(s.catalogMs)}, ${s.workers.size} members joined in ${seconds(joinedMs)}; ${result.detail}`,
          });
        },
      ],
    ]);
  } finally {
    await closeCluster(s);
  }
}

async function small() {
  const lists = Math.ceil(SMALL / 100);
  const s = await cluster("small", SMALL, lists);
  try {
    let next = 0;
    const samples = [];
    await runSteps("the small scenario", [
      [
        "small",
        async () => {
          await Promise.all(Array.from({ length: 4 }, () => startWorker(s, [`w${next++}`], "default")));
          await measure(s, {
            key: "small first",
            expected: liveIds(s),
            timeoutMs: TIMEOUT_MS,
            settleMs: 0,
            minimum: s.total,
            act: () => startCoordinator(s),
          });
          for (let r = 0; r < SMALL_REPEATS; r++) {
            await sleep(500);
            const id = `w${next++}`;
            const expected = new Set([...s.workers.keys(), id]);
            const result = await measure(s, {
              key: `small join ${r + 1}`,
              expected,
              timeoutMs: TIMEOUT_MS,
              minimum: (j) => j?.counts.get(id),
              act: async () => (await startWorker(s, [id], "default")).at,
            }).catch((error) => {
              // A join that never balanced is this row's result, not a failure of the benchmark.
              if (error.result !== undefined) error.result.key = "small";
              throw error;
            });
            samples.push(result);
            // Back to 4 workers for the next join.
            const child = s.workers.get(id);
            s.workers.delete(id);
            const at = Date.now();
            child.process.kill("SIGTERM");
            if ((await waitBalanced(s, liveIds(s), at + TIMEOUT_MS, s.running())) === null)
              throw new Error("not balanced after the joiner left");
          }
          const sorted = [...samples].sort((a, b) => a.elapsed - b.elapsed);
          // A join that timed out stands for the row; otherwise the median one.
          const median = samples.find((r) => r.timedOut) ?? sorted[Math.floor(sorted.length / 2)];
          const sum = (field) => samples.reduce((a, r) => a + r[field], 0);
          row(
            "small",
            {
              ...median,
              moved: sum("moved"),
              minimum: sum("minimum"),
              fenced: sum("fenced"),
              rejoined: sum("rejoined"),
              coordinatorErrors: sum("coordinatorErrors"),
            },
            {
              detail: `median of ${samples.length} joins (${samples.map((r) => (r.elapsed === null ? "-" : seconds(r.elapsed))).join(", ")}); moves, fences and errors summed over them; ${median.detail}`,
            },
          );
        },
      ],
    ]);
  } finally {
    await closeCluster(s);
  }
}

// ---- report ----------------------------------------------------------------------------------

const largeLabel = `${LARGE.toLocaleString("en-US")} partitions (${LARGE_LISTS} task lists x ${(LARGE / LARGE_LISTS).toLocaleString("en-US")})`;
/** 100000 -> "100k", 1000000 -> "1M": the rows' short names. */
const short = (n) => (n >= 1e6 && n % 1e6 === 0 ? `${n / 1e6}M` : n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n));
/**
 * The rows in order: short name, event, and target: at most `ms` (the time), and with `moves` the
 * partitions moved equal to the minimum, with `calm` no member fenced, with `errorFree` no
 * coordinator error. "meets target" is "yes" only when every part holds.
 */
const rowOrder = [
  {
    key: "first",
    name: `${short(LARGE)}: first assignment`,
    label: `first assignment, ${largeLabel}, ${WORKERS} workers`,
    target: "≤ 5 s",
    ms: 5000,
    calm: true,
  },
  {
    key: "join",
    name: `${short(LARGE)}: a worker joins`,
    label: `a worker joins (${WORKERS} -> ${WORKERS + 1} workers) -> balanced (${LARGE.toLocaleString("en-US")} partitions)`,
    target: "≤ 3 s",
    ms: 3000,
    moves: true,
    calm: true,
  },
  {
    key: "kill",
    name: `${short(LARGE)}: a worker SIGKILLed`,
    label: `a worker SIGKILLed (${WORKERS + 1} -> ${WORKERS}) -> re-owned and balanced (${LARGE.toLocaleString("en-US")} partitions)`,
    target: `≤ member TTL + 1 s = ${seconds(TTL_MS + 1000)}`,
    ms: TTL_MS + 1000,
    calm: true,
  },
  {
    key: "leave",
    name: `${short(LARGE)}: a worker leaves`,
    label: `graceful leave, SIGTERM -> member.leave() (${WORKERS} -> ${WORKERS - 1}) -> re-owned and balanced (${LARGE.toLocaleString("en-US")} partitions)`,
    target: "≤ 1 s",
    ms: 1000,
    calm: true,
  },
  {
    key: "million",
    name: `${short(MILLION)}, ${MILLION_PROCESSES * MEMBERS_PER_PROCESS} members: first assignment`,
    label: `first assignment, ${MILLION.toLocaleString("en-US")} partitions, ${MILLION_PROCESSES * MEMBERS_PER_PROCESS} members`,
    target: "≤ 60 s",
    ms: 60_000,
    calm: true,
    errorFree: true,
  },
  {
    key: "small",
    name: `small (${SMALL}): a worker joins`,
    label: `a worker joins (4 -> 5 workers) -> owns its share (${SMALL} partitions), default member TTL`,
    target: "≤ 1 s",
    ms: 1000,
    calm: true,
  },
];
for (const r of rowOrder)
  r.target = [r.target, r.moves && "moved = minimum", r.calm && "0 fenced", r.errorFree && "0 coordinator errors"]
    .filter(Boolean)
    .join(", ");

/** "yes", or "no (...)" naming the parts of the target missed. */
function meetsTarget(target, r) {
  const missed = [];
  if (r.timedOut || r.elapsed > target.ms) missed.push("time");
  if (target.moves && r.moved !== r.minimum) missed.push("moves");
  if (target.calm && r.fenced !== 0) missed.push("fenced");
  if (target.errorFree && r.coordinatorErrors !== 0) missed.push("coordinator errors");
  return missed.length === 0 ? "yes" : `no (${missed.join(", ")})`;
}

/** Stops the second worker with `stop` (a SIGKILL, a SIGTERM) and measures until the rest own its share. */
async function stopOneWorker(s, key, stop) {
  await sleep(1000);
  const [id, child] = [...s.workers.entries()][1];
  const before = judge(await readOwnership(s.pool, s.cluster), liveIds(s), s.total);
  s.workers.delete(id);
  const result = await measure(s, {
    key,
    expected: liveIds(s),
    timeoutMs: TIMEOUT_MS,
    minimum: before.counts.get(id),
    act: async () => {
      const at = Date.now();
      stop(child);
      return at;
    },
  });
  return { result, child };
}

function print() {
  const total = seconds(performance.now() - started);
  console.log(`Scale end to end: ${new Date().toISOString()}, ${total} in all`);
  console.log(
    BUSY
      ? `Machine: busy. ${HOGS} CPU hogs (child node processes computing SHA-256 hashes in a tight loop, bench/busy.mjs) ran beside each ` +
          `scenario, started before it and killed after it, on ${availableParallelism()} cores; the raw round trip below was measured beside them too.`
      : "Machine: quiet (nothing but the benchmark's own processes and the database).",
  );
  console.log(
    `One coordinator process (library defaults). Worker processes join with ` +
      `\`join()\`, confirm releases at once ("auto", no onRelease); ${largeLabel} over ${WORKERS}(+1) workers of member TTL ${TTL_MS} ms; ` +
      `the 1M row runs ${MILLION_PROCESSES} worker processes x ${MEMBERS_PER_PROCESS} members (each member its own \`join()\`, one pool per process; ` +
      `100 processes are too many for the machine), member TTL ${DEFAULT_TTL_MS} ms (default); the small row every default (TTL ${DEFAULT_TTL_MS} ms).`,
  );
  console.log(
    "Measured from the event (createCoordinator() or join() called, SIGKILL or SIGTERM sent) to the ownership change " +
      "that made the table balanced, read from helix_allocation (updated_at, the database clock): every partition assigned to " +
      "the live process of an expected member, each owning floor or ceiling of partitions / members. Moved: partitions that changed owner " +
      "(helix_transitions, release requests not counted); minimum: the newcomer's share, the leaver's partitions, or every partition. " +
      "Members fenced (self-fences), rejoins and coordinator errors (round errors, leadership lost): reported by the processes " +
      "from just before the event until the balance was seen. Meets target: yes only when every part of the target holds.",
  );
  if (raw !== undefined) console.log(`raw upsert round trip (sequential, same server): p50 ${ms(raw.p50)} ms, p99 ${ms(raw.p99)} ms\n`);
  console.log(
    "| row | event | target | measured | raw round trip p50 | measured / raw p50 | meets target | members fenced | rejoins | coordinator errors | partitions moved | minimum | moved / minimum |",
  );
  console.log("| --- | --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  const rawCell = raw === undefined ? "-" : `${ms(raw.p50)} ms`;
  const rowNotes = [];
  for (const target of rowOrder) {
    const { key, name, label } = target;
    const r = rows.get(key);
    const head = `| ${name} | ${label} | ${target.target}`;
    if (r === undefined || r.skipped !== undefined) {
      const why = r?.skipped ?? (key === "million" && SKIP_MILLION ? "skipped (HELIX_BENCH_SCALE_SKIP_MILLION=1)" : "not run");
      console.log(`${head} | ${why} | ${rawCell} | - | - | - | - | - | - | - | - |`);
      continue;
    }
    let measured;
    if (!r.timedOut) measured = seconds(r.elapsed);
    else measured = `timed out after ${r.timeoutMs / 1000} s${r.elapsed === null ? "" : ` (balanced after ${seconds(r.elapsed)})`}`;
    const ratio = r.elapsed === null || raw === undefined ? "-" : `${Math.round(r.elapsed / raw.p50).toLocaleString("en-US")}x`;
    const movedRatio = typeof r.moved === "number" && r.minimum > 0 ? (r.moved / r.minimum).toFixed(2) : "-";
    console.log(
      `${head} | ${measured} | ${rawCell} | ${ratio} | ${meetsTarget(target, r)} | ${r.fenced} | ${r.rejoined} | ${r.coordinatorErrors} | ${r.moved ?? "-"} | ${r.minimum ?? "-"} | ${movedRatio} |`,
    );
    if (r.detail !== undefined) rowNotes.push(`- ${key}: ${r.detail}`);
  }
  const all = [...rowNotes, ...notes, ...busyNotes];
  if (all.length > 0) console.log(`\n${all.join("\n")}`);
}

// A last resort: whatever hangs, the benchmark ends.
const budgetMs =
  4 * (TIMEOUT_MS + SETTLE_MS) + (SKIP_MILLION ? 0 : MILLION_TIMEOUT_MS + 600_000) + (SMALL_REPEATS + 1) * 2 * TIMEOUT_MS + 600_000;
const watchdog = setTimeout(() => {
  process.stderr.write(`scale: still running after ${budgetMs / 1000} s; giving up\n`);
  killAll();
  print();
  void dropDatabases().finally(() => process.exit(1));
}, budgetMs);

const scenarioRows = { large: ["first", "join", "kill", "leave"], small: ["small"], million: ["million"] };
try {
  const only = process.env.HELIX_BENCH_SCALE_ONLY?.split(",");
  for (const scenario of [large, small, ...(SKIP_MILLION ? [] : [million])].filter((f) => only === undefined || only.includes(f.name))) {
    let hogs;
    try {
      // Busy: the hogs spin from before the scenario (its database, catalog, processes) to after
      // it; a scenario whose hogs do not start is not run.
      if (BUSY) {
        hogs = await startHogs(HOGS);
        process.stderr.write(`scale: ${scenario.name}: ${HOGS} hogs spinning (pids ${hogs.pids.join(", ")})\n`);
      }
      await scenario();
    } catch (error) {
      failures++;
      process.stderr.write(`scale: ${scenario.name}: ${error.stack}\n`);
      notes.push(`- ${scenario.name}: failed: ${error.message}`);
      // Its rows not reached say so, rather than "not run".
      for (const key of scenarioRows[scenario.name]) if (!rows.has(key)) row(key, { skipped: `failed: ${error.message}` });
    } finally {
      if (hogs !== undefined) {
        const done = await hogs.stop();
        const cpu =
          done.cpuSeconds === undefined
            ? ""
            : `, using ${done.cpuSeconds.toFixed(0)} CPU-s (${(done.cpuSeconds / done.seconds).toFixed(2)} cores on average)`;
        busyNotes.push(
          `- busy, ${scenario.name}: ${done.count} hogs ran ${done.seconds.toFixed(0)} s beside the scenario${cpu}, then were killed`,
        );
        process.stderr.write(`scale: ${scenario.name}: hogs killed (pids ${done.pids.join(", ")})\n`);
      }
    }
  }
} finally {
  killAll();
  await dropDatabases();
  clearTimeout(watchdog);
}
print();
process.exit(failures > 0 ? 1 : 0);
