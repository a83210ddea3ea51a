import { createCoordinator, type Coordinator } from "@helix/coordinator";
import { createDatabaseIfMissing, createPool, describeServer, migrate, resolveConnectionOptions } from "@helix/db";
import type { Pool } from "mysql2/promise";
import { pino, type Logger } from "pino";

import { ClusterRegistry } from "./clusters";
import type { ServiceConfig } from "./config";
import { createHttpServer, listen } from "./http";
import { LockPruner } from "./lock-pruner";
import { ServiceMetrics } from "./metrics";
import { sharedReads } from "./shared-reads";
import { StatusReader, type ClusterStatus } from "./status";

/**
 * Connections of the pool that HTTP requests use (status reads, readiness, catalog changes), apart
 * from the coordinators' pool: however many requests arrive, they queue for these and never take
 * the connections that lease renewals need. Two let a status read overlap a probe or a change.
 */
export const HTTP_POOL_CONNECTIONS = 2;

/** A running service: coordinators for its clusters and the HTTP server. */
export interface Service extends AsyncDisposable {
  /** The HTTP server's base URL, such as `http://127.0.0.1:7400`. */
  readonly url: string;
  /** `host:port/database` of the MySQL server (no credentials). */
  readonly server: string;
  readonly coordinators: ReadonlyMap<string, Coordinator>;
  /** One cluster's status now (read on the HTTP requests' pool, not reused). */
  status(cluster: string): Promise<ClusterStatus>;
  /**
   * Steps down and shuts down: stops accepting HTTP connections, stops every coordinator (releasing
   * its lease, so a standby takes over at once), and closes both pools. Safe to call more than once.
   */
  stop(): Promise<void>;
}

/** Makes the service's logger: JSON lines on stdout at the configured level. */
export function createLogger(config: Pick<ServiceConfig, "logLevel">): Logger {
  return pino({ level: config.logLevel, base: { service: "helix" } });
}

/**
 * Starts the service: creates the database and applies migrations when `autoMigrate` is on,
 * starts a coordinator per cluster, the hourly prune of idle lock rows (unless `lockRetentionMs`
 * is 0) and the HTTP server. It opens two pools on the database: the
 * URL's `connectionLimit` for the coordinators and {@link HTTP_POOL_CONNECTIONS} for HTTP requests.
 * @throws what the database calls for (`DatabaseUnavailableError`, `SchemaNotMigratedError`, ...);
 *   everything it opened is closed again first.
 */
export async function startService(config: ServiceConfig, logger: Logger = createLogger(config)): Promise<Service> {
  const server = describeServer(resolveConnectionOptions(config.mysqlUrl));
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async (): Promise<void> => {
    for (const close of closers.splice(0).reverse()) await close().catch((error: unknown) => logger.warn({ err: error }, "close failed"));
  };
  try {
    if (config.autoMigrate) await createDatabaseIfMissing(config.mysqlUrl);
    const pool: Pool = await createPool(config.mysqlUrl);
    closers.push(() => pool.end());
    if (config.autoMigrate) {
      const result = await migrate(pool, { onMigration: (m) => logger.info({ version: m.version, name: m.name }, "applying migration") });
      logger.info({ server, version: result.version, applied: result.applied.length }, "schema ready");
    }
    const httpPool: Pool = await createPool({ url: config.mysqlUrl, connectionLimit: HTTP_POOL_CONNECTIONS });
    closers.push(() => httpPool.end());
    // One set of catalogs and stores per cluster for the status reads and the HTTP handler's catalog
    // changes, on the HTTP pool, closed after the HTTP server (closers run in reverse) and before it.
    const clusters = new ClusterRegistry(httpPool);
    closers.push(() => clusters.close());
    const reader = StatusReader.sharing(clusters);
    const coordinators = new Map<string, Coordinator>();
    for (const cluster of config.clusters) {
      const coordinator = await createCoordinator(pool, {
        cluster,
        ...config.coordinator,
      });
      closers.push(() => coordinator.stop());
      coordinators.set(cluster, coordinator);
      watch(coordinator, logger.child({ cluster }));
    }
    if (config.lockRetentionMs > 0) {
      // Stopped before the pool closes (closers run in reverse).
      const pruner = new LockPruner({
        client: pool,
        idleForMs: config.lockRetentionMs,
        onRun: (run) => {
          if (run.deleted > 0)
            logger.info({ deleted: run.deleted, batches: run.batches, ms: Math.round(run.durationMs) }, "pruned idle lock rows");
        },
        onError: (error) => logger.warn({ err: error }, "pruning idle lock rows failed"),
      });
      pruner.start();
      closers.push(() => pruner.stop());
    }
    const status = (cluster: string): Promise<ClusterStatus> => reader.read(cluster);
    // Pages and scrapers share each cluster's latest status: a read per interval, whatever they number.
    const shared = sharedReads(status, config.http.statusCacheMs);
    const metrics = new ServiceMetrics(coordinators, shared);
    const http = createHttpServer({
      pool: httpPool,
      clusters: config.clusters,
      adminToken: config.adminToken,
      // The address it binds, when a name, is one its clients use (IP addresses are always allowed).
      allowedHosts: [config.http.host, ...config.http.allowedHosts],
      metrics,
      status: shared,
      catalog: (cluster) => clusters.catalog(cluster),
      logger,
    });
    const url = await listen(http, config.http.host, config.http.port);
    closers.push(
      () =>
        new Promise<void>((resolve) => {
          http.close(() => resolve());
          http.closeIdleConnections();
        }),
    );
    logger.info({ url, server, clusters: config.clusters }, "serving");

    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> => (stopping ??= closeAll().then(() => logger.info("stopped")));
    return { url, server, coordinators, status, stop, [Symbol.asyncDispose]: stop };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/** Logs what a coordinator does: leadership at info, rounds that wrote at info, others at debug. */
function watch(coordinator: Coordinator, logger: Logger): void {
  coordinator.on("leader:elected", ({ epoch }) => logger.info({ epoch }, "leading"));
  coordinator.on("leader:lost", ({ epoch, error }) => logger.warn({ epoch, reason: error.message }, "lost leadership"));
  coordinator.on("leader:renew-failed", (error) => logger.warn({ err: error }, "leadership lease renewal failed"));
  coordinator.on("election:error", (error) => logger.warn({ err: error }, "election attempt failed"));
  coordinator.on("round:error", (error) => logger.error({ err: error }, "round failed"));
  coordinator.on("round:done", (r) => {
    const fields = {
      trigger: r.trigger,
      ms: Math.round(r.durationMs * 10) / 10,
      applied: r.applied.length,
      pendingHandoffs: r.pendingHandoffs,
      members: r.members,
      partitions: r.partitions,
    };
    if (r.wrote) logger.info(fields, "round");
    else logger.debug(fields, "round");
  });
}
