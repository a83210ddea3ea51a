import { migratedDatabase as createMigrated, type MigratedDatabase } from "@helix/testing";
import { createPool, migrate } from "@helix/db";
import type { Pool } from "mysql2/promise";

export type Fixture = MigratedDatabase<Pool>;

/** A fresh, migrated database and a pool on it, for one test file. */
export const migratedDatabase = (): Promise<Fixture> => createMigrated(createPool, migrate);

export { FaultyPool, until } from "@helix/testing";
