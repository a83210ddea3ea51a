// Row locks and selections shared by the ownership table's bulk writes.
import { clusterQueries as q, type QueryClient } from "@helix/db/internal";

/** A partition's row as {@link lockPartitions} locked it. */
export type LockedPartition = Awaited<ReturnType<typeof q.lockPartitions>>[number];

/**
 * Locks the rows of some partitions of one task list until the transaction ends (one statement)
 * and returns them by partition: a bulk write may then name those it found as its caller saw them,
 * knowing that none changes before it.
 */
export async function lockPartitions(
  conn: QueryClient,
  list: { cluster: string; domain: string; taskList: string },
  partitionIds: readonly number[],
): Promise<Map<number, LockedPartition>> {
  const rows = await q.lockPartitions(conn, { ...list, partitionIds });
  return new Map(rows.map((row) => [row.partitionId, row]));
}

/**
 * Keeps the items whose partition's locked row is at the generation the item names and passes
 * `also`, each partition once (the first such item): a bulk statement writes a row at most once.
 */
export function asSeen<I extends { partition: number; generation: number }>(
  items: readonly I[],
  locked: ReadonlyMap<number, LockedPartition>,
  also: (item: I, row: LockedPartition) => boolean,
): I[] {
  const taken = new Set<number>();
  return items.filter((item) => {
    const row = locked.get(item.partition);
    if (row === undefined || row.generation !== item.generation || taken.has(item.partition) || !also(item, row)) return false;
    taken.add(item.partition);
    return true;
  });
}

/** The first of `items` naming each partition, in their order. */
export function firstPerPartition<I extends { partition: number }>(items: readonly I[]): I[] {
  const named = new Set<number>();
  const firsts: I[] = [];
  for (const item of items) {
    if (named.has(item.partition)) continue;
    named.add(item.partition);
    firsts.push(item);
  }
  return firsts;
}

/** `items` grouped by `key`, groups and items in their first order. */
export function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group === undefined) groups.set(k, [item]);
    else group.push(item);
  }
  return groups;
}
