// A member's record of a partition: its signal is made only when read, and says the same as if it
// had been made at once.
import { newOwnership } from "../src/owned";

const ref = { cluster: "c", domain: "d", taskList: "t", partition: 3, nodeId: "n", incarnation: "i".repeat(32), generation: 2 };
const make = () =>
  newOwnership(
    ref,
    () => true,
    () => Promise.resolve("mysql" as const),
  );

test("a signal read before the abort is aborted with its reason; isOwned follows", () => {
  const ownership = make();
  const { signal } = ownership.partition;
  expect(signal.aborted).toBe(false);
  expect(ownership.partition.isOwned()).toBe(true);
  const seen: unknown[] = [];
  signal.addEventListener("abort", () => seen.push(signal.reason));
  const reason = new Error("partition released");
  ownership.abort(reason);
  ownership.abort(new Error("a second abort changes nothing"));
  expect(seen).toEqual([reason]);
  expect(signal.reason).toBe(reason);
  expect(ownership.partition.isOwned()).toBe(false);
  expect(ownership.partition.signal).toBe(signal);
});

test("a signal first read after the abort is already aborted, with the first reason", () => {
  const ownership = make();
  const reason = new Error("release requested");
  ownership.abort(reason);
  ownership.abort(new Error("later"));
  expect(ownership.partition.isOwned()).toBe(false);
  const { signal } = ownership.partition;
  expect(signal.aborted).toBe(true);
  expect(signal.reason).toBe(reason);
  expect(ownership.partition.signal).toBe(signal);
});

test("a fence of an aborted partition is refused before anything is sent", async () => {
  const ownership = make();
  ownership.abort(new Error("lost"));
  await expect(ownership.partition.fence({} as never)).rejects.toMatchObject({ code: "HELIX_PARTITION_FENCED" });
});
