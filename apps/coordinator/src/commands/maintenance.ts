import type { Command } from "commander";

import {
  endMaintenance,
  InvalidArgumentError,
  MAX_MAINTENANCE_EXPIRY_MS,
  readMaintenance,
  resolveMaintenanceOptions,
  startMaintenance,
  type MaintenanceOptions,
  type MaintenanceScope,
} from "@helix/coordinator";

import { describeMaintenance } from "../terminal";
import type { CommandContext } from "./context";
import { checkedAsFlags, checkName, clusterOf, clusterOption, defaultActor, printList, wholeNumber, withPool } from "./helpers";

/** `helix maintenance on | off | ls`: holds every move of a cluster, or of one task list, while on. */
export function registerMaintenance(program: Command, context: CommandContext): void {
  const { output } = context;
  const maintenance = program
    .command("maintenance")
    .description("hold every move of the coordinator in a cluster, or in one task list, while it is on");
  maintenance
    .command("on")
    .description(
      "start maintenance (or change its reason and expiry): owners keep what they have, members that join take nothing, and partitions of members that leave or die stay where they are until it ends",
    )
    .argument("[domain]", "only this task list's domain (with <taskList>)")
    .argument("[taskList]", "only this task list")
    .addOption(clusterOption())
    .requiredOption("--reason <text>", "why, shown beside it in helix status, the status page and the alert")
    .option("--expires-in-ms <ms>", `end it on its own after this long (1 to ${MAX_MAINTENANCE_EXPIRY_MS})`, wholeNumber("--expires-in-ms"))
    .option("--actor <name>", "who turns it on (default: user@host)")
    .action(
      async (
        domain: string | undefined,
        name: string | undefined,
        flags: { cluster?: string; reason: string; expiresInMs?: number; actor?: string },
      ) => {
        const cluster = clusterOf(context, flags);
        const taskList = scopeOf(domain, name);
        const options: MaintenanceOptions = {
          reason: flags.reason,
          actor: flags.actor ?? defaultActor(),
          ...(flags.expiresInMs === undefined ? {} : { expiresInMs: flags.expiresInMs }),
          ...(taskList === undefined ? {} : { taskList }),
        };
        // Checked before connecting, so that bad input is bad usage (exit code 2).
        checkedAsFlags({ reason: "--reason", actor: "--actor", expiresInMs: "--expires-in-ms" }, () => resolveMaintenanceOptions(options));
        const started = await withPool(context.config().mysqlUrl, (pool) => startMaintenance(pool, cluster, options));
        output.out(`${cluster}: maintenance on (${describeMaintenance(started)})`);
      },
    );
  maintenance
    .command("off")
    .description("end maintenance of the cluster, or of one task list; the coordinator then makes the moves it held back, at the minimum")
    .argument("[domain]", "only this task list's domain (with <taskList>)")
    .argument("[taskList]", "only this task list")
    .addOption(clusterOption())
    .action(async (domain: string | undefined, name: string | undefined, flags: { cluster?: string }) => {
      const cluster = clusterOf(context, flags);
      const scope = scopeOf(domain, name);
      const ended = await withPool(context.config().mysqlUrl, (pool) => endMaintenance(pool, cluster, scope));
      const what = scope === undefined ? cluster : `${cluster} ${scope.domain}/${scope.taskList}`;
      output.out(ended ? `${what}: maintenance off` : `${what}: maintenance was not on`);
    });
  maintenance
    .command("ls")
    .description("list the maintenance in force")
    .addOption(clusterOption())
    .option("--json", "print JSON")
    .action(async (flags: { cluster?: string; json?: boolean }) => {
      const cluster = clusterOf(context, flags);
      const all = await withPool(context.config().mysqlUrl, (pool) => readMaintenance(pool, cluster));
      printList(output, all, flags.json, `${cluster}: no maintenance`, describeMaintenance);
    });
}

/** A task list from the optional positional arguments: both or neither. */
function scopeOf(domain: string | undefined, name: string | undefined): MaintenanceScope | undefined {
  if (domain === undefined) return undefined;
  if (name === undefined)
    throw new InvalidArgumentError(
      "<taskList>",
      "must follow <domain>: name a task list by its domain and name, or neither for the whole cluster",
    );
  return { domain: checkName("<domain>", domain), taskList: checkName("<taskList>", name) };
}
