import { serverQueries, type QueryClient } from "@helix/db/internal";

/**
 * The locker's view of its database: the client (guarded by Helix's error policy where it was
 * opened) and the offset between the database clock and this process's monotonic clock.
 */
export class Database {
  /**
   * @param client - where queries go
   * @param serverEpochMs - database time, in ms since 1970, at performance.now() = 0
   */
  constructor(
    readonly client: QueryClient,
    private readonly serverEpochMs: number,
  ) {}

  /** Reads the database clock and pairs it with the monotonic clock, halving the round trip. */
  static async connect(client: QueryClient): Promise<Database> {
    const sentAt = performance.now();
    const row = await serverQueries.serverTime(client);
    const receivedAt = performance.now();
    const nowMs = (row?.nowUs ?? 0) / 1000;
    return new Database(client, nowMs - (sentAt + receivedAt) / 2);
  }

  /** Database time, in ms since 1970, at the given performance.now() value. */
  serverTimeAt(monotonicMs: number): number {
    return this.serverEpochMs + monotonicMs;
  }
}
