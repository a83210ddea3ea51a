import { setTimeout as sleep } from "node:timers/promises";

import { createTestDatabase, TcpProxy, until, type TestDatabase } from "@helix/testing";
import { createPool as createMysqlPool, type Pool, type PoolConnection, type RowDataPacket } from "mysql2/promise";

import {
  Backoff,
  createPool,
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

const select = (sql = "SELECT 1 AS one"): QueryOptions => ({ sql, values: [] });

let db: TestDatabase;
let pool: Pool;

beforeAll(async () => {
  db = await createTestDatabase("helix_policy");
  pool = await createPool(db.url);
  await pool.query("CREATE TABLE t (id INT PRIMARY KEY, n INT NOT NULL)");
  await pool.query("CREATE TABLE m (id INT PRIMARY KEY, n INT NOT NULL)");
});

afterAll(async () => {
  await pool.end();
  await db[Symbol.asyncDispose]();
});

beforeEach(async () => {
  await pool.query("DELETE FROM t");
  await pool.query("DELETE FROM m");
});

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
    const started = performance.now();
    await new Backoff(10_000, 10_000).wait({ limitMs: 20 });
    expect(performance.now() - started).toBeLessThan(1000);
    const controller = new AbortController();
    const waiting = new Backoff(10_000, 10_000).wait({ signal: controller.signal });
    controller.abort(new Error("stop"));
    await expect(waiting).rejects.toThrow("stop");
  });
});

describe("a hung connection (a black-holed socket: no answer, no error)", () => {
  let proxy: TcpProxy;
  let through: Pool;

  beforeAll(async () => {
    proxy = await TcpProxy.start(new URL(db.url));
    through = await createPool({ url: proxy.url(db.url), connectionLimit: 2 });
  });

  afterAll(async () => {
    // The proxy first: it ends the hung sockets, which pool.end() would otherwise wait for (and
    // then reports as lost).
    await proxy.close();
    await through.end().catch(() => undefined);
  });

  test("fails within the statement timeout, and the next statement gets a fresh connection", async () => {
    const guarded = guardClient(through, "db.example:3306/helix", { statementTimeoutMs: 300 });
    await guarded.query(select());
    expect(proxy.hangOpenConnections()).toBeGreaterThan(0);
    const started = performance.now();
    const error = await guarded.query(select()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect(performance.now() - started).toBeLessThan(1_000);
    // The hung connection was destroyed, not returned to the pool: the next statement works at once.
    const [rows] = await guarded.query(select());
    expect(rows).toEqual([{ one: 1 }]);
  });

  test("a transaction on a connection that hangs fails in time and leaves the pool usable", async () => {
    const guarded = guardClient(through, "db.example:3306/helix", { statementTimeoutMs: 300 });
    const started = performance.now();
    const error = await transaction(guarded, async (conn) => {
      await conn.query({ sql: "INSERT INTO t (id, n) VALUES (3, 1)", values: [] });
      proxy.hangOpenConnections();
      await conn.query({ sql: "UPDATE t SET n = 2 WHERE id = 3", values: [] });
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect(performance.now() - started).toBeLessThan(1_500);
    // The server heard nothing from the black-holed socket, so the hung session was killed from
    // another connection: its uncommitted row and its lock are gone (this insert would otherwise
    // wait for the lock for 50 s), and the pool works.
    await transaction(guarded, async (conn) => conn.query({ sql: "INSERT INTO t (id, n) VALUES (3, 2)", values: [] }));
    const [rows] = await pool.query("SELECT n FROM t WHERE id = 3");
    expect(rows).toEqual([{ n: 2 }]);
  });

  test("behind a proxy that numbers sessions itself, the hung session is ended and the session with the proxy's number is not", async () => {
    // Another client's session, whose number the proxy gives to the sessions it serves.
    const bystanders = createMysqlPool({ uri: db.url, connectionLimit: 1 });
    const bystander = await bystanders.getConnection();
    const [ids] = await bystander.query<RowDataPacket[]>("SELECT CONNECTION_ID() AS id");
    const renumbering = await TcpProxy.start(new URL(db.url));
    renumbering.renumberSessions(Number(ids[0]!.id));
    const behind = await createPool({ url: renumbering.url(db.url), connectionLimit: 2 });
    try {
      const guarded = guardClient(behind, "db.example:3306/helix", { statementTimeoutMs: 300 });
      const error = await transaction(guarded, async (conn) => {
        await conn.query({ sql: "INSERT INTO t (id, n) VALUES (7, 1)", values: [] });
        renumbering.hangOpenConnections();
        await conn.query(select());
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DatabaseUnavailableError);
      // The bystander's session lives on.
      const [rows] = await bystander.query("SELECT 1 AS one");
      expect(rows).toEqual([{ one: 1 }]);
      // The hung session, found by what its server said it was, was ended: its row lock is gone
      // (this insert would otherwise wait for it for 50 s).
      const started = performance.now();
      await pool.query("INSERT INTO t (id, n) VALUES (7, 2)");
      expect(performance.now() - started).toBeLessThan(5_000);
    } finally {
      bystander.release();
      await renumbering.close();
      await behind.end().catch(() => undefined);
      await bystanders.end();
    }
  });

  test("without a bound a hung statement waits (why the objects set one)", async () => {
    const guarded = guardClient(through);
    await guarded.query(select());
    proxy.hangOpenConnections();
    const outcome = await Promise.race([
      guarded.query(select()).then(
        () => "answered",
        () => "failed",
      ),
      sleep(800).then(() => "waiting"),
    ]);
    expect(outcome).toBe("waiting");
    // The statement stays stuck on its socket until the proxy closes (afterAll).
  });
});

describe("ending the session of a connection given up", () => {
  /** Row 1 of t, set to 1 by a transaction left open: whoever else writes it waits. */
  async function holdRowOne(): Promise<PoolConnection> {
    await pool.query("INSERT INTO t (id, n) VALUES (1, 0)");
    const holder = await pool.getConnection();
    await holder.beginTransaction();
    await holder.query("UPDATE t SET n = 1 WHERE id = 1");
    return holder;
  }

  test("a transaction given up while it waits for a row lock is rolled back, and its locks go", async () => {
    const holder = await holdRowOne();
    const guarded = guardClient(pool, "db.example:3306/helix", { statementTimeoutMs: 300 });
    const error = await transaction(guarded, async (conn) => {
      await conn.query({ sql: "INSERT INTO t (id, n) VALUES (2, 0)", values: [] });
      await conn.query({ sql: "UPDATE t SET n = 2 WHERE id = 1", values: [] });
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    await holder.commit();
    holder.release();
    // Row 2 is free (a leftover lock would hold this insert for the server's lock wait or the
    // lock's TTL) and was never written, and row 1 keeps the holder's value.
    const started = performance.now();
    await pool.query("INSERT INTO t (id, n) VALUES (2, 5)");
    expect(performance.now() - started).toBeLessThan(5_000);
    const [rows] = await pool.query("SELECT id, n FROM t ORDER BY id");
    expect(rows).toEqual([
      { id: 1, n: 1 },
      { id: 2, n: 5 },
    ]);
  });

  test("a write given up at its timeout never commits afterwards", async () => {
    const holder = await holdRowOne();
    const guarded = guardClient(pool, "db.example:3306/helix", { statementTimeoutMs: 300 });
    const write = { sql: "-- name: SetN :execrows\nUPDATE t SET n = n + 10 WHERE id = 1", values: [] };
    expect(await guarded.query(write).catch((e: unknown) => e)).toBeInstanceOf(DatabaseUnavailableError);
    await holder.commit();
    holder.release();
    // Time for a statement left running to go through, had it been free to commit.
    await sleep(500);
    const [rows] = await pool.query("SELECT n FROM t WHERE id = 1");
    expect(rows).toEqual([{ n: 1 }]);
  });

  /** How the fake server below describes session 42: [id, user, client address, server host, port]. */
  const SESSION_42 = [42, "helix", "10.0.1.5:50312", "db-a", 3306] as const;

  /**
   * A pool on a server that reports `version`, whose connections are session 42 (described as
   * {@link SESSION_42}), answer who they are, and then never answer again. Asked about session 42
   * from another connection, it shows `found` (null: no such session) on MariaDB and MySQL, and goes
   * through `states` ("Query", "Sleep", or null: ended), one per look, staying at the last, on TiDB.
   * It records the KILLs sent.
   */
  class HungServer {
    readonly kills: unknown[] = [];
    looks = 0;
    /** How session 42 looks from the connection that would kill it. */
    found: readonly unknown[] | null = SESSION_42;

    constructor(
      private readonly version: string,
      private readonly states: (string | null)[],
    ) {}

    async query(options: QueryOptions): Promise<[unknown, unknown]> {
      if (options.sql === serverQueries.serverVersionQuery) return [[[this.version]], []];
      if (options.sql === serverQueries.tidbSessionQuery) {
        const state = this.states[Math.min(this.looks++, this.states.length - 1)];
        return [state === null || this.found === null ? [] : [[state, this.found[1], this.found[2]]], []];
      }
      if (options.sql === serverQueries.sessionByIdQuery) return [this.found === null ? [] : [this.found], []];
      if (options.sql.startsWith("KILL")) {
        this.kills.push(options.values?.[0]);
        return [{ affectedRows: 0 }, []];
      }
      throw new Error(`unexpected statement: ${options.sql}`);
    }

    async getConnection(): Promise<TransactionConnection & { threadId: number; connection: object; destroy(): void }> {
      let identified = false;
      // The first connection runs the statement that hangs; the ones after it are the killer's.
      const killer = this.connections++ > 0;
      return {
        threadId: 42,
        // What lasts across checkouts, as mysql2's `connection` does: the session is recorded on it.
        connection: {},
        query: async (options: QueryOptions) => {
          if (killer) return this.query(options);
          if (options.sql === serverQueries.ownSessionQuery && !identified) {
            identified = true;
            if (this.silent) throw Object.assign(new Error("Access denied"), { errno: 1227, sqlState: "42000" });
            return [[SESSION_42], []];
          }
          return new Promise(() => undefined);
        },
        beginTransaction: async () => undefined,
        commit: async () => undefined,
        rollback: async () => undefined,
        release: () => undefined,
        destroy: () => undefined,
      };
    }

    connections = 0;
    /** Whether the server refuses to describe a session to itself (a proxy hiding the process list). */
    silent = false;
  }

  const TIDB = "8.0.11-TiDB-v8.5.4";
  const hang = async (server: HungServer): Promise<unknown> =>
    guardClient(server as unknown as QueryClient, "db.example:4000/helix", { statementTimeoutMs: 100 })
      .query(select())
      .catch((e: unknown) => e);

  test("on MariaDB and MySQL the session is killed at once", async () => {
    const server = new HungServer("10.11.6-MariaDB", []);
    expect(await hang(server)).toBeInstanceOf(DatabaseUnavailableError);
    expect(server.kills).toEqual([42]);
    expect(server.looks).toBe(0);
  });

  test("a connection that cannot be destroyed goes back to its pool only after its session was killed", async () => {
    const server = new HungServer("10.11.6-MariaDB", []);
    const order: string[] = [];
    let taken = 0;
    const source = {
      query: (options: QueryOptions) => server.query(options),
      // A pool other than mysql2's: its connections have no destroy().
      getConnection: async () => {
        const conn: Partial<Awaited<ReturnType<HungServer["getConnection"]>>> = await server.getConnection();
        delete conn.destroy;
        const hung = taken++ === 0;
        return {
          ...conn,
          query: (options: QueryOptions) => {
            if (options.sql.startsWith("KILL")) order.push("kill");
            return conn.query!(options);
          },
          release: () => void (hung && order.push("release")),
        };
      },
    };
    const error = await guardClient(source as unknown as QueryClient, "db.example:3306/helix", { statementTimeoutMs: 100 })
      .query(select())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    await until(() => order.length >= 2, 2_000);
    expect(order).toEqual(["kill", "release"]);
  });

  test.each([
    ["on another server", [42, "helix", "10.0.1.5:50312", "db-b", 3306]],
    ["on another port of the host", [42, "helix", "10.0.1.5:50312", "db-a", 3307]],
    ["of another user", [42, "billing", "10.0.1.5:50312", "db-a", 3306]],
    ["from another client address", [42, "helix", "10.0.1.5:50313", "db-a", 3306]],
    ["gone", null],
  ])("on MariaDB and MySQL a session numbered as the hung one but %s is not killed", async (_, found) => {
    const server = new HungServer("10.11.6-MariaDB", []);
    server.found = found;
    expect(await hang(server)).toBeInstanceOf(DatabaseUnavailableError);
    await sleep(200);
    expect(server.kills).toEqual([]);
  });

  test.each([
    ["MariaDB", "10.11.6-MariaDB"],
    ["TiDB", TIDB],
  ])("on %s a session the server would not describe when it was new is never killed", async (_, version) => {
    const server = new HungServer(version, ["Sleep"]);
    server.silent = true;
    expect(await hang(server)).toBeInstanceOf(DatabaseUnavailableError);
    await sleep(400);
    expect(server.kills).toEqual([]);
    expect(server.looks).toBe(0);
  });

  test("on TiDB an idle session numbered as the hung one but from another client address is not killed", async () => {
    const server = new HungServer(TIDB, ["Sleep"]);
    server.found = [42, "helix", "10.0.1.5:50313", "db-a", 3306];
    expect(await hang(server)).toBeInstanceOf(DatabaseUnavailableError);
    await until(() => server.looks >= 1, 2_000);
    await sleep(300);
    expect(server.kills).toEqual([]);
  });

  test("on TiDB a session still running its statement is not killed: it ends by itself", async () => {
    const server = new HungServer(TIDB, ["Query", "Query", "Query", null]);
    expect(await hang(server)).toBeInstanceOf(DatabaseUnavailableError);
    await until(() => server.looks >= 4, 2_000);
    await sleep(300);
    expect(server.kills).toEqual([]);
  });

  test("on TiDB a session that is idle and stays so (a black-holed socket) is killed", async () => {
    const server = new HungServer(TIDB, ["Query", "Sleep", "Sleep"]);
    expect(await hang(server)).toBeInstanceOf(DatabaseUnavailableError);
    await until(() => server.kills.length > 0, 2_000);
    expect(server.kills).toEqual([42]);
  });

  test("on TiDB a session seen idle once, then gone, closed by itself: not killed", async () => {
    const server = new HungServer(TIDB, ["Sleep", null]);
    expect(await hang(server)).toBeInstanceOf(DatabaseUnavailableError);
    await until(() => server.looks >= 2, 2_000);
    await sleep(300);
    expect(server.kills).toEqual([]);
  });
});
