// The chaos harness's fault schedule (see ../chaos.mjs).
import { seededRandom as random } from "@helix/testing";

/**
 * The fault schedule: a pure function of the seed and the run's shape (the same seed replays the
 * same schedule). `dbRestart`: whether restarting the database is one of the faults; `only`: the
 * kinds of fault to draw from (all of them when left out).
 */
export function faultSchedule({ seed, seconds, workers, coordinators, dbRestart, memberTtlMs, leaseTtlMs, only }) {
  const rnd = random(seed);
  const between = (lo, hi) => Math.round(lo + rnd() * (hi - lo));
  const kinds = [
    ["kill-worker", 3],
    ["leave-worker", 2],
    ["restart-worker", 2],
    ["drain-worker", 1.5],
    ["pause-worker", 3],
    ["reuse-worker", 2],
    ["kill-coordinator", 1.5],
    ["pause-coordinator", 1.5],
    ["kill-connections", 2],
    ["restart-database", dbRestart ? 0.6 : 0],
    ["slow-database", 2],
    ["resize", 2],
    ["add-task-list", 1],
    ["remove-task-list", 1],
    ["maintenance", 1],
    ["operator-move", 1.5],
  ];
  if (only !== undefined) {
    const unknown = only.filter((k) => !kinds.some(([kind]) => kind === k));
    if (unknown.length > 0)
      throw new Error(`--faults: no fault of kind ${unknown.join(", ")}; the kinds: ${kinds.map(([k]) => k).join(", ")}`);
    for (const entry of kinds) if (!only.includes(entry[0])) entry[1] = 0;
  }
  const total = kinds.reduce((a, [, w]) => a + w, 0);
  const faults = [];
  let lastRestart = -Infinity;
  // Slow spells do not overlap, are some seconds apart, and no restart falls in one (so that the
  // members fenced in a spell are the spell's doing, or a pause's).
  let slowUntil = -Infinity;
  for (let at = 3000; at < seconds * 1000; at += between(500, 3000)) {
    let roll = rnd() * total;
    let kind = kinds[0][0];
    for (const [k, w] of kinds) {
      if ((roll -= w) < 0) {
        kind = k;
        break;
      }
    }
    if (kind === "restart-database" && (at - lastRestart < 30_000 || at < slowUntil)) kind = "kill-connections";
    if (kind === "restart-database") lastRestart = at;
    if (kind === "slow-database" && (at < slowUntil + 5000 || at - lastRestart < 10_000)) kind = "kill-connections";
    const fault = { at, kind };
    if (kind.endsWith("-worker")) fault.slot = between(0, workers - 1);
    if (kind.endsWith("-coordinator")) fault.slot = between(0, coordinators - 1);
    if (kind.startsWith("kill-") && kind !== "kill-connections") fault.downMs = between(200, 3000);
    if (kind === "leave-worker") fault.downMs = between(200, 3000);
    // Back within the three TTLs it said (its partitions wait for it), or later (they move then).
    if (kind === "restart-worker") fault.downMs = between(200, memberTtlMs * 4);
    // Started again once its drain (at most two TTLs) is likely over, or while it still drains (a
    // node id reused by a new process).
    if (kind === "drain-worker") fault.downMs = between(memberTtlMs, memberTtlMs * 4);
    if (kind === "pause-worker") fault.pauseMs = between(memberTtlMs * 1.3, memberTtlMs * 3);
    if (kind === "reuse-worker") {
      fault.pauseMs = between(memberTtlMs * 1.3, memberTtlMs * 2);
      fault.overlapMs = between(500, 2500);
    }
    if (kind === "pause-coordinator") fault.pauseMs = between(leaseTtlMs * 1.3, leaseTtlMs * 3);
    if (kind === "kill-connections") fault.fraction = Math.round((0.3 + 0.7 * rnd()) * 100) / 100;
    if (kind === "restart-database") fault.downMs = between(500, 2500);
    if (kind === "resize" || kind === "remove-task-list") fault.pick = rnd();
    if (kind === "resize" || kind === "add-task-list") fault.partitions = between(1, 24);
    // The cluster's moves held for one to three TTLs; the spell ends by its expiry (the database
    // clock) or, half the time, by the harness halfway through.
    if (kind === "maintenance") {
      fault.spellMs = between(memberTtlMs, memberTtlMs * 3);
      fault.endEarly = rnd() < 0.5;
    }
    // An operator moves a partition to a worker (or pins it there, or moves all of another
    // worker's to it); refused, and so skipped, when that worker is down or the partition gone.
    if (kind === "operator-move") {
      fault.slot = between(0, workers - 1);
      fault.from = (fault.slot + between(1, Math.max(1, workers - 1))) % workers;
      fault.pick = rnd();
      fault.partition = between(0, 3);
      const how = rnd();
      fault.how = how < 0.15 ? "all" : how < 0.45 ? "pin" : "move";
    }
    if (kind === "slow-database") {
      fault.spellMs = between(memberTtlMs * 2, memberTtlMs * 4);
      fault.latencyMs = between(2, 20);
      slowUntil = at + fault.spellMs;
    }
    faults.push(fault);
  }
  return faults;
}
