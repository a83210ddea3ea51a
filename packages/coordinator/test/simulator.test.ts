// A deterministic simulation: a cluster lives through thousands of rounds of joins, graceful
// leaves, crashes, partition-count changes and task lists coming and going. After every event the
// planner runs rounds (releases confirmed at once) until it has nothing left to do; the partitions
// that changed owner are compared with the theoretical minimum for that event.
import { PartitionState } from "@helix/db";

import { seededRandom } from "@helix/testing";

import { converge, isBalanced, minimumMovesByFlow, orphans, type ClusterState, type ListState } from "./support/model";

type EventKind = "join" | "leave" | "crash" | "resize" | "add-list" | "remove-list";

interface Tally {
  events: number;
  ownerChanges: number;
  minimum: number;
}

/** A partition's row before anyone owned it. */
const unassigned = (partition: number): ListState["rows"][number] => ({
  partition,
  nodeId: null,
  state: PartitionState.Unassigned,
  generation: 0,
  targetNodeId: null,
  releaseAgeMs: -1,
});

function simulate(seed: number, events: number, weighted: boolean): { tallies: Map<EventKind, Tally>; rounds: number } {
  const next = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  const between = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));
  let memberNo = 0;
  let listNo = 0;
  const newList = (partitions: number): ListState => ({
    domain: "sim",
    taskList: `list-${listNo++}`,
    partitions,
    rows: Array.from({ length: partitions }, (_, p) => unassigned(p)),
  });
  const state: ClusterState = {
    members: Array.from({ length: 4 }, () => ({
      nodeId: `m${memberNo++}`,
      weight: weighted ? between(1, 3) : 1,
      live: true,
      sinceExpiryMs: -1,
    })),
    lists: Array.from({ length: 5 }, () => newList(between(1, 30))),
  };
  let rounds = converge(state).rounds;
  const tallies = new Map<EventKind, Tally>();

  for (let e = 0; e < events; e++) {
    const live = state.members.filter((m) => m.live);
    const kinds: EventKind[] = ["join", "resize", "add-list"];
    if (live.length > 1) kinds.push("leave", "crash");
    if (state.lists.length > 1) kinds.push("remove-list");
    if (live.length < 3) kinds.push("join", "join");
    if (live.length > 12) kinds.push("leave", "crash");
    const kind = pick(kinds);
    switch (kind) {
      case "join":
        state.members.push({ nodeId: `m${memberNo++}`, weight: weighted ? between(1, 3) : 1, live: true, sinceExpiryMs: -1 });
        break;
      case "leave": {
        const leaver = pick(live);
        state.members = state.members.filter((m) => m !== leaver);
        for (const list of state.lists) {
          for (const row of list.rows) {
            if (row.nodeId === leaver.nodeId) Object.assign(row, { nodeId: null, state: PartitionState.Unassigned, targetNodeId: null });
          }
        }
        break;
      }
      case "crash":
        Object.assign(pick(live), { live: false, sinceExpiryMs: 1 });
        break;
      case "resize": {
        const list = pick(state.lists);
        const partitions = between(1, 40);
        list.rows = list.rows.filter((r) => r.partition < partitions);
        for (let p = list.partitions; p < partitions; p++) {
          list.rows.push(unassigned(p));
        }
        list.partitions = partitions;
        break;
      }
      case "add-list":
        state.lists.push(newList(between(1, 30)));
        break;
      case "remove-list": {
        const gone = pick(state.lists);
        state.lists = state.lists.filter((l) => l !== gone);
        break;
      }
    }
    const minimum = orphans(state) + minimumMovesByFlow(state);
    const result = converge(state);
    rounds += result.rounds;
    if (!isBalanced(state)) throw new Error(`event ${e} (${kind}): not balanced after converging`);
    const tally = tallies.get(kind) ?? { events: 0, ownerChanges: 0, minimum: 0 };
    tally.events++;
    tally.ownerChanges += result.ownerChanges;
    tally.minimum += minimum;
    tallies.set(kind, tally);
    // Crashed members are forgotten once their partitions moved, as the sweep marks them inactive.
    state.members = state.members.filter((m) => m.live);
  }
  return { tallies, rounds };
}

function report(title: string, result: ReturnType<typeof simulate>): string {
  const lines = [
    `${title}: ${result.rounds} rounds`,
    "| event | count | partitions moved | theoretical minimum | moved / minimum |",
    "| --- | ---: | ---: | ---: | ---: |",
  ];
  for (const [kind, t] of [...result.tallies].sort(([a], [b]) => a.localeCompare(b))) {
    const ratio = t.minimum === 0 ? "-" : (t.ownerChanges / t.minimum).toFixed(2);
    lines.push(`| ${kind} | ${t.events} | ${t.ownerChanges} | ${t.minimum} | ${ratio} |`);
  }
  return lines.join("\n");
}

test.each([
  ["equal weights", 7, false],
  ["weighted members", 11, true],
])("simulation with %s: every event moves exactly the theoretical minimum and ends balanced", (title, seed, weighted) => {
  const result = simulate(seed, 1500, weighted);
  console.log(report(`${title} (seed ${seed})`, result));
  expect(result.rounds).toBeGreaterThan(2000);
  for (const [, t] of result.tallies) {
    expect(t.events).toBeGreaterThan(50);
    expect(t.ownerChanges).toBe(t.minimum);
  }
  // The same seed replays the same history.
  expect(simulate(seed, 200, weighted)).toEqual(simulate(seed, 200, weighted));
});
