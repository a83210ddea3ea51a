// The scale benchmark's databases: one per scenario, created and migrated on open, dropped when the
// scenario ends or, for those still there, on every way out; and the catalog each scenario writes.
import { createDatabaseIfMissing, createPool, migrate } from "@helix/db";
import { createCatalog } from "@helix/cluster";

import { MAX_PER_LIST } from "./config.mjs";

/** The databases of one run on `server` (a URL): `open(name)`, `forget(database)`, `dropAll()`. */
export function createDatabaseTracker(server) {
  const databases = new Set();
  return {
    /** A new database for scenario `name`: { database, url, pool }. */
    async open(name) {
      const database = `helix_bench_scale_${process.pid}_${name}`;
      const url = new URL(`/${database}`, server).toString();
      await createDatabaseIfMissing(url);
      databases.add(database);
      const pool = await createPool(url);
      await migrate(pool);
      return { database, url, pool };
    },
    /** `database` was dropped by its scenario. */
    forget(database) {
      databases.delete(database);
    },
    /** Drops every database still there, ignoring errors: it runs on the way out. */
    async dropAll() {
      if (databases.size === 0) return;
      const pool = await createPool(new URL("/mysql", server).toString()).catch(() => undefined);
      for (const database of databases) await pool?.query("DROP DATABASE IF EXISTS ??", [database]).catch(() => undefined);
      databases.clear();
      await pool?.end().catch(() => undefined);
    },
  };
}

/** `total` partitions in task lists of at most 10,000 (the catalog's limit), all the same size. */
export async function putCatalog(pool, cluster, total, lists) {
  const perList = total / lists;
  if (!Number.isInteger(perList) || perList > MAX_PER_LIST || perList < 1) {
    throw new Error(`${total} partitions do not split into ${lists} task lists of 1 to ${MAX_PER_LIST}`);
  }
  const catalog = await createCatalog(pool, { cluster });
  try {
    for (let l = 0; l < lists; l++) await catalog.putTaskList({ domain: "bench", taskList: `list-${l}`, partitions: perList });
  } finally {
    await catalog.close();
  }
  return perList;
}
