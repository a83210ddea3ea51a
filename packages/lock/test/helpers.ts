import { migratedDatabase as createMigrated, type MigratedDatabase } from "@helix/testing";
import { createPool, migrate } from "@helix/db";
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

export { FaultyPool, until } from "@helix/testing";
