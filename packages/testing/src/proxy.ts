import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { Transform, type TransformCallback } from "node:stream";

import { createPool as createMysqlPool, type Pool } from "mysql2/promise";

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
    for (const pair of this.#pairs) TcpProxy.#halt(pair);
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
      TcpProxy.#halt(pair);
      this.#pairs.delete(pair);
      this.#hung.add(pair);
    }
    return hung.length;
  }

  /** Stops the flow on a connection both ways, keeping it open: nothing is sent, nothing is closed. */
  static #halt([client, upstream, gate]: Pair): void {
    client.unpipe(gate);
    upstream.unpipe(client);
    client.pause();
    upstream.pause();
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
