import { ClosedError, createCatalog, createOwnershipStore, type Catalog, type OwnershipStore } from "@helix/coordinator";
import { guardClient, type ConnectionSource } from "@helix/db/internal";

/** What the registry keeps open: a catalog or an ownership store. */
interface Closable {
  close(): Promise<void>;
}

/**
 * The catalog and ownership store of each cluster on one pool, opened the first time they are asked
 * for and kept until {@link ClusterRegistry.close}. Opening one checks the schema (a round trip and
 * a read of helix_schema_migrations), which status reads and HTTP requests should not pay each time.
 * The service shares one registry between its status reader and its HTTP handler.
 */
export class ClusterRegistry implements AsyncDisposable {
  /** The pool everything is opened on; the caller keeps and ends it, after closing the registry. */
  readonly pool: ConnectionSource;
  readonly #catalogs = new Map<string, Promise<Catalog>>();
  readonly #stores = new Map<string, Promise<OwnershipStore>>();
  #closed = false;

  constructor(pool: ConnectionSource) {
    // Reads made here directly (the server clock, the leader, the audit trail) follow the same error
    // policy as the catalogs and stores opened on it.
    this.pool = guardClient(pool);
  }

  /**
   * The cluster's catalog, opened on first use.
   * @throws what `createCatalog` throws (`SchemaNotMigratedError`, ...; the next call tries again);
   *   `ClosedError` once the registry is closed.
   */
  catalog(cluster: string): Promise<Catalog> {
    return this.#get(this.#catalogs, cluster, () => createCatalog(this.pool, { cluster }));
  }

  /**
   * The cluster's ownership store, opened on first use.
   * @throws as {@link ClusterRegistry.catalog} does.
   */
  store(cluster: string): Promise<OwnershipStore> {
    return this.#get(this.#stores, cluster, () => createOwnershipStore(this.pool, { cluster }));
  }

  /** Closes everything the registry opened (not the pool); later calls throw `ClosedError`. */
  async close(): Promise<void> {
    this.#closed = true;
    const opened = [...this.#catalogs.values(), ...this.#stores.values()];
    this.#catalogs.clear();
    this.#stores.clear();
    for (const handle of opened) await (await handle.catch(() => undefined))?.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #get<T extends Closable>(cache: Map<string, Promise<T>>, cluster: string, open: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new ClosedError("cluster registry"));
    let handle = cache.get(cluster);
    if (handle === undefined) {
      // The promise is kept, not its result, so that requests arriving together open one handle.
      // A failed open is forgotten: the next caller tries again (the schema may be migrated by then).
      handle = open();
      cache.set(cluster, handle);
      handle.catch(() => {
        if (cache.get(cluster) === handle) cache.delete(cluster);
      });
    }
    return handle;
  }
}
