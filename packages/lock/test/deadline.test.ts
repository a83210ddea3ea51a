// The local deadline that leases and members stop by: where it lies, what it accepts, and when it
// asks its holder (once it may have passed, and never more than needed). On fake timers.
import { InvalidArgumentError } from "@helix/db/internal";

import { LocalDeadline } from "../src/deadline";

beforeEach(() => {
  jest.useFakeTimers();
});

afterEach(() => {
  jest.useRealTimers();
});

/** A deadline whose holder answers `holding` and counts the checks. */
function watched(ttlMs = 1000, marginMs = 100) {
  const h = { holding: true, checks: 0 };
  const deadline = new LocalDeadline(ttlMs, marginMs, () => {
    h.checks++;
    return h.holding;
  });
  return { h, deadline };
}

test("lies at the send time + TTL - margin; passed from that very moment, with whole and partial milliseconds left before", () => {
  const { deadline } = watched();
  const now = performance.now();
  expect(deadline.at).toBe(0);
  deadline.extendFrom(now - 400);
  expect(deadline.at).toBe(now + 500);
  expect(deadline.remainingMs()).toBe(500);
  expect(deadline.passed()).toBe(false);
  jest.advanceTimersByTime(499);
  expect(deadline.passed()).toBe(false);
  expect(deadline.remainingMs()).toBe(1);
  jest.advanceTimersByTime(1);
  expect(deadline.passed()).toBe(true);
  expect(deadline.remainingMs()).toBe(0);
  jest.advanceTimersByTime(100);
  expect(deadline.remainingMs()).toBe(0);
});

test("a deadline never extended has passed", () => {
  expect(watched().deadline.passed()).toBe(true);
});

test("asks its holder once, when the deadline is reached; a holder that has stopped is not asked again", () => {
  const { h, deadline } = watched();
  h.holding = false;
  deadline.extendFrom(performance.now());
  jest.advanceTimersByTime(899);
  expect(h.checks).toBe(0);
  jest.advanceTimersByTime(1);
  expect(h.checks).toBe(1);
  jest.advanceTimersByTime(10_000);
  expect(h.checks).toBe(1);
});

test("a holder that stopped at one deadline and holds again is watched again: the next extension arms a timer", () => {
  const { h, deadline } = watched();
  h.holding = false;
  deadline.extendFrom(performance.now());
  jest.advanceTimersByTime(900);
  expect(h.checks).toBe(1);
  h.holding = true;
  deadline.extendFrom(performance.now());
  jest.advanceTimersByTime(899);
  expect(h.checks).toBe(1);
  jest.advanceTimersByTime(1);
  expect(h.checks).toBe(2);
});

test("a holder that finds time left (a timer a little early) is asked again when the rest has passed", () => {
  const { h, deadline } = watched();
  deadline.extendFrom(performance.now());
  jest.advanceTimersByTime(900);
  expect(h.checks).toBe(1);
  // The check found time left: the timer is armed again at least a millisecond later.
  jest.advanceTimersByTime(1);
  expect(h.checks).toBe(2);
});

test("a later extension keeps the pending timer; an earlier one replaces it", () => {
  const { h, deadline } = watched();
  const now = performance.now();
  deadline.extendFrom(now);
  deadline.extendFrom(now + 300);
  jest.advanceTimersByTime(900);
  expect(h.checks).toBe(1);
  const earlier = watched();
  earlier.h.holding = false;
  const then = performance.now();
  earlier.deadline.extendFrom(then + 300);
  earlier.deadline.extendFrom(then);
  jest.advanceTimersByTime(899);
  expect(earlier.h.checks).toBe(0);
  jest.advanceTimersByTime(1);
  expect(earlier.h.checks).toBe(1);
});

test("stop clears the pending timer, and no extension after it arms one", () => {
  const { h, deadline } = watched();
  deadline.extendFrom(performance.now());
  deadline.stop();
  jest.advanceTimersByTime(10_000);
  deadline.extendFrom(performance.now());
  expect(deadline.remainingMs()).toBe(900);
  jest.advanceTimersByTime(10_000);
  expect(h.checks).toBe(0);
});

test("the timer does not keep the process alive", () => {
  const { deadline } = watched();
  deadline.extendFrom(performance.now());
  expect(jest.getTimerCount()).toBe(1);
  deadline.stop();
  expect(jest.getTimerCount()).toBe(0);
});

/** What `fn` throws (undefined if it returns). */
function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe("arguments", () => {
  const check = (): boolean => true;

  test.each([
    ["ttlMs", () => new LocalDeadline(1, 1, check)],
    ["ttlMs", () => new LocalDeadline(Number.NaN, 1, check)],
    ["marginMs", () => new LocalDeadline(1000, 0, check)],
    ["marginMs", () => new LocalDeadline(1000, 1000, check)],
    ["check", () => new LocalDeadline(1000, 100, "no" as never)],
  ])("%s is refused by name", (argument, make) => {
    const error = thrownBy(make);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error).toMatchObject({ argument });
  });

  test("the widest margin a TTL allows is accepted", () => {
    expect(() => new LocalDeadline(2, 1, check)).not.toThrow();
    expect(() => new LocalDeadline(1000, 999, check)).not.toThrow();
  });

  test.each([Number.NaN, Infinity, -Infinity, "5"])("a send time of %p is refused", (sentAt) => {
    const { deadline } = watched();
    expect(thrownBy(() => deadline.extendFrom(sentAt as number))).toMatchObject({ argument: "sentAt" });
    expect(deadline.at).toBe(0);
  });
});

describe("refusals and a stopped deadline", () => {
  test("the refusals say what was wrong", () => {
    expect(thrownBy(() => new LocalDeadline(1000, 100, "no" as never))).toMatchObject({
      message: expect.stringContaining("must be a function") as string,
    });
    expect(thrownBy(() => watched().deadline.extendFrom(Number.NaN))).toMatchObject({
      message: expect.stringContaining("must be a time on the performance.now() clock") as string,
    });
  });

  test("once stopped, an extension that brings the end forward arms nothing either", () => {
    const { h, deadline } = watched();
    const now = performance.now();
    deadline.extendFrom(now);
    deadline.stop();
    deadline.extendFrom(now - 500);
    jest.advanceTimersByTime(10_000);
    expect(h.checks).toBe(0);
    expect(jest.getTimerCount()).toBe(0);
  });
});
