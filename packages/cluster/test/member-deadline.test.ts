// A member's deadline and sync against a real server: it stops its partitions by its own clock
// when heartbeats or reads do not get through, learns of a passed deadline synchronously, reads its
// partitions only when its assignment version moved, and comes back (as the same process or a new
// incarnation) once heartbeats get through again. Short TTLs keep each case to a second or two.
import { setTimeout as sleep } from "node:timers/promises";

import type { Member } from "../src";

import { FaultyPool, until } from "./helpers";
import { assignAll, catalog, cluster, fx, member, PARTITION_READS, partitionReads, store, useMemberFixture } from "./member-fixture";

useMemberFixture();

/** What a member tells, as short strings, in order. */
function told(worker: Member): string[] {
  const events: string[] = [];
  worker.on("partition:assigned", (p) => events.push(`assigned ${p.partition}@${p.generation}`));
  worker.on("partition:lost", (p, reason) => events.push(`lost ${p.partition}@${p.generation} ${reason}`));
  worker.on("member:fenced", () => events.push("fenced"));
  worker.on("member:rejoined", ({ reregistered }) => events.push(reregistered ? "rejoined as new" : "rejoined"));
  worker.on("member:error", (error) => events.push(`error ${error.message}`));
  return events;
}

/** Blocks the event loop for `ms`: a process paused (a long GC, a stopped VM) while timers cannot fire. */
function pause(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy: no timer runs
  }
}

test("a member paused past its deadline learns it synchronously: its state, partitions and ownerships say so before any timer runs", async () => {
  await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 2 });
  const worker = await member({ nodeId: "paused", ttlMs: 600, heartbeatMs: 100 });
  await assignAll("d", "t", "paused");
  await until(() => worker.partitions().length === 2);
  const owned = worker.partitions();
  const events = told(worker);
  pause(700);
  expect(owned.map((p) => p.isOwned())).toEqual([false, false]);
  expect(worker.partitions()).toEqual([]);
  expect(worker.state).toBe("fenced");
  expect(events).toEqual(["lost 0@1 fenced", "lost 1@1 fenced", "fenced"]);
  expect(owned.every((p) => p.signal.aborted)).toBe(true);
  // The next heartbeat gets through: it continues (as a new incarnation if the database counted
  // it dead meanwhile).
  await until(() => events.some((e) => e.startsWith("rejoined")), 3000);
  expect(worker.state).toBe("active");
});

test("a member still paused short of its deadline keeps everything", async () => {
  await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 1 });
  const worker = await member({ nodeId: "brief", ttlMs: 3000, heartbeatMs: 100 });
  await assignAll("d", "t", "brief");
  await until(() => worker.partitions().length === 1);
  const events = told(worker);
  pause(300);
  expect(worker.state).toBe("active");
  expect(worker.partitions()).toHaveLength(1);
  expect(worker.partitions()[0]!.isOwned()).toBe(true);
  expect(events).toEqual([]);
});

test("cut off from the database: heartbeats fail and are reported, it fences by its own deadline, then comes back as a new incarnation", async () => {
  const watched = new FaultyPool(fx.pool);
  await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 1 });
  const worker = await member({ nodeId: "cut", ttlMs: 1000, heartbeatMs: 100 }, watched);
  await assignAll("d", "t", "cut");
  await until(() => worker.partitions().length === 1);
  const events = told(worker);
  let failures = 0;
  worker.on("member:heartbeat-failed", () => failures++);
  const first = worker.incarnation;
  watched.cut = true;
  await until(() => events.includes("fenced"), 3000);
  expect(worker.state).toBe("fenced");
  expect(events).toEqual(["lost 0@1 fenced", "fenced"]);
  expect(failures).toBeGreaterThanOrEqual(2);
  // Past its TTL by the database clock too, then back: a new process, which resumes nothing.
  await sleep(500);
  watched.cut = false;
  await until(() => events.includes("rejoined as new"), 3000);
  expect(worker.incarnation).not.toBe(first);
  expect(worker.state).toBe("active");
  await sleep(300);
  expect(worker.partitions()).toEqual([]);
  expect(events).toEqual(["lost 0@1 fenced", "fenced", "rejoined as new"]);
  // Given the partition anew, it takes it at a larger generation and keeps it.
  const [p] = await store.taskListPartitions("d", "t");
  await store.assign({ domain: "d", taskList: "t", partition: 0, generation: p!.generation }, "cut");
  await until(() => worker.partitions().length === 1);
  expect(worker.partitions()[0]!.generation).toBeGreaterThan(1);
  expect(worker.partitions()[0]!.incarnation).toBe(worker.incarnation);
});

test("heartbeats that get through while reads fail do not move the deadline: it fences by the old one, and reads again once they work", async () => {
  const watched = new FaultyPool(fx.pool);
  await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 1 });
  const worker = await member({ nodeId: "blind", ttlMs: 1000, heartbeatMs: 100 }, watched);
  await assignAll("d", "t", "blind");
  await until(() => worker.partitions().length === 1);
  const events = told(worker);
  for (const read of PARTITION_READS) watched.failing.add(read);
  // A new partition moves its version: the next heartbeat must read, and the read fails.
  await catalog.putTaskList({ domain: "d", taskList: "u", partitions: 1 });
  await assignAll("d", "u", "blind");
  await until(() => events.includes("fenced"), 3000);
  expect(events.slice(0, 2)).toEqual(["lost 0@1 fenced", "fenced"]);
  // Its heartbeats rejoin it, but a rejoin reads all its rows before it owns anything again.
  const beats = watched.count("HeartbeatMember");
  await until(() => watched.count("HeartbeatMember") > beats + 2);
  expect(worker.partitions()).toEqual([]);
  const incarnation = worker.incarnation;
  watched.failing.clear();
  // Its registration is live (heartbeats got through): the same process continues and reads all its rows.
  await until(() => worker.partitions().length === 2, 3000);
  expect(worker.incarnation).toBe(incarnation);
  expect(worker.state).toBe("active");
  expect(events[2]).toBe("rejoined");
  expect(events.filter((e) => e.startsWith("assigned"))).toEqual(["assigned 0@1", "assigned 0@1"]);
  expect(worker.partitions().map((p) => p.taskList)).toEqual(["t", "u"]);
});

test("a heartbeat reads the partitions only when the assignment version moved, and then only what changed", async () => {
  const watched = new FaultyPool(fx.pool);
  await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 2 });
  // Heartbeats as often as the watch polls: no watch, so every read below is a heartbeat's.
  const worker = await member({ nodeId: "quiet", ttlMs: 3000, heartbeatMs: 100 }, watched);
  expect(watched.count("ListProcessOwnership")).toBe(1);
  const beats = watched.count("HeartbeatMember");
  await until(() => watched.count("HeartbeatMember") >= beats + 3);
  expect(partitionReads(watched)).toBe(1);
  await assignAll("d", "t", "quiet");
  await until(() => worker.partitions().length === 2);
  expect(watched.count("ListProcessOwnership")).toBe(1);
  const reads = watched.count("ListProcessOwnershipChanges");
  expect(reads).toBeGreaterThanOrEqual(1);
  const after = watched.count("HeartbeatMember");
  await until(() => watched.count("HeartbeatMember") >= after + 3);
  expect(watched.count("ListProcessOwnershipChanges")).toBe(reads);
  expect(worker.partitions().map((o) => o.partition)).toEqual([0, 1]);
});

test("declared dead while live: every partition stops, and it registers again as a new incarnation that resumes none", async () => {
  await catalog.putTaskList({ domain: "d", taskList: "t", partitions: 1 });
  const worker = await member({ nodeId: "dead", ttlMs: 3000, heartbeatMs: 100 });
  await assignAll("d", "t", "dead");
  await until(() => worker.partitions().length === 1);
  const owned = worker.partitions()[0]!;
  const events = told(worker);
  const first = worker.incarnation;
  await fx.pool.query("UPDATE helix_nodes SET status = 0 WHERE cluster = ? AND node_id = 'dead'", [cluster]);
  await until(() => events.includes("rejoined as new"), 3000);
  expect(events).toEqual(["lost 0@1 fenced", "fenced", "rejoined as new"]);
  expect(owned.isOwned()).toBe(false);
  expect(worker.incarnation).not.toBe(first);
  expect(worker.state).toBe("active");
  await sleep(300);
  expect(worker.partitions()).toEqual([]);
  expect((await store.members()).find((n) => n.nodeId === "dead")).toMatchObject({ live: true });
});

test("a member that cannot register again (its node id taken meanwhile) says so and stays fenced", async () => {
  const watched = new FaultyPool(fx.pool);
  const worker = await member({ nodeId: "taken", ttlMs: 3000, heartbeatMs: 100 }, watched);
  const events = told(worker);
  const errors: Error[] = [];
  worker.on("member:error", (error) => errors.push(error));
  // Its heartbeats are held off until another process has taken its node id.
  watched.cut = true;
  await fx.pool.query("UPDATE helix_nodes SET status = 0 WHERE cluster = ? AND node_id = 'taken'", [cluster]);
  const other = await member({ nodeId: "taken", ttlMs: 3000, heartbeatMs: 100 });
  watched.cut = false;
  await until(() => errors.length > 0, 3000);
  expect(errors[0]).toMatchObject({ code: "HELIX_ALREADY_JOINED" });
  expect(events[0]).toBe("fenced");
  expect(events.filter((e) => e === "fenced")).toHaveLength(1);
  expect(worker.state).toBe("fenced");
  expect(other.state).toBe("active");
});

test("a heartbeat that returns after leave() began changes nothing", async () => {
  const watched = new FaultyPool(fx.pool);
  const worker = await member({ nodeId: "leaving", ttlMs: 3000, heartbeatMs: 100 }, watched);
  const events = told(worker);
  let failures = 0;
  worker.on("member:heartbeat-failed", () => failures++);
  let release: (() => void) | undefined;
  watched.beforeReply.set(
    "HeartbeatMember",
    () =>
      new Promise<void>((resolve) => {
        release = resolve;
      }),
  );
  await until(() => release !== undefined);
  // Declared dead meanwhile: the heartbeat's answer would fence the member and register it again.
  await fx.pool.query("UPDATE helix_nodes SET status = 0 WHERE cluster = ? AND node_id = 'leaving'", [cluster]);
  const leaving = worker.leave().catch(() => undefined);
  release!();
  await leaving;
  expect(worker.state).toBe("left");
  expect(events).toEqual([]);
  expect(failures).toBe(0);
});
