// The chaos harness's report (see ../chaos.mjs): the tables of faults and checks, then the details of
// the first violations and of the slow spells. The last line (violations or none) is chaos.mjs's.

/**
 * Prints the report of a run.
 * - run: `{ seed, scheduleHash, seconds, unsafe, schedule, executed, skipped }` (executed and
 *   skipped: how many faults of each kind were carried out and skipped);
 * - ownership: `{ intervals, ticks, spans, overlaps, disorder, firstOverlapAudit }` (see checks.mjs;
 *   firstOverlapAudit: the transitions of the first overlap's partition, oldest first);
 * - ledger: `{ units, processes, back, twoOwners }` (see checks.mjs' ledgerViolations);
 * - convergence: `{ convergedAfterMs, boundMs }` (convergedAfterMs null: it did not converge);
 * - slots: the Slots of the run (its processes and unexpected exits);
 * - slow: `{ spells, slowFences, pausedFences, slowEvents }` (see database-faults.mjs).
 */
export function printReport({ run, ownership, ledger, convergence, slots, slow }) {
  printTables({ run, ownership, ledger, convergence, slots, slow });
  printOverlapDetails({ ownership, slots });
  printOtherViolations({ ownership, ledger, slots });
  printSlowSpells({ slow, slots });
}

function printTables({ run, ownership, ledger, convergence, slots, slow }) {
  const { seed, scheduleHash, seconds, unsafe, schedule, executed, skipped } = run;
  const { convergedAfterMs, boundMs } = convergence;
  console.log(`\n## Chaos run: seed ${seed}, schedule ${scheduleHash}, ${seconds} s of faults${unsafe ? ` (UNSAFE: ${unsafe})` : ""}\n`);
  console.log("| fault | carried out | skipped (target down or busy) |");
  console.log("| --- | ---: | ---: |");
  for (const kind of [...new Set(schedule.map((f) => f.kind))].sort())
    console.log(`| ${kind} | ${executed.get(kind) ?? 0} | ${skipped.get(kind) ?? 0} |`);
  console.log("\n| check | result |");
  console.log("| --- | --- |");
  console.log(
    `| ownership recorded | ${ownership.spans} intervals of ${ownership.intervals.size} partitions from ${ownership.ticks} work ticks |`,
  );
  console.log(`| overlapping ownership (two owners at one moment) | ${ownership.overlaps.length} |`);
  console.log(`| generations out of order | ${ownership.disorder.length} |`);
  console.log(`| fenced ledger | ${ledger.units} units of work from ${ledger.processes} processes |`);
  console.log(`| ledger: a partition's generation going back | ${ledger.back.length} |`);
  console.log(`| ledger: two processes at one generation | ${ledger.twoOwners.length} |`);
  console.log(
    `| owned again, balanced, after the faults stopped | ${convergedAfterMs === null ? `NO, not within ${boundMs} ms` : `${Math.round(convergedAfterMs)} ms (bound ${boundMs} ms)`} |`,
  );
  console.log(`| unexpected exits (crashes, unhandled rejections) | ${slots.unexpected.length} |`);
  // What the drains did (a drain cut short by a stop, or whose process was reused, reports nothing).
  const drains = [...slots.processes.values()].flatMap((c) => c.events.filter((e) => e.event === "drained"));
  if (drains.length > 0) {
    const complete = drains.filter((e) => e.remaining === 0).length;
    console.log(
      `| drains (information, not a violation) | ${drains.length} ended: ${complete} handed every partition over, the others left ${drains.reduce((n, e) => n + e.remaining, 0)} to their leave |`,
    );
  }
  const { spells, slowFences, pausedFences, slowEvents } = slow;
  if (spells.length > 0) {
    const slowMs = spells.reduce((a, s) => a + (s.to - s.from) / 1000, 0);
    console.log(
      `| slow database (information, not a violation): members fenced in slow spells | ${slowFences.length} in ${spells.length} spell(s) of ` +
        `${Math.round(slowMs)} ms in all (${pausedFences.length} more after a pause); besides paused processes, ${slowEvents.reregistered} ` +
        `members declared dead and registered again, ${slowEvents.heartbeatFailed} failed heartbeats, ${slowEvents.leadershipLost} leaderships lost |`,
    );
  }
}

/** The first overlaps, and what both processes of the first one and the coordinators said around it. */
function printOverlapDetails({ ownership, slots }) {
  const { overlaps, firstOverlapAudit } = ownership;
  for (const o of overlaps.slice(0, 5))
    console.log(
      `  overlap on ${o.partition}: ${o.a.node} gen ${o.a.generation} until ${o.a.to} µs, ${o.b.node} gen ${o.b.generation} from ${o.b.from} µs`,
    );
  if (overlaps.length === 0) return;
  // What both processes of the first overlap said in the seconds before it (same clock as the log).
  const { a, b } = overlaps[0];
  for (const node of [a.node, b.node]) {
    const events = (slots.processes.get(node)?.events ?? []).filter((e) => e.t >= b.from - 5_000_000 && e.t <= a.to + 500_000);
    console.log(`  ${node} before the first overlap: ${events.map((e) => JSON.stringify(e)).join(" ")}`);
  }
  console.log(`  audit of ${overlaps[0].partition}: ${firstOverlapAudit.map((r) => JSON.stringify(r)).join(" ")}`);
  for (const slot of slots.ofKind("coordinator")) {
    const events = [...slots.processes].filter(([name]) => name.startsWith(`${slot.id}.`)).flatMap(([, child]) => child.events);
    console.log(
      `  ${slot.id}: ${events
        .filter((e) => e.t === undefined || (e.t >= a.to - 5_000_000 && e.t <= a.to + 500_000))
        .slice(-30)
        .map((e) => JSON.stringify(e))
        .join(" ")}`,
    );
  }
}

/** The first violations of each other kind: generations out of order, the ledger's, unexpected exits. */
function printOtherViolations({ ownership, ledger, slots }) {
  for (const d of ownership.disorder.slice(0, 5))
    console.log(`  out of order on ${d.partition}: gen ${d.a.generation} (${d.a.node}) then gen ${d.b.generation} (${d.b.node})`);
  for (const b of ledger.back.slice(0, 5)) console.log(`  ledger on ${b.partition}: gen ${b.to} committed after gen ${b.from}`);
  for (const w of ledger.twoOwners.slice(0, 5)) console.log(`  ledger on ${w.at}: units from processes ${w.a} and ${w.b}`);
  for (const u of slots.unexpected.slice(0, 5)) console.log(`  ${u.id} exited with ${u.code ?? u.signal}: ${u.stderr}`);
}

/** Each slow spell and who fenced in it, and what the first member fenced in one said until its fence. */
function printSlowSpells({ slow, slots }) {
  const { spells, slowFences } = slow;
  for (const [i, s] of spells.entries()) {
    const fenced = slowFences.filter((f) => f.spell === i);
    console.log(
      `  slow spell ${i + 1}: ${s.latencyMs} ms per statement for ${Math.round((s.to - s.from) / 1000)} ms ` +
        `(the proxy's event loop delayed p99 ${Math.round(s.loop.percentile(99) / 1e6)} ms, max ${Math.round(s.loop.max / 1e6)} ms); fenced: ` +
        `${fenced.length === 0 ? "none" : fenced.map((f) => `${f.name} at +${f.afterMs} ms`).join(", ")}`,
    );
  }
  if (slowFences.length === 0) return;
  // What the first member fenced in a slow spell said from the spell's start to its fence (t: µs
  // from the spell's start).
  const { name, spell, afterMs } = slowFences[0];
  const from = spells[spell].from;
  const events = slots.processes
    .get(name)
    .events.filter((e) => e.t >= from && e.t <= from + afterMs * 1000 + 1000 && !["assigned", "released", "lost"].includes(e.event));
  console.log(
    `  ${name} in slow spell ${spell + 1} until its fence: ${events
      .slice(-12)
      .map((e) => JSON.stringify({ ...e, t: e.t - from }))
      .join(" ")}`,
  );
}
