// Timers longer than Node's limit (2^31 - 1 ms, about 24.8 days) fire when due, not at once.
import { setTimeout as sleep } from "node:timers/promises";
import { runInThisContext } from "node:vm";

import { MAX_TIMER_DELAY_MS, setLongTimeout } from "@helix/db/internal";

import { LocalDeadline } from "../src";

const DAY_MS = 86_400_000;

describe("setLongTimeout, on fake timers", () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });

  afterEach(() => {
    jest.useRealTimers();
  });

  test("a 30-day timeout does not fire early, and fires once when due", () => {
    const fired = jest.fn();
    setLongTimeout(fired, 30 * DAY_MS);
    jest.advanceTimersByTime(MAX_TIMER_DELAY_MS + 1);
    jest.advanceTimersByTime(29 * DAY_MS - (MAX_TIMER_DELAY_MS + 1));
    expect(fired).not.toHaveBeenCalled();
    jest.advanceTimersByTime(DAY_MS - 1);
    expect(fired).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(fired).toHaveBeenCalledTimes(1);
    jest.advanceTimersByTime(100 * DAY_MS);
    expect(fired).toHaveBeenCalledTimes(1);
  });

  test("clearing works before and after the first hop, and after it fired", () => {
    const early = jest.fn();
    setLongTimeout(early, 30 * DAY_MS).clear();
    const late = jest.fn();
    const lateTimeout = setLongTimeout(late, 30 * DAY_MS);
    jest.advanceTimersByTime(26 * DAY_MS);
    lateTimeout.clear();
    jest.advanceTimersByTime(100 * DAY_MS);
    expect(early).not.toHaveBeenCalled();
    expect(late).not.toHaveBeenCalled();
    const short = jest.fn();
    const shortTimeout = setLongTimeout(short, 10);
    jest.advanceTimersByTime(10);
    shortTimeout.clear();
    expect(short).toHaveBeenCalledTimes(1);
  });

  test("unref carries over to the later hops", () => {
    const timeout = setLongTimeout(() => undefined, 30 * DAY_MS).unref();
    expect(timeout.hasRef()).toBe(false);
    jest.advanceTimersByTime(MAX_TIMER_DELAY_MS + 1);
    expect(timeout.hasRef()).toBe(false);
    timeout.clear();
  });

  test("a short timeout behaves as setTimeout; Infinity never fires", () => {
    const short = jest.fn();
    const never = jest.fn();
    setLongTimeout(short, 50);
    setLongTimeout(never, Infinity);
    jest.advanceTimersByTime(49);
    expect(short).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(short).toHaveBeenCalledTimes(1);
    jest.advanceTimersByTime(3650 * DAY_MS);
    expect(never).not.toHaveBeenCalled();
  });
});

describe("LocalDeadline, on fake timers", () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });

  afterEach(() => {
    jest.useRealTimers();
  });

  /** A holder as a lease is one: it stops once the deadline has passed when checked. */
  function holder(ttlMs: number, marginMs: number) {
    const h = { holding: true, checks: 0, deadline: undefined as unknown as LocalDeadline };
    h.deadline = new LocalDeadline(ttlMs, marginMs, () => {
      h.checks++;
      if (h.deadline.passed()) h.holding = false;
      return h.holding;
    });
    return h;
  }

  test("each extension moves the end: the holder stops at the last one's deadline, not an earlier one's", () => {
    const h = holder(1000, 100);
    const sentAt = performance.now();
    h.deadline.extendFrom(sentAt); // ends at +900
    jest.advanceTimersByTime(300);
    h.deadline.extendFrom(sentAt + 300); // +1200
    jest.advanceTimersByTime(300);
    h.deadline.extendFrom(sentAt + 600); // +1500
    jest.advanceTimersByTime(899);
    expect(h.holding).toBe(true);
    // The timer armed at the start fired at +900, found time left and armed again: one check so far.
    expect(h.checks).toBe(1);
    jest.advanceTimersByTime(1);
    expect(h.holding).toBe(false);
  });

  test("an extension that brings the end forward (an earlier send) is kept to", () => {
    const h = holder(1000, 100);
    const sentAt = performance.now();
    h.deadline.extendFrom(sentAt); // ends at +900
    h.deadline.extendFrom(sentAt - 500); // +400
    jest.advanceTimersByTime(399);
    expect(h.holding).toBe(true);
    jest.advanceTimersByTime(1);
    expect(h.holding).toBe(false);
  });

  test("once stopped, no extension arms it again", () => {
    const h = holder(1000, 100);
    h.deadline.extendFrom(performance.now());
    h.deadline.stop();
    h.deadline.extendFrom(performance.now());
    jest.advanceTimersByTime(10_000);
    expect(h.checks).toBe(0);
  });
});

test("on real timers, a timeout past the limit neither fires at once nor warns", async () => {
  const fired = jest.fn();
  const warned = jest.fn();
  // Node warns (TimeoutOverflowWarning) on the real process, not on the copy jest gives a test file.
  const realProcess = runInThisContext("process") as NodeJS.Process;
  realProcess.on("warning", warned);
  try {
    const timeout = setLongTimeout(fired, MAX_TIMER_DELAY_MS + 1000).unref();
    await sleep(50);
    timeout.clear();
    expect(fired).not.toHaveBeenCalled();
    expect(warned).not.toHaveBeenCalled();
  } finally {
    realProcess.off("warning", warned);
  }
});
