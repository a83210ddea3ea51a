import {
  checkMs,
  checkOptions,
  type DatabaseSource,
  type LongTimeout,
  orDefault,
  PartitionState,
  SafeEmitter,
  setLongTimeout,
} from "@helix/db/internal";

import type { ClusterOptions } from "./catalog";
import { partitionKey } from "./keys";
import { checkName, checkPartition } from "./validate";
import { createOwnershipStore, type OwnershipStore } from "./store";

/** Events of a {@link RoutingTable}. */
export interface RoutingEvents {
  /** The table was reloaded after the ownership table changed. */
  "routing:changed": [
    info: {
      /** The ownership change counter the table was read at. */
      ownershipVersion: number;
      /** How many partitions have an owner in the table. */
      partitions: number;
    },
  ];
  /** A refresh failed; the table keeps its last contents and tries again. */
  "routing:error": [error: Error];
}

/**
 * A read-only view of who owns which partition, for request routers. It polls one row (the
 * cluster's ownership version) every `refreshMs` and reloads the table only when that changed.
 * A listener that throws does not stop the refreshes (see `SafeEmitter`).
 */
export class RoutingTable extends SafeEmitter<RoutingEvents> implements AsyncDisposable {
  #owners = new Map<string, string>();
  #version = -1;
  #timer: LongTimeout | undefined;
  /** The background refresh in flight (or the last one): close() waits for it. */
  #refreshing: Promise<void> = Promise.resolve();
  #closed = false;

  /** @internal Use {@link createRoutingTable}. */
  constructor(
    private readonly store: OwnershipStore,
    private readonly refreshMs: number,
  ) {
    super();
  }

  /** The member that owns a partition now (also while it is being released), or undefined. */
  ownerOf(domain: string, taskList: string, partition: number): string | undefined {
    return this.#owners.get(partitionKey(checkName("domain", domain), checkName("taskList", taskList), checkPartition(partition)));
  }

  /** The ownership version the table reflects. */
  get version(): number {
    return this.#version;
  }

  /** Checks the version now and reloads if it moved. @returns whether the table changed. */
  async refresh(): Promise<boolean> {
    const { ownership } = await this.store.counters();
    if (ownership === this.#version) return false;
    const rows = await this.store.partitions();
    const owners = new Map<string, string>();
    for (const r of rows) {
      if (r.nodeId !== null && (r.state === PartitionState.Assigned || r.state === PartitionState.ReleaseRequested)) {
        owners.set(partitionKey(r.domain, r.taskList, r.partition), r.nodeId);
      }
    }
    this.#owners = owners;
    this.#version = ownership;
    this.emit("routing:changed", { ownershipVersion: ownership, partitions: this.#owners.size });
    return true;
  }

  /** @internal Refreshes every `refreshMs` until closed. */
  start(): void {
    if (this.#closed) return;
    this.#timer = setLongTimeout(() => {
      this.#refreshing = this.refresh().then(
        () => this.start(),
        (error: unknown) => {
          this.start();
          this.emit("routing:error", error as Error);
        },
      );
    }, this.refreshMs).unref();
  }

  /** Stops refreshing (waiting for a refresh in flight) and closes the pool if the table made it. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#timer?.clear();
    await this.#refreshing;
    await this.store.close();
  }

  /** Same as {@link RoutingTable.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Loads a cluster's routing table and keeps it fresh. */
export async function createRoutingTable(
  source: DatabaseSource,
  options: ClusterOptions & { /** @default 1000 */ refreshMs?: number },
): Promise<RoutingTable> {
  const refreshMs = checkMs("refreshMs", orDefault(checkOptions("options", options).refreshMs, 1000), 10, 3_600_000);
  const store = await createOwnershipStore(source, options);
  const table = new RoutingTable(store, refreshMs);
  try {
    await table.refresh();
  } catch (error) {
    await store.close();
    throw error;
  }
  table.start();
  return table;
}
