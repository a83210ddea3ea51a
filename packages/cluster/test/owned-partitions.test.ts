// What a member does with a read of its rows: which partitions it gains, which it loses, which it
// must stop for a release, and which confirmations it sends again. No database: the rows are given.
import { PartitionState } from "@helix/db/internal";

import type { PartitionChange } from "../src/member-events";
import { newOwnership, type Ownership } from "../src/owned";
import { OwnedPartitions } from "../src/owned-partitions";

const { Unassigned, Assigned, ReleaseRequested, Released } = PartitionState;

/** A row of the member's partitions, task list "d"/"t". */
const row = (partitionId: number, generation: number, state: number = Assigned, targetNodeId: string | null = null) => ({
  domain: "d",
  taskList: "t",
  partitionId,
  state,
  generation,
  targetNodeId,
});

/** A release request the member still holds. */
const asked = (partitionId: number, generation: number) => ({ domain: "d", taskList: "t", partitionId, generation });

const made = (): OwnedPartitions =>
  new OwnedPartitions((domain, taskList, partition, generation) =>
    newOwnership(
      { cluster: "c", domain, taskList, partition, nodeId: "n", incarnation: "i", generation },
      () => true,
      () => Promise.resolve("mariadb"),
    ),
  );

/** A change as type, partition, generation (and reason or target). */
const brief = (change: PartitionChange | null): string | null => {
  if (change === null) return null;
  const p = `${change.partition.partition}@${change.partition.generation}`;
  if (change.type === "lost") return `lost ${p} ${change.reason}`;
  if (change.type === "release-requested") return `release-requested ${p} to ${change.targetNodeId}`;
  return `${change.type} ${p}`;
};

const partitions = (owned: OwnedPartitions): string[] => owned.all().map((o) => `${o.partition.partition}@${o.partition.generation}`);

const ownership = (owned: OwnedPartitions, partition: number): Ownership => owned.get("d", "t", partition)!;

test("a first read gives the member its assigned partitions, in order, each announced", () => {
  const owned = made();
  const applied = owned.apply([row(2, 5), row(0, 3)], true, undefined);
  expect(applied.changes.map(brief)).toEqual(["assigned 2@5", "assigned 0@3"]);
  expect(applied.toRelease).toEqual([]);
  expect(applied.toConfirm).toEqual([]);
  expect(partitions(owned)).toEqual(["2@5", "0@3"]);
  expect(ownership(owned, 0).partition).toMatchObject({ domain: "d", taskList: "t", partition: 0, generation: 3, incarnation: "i" });
  expect(owned.get("d", "t", 1)).toBeUndefined();
  expect(owned.get("d", "x", 0)).toBeUndefined();
});

test("a row read again at the same generation changes nothing", () => {
  const owned = made();
  owned.apply([row(0, 3)], true, undefined);
  const first = ownership(owned, 0);
  expect(owned.apply([row(0, 3)], true, undefined).changes).toEqual([]);
  expect(ownership(owned, 0)).toBe(first);
  expect(first.partition.isOwned()).toBe(true);
});

test("a partition given again at a new generation: the old ownership is lost (taken), the new one assigned", () => {
  const owned = made();
  owned.apply([row(0, 3)], true, undefined);
  const old = ownership(owned, 0);
  const applied = owned.apply([row(0, 4)], false, undefined);
  expect(applied.changes.map(brief)).toEqual(["lost 0@3 taken", "assigned 0@4"]);
  expect(old.partition.signal.aborted).toBe(true);
  expect((old.partition.signal.reason as Error).message).toBe("partition lost (taken)");
  expect(ownership(owned, 0).partition.generation).toBe(4);
  expect(ownership(owned, 0).partition.isOwned()).toBe(true);
});

test("a full read drops the partitions it does not show; a read of changes keeps them", () => {
  const owned = made();
  owned.apply([row(0, 1), row(1, 1), row(2, 1)], true, undefined);
  expect(owned.apply([row(3, 1)], false, undefined).changes.map(brief)).toEqual(["assigned 3@1"]);
  expect(partitions(owned)).toEqual(["0@1", "1@1", "2@1", "3@1"]);
  expect(owned.apply([row(1, 1)], true, undefined).changes.map(brief)).toEqual(["lost 0@1 taken", "lost 2@1 taken", "lost 3@1 taken"]);
  expect(partitions(owned)).toEqual(["1@1"]);
});

describe("a row no longer assigned to the member", () => {
  for (const state of [Released, Unassigned]) {
    test(`(state ${state}) at the ownership's generation ends it as taken, unless its confirmation is on its way`, () => {
      const owned = made();
      owned.apply([row(0, 3), row(1, 3)], true, undefined);
      ownership(owned, 1).confirming = true;
      const applied = owned.apply([row(0, 3, state), row(1, 3, state)], false, undefined);
      expect(applied.changes.map(brief)).toEqual(["lost 0@3 taken"]);
      expect(partitions(owned)).toEqual(["1@3"]);
    });
  }

  test("at another generation, or of a partition the member does not have, changes nothing and adds nothing", () => {
    const owned = made();
    owned.apply([row(0, 3)], true, undefined);
    const applied = owned.apply([row(0, 2, Released), row(5, 1, Released)], false, undefined);
    expect(applied.changes).toEqual([]);
    expect(partitions(owned)).toEqual(["0@3"]);
  });

  test("is not seen: a full read that shows it released drops the ownership even while confirming", () => {
    const owned = made();
    owned.apply([row(0, 3)], true, undefined);
    ownership(owned, 0).confirming = true;
    expect(owned.apply([row(0, 3, Released)], true, undefined).changes.map(brief)).toEqual(["lost 0@3 taken"]);
  });
});

describe("release requests", () => {
  test("stop the partition's work at once, are announced with their target, and wait for onRelease and a confirmation", () => {
    const owned = made();
    owned.apply([row(0, 3)], true, undefined);
    const o = ownership(owned, 0);
    const applied = owned.apply([row(0, 3, ReleaseRequested, "other")], false, undefined);
    expect(applied.changes.map(brief)).toEqual(["release-requested 0@3 to other"]);
    expect(applied.toRelease).toEqual([o]);
    expect(applied.toConfirm).toEqual([]);
    expect(o.releasing).toBe(true);
    expect((o.partition.signal.reason as Error).message).toBe("release requested");
    expect(partitions(owned)).toEqual(["0@3"]);
    expect(owned.awaitsConfirmation()).toBe(true);
  });

  test("of a partition read for the first time: assigned, then asked to release", () => {
    const owned = made();
    const applied = owned.apply([row(0, 3, ReleaseRequested, null)], true, undefined);
    expect(applied.changes.map(brief)).toEqual(["assigned 0@3", "release-requested 0@3 to null"]);
    expect(applied.toRelease).toHaveLength(1);
  });

  test("read again change nothing, until a confirmation was lost: then it is sent again", () => {
    const owned = made();
    owned.apply([row(0, 3, ReleaseRequested)], true, undefined);
    const again = owned.apply([row(0, 3, ReleaseRequested)], false, undefined);
    expect(again).toEqual({ changes: [], toRelease: [], toConfirm: [] });
    const o = ownership(owned, 0);
    o.confirmPending = true;
    expect(owned.apply([row(0, 3, ReleaseRequested)], false, undefined).toConfirm).toEqual([o]);
  });

  test("a pending confirmation is not sent again for a partition that is merely assigned", () => {
    const owned = made();
    owned.apply([row(0, 3)], true, undefined);
    ownership(owned, 0).confirmPending = true;
    expect(owned.apply([row(0, 3)], false, undefined).toConfirm).toEqual([]);
  });

  describe("still held: a release missing from the requests the member still holds was forced", () => {
    /** A member asked to release partitions 0 and 1 (generation 3), which has read partition 2 since. */
    function releasing(): OwnedPartitions {
      const owned = made();
      owned.apply([row(0, 3, ReleaseRequested), row(1, 3, ReleaseRequested), row(2, 3)], true, undefined);
      return owned;
    }

    test("a request no longer held ends its ownership as taken; one still held keeps it", () => {
      const owned = releasing();
      const applied = owned.apply([], false, [asked(1, 3)]);
      expect(applied.changes.map(brief)).toEqual(["lost 0@3 taken"]);
      expect(partitions(owned)).toEqual(["1@3", "2@3"]);
    });

    test("a request held at another generation is not this ownership's", () => {
      const owned = releasing();
      expect(owned.apply([], false, [asked(0, 2), asked(1, 4)]).changes.map(brief)).toEqual(["lost 0@3 taken", "lost 1@3 taken"]);
    });

    test("a release being confirmed, or one the read shows, is left to its answer", () => {
      const owned = releasing();
      ownership(owned, 0).confirming = true;
      expect(owned.apply([row(1, 3, ReleaseRequested)], false, []).changes).toEqual([]);
      expect(partitions(owned)).toEqual(["0@3", "1@3", "2@3"]);
    });

    test("partitions not being released are not looked at", () => {
      const owned = releasing();
      expect(owned.apply([], false, [asked(0, 3), asked(1, 3)]).changes).toEqual([]);
      expect(partitions(owned)).toEqual(["0@3", "1@3", "2@3"]);
    });

    test("without the requests (none read), nothing is dropped", () => {
      const owned = releasing();
      expect(owned.apply([], false, undefined).changes).toEqual([]);
      expect(partitions(owned)).toHaveLength(3);
    });
  });

  test("awaitsConfirmation: only a release asked and not being confirmed", () => {
    const owned = made();
    owned.apply([row(0, 3), row(1, 3)], true, undefined);
    expect(owned.awaitsConfirmation()).toBe(false);
    owned.apply([row(1, 3, ReleaseRequested)], false, undefined);
    expect(owned.awaitsConfirmation()).toBe(true);
    ownership(owned, 1).confirming = true;
    expect(owned.awaitsConfirmation()).toBe(false);
  });
});

describe("drop and dropAll", () => {
  test("drop ends a current ownership once: forgets it, aborts its work, returns the change", () => {
    const owned = made();
    owned.apply([row(0, 3)], true, undefined);
    const o = ownership(owned, 0);
    const change: PartitionChange = { type: "released", partition: o.partition };
    expect(owned.drop(o, change)).toBe(change);
    expect(owned.get("d", "t", 0)).toBeUndefined();
    expect((o.partition.signal.reason as Error).message).toBe("partition released");
    expect(o.partition.isOwned()).toBe(false);
    expect(owned.drop(o, change)).toBeNull();
  });

  test("drop of an ownership replaced since leaves the current one alone", () => {
    const owned = made();
    owned.apply([row(0, 3)], true, undefined);
    const old = ownership(owned, 0);
    owned.apply([row(0, 4)], true, undefined);
    const current = ownership(owned, 0);
    expect(owned.drop(old, { type: "released", partition: old.partition })).toBeNull();
    expect(ownership(owned, 0)).toBe(current);
    expect(current.partition.isOwned()).toBe(true);
  });

  test("dropAll ends every ownership with the reason given", () => {
    const owned = made();
    owned.apply([row(0, 3), row(1, 3)], true, undefined);
    const all = owned.all();
    expect(owned.dropAll("fenced").map(brief)).toEqual(["lost 0@3 fenced", "lost 1@3 fenced"]);
    expect(owned.all()).toEqual([]);
    expect(all.map((o) => (o.partition.signal.reason as Error).message)).toEqual(["partition lost (fenced)", "partition lost (fenced)"]);
    expect(owned.dropAll("left")).toEqual([]);
  });
});
