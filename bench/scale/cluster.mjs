// A scenario's cluster: its database and catalog, its worker processes by node id, its coordinator
// process; starting them, and closing it all when the scenario ends.
import { fileURLToPath } from "node:url";

import { rawUpsertRoundTrip } from "../stats.mjs";
import { putCatalog } from "./databases.mjs";
import { eventOf, killChildren } from "./processes.mjs";

const workerScript = fileURLToPath(new URL("../scale-worker.mjs", import.meta.url));
const coordinatorScript = fileURLToPath(new URL("../scale-coordinator.mjs", import.meta.url));

/**
 * Opens scenario `name`'s cluster of `total` partitions in `lists` task lists, in a database of its
 * own; the first cluster of the run also measures the raw round trip into `run.results.raw`.
 */
export async function openCluster(run, name, total, lists) {
  const db = await run.databases.open(name);
  const s = {
    ...db,
    name,
    cluster: "scale",
    total,
    /** Worker process by node id, of the members expected to be there. */
    workers: new Map(),
    /** Every worker process started, also those stopped since. */
    spawned: [],
    coordinator: undefined,
    processes: run.processes,
    /** Worker events already counted in a row (the rest are reported as outside the rows' windows). */
    countedEvents: new WeakSet(),
  };
  s.running = () => [...new Set(s.workers.values()), ...(s.coordinator === undefined ? [] : [s.coordinator])];
  if (run.results.raw === undefined) run.results.raw = await rawUpsertRoundTrip(db.pool);
  const t = performance.now();
  s.perList = await putCatalog(db.pool, s.cluster, total, lists);
  s.catalogMs = performance.now() - t;
  return s;
}

/**
 * A worker process with members `nodeIds`; resolves once all joined (their join() wall-clock start
 * in `at`). With `returningWithinMs`, a SIGTERM makes them leave saying they will be back.
 */
export async function startWorker(s, nodeIds, ttl, timeoutMs = 60_000, returningWithinMs = 0) {
  // Members share their process's pool; 6 connections for 10 members keep 100 members within the
  // server's default max_connections (151) beside the coordinator and this process.
  const url = nodeIds.length > 1 ? `${s.url}?connectionLimit=6` : s.url;
  const flags = returningWithinMs > 0 ? [`--returning-within-ms=${returningWithinMs}`] : [];
  const child = s.processes.spawn(workerScript, [url, s.cluster, String(ttl), ...flags, ...nodeIds]);
  child.name = `worker ${nodeIds[0]}${nodeIds.length > 1 ? `..${nodeIds.at(-1)}` : ""}`;
  s.spawned.push(child);
  for (const id of nodeIds) s.workers.set(id, child);
  const joining = await eventOf(child, "joining", timeoutMs);
  await eventOf(child, "ready", timeoutMs);
  return { child, at: joining.at };
}

/** Starts the coordinator process; resolves to the wall-clock time createCoordinator() was called. */
export async function startCoordinator(s) {
  // The planner of a million partitions needs more than the default heap (as in the planner benchmark).
  s.coordinator = s.processes.spawn(coordinatorScript, [s.url, s.cluster], "--max-old-space-size=4096");
  s.coordinator.name = "coordinator";
  return (await eventOf(s.coordinator, "starting", 30_000)).at;
}

/** The node ids of the members expected to be there. */
export const liveIds = (s) => new Set(s.workers.keys());

/** Notes the fences no row counted, kills the cluster's processes and drops its database. */
export async function closeCluster(run, s) {
  // Fences between the rows' windows (while a scenario sets up, between steps) are in no row.
  const outside = s.spawned
    .flatMap((c) => c.events)
    .filter((e) => (e.event === "fenced" || e.event === "rejoined") && !s.countedEvents.has(e));
  const fenced = outside.filter((e) => e.event === "fenced").length;
  if (outside.length > 0)
    run.results.notes.push(
      `- ${s.name}: outside the rows' measurement windows ${fenced} members fenced themselves, ${outside.length - fenced} rejoined`,
    );
  await killChildren(s.running());
  await s.pool.query("DROP DATABASE IF EXISTS ??", [s.database]).catch(() => undefined);
  run.databases.forget(s.database);
  await s.pool.end();
}
