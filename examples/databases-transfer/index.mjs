// A service on @databases/mysql: Helix's locks run on its ConnectionPool, and a transfer between
// two accounts is fenced by a lease inside a @databases transaction. A holder that was paused past
// its lease (GC, SIGSTOP, a slow disk) is refused by the database, and its transfer writes nothing.
//   HELIX_MYSQL_URL=mysql://root@127.0.0.1:3306/helix node index.mjs
import { setTimeout as sleep } from "node:timers/promises";

import createConnectionPool, { sql } from "@databases/mysql";
import { databasesClient, databasesPool } from "@helix/databases-mysql";
import { createDatabaseIfMissing, migrate } from "@helix/db";
import { createLocker, fence, FencedOutError } from "@helix/lock";

const url = process.env.HELIX_MYSQL_URL ?? "mysql://root@127.0.0.1:3306/helix";
await createDatabaseIfMissing(url);
const db = createConnectionPool({ connectionString: url, bigIntMode: "number" });
const helixPool = databasesPool(db);
await migrate(helixPool);
await db.query(sql`CREATE TABLE IF NOT EXISTS example_accounts (id INT PRIMARY KEY, balance INT NOT NULL)`);
await db.query(sql`REPLACE INTO example_accounts (id, balance) VALUES (1, 100), (2, 0)`);

/** Moves `amount` from account 1 to account 2, in one transaction that `fenced` fences first. */
const transfer = (amount, fenced) =>
  db.tx(async (tx) => {
    await fenced(databasesClient(tx));
    await tx.query(sql`UPDATE example_accounts SET balance = balance - ${amount} WHERE id = 1`);
    await tx.query(sql`UPDATE example_accounts SET balance = balance + ${amount} WHERE id = 2`);
  });
const balances = async () => (await db.query(sql`SELECT balance FROM example_accounts ORDER BY id`)).map((r) => r.balance).join(" / ");

const key = `example:ledger:${process.pid}`;
const holder = await createLocker(helixPool, { owner: "holder", ttlMs: 1000 });
const rival = await createLocker(helixPool, { owner: "rival", ttlMs: 1000 });

const lease = await holder.acquire(key);
await transfer(30, (conn) => lease.fence(conn));
console.log(`transfer of 30 under epoch ${lease.epoch} committed; balances ${await balances()}`);

// The holder pauses past its TTL without renewing; the rival takes the key meanwhile.
const pausedEpoch = lease.epoch;
await sleep(1200);
const next = await rival.acquire(key);
console.log(`while the holder was paused, the rival took the lease at epoch ${next.epoch}`);

// Waking up, the paused holder goes on with the epoch it had: the database refuses it.
let refused = false;
try {
  await transfer(50, (conn) => fence(conn, key, pausedEpoch));
} catch (error) {
  if (!(error instanceof FencedOutError)) throw error;
  refused = true;
  console.log(`the paused holder's transfer of 50 was refused (${error.code}); balances ${await balances()}`);
}
await next.release();
await holder.close();
await rival.close();
await db.dispose();
if (!refused) {
  console.error("the paused holder's transfer was not refused");
  process.exit(1);
}
