import { createTestDatabase, type TestDatabase } from "@helix/testing";
import type { Pool, RowDataPacket } from "mysql2/promise";

import { createPool, migrate } from "../src/internal";
import * as cluster from "../src/generated/cluster";

// A member's reads of its own partitions must stay a range of the owner index whatever the
// optimizer's statistics say (why: ListProcessOwnership in packages/db/sql/queries/cluster.sql).
const OWNER_INDEX = "helix_allocation_by_owner_version";
const ROWS = 20_000;

/** The index each table access of `sql` uses, as EXPLAIN says on MariaDB and MySQL, or on TiDB. */
async function indexesUsed(pool: Pool, sql: string, values: unknown[]): Promise<string[]> {
  const [plan] = await pool.query<RowDataPacket[]>({ sql: `EXPLAIN ${sql}`, values });
  return plan.flatMap((step) => {
    if ("key" in step) return [String(step.key)];
    // TiDB: one row per operator. An index read names its index ("index:<name>"); a read of the
    // table itself by row ids follows one (an index lookup) and is not an access of its own; any
    // other read of the table (a full or range scan) goes by the primary key.
    const operator = String(step.id).replace(/^[^A-Za-z]+/, "");
    const access = String(step["access object"] ?? "");
    if (!access.startsWith("table:") || operator.startsWith("TableRowIDScan")) return [];
    return [/index:(\w+)/.exec(access)?.[1] ?? "PRIMARY"];
  });
}

describe("a member's reads of its partitions", () => {
  let db: TestDatabase;
  let pool: Pool;

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = await createPool(db.url);
    await migrate(pool);
  });

  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  const identity = { cluster: "c", nodeId: "n1", incarnation: "i".repeat(32) };
  const reads: [string, string, unknown[]][] = [
    ["ListProcessOwnership", cluster.listProcessOwnershipQuery, [identity.cluster, identity.nodeId, identity.incarnation]],
    ["ListMemberOwnership", cluster.listMemberOwnershipQuery, [identity.cluster, identity.nodeId]],
    ["ListProcessOwnershipChanges", cluster.listProcessOwnershipChangesQuery, [identity.cluster, identity.nodeId, 0, identity.incarnation]],
    ["ListProcessReleaseRequests", cluster.listProcessReleaseRequestsQuery, [identity.cluster, identity.nodeId, identity.incarnation]],
  ];

  /** Fills the cluster with `ROWS` partitions, owned as `owner(partition)` says, and refreshes the statistics. */
  async function fill(owner: (column: string) => string): Promise<void> {
    await pool.query("DELETE FROM helix_allocation");
    await pool.query(
      `INSERT INTO helix_allocation (cluster, domain, task_list, partition_id, node_id, incarnation, state, generation, updated_at)
       SELECT 'c', 'd', CONCAT('t', b.n), a.n, ${owner("a.n")}, IF(${owner("a.n")} IS NULL, NULL, ?), 0, 0, UTC_TIMESTAMP(6)
       FROM helix_numbers AS a CROSS JOIN helix_numbers AS b
       WHERE a.n < ? AND b.n < 2`,
      [identity.incarnation, ROWS / 2],
    );
    await pool.query("ANALYZE TABLE helix_allocation");
  }

  test.each([
    ["every row unassigned (a table just filled)", () => "NULL"],
    ["two members owning half each", (n: string) => `CONCAT('n', ${n} % 2)`],
  ])("use the owner index when %s", async (_, owner) => {
    await fill(owner);
    for (const [name, sql, values] of reads) {
      expect([name, await indexesUsed(pool, sql, values)]).toEqual([name, [OWNER_INDEX]]);
    }
  });
});
