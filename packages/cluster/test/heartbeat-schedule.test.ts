// When a member's heartbeats go out: a whole interval apart while they succeed, sooner (backing off)
// while they fail, one at a time, and none once stopped. On fake timers, with the backoff's jitter
// pinned so that each delay is exact. A member's heartbeat never rejects (it reports a failure with
// `failed()`), so the heartbeats below resolve unless the test awaits them itself.
import { HeartbeatSchedule } from "../src/heartbeat-schedule";

/** A schedule whose heartbeats are recorded, each answered (or not) by the test. */
function recorded(intervalMs: number) {
  const sentAt: number[] = [];
  const answers: { resolve: () => void; reject: (error: Error) => void }[] = [];
  const schedule = new HeartbeatSchedule(intervalMs, () => {
    sentAt.push(performance.now());
    return new Promise<void>((resolve, reject) => answers.push({ resolve, reject }));
  });
  return { schedule, sentAt, answers };
}

let start: number;

beforeEach(() => {
  jest.useFakeTimers();
  start = performance.now();
});

afterEach(() => {
  jest.restoreAllMocks();
  jest.useRealTimers();
});

/** Backoff delays drawn at the top of their range: each is the whole current step. */
const pinJitter = (): void => void jest.spyOn(Math, "random").mockReturnValue(1);

test("a beat records when it was sent, and the next goes out a whole interval after the answer", async () => {
  const { schedule, sentAt, answers } = recorded(100);
  expect(schedule.lastSentAt).toBe(0);
  await jest.advanceTimersByTimeAsync(7);
  const first = schedule.beat();
  expect(schedule.lastSentAt).toBe(start + 7);
  await jest.advanceTimersByTimeAsync(30);
  answers[0]!.resolve();
  await first;
  schedule.succeeded();
  await jest.advanceTimersByTimeAsync(99);
  expect(sentAt).toHaveLength(1);
  await jest.advanceTimersByTimeAsync(1);
  expect(sentAt).toEqual([start + 7, start + 137]);
  expect(schedule.lastSentAt).toBe(start + 137);
  answers[1]!.resolve();
  await schedule.stop();
});

test("while heartbeats fail, the next goes out sooner, backing off from a tenth of the interval up to the interval", async () => {
  pinJitter();
  const { schedule, sentAt, answers } = recorded(1000);
  void schedule.beat().catch(() => undefined);
  const gaps: number[] = [];
  for (let i = 0; i < 6; i++) {
    schedule.failed();
    answers[i]!.resolve();
    const before = sentAt.length;
    const from = performance.now();
    for (let waited = 0; waited < 2000 && sentAt.length === before; waited++) await jest.advanceTimersByTimeAsync(1);
    gaps.push(sentAt[before]! - from);
  }
  // Steps of 100, 200, 400, 800, then the interval (1000) as the cap.
  expect(gaps).toEqual([100, 200, 400, 800, 1000, 1000]);
  answers[6]!.resolve();
  await schedule.stop();
});

test("a success after failures brings back the whole interval, and a later failure starts the backoff again", async () => {
  pinJitter();
  const { schedule, sentAt, answers } = recorded(1000);
  const beat = schedule.beat();
  schedule.failed();
  answers[0]!.reject(new Error("unreachable"));
  await beat.catch(() => undefined);
  await jest.advanceTimersByTimeAsync(100);
  expect(sentAt).toHaveLength(2);
  schedule.failed();
  schedule.succeeded();
  answers[1]!.resolve();
  await jest.advanceTimersByTimeAsync(999);
  expect(sentAt).toHaveLength(2);
  await jest.advanceTimersByTimeAsync(1);
  expect(sentAt).toHaveLength(3);
  schedule.failed();
  answers[2]!.resolve();
  await jest.advanceTimersByTimeAsync(99);
  expect(sentAt).toHaveLength(3);
  await jest.advanceTimersByTimeAsync(1);
  expect(sentAt).toHaveLength(4);
  answers[3]!.resolve();
  await schedule.stop();
});

test("a tiny interval still backs off by at least a millisecond", async () => {
  pinJitter();
  const { schedule, sentAt, answers } = recorded(5);
  const beat = schedule.beat();
  schedule.failed();
  answers[0]!.reject(new Error("unreachable"));
  await beat.catch(() => undefined);
  await jest.advanceTimersByTimeAsync(0);
  expect(sentAt).toHaveLength(1);
  await jest.advanceTimersByTimeAsync(1);
  expect(sentAt).toHaveLength(2);
  answers[1]!.resolve();
  await schedule.stop();
});

test("a beat sent by hand replaces the one scheduled: one heartbeat per interval, never two", async () => {
  const { schedule, sentAt, answers } = recorded(100);
  void schedule.beat();
  answers[0]!.resolve();
  await jest.advanceTimersByTimeAsync(50);
  void schedule.beat();
  answers[1]!.resolve();
  await jest.advanceTimersByTimeAsync(60);
  expect(sentAt).toEqual([start, start + 50]);
  await jest.advanceTimersByTimeAsync(40);
  expect(sentAt).toEqual([start, start + 50, start + 150]);
  answers[2]!.resolve();
  await schedule.stop();
});

test("two beats in flight at once leave one timer behind them", async () => {
  const { schedule, sentAt, answers } = recorded(100);
  void schedule.beat();
  void schedule.beat();
  answers[0]!.resolve();
  await jest.advanceTimersByTimeAsync(10);
  answers[1]!.resolve();
  await jest.advanceTimersByTimeAsync(0);
  await jest.advanceTimersByTimeAsync(110);
  // Only the timer armed by the second answer (at +10) fired, at +110.
  expect(sentAt).toEqual([start, start, start + 110]);
  answers[2]!.resolve();
  await schedule.stop();
});

test("stop waits for the heartbeat in flight, however it ends, and nothing goes out after it", async () => {
  const { schedule, sentAt, answers } = recorded(100);
  void schedule.beat().catch(() => undefined);
  let stopped = false;
  const stopping = schedule.stop().then(() => {
    stopped = true;
  });
  await jest.advanceTimersByTimeAsync(50);
  expect(stopped).toBe(false);
  answers[0]!.reject(new Error("unreachable"));
  await stopping;
  expect(stopped).toBe(true);
  await jest.advanceTimersByTimeAsync(1000);
  expect(sentAt).toHaveLength(1);
});

test("stop clears the timer already armed", async () => {
  const { schedule, sentAt, answers } = recorded(100);
  void schedule.beat();
  answers[0]!.resolve();
  await jest.advanceTimersByTimeAsync(10);
  await schedule.stop();
  await jest.advanceTimersByTimeAsync(1000);
  expect(sentAt).toHaveLength(1);
});

test("a beat's own promise is what it returns: its failure reaches the caller", async () => {
  const { schedule, answers } = recorded(100);
  const beat = schedule.beat();
  answers[0]!.reject(new Error("refused"));
  await expect(beat).rejects.toThrow("refused");
  await schedule.stop();
});
