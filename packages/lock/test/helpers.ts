import { migratedDatabase as createMigrated, type MigratedDatabase } from "@helix/testing";
import { createPool, migrate, type QueryClient, type QueryOptions } from "@helix/db";
import type { Pool, RowDataPacket } from "mysql2/promise";

export type Fixture = MigratedDatabase<Pool>;

/** A fresh, migrated database and a pool on it, for one test file. */
export const migratedDatabase = (): Promise<Fixture> => createMigrated(createPool, migrate);

/** Rows in helix_locks. */
export async function lockRows(pool: Pool): Promise<number> {
  const [rows] = await pool.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM helix_locks");
  return Number(rows[0]!.n);
}

/** Makes a key's lease expired by the database clock, as if its TTL had passed. */
export async function expireInDatabase(pool: Pool, key: string): Promise<void> {
  await pool.query("UPDATE helix_locks SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE lock_key = ?", [key]);
}

/**
 * A QueryClient in front of a real pool whose connection can be cut (every query then fails as a
 * refused connection would) or made to fail with given driver errors a number of times.
 */
export class FaultyClient implements QueryClient {
  cut = false;
  readonly injected: { errno: number; code: string }[] = [];
  calls = 0;

  constructor(private readonly pool: Pool) {}

  async query(options: QueryOptions): Promise<[unknown, unknown]> {
    this.calls++;
    if (this.cut) throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:3306"), { code: "ECONNREFUSED" });
    const fault = this.injected.shift();
    if (fault !== undefined) throw Object.assign(new Error(`injected ${fault.code}`), fault);
    return (await this.pool.query(options));
  }
}

export { until } from "@helix/testing";
