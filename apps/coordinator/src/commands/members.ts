import type { Command } from "commander";

import { createOwnershipStore } from "@helix/coordinator";

import { memberState } from "../status";
import type { CommandContext } from "./context";
import { clusterOf, clusterOption, printList } from "./helpers";

/** `helix members ls` (also `helix nodes ls`): the members of a cluster, live or not. */
export function registerMembers(program: Command, context: CommandContext): void {
  program
    .command("members")
    .alias("nodes")
    .description("show the members of a cluster")
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
