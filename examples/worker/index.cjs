// A worker that joins a cluster coordinated by the standalone service (`helix serve` with
// HELIX_CLUSTERS=example-service). It depends on @helix/cluster alone: the coordinator runs elsewhere.
//   HELIX_MYSQL_URL=mysql://root@127.0.0.1:3306/helix node index.cjs
const { join } = require("@helix/cluster");

async function main() {
  const url = process.env.HELIX_MYSQL_URL || "mysql://root@127.0.0.1:3306/helix";
  const member = await join(url, { cluster: "example-service", metadata: { example: "worker" } });
  member.on("partition:assigned", (p) => console.log(`assigned ${p.domain}/${p.taskList}#${p.partition} (generation ${p.generation})`));

  const deadline = Date.now() + 20000;
  while (member.partitions().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const owned = member.partitions().length;
  console.log(`${member.nodeId} owns ${owned} partition(s)`);
  await member.leave();
  if (owned === 0) {
    console.error("no partition was assigned: is `helix serve` running for cluster example-service with a task list?");
    process.exitCode = 1;
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
