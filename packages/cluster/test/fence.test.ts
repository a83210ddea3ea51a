// The partition fence without a database: what it checks before sending anything, what it sends
// (on the caller's connection, locked as the engine needs), and what it throws. The SQL's own
// behaviour is the query tests' (and the member tests' against a real server).
import { PartitionFencedError } from "../src/errors";
import { fencePartition, fencePartitionOn, type PartitionOwnership } from "../src/fence";

/** A connection that records statements by sqlc name and answers as scripted. */
function scripted(replies: Record<string, unknown> = {}) {
  const sent: { name: string; values: unknown[] }[] = [];
  return {
    sent,
    async query(options: { sql: string; values: unknown[] }): Promise<[unknown, unknown]> {
      const name = /-- name: (\w+)/.exec(options.sql)?.[1] ?? "other";
      sent.push({ name, values: options.values });
      const reply = name in replies ? replies[name] : [[1]];
      if (reply instanceof Error) throw reply;
      return [reply, []];
    },
  };
}

const ownership: PartitionOwnership = {
  cluster: "c",
  domain: "d",
  taskList: "t",
  partition: 4,
  nodeId: "n",
  incarnation: "i",
  generation: 9,
};
const VALUES = ["c", "d", "t", 4, "n", "i", 9];
const mariadb = (): Promise<"mariadb"> => Promise.resolve("mariadb");

test("checks the partition on the connection at the ownership's generation, under a shared lock", async () => {
  const conn = scripted();
  await fencePartitionOn(conn, ownership, mariadb);
  expect(conn.sent).toEqual([{ name: "CheckPartitionForShare", values: VALUES }]);
});

test("on TiDB, under an exclusive lock", async () => {
  const conn = scripted();
  await fencePartitionOn(conn, ownership, () => Promise.resolve("tidb"));
  expect(conn.sent).toEqual([{ name: "CheckPartitionForUpdate", values: VALUES }]);
});

test("fencePartition asks the connection for its engine", async () => {
  const conn = scripted({ ServerVersion: [["8.0.11-TiDB-v8.5.0"]] });
  await fencePartition(conn, ownership);
  expect(conn.sent.map((s) => s.name)).toEqual(["ServerVersion", "CheckPartitionForUpdate"]);
});

test("no row: PartitionFencedError naming the ownership", async () => {
  const conn = scripted({ CheckPartitionForShare: [] });
  const error = await fencePartitionOn(conn, ownership, mariadb).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(PartitionFencedError);
  expect(error).toMatchObject({ cluster: "c", domain: "d", taskList: "t", partition: 4, nodeId: "n", generation: 9 });
});

test("a lost connection is DatabaseUnavailableError; the statement's own error passes as it is", async () => {
  const lost = Object.assign(new Error("Connection lost"), { code: "PROTOCOL_CONNECTION_LOST", fatal: true });
  await expect(fencePartitionOn(scripted({ CheckPartitionForShare: lost }), ownership, mariadb)).rejects.toMatchObject({
    code: "HELIX_DATABASE_UNAVAILABLE",
    server: "the database",
    cause: lost,
  });
  const own = Object.assign(new Error("syntax"), { errno: 1064 });
  await expect(fencePartitionOn(scripted({ CheckPartitionForShare: own }), ownership, mariadb)).rejects.toBe(own);
  const engineLost = Object.assign(new Error("refused"), { code: "ECONNREFUSED" });
  await expect(fencePartitionOn(scripted(), ownership, () => Promise.reject(engineLost))).rejects.toMatchObject({
    code: "HELIX_DATABASE_UNAVAILABLE",
  });
});

describe("arguments are checked before anything is sent", () => {
  test.each([
    ["cluster", { cluster: "" }],
    ["domain", { domain: "" }],
    ["taskList", { taskList: 3 }],
    ["partition", { partition: -1 }],
    ["partition", { partition: 10_000 }],
    ["nodeId", { nodeId: null }],
    ["incarnation", { incarnation: "" }],
    ["generation", { generation: -1 }],
    ["generation", { generation: 1.5 }],
  ])("%s", async (argument, bad) => {
    const conn = scripted();
    await expect(fencePartitionOn(conn, { ...ownership, ...bad } as never, mariadb)).rejects.toMatchObject({
      code: "HELIX_INVALID_ARGUMENT",
      argument,
    });
    expect(conn.sent).toEqual([]);
  });

  test("the connection and the ownership object themselves", async () => {
    await expect(fencePartitionOn({} as never, ownership, mariadb)).rejects.toMatchObject({ argument: "connection" });
    await expect(fencePartitionOn(scripted(), null as never, mariadb)).rejects.toMatchObject({ argument: "ownership" });
  });

  test("the widest values are accepted", async () => {
    const conn = scripted();
    await fencePartitionOn(conn, { ...ownership, partition: 9999, generation: Number.MAX_SAFE_INTEGER }, mariadb);
    await fencePartitionOn(conn, { ...ownership, partition: 0, generation: 0 }, mariadb);
    expect(conn.sent).toHaveLength(2);
  });
});
