import type { Command } from "commander";

import { join, resolveJoinOptions, resolveLeaveOptions, type PartitionChange } from "@helix/coordinator";

import { FORCED_EXIT_CODE, type CommandContext } from "./context";
import { checkedAsFlags, clusterOf, clusterOption, wholeNumber } from "./helpers";

/**
 * `helix worker`: joins a cluster and prints its partitions as they change, until a stop signal
 * makes it leave. For trying things out; the demo starts its workers with it.
 */
export function registerWorker(program: Command, context: CommandContext): void {
  program
    .command("worker")
    .description("join a cluster as a worker that prints its partitions as they change (for trying things out)")
    .addOption(clusterOption())
    .option("--node-id <id>", "the member's id (default: host:pid:random)")
    .option("--weight <n>", "share of partitions relative to others (0 takes none)", wholeNumber("--weight"))
    .option("--ttl-ms <ms>", "member TTL", wholeNumber("--ttl-ms"))
    .option(
      "--returning-within-ms <ms>",
      "on a stop signal, keep this worker's partitions reserved for its node id this long (a restart with the same --node-id)",
      wholeNumber("--returning-within-ms"),
    )
    .action(async (options: { cluster?: string; nodeId?: string; weight?: number; ttlMs?: number; returningWithinMs?: number }) => {
      const { output } = context;
      const joinOptions = { cluster: clusterOf(context, options), nodeId: options.nodeId, weight: options.weight, ttlMs: options.ttlMs };
      // Checked before connecting, so that a bad flag is bad usage (exit code 2) named as typed.
      const { cluster } = checkedAsFlags({ nodeId: "--node-id", weight: "--weight", ttlMs: "--ttl-ms" }, () =>
        resolveJoinOptions(joinOptions),
      );
      const leaveOptions = checkedAsFlags({ returningWithinMs: "--returning-within-ms" }, () =>
        resolveLeaveOptions({ returningWithinMs: options.returningWithinMs }),
      );
      const member = await join(context.config().mysqlUrl, joinOptions);
      const where = (c: PartitionChange): string => `${c.partition.domain}/${c.partition.taskList}#${c.partition.partition}`;
      member.on("change", (c) => {
        const detail = c.type === "lost" ? ` (${c.reason})` : c.type === "assigned" ? ` (generation ${c.partition.generation})` : "";
        output.out(`${member.nodeId}: ${c.type} ${where(c)}${detail}`);
      });
      member.on("member:fenced", () => output.out(`${member.nodeId}: fenced (heartbeats failed), every partition stopped`));
      member.on("member:error", (error) => output.err(`${member.nodeId}: ${error.message}`));
      output.out(`${member.nodeId}: joined cluster ${cluster}`);
      await context.signals.wait(() => process.exit(FORCED_EXIT_CODE));
      await member.leave(leaveOptions);
      output.out(
        `${member.nodeId}: left${leaveOptions.returningWithinMs > 0 ? `, its partitions kept for ${leaveOptions.returningWithinMs} ms` : ""}`,
      );
    });
}
