import type { RowDataPacket } from "mysql2/promise";

import * as server from "../src/generated/server";
import { clients, engine, expectEveryQueryCalled, pool, track, useQueriesFixture } from "./queries-fixture";

describe.each(clients)("through %s", (_, makePool) => {
  useQueriesFixture(makePool);

  test("server queries: the database clock", async () => {
    const row = await track("server.serverTime", server.serverTime)(pool);
    // The test server runs on this machine, with this machine's clock.
    expect(Math.abs(row!.nowUs / 1000 - Date.now())).toBeLessThan(5000);
    expect(Number.isSafeInteger(row!.nowUs)).toBe(true);
  });

  test("server queries: a session as the server describes it, found again by its id", async () => {
    const conn = await pool.getConnection();
    try {
      const [rows] = await conn.query<RowDataPacket[]>("SELECT CONNECTION_ID() AS id, CURRENT_USER() AS user");
      const own = await track("server.ownSession", server.ownSession)(conn);
      expect(own).toMatchObject({ id: Number(rows[0]!.id), userName: String(rows[0]!.user).split("@")[0] });
      // Over TCP, the address carries the client's port: unique among the server's connections.
      expect(own!.clientAddress).toMatch(/:\d+$/);
      expect(own!.serverPort).toBeGreaterThan(0);
      expect(own!.serverHost.length).toBeGreaterThan(0);
      const byId = track("server.sessionById", server.sessionById);
      // From another connection of the same pool, the same description; an id in use by no one, none.
      expect(await byId(pool, { id: own!.id })).toEqual(own);
      expect(await byId(pool, { id: 4_000_000_000 })).toBeNull();
    } finally {
      conn.release();
    }
  });

  test("server queries: a TiDB session, whichever tidb-server it is on (TiDB only; elsewhere the table does not exist)", async () => {
    const tidbSession = track("server.tidbSession", server.tidbSession);
    const conn = await pool.getConnection();
    try {
      const own = (await server.ownSession(conn))!;
      if (engine === "tidb") {
        // Asked on the session itself, which is running that very statement.
        expect(await tidbSession(conn, own)).toEqual({ command: "Query", userName: own.userName, clientAddress: own.clientAddress });
        expect(await tidbSession(pool, { id: 4_000_000_000 })).toBeNull();
      } else {
        await expect(tidbSession(conn, own)).rejects.toMatchObject({ code: "ER_UNKNOWN_TABLE" });
      }
    } finally {
      conn.release();
    }
  });
});

expectEveryQueryCalled("server");
