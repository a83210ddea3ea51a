// The scale benchmark's scenarios, each on a cluster of its own: large (100k partitions: first
// assignment, join, SIGKILL, leave), million (first assignment of 1M over 100 members) and small
// (a join into 200 partitions, repeated). Each records its rows in `run.results`; `run` is
// { config, processes, databases, results }.
import { setTimeout as sleep } from "node:timers/promises";

import { MAX_PER_LIST } from "./config.mjs";
import { closeCluster, liveIds, openCluster, startCoordinator, startWorker } from "./cluster.mjs";
import { eventOf } from "./processes.mjs";
import { judge, measure, readOwnership, seconds, waitBalanced } from "./measure.mjs";

/** The scenarios to run, in order, with the rows each records: `config.only` and `skipMillion` leave some out. */
export function scenariosToRun(config) {
  const scenarios = [
    { name: "large", rows: ["first", "join", "kill", "leave"], run: large },
    { name: "small", rows: ["small"], run: small },
    ...(config.skipMillion ? [] : [{ name: "million", rows: ["million"], run: million }]),
  ];
  return scenarios.filter((s) => config.only === undefined || config.only.includes(s.name));
}

/** Runs `steps` in order; once one fails, the rest are reported as not run. */
async function runSteps(results, label, steps) {
  let broken;
  for (const [key, step] of steps) {
    if (broken !== undefined) {
      results.record(key, { skipped: `not run: ${broken}` });
      continue;
    }
    try {
      await step();
    } catch (error) {
      const timedOut = error.result?.key === key;
      if (!timedOut) results.failures++;
      broken = timedOut ? "the previous step never balanced" : `${label} failed`;
      results.record(key, timedOut ? error.result : { skipped: `failed: ${error.message}` });
      process.stderr.write(`scale: ${key}: ${error.stack}\n`);
    }
  }
}

/** Stops the second worker with `stop` (a SIGKILL, a SIGTERM) and measures until the rest own its share. */
async function stopOneWorker(config, s, key, stop) {
  await sleep(1000);
  const [id, child] = [...s.workers.entries()][1];
  const before = judge(await readOwnership(s.pool, s.cluster), liveIds(s), s.total);
  s.workers.delete(id);
  const result = await measure(s, {
    key,
    expected: liveIds(s),
    timeoutMs: config.timeoutMs,
    settleMs: config.settleMs,
    minimum: before.counts.get(id),
    act: async () => {
      const at = Date.now();
      stop(child);
      return at;
    },
  });
  return { result, child };
}

async function large(run) {
  const { config, results } = run;
  const { timeoutMs, settleMs, largeTtlMs: ttlMs } = config;
  const s = await openCluster(run, "large", config.largePartitions, config.largeLists);
  try {
    let next = 0;
    const ids = Array.from({ length: config.largeWorkers }, () => `w${next++}`);
    await runSteps(results, "the 100k scenario", [
      [
        "first",
        async () => {
          await Promise.all(ids.map((id) => startWorker(s, [id], ttlMs)));
          const result = await measure(s, {
            key: "first",
            expected: liveIds(s),
            timeoutMs,
            settleMs,
            minimum: s.total,
            act: () => startCoordinator(s),
          });
          results.record("first", result);
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
            timeoutMs,
            settleMs,
            minimum: (j) => j?.counts.get(id),
            act: async () => (await startWorker(s, [id], ttlMs)).at,
          });
          results.record("join", result);
        },
      ],
      [
        "kill",
        async () => {
          const { result } = await stopOneWorker(config, s, "kill", (child) => child.kill());
          results.record("kill", result);
        },
      ],
      [
        "leave",
        async () => {
          const { result, child } = await stopOneWorker(config, s, "leave", (child) => child.process.kill("SIGTERM"));
          const left = await eventOf(child, "left", 30_000).catch(() => undefined);
          results.record("leave", result, {
            detail: `${result.detail}; ${left === undefined ? "the worker did not report leaving" : `member.leave() took ${left.ms} ms in the worker`}`,
          });
        },
      ],
    ]);
  } finally {
    await closeCluster(run, s);
  }
}

async function million(run) {
  const { config, results } = run;
  const lists = Math.ceil(config.millionPartitions / MAX_PER_LIST);
  const s = await openCluster(run, "million", config.millionPartitions, lists);
  try {
    await runSteps(results, "the 1M scenario", [
      [
        "million",
        async () => {
          const started = performance.now();
          await Promise.all(
            Array.from({ length: config.millionProcesses }, (_, p) =>
              startWorker(
                s,
                Array.from({ length: config.millionMembersPerProcess }, (_, m) => `p${p}m${m}`),
                "default",
                120_000,
              ),
            ),
          );
          const joinedMs = performance.now() - started;
          const result = await measure(s, {
            key: "million",
            expected: liveIds(s),
            timeoutMs: config.millionTimeoutMs,
            settleMs: 0,
            minimum: s.total,
            act: () => startCoordinator(s),
          });
          results.record("million", result, {
            detail: `catalog written in ${seconds(s.catalogMs)}, ${s.workers.size} members joined in ${seconds(joinedMs)}; ${result.detail}`,
          });
        },
      ],
    ]);
  } finally {
    await closeCluster(run, s);
  }
}

async function small(run) {
  const { config, results } = run;
  const { timeoutMs } = config;
  const lists = Math.ceil(config.smallPartitions / 100);
  const s = await openCluster(run, "small", config.smallPartitions, lists);
  try {
    let next = 0;
    const samples = [];
    await runSteps(results, "the small scenario", [
      [
        "small",
        async () => {
          await Promise.all(Array.from({ length: 4 }, () => startWorker(s, [`w${next++}`], "default")));
          await measure(s, {
            key: "small first",
            expected: liveIds(s),
            timeoutMs,
            settleMs: 0,
            minimum: s.total,
            act: () => startCoordinator(s),
          });
          for (let r = 0; r < config.smallRepeats; r++) {
            await sleep(500);
            const id = `w${next++}`;
            const expected = new Set([...s.workers.keys(), id]);
            const result = await measure(s, {
              key: `small join ${r + 1}`,
              expected,
              timeoutMs,
              settleMs: config.settleMs,
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
            if ((await waitBalanced(s, liveIds(s), at + timeoutMs, s.running())) === null)
              throw new Error("not balanced after the joiner left");
          }
          const sorted = [...samples].sort((a, b) => a.elapsed - b.elapsed);
          // A join that timed out stands for the row; otherwise the median one.
          const median = samples.find((r) => r.timedOut) ?? sorted[Math.floor(sorted.length / 2)];
          const sum = (field) => samples.reduce((a, r) => a + r[field], 0);
          results.record(
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
    await closeCluster(run, s);
  }
}
