import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";

import { createTestDatabase, type TestDatabase } from "@helix/testing";
import type { Pool, RowDataPacket } from "mysql2/promise";

import {
  assertMigrated,
  createPool,
  isHelixError,
  migrate,
  migrationSources,
  schemaStatus,
  type MigrateResult,
  type QueryClient,
} from "../src/internal";
import { bootstrapStatements } from "../src/generated/migrations";
import * as schema from "../src/generated/schema";

const run = promisify(execFile);
const latest = migrationSources.at(-1)!.version;
/** Every table of the final schema: the design's names for locks, members (helix_nodes), task lists (helix_cluster) and ownership (helix_allocation). */
const helixTables = [
  "helix_allocation",
  "helix_cluster",
  "helix_cluster_state",
  "helix_lock_epoch_floor",
  "helix_locks",
  "helix_maintenance",
  "helix_nodes",
  "helix_numbers",
  "helix_placements",
  "helix_schema_lock",
  "helix_schema_migrations",
  "helix_transitions",
];

async function withDatabase(fn: (pool: Pool, db: TestDatabase) => Promise<void>): Promise<void> {
  await using db = await createTestDatabase();
  const pool = await createPool(db.url);
  try {
    await fn(pool, db);
  } finally {
    await pool.end();
  }
}

async function tables(pool: Pool): Promise<string[]> {
  const [rows] = await pool.query<RowDataPacket[]>(
    "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()",
  );
  // Sorted here: engines order names by different collations.
  return rows.map((r) => String(r.name)).sort();
}

test("a mysql2 pool is a QueryClient", async () => {
  await withDatabase(async (pool) => {
    const client: QueryClient = pool;
    const [rows] = await client.query({ sql: "SELECT ? AS x", values: [41 + 1], rowsAsArray: true });
    expect(rows).toEqual([[42]]);
  });
});

test("migrate applies every migration to an empty database, in order", async () => {
  await withDatabase(async (pool) => {
    expect(await schemaStatus(pool)).toEqual({ version: 0, pending: migrationSources.map((m) => m.version) });
    await expect(assertMigrated(pool)).rejects.toMatchObject({ code: "HELIX_SCHEMA_NOT_MIGRATED" });

    const seen: number[] = [];
    const result = await migrate(pool, { onMigration: (m) => seen.push(m.version) });
    expect(result.applied.map((m) => m.version)).toEqual(migrationSources.map((m) => m.version));
    expect(seen).toEqual(migrationSources.map((m) => m.version));
    expect(result.version).toBe(latest);
    expect(await tables(pool)).toEqual(helixTables);
    const [numbers] = await pool.query<RowDataPacket[]>("SELECT COUNT(*) AS n, MIN(n) AS lo, MAX(n) AS hi FROM helix_numbers");
    expect(numbers[0]).toMatchObject({ n: 10_000, lo: 0, hi: 9_999 });
    expect(await schemaStatus(pool)).toEqual({ version: latest, pending: [] });
    await expect(assertMigrated(pool)).resolves.toBeUndefined();

    const rows = await schema.listSchemaMigrations(pool);
    expect(rows.map((r) => [r.version, r.statementsApplied, r.finishedAt !== null])).toEqual(
      migrationSources.map((m) => [m.version, m.statements.length, true]),
    );
  });
});

test("re-running migrate is a no-op that writes nothing", async () => {
  await withDatabase(async (pool) => {
    await migrate(pool);
    const lease = "SELECT token, expires_at FROM helix_schema_lock";
    const before = [await schema.listSchemaMigrations(pool), (await pool.query(lease))[0]];
    const again = await migrate(pool);
    expect(again).toEqual({ applied: [], version: latest });
    // Neither the bookkeeping nor the migration lease changed: the fast path takes no lease.
    expect([await schema.listSchemaMigrations(pool), (await pool.query(lease))[0]]).toEqual(before);
  });
});

test("four processes migrating at once apply each migration exactly once", async () => {
  await withDatabase(async (pool, db) => {
    const child = join(__dirname, "fixtures", "migrate-child.cjs");
    const startAt = String(Date.now() + 1500);
    const outputs = await Promise.all(
      [1, 2, 3, 4].map(async () => {
        const { stdout } = await run(process.execPath, [child, db.url, startAt], { timeout: 60_000 });
        return JSON.parse(stdout) as MigrateResult;
      }),
    );
    const applied = outputs.flatMap((o) => o.applied.map((m) => m.version)).sort((a, b) => a - b);
    expect(applied).toEqual(migrationSources.map((m) => m.version));
    expect(outputs.every((o) => o.version === latest)).toBe(true);
    expect(await tables(pool)).toEqual(helixTables);
    const rows = await schema.listSchemaMigrations(pool);
    expect(rows.map((r) => [r.version, r.statementsApplied, r.finishedAt !== null])).toEqual(
      migrationSources.map((m) => [m.version, m.statements.length, true]),
    );
  });
});

test("a migration interrupted part-way resumes after its last applied statement", async () => {
  const multi = migrationSources.find((m) => m.statements.length > 1)!;
  await withDatabase(async (pool) => {
    for (const statement of bootstrapStatements) await pool.query(statement);
    // Everything before `multi` applied, then `multi`'s first statement, as a crash would leave it.
    for (const m of migrationSources.filter((s) => s.version < multi.version)) {
      for (const statement of m.statements) await pool.query(statement);
      await pool.query("INSERT INTO helix_schema_migrations VALUES (?, ?, ?, ?, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))", [
        m.version,
        m.name,
        m.checksum,
        m.statements.length,
      ]);
    }
    await pool.query(multi.statements[0]!);
    await pool.query("INSERT INTO helix_schema_migrations VALUES (?, ?, ?, 1, UTC_TIMESTAMP(6), NULL)", [
      multi.version,
      multi.name,
      multi.checksum,
    ]);
    expect((await schemaStatus(pool)).pending).toContain(multi.version);

    // Re-running the first statement (a CREATE TABLE) would fail, so success shows it was skipped.
    const result = await migrate(pool);
    expect(result.applied.map((m) => m.version)).toEqual(migrationSources.filter((s) => s.version >= multi.version).map((s) => s.version));
    expect(await tables(pool)).toEqual(helixTables);
  });
});

test("a database at version 8 gets the design's table names, its rows and the owner index kept", async () => {
  await withDatabase(async (pool) => {
    for (const statement of bootstrapStatements) await pool.query(statement);
    for (const m of migrationSources.filter((s) => s.version <= 8)) {
      for (const statement of m.statements) await pool.query(statement);
      await pool.query("INSERT INTO helix_schema_migrations VALUES (?, ?, ?, ?, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))", [
        m.version,
        m.name,
        m.checksum,
        m.statements.length,
      ]);
    }
    // Rows under the names migration 6 gave, as a running cluster has them.
    await pool.query(
      "INSERT INTO helix_members (cluster, node_id, incarnation, metadata, status, registered_at, heartbeat_at, expires_at) VALUES ('c', 'n', ?, '{}', 1, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))",
      ["i".repeat(32)],
    );
    await pool.query(
      "INSERT INTO helix_task_lists (cluster, domain, task_list, partitions, metadata, status, version, created_at, updated_at) VALUES ('c', 'd', 't', 2, '{}', 1, 1, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))",
    );
    await pool.query(
      "INSERT INTO helix_ownership (cluster, domain, task_list, partition_id, state, generation, updated_at) VALUES ('c', 'd', 't', 0, 0, 4, UTC_TIMESTAMP(6))",
    );
    expect((await migrate(pool)).applied.map((m) => m.version)).toEqual(
      migrationSources.filter((s) => s.version > 8).map((s) => s.version),
    );
    expect(await tables(pool)).toEqual(helixTables);
    const count = async (table: string): Promise<number> =>
      Number((await pool.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${table}`))[0][0]!.n);
    expect([await count("helix_nodes"), await count("helix_cluster"), await count("helix_allocation")]).toEqual([1, 1, 1]);
    const [keys] = await pool.query<RowDataPacket[]>(
      "SELECT DISTINCT index_name AS name FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'helix_allocation'",
    );
    expect(keys.map((k) => String(k.name))).toContain("helix_allocation_by_owner_version");
  });
});

test("an applied migration that differs from the code's copy is refused", async () => {
  await withDatabase(async (pool) => {
    await migrate(pool);
    await pool.query("UPDATE helix_schema_migrations SET checksum = ? WHERE version = 1", ["f".repeat(64)]);
    const failure = migrate(pool);
    await expect(failure).rejects.toMatchObject({ code: "HELIX_MIGRATION_CHECKSUM_MISMATCH", version: 1 });
    await expect(schemaStatus(pool)).rejects.toThrow(/add a new migration instead/);
  });
});

test("migrate waits for another process's lease, and takes it over once it expires", async () => {
  await withDatabase(async (pool) => {
    for (const statement of bootstrapStatements) await pool.query(statement);
    expect(await schema.acquireSchemaLock(pool, { owner: "other", token: "o".repeat(32), ttlUs: 60_000_000 })).toBe(1);
    const error: unknown = await migrate(pool, { lockWaitMs: 300 }).catch((e: unknown) => e);
    expect(isHelixError(error, "HELIX_MIGRATION_LOCK")).toBe(true);
    expect(await tables(pool)).toEqual(["helix_schema_lock", "helix_schema_migrations"]);

    // A lease whose holder died expires by the database clock, and the next migrate takes over.
    await pool.query("UPDATE helix_schema_lock SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND");
    const result = await migrate(pool, { lockWaitMs: 300 });
    expect(result.applied).toHaveLength(migrationSources.length);
  });
});

test("bad options are rejected before anything is written", async () => {
  await withDatabase(async (pool) => {
    await expect(migrate(pool, { lockTtlMs: 0 })).rejects.toMatchObject({ code: "HELIX_INVALID_ARGUMENT", argument: "lockTtlMs" });
    await expect(migrate(pool, { lockWaitMs: -1 })).rejects.toMatchObject({ code: "HELIX_INVALID_ARGUMENT", argument: "lockWaitMs" });
    await expect(migrate(pool, { lockTtlMs: 1.5 })).rejects.toThrow(/lockTtlMs: must be a positive integer/);
    expect(await tables(pool)).toEqual([]);
  });
});

test("writers of the protocol before owner versions fail on this schema, and its member reads still work", async () => {
  // The statements an earlier version of Helix sends to ask for a release, to retire partitions
  // and to hand a partition over, as that version's generated code has them (abridged to the
  // columns they write and read, and with the tables' names of today: since migration 9 every
  // statement of an earlier version fails on the names already): none may succeed beside members
  // that read only stamped rows.
  const earlierWriters = [
    "UPDATE helix_allocation SET state = 2, target_node_id = 'b', release_requested_at = UTC_TIMESTAMP(6) WHERE cluster = 'c' AND partition_id IN (0) AND state = 1",
    "UPDATE helix_allocation SET release_requested_at = IF(state = 2, release_requested_at, UTC_TIMESTAMP(6)), state = 2 WHERE cluster = 'c' AND partition_id >= 0",
    "UPDATE helix_allocation SET node_id = 'b', state = 1, generation = generation + 1, release_requested_at = NULL WHERE cluster = 'c' AND partition_id IN (0)",
  ];
  const earlierMemberRead =
    "SELECT domain, task_list, partition_id, state, generation, target_node_id FROM helix_allocation WHERE cluster = 'c' AND node_id = 'a' AND incarnation = 'i'";
  await withDatabase(async (pool) => {
    await migrate(pool);
    for (const sql of earlierWriters) await expect(pool.query(sql)).rejects.toMatchObject({ errno: 1054 });
    await expect(pool.query(earlierMemberRead)).resolves.toBeDefined();
  });
});
