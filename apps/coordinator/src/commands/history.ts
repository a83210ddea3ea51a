import type { Command } from "commander";

import { readHistory } from "@helix/coordinator";

import { describeTransition } from "../terminal";
import type { CommandContext } from "./context";
import { clusterOf, clusterOption, printList, wholeNumber, withPool } from "./helpers";

/** `helix history`: the latest transitions of the audit trail, newest first, each with why it happened and who made it. */
export function registerHistory(program: Command, context: CommandContext): void {
  program
    .command("history")
    .description(
      "show the latest ownership transitions from the audit trail, newest first, with their cause and the coordinator that made them",
    )
    .addOption(clusterOption())
    .option("-n, --limit <count>", "how many (1 to 10000; default 20)", wholeNumber("--limit", 1, 10_000))
    .option("--json", "print JSON")
    .action(async (options: { cluster?: string; limit?: number; json?: boolean }) => {
      const cluster = clusterOf(context, options);
      const history = await withPool(context.config().mysqlUrl, (pool) => readHistory(pool, cluster, { limit: options.limit ?? 20 }));
      printList(context.output, history, options.json, `${cluster}: no transitions recorded`, describeTransition);
    });
}
