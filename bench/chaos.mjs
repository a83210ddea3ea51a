// The chaos harness: coordinator and worker processes on the real database, with faults injected at
// random from a seeded schedule (the same seed replays the same schedule). Half the workers use a
// plain mysql2 pool (mysql2's default flags) instead of Helix's; coordinators force unconfirmed
// releases as early as they may (forceReleaseAfterMs 0). Faults include a node id reused by a new
// process while the old one is paused, then resumed and told to leave, and a slow database (longer
// than a TTL: latency added to every statement, and a CPU hog beside the processes). Every child
// reaches the server through one TCP proxy of the harness, which adds that latency. Afterwards it checks:
// - no two worker processes (or two generations) believed they owned a partition at the same moment;
// - every partition's generations follow one another in increasing order;
// - the fenced ledger: per partition, committed units of work never go back in generation and
//   never come from two processes (incarnations) at one generation;
// - every partition is owned again, balanced, within a bound after the faults stop;
// - no process exited that was not told to (a crash or an unhandled rejection).
// It prints a report and exits 1 on any violation. How many members fenced themselves during slow
// spells is reported too, as information (a slow database should not make a member fence, but the
// checks above are what safety needs).
//
//   pnpm chaos --minutes 10 --seed 7
//   node bench/chaos.mjs --seconds 60 --seed 7 [--workers 8] [--coordinators 3] [--no-db-restart]
//                        [--unsafe no-fencing|no-confirmation|no-incarnation]   (must report violations)
// HELIX_CHAOS_MYSQL_URL names the server (default mysql://root@127.0.0.1:3306/). A database restart
// is one of the faults when the server is the local MariaDB started by scripts/setup.sh.
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { createCatalog } from "@helix/coordinator";
import { createDatabaseIfMissing, createPool, migrate, serverEngine } from "@helix/db/internal";
import { JsonChild, TcpProxy, seededRandom as random } from "@helix/testing";

import { ledgerViolations, overlapsAndDisorder, ownershipIntervals } from "./chaos/checks.mjs";
import { faultSchedule } from "./chaos/schedule.mjs";

const { values: args } = parseArgs({
  options: {
    minutes: { type: "string" },
    seconds: { type: "string", default: "60" },
    seed: { type: "string", default: "7" },
    workers: { type: "string", default: "8" },
    coordinators: { type: "string", default: "3" },
    unsafe: { type: "string", default: "" },
    "no-db-restart": { type: "boolean", default: false },
    "bound-seconds": { type: "string", default: "30" },
  },
});
const SECONDS = args.minutes === undefined ? Number(args.seconds) : Number(args.minutes) * 60;
const SEED = Number(args.seed);
const WORKERS = Number(args.workers);
const COORDINATORS = Number(args.coordinators);
const UNSAFE = args.unsafe;
const BOUND_MS = Number(args["bound-seconds"]) * 1000;
const NODE_TTL_MS = 1500;
const LEASE_TTL_MS = 1500;
const UNSAFE_MODES = ["no-fencing", "no-confirmation", "no-incarnation"];
if (UNSAFE !== "" && !UNSAFE_MODES.includes(UNSAFE)) throw new Error(`--unsafe must be one of ${UNSAFE_MODES.join(", ")}`);

const here = fileURLToPath(new URL(".", import.meta.url));
const WORKER = join(here, "chaos", "worker.mjs");
const COORDINATOR = join(here, "..", "packages", "coordinator", "test", "fixtures", "coordinator-child.cjs");
const server = new URL(process.env.HELIX_CHAOS_MYSQL_URL ?? "mysql://root@127.0.0.1:3306/");
const database = `helix_chaos_${SEED}_${process.pid}`;
const url = new URL(`/${database}`, server).toString();
const cluster = "chaos";
// Restarts stop and start this machine's MariaDB, so they run only when that is the server under
// test (a TiDB on another port of this host must not cost MariaDB its process; TiDB here keeps its
// data in memory, so it cannot be restarted under a run).
await createDatabaseIfMissing(url);
const admin = await createPool(url);
const engine = await serverEngine(admin);
const localMariaDb = engine === "mariadb" && ["127.0.0.1", "localhost"].includes(server.hostname) && existsSync("/usr/sbin/mariadbd");
const DB_RESTART = localMariaDb && !args["no-db-restart"];
// The server names its own process in its pid file: another mariadbd may run on this machine (on
// another port), and must be neither stopped nor taken for this one when it starts again.
const [[{ pidFile, datadir }]] = localMariaDb ? await admin.query("SELECT @@pid_file AS pidFile, @@datadir AS datadir") : [[{}]];
const PID_FILE = localMariaDb ? (isAbsolute(pidFile) ? pidFile : join(datadir, pidFile)) : undefined;
// Every child connects through this proxy (the harness's own pool does not): a slow-database fault
// delays what they send. It keeps listening across a database restart; new connections reach the
// restarted server.
const proxy = await TcpProxy.start(server);
const childUrl = proxy.url(url);

const schedule = faultSchedule({
  seed: SEED,
  seconds: SECONDS,
  workers: WORKERS,
  coordinators: COORDINATORS,
  dbRestart: DB_RESTART,
  memberTtlMs: NODE_TTL_MS,
  leaseTtlMs: LEASE_TTL_MS,
});
const scheduleHash = createHash("sha256").update(JSON.stringify(schedule)).digest("hex").slice(0, 12);
const logDir = mkdtempSync(join(tmpdir(), "helix-chaos-"));
const log = (line) => process.stdout.write(`[${((performance.now() - startedAt) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);
const startedAt = performance.now();

console.log(
  `chaos: seed ${SEED}, ${SECONDS} s of faults (${schedule.length} scheduled, schedule ${scheduleHash}), ` +
    `${COORDINATORS} coordinators, ${WORKERS} workers on ${engine}, node and lease TTL ${NODE_TTL_MS} ms` +
    `${UNSAFE ? `, UNSAFE workers: ${UNSAFE}` : ""}${DB_RESTART ? "" : ", no database restarts"}`,
);

await migrate(admin);
await admin.query(`CREATE TABLE chaos_ledger (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  task_list VARCHAR(128) NOT NULL,
  partition_id INT UNSIGNED NOT NULL,
  generation BIGINT UNSIGNED NOT NULL,
  node_id VARCHAR(128) NOT NULL,
  incarnation CHAR(32) NOT NULL
)`);
const catalog = await createCatalog(admin, { cluster });
let listNo = 0;
const lists = [];
const rnd = random(SEED + 1);
for (let i = 0; i < 4; i++) {
  const name = `list-${listNo++}`;
  await catalog.putTaskList({ domain: "chaos", taskList: name, partitions: 4 + Math.floor(rnd() * 20) });
  lists.push(name);
}

// Processes, by slot. Clocks are offset by minutes in both directions on some of them.
const offsets = [-5 * 60_000, 0, 3 * 60_000, 90_000, -2 * 60_000, 0, 7 * 60_000, -45_000];
const slots = [];
const unexpected = [];
for (let i = 0; i < COORDINATORS; i++)
  slots.push({ kind: "coordinator", index: i, id: `coordinator-${i}`, offset: offsets[(i + 3) % offsets.length] });
for (let i = 0; i < WORKERS; i++) slots.push({ kind: "worker", index: i, id: `worker-${i}`, offset: offsets[i % offsets.length] });
const slotOf = (kind, index) => slots.find((s) => s.kind === kind && s.index === index);

// Each process a slot runs logs to a file of its own: a node id reused by a new process is another owner.
/** Every process started, by the name of its ownership log (`worker-3.2`: slot worker-3, second run). */
const processes = new Map();
function start(slot) {
  const script = slot.kind === "worker" ? WORKER : COORDINATOR;
  slot.run = (slot.run ?? 0) + 1;
  const argv =
    slot.kind === "worker"
      ? [
          childUrl,
          cluster,
          slot.id,
          String(NODE_TTL_MS),
          join(logDir, `${slot.id}.${slot.run}.log`),
          slot.index % 2 === 0 ? "helix" : "plain",
          UNSAFE,
        ]
      : [childUrl, cluster, slot.id, String(LEASE_TTL_MS), "100", "100", "0"];
  const child = JsonChild.start(script, argv, { clockOffsetMs: slot.offset });
  processes.set(`${slot.id}.${slot.run}`, child);
  slot.child = child;
  slot.paused = false;
  slot.expectExit = false;
  slot.down = false;
  void child.exited.then((code) => {
    if (slot.child !== child) return;
    slot.down = true;
    if (!slot.expectExit || (slot.expectCode !== undefined && code !== slot.expectCode)) {
      unexpected.push({
        id: slot.id,
        code,
        signal: child.process.signalCode,
        stderr: child.stderr.trim().split("\n").slice(-5).join(" | "),
      });
      log(`UNEXPECTED exit of ${slot.id}: code ${code} ${child.stderr.trim().split("\n").slice(-1)[0] ?? ""}`);
    }
  });
}
for (const slot of slots) start(slot);

const timers = new Set();
const later = (ms, fn) => {
  const timer = setTimeout(() => {
    timers.delete(timer);
    fn();
  }, ms);
  timers.add(timer);
};
const executed = new Map();
const skipped = new Map();
const count = (map, kind) => map.set(kind, (map.get(kind) ?? 0) + 1);

function stopSlot(slot, signal, downMs) {
  if (slot.down || slot.child === undefined) return false;
  slot.expectExit = true;
  // SIGTERM makes a worker leave and exit 0 once it is running; one still starting up (no "joined"
  // yet: Node may not even have loaded the script) just dies of it, like a kill.
  slot.expectCode = signal === "SIGTERM" && slot.child.count("joined") > 0 ? 0 : undefined;
  // A pause (or a node-id reuse waiting on one) ends with the process: its timer must not act on it.
  if (slot.paused) resume(slot.child);
  slot.paused = false;
  slot.child.process.kill(signal);
  later(downMs, () => start(slot));
  return true;
}

function pauseSlot(slot, pauseMs) {
  if (slot.down || slot.paused) return false;
  slot.paused = true;
  const child = slot.child;
  stop(child);
  later(pauseMs, () => {
    if (slot.child === child && slot.paused) {
      slot.paused = false;
      resume(child);
    }
  });
  return true;
}

/** The monotonic clock of the workers' events and logs, in µs. */
const nowUs = () => Number(process.hrtime.bigint() / 1000n);
/** When each process was stopped (SIGSTOP) and resumed: a process fenced after a pause was not fenced by slowness. */
const stopped = new Map();
function stop(child) {
  child.process.kill("SIGSTOP");
  const spans = stopped.get(child) ?? [];
  spans.push({ from: nowUs(), to: Infinity });
  stopped.set(child, spans);
}
function resume(child) {
  child.process.kill("SIGCONT");
  const last = stopped.get(child)?.at(-1);
  if (last !== undefined && last.to === Infinity) last.to = nowUs();
}

/**
 * A new process takes the slot's node id while the old one is paused past its TTL; the old one then
 * resumes and, a moment later, is told to leave (SIGTERM): it must touch nothing of the new one's.
 */
function reuseSlot(slot, pauseMs, overlapMs) {
  if (slot.down || slot.paused) return false;
  const old = slot.child;
  slot.paused = true;
  stop(old);
  later(pauseMs, () => {
    if (slot.child !== old || !slot.paused) return;
    slot.paused = false;
    // The old process leaves the slot's books: its exit is expected, and must be clean.
    slot.child = undefined;
    void old.exited.then((code) => {
      if (code !== 0)
        unexpected.push({
          id: `${slot.id} (old process)`,
          code,
          signal: old.process.signalCode,
          stderr: old.stderr.trim().split("\n").slice(-5).join(" | "),
        });
    });
    start(slot);
    later(overlapMs, () => {
      resume(old);
      later(1000, () => old.process.kill("SIGTERM"));
    });
    orphans.push(old);
  });
  return true;
}
const orphans = [];

const reachable = () =>
  new Promise((resolve) => {
    const socket = connect(Number(server.port || 3306), server.hostname);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });

async function restartDatabase(downMs) {
  const pid = readFileSync(PID_FILE, "utf8").trim();
  process.kill(Number(pid), "SIGTERM");
  while (await reachable()) await sleep(50);
  while (existsSync(`/proc/${pid}`)) await sleep(50);
  await sleep(downMs);
  execFileSync("start-stop-daemon", ["--start", "--oknodo", "--background", "--pidfile", PID_FILE, "--exec", "/usr/sbin/mariadbd"]);
  while (!(await reachable())) await sleep(50);
}

/**
 * The slow database: for the spell, every chunk a child sends waits `latencyMs` in the proxy, and
 * two processes spin beside them on the machine's cores. The spell ends by its own timer, or when
 * the faults stop.
 */
const spells = [];
let endSpell = () => undefined;
const hogs = new Set();
process.on("exit", () => {
  for (const hog of hogs) hog.kill("SIGKILL");
});
function slowDatabase(spellMs, latencyMs) {
  const spell = { from: nowUs(), to: undefined, latencyMs, spellMs, loop: monitorEventLoopDelay({ resolution: 10 }) };
  spells.push(spell);
  // The proxy runs on this process's event loop: its delay adds to the latency set.
  spell.loop.enable();
  proxy.setLatency(latencyMs);
  const spinning = [0, 1].map(() => spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }));
  for (const hog of spinning) {
    hogs.add(hog);
    hog.once("exit", () => hogs.delete(hog));
  }
  const timer = setTimeout(() => endSpell(), spellMs);
  endSpell = () => {
    endSpell = () => undefined;
    clearTimeout(timer);
    proxy.setLatency(0);
    for (const hog of spinning) hog.kill("SIGKILL");
    spell.loop.disable();
    spell.to = nowUs();
    log(`slow-database ends after ${Math.round((spell.to - spell.from) / 1000)} ms`);
  };
  return true;
}

let databaseDown = Promise.resolve();
async function run(fault) {
  switch (fault.kind) {
    case "kill-worker":
    case "kill-coordinator":
      return stopSlot(slotOf(fault.kind.slice(5), fault.slot), "SIGKILL", fault.downMs);
    case "leave-worker":
      return stopSlot(slotOf("worker", fault.slot), "SIGTERM", fault.downMs);
    case "pause-worker":
    case "pause-coordinator":
      return pauseSlot(slotOf(fault.kind.slice(6), fault.slot), fault.pauseMs);
    case "reuse-worker":
      return reuseSlot(slotOf("worker", fault.slot), fault.pauseMs, fault.overlapMs);
    case "kill-connections": {
      const [rows] = await admin.query("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()", [database]);
      const pick = random(SEED + fault.at);
      const victims = rows.filter(() => pick() < fault.fraction);
      for (const row of victims) await admin.query("KILL ?", [row.ID]).catch(() => undefined);
      return victims.length > 0;
    }
    case "restart-database":
      databaseDown = restartDatabase(fault.downMs);
      await databaseDown;
      return true;
    case "slow-database":
      return slowDatabase(fault.spellMs, fault.latencyMs);
    case "resize": {
      const name = lists[Math.floor(fault.pick * lists.length)];
      if (name === undefined) return false;
      await catalog.putTaskList({ domain: "chaos", taskList: name, partitions: fault.partitions });
      return true;
    }
    case "add-task-list": {
      const name = `list-${listNo++}`;
      await catalog.putTaskList({ domain: "chaos", taskList: name, partitions: fault.partitions });
      lists.push(name);
      return true;
    }
    case "remove-task-list": {
      if (lists.length <= 1) return false;
      const [name] = lists.splice(Math.floor(fault.pick * lists.length), 1);
      await catalog.removeTaskList("chaos", name);
      return true;
    }
  }
  return false;
}

// The fault phase.
const phaseStart = performance.now();
for (const fault of schedule) {
  const wait = phaseStart + fault.at - performance.now();
  if (wait > 0) await sleep(wait);
  try {
    const done = await run(fault);
    count(done ? executed : skipped, fault.kind);
    if (done)
      log(
        `${fault.kind}${fault.slot === undefined ? "" : ` #${fault.slot}`}${fault.kind === "slow-database" ? ` (${fault.latencyMs} ms per statement, CPU hog, ${fault.spellMs} ms)` : ""}`,
      );
  } catch (error) {
    count(skipped, fault.kind);
    log(`${fault.kind} could not be carried out: ${error.message}`);
  }
}
await sleep(Math.max(0, phaseStart + SECONDS * 1000 - performance.now()));

// Faults stop: everything paused resumes, everything down starts again, the database is fast again.
await databaseDown;
endSpell();
for (const timer of timers) clearTimeout(timer);
timers.clear();
for (const slot of slots) {
  if (slot.paused) {
    slot.paused = false;
    resume(slot.child);
  }
  if (slot.down) start(slot);
}
for (const old of orphans) {
  if (old.process.exitCode !== null || old.process.signalCode !== null) continue;
  resume(old);
  old.process.kill("SIGTERM");
}
const faultsStoppedAt = performance.now();
log("faults stopped; waiting for the cluster to converge");

/** What a worker believes it owns now, from its events since it last started. */
function beliefs(slot) {
  const owned = new Map();
  for (const e of slot.child.events) {
    const key = `${e.taskList}/${e.partition}`;
    if (e.event === "assigned") owned.set(key, e.generation);
    if (e.event === "released" || e.event === "lost") owned.delete(key);
  }
  return owned;
}

/** Why the cluster is not converged yet (the last reason is reported when it never converges). */
let notConverged = "";
async function converged() {
  const why = (reason) => {
    notConverged = reason;
    return false;
  };
  const [rows] = await admin.query(
    `SELECT a.task_list, a.partition_id, a.node_id, a.state, a.generation FROM helix_allocation AS a
     JOIN helix_cluster AS c ON c.cluster = a.cluster AND c.domain = a.domain AND c.task_list = a.task_list
     WHERE a.cluster = ? AND c.status = 1 AND a.partition_id < c.partitions`,
    [cluster],
  );
  const [[{ total }]] = await admin.query(
    "SELECT COALESCE(SUM(partitions), 0) AS total FROM helix_cluster WHERE cluster = ? AND status = 1",
    [cluster],
  );
  const workers = slots.filter((s) => s.kind === "worker");
  const ids = new Set(workers.map((s) => s.id));
  const open = rows.filter((r) => r.state !== 1 || !ids.has(r.node_id));
  if (rows.length !== Number(total) || open.length > 0) {
    return why(
      `${Number(total) - rows.length} partitions without a row; not assigned: ${open
        .slice(0, 5)
        .map((r) => `${r.task_list}/${r.partition_id} state ${r.state} at ${r.node_id}`)
        .join(", ")}`,
    );
  }
  const perList = new Map();
  for (const r of rows) {
    const counts = perList.get(r.task_list) ?? new Map([...ids].map((id) => [id, 0]));
    counts.set(r.node_id, counts.get(r.node_id) + 1);
    perList.set(r.task_list, counts);
  }
  const uneven = [...perList].find(([, c]) => Math.max(...c.values()) - Math.min(...c.values()) > 1);
  if (uneven !== undefined) return why(`unbalanced ${uneven[0]}: ${[...uneven[1]].map(([id, n]) => `${id} ${n}`).join(", ")}`);
  for (const slot of workers) {
    const believed = beliefs(slot);
    const mine = rows.filter((r) => r.node_id === slot.id);
    if (believed.size !== mine.length || mine.some((r) => believed.get(`${r.task_list}/${r.partition_id}`) !== Number(r.generation))) {
      const events = slot.child.events
        .slice(-6)
        .map((e) => JSON.stringify(e))
        .join(" ");
      const [[node]] = await admin.query(
        "SELECT incarnation, status, expires_at > UTC_TIMESTAMP(6) AS live FROM helix_nodes WHERE cluster = ? AND node_id = ?",
        [cluster, slot.id],
      );
      const [owned] = await admin.query(
        "SELECT incarnation, COUNT(*) AS n FROM helix_allocation WHERE cluster = ? AND node_id = ? GROUP BY incarnation",
        [cluster, slot.id],
      );
      return why(
        `${slot.id} believes ${believed.size} partitions, the table gives it ${mine.length} ` +
          `(by incarnation: ${owned.map((o) => `${o.incarnation === node?.incarnation ? "live" : o.incarnation} ${o.n}`).join(", ")}; ` +
          `node status ${node?.status} live ${node?.live}); last events: ${events}`,
      );
    }
  }
  return true;
}

// Converged means settled: the state must hold for STABLE_MS (longer than a TTL), so that a process
// resumed from a pause and still to learn that it lost its partitions does not count as settled.
const STABLE_MS = 2 * Math.max(NODE_TTL_MS, LEASE_TTL_MS);
let convergedAfterMs = null;
let stableSince = null;
while (performance.now() - faultsStoppedAt < BOUND_MS + STABLE_MS) {
  if (await converged().catch(() => false)) {
    stableSince ??= performance.now();
    if (performance.now() - stableSince >= STABLE_MS) {
      convergedAfterMs = stableSince - faultsStoppedAt;
      break;
    }
  } else {
    stableSince = null;
  }
  await sleep(100);
}
log(
  convergedAfterMs === null
    ? `NOT converged within ${BOUND_MS} ms: ${notConverged}`
    : `converged after ${Math.round(convergedAfterMs)} ms (and stayed so for ${STABLE_MS} ms)`,
);
// What the coordinators were doing: who led, and whether their rounds failed, and why.
if (convergedAfterMs === null) {
  for (const slot of slots.filter((s) => s.kind === "coordinator")) {
    log(
      `${slot.id}, last events: ${slot.child.events
        .slice(-8)
        .map((e) => JSON.stringify(e))
        .join(" ")}`,
    );
  }
}

// Shut everything down gracefully; each must exit 0.
await Promise.all(
  slots.map(async (slot) => {
    slot.expectExit = true;
    slot.expectCode = 0;
    // Coordinators stop when their stdin closes, workers leave on SIGTERM.
    if (slot.kind === "coordinator") slot.child.process.stdin.end();
    else slot.child.process.kill("SIGTERM");
    const timer = setTimeout(() => {
      log(
        `${slot.id} did not exit within 15 s of being told to; last events: ${slot.child.events
          .slice(-4)
          .map((e) => JSON.stringify(e))
          .join(" ")}`,
      );
      slot.child.kill();
    }, 15_000);
    await slot.child.exited;
    clearTimeout(timer);
  }),
);
await Promise.all(orphans.map((old) => old.exited));
await proxy.close();

// Slow spells: who fenced itself in one (or within a TTL after it, while what was sent in it is
// answered). A process that was stopped (paused) in the TTL before its fence was fenced by the
// pause, and is counted apart; so for the other events. Information only: safety is the checks below.
const ttlUs = Math.max(NODE_TTL_MS, LEASE_TTL_MS) * 1000;
const slowFences = [];
const pausedFences = [];
const slowEvents = { heartbeatFailed: 0, reregistered: 0, leadershipLost: 0 };
for (const [name, child] of processes) {
  for (const e of child.events) {
    const spell = spells.find((s) => e.t >= s.from && e.t <= s.to + ttlUs);
    if (spell === undefined) continue;
    const paused = (stopped.get(child) ?? []).some((span) => span.from <= e.t && span.to >= e.t - ttlUs);
    if (e.event === "fenced") {
      (paused ? pausedFences : slowFences).push({ name, spell: spells.indexOf(spell), afterMs: Math.round((e.t - spell.from) / 1000) });
    }
    if (paused) continue;
    if (name.startsWith("worker-") && e.event === "heartbeat-failed") slowEvents.heartbeatFailed++;
    if (name.startsWith("worker-") && e.event === "rejoined" && e.reregistered === true) slowEvents.reregistered++;
    if (name.startsWith("coordinator-") && e.event === "lost") slowEvents.leadershipLost++;
  }
}

const { intervals, ticks } = ownershipIntervals(logDir);
const { overlaps, disorder, spans } = overlapsAndDisorder(intervals);

// The audit trail of the first overlap's partition (read before the database goes).
let firstOverlapAudit = [];
if (overlaps.length > 0) {
  const [taskList, partition] = overlaps[0].partition.split("/");
  [firstOverlapAudit] = await admin.query(
    "SELECT epoch, kind, from_node_id, to_node_id, generation FROM helix_transitions WHERE cluster = ? AND task_list = ? AND partition_id = ? ORDER BY id",
    [cluster, taskList, Number(partition)],
  );
}

// The fenced ledger, in commit order.
const [ledgerRows] = await admin.query("SELECT task_list, partition_id, generation, incarnation FROM chaos_ledger ORDER BY id");
const { back: ledgerBack, twoOwners: ledgerTwoOwners, processes: ledgerIncarnations } = ledgerViolations(ledgerRows);

await catalog.close();
await admin.query("DROP DATABASE ??", [database]).catch(() => undefined);
await admin.end();
rmSync(logDir, { recursive: true, force: true, maxRetries: 5 });

console.log(`\n## Chaos run: seed ${SEED}, schedule ${scheduleHash}, ${SECONDS} s of faults${UNSAFE ? ` (UNSAFE: ${UNSAFE})` : ""}\n`);
console.log("| fault | carried out | skipped (target down or busy) |");
console.log("| --- | ---: | ---: |");
for (const kind of [...new Set(schedule.map((f) => f.kind))].sort())
  console.log(`| ${kind} | ${executed.get(kind) ?? 0} | ${skipped.get(kind) ?? 0} |`);
const violations =
  overlaps.length + disorder.length + ledgerBack.length + ledgerTwoOwners.length + unexpected.length + (convergedAfterMs === null ? 1 : 0);
console.log("\n| check | result |");
console.log("| --- | --- |");
console.log(`| ownership recorded | ${spans} intervals of ${intervals.size} partitions from ${ticks} work ticks |`);
console.log(`| overlapping ownership (two owners at one moment) | ${overlaps.length} |`);
console.log(`| generations out of order | ${disorder.length} |`);
console.log(`| fenced ledger | ${ledgerRows.length} units of work from ${ledgerIncarnations} processes |`);
console.log(`| ledger: a partition's generation going back | ${ledgerBack.length} |`);
console.log(`| ledger: two processes at one generation | ${ledgerTwoOwners.length} |`);
console.log(
  `| owned again, balanced, after the faults stopped | ${convergedAfterMs === null ? `NO, not within ${BOUND_MS} ms` : `${Math.round(convergedAfterMs)} ms (bound ${BOUND_MS} ms)`} |`,
);
console.log(`| unexpected exits (crashes, unhandled rejections) | ${unexpected.length} |`);
if (spells.length > 0) {
  const slowMs = spells.reduce((a, s) => a + (s.to - s.from) / 1000, 0);
  console.log(
    `| slow database (information, not a violation): members fenced in slow spells | ${slowFences.length} in ${spells.length} spell(s) of ` +
      `${Math.round(slowMs)} ms in all (${pausedFences.length} more after a pause); besides paused processes, ${slowEvents.reregistered} ` +
      `members declared dead and registered again, ${slowEvents.heartbeatFailed} failed heartbeats, ${slowEvents.leadershipLost} leaderships lost |`,
  );
}
for (const o of overlaps.slice(0, 5))
  console.log(
    `  overlap on ${o.partition}: ${o.a.node} gen ${o.a.generation} until ${o.a.to} µs, ${o.b.node} gen ${o.b.generation} from ${o.b.from} µs`,
  );
// What both processes of the first overlap said in the seconds before it (same clock as the log).
if (overlaps.length > 0) {
  const { a, b } = overlaps[0];
  for (const node of [a.node, b.node]) {
    const events = (processes.get(node)?.events ?? []).filter((e) => e.t >= b.from - 5_000_000 && e.t <= a.to + 500_000);
    console.log(`  ${node} before the first overlap: ${events.map((e) => JSON.stringify(e)).join(" ")}`);
  }
  console.log(`  audit of ${overlaps[0].partition}: ${firstOverlapAudit.map((r) => JSON.stringify(r)).join(" ")}`);
  for (const slot of slots.filter((x) => x.kind === "coordinator")) {
    const events = [...processes].filter(([name]) => name.startsWith(`${slot.id}.`)).flatMap(([, child]) => child.events);
    console.log(
      `  ${slot.id}: ${events
        .filter((e) => e.t === undefined || (e.t >= a.to - 5_000_000 && e.t <= a.to + 500_000))
        .slice(-30)
        .map((e) => JSON.stringify(e))
        .join(" ")}`,
    );
  }
}
for (const d of disorder.slice(0, 5))
  console.log(`  out of order on ${d.partition}: gen ${d.a.generation} (${d.a.node}) then gen ${d.b.generation} (${d.b.node})`);
for (const b of ledgerBack.slice(0, 5)) console.log(`  ledger on ${b.partition}: gen ${b.to} committed after gen ${b.from}`);
for (const w of ledgerTwoOwners.slice(0, 5)) console.log(`  ledger on ${w.at}: units from processes ${w.a} and ${w.b}`);
for (const u of unexpected.slice(0, 5)) console.log(`  ${u.id} exited with ${u.code ?? u.signal}: ${u.stderr}`);
for (const [i, s] of spells.entries()) {
  const fenced = slowFences.filter((f) => f.spell === i);
  console.log(
    `  slow spell ${i + 1}: ${s.latencyMs} ms per statement for ${Math.round((s.to - s.from) / 1000)} ms ` +
      `(the proxy's event loop delayed p99 ${Math.round(s.loop.percentile(99) / 1e6)} ms, max ${Math.round(s.loop.max / 1e6)} ms); fenced: ` +
      `${fenced.length === 0 ? "none" : fenced.map((f) => `${f.name} at +${f.afterMs} ms`).join(", ")}`,
  );
}
// What the first member fenced in a slow spell said from the spell's start to its fence (t: µs
// from the spell's start).
if (slowFences.length > 0) {
  const { name, spell, afterMs } = slowFences[0];
  const from = spells[spell].from;
  const events = processes
    .get(name)
    .events.filter((e) => e.t >= from && e.t <= from + afterMs * 1000 + 1000 && !["assigned", "released", "lost"].includes(e.event));
  console.log(
    `  ${name} in slow spell ${spell + 1} until its fence: ${events
      .slice(-12)
      .map((e) => JSON.stringify({ ...e, t: e.t - from }))
      .join(" ")}`,
  );
}
console.log(violations === 0 ? "\nchaos: no violations" : `\nchaos: ${violations} violation(s)`);
process.exit(violations === 0 ? 0 : 1);
