// How long a member's statements may wait: heartbeats as long as the deadline allows less half a
// statement timeout (never less than one), reads all the time left; without a deadline, a statement timeout.
import { heartbeatBoundMs, readBoundMs } from "../src/statement-bounds";

describe("heartbeatBoundMs", () => {
  test("without a deadline (joining, fenced), a statement timeout", () => {
    expect(heartbeatBoundMs(null, 2000)).toBe(2000);
  });

  test("with time left, the time left less half a statement timeout", () => {
    expect(heartbeatBoundMs(9000, 2000)).toBe(8000);
    expect(heartbeatBoundMs(3001, 2000)).toBe(2001);
  });

  test("never less than a statement timeout, however little time is left", () => {
    expect(heartbeatBoundMs(2500, 2000)).toBe(2000);
    expect(heartbeatBoundMs(0, 2000)).toBe(2000);
  });
});

describe("readBoundMs", () => {
  test("without a deadline, a statement timeout", () => {
    expect(readBoundMs(null, 2000)).toBe(2000);
  });

  test("with a deadline, all the time left, however much more than a statement timeout", () => {
    expect(readBoundMs(9000, 2000)).toBe(9000);
    expect(readBoundMs(500, 2000)).toBe(500);
  });

  test("at least a millisecond once the deadline has passed", () => {
    expect(readBoundMs(0, 2000)).toBe(1);
  });
});
