import { randomBytes } from "node:crypto";
import { join } from "node:path";

import { JsonChild } from "@helix/testing";

import type { RowDataPacket } from "mysql2/promise";

import { createLocker, type Locker } from "../src";
import { findViolations, type Grant } from "./grants";
import { migratedDatabase, until, type Fixture } from "./helpers";

const fixtures = join(__dirname, "fixtures");

/** Starts a fixture script; children still running after a test are killed. */
function startChild(script: string, args: string[], clockOffsetMs?: number): JsonChild {
  const child = JsonChild.start(join(fixtures, script), args, { clockOffsetMs });
  started.push(child);
  return child;
}

let fx: Fixture;
let locker: Locker;
const started: JsonChild[] = [];

// A failed assertion must not leave a child behind (paused or waiting on stdin).
afterEach(() => {
  for (const child of started.splice(0)) child.kill();
});

beforeAll(async () => {
  fx = await migratedDatabase();
  locker = await createLocker(fx.pool, { owner: "test" });
});

afterAll(async () => {
  await locker.close();
  await fx.close();
});

test("the overlap check finds overlapping and out-of-order grants", () => {
  const at = (ms: number): Date => new Date(1_700_000_000_000 + ms);
  expect(
    findViolations([
      { epoch: 1, owner: "a", startedAt: at(0), endedAt: at(10) },
      { epoch: 2, owner: "b", startedAt: at(10), endedAt: at(20) },
    ]),
  ).toEqual([]);
  expect(
    findViolations([
      { epoch: 1, owner: "a", startedAt: at(0), endedAt: at(10) },
      { epoch: 2, owner: "b", startedAt: at(5), endedAt: at(20) },
    ]),
  ).toHaveLength(1);
  expect(
    findViolations([
      { epoch: 2, owner: "a", startedAt: at(0), endedAt: at(10) },
      { epoch: 1, owner: "b", startedAt: at(11), endedAt: at(20) },
    ]),
  ).toHaveLength(1);
});

test("8 processes, some with clocks minutes off, never hold one key at once", async () => {
  await fx.pool.query(
    "CREATE TABLE grants (epoch BIGINT PRIMARY KEY, owner VARCHAR(64) NOT NULL, started_at DATETIME(6) NOT NULL, ended_at DATETIME(6) NULL)",
  );
  const offsets = [0, 0, 0, 0, 7 * 60_000, -7 * 60_000, 3 * 60_000, -3 * 60_000];
  const children = offsets.map((offset, i) => startChild("contender.cjs", [fx.db.url, "contended", "6000", `c${i}`], offset));
  const codes = await Promise.all(children.map((c) => c.exited));
  expect(children.map((c) => c.stderr).join("")).toBe("");
  expect(codes).toEqual(offsets.map(() => 0));

  const [rows] = await fx.pool.query<RowDataPacket[]>("SELECT epoch, owner, started_at, ended_at FROM grants");
  const grants: Grant[] = rows.map((r) => ({
    epoch: Number(r.epoch),
    owner: String(r.owner),
    startedAt: r.started_at as Date,
    endedAt: r.ended_at as Date,
  }));
  const reported = children.flatMap((c) => c.events as { epoch: number; heldThroughout: boolean }[]);
  expect(reported.every((r) => r.heldThroughout)).toBe(true);
  expect(grants.every((g) => g.endedAt instanceof Date)).toBe(true);
  expect(grants.length).toBe(reported.length);
  expect(grants.length).toBeGreaterThan(100);
  // Every process, whatever its clock, got the key.
  expect(new Set(grants.map((g) => g.owner)).size).toBe(offsets.length);
  expect(findViolations(grants)).toEqual([]);
  // Epochs 1..n with no gaps: every change of owner is one grant.
  expect(grants.map((g) => g.epoch).sort((x, y) => x - y)).toEqual(grants.map((_, i) => i + 1));
}, 60_000);

async function pausedHolderRun(mode: "fenced" | "unfenced"): Promise<{ balance: number; holder: JsonChild }> {
  const key = `paused-${mode}`;
  await fx.pool.query("CREATE TABLE IF NOT EXISTS account (id INT PRIMARY KEY, balance INT NOT NULL)");
  await fx.pool.query("REPLACE INTO account VALUES (1, 100)");
  const holder = startChild("paused-holder.cjs", [fx.db.url, key, mode]);
  const acquired = await holder.event("acquired");
  holder.process.kill("SIGSTOP");
  try {
    // Past the holder's TTL, by the database clock, a new owner gets the key and adds 50.
    const lease = await locker.acquire(key, { waitMs: 10_000, ttlMs: 10_000 });
    expect(lease.epoch).toBe(Number(acquired.epoch) + 1);
    const conn = await fx.pool.getConnection();
    await conn.beginTransaction();
    await lease.fence(conn);
    await conn.query("UPDATE account SET balance = balance + 50 WHERE id = 1");
    await conn.commit();
    conn.release();
    await lease.release();
  } finally {
    holder.process.kill("SIGCONT");
  }
  expect(await holder.exited).toBe(0);
  const [rows] = await fx.pool.query<RowDataPacket[]>("SELECT balance FROM account WHERE id = 1");
  return { balance: Number(rows[0]!.balance), holder };
}

test("a holder paused past its TTL: on resume its signal has fired and its fenced write is refused", async () => {
  const { balance, holder } = await pausedHolderRun("fenced");
  expect(await holder.event("resumed")).toMatchObject({ aborted: true, reason: "expired" });
  expect(await holder.event("refused")).toMatchObject({ code: "HELIX_FENCED_OUT" });
  expect(balance).toBe(150);
}, 30_000);

test("control: the same pause without fencing loses the new owner's update", async () => {
  const { balance, holder } = await pausedHolderRun("unfenced");
  expect(await holder.event("wrote")).toBeDefined();
  expect(balance).toBe(110); // 100 + 10 written over 150: the +50 is lost
}, 30_000);

describe("a holder whose connections are killed", () => {
  const user = `helix_kill_${randomBytes(3).toString("hex")}`;
  const password = randomBytes(8).toString("hex");
  let url: string;

  beforeAll(async () => {
    await fx.pool.query("CREATE USER ?@'%' IDENTIFIED BY ?", [user, password]);
    await fx.pool.query("GRANT ALL ON ??.* TO ?@'%'", [fx.db.name, user]);
    const u = new URL(fx.db.url);
    u.username = user;
    u.password = password;
    url = u.toString();
  });

  afterAll(async () => {
    await fx.pool.query("DROP USER IF EXISTS ?@'%'", [user]);
  });

  async function killConnections(): Promise<number> {
    const [rows] = await fx.pool.query<RowDataPacket[]>("SELECT id FROM information_schema.processlist WHERE user = ?", [user]);
    for (const row of rows) await fx.pool.query("KILL ?", [Number(row.id)]).catch(() => undefined);
    return rows.length;
  }

  test("keeps its lease when it can reconnect, and says so", async () => {
    const holder = startChild("renewer.cjs", [url, "killed-kept", "1500"]);
    const { epoch } = await holder.event("acquired");
    let killed = 0;
    for (let i = 0; i < 4; i++) {
      killed += await killConnections();
      await new Promise((resolve) => setTimeout(resolve, 400));
    }
    expect(killed).toBeGreaterThan(0);
    const renewedBefore = holder.events.filter((e) => e.event === "renewed").length;
    await until(() => holder.events.filter((e) => e.event === "renewed").length > renewedBefore);
    holder.process.stdin.end();
    expect(await holder.event("final")).toMatchObject({ held: true });
    expect(holder.events.some((e) => e.event === "lost")).toBe(false);
    expect(await holder.exited).toBe(0);
    // The database agrees: the same grant held throughout, then released.
    expect(await locker.inspect("killed-kept")).toMatchObject({ epoch, held: false, owner: "renewer" });
  }, 30_000);

  test("loses its lease by its deadline when it cannot reconnect, and says so", async () => {
    const holder = startChild("renewer.cjs", [url, "killed-lost", "1000"]);
    const { epoch } = await holder.event("acquired");
    await fx.pool.query("ALTER USER ?@'%' ACCOUNT LOCK", [user]);
    try {
      await killConnections();
      const lost = await holder.event("lost");
      expect(lost).toMatchObject({ reason: "expired" });
      expect(holder.events.some((e) => e.event === "renew-failed" && e.code === "HELIX_DATABASE_UNAVAILABLE")).toBe(true);
      // The holder gave up by its own clock; the database lets the next owner in after the TTL.
      const next = await locker.acquire("killed-lost", { waitMs: 5000 });
      expect(next.epoch).toBe(Number(epoch) + 1);
      await next.release();
    } finally {
      await fx.pool.query("ALTER USER ?@'%' ACCOUNT UNLOCK", [user]);
      holder.process.stdin.end();
    }
    expect(await holder.event("final")).toMatchObject({ held: false });
    expect(await holder.exited).toBe(0);
  }, 30_000);
});
