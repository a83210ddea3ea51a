import { setTimeout as sleep } from "node:timers/promises";

import { TcpProxy, until } from "@helix/testing";
import { createPool as createMysqlPool, type Pool, type PoolConnection, type RowDataPacket } from "mysql2/promise";

import {
  createPool,
  DatabaseUnavailableError,
  guardClient,
  serverQueries,
  transaction,
  type QueryClient,
  type QueryOptions,
  type TransactionConnection,
} from "../src/internal";
import { STATEMENT_TIMEOUT } from "../src/within";

import { db, pool, select, usePolicyFixture } from "./policy-fixture";

usePolicyFixture();

/**
 * How long the checks below let a write wait for a row lock. A session that was ended lets go of its
 * locks as soon as its rollback is done, whatever the load; one left running holds them for good, and
 * the write then fails with ER_LOCK_WAIT_TIMEOUT rather than with the test's timeout.
 */
const LOCK_WAIT_S = 20;

/** Runs `sql` on a connection of `source`'s own, waiting at most {@link LOCK_WAIT_S} for any row lock it needs. */
async function lockFree(source: Pool, sql: string): Promise<void> {
  const conn = await source.getConnection();
  try {
    await conn.query(`SET SESSION innodb_lock_wait_timeout = ${LOCK_WAIT_S}`);
    await conn.query(sql);
  } finally {
    // Not back to the pool with a session setting the other tests do not expect.
    conn.destroy();
  }
}

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

  test("fails by the statement timeout, and the next statement gets a fresh connection", async () => {
    const guarded = guardClient(through, "db.example:3306/helix", { statementTimeoutMs: 300 });
    await guarded.query(select());
    expect(proxy.hangOpenConnections()).toBeGreaterThan(0);
    // Without the bound the statement would wait for ever (see below): it ends, and by the bound.
    const error = await guarded.query(select()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect(error).toMatchObject({ cause: { code: STATEMENT_TIMEOUT } });
    // The hung connection was destroyed, not returned to the pool: the next statement works at once.
    const [rows] = await guarded.query(select());
    expect(rows).toEqual([{ one: 1 }]);
  });

  test("a transaction on a connection that hangs fails by the statement timeout and leaves the pool usable", async () => {
    const guarded = guardClient(through, "db.example:3306/helix", { statementTimeoutMs: 300 });
    const error = await transaction(guarded, async (conn) => {
      await conn.query({ sql: "INSERT INTO t (id, n) VALUES (3, 1)", values: [] });
      proxy.hangOpenConnections();
      await conn.query({ sql: "UPDATE t SET n = 2 WHERE id = 3", values: [] });
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect(error).toMatchObject({ cause: { code: STATEMENT_TIMEOUT } });
    // The server heard nothing from the black-holed socket, so the hung session was killed from
    // another connection: its uncommitted row and its lock are gone (this insert would otherwise
    // wait for the lock until the server gave up on it), and the pool works.
    await lockFree(through, "INSERT INTO t (id, n) VALUES (3, 2)");
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
      // (this insert would otherwise wait for it, and fail as a lock wait timeout).
      await lockFree(pool, "INSERT INTO t (id, n) VALUES (7, 2)");
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
    // Row 2 is free (a leftover lock would hold this insert until it failed as a lock wait timeout)
    // and was never written, and row 1 keeps the holder's value.
    await lockFree(pool, "INSERT INTO t (id, n) VALUES (2, 5)");
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
    await until(() => order.length >= 2, 10_000);
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
    await until(() => server.looks >= 1, 10_000);
    await sleep(300);
    expect(server.kills).toEqual([]);
  });

  test("on TiDB a session still running its statement is not killed: it ends by itself", async () => {
    const server = new HungServer(TIDB, ["Query", "Query", "Query", null]);
    expect(await hang(server)).toBeInstanceOf(DatabaseUnavailableError);
    await until(() => server.looks >= 4, 10_000);
    await sleep(300);
    expect(server.kills).toEqual([]);
  });

  test("on TiDB a session that is idle and stays so (a black-holed socket) is killed", async () => {
    const server = new HungServer(TIDB, ["Query", "Sleep", "Sleep"]);
    expect(await hang(server)).toBeInstanceOf(DatabaseUnavailableError);
    await until(() => server.kills.length > 0, 10_000);
    expect(server.kills).toEqual([42]);
  });

  test("on TiDB a session seen idle once, then gone, closed by itself: not killed", async () => {
    const server = new HungServer(TIDB, ["Sleep", null]);
    expect(await hang(server)).toBeInstanceOf(DatabaseUnavailableError);
    await until(() => server.looks >= 2, 10_000);
    await sleep(300);
    expect(server.kills).toEqual([]);
  });
});
