import { migratedDatabase as createMigrated, type MigratedDatabase } from "@helix/testing";
import { createPool, migrate, type QueryOptions, type TransactionConnection } from "@helix/db";
import type { Pool } from "mysql2/promise";

export type Fixture = MigratedDatabase<Pool>;

/** A fresh, migrated database and a pool on it, for one test file. */
export const migratedDatabase = (): Promise<Fixture> => createMigrated(createPool, migrate);

/**
 * A pool in front of the real one that counts statements by their sqlc name and can be cut off
 * (every statement then fails as a refused connection would).
 */
export class WatchedPool {
  cut = false;
  readonly counts = new Map<string, number>();

  constructor(private readonly pool: Pool) {}

  count(name: string): number {
    return this.counts.get(name) ?? 0;
  }

  #check(options: QueryOptions): void {
    const name = /-- name: (\w+)/.exec(options.sql)?.[1] ?? "other";
    this.counts.set(name, this.count(name) + 1);
    if (this.cut) throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:3306"), { code: "ECONNREFUSED" });
  }

  async query(options: QueryOptions): Promise<[unknown, unknown]> {
    this.#check(options);
    return (await this.pool.query(options));
  }

  async getConnection(): Promise<TransactionConnection> {
    if (this.cut) throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:3306"), { code: "ECONNREFUSED" });
    const conn = await this.pool.getConnection();
    return {
      query: async (options: QueryOptions) => {
        this.#check(options);
        return (await conn.query(options));
      },
      beginTransaction: () => conn.beginTransaction(),
      commit: () => conn.commit(),
      rollback: () => conn.rollback(),
      release: () => conn.release(),
    };
  }
}

export { until } from "@helix/testing";
