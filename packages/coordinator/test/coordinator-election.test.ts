// The coordinator's election: one leader at a time, hand-off on stop, stepping down when cut off.
import { setTimeout as sleep } from "node:timers/promises";
import { monitorEventLoopDelay } from "node:perf_hooks";

import { inspectLock } from "@helix/lock";

import { coordinatorLeaseKey } from "../src";
import { FaultyPool, nextEvent } from "./helpers";
import { cluster, coordinator, fx, useCoordinatorFixture } from "./coordinator-fixture";

useCoordinatorFixture();

describe("election", () => {
  test("one of two coordinators leads; stopping it hands leadership to the other at once", async () => {
    // A lease that would take 30 s to run out: a hand-off well before that came from the release.
    const a = await coordinator({ id: "a", leaseTtlMs: 30_000 });
    await nextEvent(a, "leader:elected");
    const b = await coordinator({ id: "b", leaseTtlMs: 30_000 });
    await sleep(200);
    expect([a.state, b.state]).toEqual(["leading", "following"]);
    const firstEpoch = a.epoch!;

    const states: string[] = [];
    a.on("coordinator:state", ({ to }) => states.push(to));
    const elected = nextEvent(b, "leader:elected", 25_000);
    // a's lease as it stands before the stop; a renewal meanwhile could only move its expiry later.
    const held = await inspectLock(fx.pool, coordinatorLeaseKey(cluster));
    expect(held).toMatchObject({ held: true, epoch: firstEpoch });
    await a.stop();
    const [{ epoch }] = await elected;
    expect(states).toEqual(["stopping", "stopped"]);
    expect(epoch).toBe(firstEpoch + 1);
    // The lease was released, not left to expire: b's grant came before a's lease would have run
    // out, by the database clock.
    const taken = await inspectLock(fx.pool, coordinatorLeaseKey(cluster));
    expect(taken!.epoch).toBe(epoch);
    expect(taken!.acquiredAt.getTime()).toBeLessThan(held!.expiresAt.getTime());
    expect(b.epoch).toBe(epoch);
  });

  test("a leader cut off from the database steps down by its deadline and leads again when it returns", async () => {
    const faulty = new FaultyPool(fx.pool);
    const c = await coordinator({ leaseTtlMs: 600 }, faulty);
    const [{ epoch }] = await nextEvent(c, "leader:elected");
    const lost = nextEvent(c, "leader:lost");
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const cutAt = performance.now();
    faulty.cut = true;
    await lost;
    const steppedDownAfter = performance.now() - cutAt;
    loopDelay.disable();
    expect(c.stats().leaseRenewFailures).toBeGreaterThan(0);
    // Its deadline is at most the TTL after the cut (its last renewal came before). The deadline
    // timer fires late only by as much as this process's event loop was late (a loaded machine),
    // plus a little.
    expect(steppedDownAfter).toBeLessThan(600 + 50 + loopDelay.max / 1e6);
    expect(c.state).toBe("following");
    faulty.cut = false;
    const [again] = await nextEvent(c, "leader:elected", 5000);
    expect(again.epoch).toBe(epoch + 1);
  });
});
