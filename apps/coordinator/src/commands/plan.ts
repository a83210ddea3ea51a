import type { Command } from "commander";

import { planNextRound } from "@helix/coordinator";

import { renderPlan } from "../terminal";
import type { CommandContext } from "./context";
import { clusterOf, clusterOption, printOne, withPool } from "./helpers";

/** `helix plan`: what the next round would do, computed without writing anything. */
export function registerPlan(program: Command, context: CommandContext): void {
  program
    .command("plan")
    .description("show what the next round would do, without writing anything")
    .addOption(clusterOption())
    .option("--json", "print JSON")
    .action(async (options: { cluster?: string; json?: boolean }) => {
      const cfg = context.config();
      const cluster = clusterOf(context, options);
      const plan = await withPool(cfg.mysqlUrl, (pool) => planNextRound(pool, { cluster, ...cfg.coordinator }));
      const json = { transitions: plan.transitions, pendingHandoffs: plan.pendingHandoffs };
      printOne(context.output, options.json, json, () => renderPlan(plan, cluster));
    });
}
