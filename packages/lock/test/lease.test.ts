// A lease on its own, over a scripted client: when it stops being held (its local deadline, a
// refused renewal, a release), what it sends, and what it tells its holder. On fake timers, so that
// every deadline is exact; the database's side is covered by the locker tests and the SQL's tests.
import { Database } from "../src/database";
import { FencedOutError, LeaseLostError } from "../src/errors";
import { fence, Lease } from "../src/lease";

/** A reply of the scripted client: a result header's affected rows, a row (array), no row, or an error. */
type Reply = { affectedRows: number } | unknown[] | typeof NO_ROW | Error;
const NO_ROW = "no row";

/** A client that records statements by their sqlc name and answers each as the test scripted. */
class ScriptedClient {
  readonly sent: { name: string; values: unknown[] }[] = [];
  /** The next replies per statement name, each used once; then `defaults`. */
  readonly replies = new Map<string, (Reply | Promise<Reply>)[]>();
  readonly defaults = new Map<string, Reply>([
    ["RenewLock", { affectedRows: 1 }],
    ["ReleaseLock", { affectedRows: 1 }],
    ["ServerVersion", ["10.11.6-MariaDB"]],
    ["CheckLockEpochForShare", [7]],
    ["CheckLockEpochForUpdate", [7]],
  ]);

  async query(options: { sql: string; values: unknown[] }): Promise<[unknown, unknown]> {
    const name = /-- name: (\w+)/.exec(options.sql)?.[1] ?? "other";
    this.sent.push({ name, values: options.values });
    const reply = await (this.replies.get(name)?.shift() ?? this.defaults.get(name));
    if (reply instanceof Error) throw reply;
    if (reply === NO_ROW) return [[], []];
    return [Array.isArray(reply) ? [reply] : reply, []];
  }

  names(): string[] {
    return this.sent.map((s) => s.name);
  }

  /** A reply the test gives later. */
  later(name: string): (reply: Reply) => void {
    let give!: (reply: Reply) => void;
    const queue = this.replies.get(name) ?? [];
    queue.push(new Promise<Reply>((resolve) => (give = resolve)));
    this.replies.set(name, queue);
    return give;
  }
}

const connectionLost = (): Error => Object.assign(new Error("Connection lost"), { code: "PROTOCOL_CONNECTION_LOST", fatal: true });

const TTL = 3000;
const MARGIN = 300;
/** The database clock at performance.now() = 0. */
const SERVER_EPOCH = 1_700_000_000_000;

let client: ScriptedClient;
let ended: Lease[];
let start: number;

beforeEach(() => {
  jest.useFakeTimers();
  client = new ScriptedClient();
  ended = [];
  start = performance.now();
});

afterEach(() => {
  jest.useRealTimers();
});

/** A lease granted by a request sent `sentAgoMs` ago. */
function lease(sentAgoMs = 0): Lease {
  return new Lease(new Database(client, SERVER_EPOCH), {
    key: "k",
    owner: "me",
    token: "tok",
    epoch: 7,
    ttlMs: TTL,
    marginMs: MARGIN,
    sentAt: performance.now() - sentAgoMs,
    onEnd: (l) => ended.push(l),
  });
}

/** The lease's events, in order. */
function events(l: Lease): unknown[][] {
  const seen: unknown[][] = [];
  for (const name of ["lease:renewed", "lease:renew-failed", "lease:lost", "lease:released", "lease:release-failed"] as const) {
    l.on(name, (...args: unknown[]) => void seen.push([name, ...args]));
  }
  return seen;
}

describe("the local deadline", () => {
  test("is the grant's send time + TTL - margin: held until just before, lost at it", () => {
    const l = lease(100);
    const seen = events(l);
    expect(l.remainingMs()).toBe(TTL - MARGIN - 100);
    expect(l.expiresAt.getTime()).toBe(SERVER_EPOCH + start - 100 + TTL);
    jest.advanceTimersByTime(TTL - MARGIN - 101);
    expect(l.isHeld()).toBe(true);
    expect(l.state).toBe("held");
    expect(l.remainingMs()).toBe(1);
    expect(l.signal.aborted).toBe(false);
    jest.advanceTimersByTime(1);
    expect(l.state).toBe("lost");
    expect(l.remainingMs()).toBe(0);
    expect(seen).toHaveLength(1);
    const error = seen[0]![1] as LeaseLostError;
    expect(error).toBeInstanceOf(LeaseLostError);
    expect(error).toMatchObject({ key: "k", epoch: 7, reason: "expired" });
    expect(l.signal.reason).toBe(error);
    expect(() => l.throwIfNotHeld()).toThrow(error);
    expect(ended).toEqual([l]);
  });

  test("a lease granted by a request sent a whole deadline ago is not held at all", () => {
    const l = lease(TTL - MARGIN);
    expect(l.isHeld()).toBe(false);
    expect(l.signal.aborted).toBe(true);
    expect(l.signal.reason).toMatchObject({ reason: "expired" });
  });

  test("remainingMs is whole milliseconds", () => {
    const l = lease(0.5);
    expect(l.remainingMs()).toBe(TTL - MARGIN - 1);
  });

  test("the signal aborts by the deadline on its own, with nobody asking", () => {
    const l = lease();
    const signal = l.signal;
    jest.advanceTimersByTime(TTL - MARGIN);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toMatchObject({ reason: "expired" });
    expect(ended).toEqual([l]);
  });

  test("throwIfNotHeld is quiet while the lease is held", () => {
    expect(() => lease().throwIfNotHeld()).not.toThrow();
  });
});

describe("renewal", () => {
  test("moves the deadline to the renewal's send time + TTL - margin, whenever the answer comes", async () => {
    const l = lease();
    const seen = events(l);
    await jest.advanceTimersByTimeAsync(1000);
    const answer = client.later("RenewLock");
    const renewed = l.renew();
    await jest.advanceTimersByTimeAsync(400);
    answer({ affectedRows: 1 });
    await renewed;
    expect(client.sent).toEqual([{ name: "RenewLock", values: [TTL * 1000, "k", "tok"] }]);
    expect(l.remainingMs()).toBe(TTL - MARGIN - 400);
    expect(seen).toEqual([["lease:renewed", { key: "k", epoch: 7, remainingMs: TTL - MARGIN - 400 }]]);
    await jest.advanceTimersByTimeAsync(TTL - MARGIN - 401);
    expect(l.isHeld()).toBe(true);
    await jest.advanceTimersByTimeAsync(1);
    expect(l.isHeld()).toBe(false);
  });

  test("concurrent calls share one request; a later call sends its own", async () => {
    const l = lease();
    await Promise.all([l.renew(), l.renew(), l.renew()]);
    expect(client.names()).toEqual(["RenewLock"]);
    await l.renew();
    expect(client.names()).toEqual(["RenewLock", "RenewLock"]);
  });

  test("refused by the database, the lease is lost with that reason", async () => {
    const l = lease();
    const seen = events(l);
    client.replies.set("RenewLock", [{ affectedRows: 0 }]);
    const error = await l.renew().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LeaseLostError);
    expect(error).toMatchObject({ reason: "renewal-rejected" });
    expect(l.state).toBe("lost");
    expect(seen).toEqual([["lease:lost", error]]);
    expect(ended).toEqual([l]);
  });

  test("a refusal that arrives after the deadline leaves the expiry as the reason, announced once", async () => {
    const l = lease();
    const seen = events(l);
    const answer = client.later("RenewLock");
    const renewed = l.renew().catch((e: unknown) => e);
    await jest.advanceTimersByTimeAsync(TTL);
    answer({ affectedRows: 0 });
    expect(await renewed).toMatchObject({ reason: "expired" });
    expect(seen.map(([name]) => name)).toEqual(["lease:lost"]);
    expect(ended).toEqual([l]);
  });

  test("an acceptance that arrives after the deadline is given back at once, and the lease stays lost", async () => {
    const l = lease();
    const seen = events(l);
    const answer = client.later("RenewLock");
    const renewed = l.renew().catch((e: unknown) => e);
    await jest.advanceTimersByTimeAsync(TTL);
    answer({ affectedRows: 1 });
    expect(await renewed).toMatchObject({ reason: "expired" });
    await jest.advanceTimersByTimeAsync(0);
    expect(client.names()).toEqual(["RenewLock", "ReleaseLock"]);
    expect(l.state).toBe("lost");
    expect(seen.map(([name]) => name)).toEqual(["lease:lost"]);
  });

  test("of a lease no longer held sends nothing and throws why it ended", async () => {
    const l = lease();
    jest.advanceTimersByTime(TTL);
    await expect(l.renew()).rejects.toMatchObject({ reason: "expired" });
    expect(client.sent).toEqual([]);
  });

  test("that cannot reach the database leaves the lease held until its deadline", async () => {
    const l = lease();
    client.replies.set("RenewLock", [connectionLost()]);
    await expect(l.renew()).rejects.toThrow("Connection lost");
    expect(l.isHeld()).toBe(true);
    expect(l.remainingMs()).toBe(TTL - MARGIN);
  });
});

describe("auto-renew", () => {
  test("renews every third of the TTL, each moving the deadline", async () => {
    const l = lease();
    l.startAutoRenew();
    l.startAutoRenew();
    await jest.advanceTimersByTimeAsync(TTL / 3 - 1);
    expect(client.names()).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(client.names()).toEqual(["RenewLock"]);
    await jest.advanceTimersByTimeAsync(TTL / 3);
    expect(client.names()).toEqual(["RenewLock", "RenewLock"]);
    await jest.advanceTimersByTimeAsync(10 * TTL);
    expect(l.isHeld()).toBe(true);
    expect(client.sent).toHaveLength(32);
    await l.release();
  });

  test("after a failure it tries again sooner (a tenth of the TTL, at most a second) and reports the failure", async () => {
    const l = lease();
    const seen = events(l);
    client.replies.set("RenewLock", [connectionLost(), connectionLost()]);
    l.startAutoRenew();
    await jest.advanceTimersByTimeAsync(TTL / 3);
    expect(seen.map(([name]) => name)).toEqual(["lease:renew-failed"]);
    await jest.advanceTimersByTimeAsync(TTL / 10 - 1);
    expect(client.sent).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(client.sent).toHaveLength(2);
    await jest.advanceTimersByTimeAsync(TTL / 10);
    expect(client.sent).toHaveLength(3);
    expect(seen.map(([name]) => name)).toEqual(["lease:renew-failed", "lease:renew-failed", "lease:renewed"]);
    await l.release();
  });

  test("a long TTL retries after a second, not a tenth of it", async () => {
    const l = new Lease(new Database(client, SERVER_EPOCH), {
      key: "k",
      owner: "me",
      token: "tok",
      epoch: 7,
      ttlMs: 60_000,
      marginMs: 600,
      sentAt: performance.now(),
      onEnd: () => undefined,
    });
    client.replies.set("RenewLock", [connectionLost()]);
    l.startAutoRenew();
    await jest.advanceTimersByTimeAsync(20_000);
    expect(client.sent).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(999);
    expect(client.sent).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(client.sent).toHaveLength(2);
    await l.release();
  });

  test("stops once the lease is lost, failed renewal or not", async () => {
    const l = lease();
    const seen = events(l);
    client.defaults.set("RenewLock", connectionLost());
    l.startAutoRenew();
    await jest.advanceTimersByTimeAsync(TTL);
    const sent = client.sent.length;
    expect(l.state).toBe("lost");
    await jest.advanceTimersByTimeAsync(10 * TTL);
    expect(client.sent).toHaveLength(sent);
    expect(seen.filter(([name]) => name === "lease:lost")).toHaveLength(1);
    expect(seen.at(-1)![0]).toBe("lease:lost");
  });

  test("a refused renewal ends it", async () => {
    const l = lease();
    client.replies.set("RenewLock", [{ affectedRows: 0 }]);
    l.startAutoRenew();
    await jest.advanceTimersByTimeAsync(TTL / 3);
    expect(l.state).toBe("lost");
    await jest.advanceTimersByTimeAsync(10 * TTL);
    expect(client.names()).toEqual(["RenewLock"]);
  });

  test("is not started for a lease no longer held", async () => {
    const l = lease();
    await l.release();
    l.startAutoRenew();
    await jest.advanceTimersByTimeAsync(10 * TTL);
    expect(client.names()).toEqual(["ReleaseLock"]);
  });

  test("a renewal answered after a release arms nothing", async () => {
    const l = lease();
    l.startAutoRenew();
    const answer = client.later("RenewLock");
    await jest.advanceTimersByTimeAsync(TTL / 3);
    const released = l.release();
    answer({ affectedRows: 1 });
    await released;
    await jest.advanceTimersByTimeAsync(10 * TTL);
    expect(client.names()).toEqual(["RenewLock", "ReleaseLock"]);
  });
});

describe("release", () => {
  test("ends the lease at once, sends one statement, and reports whether the database still had it", async () => {
    const l = lease();
    const seen = events(l);
    const signal = l.signal;
    const released = l.release();
    expect(l.state).toBe("released");
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toMatchObject({ reason: "released" });
    expect(ended).toEqual([l]);
    expect(await released).toBe(true);
    expect(client.sent).toEqual([{ name: "ReleaseLock", values: ["k", "tok"] }]);
    expect(seen).toEqual([["lease:released"]]);
    expect(await l.release()).toBe(false);
    expect(client.names()).toEqual(["ReleaseLock"]);
    expect(seen).toHaveLength(1);
  });

  test("false when the database no longer had it", async () => {
    client.replies.set("ReleaseLock", [{ affectedRows: 0 }]);
    expect(await lease().release()).toBe(false);
  });

  test("of a lease lost by its deadline still frees the key, and says it was not held", async () => {
    const l = lease();
    const seen = events(l);
    jest.advanceTimersByTime(TTL);
    expect(await l.release()).toBe(false);
    expect(client.names()).toEqual(["ReleaseLock"]);
    expect(seen.map(([name]) => name)).toEqual(["lease:lost"]);
    expect(l.state).toBe("lost");
    expect(ended).toEqual([l]);
  });

  test("resolves only once a renewal in flight has been answered, even when the release fails", async () => {
    for (const releaseReply of [{ affectedRows: 1 }, connectionLost()]) {
      client = new ScriptedClient();
      const l = lease();
      const answer = client.later("RenewLock");
      const renewed = l.renew().catch((e: unknown) => e);
      client.replies.set("ReleaseLock", [releaseReply]);
      let done = false;
      const released = l.release().then(
        () => (done = true),
        () => (done = true),
      );
      await jest.advanceTimersByTimeAsync(100);
      expect(done).toBe(false);
      answer({ affectedRows: 0 });
      await released;
      expect(done).toBe(true);
      expect(await renewed).toBeInstanceOf(LeaseLostError);
    }
  });

  test("that fails is thrown by release() and reported by dispose", async () => {
    client.replies.set("ReleaseLock", [connectionLost(), connectionLost()]);
    await expect(lease().release()).rejects.toThrow("Connection lost");
    const l = lease();
    const seen = events(l);
    await l[Symbol.asyncDispose]();
    expect(seen.map(([name]) => name)).toEqual(["lease:release-failed"]);
    expect((seen[0]![1] as Error).message).toBe("Connection lost");
    expect(l.state).toBe("released");
  });

  test("dispose releases", async () => {
    const l = lease();
    await l[Symbol.asyncDispose]();
    expect(client.names()).toEqual(["ReleaseLock"]);
    expect(l.state).toBe("released");
  });

  test("a signal first read after the end is aborted already, with the end's reason", async () => {
    const l = lease();
    await l.release();
    expect(l.signal.aborted).toBe(true);
    expect(l.signal.reason).toMatchObject({ reason: "released", key: "k", epoch: 7 });
    expect(() => l.throwIfNotHeld()).toThrow(LeaseLostError);
  });
});

describe("fencing", () => {
  const conn = (): ScriptedClient => new ScriptedClient();

  test("lease.fence checks the lease's epoch on the caller's connection, locking as the engine of the lease's pool needs", async () => {
    const l = lease();
    const c = conn();
    await l.fence(c);
    expect(client.names()).toEqual(["ServerVersion"]);
    expect(c.sent).toEqual([{ name: "CheckLockEpochForShare", values: ["k", 7] }]);
    const tidb = new ScriptedClient();
    tidb.defaults.set("ServerVersion", ["8.0.11-TiDB-v8.5.0"]);
    client = tidb;
    const c2 = conn();
    await lease().fence(c2);
    expect(c2.names()).toEqual(["CheckLockEpochForUpdate"]);
  });

  test("lease.fence of a lease no longer held sends nothing on the connection", async () => {
    const l = lease();
    jest.advanceTimersByTime(TTL);
    const c = conn();
    await expect(l.fence(c)).rejects.toBeInstanceOf(LeaseLostError);
    expect(c.sent).toEqual([]);
  });

  test("lease.fence refuses what is not a client", async () => {
    await expect(lease().fence({} as never)).rejects.toMatchObject({ code: "HELIX_INVALID_ARGUMENT", argument: "connection" });
  });

  test("no row: FencedOutError naming key and epoch; a lost connection: DatabaseUnavailableError; others as they are", async () => {
    const l = lease();
    const c = conn();
    c.replies.set("CheckLockEpochForShare", [NO_ROW, connectionLost(), Object.assign(new Error("syntax"), { errno: 1064 })]);
    const fenced = await l.fence(c).catch((e: unknown) => e);
    expect(fenced).toBeInstanceOf(FencedOutError);
    expect(fenced).toMatchObject({ key: "k", epoch: 7 });
    await expect(l.fence(c)).rejects.toMatchObject({ code: "HELIX_DATABASE_UNAVAILABLE", server: "the database" });
    await expect(l.fence(c)).rejects.toMatchObject({ message: "syntax", errno: 1064 });
  });

  test("fence(connection, key, epoch) checks its arguments first, then the epoch on the connection's engine", async () => {
    const c = conn();
    await fence(c, "k", 7);
    expect(c.sent).toEqual([
      { name: "ServerVersion", values: [] },
      { name: "CheckLockEpochForShare", values: ["k", 7] },
    ]);
    const t = conn();
    t.defaults.set("ServerVersion", ["8.0.11-TiDB-v8.5.0"]);
    await fence(t, "k", 0);
    expect(t.names()).toEqual(["ServerVersion", "CheckLockEpochForUpdate"]);
    const refused = conn();
    await expect(fence(refused, "k", -1)).rejects.toMatchObject({ argument: "epoch" });
    await expect(fence(refused, "k", Number.MAX_SAFE_INTEGER + 2)).rejects.toMatchObject({ argument: "epoch" });
    await expect(fence(refused, "", 1)).rejects.toMatchObject({ argument: "key" });
    await expect(fence(null as never, "k", 1)).rejects.toMatchObject({ argument: "connection" });
    expect(refused.sent).toEqual([]);
    await fence(refused, "k", Number.MAX_SAFE_INTEGER);
    refused.replies.set("CheckLockEpochForShare", [NO_ROW]);
    await expect(fence(refused, "k", 3)).rejects.toMatchObject({ key: "k", epoch: 3 });
  });
});

describe("one signal, one renewal timer", () => {
  test("the signal read while held is the one that aborts", () => {
    const l = lease();
    const signal = l.signal;
    expect(l.signal).toBe(signal);
    jest.advanceTimersByTime(TTL);
    expect(l.signal).toBe(signal);
    expect(signal.aborted).toBe(true);
  });

  test("starting auto-renew again does not push the next renewal back", async () => {
    const l = lease();
    l.startAutoRenew();
    await jest.advanceTimersByTimeAsync(500);
    l.startAutoRenew();
    await jest.advanceTimersByTimeAsync(TTL / 3 - 500);
    expect(client.names()).toEqual(["RenewLock"]);
    await l.release();
  });

  test("a lease released by a listener of its renewal arms no further renewal", async () => {
    const l = lease();
    l.on("lease:renewed", () => void l.release());
    l.startAutoRenew();
    await jest.advanceTimersByTimeAsync(TTL / 3);
    await jest.advanceTimersByTimeAsync(0);
    expect(l.state).toBe("released");
    expect(jest.getTimerCount()).toBe(0);
  });

  test("a renewal refused by the database is not tried again, nor reported as a failure", async () => {
    const l = lease();
    const seen = events(l);
    client.replies.set("RenewLock", [{ affectedRows: 0 }]);
    l.startAutoRenew();
    await jest.advanceTimersByTimeAsync(TTL / 3);
    expect(seen.map(([name]) => name)).toEqual(["lease:lost"]);
    expect(jest.getTimerCount()).toBe(0);
  });
});
