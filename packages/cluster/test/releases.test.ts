// A member's releases: onRelease first, then the confirmation, both in the background, and what
// each outcome does to the ownership (ended as released or taken, or its confirmation left pending
// for the next heartbeat). The confirmations are scripted: their SQL is the ownership tests'.
import type { ConnectionSource } from "@helix/db/internal";

import type { OwnedPartition, PartitionChange } from "../src/member-events";
import { newOwnership, type Ownership } from "../src/owned";
import { Releases, type ReleaseHost } from "../src/releases";

/** The confirmations asked for, each answered by the test. */
const confirmations: { partition: OwnedPartition; answer: (confirmed: boolean | Error) => void }[] = [];

jest.mock("../src/confirmations", () => ({
  ConfirmationBatch: class {
    constructor(
      readonly client: unknown,
      readonly member: unknown,
    ) {
      made.push({ client, member });
    }

    confirm(partition: OwnedPartition): Promise<boolean> {
      return new Promise((resolve, reject) => {
        confirmations.push({ partition, answer: (confirmed) => (confirmed instanceof Error ? reject(confirmed) : resolve(confirmed)) });
      });
    }
  },
}));

/** The batches made, with what they were made with. */
const made: { client: unknown; member: unknown }[] = [];

const client = {} as ConnectionSource;

/** A host that records what the releases tell it. */
function host(onRelease?: (p: OwnedPartition) => Promise<void> | void) {
  const told: string[] = [];
  const h: ReleaseHost = {
    onRelease,
    end: (_o: Ownership, change: PartitionChange) =>
      void told.push(change.type === "lost" ? `end lost ${change.reason}` : `end ${change.type}`),
    confirmationFailed: (error) => void told.push(`confirmation failed: ${error.message}`),
    releaseFailed: (error) => void told.push(`release failed: ${error.message}`),
  };
  return { h, told };
}

const ownership = (partition = 0): Ownership => {
  const o = newOwnership(
    { cluster: "c", domain: "d", taskList: "t", partition, nodeId: "n", incarnation: "i", generation: 1 },
    () => true,
    () => Promise.resolve("mariadb"),
  );
  o.releasing = true;
  return o;
};

/** Lets the background work take its next steps. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

beforeEach(() => {
  confirmations.length = 0;
  made.length = 0;
});

test("the confirmations go through one batch of the member's", () => {
  new Releases(client, { cluster: "c", nodeId: "n" }, host().h);
  expect(made).toEqual([{ client, member: { cluster: "c", nodeId: "n" } }]);
});

test("stopThenConfirm runs onRelease, then confirms; a confirmed release ends as released", async () => {
  const order: string[] = [];
  let finish!: () => void;
  const { h, told } = host((p) => {
    order.push(`onRelease ${p.partition}`);
    return new Promise<void>((resolve) => (finish = resolve));
  });
  const releases = new Releases(client, { cluster: "c", nodeId: "n" }, h);
  const o = ownership();
  releases.stopThenConfirm(o);
  await settle();
  expect(order).toEqual(["onRelease 0"]);
  expect(confirmations).toHaveLength(0);
  finish();
  await settle();
  expect(confirmations.map((c) => c.partition)).toEqual([o.partition]);
  expect(o.confirming).toBe(true);
  expect(o.confirmPending).toBe(false);
  confirmations[0]!.answer(true);
  await releases.settled();
  expect(told).toEqual(["end released"]);
});

test("a confirmation the database refuses (the partition was taken) ends the ownership as lost", async () => {
  const { h, told } = host();
  const releases = new Releases(client, { cluster: "c", nodeId: "n" }, h);
  const o = ownership();
  const confirmed = releases.confirm(o);
  confirmations[0]!.answer(false);
  expect(await confirmed).toBe(false);
  expect(told).toEqual(["end lost taken"]);
});

test("a confirmation that fails is left pending for the next heartbeat, and reported", async () => {
  const { h, told } = host();
  const releases = new Releases(client, { cluster: "c", nodeId: "n" }, h);
  const o = ownership();
  const confirmed = releases.confirm(o);
  confirmations[0]!.answer(new Error("connection lost"));
  expect(await confirmed).toBe(false);
  expect(o.confirmPending).toBe(true);
  expect(o.confirming).toBe(false);
  expect(told).toEqual(["confirmation failed: connection lost"]);
});

test("onRelease that throws is reported and the release is not confirmed", async () => {
  const { h, told } = host(() => {
    throw new Error("busy");
  });
  const releases = new Releases(client, { cluster: "c", nodeId: "n" }, h);
  releases.stopThenConfirm(ownership());
  await releases.settled();
  expect(told).toEqual(["release failed: busy"]);
  expect(confirmations).toHaveLength(0);
});

test("stop reports a thrown non-error as an error, and says whether onRelease returned", async () => {
  // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a rejection that is not an Error is the case under test
  const rejecting = host(() => Promise.reject("nope"));
  expect(await new Releases(client, { cluster: "c", nodeId: "n" }, rejecting.h).stop(ownership().partition)).toBe(false);
  expect(rejecting.told).toEqual(["release failed: nope"]);
  const none = host();
  expect(await new Releases(client, { cluster: "c", nodeId: "n" }, none.h).stop(ownership().partition)).toBe(true);
  expect(none.told).toEqual([]);
});

test("confirmAgain sends the confirmation without running onRelease again", async () => {
  const onRelease = jest.fn();
  const { h, told } = host(onRelease);
  const releases = new Releases(client, { cluster: "c", nodeId: "n" }, h);
  const o = ownership();
  o.confirmPending = true;
  releases.confirmAgain(o);
  expect(o.confirmPending).toBe(false);
  expect(o.confirming).toBe(true);
  confirmations[0]!.answer(true);
  await releases.settled();
  expect(onRelease).not.toHaveBeenCalled();
  expect(told).toEqual(["end released"]);
});

test("settled waits for every release under way, however it ends", async () => {
  const { h } = host();
  const releases = new Releases(client, { cluster: "c", nodeId: "n" }, h);
  releases.confirmAgain(ownership(0));
  releases.confirmAgain(ownership(1));
  let settled = false;
  const waiting = releases.settled().then(() => (settled = true));
  await settle();
  confirmations[0]!.answer(new Error("lost"));
  await settle();
  expect(settled).toBe(false);
  confirmations[1]!.answer(true);
  await waiting;
  expect(settled).toBe(true);
});
