import type { OwnedPartition } from "./member-events";

/**
 * A member's release confirmations, sent together: those asked for in the same turn of the event
 * loop (a sync that found many release requests, say) go to the database in one `send`, one
 * transaction, rather than one transaction each.
 */
export class ConfirmationBatch {
  readonly #send: (partitions: readonly OwnedPartition[]) => Promise<ReadonlySet<OwnedPartition>>;
  #pending: { partition: OwnedPartition; settle: (confirmed: Promise<boolean>) => void }[] = [];

  /** @param send - confirms the partitions; resolves to those it confirmed. */
  constructor(send: (partitions: readonly OwnedPartition[]) => Promise<ReadonlySet<OwnedPartition>>) {
    this.#send = send;
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
}
