// The cluster's change counters: what readers watch to learn that something changed.
import { clusterQueries as q, coordinatorQueries as cq, type QueryClient } from "@helix/db/internal";

/** The cluster's change counters; as what a write returns, how much it moved each. */
export interface ChangeCounters {
  /** Moves when a member joins, leaves, expires or is deleted. */
  readonly membership: number;
  /** Moves when a task list is created, changed or removed. */
  readonly catalog: number;
  /** Moves when a partition's owner or state changes. */
  readonly ownership: number;
}

/** No counter moved. */
export const NO_CHANGE: ChangeCounters = Object.freeze({ membership: 0, catalog: 0, ownership: 0 });

/** The sum of two sets of counters (or of bumps). */
export const addCounters = (a: ChangeCounters, b: ChangeCounters): ChangeCounters => ({
  membership: a.membership + b.membership,
  catalog: a.catalog + b.catalog,
  ownership: a.ownership + b.ownership,
});

/** Reads the cluster's change counters (all 0 for a cluster that has seen no change). */
export async function readCounters(client: QueryClient, cluster: string): Promise<ChangeCounters> {
  const row = await q.getClusterState(client, { cluster });
  return { membership: row?.membershipVersion ?? 0, catalog: row?.catalogVersion ?? 0, ownership: row?.ownershipVersion ?? 0 };
}

/** Makes the counters row of a cluster exist (watchers read it), changing nothing when it does. */
export async function ensureCounters(client: QueryClient, cluster: string): Promise<void> {
  await cq.ensureClusterState(client, { cluster });
}

/** Moves the counters by `bumps` (each at most by one statement) and returns them. */
export async function bump(conn: QueryClient, cluster: string, bumps: ChangeCounters): Promise<ChangeCounters> {
  if (bumps.membership > 0) await q.bumpMembershipVersion(conn, { cluster });
  if (bumps.catalog > 0) await q.bumpCatalogVersion(conn, { cluster });
  if (bumps.ownership > 0) await q.bumpOwnershipVersion(conn, { cluster });
  return bumps;
}
