// Each clause of the membership and ownership statements where it alone decides (see clauses-fixture.ts).
import { createPool, type Pool, type PoolConnection, type RowDataPacket } from "mysql2/promise";

import * as cluster from "../src/generated/cluster";
import { PartitionState } from "../src/internal";
import { atPinnedInstant, rowOf, SECOND_US, writeWhileFenced } from "./clauses-fixture";
import { engine, pool, useQueriesFixture } from "./queries-fixture";

// A plain mysql2 pool: FOUND_ROWS on, so a count is of the rows a statement matched, and a row it
// matches without changing (a member marked inactive again) shows.
useQueriesFixture(async (url) => createPool(url));

test("a member's registration is over at the instant it expires: no heartbeat revives it, and the sweep marks it", async () => {
  await atPinnedInstant(async (conn) => {
    const member = { cluster: "edge", nodeId: "n1", incarnation: "i".repeat(32), ttlUs: 60 * SECOND_US };
    await cluster.registerMember(conn, { ...member, metadata: "{}", weight: 1 });
    await conn.query("UPDATE helix_nodes SET expires_at = UTC_TIMESTAMP(6) WHERE cluster = 'edge'");
    expect((await cluster.heartbeatMember(conn, member)).affectedRows).toBe(0);
    expect(await cluster.markExpiredMembersInactive(conn, { cluster: "edge" })).toBe(1);
    expect(await rowOf(conn, "SELECT status FROM helix_nodes WHERE cluster = 'edge'", [])).toEqual({ status: 0 });
  });
});

test("a heartbeat extends only its own incarnation's live, active registration", async () => {
  const member = { cluster: "beat", nodeId: "n1", incarnation: "i".repeat(32), ttlUs: 60 * SECOND_US };
  await cluster.registerMember(pool, { ...member, metadata: "{}", weight: 1 });
  expect((await cluster.heartbeatMember(pool, { ...member, incarnation: "j".repeat(32) })).affectedRows).toBe(0);
  await pool.query("UPDATE helix_nodes SET status = 0 WHERE cluster = 'beat'");
  expect((await cluster.heartbeatMember(pool, member)).affectedRows).toBe(0);
  await pool.query("UPDATE helix_nodes SET status = 1, expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE cluster = 'beat'");
  expect((await cluster.heartbeatMember(pool, member)).affectedRows).toBe(0);
  await pool.query("UPDATE helix_nodes SET expires_at = UTC_TIMESTAMP(6) + INTERVAL 1 SECOND WHERE cluster = 'beat'");
  expect((await cluster.heartbeatMember(pool, member)).affectedRows).toBe(1);
});

test("the sweep marks its own cluster's expired, active members and nothing else", async () => {
  const register = (c: string, nodeId: string) =>
    cluster.registerMember(pool, { cluster: c, nodeId, incarnation: "i".repeat(32), metadata: "{}", weight: 1, ttlUs: 60 * SECOND_US });
  await register("sweep", "expired");
  await register("sweep", "gone");
  await register("sweep", "live");
  await register("elsewhere", "expired");
  await pool.query("UPDATE helix_nodes SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE node_id IN ('expired', 'gone')");
  await pool.query("UPDATE helix_nodes SET status = 0 WHERE node_id = 'gone'");
  expect(await cluster.markExpiredMembersInactive(pool, { cluster: "sweep" })).toBe(1);
  const [rows] = await pool.query<RowDataPacket[]>(
    "SELECT cluster, node_id, status FROM helix_nodes WHERE cluster IN ('sweep', 'elsewhere') ORDER BY cluster, node_id",
  );
  expect(rows.map((r): unknown[] => [r.cluster, r.node_id, Number(r.status)])).toEqual([
    ["elsewhere", "expired", 1],
    ["sweep", "expired", 0],
    ["sweep", "gone", 0],
    ["sweep", "live", 1],
  ]);
});

describe("assigning a partition a member holds", () => {
  const key = { domain: "d", taskList: "t" };
  const owner = { nodeId: "n1", incarnation: "i".repeat(32) };
  let clusterSeq = 0;

  /** A fresh cluster whose partition 0 is n1's (generation 1), n1 live with a 2 s TTL; and a second member with a shorter TTL. */
  async function heldPartition(conn: PoolConnection | Pool): Promise<string> {
    const name = `held${++clusterSeq}`;
    await cluster.registerMember(conn, { cluster: name, ...owner, metadata: "{}", weight: 1, ttlUs: 2 * SECOND_US });
    await cluster.registerMember(conn, {
      cluster: name,
      nodeId: "n2",
      incarnation: "j".repeat(32),
      metadata: "{}",
      weight: 1,
      ttlUs: SECOND_US / 2,
    });
    // The same node id in another cluster, with a shorter TTL still: only n1's own row may count.
    await cluster.registerMember(conn, { cluster: `${name}x`, ...owner, metadata: "{}", weight: 1, ttlUs: SECOND_US / 4 });
    await cluster.putTaskList(conn, { cluster: name, ...key, partitions: 1, metadata: "{}" });
    await cluster.insertPartitions(conn, { cluster: name, ...key, partitions: 1 });
    expect(
      await cluster.assignPartitions(conn, {
        cluster: name,
        ...key,
        partitionIds: [0],
        ...owner,
        generation: 0,
        forceAfterUs: 0,
        ownerVersion: 1,
      }),
    ).toBe(1);
    return name;
  }
  const assignToN2 = (conn: PoolConnection | Pool, name: string, forceAfterUs = 0) =>
    cluster.assignPartitions(conn, {
      cluster: name,
      ...key,
      partitionIds: [0],
      nodeId: "n2",
      incarnation: "j".repeat(32),
      generation: 1,
      forceAfterUs,
      ownerVersion: 2,
    });

  test("is refused while its owner's process is live", async () => {
    expect(await assignToN2(pool, await heldPartition(pool))).toBe(0);
  });

  test.each([
    ["its registration has expired", "expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND"],
    ["it is marked inactive", "status = 0"],
    ["the node id runs another process now", `incarnation = '${"k".repeat(32)}'`],
  ])("goes at once when %s", async (_, change) => {
    const name = await heldPartition(pool);
    await pool.query(`UPDATE helix_nodes SET ${change} WHERE cluster = ? AND node_id = 'n1'`, [name]);
    expect(await assignToN2(pool, name)).toBe(1);
  });

  test("goes at once at the instant its owner's registration expires", async () => {
    await atPinnedInstant(async (conn) => {
      const name = await heldPartition(conn);
      await conn.query("UPDATE helix_nodes SET expires_at = UTC_TIMESTAMP(6) WHERE cluster = ? AND node_id = 'n1'", [name]);
      expect(await assignToN2(conn, name)).toBe(1);
    });
  });

  test("is forced from a live owner asked to release it exactly when the longer of the force delay and the owner's TTL has passed", async () => {
    await atPinnedInstant(async (conn) => {
      const asked = async (agoUs: number) => {
        const name = await heldPartition(conn);
        await cluster.requestPartitionsRelease(conn, { cluster: name, ...key, partitionIds: [0], targetNodeId: "n2", ownerVersion: 2 });
        await conn.query("UPDATE helix_allocation SET release_asked_at = UTC_TIMESTAMP(6) - INTERVAL ? MICROSECOND WHERE cluster = ?", [
          agoUs,
          name,
        ]);
        return name;
      };
      // The owner's TTL (2 s) is the longer: not at 1.5 s (past the force delay and the other TTLs), then at 2 s exactly.
      expect(await assignToN2(conn, await asked(1.5 * SECOND_US), SECOND_US)).toBe(0);
      expect(await assignToN2(conn, await asked(2 * SECOND_US - 1), SECOND_US)).toBe(0);
      expect(await assignToN2(conn, await asked(2 * SECOND_US), SECOND_US)).toBe(1);
      // The force delay is the longer: at 3 s exactly, not before.
      expect(await assignToN2(conn, await asked(3 * SECOND_US - 1), 3 * SECOND_US)).toBe(0);
      expect(await assignToN2(conn, await asked(3 * SECOND_US), 3 * SECOND_US)).toBe(1);
    });
  });
});

test("only a release that was asked for can be confirmed, and only once", async () => {
  const key = { cluster: "confirm", domain: "d", taskList: "t" };
  const owner = { nodeId: "n1", incarnation: "i".repeat(32) };
  await cluster.putTaskList(pool, { ...key, partitions: 1, metadata: "{}" });
  await cluster.insertPartitions(pool, { ...key, partitions: 1 });
  await cluster.assignPartitions(pool, { ...key, partitionIds: [0], ...owner, generation: 0, forceAfterUs: 0, ownerVersion: 1 });
  const confirm = () => cluster.confirmPartitionsRelease(pool, { ...key, partitionIds: [0], ...owner });
  const state = async () => (await cluster.getPartition(pool, { ...key, partitionId: 0 }))?.state;
  // Not asked: the owner keeps it.
  expect(await confirm()).toBe(0);
  expect(await state()).toBe(PartitionState.Assigned);
  await cluster.requestPartitionsRelease(pool, { ...key, partitionIds: [0], targetNodeId: "n2", ownerVersion: 2 });
  expect(await confirm()).toBe(1);
  expect(await state()).toBe(PartitionState.Released);
  expect(await confirm()).toBe(0);
});

describe("a partition's fence holds its row until its transaction ends", () => {
  test.each([["FOR UPDATE"], ["LOCK IN SHARE MODE"]])("a partition's fence (%s) keeps a release request waiting", async (form) => {
    if (form === "LOCK IN SHARE MODE" && engine === "tidb") return;
    const check = form === "FOR UPDATE" ? cluster.checkPartitionForUpdate : cluster.checkPartitionForShare;
    const name = `fenced-${form === "FOR UPDATE" ? "x" : "s"}`;
    const owner = { nodeId: "n1", incarnation: "i".repeat(32) };
    const key = { cluster: name, domain: "d", taskList: "t" };
    await cluster.putTaskList(pool, { ...key, partitions: 1, metadata: "{}" });
    await cluster.insertPartitions(pool, { ...key, partitions: 1 });
    await cluster.assignPartitions(pool, { ...key, partitionIds: [0], ...owner, generation: 0, forceAfterUs: 0, ownerVersion: 1 });
    const request = (conn: PoolConnection | Pool) =>
      cluster.requestPartitionsRelease(conn, { ...key, partitionIds: [0], targetNodeId: "n2", ownerVersion: 2 });
    const during = await writeWhileFenced((conn) => check(conn, { ...key, partitionId: 0, ...owner, generation: 1 }), request);
    expect(during).toEqual({ errno: 1205 });
    expect(await request(pool)).toBe(1);
  });
});
