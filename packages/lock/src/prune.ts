import {
  checkClient,
  checkInteger,
  checkMs,
  checkOptions,
  guardClient,
  InvalidArgumentError,
  lockQueries,
  orDefault,
  type QueryClient,
} from "@helix/db/internal";

/** Options of `Locker.prune` and {@link pruneLocks}. */
export interface PruneOptions {
  /**
   * Rows released or expired at least this long ago, by the database clock, are deleted: from 0 to
   * 3650 days. Keep it well above the longest TTL in use if `inspect()` of a recently used key
   * should still find its row; fencing is safe whatever it is.
   */
  idleForMs: number;
  /** Most rows one call deletes, 1 to 10,000. @default {@link DEFAULT_PRUNE_LIMIT} */
  limit?: number;
}

/** Rows one prune deletes unless told otherwise: one short statement's worth. */
export const DEFAULT_PRUNE_LIMIT = 1000;

/** Most rows one prune may delete: larger batches hold their row locks for longer. */
export const MAX_PRUNE_LIMIT = 10_000;

const MAX_IDLE_MS = 3650 * 86_400_000;

/**
 * Deletes up to `limit` lock rows idle for at least `idleForMs` (released, or expired unreleased),
 * oldest first, without ever letting a key's epoch go back.
 *
 * A key's row is what kept its epoch growing; once it is gone, the key's next grant starts at the
 * epoch floor + 1 (see AcquireLock). So the floor is raised to the batch's largest epoch, and
 * committed, before any row of the batch is deleted; only rows whose epoch the floor covers are
 * deleted. Every later grant of a deleted key is then above every epoch it ever had, and a holder
 * of an old epoch fails its fence (which requires the key's current, unexpired epoch). An acquire
 * that read the floor before it was raised holds the raise off (it reads the floor under a shared
 * lock) until that acquire has finished, before any row is deleted: no acquire that finds a
 * deleted key missing can have read the old floor. Prunes may run concurrently, from any process.
 *
 * Run it only once every process that acquires locks runs a version whose AcquireLock reads the
 * floor (schema version 7 or later); an older one would grant a pruned key epoch 1 again.
 * @returns how many rows were deleted; fewer than `limit` means no more were idle.
 * @throws `InvalidArgumentError` for bad options, before anything is sent.
 */
export async function pruneLocks(client: QueryClient, options: PruneOptions): Promise<number> {
  const { idleForMs, limit } = resolvePruneOptions(options);
  const db = guardClient(checkClient("client", client));
  const idleUs = idleForMs * 1000;
  const batch = await lockQueries.findIdleLocks(db, { idleUs, limit });
  if (batch === null || batch.idle === 0) return 0;
  await lockQueries.raiseLockEpochFloor(db, { maxEpoch: batch.maxEpoch });
  return lockQueries.deleteIdleLocks(db, { idleUs, limit, maxEpoch: batch.maxEpoch, lastExpiryUs: batch.lastExpiryUs });
}

/** Applies defaults to prune options and checks them. @throws `InvalidArgumentError` naming the option. */
export function resolvePruneOptions(options: PruneOptions): Required<PruneOptions> {
  if (options === undefined) throw new InvalidArgumentError("options", "must be given: { idleForMs }");
  const given = checkOptions("options", options);
  return {
    idleForMs: checkMs("idleForMs", given.idleForMs, 0, MAX_IDLE_MS),
    limit: checkInteger("limit", orDefault(given.limit, DEFAULT_PRUNE_LIMIT), 1, MAX_PRUNE_LIMIT),
  };
}
