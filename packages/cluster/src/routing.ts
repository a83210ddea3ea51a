import { EventEmitter } from "node:events";

import { checkMs, PartitionState, type DatabaseSource } from "@helix/db";

import type { ClusterOptions } from "./catalog";
import { partitionKey } from "./keys";
import { createOwnershipStore, type OwnershipStore } from "./store";

/** Events of a {@link RoutingTable}. */
export interface RoutingEvents {
  /** The table was reloaded after the ownership table changed. */
  "routing:changed": [info: { ownershipVersion: number; partitions: number }];
  /** A refresh failed; the table keeps its last contents and tries again. */
  "routing:error": [error: Error];
}

/**
 * A read-only view of who owns which partition, for request routers. It polls one row (the
 * cluster's ownership version) every `refreshMs` and reloads the table only when that changed.
 */
export class RoutingTable extends EventEmitter<RoutingEvents> implements AsyncDisposable {
  #owners = new Map<string, string>();
  #version = -1;
  #timer: NodeJS.Timeout | undefined;
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
    return this.#owners.get(partitionKey(domain, taskList, partition));
  }

  /** The ownership version the table reflects. */
  get version(): number {
    return this.#version;
  }

  /** Checks the version now and reloads if it moved. @returns whether the table changed. */
  async refresh(): Promise<boolean> {
    const { ownership } = await this.store.versions();
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

  /** @internal */
  start(): void {
    const tick = (): void => {
      this.refresh().then(
        () => undefined,
        (error: unknown) => this.emit("routing:error", error as Error),
      ).finally(() => {
        if (!this.#closed) {
          this.#timer = setTimeout(tick, this.refreshMs);
          this.#timer.unref();
        }
      });
    };
    this.#timer = setTimeout(tick, this.refreshMs);
    this.#timer.unref();
  }

  /** Stops refreshing and closes the pool if the table made it. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.store.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Loads a cluster's routing table and keeps it fresh. */
export async function createRoutingTable(
  source: DatabaseSource,
  options: ClusterOptions & { /** @default 1000 */ refreshMs?: number },
): Promise<RoutingTable> {
  const refreshMs = checkMs("refreshMs", options?.refreshMs ?? 1000, 10, 3_600_000);
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
