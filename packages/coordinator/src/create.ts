import { ownershipProtocol as ownership } from "@helix/cluster/internal";
import { assertMigrated, openDatabase, type DatabaseSource } from "@helix/db/internal";
import { createLocker, type Locker } from "@helix/lock";

import { Coordinator } from "./coordinator";
import { resolveCoordinatorOptions, type CoordinatorOptions } from "./options";

/**
 * How much longer than the leader's other statements a snapshot read may take, per partition in the
 * catalog: 10 µs, several times what reading a row of the ownership table takes on a 2-core machine
 * (a million partitions read in about 2 s, and may take 12 s). The reads hold no lock anyone waits
 * for and the lease is renewed on its own meanwhile, so the bound is only for a connection that
 * hung; it grows with the table so that a large cluster's snapshot is never cut short.
 */
const SNAPSHOT_TIMEOUT_US_PER_PARTITION = 10;

/**
 * Creates a coordinator for a cluster, after checking the database and its schema, and starts it
 * competing for leadership (`leader:elected` tells when it leads).
 *
 * Given a URL or connection options it makes its own pool (closed by `stop()`); given a pool, it
 * leaves the pool to the caller.
 * @throws `InvalidArgumentError` for bad options, before anything is connected.
 * @throws `DatabaseUnavailableError`, `SchemaNotMigratedError` as the database calls for.
 */
export async function createCoordinator(source: DatabaseSource, options: CoordinatorOptions): Promise<Coordinator> {
  const resolved = resolveCoordinatorOptions(options);
  // A statement that hangs fails in time for the lease's renewal (due at a third of its TTL, then
  // retried within a tenth) to be sent again on a fresh connection before the lease's deadline.
  const statementTimeoutMs = Math.max(1, Math.floor(resolved.leaseTtlMs * 0.4));
  const opened = await openDatabase(source, { statementTimeoutMs });
  let locker: Locker | undefined;
  try {
    await assertMigrated(opened.client);
    await ownership.ensureCounters(opened.client, resolved.cluster);
    locker = await createLocker(opened.client, { owner: resolved.id, ttlMs: resolved.leaseTtlMs });
    const coordinator = new Coordinator({
      options: resolved,
      source: opened.client,
      readsFor: (partitions) => opened.withTimeout(statementTimeoutMs + Math.ceil((partitions * SNAPSHOT_TIMEOUT_US_PER_PARTITION) / 1000)),
      locker,
      closeSource: () => opened.close(),
    });
    coordinator.start();
    return coordinator;
  } catch (error) {
    await locker?.close().catch(() => undefined);
    await opened.close().catch(() => undefined);
    throw error;
  }
}
