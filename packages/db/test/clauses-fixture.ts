// The fixture of the clause tests (clauses-<module>.test.ts): each clause of the statements that
// decide leases, fences, liveness and hand-offs is tested at the point where it alone decides: at the
// instant a lease or a registration ends (the session clock pinned, so that the statement's
// UTC_TIMESTAMP(6) equals the row's expiry exactly), with one condition of a row changed at a time,
// and with a second transaction that must wait for a fence's row lock. `pnpm mutate:sql`
// (scripts/mutate-sql.mjs) runs them beside the query tests, and the queries fixture supplies the
// database; one client is enough here, the query tests try every client's flags.
import type { PoolConnection, RowDataPacket } from "mysql2/promise";

import { pool } from "./queries-fixture";

export const SECOND_US = 1_000_000;
export const TOKEN = { a: "a".repeat(32), b: "b".repeat(32) };

/**
 * Runs `fn` on one connection whose clock is pinned: every UTC_TIMESTAMP(6) it evaluates is the
 * same instant, so a row can be made to expire exactly at the statement's "now". The connection is
 * destroyed afterwards rather than handed back with its clock still pinned.
 */
export async function atPinnedInstant(fn: (conn: PoolConnection) => Promise<void>): Promise<void> {
  const conn = await pool.getConnection();
  try {
    await conn.query(`SET timestamp = ${Math.floor(Date.now() / 1000)}.250001`);
    await fn(conn);
  } finally {
    conn.destroy();
  }
}

/** The one row `sql` selects, its BIGINT answers as numbers. */
export async function rowOf(conn: PoolConnection, sql: string, values: unknown[]): Promise<Record<string, number | string | null>> {
  const [rows] = await conn.query<RowDataPacket[]>(sql, values);
  expect(rows).toHaveLength(1);
  return Object.fromEntries(Object.entries(rows[0]!).map(([k, v]) => [k, typeof v === "string" && /^-?\d+$/.test(v) ? Number(v) : v]));
}

/** The answer of `write` on a second connection while `fence` holds its row lock in an open transaction. */
export async function writeWhileFenced(
  fence: (conn: PoolConnection) => Promise<unknown>,
  write: (conn: PoolConnection) => Promise<unknown>,
): Promise<{ answer: unknown } | { errno: number | undefined }> {
  const holder = await pool.getConnection();
  const writer = await pool.getConnection();
  try {
    await holder.beginTransaction();
    expect(await fence(holder)).not.toBeNull();
    // An explicit transaction: TiDB runs autocommit statements optimistically, without waiting.
    await writer.query("SET SESSION innodb_lock_wait_timeout = 1");
    await writer.beginTransaction();
    const during = await write(writer).then(
      (answer) => ({ answer }),
      (error: { errno?: number }) => ({ errno: error.errno }),
    );
    await writer.rollback();
    await holder.commit();
    return during;
  } finally {
    holder.destroy();
    writer.destroy();
  }
}
