// A chaos worker:  node worker.mjs <url> <cluster> <nodeId> <ttlMs> <log file> <pool> [unsafe]
// It joins the cluster (retrying while an earlier process with the same node id is still live),
// and every 10 ms records, in <log file>, the partitions it believes it owns at that moment (one
// JSON line: the monotonic clock in microseconds, shared by every process on the machine, and
// [taskList, partition, generation] for each). Every 50 ms it writes one unit of work for one of
// its partitions into the ledger table `chaos_ledger`, in a transaction fenced by the partition
// (`partition.fence(conn)`). A release is confirmed after the unit of work in flight. SIGTERM makes
// it leave; SIGUSR2 makes it leave saying it will be back; SIGUSR1 makes it drain (its partitions go
// to the others while it works the rest), then leave. Events go to stdout as JSON lines (`fenced` when the member fences itself).
//
// <pool>: `helix` (the member makes its pool from the URL) or `plain` (a mysql2 pool with mysql2's
// default flags, FOUND_ROWS on, handed to join()).
//
// `unsafe` is for proving that the checker finds violations:
//   no-fencing       believe the events only, ignoring the member's own deadline (self-fencing);
//   no-confirmation  confirm every release at once and keep working on the partition a while;
//   no-incarnation   every statement the member sends loses its incarnation condition (a stale
//                    process of a reused node id can heartbeat, read, confirm, fence and leave as
//                    if it were the new one);
//   no-ledger-fence  believe the events only, as no-fencing, and write units of work without the
//                    partition fence (what the fenced ledger's checks exist to catch).
import { appendFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

import { AlreadyJoinedError, join } from "@helix/cluster";
import { createPool as createMysqlPool } from "mysql2/promise";

const [url, cluster, nodeId, ttlMs, logFile, poolKind, unsafe = ""] = process.argv.slice(2);
const now = () => Number(process.hrtime.bigint() / 1000n);
// Events carry the time of the ownership log (t), so that a violation can be read against them.
const say = (event) => process.stdout.write(`${JSON.stringify({ ...event, t: now() })}\n`);

/** Rewrites each statement without its `AND incarnation = ?` conditions (and their values). */
function withoutIncarnation(client) {
  const strip = (options) => {
    if (!/AND incarnation = \?/.test(options.sql)) return options;
    const values = [...options.values];
    let index = 0;
    const sql = options.sql.replace(/AND incarnation = \?|\?/g, (match) => {
      if (match === "?") {
        index++;
        return match;
      }
      values.splice(index, 1);
      return "";
    });
    return { ...options, sql, values };
  };
  return {
    query: (options) => client.query(strip(options)),
    getConnection: async () => {
      const conn = await client.getConnection();
      return {
        query: (options) => conn.query(strip(options)),
        beginTransaction: () => conn.beginTransaction(),
        commit: () => conn.commit(),
        rollback: () => conn.rollback(),
        release: () => conn.release(),
      };
    },
  };
}

// The pool the worker's own writes (the ledger) go through; also the member's unless it makes its own.
const pool = createMysqlPool(url);
let source = poolKind === "plain" ? pool : url;
if (unsafe === "no-incarnation") source = withoutIncarnation(pool);
const ledgerPool = unsafe === "no-incarnation" ? source : pool;

let inFlight = Promise.resolve();
let member;
let tick;
let ledger;
// SIGTERM leaves (or, before the member joined, just exits); SIGUSR2 leaves saying the member will
// be back within three TTLs (a restart: the harness starts the node id again, sooner or later than
// that). A second signal (the harness resumes and stops every process when the faults end) must not
// cut a leave in progress short.
let leaving = false;
const leaveOn = (returningWithinMs) => {
  if (leaving) return;
  leaving = true;
  if (member === undefined) process.exit(0);
  clearInterval(tick);
  clearInterval(ledger);
  void inFlight
    .then(() => member.leave({ returningWithinMs }))
    .then(
      () => say({ event: "left" }),
      // The database may be down (a fault): the member then expires by its TTL instead.
      (error) => say({ event: "leave-failed", message: error.message }),
    )
    .then(() => pool.end().catch(() => undefined))
    .then(() => process.exit(0));
};
process.on("SIGTERM", () => leaveOn(0));
process.on("SIGUSR2", () => leaveOn(3 * Number(ttlMs)));
// A drain keeps the work going on the partitions not yet handed over; it leaves when it owns none, or
// after two TTLs whatever it still owns (the harness may stop the process before: a SIGTERM then
// leaves at once, ending the drain).
let draining = false;
process.on("SIGUSR1", () => {
  if (leaving || draining) return;
  if (member === undefined) process.exit(0);
  draining = true;
  void member
    .drain({ timeoutMs: 2 * Number(ttlMs) })
    .then(
      ({ remaining }) => say({ event: "drained", remaining }),
      (error) => say({ event: "drain-failed", message: error.message }),
    )
    .then(() => {
      clearInterval(tick);
      clearInterval(ledger);
      return inFlight;
    })
    .then(() => pool.end().catch(() => undefined))
    .then(() => process.exit(0));
});
for (;;) {
  try {
    member = await join(source, {
      cluster,
      nodeId,
      ttlMs: Number(ttlMs),
      heartbeatMs: Math.floor(Number(ttlMs) / 4),
      sweepIntervalMs: Number(ttlMs),
      confirmReleases: unsafe === "no-confirmation" ? "manual" : "auto",
      onRelease: () => inFlight,
    });
    break;
  } catch (error) {
    if (!(error instanceof AlreadyJoinedError) && error?.code !== "HELIX_DATABASE_UNAVAILABLE") throw error;
    await sleep(250);
  }
}
say({ event: "joined", incarnation: member.incarnation });

// What the member's events say it owns (the unsafe worker's only view).
const believed = new Map();
const key = (p) => `${p.taskList}\u0000${p.partition}`;
member.on("partition:assigned", (p) => {
  believed.set(key(p), p);
  say({ event: "assigned", taskList: p.taskList, partition: p.partition, generation: p.generation });
});
member.on("partition:release-requested", (p) => {
  if (unsafe === "no-confirmation") {
    void member.confirmRelease(p);
    setTimeout(() => believed.delete(key(p)), 500);
  } else {
    believed.delete(key(p));
  }
});
member.on("partition:released", (p) => {
  if (unsafe !== "no-confirmation") believed.delete(key(p));
  say({ event: "released", taskList: p.taskList, partition: p.partition, generation: p.generation });
});
member.on("partition:lost", (p, reason) => {
  believed.delete(key(p));
  say({ event: "lost", taskList: p.taskList, partition: p.partition, generation: p.generation, reason });
});
member.on("member:error", (error) => say({ event: "member-error", message: error.message }));
member.on("member:heartbeat-failed", (error) => say({ event: "heartbeat-failed", message: error.message }));
// Fenced: the member stopped every partition itself (its heartbeat deadline passed, or a heartbeat
// found it declared dead); the harness counts these during a slow database.
member.on("member:fenced", () => say({ event: "fenced" }));
member.on("member:rejoined", ({ incarnation, reregistered }) => say({ event: "rejoined", incarnation, reregistered }));

const unsafeBelief = unsafe !== "";
tick = setInterval(() => {
  inFlight = inFlight.then(() => {
    const t = now();
    const owned = [];
    for (const p of believed.values()) {
      // The safe worker checks its ownership (and with it the member's deadline) before each unit of work.
      if (unsafeBelief || p.isOwned()) owned.push([p.taskList, p.partition, p.generation]);
    }
    if (owned.length > 0) appendFileSync(logFile, `${JSON.stringify({ t, owned })}\n`);
  });
}, 10);

// One unit of work every 50 ms, round robin over the partitions it believes it owns, committed only
// through the partition fence. Failures are expected under faults; the unit is skipped.
let turn = 0;
ledger = setInterval(() => {
  const partitions = [...believed.values()];
  if (partitions.length === 0) return;
  const p = partitions[turn++ % partitions.length];
  inFlight = inFlight.then(async () => {
    let conn;
    try {
      conn = await ledgerPool.getConnection();
      await conn.beginTransaction();
      if (unsafe !== "no-ledger-fence") await p.fence(conn);
      await conn.query({
        sql: "INSERT INTO chaos_ledger (task_list, partition_id, generation, node_id, incarnation) VALUES (?, ?, ?, ?, ?)",
        values: [p.taskList, p.partition, p.generation, nodeId, p.incarnation],
      });
      await conn.commit();
    } catch {
      await conn?.rollback().catch(() => undefined);
    } finally {
      conn?.release();
    }
  });
}, 50);
