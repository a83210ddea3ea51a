// A service that embeds the coordinator and a worker: every instance runs both; one coordinator
// leads, and the partitions of the task list are spread over the instances.
//   HELIX_MYSQL_URL=mysql://root@127.0.0.1:3306/helix node index.mjs
import { createCatalog, createCoordinator, join } from "@helix/coordinator";
import { createDatabaseIfMissing, createPool, migrate } from "@helix/db";

const url = process.env.HELIX_MYSQL_URL ?? "mysql://root@127.0.0.1:3306/helix";
const cluster = "example-embedded";
await createDatabaseIfMissing(url);
const pool = await createPool(url);
await migrate(pool);

const catalog = await createCatalog(pool, { cluster });
await catalog.putTaskList({ domain: "billing", taskList: "invoices", partitions: 8 });
await catalog.close();

const coordinator = await createCoordinator(pool, { cluster });
const worker = await join(pool, {
  cluster,
  // Stop the partition's work before the release is confirmed; here there is nothing to stop.
  onRelease: async (partition) => console.log(`stopping ${partition.taskList}#${partition.partition}`),
});
worker.on("partition:assigned", (p) => {
  // Start the work; fence its side effects with p.generation and stop when p.signal aborts.
  console.log(`working on ${p.taskList}#${p.partition} (generation ${p.generation})`);
});

const deadline = Date.now() + 20_000;
while (worker.partitions().length < 8 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
const owned = worker.partitions().length;
console.log(`${worker.nodeId} owns ${owned} of 8 partitions; coordinator ${coordinator.state} at epoch ${coordinator.epoch}`);

await worker.leave();
await coordinator.stop();
await pool.end();
if (owned !== 8) process.exit(1);
