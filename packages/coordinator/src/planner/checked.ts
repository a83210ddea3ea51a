/**
 * Reads of arrays at indices the planner computed itself (member, task list, node and edge indices),
 * which are in range by construction. `noUncheckedIndexedAccess` cannot know that, so instead of
 * asserting it with `!` the planner checks: an out-of-range read is a bug in the planner, and it fails
 * here, loudly, rather than turning into NaN or a wrong member further on.
 */

/** The value read at an index that is in range by construction; throws when it is missing. */
export function checked<T>(value: T | undefined): T {
  if (value === undefined) throw new Error("planner: internal error: an array was read out of range");
  return value;
}

/** Adds `amount` to `array[index]`, an index in range by construction. */
export function addAt(array: Int32Array | Float64Array, index: number, amount: number): void {
  array[index] = checked(array[index]) + amount;
}
