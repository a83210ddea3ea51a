import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { createInterface } from "node:readline";
import { Transform, type TransformCallback } from "node:stream";
import { runInThisContext } from "node:vm";

import { createConnection, createPool as createMysqlPool, type Pool } from "mysql2/promise";

/** The environment variable that names the MySQL server tests run against. */
export const TEST_SERVER_ENV = "HELIX_TEST_MYSQL_URL";

/**
 * The URL of the server tests run against: `HELIX_TEST_MYSQL_URL`, which jest's global setup sets
 * to a throwaway MySQL 8 container when it was not set to begin with.
 */
export function testServerUrl(): string {
  const url = process.env[TEST_SERVER_ENV];
  if (url === undefined || url === "") {
    throw new Error(
      `${TEST_SERVER_ENV} is not set and jest's global setup did not start a server. ` +
        `Set it to a MySQL 8 or MariaDB 10.11+ server, for example ${TEST_SERVER_ENV}=mysql://root@127.0.0.1:3306/, ` +
        "or run a Docker daemon so that testcontainers can start MySQL 8.",
    );
  }
  return url;
}

/** A database of its own for one test file, dropped by {@link TestDatabase.drop}. */
export interface TestDatabase extends AsyncDisposable {
  /** The database's name, unique per call. */
  readonly name: string;
  /** A URL of the server with this database selected. */
  readonly url: string;
  /** Drops the database. */
  drop(): Promise<void>;
}

/** Creates a fresh, empty database on the test server. */
export async function createTestDatabase(prefix = "helix_test"): Promise<TestDatabase> {
  const server = new URL(testServerUrl());
  const name = `${prefix}_${process.pid}_${randomBytes(4).toString("hex")}`;
  await withServer(server, (conn) => conn.query("CREATE DATABASE ?? CHARACTER SET utf8mb4", [name]));
  const url = new URL(server);
  url.pathname = `/${name}`;
  let dropped = false;
  const drop = async (): Promise<void> => {
    if (dropped) return;
    dropped = true;
    await withServer(server, (conn) => conn.query("DROP DATABASE IF EXISTS ??", [name]));
  };
  return { name, url: url.toString(), drop, [Symbol.asyncDispose]: drop };
}

/** Runs `fn` on a short-lived connection to the test server (no database selected). */
export async function withServer<T>(
  server: URL,
  fn: (conn: Awaited<ReturnType<typeof createConnection>>) => Promise<T>,
): Promise<T> {
  const conn = await createConnection({
    host: server.hostname,
    port: Number(server.port || 3306),
    user: decodeURIComponent(server.username),
    password: decodeURIComponent(server.password),
  });
  try {
    return await fn(conn);
  } finally {
    await conn.end();
  }
}

/** Resolves once `predicate` holds, checking every 10 ms; rejects after `timeoutMs`. */
export function until(predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const check = async (): Promise<void> => {
      if (await predicate()) return resolve();
      if (performance.now() > deadline) return reject(new Error(`condition not met within ${timeoutMs} ms`));
      setTimeout(() => void check(), 10);
    };
    void check();
  });
}

/** A fresh database with Helix's schema and a pool on it, for one test file. */
export interface MigratedDatabase<P> {
  readonly db: TestDatabase;
  readonly pool: P;
  /** Ends the pool and drops the database. */
  close(): Promise<void>;
}

/**
 * Creates a fresh database, connects with `connect` and applies the schema with `migrate` (pass
 * `createPool` and `migrate` from @helix/db, which this package cannot depend on).
 */
export async function migratedDatabase<P extends { end(): Promise<void> }>(
  connect: (url: string) => Promise<P>,
  migrate: (pool: P) => Promise<unknown>,
): Promise<MigratedDatabase<P>> {
  const db = await createTestDatabase();
  const pool = await connect(db.url);
  await migrate(pool);
  return {
    db,
    pool,
    async close() {
      await pool.end();
      await db.drop();
    },
  };
}

/** Path of a script to preload with `--require` that shifts Date by HELIX_FAKE_CLOCK_OFFSET_MS. */
export const FAKE_CLOCK = join(__dirname, "..", "fake-clock.cjs");

/** A child process whose stdout carries one JSON object per line. */
export class JsonChild {
  readonly events: Record<string, unknown>[] = [];
  readonly exited: Promise<number | null>;
  stderr = "";

  constructor(readonly process: import("node:child_process").ChildProcessWithoutNullStreams) {
    createInterface({ input: process.stdout }).on("line", (line) => this.events.push(JSON.parse(line) as Record<string, unknown>));
    process.stderr.on("data", (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => process.on("exit", resolve));
  }

  /** Starts `node [--require FAKE_CLOCK] script ...args`, with the clock offset when given. */
  static start(script: string, args: string[], options: { clockOffsetMs?: number; env?: NodeJS.ProcessEnv } = {}): JsonChild {
    const preload = options.clockOffsetMs === undefined ? [] : ["--require", FAKE_CLOCK];
    const env = { ...process.env, ...options.env, HELIX_FAKE_CLOCK_OFFSET_MS: String(options.clockOffsetMs ?? 0) };
    return new JsonChild(spawn(process.execPath, [...preload, script, ...args], { env }));
  }

  /** How many events named `name` (the `event` field) arrived. */
  count(name: string): number {
    return this.events.filter((e) => e.event === name).length;
  }

  /** The first event named `name`, waiting for it. */
  async event(name: string): Promise<Record<string, unknown>> {
    await until(() => this.count(name) > 0, 15_000).catch(() => {
      throw new Error(`no "${name}" event; stderr: ${this.stderr}`);
    });
    return this.events.find((e) => e.event === name)!;
  }

  /** Kills the process if it still runs (resuming it first, in case it is stopped). */
  kill(): void {
    if (this.process.exitCode === null && this.process.signalCode === null) {
      this.process.kill("SIGCONT");
      this.process.kill("SIGKILL");
    }
  }
}

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

/**
 * A TCP proxy in front of the test server, for faults that a real network has: `pause()` stops
 * forwarding in both directions (a partition: statements hang), `resume()` lets the data flow
 * again, `drop()` cuts every open connection, and `holdStatements(text)` keeps back the statements
 * whose SQL contains a text (a statement the server is slow to answer), whatever the engine.
 */
export class TcpProxy {
  readonly #server: Server;
  readonly #pairs = new Set<Pair>();
  /** Connections black-holed by hangOpenConnections: never resumed, destroyed by close(). */
  readonly #hung = new Set<Pair>();
  #givenUp = 0;
  #paused = false;
  /** Statements held by holdStatements: sent on when released. */
  readonly #held = new Set<() => void>();
  #holding: Buffer | undefined;
  /** Added before every chunk a client sends is passed on (see {@link TcpProxy.setLatency}). */
  #latencyMs = 0;
  /** The session id the greetings of new connections name (see {@link TcpProxy.renumberSessions}). */
  #sessionId: number | undefined;

  private constructor(server: Server) {
    this.#server = server;
  }

  /** Starts a proxy on a free local port in front of `target`'s host and port. */
  static async start(target: URL): Promise<TcpProxy> {
    const proxy: TcpProxy = new TcpProxy(
      createServer((client) => {
        const upstream = connect(Number(target.port || 3306), target.hostname);
        // Everything the client sends passes the gate, which holds statements while asked to.
        const gate = proxy.#gate();
        gate.pipe(upstream);
        const pair: Pair = [client, upstream, gate];
        proxy.#pairs.add(pair);
        const sessionId = proxy.#sessionId;
        if (sessionId === undefined) {
          if (!proxy.#paused) TcpProxy.#flow(pair);
        } else {
          // The server's greeting comes first, in one packet: it goes on with the id replaced.
          upstream.once("data", (greeting: Buffer) => {
            client.write(TcpProxy.#renumbered(greeting, sessionId));
            if (!proxy.#paused) TcpProxy.#flow(pair);
          });
        }
        const end = (): void => {
          if (proxy.#hung.delete(pair)) proxy.#givenUp++;
          proxy.#pairs.delete(pair);
          client.destroy();
          upstream.destroy();
          gate.destroy();
        };
        client.on("error", end).on("close", end);
        upstream.on("error", end).on("close", end);
      }),
    );
    await new Promise<void>((resolve) => proxy.#server.listen(0, "127.0.0.1", resolve));
    return proxy;
  }

  /**
   * Holds every statement whose SQL contains `text`, on connections open now and later: the
   * statement is not sent and its connection sends nothing more, until {@link releaseStatements}.
   * The statement text travels as it is (no TLS on the test server), so this works on any engine.
   */
  holdStatements(text: string): void {
    this.#holding = Buffer.from(text);
  }

  /** How many statements are held now. */
  heldStatements(): number {
    return this.#held.size;
  }

  /** Stops holding and sends the held statements on. */
  releaseStatements(): void {
    this.#holding = undefined;
    for (const send of this.#held) send();
    this.#held.clear();
  }

  /**
   * Delays every chunk a client sends by `ms` before it goes on to the server (0: none), on
   * connections open now and later, keeping their order: a slow database or network, which still
   * answers every statement.
   */
  setLatency(ms: number): void {
    this.#latencyMs = ms;
  }

  /**
   * A pass-through from a client to the server that keeps back a chunk holding the held text, and
   * delays every chunk by the latency set.
   */
  #gate(): Transform {
    const held = this.#held;
    const holding = (): Buffer | undefined => this.#holding;
    const latency = (): number => this.#latencyMs;
    return new Transform({
      transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
        const text = holding();
        if (text === undefined || !chunk.includes(text)) {
          const delayMs = latency();
          if (delayMs <= 0) return done(null, chunk);
          setTimeout(() => done(null, chunk), delayMs);
          return;
        }
        // Not calling `done` stops the flow on this connection until the chunk is sent on.
        held.add(() => done(null, chunk));
      },
    });
  }

  /**
   * Names `id` as the session's id in the server's greeting on connections made from now on
   * (undefined: the server's own id), as a proxy that numbers the sessions it serves itself does
   * (ProxySQL): the client's idea of its session id is then not the server's.
   */
  renumberSessions(id: number | undefined): void {
    this.#sessionId = id;
  }

  /**
   * A greeting (protocol 10: a 4-byte packet header, the protocol version, the server's version
   * ending in a zero byte, then the session id in 4 bytes, little-endian) naming `id` instead.
   */
  static #renumbered(greeting: Buffer, id: number): Buffer {
    const copy = Buffer.from(greeting);
    copy.writeUInt32LE(id, copy.indexOf(0, 5) + 1);
    return copy;
  }

  /** The port the proxy listens on. */
  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** `url` with its host and port replaced by the proxy's. */
  url(url: string): string {
    const through = new URL(url);
    through.hostname = "127.0.0.1";
    through.port = String(this.port);
    return through.toString();
  }

  pause(): void {
    this.#paused = true;
    for (const [client, upstream, gate] of this.#pairs) {
      client.unpipe(gate);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
  }

  resume(): void {
    this.#paused = false;
    for (const pair of this.#pairs) TcpProxy.#flow(pair);
  }

  /** How many black-holed connections were closed since (by their client giving up on them). */
  givenUp(): number {
    return this.#givenUp;
  }

  /**
   * Black-holes the connections open now, as a dead network path or a stuck middlebox does: they
   * stay open, nothing flows on them again, and no error comes; connections made later work.
   * @returns how many connections were hung.
   */
  hangOpenConnections(): number {
    const hung = [...this.#pairs];
    for (const pair of hung) {
      const [client, upstream, gate] = pair;
      client.unpipe(gate);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
      this.#pairs.delete(pair);
      this.#hung.add(pair);
    }
    return hung.length;
  }

  static #flow([client, upstream, gate]: Pair): void {
    client.pipe(gate);
    upstream.pipe(client);
  }

  drop(): void {
    for (const pair of this.#pairs) for (const s of pair) s.destroy();
    this.#pairs.clear();
  }

  async close(): Promise<void> {
    this.releaseStatements();
    this.drop();
    for (const pair of this.#hung) for (const s of pair) s.destroy();
    this.#hung.clear();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** A proxied connection: the client's socket, the server's, and the gate between them. */
type Pair = [client: Socket, upstream: Socket, gate: Transform];

/**
 * Values a parameter of Helix's public API must refuse, by the kind of value it takes: each gets an
 * error with code `HELIX_INVALID_ARGUMENT` naming the parameter, before anything is sent. `null`
 * is refused for optional parameters too (only `undefined` means "the default"). Unicode is not
 * hostile: a text parameter takes {@link UNICODE_TEXT}.
 */
export const HOSTILE_VALUES = {
  /** For a whole number: a count, a number of milliseconds, a partition, an epoch. */
  integer: [Number.NaN, -1, 2 ** 53, Number.POSITIVE_INFINITY, 1.5, "1", "", null, {}],
  /** For text: a key, a name, an id. */
  text: ["", "x".repeat(10_000), " padded", "new\nline", 42, null, {}, ["a"]],
  /** For an options object. */
  options: [null, 42, "x", []],
} as const;

/** A hostile value as a test's title shows it: a long string by its length. */
export function hostileLabel(value: unknown): string {
  if (typeof value === "string" && value.length > 40) return `a string of ${value.length} characters`;
  if (typeof value === "number" || value === undefined) return String(value);
  return JSON.stringify(value);
}

/** Text in three scripts and an emoji, which every text parameter takes. */
export const UNICODE_TEXT = "ключ-鍵-🔑";

/**
 * What `call` was refused with, if it was refused at once: thrown, or rejected before the event
 * loop's next turn, so before any answer from a database could have come. Fails otherwise.
 */
export async function refusalOf(call: () => unknown): Promise<unknown> {
  let outcome: { error: unknown } | { value: unknown } | undefined;
  try {
    Promise.resolve(call()).then(
      (value: unknown) => (outcome = { value }),
      (error: unknown) => (outcome = { error }),
    );
  } catch (error) {
    return error;
  }
  await new Promise((resolve) => setImmediate(resolve));
  if (outcome === undefined) throw new Error("the call was not refused at once: it is still running");
  if (!("error" in outcome)) throw new Error(`the call was not refused: it returned ${String(outcome.value)}`);
  return outcome.error;
}

/** One parameter of a sweep: what is called, the parameter its refusal names, hostile values, the call. */
export type HostileParameter = readonly [name: string, argument: string, values: readonly unknown[], call: (value: unknown) => unknown];

/** A sweep's parameters as one case per hostile value: [name, argument, label, value, call]. */
export function hostileCases(parameters: readonly HostileParameter[]): [string, string, string, unknown, (value: unknown) => unknown][] {
  return parameters.flatMap(([name, argument, values, call]) => values.map((value) => [name, argument, hostileLabel(value), value, call] as [string, string, string, unknown, (value: unknown) => unknown]));
}

/**
 * Checks that `call` is refused at once (see {@link refusalOf}) with code `HELIX_INVALID_ARGUMENT`
 * naming `argument`, in a message short enough never to carry a long value back whole, and that
 * `sent()` (statements sent so far) did not move. Throws what it found otherwise.
 */
export async function expectRefusal(call: () => unknown, argument: string, sent: () => number = () => 0): Promise<void> {
  const before = sent();
  const error = (await refusalOf(call)) as { code?: unknown; argument?: unknown; message?: unknown } | null;
  if (error?.code !== "HELIX_INVALID_ARGUMENT" || error.argument !== argument) {
    throw new Error(`expected HELIX_INVALID_ARGUMENT naming ${argument}, got ${String(error?.code)} naming ${String(error?.argument)}: ${String(error?.message)}`);
  }
  if (typeof error.message !== "string" || error.message.length >= 300) throw new Error(`the message is ${String(error.message).length} characters long`);
  if (sent() !== before) throw new Error(`${sent() - before} statement(s) were sent before the refusal`);
}

/**
 * What escapes a test's code to the process: unhandled rejections, uncaught exceptions and
 * warnings. jest gives a test file a copy of `process` that never emits these, so the trap listens
 * on the real one. `start()` in beforeAll, `stop()` in afterAll.
 */
export class ProcessTrap {
  /** Unhandled rejections and uncaught exceptions seen. */
  readonly escaped: unknown[] = [];
  /** Warnings emitted, such as a listener's exception reported by Helix. */
  readonly warnings: Error[] = [];
  readonly #process = runInThisContext("process") as NodeJS.Process;
  readonly #escape = (reason: unknown): void => void this.escaped.push(reason);
  readonly #warn = (warning: Error): void => void this.warnings.push(warning);

  start(): void {
    this.#process.on("unhandledRejection", this.#escape).on("uncaughtException", this.#escape).on("warning", this.#warn);
  }

  stop(): void {
    this.#process.off("unhandledRejection", this.#escape).off("uncaughtException", this.#escape).off("warning", this.#warn);
  }

  /** Warnings with this code (`HELIX_LISTENER_THREW` for a listener's exception). */
  warningsWithCode(code: string): Error[] {
    return this.warnings.filter((w) => (w as { code?: string }).code === code);
  }
}

/** A pool that reaches a test database through a {@link TcpProxy}: for tests of hung connections. */
export interface ProxiedPool {
  readonly proxy: TcpProxy;
  /** A plain mysql2 pool whose connections go through the proxy. */
  readonly pool: Pool;
  /** Closes the proxy first (ending hung sockets, which the pool would wait for), then the pool. */
  close(): Promise<void>;
}

/** Starts a proxy in front of the database at `url` and a pool through it. */
export async function proxiedPool(url: string, connectionLimit = 4): Promise<ProxiedPool> {
  const proxy = await TcpProxy.start(new URL(url));
  const pool = createMysqlPool({ uri: proxy.url(url), connectionLimit });
  return {
    proxy,
    pool,
    async close() {
      await proxy.close();
      // Connections the proxy ended are reported as lost; the pool is closed all the same.
      await pool.end().catch(() => undefined);
    },
  };
}

/** A small seeded generator of numbers in [0, 1) (mulberry32): the same seed gives the same sequence. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
