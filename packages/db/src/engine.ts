import type { QueryClient } from "./generated/db";
import * as clusterQueries from "./generated/cluster";
import * as lockQueries from "./generated/locks";
import * as serverQueries from "./generated/server";

/**
 * The SQL engines Helix runs on. One SQL text serves all of them except where an engine lacks what
 * a statement needs: TiDB takes no shared row locks, so its fences lock rows exclusively.
 */
export type Engine = "mysql" | "mariadb" | "tidb";

/** The engine a `VERSION()` answer names: "8.0.11-TiDB-v8.5.0", "10.11.6-MariaDB-1", "8.4.3". */
export function engineOfVersion(version: string): Engine {
  if (/-TiDB-/i.test(version)) return "tidb";
  if (/MariaDB/i.test(version)) return "mariadb";
  return "mysql";
}

const engines = new WeakMap<QueryClient, Promise<Engine>>();

/**
 * The engine of the server behind `client`, asked once per client object (a pool, or a pooled
 * connection, which mysql2 keeps for the life of the connection). A failed question is asked
 * again next time.
 */
export function serverEngine(client: QueryClient): Promise<Engine> {
  let engine = engines.get(client);
  if (engine === undefined) {
    engine = serverQueries.serverVersion(client).then((row) => engineOfVersion(row?.version ?? ""));
    engines.set(client, engine);
    engine.catch(() => engines.delete(client));
  }
  return engine;
}

/**
 * The lease fence's check for an engine: the row at the caller's epoch, locked until the caller's
 * transaction ends, shared where the engine has shared locks (InnoDB), exclusive on TiDB.
 */
export function leaseFenceQuery(engine: Engine): typeof lockQueries.checkLockEpochForShare {
  return engine === "tidb" ? lockQueries.checkLockEpochForUpdate : lockQueries.checkLockEpochForShare;
}

/** The partition fence's check for an engine, locked as {@link leaseFenceQuery}'s. */
export function partitionFenceQuery(engine: Engine): typeof clusterQueries.checkPartitionForShare {
  return engine === "tidb" ? clusterQueries.checkPartitionForUpdate : clusterQueries.checkPartitionForShare;
}
