// The same package from CommonJS: tryAcquire, inspect, release.
const { createPool, migrate } = require("@helix/db");
const { createLocker } = require("@helix/lock");

async function main() {
  const pool = await createPool(process.env.HELIX_MYSQL_URL ?? "mysql://root@127.0.0.1:3306/helix");
  await migrate(pool);
  const locker = await createLocker(pool);
  const lease = await locker.tryAcquire("example:cjs", { ttlMs: 5000 });
  if (lease === null) throw new Error("expected the key to be free");
  console.log(`held example:cjs with epoch ${lease.epoch}; released: ${await lease.release()}`);
  await locker.close();
  await pool.end();
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
