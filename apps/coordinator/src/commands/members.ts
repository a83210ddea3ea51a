import type { Command } from "commander";

import { createOwnershipStore, resolveJoinOptions } from "@helix/coordinator";

import { memberState } from "../status";
import type { CommandContext } from "./context";
import { checkedAsFlags, clusterOf, clusterOption, printList } from "./helpers";

/** `helix members ls` (also `helix nodes ls`): the members of a cluster, live or not; `helix members drain NODE`. */
export function registerMembers(program: Command, context: CommandContext): void {
  const members = program.command("members").alias("nodes").description("show the members of a cluster, or drain one");
  members
    .command("drain")
    .description(
      "drain a live member: it takes no more partitions, and the coordinator hands what it owns to the others through the acknowledged hand-off while it works the rest",
    )
    .argument("<node-id>", "the member to drain")
    .addOption(clusterOption())
    .action(async (nodeId: string, options: { cluster?: string }) => {
      // Checked before connecting, so that a bad id is bad usage (exit code 2).
      checkedAsFlags({ nodeId: "<node-id>" }, () => resolveJoinOptions({ cluster: clusterOf(context, options), nodeId }));
      await using store = await createOwnershipStore(context.config().mysqlUrl, { cluster: clusterOf(context, options) });
      if (!(await store.drain(nodeId)))
        throw new Error(`no live member ${JSON.stringify(nodeId)} in cluster ${clusterOf(context, options)}`);
      context.output.out(
        `${nodeId}: draining; its partitions move to the others as it confirms each release (helix members ls shows weight 0; stop it once it owns none)`,
      );
    });
  members
    .command("ls")
    .description("list the members, live or not")
    .addOption(clusterOption())
    .option("--json", "print JSON")
    .action(async (options: { cluster?: string; json?: boolean }) => {
      await using store = await createOwnershipStore(context.config().mysqlUrl, { cluster: clusterOf(context, options) });
      printList(
        context.output,
        await store.members(),
        options.json,
        "no members",
        (n) =>
          `${n.nodeId}  ${memberState(n)}  incarnation ${n.incarnation.slice(0, 8)}  weight ${n.weight}  last heartbeat ${n.heartbeatAt.toISOString()}  ${JSON.stringify(n.metadata)}`,
      );
    });
}
