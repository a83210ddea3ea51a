// Runs every benchmark, one after another, and writes their figures to bench/REPORT.md with the
// machine and database they ran on. Each benchmark compares with the raw database round trip
// measured in its own run. The scale benchmark runs twice: on the quiet machine and beside CPU
// hogs (HELIX_BENCH_SCALE_BUSY=1).
//   pnpm bench        (HELIX_BENCH_MYSQL_URL names another server)
import { spawnSync } from "node:child_process";
import { cpus, totalmem } from "node:os";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { createPool } from "@helix/db";

const here = fileURLToPath(new URL(".", import.meta.url));
const server = new URL(process.env.HELIX_BENCH_MYSQL_URL ?? "mysql://root@127.0.0.1:3306/");
const benchmarks = [
  ["Lock operations against the raw round trip", ["lock.mjs"]],
  ["Heartbeat capacity", ["cluster.mjs"]],
  ["Planner scale", ["--expose-gc", "--max-old-space-size=4096", "planner.mjs"]],
  ["Planner scale, weighted members", ["--expose-gc", "--max-old-space-size=4096", "planner.mjs"], { HELIX_BENCH_WEIGHTED: "1" }],
  ["Failover, convergence and moves, with real processes", ["coordinator.mjs"]],
  ["Lock table growth over a simulated year, pruned and not", ["locks-growth.mjs"]],
  [
    "Planned events: a rolling restart, with and without static membership (leave({ returningWithinMs })), a drain, maintenance mode, and an operator's move",
    ["planned-events.mjs"],
    { HELIX_BENCH_SCALE_BUSY: "0" },
  ],
  ["Planned events, busy machine (CPU hogs beside it)", ["planned-events.mjs"], { HELIX_BENCH_SCALE_BUSY: "1" }],
  // Twice: alone, then beside CPU hogs (scale.mjs --busy). scripts/check-readme-figures.mjs finds
  // these two sections by "Scale" and "quiet" / "busy" in their titles.
  [
    "Scale, quiet machine: first assignment, join, SIGKILL and leave at 100,000 and 1,000,000 partitions, with real processes",
    ["scale.mjs"],
    { HELIX_BENCH_SCALE_BUSY: "0" },
  ],
  [
    "Scale, busy machine (CPU hogs beside it): first assignment, join, SIGKILL and leave at 100,000 and 1,000,000 partitions, with real processes",
    ["scale.mjs"],
    { HELIX_BENCH_SCALE_BUSY: "1" },
  ],
];

const probe = await createPool(new URL("/mysql", server).toString());
const [[{ version }]] = await probe.query("SELECT VERSION() AS version");
await probe.end();

const sections = [];
let failed = 0;
for (const [title, argv, env = {}] of benchmarks) {
  process.stderr.write(`bench: ${title}\n`);
  const started = performance.now();
  const run = spawnSync(process.execPath, argv, {
    cwd: here,
    env: { ...process.env, ...env },
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  if (run.status !== 0) failed++;
  // A benchmark that failed keeps what it printed (the scale benchmark prints its table whatever happened).
  const failure = `FAILED (exit ${run.status ?? run.signal}):\n\n\`\`\`\n${(run.stderr || run.stdout).trim().slice(-2000)}\n\`\`\``;
  const body = run.status === 0 ? run.stdout.trim() : [run.stdout.trim(), failure].filter((x) => x !== "").join("\n\n");
  const command = [...Object.entries(env).map(([k, v]) => `${k}=${v}`), "node", ...argv].join(" ");
  sections.push(`## ${title}\n\n\`${command}\` (bench/, ${seconds} s)\n\n${body}\n`);
}

const report = `# Helix benchmark report

${new Date().toISOString()} — ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB,
Node ${process.version}, database ${version} at ${server.host}. Written by \`pnpm bench\`.

${sections.join("\n")}`;
writeFileSync(new URL("REPORT.md", import.meta.url), report);
process.stderr.write(`bench: wrote bench/REPORT.md${failed > 0 ? `; ${failed} benchmark(s) failed` : ""}\n`);
process.exit(failed > 0 ? 1 : 0);
