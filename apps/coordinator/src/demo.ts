import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";

import { createCatalog } from "@helix/coordinator";

import type { ServiceConfig } from "./config";
import { createLogger, startService } from "./service";
import { renderStatus } from "./terminal";

/** The built `helix` executable, which the demo starts its workers with. */
export const CLI_PATH = join(__dirname, "..", "dist", "cli.js");

/** Options of {@link runDemo}. */
export interface DemoOptions {
  readonly cluster: string;
  /** Workers at the start. */
  readonly workers: number;
  /** Seconds between membership changes. */
  readonly intervalSeconds: number;
  /** Stop after this many seconds; 0 runs until `signal` aborts. */
  readonly seconds: number;
  readonly signal: AbortSignal;
  readonly out: (line: string) => void;
  /** A deterministic sequence of random numbers in [0, 1). */
  readonly random: () => number;
}

const TASK_LISTS = [
  { domain: "shop", taskList: "orders", partitions: 12 },
  { domain: "shop", taskList: "payments", partitions: 8 },
  { domain: "mail", taskList: "emails", partitions: 6 },
];

/**
 * The demo: a coordinator and its status page on the configured MySQL, task lists in cluster
 * `cluster`, and worker processes that come and go (joins, graceful leaves, crashes), with the
 * ownership table printed after every change.
 */
export async function runDemo(config: ServiceConfig, options: DemoOptions): Promise<void> {
  const { out, cluster } = options;
  const service = await startService({ ...config, clusters: [cluster] }, createLogger(config));
  const workers = new Map<string, ChildProcess>();
  let next = 1;
  try {
    const catalog = await createCatalog(config.mysqlUrl, { cluster });
    try {
      for (const spec of TASK_LISTS) await catalog.putTaskList(spec);
    } finally {
      await catalog.close();
    }
    out(`status page: ${service.url}   (Ctrl-C stops the demo)`);

    const start = (): void => {
      const nodeId = `worker-${next++}`;
      const child = spawn(process.execPath, [CLI_PATH, "worker", "--cluster", cluster, "--node-id", nodeId, "--ttl-ms", "3000"], {
        env: { ...process.env, HELIX_MYSQL_URL: config.mysqlUrl, HELIX_LOG_LEVEL: "silent" },
        stdio: ["ignore", "ignore", "inherit"],
      });
      workers.set(nodeId, child);
      child.once("exit", () => workers.delete(nodeId));
      out(`+ ${nodeId} joins`);
    };
    for (let i = 0; i < options.workers; i++) start();

    // Print the table once things settle after each round that changed something.
    let printTimer: NodeJS.Timeout | undefined;
    const print = (): void => {
      clearTimeout(printTimer);
      printTimer = setTimeout(() => {
        service.status(cluster).then(
          (status) => out(renderStatus(status).join("\n")),
          (error: unknown) => out(`cannot read the status: ${(error as Error).message}`),
        );
      }, 300);
    };
    const coordinator = service.coordinators.get(cluster)!;
    coordinator.on("round:done", (round) => {
      if (round.applied.length > 0) print();
    });

    const change = (): void => {
      const ids = [...workers.keys()];
      const roll = options.random();
      if (ids.length <= 2 || (roll < 0.4 && ids.length < 6)) return start();
      const id = ids[Math.floor(options.random() * ids.length)]!;
      if (roll < 0.75) {
        out(`- ${id} leaves gracefully`);
        workers.get(id)!.kill("SIGTERM");
      } else {
        out(`x ${id} crashes (SIGKILL); its partitions move once its TTL (3 s) passes`);
        workers.get(id)!.kill("SIGKILL");
      }
    };
    const changes = setInterval(change, options.intervalSeconds * 1000);
    await new Promise<void>((resolve) => {
      const timer = options.seconds > 0 ? setTimeout(resolve, options.seconds * 1000) : undefined;
      options.signal.addEventListener(
        "abort",
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });
    clearInterval(changes);
    clearTimeout(printTimer);
  } finally {
    out("stopping the demo");
    await Promise.all(
      [...workers.values()].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once("exit", () => resolve());
            child.kill("SIGTERM");
          }),
      ),
    );
    await service.stop();
  }
}
