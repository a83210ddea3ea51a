// A worker process of the scale benchmark:
//   node scale-worker.mjs <url> <cluster> <ttlMs|default> [--returning-within-ms=N] <nodeId>...
// Every node id is a member of its own (its own `join`), all sharing one pool of this process. It
// prints JSON lines: `joining` (with the wall clock, just before the first join() is called) and
// `joined` per member, `ready` once all joined, then only trouble: `fenced` and `rejoined` (with
// the wall clock), errors at most once a second per member with their count. A release is
// confirmed at once (the default "auto", no onRelease). SIGTERM, or stdin closing (the benchmark
// ended or died), makes every member leave; SIGUSR2 drains them (`drained`); then it exits.
import { createPool } from "@helix/db";
import { join } from "@helix/cluster";

const [url, cluster, ttl, ...rest] = process.argv.slice(2);
// --returning-within-ms=N: leave saying the members will be back within N ms (a restart).
const returningWithinMs = Number(rest.find((a) => a.startsWith("--returning-within-ms="))?.split("=")[1] ?? 0);
const nodeIds = rest.filter((a) => !a.startsWith("--"));
const say = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);
const options = ttl === "default" ? { cluster } : { cluster, ttlMs: Number(ttl) };

const pool = await createPool(url);
const members = [];
let leaving;

/**
 * Ends the process once, with every member doing `act` (leaving, or draining), and says `event` with
 * how long it took; `detail` adds to what is said from the members' results.
 */
function end(event, act, detail = () => ({})) {
  leaving ??= (async () => {
    const started = Date.now();
    const results = await Promise.allSettled(members.map(act));
    const failed = results.filter((r) => r.status === "rejected").map((r) => r.reason.message);
    await pool.end().catch(() => undefined);
    say({ event, ...detail(results), failed, ms: Date.now() - started });
    process.exit(failed.length > 0 ? 1 : 0);
  })();
  return leaving;
}
const leave = (why) =>
  end(
    "left",
    (m) => m.leave({ returningWithinMs }),
    () => ({ why }),
  );
process.on("SIGTERM", () => void leave("SIGTERM"));
// SIGUSR2 drains every member (their partitions go to the others through the hand-off), then exits.
process.on("SIGUSR2", () => {
  void end(
    "drained",
    (m) => m.drain(),
    (results) => ({ remaining: results.reduce((n, r) => n + (r.status === "fulfilled" ? r.value.remaining : 0), 0) }),
  );
});
process.stdin.on("end", () => void leave("stdin")).resume();

/** Reports a member's errors at most once a second (a slow database makes thousands), with their count. */
function throttled(nodeId) {
  let count = 0;
  let message;
  let timer;
  const flush = () => {
    timer = undefined;
    if (count === 0) return;
    say({ event: "member-error", nodeId, count, message });
    count = 0;
    timer = setTimeout(flush, 1000);
  };
  return (error) => {
    count++;
    message = error.message;
    if (timer === undefined) flush();
  };
}

try {
  say({ event: "joining", at: Date.now() });
  await Promise.all(
    nodeIds.map(async (nodeId) => {
      const member = await join(pool, { ...options, nodeId });
      members.push(member);
      // With the wall clock: the benchmark counts those inside a row's measurement window.
      member.on("member:fenced", () => say({ event: "fenced", nodeId, at: Date.now() }));
      member.on("member:rejoined", (info) => say({ event: "rejoined", nodeId, reregistered: info?.reregistered, at: Date.now() }));
      const failed = throttled(nodeId);
      member.on("member:error", failed);
      member.on("member:heartbeat-failed", (error) => failed(new Error(`heartbeat failed: ${error.message}`)));
      say({ event: "joined", nodeId, incarnation: member.incarnation, at: Date.now() });
    }),
  );
  say({ event: "ready", at: Date.now() });
} catch (error) {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
}
