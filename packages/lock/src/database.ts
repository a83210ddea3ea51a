import { runStatement, serverQueries, type QueryClient } from "@helix/db";

/**
 * The locker's view of its database: the client, how to name the server in errors, and the offset
 * between the database clock and this process's monotonic clock.
 */
export class Database {
  /**
   * @param client - where queries go
   * @param server - how errors name the server (never with credentials)
   * @param serverEpochMs - database time, in ms since 1970, at performance.now() = 0
   */
  constructor(
    readonly client: QueryClient,
    readonly server: string,
    private readonly serverEpochMs: number,
  ) {}

  /** Reads the database clock and pairs it with the monotonic clock, halving the round trip. */
  static async connect(client: QueryClient, server: string): Promise<Database> {
    const probe = new Database(client, server, 0);
    const sentAt = performance.now();
    const row = await probe.run(() => serverQueries.serverTime(client));
    const receivedAt = performance.now();
    const nowMs = (row?.nowUs ?? 0) / 1000;
    return new Database(client, server, nowMs - (sentAt + receivedAt) / 2);
  }

  /** Database time, in ms since 1970, at the given performance.now() value. */
  serverTimeAt(monotonicMs: number): number {
    return this.serverEpochMs + monotonicMs;
  }

  /** Runs one statement with Helix's retry and error mapping (see `runStatement`). */
  run<T>(statement: () => Promise<T>): Promise<T> {
    return runStatement(this.server, statement);
  }
}
