import type { Command } from "commander";

import { runDemo } from "../demo";
import { FORCED_EXIT_CODE, type CommandContext } from "./context";
import { checkName, wholeNumber } from "./helpers";

/** Most workers the demo starts with: each is a process of its own on this machine. */
const MAX_DEMO_WORKERS = 20;

/** `helix demo`: a coordinator and workers that come and go, with the ownership table printed as it changes. */
export function registerDemo(program: Command, context: CommandContext): void {
  program
    .command("demo")
    .description("run a coordinator and worker processes that come and go on the local MySQL, printing ownership as it changes")
    .option("-c, --cluster <name>", "the demo's cluster", "demo")
    .option("--workers <n>", "workers at the start, 1 to 20", wholeNumber("--workers", 1, MAX_DEMO_WORKERS), 3)
    .option("--interval <seconds>", "seconds between membership changes", wholeNumber("--interval", 1), 5)
    .option("--seconds <n>", "stop after this many seconds (0: at Ctrl-C)", wholeNumber("--seconds"), 0)
    .action(async (options: { cluster: string; workers: number; interval: number; seconds: number }) => {
      const cluster = checkName("cluster", options.cluster);
      const cfg = context.config();
      const stop = new AbortController();
      void context.signals.wait(() => process.exit(FORCED_EXIT_CODE)).then(() => stop.abort());
      // A fixed seed: the same run of joins, leaves and crashes every time, so that demos can be compared.
      let seed = 7;
      await runDemo(
        // The service's logs would bury the tables: quiet unless HELIX_LOG_LEVEL asks otherwise.
        { ...cfg, logLevel: context.env.HELIX_LOG_LEVEL === undefined ? "warn" : cfg.logLevel },
        {
          cluster,
          workers: options.workers,
          intervalSeconds: options.interval,
          seconds: options.seconds,
          signal: stop.signal,
          out: (line) => context.output.out(line),
          random: () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648,
        },
      );
    });
}
