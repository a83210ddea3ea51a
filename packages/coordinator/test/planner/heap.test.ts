import fc from "fast-check";

import { MinHeap } from "../../src/planner/heap";

/** Pops everything, in order. */
function drain(heap: MinHeap): [number, number][] {
  const popped: [number, number][] = [];
  while (heap.size > 0) popped.push(heap.pop());
  return popped;
}

const byKeyThenValue = (a: readonly [number, number], b: readonly [number, number]): number => a[0] - b[0] || a[1] - b[1];
// Small integers for many ties; doubles for range (-0 made 0: the heap may tell them apart from a sort).
const key = fc.oneof(
  fc.integer({ min: -5, max: 5 }),
  fc.integer(),
  fc.double({ noNaN: true }).map((x) => (Object.is(x, -0) ? 0 : x)),
);

test("an empty heap has size 0 and refuses to pop", () => {
  const heap = new MinHeap();
  expect(heap.size).toBe(0);
  expect(() => heap.pop()).toThrow(/empty heap/);
  heap.push(1, 10);
  expect(heap.pop()).toEqual([1, 10]);
  expect(heap.size).toBe(0);
  expect(() => heap.pop()).toThrow(/empty heap/);
});

test("a few pairs come out by key, each with its value", () => {
  const heap = new MinHeap();
  for (const [k, v] of [
    [5, 50],
    [3, 30],
    [8, 80],
    [1, 10],
    [4, 40],
    [-2, -20],
  ] as const) {
    heap.push(k, v);
  }
  expect(heap.size).toBe(6);
  expect(drain(heap)).toEqual([
    [-2, -20],
    [1, 10],
    [3, 30],
    [4, 40],
    [5, 50],
    [8, 80],
  ]);
});

test("random pushes come out sorted by key, every pair exactly once", () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(key, fc.integer()), { maxLength: 200 }), (pairs) => {
      const heap = new MinHeap();
      for (const [k, v] of pairs) heap.push(k, v);
      expect(heap.size).toBe(pairs.length);
      const popped = drain(heap);
      // Keys in order; pairs the same multiset (the order among equal keys is not promised).
      expect(popped.map(([k]) => k)).toEqual(pairs.map(([k]) => k).sort((a, b) => a - b));
      expect([...popped].sort(byKeyThenValue)).toEqual([...pairs].sort(byKeyThenValue));
    }),
    { numRuns: 300 },
  );
});

test("ties: equal keys give back every value", () => {
  const heap = new MinHeap();
  for (let v = 0; v < 50; v++) heap.push(7, v);
  heap.push(3, 100);
  heap.push(9, 200);
  const popped = drain(heap);
  expect(popped[0]).toEqual([3, 100]);
  expect(popped.at(-1)).toEqual([9, 200]);
  const middle = popped.slice(1, -1);
  expect(middle.every(([k]) => k === 7)).toBe(true);
  expect(middle.map(([, v]) => v).sort((a, b) => a - b)).toEqual([...Array(50).keys()]);
});

test("interleaved pushes and pops agree with a sorted array", () => {
  const operation = fc.oneof(fc.tuple(fc.constant("push" as const), key, fc.integer()), fc.constant(["pop"] as const));
  fc.assert(
    fc.property(fc.array(operation, { maxLength: 300 }), (operations) => {
      const heap = new MinHeap();
      const model: [number, number][] = [];
      for (const op of operations) {
        if (op[0] === "push") {
          heap.push(op[1], op[2]);
          model.push([op[1], op[2]]);
          continue;
        }
        if (model.length === 0) {
          expect(() => heap.pop()).toThrow();
          continue;
        }
        const [k, v] = heap.pop();
        const smallest = Math.min(...model.map(([modelKey]) => modelKey));
        expect(k).toBe(smallest);
        const at = model.findIndex(([modelKey, modelValue]) => modelKey === k && modelValue === v);
        expect(at).not.toBe(-1);
        model.splice(at, 1);
        expect(heap.size).toBe(model.length);
      }
    }),
    { numRuns: 300 },
  );
});
