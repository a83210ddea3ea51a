// The chaos harness: coordinator and worker processes on the real database, with faults injected at
// random from a seeded schedule (the same seed replays the same schedule). Half the workers use a
// plain mysql2 pool (mysql2's default flags) instead of Helix's; coordinators force unconfirmed
// releases as early as they may (forceReleaseAfterMs 0). Faults include a node id reused by a new
// process while the old one is paused, then resumed and told to leave, a worker that leaves saying
// it will be back (its partitions reserved for its node id) and comes back sooner or later than it
// said, drains, maintenance, an operator's moves and pins (lifted when the faults stop), and a slow
// database (longer than a TTL: latency added to every statement, and a CPU hog beside the processes). Every child
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
//                        [--unsafe no-fencing|no-confirmation|no-incarnation|no-ledger-fence]   (must report violations)
//                        [--faults pause-worker,reuse-worker]   (only these kinds of fault)
// HELIX_CHAOS_MYSQL_URL names the server (default mysql://root@127.0.0.1:3306/). A database restart
// is one of the faults when the server is the local MariaDB started by scripts/setup.sh.
// The parts live in bench/chaos/: the fault schedule (schedule.mjs), the processes by slot
// (slots.mjs), the database faults (database-faults.mjs), the convergence check (convergence.mjs),
// the checks of what the processes recorded (checks.mjs) and the report (report.mjs); this script
// sets the run up, carries out the schedule, waits for convergence and exits with the verdict.
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import {
  createCatalog,
  endMaintenance,
  liftMemberPlacements,
  moveMemberPartitions,
  movePartition,
  pinPartition,
  readHistory,
  startMaintenance,
} from "@helix/coordinator";
import { createDatabaseIfMissing, createPool, migrate, serverEngine } from "@helix/db/internal";
import { TcpProxy, seededRandom as random } from "@helix/testing";

import { ledgerViolations, overlapsAndDisorder, ownershipIntervals } from "./chaos/checks.mjs";
import { whyNotConverged } from "./chaos/convergence.mjs";
import { DatabaseFaults, restartablePidFile } from "./chaos/database-faults.mjs";
import { printReport } from "./chaos/report.mjs";
import { faultSchedule } from "./chaos/schedule.mjs";
import { Slots } from "./chaos/slots.mjs";

const { values: args } = parseArgs({
  options: {
    minutes: { type: "string" },
    seconds: { type: "string", default: "60" },
    seed: { type: "string", default: "7" },
    workers: { type: "string", default: "8" },
    coordinators: { type: "string", default: "3" },
    unsafe: { type: "string", default: "" },
    faults: { type: "string", default: "" },
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
const MEMBER_TTL_MS = 1500;
const LEASE_TTL_MS = 1500;
const UNSAFE_MODES = ["no-fencing", "no-confirmation", "no-incarnation", "no-ledger-fence"];
if (UNSAFE !== "" && !UNSAFE_MODES.includes(UNSAFE)) throw new Error(`--unsafe must be one of ${UNSAFE_MODES.join(", ")}`);
/** Only these fault kinds (comma-separated), or every kind. */
const ONLY_FAULTS = args.faults === "" ? undefined : args.faults.split(",");

const here = fileURLToPath(new URL(".", import.meta.url));
const WORKER = join(here, "chaos", "worker.mjs");
const COORDINATOR = join(here, "..", "packages", "coordinator", "test", "fixtures", "coordinator-child.cjs");
const server = new URL(process.env.HELIX_CHAOS_MYSQL_URL ?? "mysql://root@127.0.0.1:3306/");
const database = `helix_chaos_${SEED}_${process.pid}`;
const url = new URL(`/${database}`, server).toString();
const cluster = "chaos";
await createDatabaseIfMissing(url);
const admin = await createPool(url);
const engine = await serverEngine(admin);
const pidFile = await restartablePidFile({ admin, server, engine });
const DB_RESTART = pidFile !== undefined && !args["no-db-restart"];
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
  memberTtlMs: MEMBER_TTL_MS,
  leaseTtlMs: LEASE_TTL_MS,
  only: ONLY_FAULTS,
});
const scheduleHash = createHash("sha256").update(JSON.stringify(schedule)).digest("hex").slice(0, 12);
const logDir = mkdtempSync(join(tmpdir(), "helix-chaos-"));
const log = (line) => process.stdout.write(`[${((performance.now() - startedAt) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);
const startedAt = performance.now();

console.log(
  `chaos: seed ${SEED}, ${SECONDS} s of faults (${schedule.length} scheduled, schedule ${scheduleHash}), ` +
    `${COORDINATORS} coordinators, ${WORKERS} workers on ${engine}, member and lease TTL ${MEMBER_TTL_MS} ms` +
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

const slots = new Slots({
  coordinators: COORDINATORS,
  workers: WORKERS,
  workerScript: WORKER,
  coordinatorScript: COORDINATOR,
  childUrl,
  cluster,
  logDir,
  nodeTtlMs: MEMBER_TTL_MS,
  leaseTtlMs: LEASE_TTL_MS,
  unsafe: UNSAFE,
  log,
});
slots.startAll();
const databaseFaults = new DatabaseFaults({ admin, database, server, pidFile, proxy, log });

/** How many faults of each kind were carried out, and skipped (their target down or busy). */
const executed = new Map();
const skipped = new Map();
const count = (map, kind) => map.set(kind, (map.get(kind) ?? 0) + 1);

/** The harness's timer that ends a maintenance spell early. */
let maintenanceEnd;

/** Carries out one fault of the schedule; false if it could not be (its target down or busy). */
async function run(fault) {
  switch (fault.kind) {
    case "kill-worker":
    case "kill-coordinator":
      return slots.kill(slots.slot(fault.kind.slice(5), fault.slot), "SIGKILL", fault.downMs);
    case "leave-worker":
      return slots.kill(slots.slot("worker", fault.slot), "SIGTERM", fault.downMs);
    case "restart-worker":
      return slots.kill(slots.slot("worker", fault.slot), "SIGUSR2", fault.downMs);
    case "drain-worker":
      return slots.kill(slots.slot("worker", fault.slot), "SIGUSR1", fault.downMs);
    case "pause-worker":
    case "pause-coordinator":
      return slots.pause(slots.slot(fault.kind.slice(6), fault.slot), fault.pauseMs);
    case "reuse-worker":
      return slots.reuse(slots.slot("worker", fault.slot), fault.pauseMs, fault.overlapMs);
    case "kill-connections":
      return databaseFaults.killConnections(fault.fraction, random(SEED + fault.at));
    case "restart-database":
      return databaseFaults.restart(fault.downMs);
    case "slow-database":
      return databaseFaults.slow(fault.spellMs, fault.latencyMs);
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
    case "maintenance": {
      await startMaintenance(admin, cluster, { reason: "chaos", actor: "chaos harness", expiresInMs: fault.spellMs });
      if (fault.endEarly) {
        clearTimeout(maintenanceEnd);
        maintenanceEnd = setTimeout(() => {
          endMaintenance(admin, cluster).catch((error) => log(`maintenance could not be ended early: ${error.message}`));
        }, fault.spellMs / 2);
      }
      return true;
    }
    case "operator-move": {
      const to = `worker-${fault.slot}`;
      const by = { actor: "chaos harness", reason: "chaos" };
      if (fault.how === "all") return (await moveMemberPartitions(admin, cluster, `worker-${fault.from}`, to, by)) > 0;
      const name = lists[Math.floor(fault.pick * lists.length)];
      if (name === undefined) return false;
      const place = fault.how === "pin" ? pinPartition : movePartition;
      await place(admin, cluster, { domain: "chaos", taskList: name, partition: fault.partition }, to, by);
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
        `${fault.kind}${fault.slot === undefined ? "" : ` #${fault.slot}`}${fault.kind === "slow-database" ? ` (${fault.latencyMs} ms per statement, CPU hog, ${fault.spellMs} ms)` : ""}${fault.kind === "maintenance" ? ` (${fault.spellMs} ms, ${fault.endEarly ? "ended halfway" : "until it expires"})` : ""}${fault.kind === "operator-move" ? ` (${fault.how} to worker-${fault.slot}${fault.how === "all" ? ` from worker-${fault.from}` : ""})` : ""}`,
      );
  } catch (error) {
    count(skipped, fault.kind);
    log(`${fault.kind} could not be carried out: ${error.message}`);
  }
}
await sleep(Math.max(0, phaseStart + SECONDS * 1000 - performance.now()));

// Faults stop: everything paused resumes, everything down starts again, the database is fast again.
await databaseFaults.endFaults();
slots.endFaults();
clearTimeout(maintenanceEnd);
await endMaintenance(admin, cluster);
// The operator's placements are lifted, so that the cluster is judged balanced by the planner's rules alone.
for (const worker of slots.ofKind("worker")) await liftMemberPlacements(admin, cluster, worker.id);
const faultsStoppedAt = performance.now();
log("faults stopped; waiting for the cluster to converge");

// Converged means settled: the state must hold for STABLE_MS (longer than a TTL), so that a process
// resumed from a pause and still to learn that it lost its partitions does not count as settled.
const STABLE_MS = 2 * Math.max(MEMBER_TTL_MS, LEASE_TTL_MS);
/** Why the cluster is not converged yet (the last reason is reported when it never converges). */
let notConverged = "";
let convergedAfterMs = null;
let stableSince = null;
while (performance.now() - faultsStoppedAt < BOUND_MS + STABLE_MS) {
  // A check that fails (the database unreachable a moment) counts as not converged, for the last reason.
  const reason = await whyNotConverged({ admin, cluster, workers: slots.ofKind("worker") }).catch(() => notConverged);
  if (reason === null) {
    stableSince ??= performance.now();
    if (performance.now() - stableSince >= STABLE_MS) {
      convergedAfterMs = stableSince - faultsStoppedAt;
      break;
    }
  } else {
    notConverged = reason;
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
  for (const slot of slots.ofKind("coordinator")) {
    log(
      `${slot.id}, last events: ${slot.child.events
        .slice(-8)
        .map((e) => JSON.stringify(e))
        .join(" ")}`,
    );
  }
}

await slots.shutdown();
await proxy.close();

// Slow spells: who fenced itself in one (information only: safety is the checks below).
const ttlUs = Math.max(MEMBER_TTL_MS, LEASE_TTL_MS) * 1000;
const { slowFences, pausedFences, slowEvents } = databaseFaults.fencesInSpells(slots.processes, slots.stoppedSpans, ttlUs);

const { intervals, ticks } = ownershipIntervals(logDir);
const { overlaps, disorder, spans } = overlapsAndDisorder(intervals);

// The audit trail of the first overlap's partition (read before the database goes).
let firstOverlapAudit = [];
if (overlaps.length > 0) {
  const [taskList, partition] = overlaps[0].partition.split("/");
  // Oldest first, from the last 10,000 transitions of the run.
  firstOverlapAudit = (await readHistory(admin, cluster, { limit: 10_000 }))
    .filter((t) => t.taskList === taskList && t.partition === Number(partition))
    .reverse()
    .map(({ epoch, kind, from, to, generation }) => ({ epoch, kind, from, to, generation }));
}

// The fenced ledger, in commit order.
const [ledgerRows] = await admin.query("SELECT task_list, partition_id, generation, incarnation FROM chaos_ledger ORDER BY id");
const { back: ledgerBack, twoOwners: ledgerTwoOwners, processes: ledgerIncarnations } = ledgerViolations(ledgerRows);

await catalog.close();
await admin.query("DROP DATABASE ??", [database]).catch(() => undefined);
await admin.end();
rmSync(logDir, { recursive: true, force: true, maxRetries: 5 });

printReport({
  run: { seed: SEED, scheduleHash, seconds: SECONDS, unsafe: UNSAFE, schedule, executed, skipped },
  ownership: { intervals, ticks, spans, overlaps, disorder, firstOverlapAudit },
  ledger: { units: ledgerRows.length, processes: ledgerIncarnations, back: ledgerBack, twoOwners: ledgerTwoOwners },
  convergence: { convergedAfterMs, boundMs: BOUND_MS },
  slots,
  slow: { spells: databaseFaults.spells, slowFences, pausedFences, slowEvents },
});
const violations =
  overlaps.length +
  disorder.length +
  ledgerBack.length +
  ledgerTwoOwners.length +
  slots.unexpected.length +
  (convergedAfterMs === null ? 1 : 0);
console.log(violations === 0 ? "\nchaos: no violations" : `\nchaos: ${violations} violation(s)`);
process.exit(violations === 0 ? 0 : 1);
