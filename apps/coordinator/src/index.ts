import { readFileSync } from "node:fs";
import { join } from "node:path";

import { Command, CommanderError } from "commander";

import { isHelixError } from "@helix/coordinator";
import { findHelixError } from "@helix/db";

import { registerCommands } from "./commands";
import { consoleOutput, processSignals, type Output, type Signals } from "./commands/context";
import { loadConfig, variables } from "./config";

export { FORCED_EXIT_CODE, type CommandContext, type Output, type Signals } from "./commands/context";
export { ClusterRegistry } from "./clusters";
export { ConfigError, DEFAULT_MYSQL_URL, loadConfig, readConfigFile, STATUS_CACHE_MS, variables, type ServiceConfig } from "./config";
export { CLI_PATH, runDemo, type DemoOptions } from "./demo";
export { createHttpServer, type HttpContext } from "./http";
export { ServiceMetrics } from "./metrics";
export { STATUS_PAGE_TITLE, statusPage } from "./page";
export { createLogger, HTTP_POOL_CONNECTIONS, startService, type Service } from "./service";
export {
  MAX_DRAWN_PARTITIONS,
  StatusReader,
  type ClusterStatus,
  type LeaderStatus,
  type MemberState,
  type MemberStatus,
  type TaskListStatus,
} from "./status";
export { renderPlan, renderStatus } from "./terminal";

/** This package's version, from its package.json (next to `src/` and `dist/` alike). */
export const VERSION: string = (JSON.parse(readFileSync(join(__dirname, "..", "package.json"), "utf8")) as { version: string }).version;

const variableHelp = Object.entries(variables)
  .map(([name, v]) => `  ${name.padEnd(30)} ${v.description}${v.default === "" ? "" : ` (default ${v.default})`}`)
  .join("\n");

/**
 * Runs the `helix` command line and resolves to the process exit code: 0 on success, 1 when the
 * command failed, 2 for bad usage or configuration. It reads the environment it is given; only a
 * second stop signal during a graceful shutdown exits the process directly.
 */
export async function main(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  output: Output = consoleOutput,
  signals: Signals = processSignals,
): Promise<number> {
  const program = new Command("helix")
    .description("Helix: distributed coordination for Node.js services on MySQL")
    .version(VERSION, "-V, --version", "print the version of helix")
    .option("--config <file>", "read variables from a file of NAME=value lines (the environment overrides it)")
    // Commander would exit the process on --help and usage errors; main reports an exit code instead.
    .exitOverride()
    .configureOutput({ writeOut: (s) => output.out(s.trimEnd()), writeErr: (s) => output.err(s.trimEnd()) })
    .addHelpText("after", `\nConfiguration (environment variables, or --config file):\n${variableHelp}`);
  const config = () => loadConfig(env, program.opts<{ config?: string }>().config);
  registerCommands(program, { output, signals, env, config });
  try {
    await program.parseAsync(argv, { from: "user" });
    return 0;
  } catch (error) {
    return failure(error, output);
  }
}

/** Reports a failed command and picks its exit code: 2 for bad usage or configuration, else 1. */
function failure(error: unknown, output: Output): number {
  // Commander has already printed its own message (or the help, which exits 0).
  if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
  const helix = findHelixError(error);
  output.err(`helix: ${helix ? `${helix.message} [${helix.code}]` : (error as Error).message}`);
  return helix !== undefined && (isHelixError(error, "HELIX_INVALID_CONFIG") || isHelixError(error, "HELIX_INVALID_ARGUMENT")) ? 2 : 1;
}
