import { Command, CommanderError, InvalidArgumentError as UsageError, Option } from "commander";

import {
  createCatalog,
  createOwnershipStore,
  isHelixError,
  join,
  planNextRound,
  type PartitionChange,
} from "@helix/coordinator";
import {
  createDatabaseIfMissing,
  createPool,
  describeServer,
  findHelixError,
  InvalidArgumentError,
  migrate,
  resolveConnectionOptions,
} from "@helix/db";

import { DEFAULT_MYSQL_URL, loadConfig, variables, type ServiceConfig } from "./config";
import { runDemo } from "./demo";
import { createLogger, startService } from "./service";
import { StatusReader } from "./status";
import { renderPlan, renderStatus } from "./terminal";

export { ConfigError, DEFAULT_MYSQL_URL, loadConfig, readConfigFile, variables, type ServiceConfig } from "./config";
export { CLI_PATH, runDemo, type DemoOptions } from "./demo";
export { createHttpServer, type HttpContext } from "./http";
export { ServiceMetrics } from "./metrics";
export { STATUS_PAGE_TITLE, statusPage } from "./page";
export { createLogger, startService, type Service } from "./service";
export { MAX_DRAWN_PARTITIONS, StatusReader, type ClusterStatus, type MemberStatus, type TaskListStatus } from "./status";
export { renderPlan, renderStatus } from "./terminal";

/** Where the CLI writes; tests pass their own. */
export interface Output {
  out(line: string): void;
  err(line: string): void;
}

const consoleOutput: Output = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** How a long-running command waits for the signals that stop it. */
export interface Signals {
  /** Resolves on the first SIGTERM or SIGINT; calls `force` on the second. */
  wait(force: () => void): Promise<string>;
}

const processSignals: Signals = {
  wait: (force) =>
    new Promise((resolve) => {
      let received = 0;
      const onSignal = (signal: string): void => {
        if (++received === 1) return resolve(signal);
        force();
      };
      process.on("SIGTERM", onSignal);
      process.on("SIGINT", onSignal);
    }),
};

/** Exit code of a process stopped by a second signal before its graceful shutdown finished. */
export const FORCED_EXIT_CODE = 130;

const variableHelp = Object.entries(variables)
  .map(([name, v]) => `  ${name.padEnd(30)} ${v.description}${v.default === "" ? "" : ` (default ${v.default})`}`)
  .join("\n");

const positiveInteger = (name: string) => (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${name} must be a whole number`);
  return n;
};

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
    .option("--config <file>", "read variables from a file of NAME=value lines (the environment overrides it)")
    .exitOverride()
    .configureOutput({ writeOut: (s) => output.out(s.trimEnd()), writeErr: (s) => output.err(s.trimEnd()) })
    .addHelpText("after", `\nConfiguration (environment variables, or --config file):\n${variableHelp}`);

  const config = (): ServiceConfig => loadConfig(env, program.opts<{ config?: string }>().config);
  const clusterOption = (): Option =>
    new Option("-c, --cluster <name>", "the cluster (default: the first of HELIX_CLUSTERS, else \"default\")");
  const clusterOf = (options: { cluster?: string }): string => options.cluster ?? config().clusters[0]!;
  const printList = <T>(items: readonly T[], json: boolean | undefined, none: string, line: (item: T) => string): void => {
    if (json === true) output.out(JSON.stringify(items, null, 2));
    else if (items.length === 0) output.out(none);
    else for (const item of items) output.out(line(item));
  };

  program
    .command("serve")
    .description("run a coordinator for each cluster of HELIX_CLUSTERS and the HTTP server (health, metrics, status page)")
    .action(async () => {
      const cfg = config();
      const logger = createLogger(cfg);
      const service = await startService(cfg, logger);
      const signal = await signals.wait(() => {
        logger.warn("second signal: exiting at once");
        process.exit(FORCED_EXIT_CODE);
      });
      logger.info({ signal }, "shutting down");
      const bound = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), cfg.shutdownTimeoutMs).unref());
      if ((await Promise.race([service.stop(), bound])) === "timeout") {
        throw new Error(`the graceful shutdown took longer than HELIX_SHUTDOWN_TIMEOUT_MS (${cfg.shutdownTimeoutMs} ms)`);
      }
    });

  program
    .command("migrate")
    .description("create the database if it is missing and apply Helix's schema migrations")
    .option("--url <url>", `MySQL URL (default: HELIX_MYSQL_URL, else ${DEFAULT_MYSQL_URL})`)
    .action(async (options: { url?: string }) => {
      const url = options.url ?? config().mysqlUrl;
      const server = describeServer(resolveConnectionOptions(url));
      await createDatabaseIfMissing(url);
      const pool = await createPool(url);
      try {
        const result = await migrate(pool, { onMigration: (m) => output.out(`applying migration ${m.version} (${m.name})`) });
        output.out(
          result.applied.length === 0
            ? `${server}: schema already at version ${result.version}, nothing to do`
            : `${server}: applied ${result.applied.length} migration(s), schema at version ${result.version}`,
        );
      } finally {
        await pool.end();
      }
    });

  const tasklist = program.command("tasklist").description("manage the task lists of a cluster's catalog");
  tasklist
    .command("put")
    .description("create a task list, or change its partition count or metadata")
    .argument("<domain>")
    .argument("<taskList>")
    .argument("<partitions>", "1 to 10000", positiveInteger("partitions"))
    .addOption(clusterOption())
    .option("--metadata <json>", "a JSON object stored with the task list")
    .action(async (domain: string, name: string, partitions: number, options: { cluster?: string; metadata?: string }) => {
      let metadata: Record<string, unknown> | undefined;
      if (options.metadata !== undefined) {
        try {
          metadata = JSON.parse(options.metadata) as Record<string, unknown>;
        } catch {
          throw new InvalidArgumentError("--metadata", 'must be a JSON object, such as \'{"team": "payments"}\'');
        }
      }
      const cluster = clusterOf(options);
      await using catalog = await createCatalog(config().mysqlUrl, { cluster });
      const result = await catalog.putTaskList({ domain, taskList: name, partitions, metadata });
      output.out(`${cluster}: ${domain}/${name} ${result} (${partitions} partitions)`);
    });
  tasklist
    .command("ls")
    .description("list the task lists")
    .addOption(clusterOption())
    .option("--json", "print JSON")
    .action(async (options: { cluster?: string; json?: boolean }) => {
      await using catalog = await createCatalog(config().mysqlUrl, { cluster: clusterOf(options) });
      printList(await catalog.listTaskLists(), options.json, "no task lists", (l) =>
        `${l.domain}/${l.taskList}  ${l.partitions} partition(s)${l.status === 1 ? "" : "  (being removed)"}  ${JSON.stringify(l.metadata)}`,
      );
    });
  tasklist
    .command("rm")
    .description("remove a task list (its partitions are released by their owners, then deleted)")
    .argument("<domain>")
    .argument("<taskList>")
    .addOption(clusterOption())
    .action(async (domain: string, name: string, options: { cluster?: string }) => {
      const cluster = clusterOf(options);
      await using catalog = await createCatalog(config().mysqlUrl, { cluster });
      await catalog.removeTaskList(domain, name);
      output.out(`${cluster}: ${domain}/${name} removed`);
    });

  program
    .command("nodes")
    .description("show the members of a cluster")
    .command("ls")
    .description("list the members, live or not")
    .addOption(clusterOption())
    .option("--json", "print JSON")
    .action(async (options: { cluster?: string; json?: boolean }) => {
      await using store = await createOwnershipStore(config().mysqlUrl, { cluster: clusterOf(options) });
      printList(await store.nodes(), options.json, "no members", (n) =>
        `${n.nodeId}  ${n.live ? "live" : "gone"}  weight ${n.weight}  last heartbeat ${n.heartbeatAt.toISOString()}  ${JSON.stringify(n.metadata)}`,
      );
    });

  program
    .command("status")
    .description("show the ownership table: the leader, the members, and each task list's partitions")
    .addOption(clusterOption())
    .option("--json", "print JSON (the same as the service's /api/status)")
    .action(async (options: { cluster?: string; json?: boolean }) => {
      const pool = await createPool(config().mysqlUrl);
      try {
        const reader = await StatusReader.open(pool);
        try {
          const status = await reader.read(clusterOf(options));
          output.out(options.json === true ? JSON.stringify(status, null, 2) : renderStatus(status).join("\n"));
        } finally {
          await reader.close();
        }
      } finally {
        await pool.end();
      }
    });

  program
    .command("plan")
    .description("show what the next round would do, without writing anything")
    .addOption(clusterOption())
    .option("--json", "print JSON")
    .action(async (options: { cluster?: string; json?: boolean }) => {
      const cfg = config();
      const cluster = clusterOf(options);
      const pool = await createPool(cfg.mysqlUrl);
      try {
        const plan = await planNextRound(pool, { cluster, ...cfg.coordinator });
        output.out(options.json === true ? JSON.stringify({ transitions: plan.transitions, pendingHandoffs: plan.pendingHandoffs }, null, 2) : renderPlan(plan, cluster).join("\n"));
      } finally {
        await pool.end();
      }
    });

  program
    .command("worker")
    .description("join a cluster as a worker that prints its partitions as they change (for trying things out)")
    .addOption(clusterOption())
    .option("--node-id <id>", "the member's id (default: host:pid:random)")
    .option("--weight <n>", "share of partitions relative to others (0 takes none)", positiveInteger("--weight"))
    .option("--ttl-ms <ms>", "member TTL", positiveInteger("--ttl-ms"))
    .action(async (options: { cluster?: string; nodeId?: string; weight?: number; ttlMs?: number }) => {
      const cluster = clusterOf(options);
      const member = await join(config().mysqlUrl, { cluster, nodeId: options.nodeId, weight: options.weight, ttlMs: options.ttlMs });
      const where = (c: PartitionChange): string => `${c.partition.domain}/${c.partition.taskList}#${c.partition.partition}`;
      member.on("change", (c) => {
        const detail = c.type === "lost" ? ` (${c.reason})` : c.type === "assigned" ? ` (generation ${c.partition.generation})` : "";
        output.out(`${member.nodeId}: ${c.type} ${where(c)}${detail}`);
      });
      member.on("member:fenced", () => output.out(`${member.nodeId}: fenced (heartbeats failed), every partition stopped`));
      member.on("member:error", (error) => output.err(`${member.nodeId}: ${error.message}`));
      output.out(`${member.nodeId}: joined cluster ${cluster}`);
      await signals.wait(() => process.exit(FORCED_EXIT_CODE));
      await member.leave();
      output.out(`${member.nodeId}: left`);
    });

  program
    .command("demo")
    .description("run a coordinator and worker processes that come and go on the local MySQL, printing ownership as it changes")
    .option("-c, --cluster <name>", "the demo's cluster", "demo")
    .option("--workers <n>", "workers at the start", positiveInteger("--workers"), 3)
    .option("--interval <seconds>", "seconds between membership changes", positiveInteger("--interval"), 5)
    .option("--seconds <n>", "stop after this many seconds (0: at Ctrl-C)", positiveInteger("--seconds"), 0)
    .action(async (options: { cluster: string; workers: number; interval: number; seconds: number }) => {
      const cfg = config();
      const stop = new AbortController();
      void signals
        .wait(() => process.exit(FORCED_EXIT_CODE))
        .then(() => stop.abort());
      let seed = 7;
      await runDemo(
        { ...cfg, logLevel: env.HELIX_LOG_LEVEL === undefined ? "warn" : cfg.logLevel },
        {
          cluster: options.cluster,
          workers: options.workers,
          intervalSeconds: Math.max(1, options.interval),
          seconds: options.seconds,
          signal: stop.signal,
          out: (line) => output.out(line),
          random: () => ((seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648),
        },
      );
    });

  try {
    await program.parseAsync(argv, { from: "user" });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    const helix = findHelixError(error);
    output.err(`helix: ${helix ? `${helix.message} [${helix.code}]` : (error as Error).message}`);
    return helix !== undefined && (isHelixError(error, "HELIX_INVALID_CONFIG") || isHelixError(error, "HELIX_INVALID_ARGUMENT")) ? 2 : 1;
  }
}
