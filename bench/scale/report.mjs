// The scale benchmark's report on stdout: what ran and how it was measured, the raw round trip, the
// table of rows (bench/report.mjs puts it in bench/REPORT.md, where
// scripts/check-readme-figures.mjs reads the columns by name), then the notes.
import { availableParallelism } from "node:os";

import { ms } from "../stats.mjs";
import { DEFAULT_TTL_MS } from "./config.mjs";
import { seconds } from "./measure.mjs";
import { largeLabel, meetsTarget, rowTargets } from "./rows.mjs";

/** Prints the report of a run that started at `startedAt` (performance.now()) with `results` so far. */
export function printReport(config, results, startedAt) {
  const { raw } = results;
  const total = seconds(performance.now() - startedAt);
  console.log(`Scale end to end: ${new Date().toISOString()}, ${total} in all`);
  console.log(
    config.busy
      ? `Machine: busy. ${config.busyHogs} CPU hogs (child node processes computing SHA-256 hashes in a tight loop, bench/busy.mjs) ran beside each ` +
          `scenario, started before it and killed after it, on ${availableParallelism()} cores; the raw round trip below was measured beside them too.`
      : "Machine: quiet (nothing but the benchmark's own processes and the database).",
  );
  console.log(
    `One coordinator process (library defaults). Worker processes join with ` +
      `\`join()\`, confirm releases at once ("auto", no onRelease); ${largeLabel(config)} over ${config.largeWorkers}(+1) workers of member TTL ${config.largeTtlMs} ms; ` +
      `the 1M row runs ${config.millionProcesses} worker processes x ${config.millionMembersPerProcess} members (each member its own \`join()\`, one pool per process; ` +
      `100 processes are too many for the machine), member TTL ${DEFAULT_TTL_MS} ms (default); the small row every default (TTL ${DEFAULT_TTL_MS} ms).`,
  );
  console.log(
    "Measured from the event (createCoordinator() or join() called, SIGKILL or SIGTERM sent) to the ownership change " +
      "that made the table balanced, read from helix_allocation (updated_at, the database clock): every partition assigned to " +
      "the live process of an expected member, each owning floor or ceiling of partitions / members. Moved: partitions that changed owner " +
      "(helix_transitions, release requests not counted); minimum: the newcomer's share, the leaver's partitions, or every partition. " +
      "Members fenced (self-fences), rejoins and coordinator errors (round errors, leadership lost): reported by the processes " +
      "from just before the event until the balance was seen. Meets target: yes only when every part of the target holds.",
  );
  if (raw !== undefined) console.log(`raw upsert round trip (sequential, same server): p50 ${ms(raw.p50)} ms, p99 ${ms(raw.p99)} ms\n`);
  console.log(
    "| row | event | target | measured | raw round trip p50 | measured / raw p50 | meets target | members fenced | rejoins | coordinator errors | partitions moved | minimum | moved / minimum |",
  );
  console.log("| --- | --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  const rawCell = raw === undefined ? "-" : `${ms(raw.p50)} ms`;
  const rowNotes = [];
  for (const target of rowTargets(config)) {
    const { key, name, label } = target;
    const r = results.rows.get(key);
    const head = `| ${name} | ${label} | ${target.target}`;
    if (r === undefined || r.skipped !== undefined) {
      const why = r?.skipped ?? (key === "million" && config.skipMillion ? "skipped (HELIX_BENCH_SCALE_SKIP_MILLION=1)" : "not run");
      console.log(`${head} | ${why} | ${rawCell} | - | - | - | - | - | - | - | - |`);
      continue;
    }
    let measured;
    if (!r.timedOut) measured = seconds(r.elapsed);
    else measured = `timed out after ${r.timeoutMs / 1000} s${r.elapsed === null ? "" : ` (balanced after ${seconds(r.elapsed)})`}`;
    const ratio = r.elapsed === null || raw === undefined ? "-" : `${Math.round(r.elapsed / raw.p50).toLocaleString("en-US")}x`;
    const movedRatio = typeof r.moved === "number" && r.minimum > 0 ? (r.moved / r.minimum).toFixed(2) : "-";
    console.log(
      `${head} | ${measured} | ${rawCell} | ${ratio} | ${meetsTarget(target, r)} | ${r.fenced} | ${r.rejoined} | ${r.coordinatorErrors} | ${r.moved ?? "-"} | ${r.minimum ?? "-"} | ${movedRatio} |`,
    );
    if (r.detail !== undefined) rowNotes.push(`- ${key}: ${r.detail}`);
  }
  const all = [...rowNotes, ...results.notes, ...results.busyNotes];
  if (all.length > 0) console.log(`\n${all.join("\n")}`);
}
