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
// The modules under scale/: config (settings), processes and databases (what a run starts and
// must clean up), cluster (one scenario's processes), measure, scenarios, rows (targets and
// results), report (the table), neighbours (the busy mode's hogs). This file runs them in order.
import { readScaleConfig } from "./scale/config.mjs";
import { createDatabaseTracker } from "./scale/databases.mjs";
import { killBusyNeighbours, startBusyNeighbours } from "./scale/neighbours.mjs";
import { createProcessGroup } from "./scale/processes.mjs";
import { printReport } from "./scale/report.mjs";
import { createResults } from "./scale/rows.mjs";
import { scenariosToRun } from "./scale/scenarios.mjs";

const startedAt = performance.now();
const config = readScaleConfig();
const run = {
  config,
  processes: createProcessGroup(),
  databases: createDatabaseTracker(config.server),
  results: createResults(),
};

// Children and hogs are SIGKILLed on every way out.
function killAll() {
  killBusyNeighbours();
  run.processes.killAll();
}
process.on("exit", killAll);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    process.stderr.write(`scale: ${signal}, killing ${run.processes.running.size} children and the hogs\n`);
    killAll();
    void run.databases.dropAll().finally(() => process.exit(130));
  });
}

// A last resort: whatever hangs, the benchmark ends.
const budgetMs =
  4 * (config.timeoutMs + config.settleMs) +
  (config.skipMillion ? 0 : config.millionTimeoutMs + 600_000) +
  (config.smallRepeats + 1) * 2 * config.timeoutMs +
  600_000;
const watchdog = setTimeout(() => {
  process.stderr.write(`scale: still running after ${budgetMs / 1000} s; giving up\n`);
  killAll();
  printReport(config, run.results, startedAt);
  void run.databases.dropAll().finally(() => process.exit(1));
}, budgetMs);

try {
  for (const scenario of scenariosToRun(config)) {
    let neighbours;
    try {
      // Busy: the hogs spin from before the scenario (its database, catalog, processes) to after
      // it; a scenario whose hogs do not start is not run.
      if (config.busy) neighbours = await startBusyNeighbours(config.busyHogs, scenario.name);
      await scenario.run(run);
    } catch (error) {
      run.results.failures++;
      process.stderr.write(`scale: ${scenario.name}: ${error.stack}\n`);
      run.results.notes.push(`- ${scenario.name}: failed: ${error.message}`);
      // Its rows not reached say so, rather than "not run".
      for (const key of scenario.rows) if (!run.results.rows.has(key)) run.results.record(key, { skipped: `failed: ${error.message}` });
    } finally {
      if (neighbours !== undefined) run.results.busyNotes.push(await neighbours.stop());
    }
  }
} finally {
  killAll();
  await run.databases.dropAll();
  clearTimeout(watchdog);
}
printReport(config, run.results, startedAt);
process.exit(run.results.failures > 0 ? 1 : 0);
