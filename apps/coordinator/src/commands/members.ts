import type { Command } from "commander";

import { createOwnershipStore, moveMemberPartitions, resolveJoinOptions } from "@helix/coordinator";

import { memberState } from "../status";
import type { CommandContext } from "./context";
import { checkedAsFlags, checkName, clusterOf, clusterOption, printList, withPool } from "./helpers";
import { placementOptions } from "./placements";

/**
 * `helix members ls` (also `helix nodes ls`): the members of a cluster, live or not; `helix members
 * drain NODE`; `helix members move FROM TO`.
 */
export function registerMembers(program: Command, context: CommandContext): void {
  const members = program
    .command("members")
    .alias("nodes")
    .description("show the members of a cluster, drain one, or move one's partitions");
  members
    .command("move")
    .description(
      "move every partition a member owns to another live member through the acknowledged hand-off; they stay there while that process of the member lives (helix placements ls lists them, helix placements lift --member lifts them)",
    )
    .argument("<from>", "the member whose partitions move")
    .argument("<to>", "the live member they move to")
    .addOption(clusterOption())
    .option("--reason <text>", "why, shown in helix placements ls")
    .option("--actor <name>", "who asks, recorded with the moves it makes (default: user@host)")
    .action(async (from: string, to: string, flags: { cluster?: string; reason?: string; actor?: string }) => {
      const cluster = clusterOf(context, flags);
      const [fromId, toId] = [checkName("<from>", from), checkName("<to>", to)];
      const options = placementOptions(flags);
      const moved = await withPool(context.config().mysqlUrl, (pool) => moveMemberPartitions(pool, cluster, fromId, toId, options));
      context.output.out(`${cluster}: ${moved} partition(s) of ${fromId} moving to ${toId}, each as ${fromId} confirms its release`);
    });
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
