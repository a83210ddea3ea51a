import type { Command } from "commander";

import { createLogger, startService } from "../service";
import { FORCED_EXIT_CODE, type CommandContext } from "./context";

/**
 * `helix serve`: the service until the first stop signal, then a graceful shutdown bounded by
 * HELIX_SHUTDOWN_TIMEOUT_MS; a second signal exits at once with {@link FORCED_EXIT_CODE}.
 */
export function registerServe(program: Command, context: CommandContext): void {
  program
    .command("serve")
    .description("run a coordinator for each cluster of HELIX_CLUSTERS and the HTTP server (health, metrics, status page)")
    .action(async () => {
      const cfg = context.config();
      const logger = createLogger(cfg);
      const service = await startService(cfg, logger);
      const signal = await context.signals.wait(() => {
        logger.warn("second signal: exiting at once");
        process.exit(FORCED_EXIT_CODE);
      });
      logger.info({ signal }, "shutting down");
      // unref: a shutdown that finishes in time must not keep the process waiting for the timer.
      const bound = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), cfg.shutdownTimeoutMs).unref());
      if ((await Promise.race([service.stop(), bound])) === "timeout") {
        throw new Error(`the graceful shutdown took longer than HELIX_SHUTDOWN_TIMEOUT_MS (${cfg.shutdownTimeoutMs} ms)`);
      }
    });
}
