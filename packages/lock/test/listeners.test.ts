// A listener's exception is the application's bug: it must not break a lease's renewals, its loss or
// its release, nor escape as an unhandled rejection or an uncaught exception.
import { ProcessTrap } from "@helix/testing";

import { createLocker, type Lease, type LeaseEvents, type Locker } from "../src";
import { FaultyPool, migratedDatabase, until, type Fixture } from "./helpers";

let fx: Fixture;
let locker: Locker;
let keyNo = 0;
const trap = new ProcessTrap();

beforeAll(async () => {
  fx = await migratedDatabase();
  locker = await createLocker(fx.pool, { owner: "listeners" });
  trap.start();
});

afterAll(async () => {
  trap.stop();
  await locker.close();
  await fx.close();
});

afterEach(() => {
  expect(trap.escaped).toEqual([]);
});

/** Adds a listener that throws, then one that records what it sees, to each of `events`. */
function listen(lease: Lease, events: (keyof LeaseEvents)[], describe: () => string): string[] {
  const seen: string[] = [];
  for (const event of events) {
    lease.on(event, () => {
      throw new Error(`a ${event} listener's bug`);
    });
    lease.on(event, () => void seen.push(`${event}: ${describe()}`));
  }
  return seen;
}

const listenerWarnings = (): Error[] => trap.warningsWithCode("HELIX_LISTENER_THREW");

test("a lease renews, retries and is lost as usual although its listeners throw", async () => {
  const faulty = new FaultyPool(fx.pool);
  const own = await createLocker(faulty, { owner: "throwing-listeners" });
  try {
    const lease = await own.acquire(`key-${++keyNo}`, { ttlMs: 300, autoRenew: true });
    // What a listener sees is complete: renewed with the deadline already moved, lost once ended.
    const seen = listen(
      lease,
      ["lease:renewed", "lease:renew-failed", "lease:lost"],
      () => `${lease.state} ${lease.remainingMs() > 150 ? "fresh" : "stale"} ${lease.signal.aborted ? "aborted" : "running"}`,
    );
    await until(() => seen.filter((s) => s.startsWith("lease:renewed")).length >= 3, 3000);
    expect(new Set(seen)).toEqual(new Set(["lease:renewed: held fresh running"]));

    faulty.cut = true;
    await until(() => seen.includes("lease:lost: lost stale aborted"), 3000);
    // Failed renewals were retried, although the renew-failed listener threw each time.
    expect(seen.filter((s) => s.startsWith("lease:renew-failed: held")).length).toBeGreaterThanOrEqual(2);
    expect(seen.filter((s) => s.startsWith("lease:lost"))).toHaveLength(1);
    expect(listenerWarnings().length).toBeGreaterThanOrEqual(5);
    // Reported with where the listener threw.
    expect(listenerWarnings()[0]).toMatchObject({
      name: "HelixListenerWarning",
      message: `a listener of "lease:renewed" threw: a lease:renewed listener's bug`,
      detail: expect.stringContaining("listeners.test.ts") as unknown,
    });
  } finally {
    faulty.cut = false;
    await own.close();
  }
});

test("release resolves, and the key is free, although a lease:released listener throws", async () => {
  const key = `key-${++keyNo}`;
  const lease = await locker.acquire(key);
  const seen = listen(lease, ["lease:released"], () => lease.state);
  await expect(lease.release()).resolves.toBe(true);
  expect(seen).toEqual(["lease:released: released"]);
  expect(await locker.inspect(key)).toMatchObject({ held: false });
});

test("an async listener's rejection is reported, not left unhandled", async () => {
  const lease = await locker.acquire(`key-${++keyNo}`);
  const before = listenerWarnings().length;
  // An async listener is what this test is about.
  // eslint-disable-next-line @typescript-eslint/no-misused-promises
  lease.on("lease:released", async () => {
    await Promise.resolve();
    throw new Error("an async listener's bug");
  });
  await lease.release();
  await until(() => listenerWarnings().length > before, 1000);
  expect(listenerWarnings().at(-1)).toMatchObject({ message: `a listener of "lease:released" threw: an async listener's bug` });
});
