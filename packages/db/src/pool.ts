import { createPool as createMysqlPool, type Pool, type PoolOptions as MysqlPoolOptions } from "mysql2/promise";

import { DatabaseUnavailableError, InvalidArgumentError } from "./errors";
import { guardClient, type GuardOptions } from "./policy";
import type { QueryClient } from "./generated/db";
import type { ConnectionSource } from "./types";
import { checkInteger, orDefault } from "./validate";

/**
 * Where and how to connect. Every field is optional; give either `url` or the separate fields
 * (a field given next to `url` overrides the URL's value).
 */
export interface ConnectionOptions {
  /**
   * `mysql://user:password@host:port/database`, with optional query parameters
   * `connectionLimit` and `connectTimeoutMs`. User and password are percent-decoded.
   */
  url?: string;
  /** @default "127.0.0.1" */
  host?: string;
  /** @default 3306 */
  port?: number;
  /** @default "root" */
  user?: string;
  /** @default "" */
  password?: string;
  /** The database holding Helix's tables. Required, in the URL's path or here. */
  database?: string;
  /** Most connections the pool opens. @default 10 */
  connectionLimit?: number;
  /** How long to wait for a new connection to be established. @default 10000 */
  connectTimeoutMs?: number;
  /** TLS settings, passed to mysql2 as they are. @default undefined (no TLS) */
  ssl?: MysqlPoolOptions["ssl"];
}

/** Connection settings after defaults and validation; `password` is never printed by Helix. */
export interface ResolvedConnectionOptions {
  /** The server's host name or address. */
  readonly host: string;
  /** The server's TCP port. */
  readonly port: number;
  /** The user to connect as. */
  readonly user: string;
  /** The user's password; "" for none. */
  readonly password: string;
  /** The database holding Helix's tables. */
  readonly database: string;
  /** Most connections the pool opens. */
  readonly connectionLimit: number;
  /** How long to wait for a new connection to be established. */
  readonly connectTimeoutMs: number;
  /** TLS settings, passed to mysql2 as they are; `undefined` for no TLS. */
  readonly ssl: MysqlPoolOptions["ssl"] | undefined;
}

const MAX_CONNECTION_LIMIT = 1000;
const urlParameters = new Set(["connectionLimit", "connectTimeoutMs"]);

/**
 * Validates connection settings and fills in defaults, without connecting.
 * @throws {@link InvalidArgumentError} naming the bad field; the message never contains the password.
 */
export function resolveConnectionOptions(input: string | ConnectionOptions, argument = "options"): ResolvedConnectionOptions {
  if (typeof input !== "string" && (typeof input !== "object" || input === null || Array.isArray(input))) {
    throw new InvalidArgumentError(argument, "expected a mysql:// URL, a ConnectionOptions object or a mysql2 pool");
  }
  const options: ConnectionOptions = typeof input === "string" ? { url: input } : { ...input };
  const fromUrl = options.url === undefined ? {} : parseUrl(options.url);
  const merged = { ...fromUrl, ...withoutUndefined({ ...options, url: undefined }) };
  const resolved: ResolvedConnectionOptions = {
    host: orDefault(merged.host, "127.0.0.1"),
    port: orDefault(merged.port, 3306),
    user: orDefault(merged.user, "root"),
    password: orDefault(merged.password, ""),
    database: orDefault(merged.database, ""),
    connectionLimit: orDefault(merged.connectionLimit, 10),
    connectTimeoutMs: orDefault(merged.connectTimeoutMs, 10_000),
    ssl: merged.ssl,
  };
  if (typeof resolved.host !== "string" || resolved.host === "") {
    throw new InvalidArgumentError("host", "must be a non-empty host name or address");
  }
  checkInteger("port", resolved.port, 1, 65535);
  checkInteger("connectionLimit", resolved.connectionLimit, 1, MAX_CONNECTION_LIMIT);
  checkInteger("connectTimeoutMs", resolved.connectTimeoutMs, 1, 600_000);
  if (typeof resolved.user !== "string" || resolved.user === "") {
    throw new InvalidArgumentError("user", "must be a non-empty user name");
  }
  if (typeof resolved.password !== "string") throw new InvalidArgumentError("password", "must be a string");
  if (typeof resolved.database !== "string" || !/^[A-Za-z0-9_$]{1,64}$/.test(resolved.database)) {
    throw new InvalidArgumentError(
      "database",
      resolved.database === ""
        ? "is required: put it in the URL's path (mysql://host:3306/helix) or set `database`"
        : "must be 1 to 64 letters, digits, _ or $",
    );
  }
  return Object.freeze(resolved);
}

function parseUrl(raw: unknown): ConnectionOptions {
  if (typeof raw !== "string") throw new InvalidArgumentError("url", "must be a string");
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // The URL may hold a password, so it is not repeated here.
    throw new InvalidArgumentError("url", "is not a valid URL; expected mysql://user:password@host:port/database");
  }
  if (url.protocol !== "mysql:" && url.protocol !== "mariadb:") {
    throw new InvalidArgumentError("url", `must start with mysql:// (got ${url.protocol}//)`);
  }
  const result: ConnectionOptions = {};
  if (url.hostname !== "") result.host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (url.port !== "") result.port = Number(url.port);
  if (url.username !== "") result.user = decodeUrlPart("user", url.username);
  if (url.password !== "") result.password = decodeUrlPart("password", url.password);
  const database = decodeUrlPart("database", url.pathname.replace(/^\//, ""));
  if (database !== "") result.database = database;
  for (const [key, value] of url.searchParams) {
    if (!urlParameters.has(key)) {
      throw new InvalidArgumentError("url", `unknown parameter "${key}" (known: ${[...urlParameters].join(", ")})`);
    }
    const n = Number(value);
    if (key === "connectionLimit") result.connectionLimit = n;
    else result.connectTimeoutMs = n;
  }
  return result;
}

/** Percent-decodes a part of the URL; a malformed escape is named, never repeated (it may be a password). */
function decodeUrlPart(part: string, encoded: string): string {
  try {
    return decodeURIComponent(encoded);
  } catch {
    throw new InvalidArgumentError(
      "url",
      `the ${part} has a malformed percent-escape; write "%" as %25 and other special characters as %XX`,
    );
  }
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** `host:port/database`: how Helix names a server in messages. Never includes credentials. */
export function describeServer(options: ResolvedConnectionOptions): string {
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  return `${host}:${options.port}/${options.database}`;
}

/**
 * The mysql2 settings of the pools Helix makes. No answer depends on them: statements that need an
 * answer from an upsert read it from LAST_INSERT_ID, never from affectedRows (whose meaning depends
 * on FOUND_ROWS), and generated readers normalise numbers, dates and JSON whatever the client's
 * flags, so a caller's own mysql2 pool works the same. These are the fastest settings to read:
 * - `flags: -FOUND_ROWS`: affectedRows counts rows actually changed;
 * - `timezone: "Z"`: DATETIME values are read and written as UTC (all SQL uses UTC_TIMESTAMP(6));
 * - `supportBigNumbers`: BIGINT counters arrive as exact numbers;
 * - `jsonStrings`: JSON columns arrive as strings on MySQL and MariaDB alike.
 */
function mysqlPoolOptions(options: ResolvedConnectionOptions): MysqlPoolOptions {
  return {
    host: options.host,
    port: options.port,
    user: options.user,
    password: options.password,
    database: options.database,
    connectionLimit: options.connectionLimit,
    connectTimeout: options.connectTimeoutMs,
    ssl: options.ssl,
    waitForConnections: true,
    queueLimit: 0,
    enableKeepAlive: true,
    keepAliveInitialDelay: 10_000,
    charset: "UTF8MB4_GENERAL_CI",
    flags: ["-FOUND_ROWS"],
    timezone: "Z",
    dateStrings: false,
    supportBigNumbers: true,
    bigNumberStrings: false,
    decimalNumbers: false,
    jsonStrings: true,
    multipleStatements: false,
    namedPlaceholders: false,
  };
}

/**
 * Creates a mysql2 pool set up the way Helix's queries need, and checks that the server answers
 * before returning it. Close it with `pool.end()`.
 * @throws {@link InvalidArgumentError} for malformed settings (nothing is connected).
 * @throws {@link DatabaseUnavailableError} when the server cannot be reached or refuses the login.
 */
export async function createPool(input: string | ConnectionOptions): Promise<Pool> {
  const options = resolveConnectionOptions(input);
  const pool = createMysqlPool(mysqlPoolOptions(options));
  try {
    await pool.query("SELECT 1");
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw unavailable(options, error);
  }
  madeByHelix.set(pool, options);
  return pool;
}

/** The pools {@link createPool} made, with their settings: a lane can be opened beside each. */
const madeByHelix = new WeakMap<object, ResolvedConnectionOptions>();

/** How many connections a lane has: heartbeats are point writes, answered in a round trip. */
const LANE_CONNECTIONS = 2;

/** Open lanes, by the pool (or settings) they stand beside, with how many users each has. */
const lanes = new WeakMap<object, { pool: Pool; users: number }>();

/**
 * A pool of its own, beside `key`'s, for statements that must not wait for a connection behind
 * other statements (a member's heartbeats behind its reads, or other members' on a shared pool).
 * Shared by the users of one pool; ended when its last user closes it.
 */
function openLane(key: object, options: ResolvedConnectionOptions): { pool: Pool; close: () => Promise<void> } {
  let lane = lanes.get(key);
  if (lane === undefined) {
    lane = { pool: createMysqlPool({ ...mysqlPoolOptions(options), connectionLimit: LANE_CONNECTIONS }), users: 0 };
    lanes.set(key, lane);
  }
  const shared = lane;
  shared.users++;
  let closed = false;
  return {
    pool: shared.pool,
    close: async () => {
      if (closed) return;
      closed = true;
      if (--shared.users > 0) return;
      if (lanes.get(key) === shared) lanes.delete(key);
      await shared.pool.end().catch(() => undefined);
    },
  };
}

/**
 * Creates the database named in the settings if it does not exist (connecting without selecting a
 * database). For setup scripts and the app's `migrate`; libraries expect the database to exist.
 */
export async function createDatabaseIfMissing(input: string | ConnectionOptions): Promise<void> {
  const options = resolveConnectionOptions(input);
  const pool = createMysqlPool({ ...mysqlPoolOptions(options), database: undefined, connectionLimit: 1 });
  try {
    await pool.query("CREATE DATABASE IF NOT EXISTS ?? CHARACTER SET utf8mb4", [options.database]);
  } catch (error) {
    throw unavailable(options, error);
  } finally {
    await pool.end().catch(() => undefined);
  }
}

function unavailable(options: ResolvedConnectionOptions, error: unknown): DatabaseUnavailableError {
  const server = describeServer(options);
  const reason = error instanceof Error ? error.message : String(error);
  const safeReason = options.password === "" ? reason : reason.split(options.password).join("***");
  return new DatabaseUnavailableError(server, `cannot use MySQL at ${server} as ${options.user}: ${safeReason}`, {
    cause: error,
  });
}

/** Where a Helix object's queries go: a mysql2 pool (or anything shaped like it), a URL, or options. */
export type DatabaseSource<C extends QueryClient = ConnectionSource> = C | string | ConnectionOptions;

/** A source made ready: the client, guarded by Helix's error policy, and how to close what was opened. */
export interface OpenedDatabase {
  /** The pool behind {@link guardClient}: every statement through it follows Helix's error policy. */
  readonly client: ConnectionSource;
  /** `host:port/database`, or "the database" for a pool given by the caller. */
  readonly server: string;
  /** Ends the pool if this call created it; does nothing for a caller's pool. */
  close(): Promise<void>;
  /**
   * The same pool under the same policy with another statement timeout: for statements whose
   * bound differs from the rest (a large read holding no lock may take longer than a write).
   */
  withTimeout(statementTimeoutMs: number | (() => number)): ConnectionSource;
  /**
   * A client for statements that must not queue for a connection behind the others: a small pool
   * of its own to the same server, shared by the users of this source, when the pool is one Helix
   * made (from a URL or options, or by {@link createPool}); for any other pool, that pool itself
   * (Helix cannot open connections like the caller's). `close()` ends it with its last user.
   */
  lane(statementTimeoutMs: number | (() => number)): Lane;
}

/** A client of its own for statements that must not queue behind others (see `OpenedDatabase.lane`). */
export interface Lane {
  /** The lane's pool under Helix's error policy. */
  readonly client: ConnectionSource;
  /** Ends the lane's pool with its last user. */
  readonly close: () => Promise<void>;
}

/** A lane beside the pool `key` (see {@link openLane}), under Helix's error policy. */
function laneBeside(key: object, options: ResolvedConnectionOptions, server: string, guard: GuardOptions): Lane {
  const opened = openLane(key, options);
  return { client: guardClient(opened.pool, server, guard), close: opened.close };
}

/**
 * Uses a caller's pool, or creates one from a URL or options (checking the server), and puts
 * Helix's error policy around it ({@link guardClient}). Objects that are given a pool leave it
 * open; those that made their own close it.
 */
export async function openDatabase<C extends QueryClient>(source: DatabaseSource<C>, guard: GuardOptions = {}): Promise<OpenedDatabase> {
  if (typeof source === "object" && source !== null && typeof (source as C).query === "function") {
    const server = "the database";
    const madeWith = madeByHelix.get(source);
    const withTimeout = (statementTimeoutMs: number | (() => number)): ConnectionSource =>
      guardClient(source as C, server, { ...guard, statementTimeoutMs });
    const lane = (statementTimeoutMs: number | (() => number)): Lane =>
      madeWith === undefined
        ? { client: withTimeout(statementTimeoutMs), close: async () => undefined }
        : laneBeside(source, madeWith, server, { ...guard, statementTimeoutMs });
    return { client: guardClient(source as C, server, guard), server, close: async () => undefined, withTimeout, lane };
  }
  const options = resolveConnectionOptions(source as string | ConnectionOptions, "source");
  const pool = await createPool(options);
  const server = describeServer(options);
  const withTimeout = (statementTimeoutMs: number | (() => number)): ConnectionSource =>
    guardClient(pool, server, { ...guard, statementTimeoutMs });
  const lane = (statementTimeoutMs: number | (() => number)): Lane => laneBeside(pool, options, server, { ...guard, statementTimeoutMs });
  return { client: guardClient(pool, server, guard), server, close: () => pool.end(), withTimeout, lane };
}
