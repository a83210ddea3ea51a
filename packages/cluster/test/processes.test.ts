import { join as joinPath } from "node:path";

import { DatabaseUnavailableError } from "@helix/db";
import { JsonChild } from "@helix/testing";

import type { RowDataPacket } from "mysql2/promise";

import { createCatalog, createOwnershipStore, join, PartitionState, type Member, type OwnershipStore } from "../src";
import { migratedDatabase, until, type Fixture } from "./helpers";

const fixtures = joinPath(__dirname, "fixtures");
const TTL_MS = 1000;

let fx: Fixture;
let store: OwnershipStore;
const cluster = "procs";
const started: JsonChild[] = [];
const inProcess: Member[] = [];

function startMember(nodeId: string, clockOffsetMs: number): JsonChild {
  const child = JsonChild.start(joinPath(fixtures, "member-child.cjs"), [fx.db.url, cluster, nodeId, String(TTL_MS)], { clockOffsetMs });
  started.push(child);
  return child;
}

async function nodeRow(nodeId: string): Promise<{ status: number; heartbeatAt: Date }> {
  const [rows] = await fx.pool.query<RowDataPacket[]>("SELECT status, heartbeat_at FROM helix_nodes WHERE cluster = ? AND node_id = ?", [
    cluster,
    nodeId,
  ]);
  return { status: Number(rows[0]!.status), heartbeatAt: rows[0]!.heartbeat_at as Date };
}

beforeAll(async () => {
  fx = await migratedDatabase();
  await fx.pool.query(
    "CREATE TABLE work (id BIGINT AUTO_INCREMENT PRIMARY KEY, node_id VARCHAR(64) NOT NULL, incarnation CHAR(32) NOT NULL, partition_id INT NOT NULL, generation BIGINT NOT NULL, at DATETIME(6) NOT NULL)",
  );
  store = await createOwnershipStore(fx.pool, { cluster });
  await (await createCatalog(fx.pool, { cluster })).putTaskList({ domain: "d", taskList: "t", partitions: 4 });
});

afterEach(async () => {
  for (const child of started.splice(0)) child.kill();
  await Promise.all(inProcess.splice(0).map((m) => m.leave()));
});

afterAll(async () => {
  await fx.close();
});

test("a member killed with SIGKILL is marked inactive by a sweep once its TTL has passed", async () => {
  const sweepIntervalMs = 200;
  inProcess.push(await join(fx.pool, { cluster, nodeId: "sweeper", ttlMs: 3000, sweepIntervalMs }));
  const child = startMember("doomed", -7 * 60_000);
  await until(() => child.count("joined") === 1);
  // Its last heartbeat, by the database clock, just before the kill.
  await until(async () => (await nodeRow("doomed")).heartbeatAt.getTime() > 0);
  child.process.kill("SIGKILL");
  // Marked inactive by the sweep (nothing else writes its row now), and not before its TTL had passed
  // since its last heartbeat, by the database clock: each look reads that clock with the row, and
  // the first look that finds it inactive comes after the sweep.
  let look: RowDataPacket | undefined;
  await until(async () => {
    const [rows] = await fx.pool.query<RowDataPacket[]>(
      "SELECT status, TIMESTAMPDIFF(MICROSECOND, heartbeat_at, UTC_TIMESTAMP(6)) AS sinceUs FROM helix_nodes WHERE cluster = ? AND node_id = ?",
      [cluster, "doomed"],
    );
    look = rows[0];
    return Number(look!.status) === 0;
  }, 20_000);
  expect(Number(look!.sinceUs)).toBeGreaterThanOrEqual(TTL_MS * 1000);
}, 30_000);

test("a member paused past its TTL loses its partitions only after the TTL, and does no more work on them", async () => {
  const child = startMember("paused", 7 * 60_000);
  await until(() => child.count("joined") === 1);
  for (const p of await store.taskListPartitions("d", "t")) {
    await store.assign({ domain: "d", taskList: "t", partition: p.partition, generation: p.generation }, "paused");
  }
  await until(() => child.count("assigned") === 4);
  await until(async () => {
    const [rows] = await fx.pool.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM work WHERE node_id = 'paused'");
    return Number(rows[0]!.n) >= 8;
  });

  child.process.kill("SIGSTOP");
  // Its last heartbeat before the pause, by the database clock (one sent just before lands at once).
  // Read now: once it runs again it registers anew, and its row shows that registration instead.
  await new Promise((resolve) => setTimeout(resolve, 100));
  const { heartbeatAt } = await nodeRow("paused");
  // The pause may fall inside a fenced unit of work, which holds its partition's row: nobody can be
  // given that partition until the process runs again and commits. So it resumes after two TTLs
  // whatever happens (the moves below wait for the TTL anyway).
  const resume = setTimeout(() => child.process.kill("SIGCONT"), TTL_MS * 2);
  const successor = await join(fx.pool, { cluster, nodeId: "successor", ttlMs: 3000, sweepIntervalMs: 0 });
  inProcess.push(successor);
  // The paused member is live by the database clock until its TTL passes: no partition moves before.
  const moved = new Set<number>();
  while (moved.size < 4) {
    for (const p of await store.taskListPartitions("d", "t")) {
      if (moved.has(p.partition)) continue;
      const ref = { domain: "d", taskList: "t", partition: p.partition, generation: p.generation };
      const generation = await store.assign(ref, "successor", 600_000).catch((error: unknown) => {
        // While a fenced unit of work of the paused process holds the row, the write waits, and
        // gives up at its bound (40% of the shortest TTL) rather than hold the members' rows it
        // locked: it is tried again.
        if (error instanceof DatabaseUnavailableError) return null;
        throw error;
      });
      if (generation !== null) moved.add(p.partition);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const [assigned] = await fx.pool.query<RowDataPacket[]>(
    "SELECT MIN(assigned_at) AS first FROM helix_allocation WHERE cluster = ? AND node_id = 'successor'",
    [cluster],
  );
  const firstMove = assigned[0]!.first as Date;
  expect(firstMove.getTime()).toBeGreaterThanOrEqual(heartbeatAt.getTime() + TTL_MS - 1);

  clearTimeout(resume);
  child.process.kill("SIGCONT");
  await until(() => child.count("lost") === 4);
  expect(child.events.filter((e) => e.event === "lost").every((e) => e.reason === "fenced" || e.reason === "taken")).toBe(true);
  await new Promise((resolve) => setTimeout(resolve, 300));
  child.process.stdin.end();
  expect(await child.exited).toBe(0);
  expect(child.stderr).toBe("");

  const [before] = await fx.pool.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM work WHERE node_id = 'paused'");
  expect(Number(before[0]!.n)).toBeGreaterThanOrEqual(8);
  await until(() => successor.partitions().length === 4);
  expect(successor.partitions().map((p) => p.generation)).toEqual([2, 2, 2, 2]);

  // No late work, by commit order: the successor writes one fenced unit per partition, and every
  // unit of the paused member on a partition was committed before it (its fence held the row).
  for (const p of successor.partitions()) {
    const conn = await fx.pool.getConnection();
    try {
      await conn.beginTransaction();
      await p.fence(conn);
      await conn.query(
        "INSERT INTO work (node_id, incarnation, partition_id, generation, at) VALUES ('successor', ?, ?, ?, UTC_TIMESTAMP(6))",
        [p.incarnation, p.partition, p.generation],
      );
      await conn.commit();
    } finally {
      conn.release();
    }
  }
  const [late] = await fx.pool.query<RowDataPacket[]>(
    `SELECT COUNT(*) AS n FROM work AS old JOIN work AS next ON next.partition_id = old.partition_id AND next.node_id = 'successor'
     WHERE old.node_id = 'paused' AND (old.id > next.id OR old.generation >= next.generation)`,
  );
  expect(Number(late[0]!.n)).toBe(0);
}, 30_000);

test("a stale process whose node id was reused cannot release, confirm or work on the new process's partitions", async () => {
  const list = { domain: "d", taskList: "reuse" };
  await (await createCatalog(fx.pool, { cluster })).putTaskList({ ...list, partitions: 3 });
  const assignAll = async (nodeId: string): Promise<void> => {
    for (const p of await store.taskListPartitions(list.domain, list.taskList)) {
      expect(await store.assign({ ...list, partition: p.partition, generation: p.generation }, nodeId)).toBe(p.generation + 1);
    }
  };
  const old = startMember("reused", 0);
  await until(() => old.count("joined") === 1);
  await assignAll("reused");
  await until(() => old.count("assigned") === 3);

  // The old process is paused past its TTL (between units of work: a fenced unit in flight would hold
  // its partition's row, and with it the hand-off, until the process runs again); a new process
  // registers with the same node id and is given the partitions.
  old.process.stdin.write("quiet\n");
  await until(() => old.count("quiet") === 1);
  old.process.kill("SIGSTOP");
  await until(async () => (await store.members()).find((n) => n.nodeId === "reused")?.live === false, 5000);
  const fresh = startMember("reused", 0);
  await until(() => fresh.count("joined") === 1);
  await assignAll("reused");
  await until(() => fresh.count("assigned") === 3);
  const freshIncarnation = fresh.events.find((e) => e.event === "joined")!.incarnation as string;
  const oldIncarnation = old.events.find((e) => e.event === "joined")!.incarnation as string;
  expect(freshIncarnation).not.toBe(oldIncarnation);

  // A release of partition 0 is asked for without telling the new process (so that it does not
  // confirm it meanwhile). The old process resumes and, with the handles it kept, tries to confirm
  // that release and to work on each partition it held: every attempt is refused.
  const where = [cluster, list.domain, list.taskList];
  await fx.pool.query(
    "UPDATE helix_allocation SET state = 2, target_node_id = 'elsewhere', release_asked_at = UTC_TIMESTAMP(6) WHERE cluster = ? AND domain = ? AND task_list = ? AND partition_id = 0",
    where,
  );
  old.process.kill("SIGCONT");
  old.process.stdin.write("attempt\n");
  await until(() => old.count("attempts-done") === 1);
  expect(old.events.filter((e) => e.event === "attempted").map((e) => [e.partition, e.generation, e.work, e.confirmed])).toEqual(
    [0, 1, 2].map((partition) => [partition, 1, "HELIX_PARTITION_FENCED", 0]),
  );
  const [asked] = await fx.pool.query<RowDataPacket[]>(
    "SELECT incarnation, state FROM helix_allocation WHERE cluster = ? AND domain = ? AND task_list = ? AND partition_id = 0",
    where,
  );
  expect([String(asked[0]!.incarnation), Number(asked[0]!.state)]).toEqual([freshIncarnation, PartitionState.ReleaseRequested]);
  await fx.pool.query(
    "UPDATE helix_allocation SET state = 1, target_node_id = NULL, release_asked_at = NULL WHERE cluster = ? AND domain = ? AND task_list = ? AND partition_id = 0",
    where,
  );

  // Then the old process is told to leave: it releases only what is its own (nothing).
  old.process.stdin.end();
  expect(await old.exited).toBe(0);
  await new Promise((resolve) => setTimeout(resolve, 300));

  const [rows] = await fx.pool.query<RowDataPacket[]>(
    "SELECT node_id, incarnation, state, generation FROM helix_allocation WHERE cluster = ? AND domain = ? AND task_list = ?",
    [cluster, list.domain, list.taskList],
  );
  expect(rows.map((r) => [String(r.node_id), String(r.incarnation), Number(r.state), Number(r.generation)])).toEqual(
    Array(3).fill(["reused", freshIncarnation, 1, 2]),
  );
  expect(fresh.count("lost")).toBe(0);
  // Units of work in the new generation come from the new process only.
  const [work] = await fx.pool.query<RowDataPacket[]>("SELECT DISTINCT incarnation FROM work WHERE node_id = 'reused' AND generation = 2");
  expect(work.map((r) => String(r.incarnation))).toEqual([freshIncarnation]);
  fresh.process.stdin.end();
  expect(await fresh.exited).toBe(0);
}, 30_000);
