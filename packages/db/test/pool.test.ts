import { createTestDatabase, testServerUrl, withServer } from "@helix/testing";
import type { RowDataPacket } from "mysql2/promise";

import {
  createDatabaseIfMissing,
  createPool,
  DatabaseUnavailableError,
  describeServer,
  InvalidArgumentError,
  resolveConnectionOptions,
} from "../src/internal";

const SECRET = "s3cr3t-p@ss";

function thrown(fn: () => unknown): InvalidArgumentError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    return error as InvalidArgumentError;
  }
  throw new Error("expected a throw");
}

describe("resolveConnectionOptions", () => {
  test("reads a URL, decoding user and password, and fills in defaults", () => {
    const options = resolveConnectionOptions(`mysql://app%40x:${encodeURIComponent(SECRET)}@db.local:3307/helix?connectionLimit=4`);
    expect(options).toEqual({
      host: "db.local",
      port: 3307,
      user: "app@x",
      password: SECRET,
      database: "helix",
      connectionLimit: 4,
      connectTimeoutMs: 10_000,
      ssl: undefined,
    });
    expect(Object.isFrozen(options)).toBe(true);
    expect(resolveConnectionOptions({ database: "helix" })).toMatchObject({ host: "127.0.0.1", port: 3306, user: "root", password: "" });
    expect(resolveConnectionOptions({ url: "mysql://h/a", database: "b", port: 1 })).toMatchObject({ host: "h", database: "b", port: 1 });
    expect(resolveConnectionOptions("mysql://[::1]:3306/helix").host).toBe("::1");
  });

  test.each([
    ["postgres://u@h/db", "url", /must start with mysql:\/\//],
    ["not a url", "url", /not a valid URL/],
    ["mysql://h:3306/db?pool=3", "url", /unknown parameter "pool"/],
    ["mysql://h:3306/", "database", /is required/],
    ["mysql://h:3306/bad-name", "database", /letters, digits/],
    ["mysql://h/db?connectionLimit=0", "connectionLimit", /integer from 1 to 1000/],
    ["mysql://h/db?connectTimeoutMs=abc", "connectTimeoutMs", /integer/],
  ])("rejects %s", (url, argument, message) => {
    const error = thrown(() => resolveConnectionOptions(url));
    expect(error.code).toBe("HELIX_INVALID_ARGUMENT");
    expect(error.argument).toBe(argument);
    expect(error.message).toMatch(message);
  });

  test("never repeats the password in an error", () => {
    for (const url of [
      `mysql://root:${SECRET}@h:99999/db`,
      `mysql://root:${SECRET}@h/`,
      `mysql://root:${SECRET}@h/db?x=1`,
      `mysql://root:${SECRET}@h:port/db`,
    ]) {
      const error = thrown(() => resolveConnectionOptions(url));
      expect(`${error.message} ${error.stack ?? ""}`).not.toContain(SECRET);
    }
    expect(thrown(() => resolveConnectionOptions({ database: "x", port: -1, password: SECRET })).message).not.toContain(SECRET);
  });

  test("a malformed percent-escape in the user or password is a typed error that repeats neither", () => {
    for (const url of ["mysql://root:se%zzcret@h/db", "mysql://ro%zzot:secret@h/db", "mysql://root@h/d%zzb"]) {
      const error = thrown(() => resolveConnectionOptions(url));
      expect(error.argument).toBe("url");
      expect(error.message).toMatch(/percent-escape/);
      expect(error.message).not.toMatch(/se%zzcret|ro%zzot/);
    }
  });

  test("describeServer names host, port and database only", () => {
    expect(describeServer(resolveConnectionOptions(`mysql://root:${SECRET}@db:3306/helix`))).toBe("db:3306/helix");
  });
});

describe("createPool", () => {
  test("connects and applies the session settings queries rely on", async () => {
    await using db = await createTestDatabase();
    const pool = await createPool(db.url);
    try {
      const [rows] = await pool.query<RowDataPacket[]>(
        "SELECT CAST(9007199254740991 AS UNSIGNED) AS big, CAST('2026-01-02 03:04:05.678901' AS DATETIME(6)) AS at, JSON_OBJECT('a', 1) AS doc",
      );
      expect(rows[0]).toEqual({ big: 9007199254740991, at: new Date("2026-01-02T03:04:05.678Z"), doc: '{"a": 1}' });
      // affectedRows counts changed rows only (an upsert that changes nothing is 0).
      await pool.query("CREATE TABLE t (id INT PRIMARY KEY, v INT)");
      await pool.query("INSERT INTO t VALUES (1, 1)");
      const [header] = await pool.query<import("mysql2/promise").ResultSetHeader>(
        "INSERT INTO t VALUES (1, 1) ON DUPLICATE KEY UPDATE v = VALUES(v)",
      );
      expect(header.affectedRows).toBe(0);
    } finally {
      await pool.end();
    }
  });

  test("reports an unreachable server as DatabaseUnavailableError without the password", async () => {
    const error: unknown = await createPool(`mysql://root:${SECRET}@127.0.0.1:1/helix?connectTimeoutMs=2000`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect(error).toMatchObject({ code: "HELIX_DATABASE_UNAVAILABLE", server: "127.0.0.1:1/helix" });
    expect(String((error as Error).message)).not.toContain(SECRET);
  });

  test("reports a refused login without the password", async () => {
    const url = new URL(testServerUrl());
    url.username = "helix_no_such_user";
    url.password = SECRET;
    url.pathname = "/helix";
    const error: unknown = await createPool(url.toString()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect((error as Error).message).toMatch(/Access denied/);
    expect((error as Error).message).not.toContain(SECRET);
  });

  test("bad settings throw before any connection is made", async () => {
    await expect(createPool("mysql://127.0.0.1:1/")).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

test("createDatabaseIfMissing creates the database once and is idempotent", async () => {
  const url = new URL(testServerUrl());
  const name = `helix_test_create_${process.pid}`;
  url.pathname = `/${name}`;
  try {
    await createDatabaseIfMissing(url.toString());
    await createDatabaseIfMissing(url.toString());
    const pool = await createPool(url.toString());
    await pool.end();
  } finally {
    await withServer(new URL(testServerUrl()), (conn) => conn.query("DROP DATABASE IF EXISTS ??", [name]));
  }
});
