// A service that needs only locks: it depends on @helix/lock (and, through it, @helix/db).
//   HELIX_MYSQL_URL=mysql://root@127.0.0.1:3306/helix node index.mjs
import { createDatabaseIfMissing, createPool, migrate } from "@helix/db";
import { createLocker } from "@helix/lock";

const url = process.env.HELIX_MYSQL_URL ?? "mysql://root@127.0.0.1:3306/helix";
await createDatabaseIfMissing(url);
const pool = await createPool(url);
await migrate(pool);
await pool.query("CREATE TABLE IF NOT EXISTS example_report (id INT PRIMARY KEY, runs INT NOT NULL, epoch BIGINT NOT NULL)");

const locker = await createLocker(pool, { owner: `example:${process.pid}` });
const epoch = await locker.withLock("example:nightly-report", async (lease) => {
  // Only one process runs this at a time; the write commits only while the lease is the newest.
  const conn = await pool.getConnection();
  try {
    await conn.beginTransaction();
    await lease.fence(conn);
    await conn.query("INSERT INTO example_report VALUES (1, 1, ?) ON DUPLICATE KEY UPDATE runs = runs + 1, epoch = VALUES(epoch)", [
      lease.epoch,
    ]);
    await conn.commit();
  } finally {
    conn.release();
  }
  return lease.epoch;
});
const info = await locker.inspect("example:nightly-report");
console.log(`ran the report under epoch ${epoch}; lock now held: ${info.held}`);
await locker.close();
await pool.end();
