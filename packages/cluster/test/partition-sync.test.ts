// How a member keeps its partitions as of an assignment version: which reads a sync makes, when it
// applies what it read and when it throws it away, and that syncs run one at a time. No database:
// the reads are answered by the test.
import { PartitionState } from "@helix/db/internal";

import type { PartitionChange } from "../src/member-events";
import { newOwnership, type Ownership } from "../src/owned";
import { OwnedPartitions } from "../src/owned-partitions";
import { PartitionSync } from "../src/partition-sync";

const { Assigned, ReleaseRequested } = PartitionState;

/** A row of the member's partitions, task list "d"/"t". */
const row = (partitionId: number, generation: number, state: number = Assigned) => ({
  domain: "d",
  taskList: "t",
  partitionId,
  state,
  generation,
  targetNodeId: state === ReleaseRequested ? "other" : null,
});
type Row = ReturnType<typeof row>;
type Request = { domain: string; taskList: string; partitionId: number; generation: number };

/** A reply the test gives later. */
interface Pending<T> {
  resolve(value: T): void;
  reject(error: Error): void;
}

/** A sync over a real {@link OwnedPartitions}, its reads and its member's answers given by the test. */
function syncing() {
  const owned = new OwnedPartitions((domain, taskList, partition, generation) =>
    newOwnership(
      { cluster: "c", domain, taskList, partition, nodeId: "n", incarnation: "i", generation },
      () => true,
      () => Promise.resolve("mariadb"),
    ),
  );
  /** Every read and every call to the member, in order. */
  const log: string[] = [];
  const reads = { all: [] as Pending<Row[]>[], changedSince: [] as Pending<Row[]>[], releaseRequests: [] as Pending<Request[]>[] };
  const pending = <T>(queue: Pending<T>[]): Promise<T> => new Promise<T>((resolve, reject) => queue.push({ resolve, reject }));
  const member = {
    spell: 0 as number | undefined,
    announced: [] as (PartitionChange | null)[][],
    released: [] as [Ownership[], Ownership[]][],
  };
  const sync = new PartitionSync(owned, {
    reads: {
      all: () => (log.push("all"), pending(reads.all)),
      changedSince: (since) => (log.push(`since ${since}`), pending(reads.changedSince)),
      releaseRequests: () => (log.push("release requests"), pending(reads.releaseRequests)),
    },
    activeSpell: () => member.spell,
    announce: (changes) => (log.push("announce"), member.announced.push(changes)),
    release: (toRelease, toConfirm) => (log.push("release"), member.released.push([toRelease, toConfirm])),
  });
  return { owned, log, reads, member, sync };
}

/** Lets every settled promise's continuations run. */
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const partitions = (owned: OwnedPartitions): string[] => owned.all().map((o) => `${o.partition.partition}@${o.partition.generation}`);

/** A sync as of `version` whose one read of rows answers `rows`. */
async function synced(s: ReturnType<typeof syncing>, version: number | undefined, rows: Row[]): Promise<void> {
  const done = s.sync.sync(version);
  await flush();
  const read = s.reads.all.shift() ?? s.reads.changedSince.shift();
  read!.resolve(rows);
  await done;
}

test("the first sync reads every row, applies them, then announces them and hands on the releases", async () => {
  const s = syncing();
  expect(s.sync.version).toBeUndefined();
  await synced(s, 5, [row(0, 3), row(1, 4)]);
  expect(s.log).toEqual(["all", "announce", "release"]);
  expect(partitions(s.owned)).toEqual(["0@3", "1@4"]);
  expect(s.member.announced).toEqual([[expect.objectContaining({ type: "assigned" }), expect.objectContaining({ type: "assigned" })]]);
  expect(s.member.released).toEqual([[[], []]]);
  expect(s.sync.version).toBe(5);
});

test("a sync with a version known reads only the rows changed since it, and keeps the partitions it does not show", async () => {
  const s = syncing();
  await synced(s, 5, [row(0, 3), row(1, 4)]);
  await synced(s, 7, [row(2, 6)]);
  expect(s.log).toEqual(["all", "announce", "release", "since 5", "announce", "release"]);
  expect(partitions(s.owned)).toEqual(["0@3", "1@4", "2@6"]);
  expect(s.sync.version).toBe(7);
});

test("a sync as of the version it knows reads nothing; one as of no version when none is known reads every row", async () => {
  const s = syncing();
  await synced(s, undefined, [row(0, 3)]);
  expect(s.log).toEqual(["all", "announce", "release"]);
  expect(s.sync.version).toBeUndefined();
  await synced(s, 4, [row(0, 3), row(1, 4)]);
  expect(s.log.slice(3)).toEqual(["all", "announce", "release"]);
  await s.sync.sync(4);
  expect(s.log).toHaveLength(6);
  expect(partitions(s.owned)).toEqual(["0@3", "1@4"]);
});

test("after forget() the next sync reads every row again, and the partitions it does not show are gone", async () => {
  const s = syncing();
  await synced(s, 5, [row(0, 3), row(1, 4)]);
  s.sync.forget();
  expect(s.sync.version).toBeUndefined();
  await synced(s, 5, [row(1, 4)]);
  expect(s.log.slice(3)).toEqual(["all", "announce", "release"]);
  expect(partitions(s.owned)).toEqual(["1@4"]);
  expect(s.member.announced[1]).toEqual([expect.objectContaining({ type: "lost", reason: "taken" })]);
});

test.each([
  ["begun while the member was not active, which it still is not", undefined, undefined],
  ["begun while the member was not active, which it is again when they arrive", undefined, 1],
  ["begun by an active member that fenced itself before they arrived", 0, undefined],
  ["begun by an active member that fenced itself and is active again when they arrive", 0, 1],
])("rows read by a sync %s are thrown away", async (_, spellBefore, spellAfter) => {
  const s = syncing();
  s.member.spell = spellBefore;
  const done = s.sync.sync(5);
  await flush();
  s.member.spell = spellAfter;
  s.reads.all.shift()!.resolve([row(0, 3)]);
  await done;
  expect(s.log).toEqual(["all"]);
  expect(partitions(s.owned)).toEqual([]);
  expect(s.sync.version).toBeUndefined();
});

test("rows read within one spell of being active are applied", async () => {
  const s = syncing();
  s.member.spell = 3;
  await synced(s, 5, [row(0, 3)]);
  expect(partitions(s.owned)).toEqual(["0@3"]);
});

test("a release request read is handed on to be stopped and confirmed, after the announcement", async () => {
  const s = syncing();
  await synced(s, 5, [row(0, 3)]);
  await synced(s, 6, [row(0, 3, ReleaseRequested)]);
  expect(s.log.slice(3)).toEqual(["since 5", "announce", "release"]);
  const [toRelease, toConfirm] = s.member.released[1]!;
  expect(toRelease.map((o) => o.partition.partition)).toEqual([0]);
  expect(toConfirm).toEqual([]);
  expect(s.member.announced[1]).toEqual([expect.objectContaining({ type: "release-requested", targetNodeId: "other" })]);
});

test("while a release waits for its confirmation, a read of changes also reads the requests still held: a forced one is dropped", async () => {
  const s = syncing();
  await synced(s, 5, [row(0, 3), row(1, 4)]);
  await synced(s, 6, [row(0, 3, ReleaseRequested), row(1, 4, ReleaseRequested)]);
  expect(s.owned.awaitsConfirmation()).toBe(true);
  const done = s.sync.sync(7);
  await flush();
  s.reads.changedSince.shift()!.resolve([]);
  await flush();
  expect(s.log.slice(6)).toEqual(["since 6", "release requests"]);
  s.reads.releaseRequests.shift()!.resolve([{ domain: "d", taskList: "t", partitionId: 1, generation: 4 }]);
  await done;
  expect(partitions(s.owned)).toEqual(["1@4"]);
  expect(s.member.announced[2]).toEqual([expect.objectContaining({ type: "lost", reason: "taken" })]);
});

test("the requests still held are not read when no release waits, nor by a read of every row", async () => {
  const s = syncing();
  await synced(s, 5, [row(0, 3)]);
  await synced(s, 6, [row(1, 4)]);
  expect(s.log).not.toContain("release requests");
  await synced(s, 7, [row(0, 3, ReleaseRequested)]);
  s.sync.forget();
  await synced(s, 8, [row(0, 3, ReleaseRequested)]);
  expect(s.log).not.toContain("release requests");
  expect(partitions(s.owned)).toEqual(["0@3"]);
});

test("syncs run one at a time: the second reads after the first applied, from the version it read", async () => {
  const s = syncing();
  const first = s.sync.sync(5);
  const second = s.sync.sync(6);
  await flush();
  expect(s.log).toEqual(["all"]);
  s.reads.all.shift()!.resolve([row(0, 3)]);
  await first;
  await flush();
  expect(s.log).toEqual(["all", "announce", "release", "since 5"]);
  s.reads.changedSince.shift()!.resolve([row(1, 4)]);
  await second;
  expect(s.sync.version).toBe(6);
});

test("a sync queued behind one that read its version reads nothing", async () => {
  const s = syncing();
  const first = s.sync.sync(5);
  const second = s.sync.sync(5);
  await flush();
  s.reads.all.shift()!.resolve([row(0, 3)]);
  await Promise.all([first, second]);
  expect(s.log).toEqual(["all", "announce", "release"]);
});

test("a failed read rejects its sync and changes nothing; the next sync runs; settled() never rejects", async () => {
  const s = syncing();
  await synced(s, 5, [row(0, 3)]);
  const failed = s.sync.sync(6);
  await flush();
  s.reads.changedSince.shift()!.reject(new Error("read timed out"));
  await expect(failed).rejects.toThrow("read timed out");
  await expect(s.sync.settled()).resolves.toBeUndefined();
  expect(s.sync.version).toBe(5);
  expect(s.member.announced).toHaveLength(1);
  await synced(s, 6, [row(1, 4)]);
  expect(s.log.slice(3)).toEqual(["since 5", "since 5", "announce", "release"]);
  expect(partitions(s.owned)).toEqual(["0@3", "1@4"]);
});

test("a failed read of the requests still held rejects the sync and applies none of its rows", async () => {
  const s = syncing();
  await synced(s, 5, [row(0, 3)]);
  await synced(s, 6, [row(0, 3, ReleaseRequested)]);
  const failed = s.sync.sync(7);
  await flush();
  s.reads.changedSince.shift()!.resolve([row(1, 4)]);
  await flush();
  s.reads.releaseRequests.shift()!.reject(new Error("read timed out"));
  await expect(failed).rejects.toThrow("read timed out");
  expect(partitions(s.owned)).toEqual(["0@3"]);
  expect(s.sync.version).toBe(6);
});

test("settled() waits for the sync under way", async () => {
  const s = syncing();
  const done = s.sync.sync(5);
  let settled = false;
  void s.sync.settled().then(() => (settled = true));
  await flush();
  expect(settled).toBe(false);
  s.reads.all.shift()!.resolve([]);
  await done;
  await flush();
  expect(settled).toBe(true);
});
