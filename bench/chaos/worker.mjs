// A chaos worker:  node worker.mjs <url> <cluster> <nodeId> <ttlMs> <log file> [unsafe]
// It joins the cluster (retrying while an earlier incarnation of the same node id is still live),
// and every 10 ms records, in <log file>, the partitions it believes it owns at that moment (one
// JSON line: the monotonic clock in microseconds, shared by every process on the machine, and
// [taskList, partition, generation] for each). A release is confirmed after the unit of work in
// flight. SIGTERM makes it leave. Events go to stdout as JSON lines.
//
// `unsafe` is for proving that the checker finds violations:
//   no-fencing       believe the events only, ignoring the member's own deadline (self-fencing);
//   no-confirmation  confirm every release at once and keep working on the partition a while.
import { appendFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

import { AlreadyJoinedError, join } from "@helix/cluster";

const [url, cluster, nodeId, ttlMs, logFile, unsafe = ""] = process.argv.slice(2);
const say = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);
const now = () => Number(process.hrtime.bigint() / 1000n);

let inFlight = Promise.resolve();
let member;
for (;;) {
  try {
    member = await join(url, {
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
say({ event: "joined" });

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

const tick = setInterval(() => {
  inFlight = inFlight.then(() => {
    const t = now();
    const owned = [];
    for (const p of believed.values()) {
      // The safe worker checks its ownership (and with it the member's deadline) before each unit of work.
      if (unsafe === "no-fencing" || unsafe === "no-confirmation" || p.isOwned()) owned.push([p.taskList, p.partition, p.generation]);
    }
    if (owned.length > 0) appendFileSync(logFile, `${JSON.stringify({ t, owned })}\n`);
  });
}, 10);

process.once("SIGTERM", () => {
  clearInterval(tick);
  void inFlight
    .then(() => member.leave())
    .then(
      () => say({ event: "left" }),
      // The database may be down (a fault): the member then expires by its TTL instead.
      (error) => say({ event: "leave-failed", message: error.message }),
    )
    .then(() => process.exit(0));
});
