import type { clusterQueries } from "@helix/db/internal";

import type { PartitionChange } from "./member-events";
import type { Ownership } from "./owned";
import type { OwnedPartitions } from "./owned-partitions";

/** The reads a sync makes of the member's rows, each bounded by the time left before it must stop. */
export interface MemberReads {
  /** Every row of this incarnation (`ListProcessOwnership`). */
  all(): Promise<clusterQueries.ListProcessOwnershipRow[]>;
  /** The rows stamped above assignment version `since` (`ListProcessOwnershipChanges`). */
  changedSince(since: number): Promise<clusterQueries.ListProcessOwnershipChangesRow[]>;
  /** The release requests this incarnation still holds (`ListProcessReleaseRequests`). */
  releaseRequests(): Promise<clusterQueries.ListProcessReleaseRequestsRow[]>;
}

/** What a member lends its sync. */
export interface SyncHost {
  readonly reads: MemberReads;
  /**
   * Which spell of being active the member is in, checking its deadline first (a count of its
   * fences), or undefined when it is not active.
   */
  activeSpell(): number | undefined;
  /** Announces what a sync applied. */
  announce(changes: (PartitionChange | null)[]): void;
  /**
   * Release requests that arrived (their work stopped already) and releases whose confirmation was
   * lost: the member stops and confirms them, or sends the confirmation again.
   */
  release(toRelease: Ownership[], toConfirm: Ownership[]): void;
}

/**
 * Keeps a member's partitions as of an assignment version: reads what changed in its rows and
 * applies it, one sync at a time. The whole sync is applied before any of it is announced: a
 * listener sees every partition of the sync, and a listener's mischief (leaving, say) cannot cut it
 * short.
 *
 * A member that has read its rows as of assignment version V reads only the rows stamped above V
 * (`ListProcessOwnershipChanges`): every write that gives it a partition or asks it to release one
 * stamps the row above any version it can have read before (see `ownership/partitions.ts`,
 * `LockedMember`). Rows that leave it without such a stamp are the ones it gave up itself (a
 * confirmed release, a leave) or lost while it was fenced, after which it reads all its rows again
 * ({@link forget}); and a release it was asked for and did not confirm in time, whose work stopped
 * when the request arrived (its confirmation, refused, drops it).
 */
export class PartitionSync {
  readonly #owned: OwnedPartitions;
  readonly #host: SyncHost;
  #version: number | undefined;
  #syncing: Promise<void> = Promise.resolve();

  constructor(owned: OwnedPartitions, host: SyncHost) {
    this.#owned = owned;
    this.#host = host;
  }

  /** The assignment version the member's partitions are known as of; undefined: the next sync reads every row. */
  get version(): number | undefined {
    return this.#version;
  }

  /** The next sync reads every row: after a fence, a rejoin, a confirmation that did not arrive. */
  forget(): void {
    this.#version = undefined;
  }

  /**
   * Reads and applies the member's rows as of `version` (undefined: the version is not known),
   * after the sync under way. Rejects when a read fails, leaving the partitions and the version as
   * they were.
   */
  sync(version: number | undefined): Promise<void> {
    const done = this.#syncing.then(() => this.#syncOnce(version));
    this.#syncing = done.catch(() => undefined);
    return done;
  }

  /** Waits for the sync under way, if any (never rejects). */
  settled(): Promise<void> {
    return this.#syncing;
  }

  async #syncOnce(version: number | undefined): Promise<void> {
    // Only rows read within the member's current spell of being active may be applied: rows read
    // before or during a fence may show partitions given away meanwhile (its registration lapsed,
    // then a heartbeat found it live again). A rejoin reads again.
    const spell = this.#host.activeSpell();
    const since = this.#version;
    // A sync queued behind another (a heartbeat's behind a watch's) may find it read this version.
    if (since !== undefined && since === version) return;
    const { reads } = this.#host;
    const rows = since === undefined ? await reads.all() : await reads.changedSince(since);
    // Releases asked of this member and not yet confirmed may have been forced meanwhile: a take
    // moves the member's version but leaves it no row to read.
    const stillAsked = since !== undefined && this.#owned.awaitsConfirmation() ? await reads.releaseRequests() : undefined;
    if (spell === undefined || this.#host.activeSpell() !== spell) return;
    const { changes, toRelease, toConfirm } = this.#owned.apply(rows, since === undefined, stillAsked);
    this.#version = version;
    this.#host.announce(changes);
    this.#host.release(toRelease, toConfirm);
  }
}
