// Nothing outlives stop(), leave() or close(): a process that embeds a coordinator, members and a
// locker exits by itself once it has closed them, and no Helix timer is armed or fires afterwards.
import { join as joinPath } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

import { JsonChild } from "@helix/testing";

import { migratedDatabase, type Fixture } from "./helpers";

const fixture = joinPath(__dirname, "fixtures", "shutdown-child.cjs");
const EXIT_WITHIN_MS = 2000;
let fx: Fixture;
let clusterNo = 0;

beforeAll(async () => {
  fx = await migratedDatabase();
});

afterAll(async () => {
  await fx.close();
});

/** Runs the fixture in `mode`; resolves with what it reported once it exited by itself. */
async function closeAndExit(mode: string): Promise<{ armed: unknown; late: unknown }> {
  const child = JsonChild.start(fixture, [fx.db.url, `shutdown${++clusterNo}`, mode]);
  try {
    const closed = await child.event("closed");
    const waiting = new AbortController();
    const timeout = sleep(EXIT_WITHIN_MS, "still running", { signal: waiting.signal });
    const exit = await Promise.race([child.exited, timeout]).finally(() => waiting.abort());
    expect({ exit, stderr: child.stderr }).toEqual({ exit: 0, stderr: "" });
    return { armed: closed.armed, late: child.events.find((e) => e.event === "late")?.late };
  } finally {
    child.kill();
  }
}

test("closed while a round, a sweep and renewals are in flight, a process exits by itself", async () => {
  expect(await closeAndExit("in-flight")).toEqual({ armed: [], late: [] });
});

test("closed by their own listeners mid-step, a coordinator, a member and a locker leave nothing behind", async () => {
  expect(await closeAndExit("from-listeners")).toEqual({ armed: [], late: [] });
});
