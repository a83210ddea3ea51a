// The scale benchmark's rows: each row's name, event and target, whether a result meets it, and
// the results of one run (the rows measured, notes, failures, the raw round trip).
import { seconds } from "./measure.mjs";

/** The results of one run, filled in by the scenarios and printed by report.mjs. */
export function createResults() {
  /** Rows by key, printed in the order of rowTargets(). */
  const rows = new Map();
  return {
    rows,
    notes: [],
    /** What the hogs did beside each scenario (busy mode). */
    busyNotes: [],
    failures: 0,
    /** The raw upsert round trip, measured on the first scenario's database. */
    raw: undefined,
    /** Sets row `key` to `result`, with `extra`'s fields over its own. */
    record(key, result, extra = {}) {
      rows.set(key, { ...result, ...extra });
    },
  };
}

/** "100,000 partitions (10 task lists x 10,000)": the 100k scenario's catalog. */
export const largeLabel = (config) =>
  `${config.largePartitions.toLocaleString("en-US")} partitions (${config.largeLists} task lists x ${(config.largePartitions / config.largeLists).toLocaleString("en-US")})`;

/** 100000 -> "100k", 1000000 -> "1M": the rows' short names. */
const short = (n) => (n >= 1e6 && n % 1e6 === 0 ? `${n / 1e6}M` : n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n));

/**
 * The rows in order: short name, event, and target: at most `ms` (the time), and with `moves` the
 * partitions moved equal to the minimum, with `calm` no member fenced, with `errorFree` no
 * coordinator error. "meets target" is "yes" only when every part holds.
 */
export function rowTargets(config) {
  const { largePartitions: large, largeWorkers: workers, largeTtlMs: ttlMs } = config;
  const members = config.millionProcesses * config.millionMembersPerProcess;
  const rows = [
    {
      key: "first",
      name: `${short(large)}: first assignment`,
      label: `first assignment, ${largeLabel(config)}, ${workers} workers`,
      target: "≤ 5 s",
      ms: 5000,
      calm: true,
    },
    {
      key: "join",
      name: `${short(large)}: a worker joins`,
      label: `a worker joins (${workers} -> ${workers + 1} workers) -> balanced (${large.toLocaleString("en-US")} partitions)`,
      target: "≤ 3 s",
      ms: 3000,
      moves: true,
      calm: true,
    },
    {
      key: "kill",
      name: `${short(large)}: a worker SIGKILLed`,
      label: `a worker SIGKILLed (${workers + 1} -> ${workers}) -> re-owned and balanced (${large.toLocaleString("en-US")} partitions)`,
      target: `≤ member TTL + 1 s = ${seconds(ttlMs + 1000)}`,
      ms: ttlMs + 1000,
      calm: true,
    },
    {
      key: "leave",
      name: `${short(large)}: a worker leaves`,
      label: `graceful leave, SIGTERM -> member.leave() (${workers} -> ${workers - 1}) -> re-owned and balanced (${large.toLocaleString("en-US")} partitions)`,
      target: "≤ 1 s",
      ms: 1000,
      calm: true,
    },
    {
      key: "million",
      name: `${short(config.millionPartitions)}, ${members} members: first assignment`,
      label: `first assignment, ${config.millionPartitions.toLocaleString("en-US")} partitions, ${members} members`,
      target: "≤ 60 s",
      ms: 60_000,
      calm: true,
      errorFree: true,
    },
    {
      key: "small",
      name: `small (${config.smallPartitions}): a worker joins`,
      label: `a worker joins (4 -> 5 workers) -> owns its share (${config.smallPartitions} partitions), default member TTL`,
      target: "≤ 1 s",
      ms: 1000,
      calm: true,
    },
  ];
  for (const r of rows)
    r.target = [r.target, r.moves && "moved = minimum", r.calm && "0 fenced", r.errorFree && "0 coordinator errors"]
      .filter(Boolean)
      .join(", ");
  return rows;
}

/** "yes", or "no (...)" naming the parts of the target missed. */
export function meetsTarget(target, r) {
  const missed = [];
  if (r.timedOut || r.elapsed > target.ms) missed.push("time");
  if (target.moves && r.moved !== r.minimum) missed.push("moves");
  if (target.calm && r.fenced !== 0) missed.push("fenced");
  if (target.errorFree && r.coordinatorErrors !== 0) missed.push("coordinator errors");
  return missed.length === 0 ? "yes" : `no (${missed.join(", ")})`;
}
