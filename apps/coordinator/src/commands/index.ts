import type { Command } from "commander";

import type { CommandContext } from "./context";
import { registerDemo } from "./demo";
import { registerMigrate } from "./migrate";
import { registerHistory } from "./history";
import { registerMaintenance } from "./maintenance";
import { registerMembers } from "./members";
import { registerPlacements } from "./placements";
import { registerPlan } from "./plan";
import { registerServe } from "./serve";
import { registerStatus } from "./status";
import { registerTaskList } from "./tasklist";
import { registerWorker } from "./worker";

export { consoleOutput, FORCED_EXIT_CODE, processSignals, type CommandContext, type Output, type Signals } from "./context";

/** Registers every `helix` command on `program`, in the order `--help` lists them. */
export function registerCommands(program: Command, context: CommandContext): void {
  for (const register of [
    registerServe,
    registerMigrate,
    registerTaskList,
    registerMembers,
    registerMaintenance,
    registerPlacements,
    registerStatus,
    registerPlan,
    registerHistory,
    registerWorker,
    registerDemo,
  ]) {
    register(program, context);
  }
}
