// The fixture of the error-policy tests: a test database per file with two tables (t and m, emptied
// before each test) and a Helix pool on it. The bindings are live.
import { createTestDatabase, type TestDatabase } from "@helix/testing";
import type { Pool } from "mysql2/promise";

import { createPool, type QueryOptions } from "../src/internal";

/** A statement as generated queries send it: `SELECT 1 AS one` unless told otherwise. */
export const select = (sql = "SELECT 1 AS one"): QueryOptions => ({ sql, values: [] });

export let db: TestDatabase;
export let pool: Pool;

/** Registers the fixture's hooks in the calling test file. */
export function usePolicyFixture(): void {
  beforeAll(async () => {
    db = await createTestDatabase("helix_policy");
    pool = await createPool(db.url);
    await pool.query("CREATE TABLE t (id INT PRIMARY KEY, n INT NOT NULL)");
    await pool.query("CREATE TABLE m (id INT PRIMARY KEY, n INT NOT NULL)");
  });

  afterAll(async () => {
    await pool.end();
    await db[Symbol.asyncDispose]();
  });

  beforeEach(async () => {
    await pool.query("DELETE FROM t");
    await pool.query("DELETE FROM m");
  });
}
