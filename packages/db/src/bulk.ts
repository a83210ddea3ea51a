/**
 * Most rows one multi-row statement names (an `IN` list of `sqlc.slice`, or the tuples of a
 * `:copyfrom` INSERT): large enough that a round trip carries two thousand changes, small enough that
 * a statement stays within a few hundred kilobytes, far under any server's `max_allowed_packet`, and finishes
 * within milliseconds, inside every statement timeout.
 */
export const MAX_ROWS_PER_STATEMENT = 2000;

/** `items` in consecutive runs of at most `size` (the last may be shorter). */
export function chunks<T>(items: readonly T[], size: number = MAX_ROWS_PER_STATEMENT): T[][] {
  const runs: T[][] = [];
  for (let at = 0; at < items.length; at += size) runs.push(items.slice(at, at + size));
  return runs;
}
