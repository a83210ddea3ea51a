import { Backoff, isHelixError } from "@helix/db/internal";

/**
 * Runs `attempt`, and again on a fresh connection while the database is unavailable, for up to
 * `ttlMs` (after which a member's registration has ended anyway), backing off up to `heartbeatMs`:
 * for writes that find their own earlier effect when sent again (a registration, a leave).
 */
export async function whileUnavailable<T>(attempt: () => Promise<T>, options: { ttlMs: number; heartbeatMs: number }): Promise<T> {
  const giveUpAt = performance.now() + options.ttlMs;
  const backoff = new Backoff(Math.min(50, options.heartbeatMs), options.heartbeatMs);
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      const left = giveUpAt - performance.now();
      if (!isHelixError(error, "HELIX_DATABASE_UNAVAILABLE") || left <= 0) throw error;
      await backoff.wait({ limitMs: left });
    }
  }
}
