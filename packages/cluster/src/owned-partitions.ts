import { PartitionState, type clusterQueries } from "@helix/db/internal";

import { partitionKey } from "./keys";
import type { PartitionChange } from "./member-events";
import { lost, type Ownership } from "./owned";

/** A row of the member's partitions as `ListProcessOwnership` (all of them) reads it; `ListProcessOwnershipChanges` reads the same columns. */
type OwnershipRow = clusterQueries.ListProcessOwnershipRow;

/** A release request the member still holds, as `ListProcessReleaseRequests` reads it. */
type ReleaseRequestRow = clusterQueries.ListProcessReleaseRequestsRow;

/** What applying one read of the member's rows changed, and what it leaves to do. */
export interface AppliedRead {
  /** To announce, in order (null: an ownership that had ended already). */
  changes: (PartitionChange | null)[];
  /** Release requests that arrived: their work is stopped; `onRelease` and a confirmation follow. */
  toRelease: Ownership[];
  /** Releases whose work stopped but whose confirmation was lost: to send again. */
  toConfirm: Ownership[];
}

/**
 * The partitions a member owns, by address: the one place that adds an ownership, ends one, and
 * applies a read of the member's rows to them. Ending an ownership aborts its work at once;
 * announcing it is the member's.
 */
export class OwnedPartitions {
  readonly #byKey = new Map<string, Ownership>();
  readonly #make: (domain: string, taskList: string, partition: number, generation: number) => Ownership;

  /** @param make - a new ownership of the member's current incarnation. */
  constructor(make: (domain: string, taskList: string, partition: number, generation: number) => Ownership) {
    this.#make = make;
  }

  /** The ownership of a partition, if the member has one. */
  get(domain: string, taskList: string, partition: number): Ownership | undefined {
    return this.#byKey.get(partitionKey(domain, taskList, partition));
  }

  /** Every ownership, in the order they were added. */
  all(): Ownership[] {
    return [...this.#byKey.values()];
  }

  /**
   * Ends an ownership that is still current: forgets it and aborts its work.
   * @returns the change to announce, or null when the ownership had ended already.
   */
  drop(ownership: Ownership, change: PartitionChange): PartitionChange | null {
    const p = ownership.partition;
    const key = partitionKey(p.domain, p.taskList, p.partition);
    if (this.#byKey.get(key) !== ownership) return null;
    this.#byKey.delete(key);
    ownership.abort(new Error(change.type === "lost" ? `partition lost (${change.reason})` : "partition released"));
    return change;
  }

  /** Ends every ownership with the same reason (a fence, a leave). */
  dropAll(reason: "fenced" | "left"): (PartitionChange | null)[] {
    return this.all().map((o) => this.drop(o, lost(o, reason)));
  }

  /**
   * Applies a read of the member's rows. `full`: the read was of all its rows (not only those
   * changed since a version), so the partitions it does not show are gone. `stillAsked`: the
   * release requests the member still holds, read when some of its releases wait for a
   * confirmation: the releasing partitions missing from it were taken without one (forced).
   */
  apply(rows: readonly OwnershipRow[], full: boolean, stillAsked: readonly ReleaseRequestRow[] | undefined): AppliedRead {
    const seen = new Set<string>();
    const applied: AppliedRead = { changes: [], toRelease: [], toConfirm: [] };
    const { changes } = applied;
    for (const row of rows) {
      const key = partitionKey(row.domain, row.taskList, row.partitionId);
      let ownership = this.#byKey.get(key);
      if (row.state !== PartitionState.Assigned && row.state !== PartitionState.ReleaseRequested) {
        // Released by this process, its confirmation's reply lost (one on its way says so itself).
        if (ownership !== undefined && ownership.partition.generation === row.generation && !ownership.confirming) {
          changes.push(this.drop(ownership, lost(ownership, "taken")));
        }
        continue;
      }
      seen.add(key);
      if (ownership !== undefined && ownership.partition.generation !== row.generation) {
        changes.push(this.drop(ownership, lost(ownership, "taken")));
        ownership = undefined;
      }
      if (ownership === undefined) {
        ownership = this.#make(row.domain, row.taskList, row.partitionId, row.generation);
        this.#byKey.set(key, ownership);
        changes.push({ type: "assigned", partition: ownership.partition });
      }
      if (row.state === PartitionState.ReleaseRequested && !ownership.releasing) {
        ownership.releasing = true;
        ownership.abort(new Error("release requested"));
        changes.push({ type: "release-requested", partition: ownership.partition, targetNodeId: row.targetNodeId });
        applied.toRelease.push(ownership);
      } else if (row.state === PartitionState.ReleaseRequested && ownership.confirmPending) {
        // The work stopped but the confirmation was lost (a dropped connection): send it again, or
        // the hand-off would wait for the force timeout.
        applied.toConfirm.push(ownership);
      }
    }
    if (full) {
      for (const [key, ownership] of this.#byKey) {
        if (!seen.has(key)) changes.push(this.drop(ownership, lost(ownership, "taken")));
      }
    } else if (stillAsked !== undefined) {
      const asked = new Set(stillAsked.map((r) => `${partitionKey(r.domain, r.taskList, r.partitionId)}\0${r.generation}`));
      for (const [key, ownership] of this.#byKey) {
        const gone = !asked.has(`${key}\0${ownership.partition.generation}`);
        if (ownership.releasing && !ownership.confirming && !seen.has(key) && gone) {
          changes.push(this.drop(ownership, lost(ownership, "taken")));
        }
      }
    }
    return applied;
  }

  /** Whether a release asked of the member waits for a confirmation it has not sent. */
  awaitsConfirmation(): boolean {
    return this.all().some((o) => o.releasing && !o.confirming);
  }
}
