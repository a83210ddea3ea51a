import type { Pool } from "mysql2/promise";

/** The options Helix's generated queries pass to `query`. */
interface QueryOptions {
  sql: string;
  values: unknown[];
  rowsAsArray?: boolean;
}

/** The sqlc name of a generated statement ("other" for any other SQL). */
const statementName = (sql: string): string => /-- name: (\w+)/.exec(sql)?.[1] ?? "other";

/** The error mysql2 gives when the connection dies under a statement. */
const connectionLost = (): Error =>
  Object.assign(new Error("Connection lost: The server closed the connection."), { code: "PROTOCOL_CONNECTION_LOST", fatal: true });

/**
 * A pool in front of a real mysql2 pool, for injecting faults: while `cut`, every statement fails as
 * a refused connection would; `injected` driver errors are thrown by the next statements, one each.
 * It counts statements by their sqlc name (`count("HeartbeatMember")`).
 */
export class FaultyPool {
  cut = false;
  readonly injected: { errno: number; code: string }[] = [];
  /** Statement names whose next run fails as if the connection died under it (each once). */
  readonly failOnce = new Set<string>();
  /** Statement names that fail every time, as if the connection died under them, while listed. */
  readonly failing = new Set<string>();
  /**
   * Statement names whose next run is carried out by the database but whose reply is lost (each
   * once): the caller sees a dropped connection although the statement committed. "COMMIT" loses
   * the reply of the next transaction's commit.
   */
  readonly loseReplyOnce = new Set<string>();
  /**
   * Statement names whose reply is held back until the callback resolves: a slow server, or a
   * change made by someone else between a read and its caller's next step.
   */
  readonly beforeReply = new Map<string, () => Promise<unknown>>();
  readonly #counts = new Map<string, number>();
  readonly #inFlight = new Map<string, number>();

  constructor(private readonly pool: Pool) {}

  /** How many statements named `name` were sent (including ones that failed). */
  count(name: string): number {
    return this.#counts.get(name) ?? 0;
  }

  /** How many statements were sent in all, of any name (including ones that failed). */
  sent(): number {
    return [...this.#counts.values()].reduce((sum, n) => sum + n, 0);
  }

  /** How many statements named `name` (any name if omitted) were sent and not answered yet. */
  inFlight(name?: string): number {
    if (name !== undefined) return this.#inFlight.get(name) ?? 0;
    return [...this.#inFlight.values()].reduce((sum, n) => sum + n, 0);
  }

  query(options: QueryOptions): Promise<[unknown, unknown]> {
    return this.#run(options, (o) => this.pool.query(o));
  }

  async getConnection(): Promise<{
    query(options: QueryOptions): Promise<[unknown, unknown]>;
    beginTransaction(): Promise<void>;
    commit(): Promise<void>;
    rollback(): Promise<void>;
    release(): void;
  }> {
    this.#fault(undefined);
    const conn = await this.pool.getConnection();
    return {
      query: (options: QueryOptions) => this.#run(options, (o) => conn.query(o)),
      beginTransaction: () => conn.beginTransaction(),
      commit: async () => {
        await conn.commit();
        if (this.loseReplyOnce.delete("COMMIT")) throw connectionLost();
      },
      rollback: () => conn.rollback(),
      release: () => conn.release(),
    };
  }

  async #run(options: QueryOptions, send: (options: QueryOptions) => Promise<[unknown, unknown]>): Promise<[unknown, unknown]> {
    this.#fault(options.sql);
    const name = statementName(options.sql);
    this.#inFlight.set(name, this.inFlight(name) + 1);
    try {
      const result = await send(options);
      await this.beforeReply.get(name)?.();
      if (this.loseReplyOnce.delete(name)) throw connectionLost();
      return result;
    } finally {
      this.#inFlight.set(name, this.inFlight(name) - 1);
    }
  }

  #fault(sql: string | undefined): void {
    if (sql !== undefined) {
      const name = statementName(sql);
      this.#counts.set(name, this.count(name) + 1);
      if (this.failOnce.delete(name) || this.failing.has(name)) throw connectionLost();
    }
    if (this.cut) throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:3306"), { code: "ECONNREFUSED" });
    const fault = this.injected.shift();
    if (fault !== undefined) throw Object.assign(new Error(`injected ${fault.code}`), fault);
  }
}
