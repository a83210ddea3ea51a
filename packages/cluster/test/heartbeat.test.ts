// What one heartbeat decides for its member: when the deadline moves (only once the member knows its
// partitions as of the heartbeat), when the member reads them, how a fenced member becomes active
// again and a member declared dead registers anew, and what a failure or a leave stops. No
// database: the member's answers are given by the test. On fake timers, so that the time a
// heartbeat was sent is exact.
import { beatOnce, type HeartbeatHost } from "../src/heartbeat";

/** A reply the test gives later. */
function later<T>(): { promise: Promise<T>; resolve(value: T): void; reject(error: Error): void } {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** A member whose every step is logged in order, its answers scripted. */
function member(options: { fenced?: boolean; version?: number; registered?: boolean | Error; leavesWhileRegistering?: boolean } = {}) {
  const log: string[] = [];
  const state = { stopped: false, fenced: options.fenced ?? false, version: options.version };
  const sent = later<{ alive: false } | { alive: true; assignmentVersion: number }>();
  let synced = (): Promise<void> => Promise.resolve();
  const host: HeartbeatHost = {
    stopped: () => state.stopped,
    fenced: () => state.fenced,
    send: () => (log.push("send"), sent.promise),
    extendDeadlineFrom: (sentAt) => log.push(`extend from ${sentAt - start}`),
    rejoined: (reregistered) => log.push(`rejoined ${reregistered}`),
    fenceAndRenew: () => log.push("fence and renew"),
    register: () => {
      log.push("register");
      if (options.leavesWhileRegistering === true) state.stopped = true;
      const registered = options.registered ?? true;
      return registered instanceof Error ? Promise.reject(registered) : Promise.resolve(registered);
    },
    nodeIdTaken: () => log.push("node id taken"),
    heartbeatFailed: (error) => log.push(`heartbeat failed: ${error.message}`),
  };
  const schedule = { succeeded: () => log.push("succeeded"), failed: () => log.push("schedule failed") };
  const sync = {
    get version() {
      return state.version;
    },
    sync: (version: number | undefined) => {
      log.push(`sync ${version}`);
      return synced();
    },
  };
  return {
    log,
    state,
    sent,
    /** What {@link beatOnce} is given. */
    args: [host, schedule, sync] as const,
    /** The member's syncs answer with what `answer` returns. */
    syncAnswers(answer: () => Promise<void>) {
      synced = answer;
    },
    /** One heartbeat, sent 10 ms into the test and answered 40 ms later with `alive` and `version`. */
    async beat(alive: boolean, assignmentVersion = 1): Promise<void> {
      await jest.advanceTimersByTimeAsync(10);
      const beaten = beatOnce(host, schedule, sync);
      await jest.advanceTimersByTimeAsync(40);
      sent.resolve(alive ? { alive, assignmentVersion } : { alive });
      await beaten;
    },
  };
}

let start: number;

beforeEach(() => {
  jest.useFakeTimers();
  start = performance.now();
});

afterEach(() => {
  jest.useRealTimers();
});

test("a live member at the version it knows moves its deadline from when the heartbeat was sent, and reads nothing", async () => {
  const m = member({ version: 4 });
  await m.beat(true, 4);
  expect(m.log).toEqual(["send", "succeeded", "extend from 10"]);
});

test("a moved version is read before the deadline moves", async () => {
  const m = member({ version: 4 });
  const read = later<void>();
  m.syncAnswers(() => read.promise);
  await jest.advanceTimersByTimeAsync(10);
  const beaten = beatOnce(...m.args);
  m.sent.resolve({ alive: true, assignmentVersion: 5 });
  await jest.advanceTimersByTimeAsync(5);
  expect(m.log).toEqual(["send", "succeeded", "sync 5"]);
  read.resolve();
  await beaten;
  expect(m.log).toEqual(["send", "succeeded", "sync 5", "extend from 10"]);
});

test("a member that knows no version reads its partitions at every heartbeat", async () => {
  const m = member();
  await m.beat(true, 4);
  expect(m.log).toEqual(["send", "succeeded", "sync 4", "extend from 10"]);
});

test("a failed read leaves the deadline where it was, and the heartbeat counts as failed", async () => {
  const m = member({ version: 4 });
  m.syncAnswers(() => Promise.reject(new Error("read timed out")));
  await m.beat(true, 5);
  expect(m.log).toEqual(["send", "succeeded", "sync 5", "schedule failed", "heartbeat failed: read timed out"]);
});

test("a fenced member found alive is active again as the same incarnation, then reads and moves its deadline again", async () => {
  const m = member({ fenced: true });
  await m.beat(true, 4);
  expect(m.log).toEqual(["send", "succeeded", "extend from 10", "rejoined false", "sync 4", "extend from 10"]);
});

test("a member declared dead fences itself, registers as a new incarnation and reads every row", async () => {
  const m = member({ version: 4 });
  await m.beat(false, 4);
  expect(m.log).toEqual(["send", "succeeded", "fence and renew", "register", "rejoined true", "sync undefined"]);
});

test("a member declared dead whose node id a live member took stays fenced and says so", async () => {
  const m = member({ version: 4, registered: false });
  await m.beat(false);
  expect(m.log).toEqual(["send", "succeeded", "fence and renew", "register", "node id taken"]);
});

test("a failed registration counts as a failed heartbeat", async () => {
  const m = member({ registered: new Error("connection lost") });
  await m.beat(false);
  expect(m.log).toEqual(["send", "succeeded", "fence and renew", "register", "schedule failed", "heartbeat failed: connection lost"]);
});

test("a registration answered after the member began leaving does not revive it", async () => {
  const m = member({ leavesWhileRegistering: true });
  await m.beat(false);
  expect(m.log).toEqual(["send", "succeeded", "fence and renew", "register"]);
});

test("a heartbeat that fails tells the schedule and the listeners, and moves nothing", async () => {
  const m = member({ version: 4 });
  await jest.advanceTimersByTimeAsync(10);
  const beaten = beatOnce(...m.args);
  m.sent.reject(new Error("connection lost"));
  await beaten;
  expect(m.log).toEqual(["send", "schedule failed", "heartbeat failed: connection lost"]);
});

test.each([
  ["found live", true, { fenced: true }],
  ["declared dead", false, {}],
])("a heartbeat %s that is answered after the member began leaving changes nothing", async (_, alive, options) => {
  const m = member(options);
  const beaten = beatOnce(...m.args);
  m.state.stopped = true;
  m.sent.resolve(alive ? { alive: true, assignmentVersion: 4 } : { alive: false });
  await beaten;
  expect(m.log).toEqual(["send"]);
});

test("a heartbeat that fails after the member began leaving says nothing", async () => {
  const m = member();
  const beaten = beatOnce(...m.args);
  m.state.stopped = true;
  m.sent.reject(new Error("pool closed"));
  await beaten;
  expect(m.log).toEqual(["send"]);
});

test("a member that began leaving sends no heartbeat", async () => {
  const m = member();
  m.state.stopped = true;
  await beatOnce(...m.args);
  expect(m.log).toEqual([]);
});
