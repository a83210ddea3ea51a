import { checked } from "./checked";

/**
 * A binary min-heap of (key, value) pairs of numbers, for the flow network's Dijkstra's algorithm.
 * Pairs with equal keys come out in no particular order.
 */
export class MinHeap {
  // Two parallel arrays rather than an array of pairs: no object per entry.
  readonly #keys: number[] = [];
  readonly #values: number[] = [];

  /** How many pairs the heap holds. */
  get size(): number {
    return this.#keys.length;
  }

  /** Adds a pair. */
  push(key: number, value: number): void {
    const keys = this.#keys;
    const values = this.#values;
    // Sift up: move parents with larger keys down into the hole until the pair fits.
    let hole = keys.length;
    keys.push(key);
    values.push(value);
    while (hole > 0) {
      const parent = (hole - 1) >> 1;
      const parentKey = checked(keys[parent]);
      if (parentKey <= key) break;
      keys[hole] = parentKey;
      values[hole] = checked(values[parent]);
      hole = parent;
    }
    keys[hole] = key;
    values[hole] = value;
  }

  /**
   * Removes and returns a pair with the smallest key, as `[key, value]`.
   * @throws Error when the heap is empty.
   */
  pop(): [key: number, value: number] {
    const keys = this.#keys;
    const values = this.#values;
    const lastKey = keys.pop();
    const lastValue = values.pop();
    if (lastKey === undefined || lastValue === undefined) throw new Error("planner: internal error: pop from an empty heap");
    const topKey = keys[0];
    const topValue = values[0];
    // The last pair was the only one: it is the top.
    if (topKey === undefined || topValue === undefined) return [lastKey, lastValue];
    // Sift the last pair down from the root: move smaller children up into the hole until it fits.
    let hole = 0;
    for (;;) {
      let child = 2 * hole + 1;
      if (child >= keys.length) break;
      let childKey = checked(keys[child]);
      const rightKey = keys[child + 1];
      if (rightKey !== undefined && rightKey < childKey) {
        child++;
        childKey = rightKey;
      }
      if (childKey >= lastKey) break;
      keys[hole] = childKey;
      values[hole] = checked(values[child]);
      hole = child;
    }
    keys[hole] = lastKey;
    values[hole] = lastValue;
    return [topKey, topValue];
  }
}
