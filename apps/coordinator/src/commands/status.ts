import type { Command } from "commander";

import { StatusReader } from "../status";
import { renderStatus } from "../terminal";
import type { CommandContext } from "./context";
import { clusterOf, clusterOption, printOne, withPool } from "./helpers";

/** `helix status`: one cluster's ownership table, read the way the service's `/api/status` reads it. */
export function registerStatus(program: Command, context: CommandContext): void {
  program
    .command("status")
    .description("show the ownership table: the leader, the members, and each task list's partitions")
    .addOption(clusterOption())
    .option("--json", "print JSON (the same as the service's /api/status)")
    .action(async (options: { cluster?: string; json?: boolean }) => {
      const cluster = clusterOf(context, options);
      await withPool(context.config().mysqlUrl, async (pool) => {
        await using reader = await StatusReader.open(pool);
        const status = await reader.read(cluster);
        printOne(context.output, options.json, status, () => renderStatus(status));
      });
    });
}
