// What maintenance and placements, an operator's acts on a cluster, share.
import { hostname } from "node:os";

/** An operator's act is part of what the leader plans from: making or ending one moves the catalog counter, so the leader looks again at once. */
export const CATALOG_CHANGED = { membership: 0, catalog: 1, ownership: 0 } as const;

/** Who acts when the caller does not say: this process, `host:pid`. */
export const defaultActor = (): string => `${hostname()}:${process.pid}`;
