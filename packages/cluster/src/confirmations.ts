import { transaction, type ConnectionSource } from "@helix/db/internal";

import type { OwnedPartition } from "./member-events";
import { confirmReleases } from "./ownership";

/**
 * A member's release confirmations, sent together: those asked for in the same turn of the event
 * loop (a sync that found many release requests, say) go to the database in one transaction,
 * rather than one transaction each.
 */
export class ConfirmationBatch {
  readonly #client: ConnectionSource;
  readonly #member: { cluster: string; nodeId: string };
  #pending: { partition: OwnedPartition; settle: (confirmed: Promise<boolean>) => void }[] = [];

  /** @param member - whose releases these are; each partition names its own incarnation. */
  constructor(client: ConnectionSource, member: { cluster: string; nodeId: string }) {
    this.#client = client;
    this.#member = member;
  }

  /** Confirms one partition's release with the others of this turn; resolves to whether it was. */
  confirm(partition: OwnedPartition): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      if (this.#pending.length === 0) setImmediate(() => this.#flush());
      this.#pending.push({ partition, settle: resolve });
    });
  }

  #flush(): void {
    const batch = this.#pending;
    this.#pending = [];
    const sent = this.#send(batch.map((b) => b.partition));
    for (const { partition, settle } of batch) settle(sent.then((confirmed) => confirmed.has(partition)));
  }

  /** Confirms the partitions in one transaction; resolves to those it confirmed. */
  async #send(partitions: readonly OwnedPartition[]): Promise<ReadonlySet<OwnedPartition>> {
    const confirmed = await transaction(this.#client, async (conn) => {
      const done: OwnedPartition[] = [];
      // An ownership belongs to the incarnation it was given to: each confirms its own.
      for (const incarnation of new Set(partitions.map((p) => p.incarnation))) {
        const mine = partitions.filter((p) => p.incarnation === incarnation);
        done.push(...(await confirmReleases(conn, { ...this.#member, incarnation }, mine)).confirmed);
      }
      return done;
    });
    return new Set(confirmed);
  }
}
