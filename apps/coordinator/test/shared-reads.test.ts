import { sharedReads } from "../src/shared-reads";

/** A read whose calls are counted and whose answers the test settles. */
function controlled(): { read: (key: string) => Promise<string>; calls: string[]; settle: (value: string | Error) => void } {
  const calls: string[] = [];
  const pending: ((value: string | Error) => void)[] = [];
  const read = (key: string): Promise<string> => {
    calls.push(key);
    return new Promise((resolve, reject) => pending.push((v) => (v instanceof Error ? reject(v) : resolve(v))));
  };
  return { read, calls, settle: (value) => pending.splice(0).forEach((settle) => settle(value)) };
}

beforeEach(() => {
  jest.useFakeTimers();
});

afterEach(() => {
  jest.useRealTimers();
});

test("calls share the read in flight, then its answer for the interval after it started, per key", async () => {
  const { read, calls, settle } = controlled();
  const get = sharedReads(read, 1000);
  const first = [get("a"), get("a")];
  jest.advanceTimersByTime(5000); // a slow read is still shared: reads never overlap
  first.push(get("a"));
  settle("one");
  expect(await Promise.all(first)).toEqual(["one", "one", "one"]);
  expect(calls).toEqual(["a"]);

  const again = get("a"); // the interval has passed
  void get("b");
  expect(calls).toEqual(["a", "a", "b"]);
  settle("two");
  expect(await again).toBe("two");
  jest.advanceTimersByTime(999);
  expect(await get("a")).toBe("two");
  expect(calls).toEqual(["a", "a", "b"]);
});

test("a failed read is given to the calls that shared it and not kept", async () => {
  const { read, calls, settle } = controlled();
  const get = sharedReads(read, 1000);
  const failing = [get("a"), get("a")];
  settle(new Error("down"));
  for (const call of failing) await expect(call).rejects.toThrow("down");
  const next = get("a");
  expect(calls).toEqual(["a", "a"]);
  settle("back");
  expect(await next).toBe("back");
});

test("an interval of 0 reads for every call", () => {
  const { read, calls } = controlled();
  const get = sharedReads(read, 0);
  void get("a");
  void get("a");
  expect(calls).toEqual(["a", "a"]);
});
