// The chaos harness's checks of what its processes recorded (see ../chaos.mjs): pure functions of
// the work logs and the fenced ledger.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The ownership intervals every worker recorded in `logDir` (one file per worker process: a node id
 * reused by a new process is another owner): per partition, per (worker, generation), the first and
 * last tick at which it believed it owned the partition.
 */
export function ownershipIntervals(logDir) {
  const intervals = new Map();
  let ticks = 0;
  for (const name of readdirSync(logDir).filter((f) => f.endsWith(".log"))) {
    const node = name.replace(/\.log$/, "");
    for (const line of readFileSync(join(logDir, name), "utf8").split("\n")) {
      if (line === "") continue;
      const { t, owned } = JSON.parse(line);
      ticks++;
      for (const [taskList, partition, generation] of owned) {
        const partitionKey = `${taskList}/${partition}`;
        const byOwner = intervals.get(partitionKey) ?? new Map();
        const ownerKey = `${node}@${generation}`;
        const span = byOwner.get(ownerKey) ?? { node, generation, from: t, to: t };
        span.from = Math.min(span.from, t);
        span.to = Math.max(span.to, t);
        byOwner.set(ownerKey, span);
        intervals.set(partitionKey, byOwner);
      }
    }
  }
  return { intervals, ticks };
}

/**
 * Per partition, the intervals of two owners (or two generations) at one moment (`overlaps`) and
 * generations that do not follow one another in increasing order (`disorder`).
 */
export function overlapsAndDisorder(intervals) {
  const overlaps = [];
  const disorder = [];
  let spans = 0;
  for (const [partition, byOwner] of intervals) {
    const sorted = [...byOwner.values()].sort((a, b) => a.from - b.from);
    spans += sorted.length;
    let reach = null;
    for (let i = 0; i < sorted.length; i++) {
      const span = sorted[i];
      if (reach !== null && span.from <= reach.to) overlaps.push({ partition, a: reach, b: span });
      if (i > 0 && span.generation <= sorted[i - 1].generation) disorder.push({ partition, a: sorted[i - 1], b: span });
      if (reach === null || span.to > reach.to) reach = span;
    }
  }
  return { overlaps, disorder, spans };
}

/**
 * The fenced ledger's rows in commit order, checked per partition (a fenced unit holds the
 * partition until it commits, so the next owner's units come later): a generation going back
 * (`back`), and units of two processes at one generation (`twoOwners`).
 */
export function ledgerViolations(rows) {
  const back = [];
  const twoOwners = [];
  const lastGeneration = new Map();
  const writers = new Map();
  for (const row of rows) {
    const partition = `${row.task_list}/${row.partition_id}`;
    const generation = Number(row.generation);
    const last = lastGeneration.get(partition);
    if (last !== undefined && generation < last) back.push({ partition, from: last, to: generation });
    lastGeneration.set(partition, Math.max(last ?? 0, generation));
    const at = `${partition}@${generation}`;
    const writer = writers.get(at);
    if (writer === undefined) writers.set(at, row.incarnation);
    else if (writer !== row.incarnation) twoOwners.push({ at, a: writer, b: row.incarnation });
  }
  return { back, twoOwners, processes: new Set(rows.map((r) => r.incarnation)).size };
}
