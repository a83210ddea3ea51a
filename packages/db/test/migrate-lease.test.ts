// The migration lease is never lost silently: renewals that fail are retried, no statement starts
// once the lease may have lapsed, and a statement that ran while it lapsed is not recorded.

import { createTestDatabase } from "@helix/testing";
import type { Pool, PoolConnection, RowDataPacket } from "mysql2/promise";

import { createPool, migrate, migrationSources, schemaStatus, type QueryOptions, type TransactionConnection } from "../src/internal";
import * as schema from "../src/generated/schema";

const latest = migrationSources.at(-1)!.version;
/** Statement 1 of migration 3: ALTER TABLE helix_nodes ADD COLUMN weight. */
const addWeight = migrationSources.find((m) => m.version === 3)!.statements[0]!;

/**
 * A pool in front of the real one, for faults of the lease: renewals fail (as if their connection
 * died) while `renewalFailures` is above 0, and statements can be made slow.
 */
class LeasePool {
  /** How many of the next renewals fail; Infinity for all. */
  renewalFailures = 0;
  /** How many of the next renewals never get an answer (a black-holed connection). */
  renewalsHanging = 0;
  renewals = 0;
  /** Runs, on the statement's own connection, before the statement: a long DDL holds its connection. */
  slowStatement?: { sql: string; seconds: number; onStart?: () => void };
  /** Holds back the answer of this record (sent and applied, slow to come back). */
  slowRecord?: { statementsApplied: number; version: number; ms: number; onStart?: () => void };

  constructor(private readonly pool: Pool) {}

  query(options: QueryOptions): Promise<[unknown, unknown]> {
    return this.#run(options, undefined);
  }

  /** DML runs in a transaction on a connection of its own. */
  async getConnection(): Promise<TransactionConnection> {
    const conn = await this.pool.getConnection();
    return {
      query: (options) => this.#run(options, conn),
      beginTransaction: () => conn.beginTransaction(),
      commit: () => conn.commit(),
      rollback: () => conn.rollback(),
      release: () => conn.release(),
    };
  }

  async #run(options: QueryOptions, conn: PoolConnection | undefined): Promise<[unknown, unknown]> {
    if (options.sql === schema.renewSchemaLockQuery) {
      this.renewals++;
      if (this.renewalFailures > 0) {
        this.renewalFailures--;
        throw Object.assign(new Error("Connection lost: The server closed the connection."), {
          code: "PROTOCOL_CONNECTION_LOST",
          fatal: true,
        });
      }
      if (this.renewalsHanging > 0) {
        this.renewalsHanging--;
        return new Promise(() => undefined);
      }
    }
    const slow = this.slowStatement;
    if (slow !== undefined && options.sql === slow.sql) {
      const own = conn ?? (await this.pool.getConnection());
      try {
        slow.onStart?.();
        await own.query("DO SLEEP(?)", [slow.seconds]);
        return await own.query(options);
      } finally {
        if (conn === undefined) own.release();
      }
    }
    const result = (await (conn ?? this.pool).query(options)) as [unknown, unknown];
    const record = this.slowRecord;
    if (record !== undefined && options.sql === schema.recordSchemaStatementQuery) {
      const [applied, version] = options.values as [number, number];
      if (applied === record.statementsApplied && version === record.version) {
        record.onStart?.();
        await new Promise((r) => setTimeout(r, record.ms));
      }
    }
    return result;
  }
}

async function withDatabase(fn: (pool: Pool) => Promise<void>): Promise<void> {
  await using db = await createTestDatabase("helix_lease");
  const pool = await createPool(db.url);
  try {
    await fn(pool);
  } finally {
    await pool.end();
  }
}

const other = { owner: "other process", token: "o".repeat(32), ttlUs: 60_000_000 };

/** Plays another process that takes the lease as soon as it has expired. */
async function takeOverOnceExpired(pool: Pool): Promise<void> {
  const missingTable = (error: unknown): number => {
    if ((error as { errno?: unknown }).errno === 1146) return 0; // migrate has not created it yet
    throw error;
  };
  while ((await schema.acquireSchemaLock(pool, other).catch(missingTable)) !== 1) await new Promise((r) => setTimeout(r, 20));
}

/**
 * Runs migrate while `sql` takes 2 s, during which renewals fail and another process takes the
 * lease once it has expired. @returns what migrate threw.
 */
async function migrateLosingLeaseDuring(pool: Pool, sql: string): Promise<unknown> {
  const faults = new LeasePool(pool);
  let takeover: Promise<void> | undefined;
  faults.slowStatement = {
    sql,
    seconds: 2,
    onStart: () => {
      faults.renewalFailures = Infinity;
      takeover = takeOverOnceExpired(pool);
    },
  };
  const error: unknown = await migrate(faults, { lockTtlMs: 600 }).catch((e: unknown) => e);
  await takeover;
  return error;
}

async function applied(pool: Pool, version: number): Promise<number> {
  return (await schema.listSchemaMigrations(pool)).find((r) => r.version === version)?.statementsApplied ?? 0;
}

async function columns(pool: Pool, table: string): Promise<string[]> {
  const [rows] = await pool.query<RowDataPacket[]>(
    "SELECT column_name AS name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ?",
    [table],
  );
  return rows.map((r) => String(r.name));
}

test("renewals that fail for a while during a long statement are retried, and migrate succeeds", async () => {
  await withDatabase(async (pool) => {
    const faults = new LeasePool(pool);
    // The statement takes twice the TTL; the first three renewals while it runs fail. Renewing
    // only every third of the TTL, the lease would expire before a fourth renewal.
    faults.slowStatement = { sql: addWeight, seconds: 3, onStart: () => (faults.renewalFailures = 3) };
    const result = await migrate(faults, { lockTtlMs: 1500 });
    expect(result.version).toBe(latest);
    expect(faults.renewalFailures).toBe(0);
    expect(await schemaStatus(pool)).toEqual({ version: latest, pending: [] });
  });
});

test("a renewal that never gets an answer does not hold up the next ones", async () => {
  await withDatabase(async (pool) => {
    const faults = new LeasePool(pool);
    faults.slowStatement = { sql: addWeight, seconds: 3, onStart: () => (faults.renewalsHanging = 1) };
    const result = await migrate(faults, { lockTtlMs: 1500 });
    expect(result.version).toBe(latest);
    expect(faults.renewalsHanging).toBe(0);
  });
});

test("a lease lost while a statement runs is reported, the statement is not recorded, and migrate run again resumes", async () => {
  await withDatabase(async (pool) => {
    const error = await migrateLosingLeaseDuring(pool, addWeight);
    expect(error).toMatchObject({ code: "HELIX_MIGRATION_LOCK" });
    // The statement ran, and is not recorded: the process that took over may be running it too.
    expect(await columns(pool, "helix_nodes")).toContain("weight");
    expect(await applied(pool, 3)).toBe(0);

    // Once the other process is gone, a new run resumes with that statement, already applied.
    await schema.releaseSchemaLock(pool, { token: other.token });
    await migrate(pool);
    expect(await schemaStatus(pool)).toEqual({ version: latest, pending: [] });

    expect((error as Error).message).toMatch(
      /^lost the migration lease while statement 1 of 2 of migration 3 \(coordinator\) ran \(the last renewal that succeeded was sent \d+ ms ago, lockTtlMs is 600; \d+ renewal\(s\) failed since, the last with: .*Connection lost/,
    );
    expect((error as Error).message).toMatch(
      /another process may have taken it over.*The statement ran but is not recorded.*Run migrate again: it resumes/,
    );
  });
});

test("no statement starts once the lease may have lapsed", async () => {
  await withDatabase(async (pool) => {
    const faults = new LeasePool(pool);
    let takeover: Promise<void> | undefined;
    // Statement 1 of migration 3 is recorded in time, but the answer comes back only after the
    // lease, which renewals could not reach meanwhile, expired and another process took it.
    faults.slowRecord = {
      version: 3,
      statementsApplied: 1,
      ms: 1500,
      onStart: () => {
        faults.renewalFailures = Infinity;
        takeover = takeOverOnceExpired(pool);
      },
    };
    const error: unknown = await migrate(faults, { lockTtlMs: 600 }).catch((e: unknown) => e);
    await takeover;
    expect(error).toMatchObject({ code: "HELIX_MIGRATION_LOCK" });
    // Statement 2 (CREATE TABLE helix_transitions) was not sent.
    expect(await columns(pool, "helix_transitions")).toEqual([]);
    expect(await applied(pool, 3)).toBe(1);
    expect((error as Error).message).toMatch(
      /^stopped before statement 2 of 2 of migration 3 \(coordinator\): the migration lease could not be renewed .*Nothing of this statement ran/,
    );
  });
});

test("an INSERT that ran while the lease was lost is rolled back, and migrate run again applies it once", async () => {
  await withDatabase(async (pool) => {
    const cluster = migrationSources[1]!;
    const insert = cluster.statements.find((s) => s.startsWith("INSERT"))!;
    const n = cluster.statements.length;
    const error = await migrateLosingLeaseDuring(pool, insert);
    expect(error).toMatchObject({ code: "HELIX_MIGRATION_LOCK" });
    const [rows] = await pool.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM helix_numbers");
    expect(rows[0]).toMatchObject({ n: 0 });
    expect((error as Error).message).toMatch(
      new RegExp(`^lost the migration lease while statement ${n} of ${n} of migration 2 \\(cluster\\) ran .*The statement was rolled back`),
    );

    await schema.releaseSchemaLock(pool, { token: other.token });
    await migrate(pool);
    const [after] = await pool.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM helix_numbers");
    expect(after[0]).toMatchObject({ n: 10_000 });
  });
});
