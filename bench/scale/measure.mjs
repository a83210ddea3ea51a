// Measuring a scenario's membership changes: reading the ownership table until it is balanced, the
// partitions moved, and what the processes reported inside each measurement window. `s` is a
// scenario's cluster (cluster.mjs).
import { setTimeout as sleep } from "node:timers/promises";

import { checkAlive } from "./processes.mjs";

/** How every measured time is written: "0.48 s", "36.5 s". */
export const seconds = (xMs) => `${(xMs / 1000).toFixed(xMs < 10_000 ? 2 : 1)} s`;

/** The ownership table grouped by owner process and state, with the members' liveness. */
export async function readOwnership(pool, cluster) {
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
export function judge({ groups, members }, expected, total) {
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
  const [[row]] = await pool.query(
    "SELECT COALESCE(SUM(partition_count), 0) AS n FROM helix_transitions WHERE cluster = ? AND id > ? AND kind <> 5",
    [cluster, after],
  );
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
export async function waitBalanced(s, expected, deadline, running) {
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

/**
 * One measured membership change: `act()` makes it and returns its wall-clock time; then waits for
 * balance over `expected` within `timeoutMs`. On a timeout it waits up to `settleMs` more so that
 * the next step starts balanced, and throws when even that does not come.
 */
export async function measure(s, { key, expected, timeoutMs, settleMs, minimum, act }) {
  const before = await lastTransition(s.pool, s.cluster);
  const window = { start: s.processes.eventCounts(), end: undefined };
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
  window.end = s.processes.eventCounts();
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

/**
 * A row's columns: members fenced and rejoined, coordinator errors, in the measurement window. The
 * fences and rejoins counted are marked in `s.countedEvents`, so that the cluster's close can report
 * the others.
 */
function windowCounts(s, window) {
  const { coordinator, workers } = windowEvents(s, window);
  const fenced = workers.filter((e) => e.event === "fenced");
  const rejoined = workers.filter((e) => e.event === "rejoined");
  for (const e of [...fenced, ...rejoined]) s.countedEvents.add(e);
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
