import { createPool as createMysqlPool, type Pool } from "mysql2/promise";

import {
  Backoff,
  DatabaseUnavailableError,
  givesConnections,
  guardClient,
  openDatabase,
  serverQueries,
  transaction,
  type QueryClient,
  type QueryOptions,
  type TransactionConnection,
} from "../src/internal";

const deadlock = (): Error => Object.assign(new Error("Deadlock found when trying to get lock"), { errno: 1213, code: "ER_LOCK_DEADLOCK" });
const lockWaitTimeout = (): Error =>
  Object.assign(new Error("Lock wait timeout exceeded; try restarting transaction"), { errno: 1205, code: "ER_LOCK_WAIT_TIMEOUT" });
/** TiDB's answer to the commit of an optimistic transaction that a concurrent commit conflicts with. */
const writeConflict = (): Error =>
  Object.assign(new Error("Write conflict, txnStartTS=1, conflictStartTS=2 [try again later]"), { errno: 9007 });
const dropped = (): Error =>
  Object.assign(new Error("Connection lost: The server closed the connection."), { code: "PROTOCOL_CONNECTION_LOST", fatal: true });
const syntax = (): Error => Object.assign(new Error("You have an error in your SQL syntax"), { errno: 1064, code: "ER_PARSE_ERROR" });

/** A pool whose statements fail with the scripted errors first, one each; it counts what ran. */
class ScriptedPool {
  readonly failures: Error[] = [];
  statements = 0;
  begins = 0;

  constructor(private readonly pool: Pool) {}

  query(options: QueryOptions): Promise<[unknown, unknown]> {
    return this.#run(() => this.pool.query(options) as Promise<[unknown, unknown]>);
  }

  async getConnection(): Promise<TransactionConnection> {
    const conn = await this.pool.getConnection();
    return {
      query: (options) => this.#run(() => conn.query(options) as Promise<[unknown, unknown]>),
      beginTransaction: () => {
        this.begins++;
        return conn.beginTransaction();
      },
      commit: () => conn.commit(),
      rollback: () => conn.rollback(),
      release: () => conn.release(),
    };
  }

  async #run<T>(statement: () => Promise<T>): Promise<T> {
    this.statements++;
    const failure = this.failures.shift();
    if (failure !== undefined) throw failure;
    return statement();
  }
}

import { db, pool, select, usePolicyFixture } from "./policy-fixture";

usePolicyFixture();

describe("guardClient: one error policy for every statement", () => {
  test("a statement on the pool is retried after a deadlock, a lock wait timeout or a write conflict, and succeeds", async () => {
    const scripted = new ScriptedPool(pool);
    scripted.failures.push(deadlock(), lockWaitTimeout(), writeConflict());
    const [rows] = await guardClient(scripted).query(select());
    expect(rows).toEqual([{ one: 1 }]);
    expect(scripted.statements).toBe(4);
  });

  test("conflicts that do not clear are thrown as they are after the attempts", async () => {
    const scripted = new ScriptedPool(pool);
    for (let i = 0; i < 20; i++) scripted.failures.push(deadlock());
    await expect(guardClient(scripted).query(select())).rejects.toMatchObject({ errno: 1213 });
    expect(scripted.statements).toBe(8);
  });

  test("a lost connection is a DatabaseUnavailableError naming the server, with the driver's error as cause", async () => {
    const scripted = new ScriptedPool(pool);
    scripted.failures.push(dropped());
    const error = await guardClient(scripted, "db.example:3306/helix")
      .query(select())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect(error).toMatchObject({ code: "HELIX_DATABASE_UNAVAILABLE", server: "db.example:3306/helix" });
    expect((error as Error).cause).toMatchObject({ code: "PROTOCOL_CONNECTION_LOST" });
    expect(scripted.statements).toBe(1);
  });

  test("a wrong statement is thrown as it is, at once", async () => {
    const scripted = new ScriptedPool(pool);
    scripted.failures.push(syntax());
    await expect(guardClient(scripted).query(select())).rejects.toMatchObject({ errno: 1064 });
    expect(scripted.statements).toBe(1);
  });

  test("inside a transaction a deadlock reruns the whole transaction, not the statement", async () => {
    const scripted = new ScriptedPool(pool);
    const guarded = guardClient(scripted);
    let runs = 0;
    await transaction(guarded, async (conn) => {
      runs++;
      await conn.query({ sql: "INSERT INTO t (id, n) VALUES (1, 1)", values: [] });
      if (runs === 1) scripted.failures.push(deadlock());
      await conn.query({ sql: "UPDATE t SET n = n + 1 WHERE id = 1", values: [] });
    });
    expect(runs).toBe(2);
    expect(scripted.begins).toBe(2);
    const [rows] = await pool.query("SELECT n FROM t WHERE id = 1");
    // The first run was rolled back whole: one row, updated once.
    expect(rows).toEqual([{ n: 2 }]);
  });

  test("inside a transaction a write's condition on another row reads what was committed since the transaction began", async () => {
    // As RaiseGenerationFloor reads the highest generation: a row committed after the transaction
    // began must count (InnoDB reads it under a lock; TiDB at REPEATABLE READ would read the
    // transaction's first snapshot).
    await pool.query("INSERT INTO t (id, n) VALUES (1, 0)");
    await pool.query("INSERT INTO m (id, n) VALUES (1, 0)");
    const written = await transaction(guardClient(pool), async (conn) => {
      await conn.query({ sql: "SELECT n FROM t WHERE id = 1 FOR UPDATE", values: [] });
      await pool.query("UPDATE m SET n = 7 WHERE id = 1");
      const [result] = await conn.query({
        sql: "UPDATE t SET n = 1 WHERE id = 1 AND NOT EXISTS (SELECT 1 FROM m WHERE m.id = 1 AND m.n = 7)",
        values: [],
      });
      return (result as { affectedRows: number }).affectedRows;
    });
    expect(written).toBe(0);
    const [rows] = await pool.query("SELECT n FROM t WHERE id = 1");
    expect(rows).toEqual([{ n: 0 }]);
  });

  test("a consistent-snapshot transaction's reads agree, even on sessions that default to READ COMMITTED", async () => {
    // As a round's snapshot reads the catalog, then the ownership table: a task list put in between
    // must be in both reads or in neither (TiDB's and a READ COMMITTED session's statements each read
    // the latest committed rows).
    // mysql2's own pool: the session default is set as each connection opens (createPool would open
    // one, for its check, before the hook is in place).
    const readCommitted = createMysqlPool({ uri: db.url, connectionLimit: 1 });
    readCommitted.on("connection", (conn) => conn.query("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"));
    try {
      const seen = await transaction(
        guardClient(readCommitted),
        async (conn) => {
          const [before] = await conn.query({ sql: "SELECT COUNT(*) AS n FROM t", values: [] });
          await pool.query("INSERT INTO m (id, n) VALUES (1, 0)");
          await pool.query("INSERT INTO t (id, n) VALUES (1, 0)");
          const [after] = await conn.query({ sql: "SELECT (SELECT COUNT(*) FROM m) AS m, (SELECT COUNT(*) FROM t) AS t", values: [] });
          return { before, after };
        },
        { consistentSnapshot: true },
      );
      expect(seen).toEqual({ before: [{ n: 0 }], after: [{ m: 0, t: 0 }] });
    } finally {
      await readCommitted.end();
    }
  });

  test("a connection lost inside a transaction is a DatabaseUnavailableError and nothing is committed", async () => {
    const scripted = new ScriptedPool(pool);
    const error = await transaction(guardClient(scripted), async (conn) => {
      await conn.query({ sql: "INSERT INTO t (id, n) VALUES (2, 1)", values: [] });
      scripted.failures.push(dropped());
      await conn.query({ sql: "UPDATE t SET n = 5 WHERE id = 2", values: [] });
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    const [rows] = await pool.query("SELECT * FROM t WHERE id = 2");
    expect(rows).toEqual([]);
  });

  test("guarding twice guards once (no nested retries)", async () => {
    const scripted = new ScriptedPool(pool);
    const once = guardClient(scripted);
    expect(guardClient(once)).toBe(once);
    for (let i = 0; i < 20; i++) scripted.failures.push(deadlock());
    await expect(guardClient(once).query(select())).rejects.toMatchObject({ errno: 1213 });
    expect(scripted.statements).toBe(8);
  });

  test("openDatabase guards a caller's pool and the pools it makes", async () => {
    const scripted = new ScriptedPool(pool);
    const given = await openDatabase(scripted);
    scripted.failures.push(dropped());
    await expect(given.client.query(select())).rejects.toBeInstanceOf(DatabaseUnavailableError);
    const made = await openDatabase(db.url);
    try {
      expect(guardClient(made.client)).toBe(made.client);
    } finally {
      await made.close();
    }
  });

  test("a session is asked who it is once in its connection's life, and never through a pool that hands out nothing lasting", async () => {
    const single = createMysqlPool({ uri: db.url, connectionLimit: 1 });
    try {
      let asked = 0;
      const counting = {
        query: (options: QueryOptions) => single.query(options),
        getConnection: async () => {
          const conn = await single.getConnection();
          const send = conn.query.bind(conn) as (options: QueryOptions) => Promise<[unknown, unknown]>;
          return Object.assign(conn, {
            query: (options: QueryOptions) => {
              if (options.sql === serverQueries.ownSessionQuery) asked++;
              return send(options);
            },
          });
        },
      };
      const guarded = guardClient(counting, "db.example:3306/helix", { statementTimeoutMs: 5_000 });
      for (let i = 0; i < 5; i++) await guarded.query(select());
      expect(asked).toBe(1);
      // A wrapper with a new object at each checkout and nothing lasting: never asked, never killed.
      const wrapped = new ScriptedPool(single);
      const unrecorded = guardClient(wrapped, "db.example:3306/helix", { statementTimeoutMs: 5_000 });
      for (let i = 0; i < 3; i++) await unrecorded.query(select());
      expect(wrapped.statements).toBe(3);
    } finally {
      await single.end();
    }
  });

  test("a client without getConnection says why it cannot run a transaction", async () => {
    const queryOnly: QueryClient = { query: (options) => pool.query(options) };
    await expect(transaction(guardClient(queryOnly), async () => undefined)).rejects.toMatchObject({
      code: "HELIX_INVALID_ARGUMENT",
      argument: "client",
      message: expect.stringMatching(/getConnection/) as unknown,
    });
    // What migrate asks before it groups statements in a transaction of their own.
    expect(givesConnections(guardClient(queryOnly))).toBe(false);
    expect(givesConnections(guardClient(pool))).toBe(true);
  });
});

describe("Backoff", () => {
  test("each delay lies between half and all of its step; steps double up to the largest", () => {
    const steps = [10, 20, 40, 80, 100, 100];
    for (let trial = 0; trial < 200; trial++) {
      const backoff = new Backoff(10, 100);
      for (const step of steps) {
        const delay = backoff.next();
        expect(delay).toBeGreaterThanOrEqual(step / 2);
        expect(delay).toBeLessThanOrEqual(step);
      }
    }
  });

  test("wait is cut to the limit and ends at once with the signal's reason", async () => {
    // A step of an hour: a wait not cut to the limit would outlast the test's timeout.
    await new Backoff(3_600_000, 3_600_000).wait({ limitMs: 20 });
    const controller = new AbortController();
    const waiting = new Backoff(10_000, 10_000).wait({ signal: controller.signal });
    controller.abort(new Error("stop"));
    await expect(waiting).rejects.toThrow("stop");
  });
});
