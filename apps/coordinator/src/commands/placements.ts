import type { Command } from "commander";

import {
  InvalidArgumentError,
  liftMemberPlacements,
  liftPlacement,
  movePartition,
  pinPartition,
  readPlacements,
  resolvePlacementOptions,
  type PartitionAddress,
  type PlacementOptions,
} from "@helix/coordinator";

import { describePlacement } from "../terminal";
import type { CommandContext } from "./context";
import { checkedAsFlags, checkName, clusterOf, clusterOption, defaultActor, printList, wholeNumber, withPool } from "./helpers";

interface PlacementFlags {
  cluster?: string;
  reason?: string;
  actor?: string;
}

/**
 * `helix placements pin | move | lift | ls`: an operator's say in where partitions go (all of a
 * member's: `helix members move`).
 */
export function registerPlacements(program: Command, context: CommandContext): void {
  const { output } = context;
  const placements = program
    .command("placements")
    .description("pin or move partitions to members (the coordinator keeps them there and balances the rest around them)");
  const place = (kind: "pin" | "move", description: string): void => {
    placements
      .command(kind)
      .description(description)
      .argument("<domain>", "the task list's domain")
      .argument("<taskList>", "the task list")
      .argument("<partition>", "the partition's number", wholeNumber("<partition>"))
      .argument("<node-id>", "the live member to place it on")
      .addOption(clusterOption())
      .option("--reason <text>", "why, shown in helix placements ls")
      .option("--actor <name>", "who asks, recorded with the moves it makes (default: user@host)")
      .action(async (domain: string, name: string, partition: number, nodeId: string, flags: PlacementFlags) => {
        const cluster = clusterOf(context, flags);
        const address = addressOf(domain, name, partition);
        const member = checkName("<node-id>", nodeId);
        const options = placementOptions(flags);
        const placed = await withPool(context.config().mysqlUrl, (pool) =>
          (kind === "pin" ? pinPartition : movePartition)(pool, cluster, address, member, options),
        );
        output.out(`${cluster}: ${describePlacement(placed)}`);
      });
  };
  place(
    "pin",
    "pin a partition to a live member: it stays there while the member lives, goes elsewhere while it is gone, and comes back with it, until the pin is lifted",
  );
  place(
    "move",
    "move a partition to a live member through the acknowledged hand-off: it stays there while that process of the member lives",
  );
  placements
    .command("lift")
    .description("lift the pin or move of a partition, or with --member every one on a member; the planner places them from then on")
    .argument("[domain]", "the task list's domain")
    .argument("[taskList]", "the task list")
    .argument("[partition]", "the partition's number", wholeNumber("[partition]"))
    .addOption(clusterOption())
    .option("--member <node-id>", "lift every pin and move on this member instead")
    .action(
      async (
        domain: string | undefined,
        name: string | undefined,
        partition: number | undefined,
        flags: { cluster?: string; member?: string },
      ) => {
        const cluster = clusterOf(context, flags);
        if (flags.member !== undefined) {
          const nodeId = checkName("--member", flags.member);
          const lifted = await withPool(context.config().mysqlUrl, (pool) => liftMemberPlacements(pool, cluster, nodeId));
          output.out(`${cluster}: ${lifted} placement(s) on ${nodeId} lifted`);
          return;
        }
        if (domain === undefined || name === undefined || partition === undefined)
          throw new InvalidArgumentError(
            "<partition>",
            "name a partition (<domain> <taskList> <partition>), or a member with --member <node-id>",
          );
        const address = addressOf(domain, name, partition);
        const lifted = await withPool(context.config().mysqlUrl, (pool) => liftPlacement(pool, cluster, address));
        const what = `${address.domain}/${address.taskList}#${address.partition}`;
        output.out(lifted ? `${cluster}: ${what} placement lifted` : `${cluster}: ${what} had no placement`);
      },
    );
  placements
    .command("ls")
    .description("list the pins and moves, those that lapsed included")
    .addOption(clusterOption())
    .option("--json", "print JSON")
    .action(async (flags: { cluster?: string; json?: boolean }) => {
      const cluster = clusterOf(context, flags);
      const all = await withPool(context.config().mysqlUrl, (pool) => readPlacements(pool, cluster));
      printList(output, all, flags.json, `${cluster}: no placements`, describePlacement);
    });
}

/** The placement options of the flags, checked before connecting (bad flags are bad usage, exit code 2). */
export function placementOptions(flags: PlacementFlags): PlacementOptions {
  const options: PlacementOptions = {
    actor: flags.actor ?? defaultActor(),
    ...(flags.reason === undefined ? {} : { reason: flags.reason }),
  };
  checkedAsFlags({ reason: "--reason", actor: "--actor" }, () => resolvePlacementOptions(options));
  return options;
}

function addressOf(domain: string, taskList: string, partition: number): PartitionAddress {
  return { domain: checkName("<domain>", domain), taskList: checkName("<taskList>", taskList), partition };
}
