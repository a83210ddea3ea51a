// migrate() resumes after a crash at any point, including between a statement (DDL commits on its
// own) and the row that records it, and it never mistakes anything else for such a statement.

import { createTestDatabase } from "@helix/testing";
import type { Pool, RowDataPacket } from "mysql2/promise";

import {
  createPool,
  migrate,
  migrationSources,
  schemaStatus,
  type MigrationSource,
  type QueryOptions,
  type TransactionConnection,
} from "../src/internal";
import { bootstrapStatements } from "../src/generated/migrations";
import * as schema from "../src/generated/schema";
import { appliedTest } from "../src/migrate-resume";

const latest = migrationSources.at(-1)!.version;

async function withDatabase(fn: (pool: Pool) => Promise<void>): Promise<void> {
  await using db = await createTestDatabase("helix_resume");
  const pool = await createPool(db.url);
  try {
    await fn(pool);
  } finally {
    await pool.end();
  }
}

/** Tables, columns (with types) and keys, to compare a resumed schema with one migrated at once. */
async function shape(pool: Pool): Promise<unknown> {
  const [columns] = await pool.query<RowDataPacket[]>(
    `SELECT table_name, column_name, column_type, is_nullable, column_default, ordinal_position
     FROM information_schema.columns WHERE table_schema = DATABASE() ORDER BY table_name, ordinal_position`,
  );
  const [keys] = await pool.query<RowDataPacket[]>(
    `SELECT table_name, index_name, non_unique, seq_in_index, column_name
     FROM information_schema.statistics WHERE table_schema = DATABASE() ORDER BY table_name, index_name, seq_in_index`,
  );
  return { columns, keys };
}

/**
 * Leaves the database as migrate leaves it once it has recorded `recorded` statements of migration
 * `version`: the migrations before it applied and finished, those statements applied.
 */
async function recordedUpTo(pool: Pool, version: number, recorded: number): Promise<void> {
  for (const statement of bootstrapStatements) await pool.query(statement);
  for (const m of migrationSources.filter((s) => s.version <= version)) {
    const n = m.version < version ? m.statements.length : recorded;
    for (const statement of m.statements.slice(0, n)) await pool.query(statement);
    await pool.query("INSERT INTO helix_schema_migrations VALUES (?, ?, ?, ?, UTC_TIMESTAMP(6), ?)", [
      m.version,
      m.name,
      m.checksum,
      n,
      m.version < version ? new Date() : null,
    ]);
  }
}

/** Statement `index` (from 0) of migration `version`. */
const statementOf = (version: number, index: number): string => migrationSources.find((m) => m.version === version)!.statements[index]!;

/**
 * Leaves the database as a process that died right after running statement `index` of migration
 * `version`, before recording it, leaves it: applied, and not recorded.
 */
async function crashAfter(pool: Pool, version: number, index: number): Promise<void> {
  await recordedUpTo(pool, version, index);
  await pool.query(statementOf(version, index));
}

async function applied(pool: Pool, version: number): Promise<number> {
  return (await schema.listSchemaMigrations(pool)).find((r) => r.version === version)?.statementsApplied ?? 0;
}

async function numbers(pool: Pool): Promise<number> {
  const [rows] = await pool.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM helix_numbers");
  return Number(rows[0]!.n);
}

let reference: unknown;

beforeAll(async () => {
  await withDatabase(async (pool) => {
    await migrate(pool);
    reference = await shape(pool);
  });
});

const kinds: [RegExp, string][] = [
  [/^CREATE TABLE/, "CREATE TABLE"],
  [/^INSERT/, "INSERT"],
  [/^ALTER TABLE \w+ ADD COLUMN/, "ADD COLUMN"],
  [/^RENAME TABLE/, "RENAME TABLE"],
  [/^ALTER TABLE \w+ RENAME COLUMN/, "RENAME COLUMN"],
  [/^ALTER TABLE \w+ RENAME INDEX/, "RENAME INDEX"],
  [/^ALTER TABLE \w+ ADD KEY/, "ADD KEY"],
  [/^ALTER TABLE \w+ DROP KEY/, "DROP KEY"],
];
const everyStatement = migrationSources.flatMap((m: MigrationSource) =>
  m.statements.map((statement, index) => ({
    version: m.version,
    index,
    statement: index + 1,
    kind: kinds.find(([re]) => re.test(statement.trim()))?.[1] ?? "other",
  })),
);

test("the crash tests cover each kind of statement the migrations hold", () => {
  expect(new Set(everyStatement.map((s) => s.kind))).toEqual(new Set(kinds.map(([, kind]) => kind)));
});

describe("a crash between a statement and its record", () => {
  test.each(everyStatement)(
    "after statement $statement of migration $version ($kind): migrate finishes, as if it had not crashed",
    async ({ version, index }) => {
      await withDatabase(async (pool) => {
        await crashAfter(pool, version, index);
        const result = await migrate(pool);
        expect(result.applied.map((m) => m.version)).toEqual(migrationSources.filter((m) => m.version >= version).map((m) => m.version));
        expect(await schemaStatus(pool)).toEqual({ version: latest, pending: [] });
        expect(await shape(pool)).toEqual(reference);
        expect(await numbers(pool)).toBe(10_000);
        const rows = await schema.listSchemaMigrations(pool);
        expect(rows.map((r) => [r.version, r.statementsApplied, r.finishedAt !== null])).toEqual(
          migrationSources.map((m) => [m.version, m.statements.length, true]),
        );
      });
    },
  );
});

describe("nothing else counts as already applied", () => {
  test("a later statement whose object exists fails, naming the migration, the statement and what to do", async () => {
    await withDatabase(async (pool) => {
      // Migration 3 has nothing recorded, yet its second statement's table is there: no run of
      // migrate made it, as it would have recorded the first statement before sending the second.
      await recordedUpTo(pool, 3, 0);
      await pool.query(statementOf(3, 1));

      const error: unknown = await migrate(pool).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "HELIX_MIGRATION_FAILED", version: 3, statement: 2 });
      expect((error as Error).message).toMatch(
        /^statement 2 of 2 of migration 3 \(coordinator\) failed: Table '(\w+\.)?helix_transitions' already exists\./,
      );
      expect((error as Error).message).toMatch(/run migrate again: it resumes with this statement/);
      expect((error as Error).cause).toMatchObject({ errno: 1050 });
      expect(await applied(pool, 3)).toBe(1);
    });
  });

  test("an 'already exists' error is not taken as applied when the object differs from what the statement makes", async () => {
    await withDatabase(async (pool) => {
      await recordedUpTo(pool, 3, 1);
      await pool.query("CREATE TABLE helix_transitions (cluster VARCHAR(128) NOT NULL, id BIGINT NOT NULL, PRIMARY KEY (cluster, id))");

      const error: unknown = await migrate(pool).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "HELIX_MIGRATION_FAILED", version: 3, statement: 2 });
      expect((error as Error).message).toMatch(
        /the schema does not show what it does: table helix_transitions has the columns \(cluster, id\)/,
      );
      expect((error as Error).message).toMatch(/put it back as it was before this statement, then run migrate again/);
      expect(await applied(pool, 3)).toBe(1);
    });
  });

  test("a duplicate entry is not taken as applied when rows of the INSERT are missing, and the check changes nothing", async () => {
    await withDatabase(async (pool) => {
      const insert = migrationSources[1]!.statements.findIndex((s) => s.startsWith("INSERT"));
      await recordedUpTo(pool, 2, insert);
      await pool.query("INSERT INTO helix_numbers (n) VALUES (0), (9999)");

      const error: unknown = await migrate(pool).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "HELIX_MIGRATION_FAILED", version: 2, statement: insert + 1 });
      expect((error as Error).message).toMatch(/9998 of the rows it inserts are not there/);
      expect(await numbers(pool)).toBe(2);
      expect(await applied(pool, 2)).toBe(insert);
    });
  });

  test("an error that does not mean 'already there' fails even for the first unrecorded statement", async () => {
    await withDatabase(async (pool) => {
      await recordedUpTo(pool, 3, 0);
      await pool.query("DROP TABLE helix_nodes");

      const error: unknown = await migrate(pool).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "HELIX_MIGRATION_FAILED", version: 3, statement: 1 });
      expect((error as Error).cause).toMatchObject({ errno: 1146 });
      expect(await applied(pool, 3)).toBe(0);
    });
  });
});

/** A pool on which the process "dies" once a statement matching `crashAt` has run: from then on every statement fails. */
class CrashingPool {
  dead = false;

  constructor(
    private readonly pool: Pool,
    private readonly crashAt: string,
  ) {}

  query(options: QueryOptions): Promise<[unknown, unknown]> {
    return this.#run(options, (o) => this.pool.query(o));
  }

  async getConnection(): Promise<TransactionConnection> {
    const conn = await this.pool.getConnection();
    return {
      query: (options: QueryOptions) => this.#run(options, (o) => conn.query(o)),
      beginTransaction: () => conn.beginTransaction(),
      commit: () => (this.dead ? Promise.reject(gone()) : conn.commit()),
      // A dead process's connection closes, and the server rolls back what it had not committed.
      rollback: () => conn.rollback(),
      release: () => conn.release(),
    };
  }

  async #run(options: QueryOptions, query: (o: QueryOptions) => Promise<[unknown, unknown]>): Promise<[unknown, unknown]> {
    if (this.dead) throw gone();
    const result = await query(options);
    if (options.sql === this.crashAt) this.dead = true;
    return result;
  }
}

const gone = (): Error =>
  Object.assign(new Error("Connection lost: The server closed the connection."), { code: "PROTOCOL_CONNECTION_LOST", fatal: true });

test("DDL that a crash left unrecorded is recognized when migrate runs again", async () => {
  await withDatabase(async (pool) => {
    const crashing = new CrashingPool(pool, migrationSources.find((m) => m.version === 3)!.statements[0]!);
    await expect(migrate(crashing)).rejects.toMatchObject({ code: "HELIX_DATABASE_UNAVAILABLE" });
    expect(await applied(pool, 3)).toBe(0);
    // The dead process's lease expires by the database clock; no need to wait for it here.
    await pool.query("UPDATE helix_schema_lock SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND");

    await migrate(pool);
    expect(await schemaStatus(pool)).toEqual({ version: latest, pending: [] });
    expect(await shape(pool)).toEqual(reference);
  });
});

test("an INSERT is applied and recorded in one transaction: a crash between them leaves neither", async () => {
  await withDatabase(async (pool) => {
    const crashing = new CrashingPool(
      pool,
      migrationSources[1]!.statements.find((s) => s.startsWith("INSERT"))!,
    );
    await expect(migrate(crashing)).rejects.toMatchObject({ code: "HELIX_DATABASE_UNAVAILABLE" });
    expect(await numbers(pool)).toBe(0);
    await pool.query("UPDATE helix_schema_lock SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND");

    await migrate(pool);
    expect(await numbers(pool)).toBe(10_000);
    expect(await shape(pool)).toEqual(reference);
  });
});

describe("appliedTest: which errors of which statements mean 'already there'", () => {
  const errnos = (statement: string): number[] | undefined => {
    const test = appliedTest(statement);
    return test === undefined ? undefined : [...test.errnos].sort();
  };

  test.each([
    ["CREATE TABLE t (a INT, KEY k (a))", [1050]],
    ["CREATE UNIQUE INDEX i ON t (a, b)", [1061]],
    ["ALTER TABLE t ADD COLUMN a INT DEFAULT 'x,y'", [1060]],
    ["ALTER TABLE `t` ADD `a b` DECIMAL(10, 2), ADD KEY k (a), ALGORITHM=INPLACE", [1060, 1061]],
    ["ALTER TABLE t RENAME COLUMN a TO b", [1054, 1060]],
    ["ALTER TABLE t RENAME INDEX a TO b", [1061, 1176]],
    ["ALTER TABLE t CHANGE a b INT", [1054, 1060]],
    ["ALTER TABLE t DROP COLUMN a, DROP KEY k", [1091]],
    ["RENAME TABLE a TO b, c TO d", [1050, 1146]],
    ["ALTER TABLE a RENAME TO b", [1050, 1146]],
    ["DROP TABLE a", [1051]],
    ["DROP INDEX i ON t", [1091]],
    ["INSERT INTO t (a) VALUES (1)", [1062]],
  ])("%s: %j", (statement, expected) => {
    expect(errnos(statement)).toEqual(expected);
  });

  test.each([
    "ALTER TABLE t MODIFY COLUMN a BIGINT",
    "ALTER TABLE t CHANGE a a BIGINT",
    "ALTER TABLE other.t ADD COLUMN a INT",
    "ALTER TABLE t ADD CONSTRAINT c FOREIGN KEY (a) REFERENCES u (b)",
    "ALTER TABLE t ADD KEY (a)",
    "ALTER TABLE t DROP PRIMARY KEY",
    "ALTER TABLE t RENAME TO u, ADD COLUMN x INT",
    "INSERT IGNORE INTO t VALUES (1)",
    "UPDATE t SET a = 1",
    "SET @x = 1",
  ])("%s: never taken as applied", (statement) => {
    expect(appliedTest(statement)).toBeUndefined();
  });

  test("a CREATE TABLE is checked against the columns and named keys it makes", () => {
    expect(
      appliedTest("CREATE TABLE x (a INT, `b` TEXT, UNIQUE KEY (a), KEY `k` (a), CONSTRAINT c CHECK (a > 0)) ENGINE = InnoDB"),
    ).toEqual({
      errnos: new Set([1050]),
      checks: [{ on: "table", table: "x", present: true, columns: ["a", "b"], indexes: ["k"] }],
    });
  });
});
