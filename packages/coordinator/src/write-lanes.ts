import type { Transition } from "./planner";

/**
 * How many write lanes of a round's transitions are written at once, each in its own transactions
 * on its own connection: while one lane waits on the network or a commit, the database works on
 * the other (a first assignment of 100,000 partitions to 4 members: a fifth faster than one lane on
 * a two-core server). Every batch moves the counters' row before it commits, and lanes queue there,
 * so more lanes would mostly wait.
 */
export const CONCURRENT_WRITE_LANES = 2;

/**
 * Splits transitions into at most `count` lanes with no member in common (a member is in a
 * transition as its `from` or its `to`), each lane in the order of `transitions`. A batch locks the
 * rows of its members until it commits, so batches of lanes with a member in common would only wait
 * for each other: members that transitions connect (a newcomer taking from every owner, a dead
 * member's partitions going to every survivor) form one group, and a group is one lane's. Groups go
 * to lanes largest first, each to the lane with the fewest transitions so far. A partition named
 * twice could be in two lanes, and no harm done: each change applies only at the generation its
 * plan saw, so one of them would be skipped as changed.
 * @returns the lanes that have transitions (one when every transition connects).
 */
export function splitIntoWriteLanes(transitions: readonly Transition[], count: number): Transition[][] {
  const groups = new MemberGroups();
  for (const t of transitions) groups.join(t.to, t.from ?? t.to);
  const sizes = new Map<number, number>();
  const groupOf = transitions.map((t) => {
    const group = groups.find(t.to);
    sizes.set(group, (sizes.get(group) ?? 0) + 1);
    return group;
  });
  const laneOf = new Map<number, number>();
  const load = new Array<number>(Math.min(count, sizes.size)).fill(0);
  for (const [group, size] of [...sizes].sort((a, b) => b[1] - a[1] || a[0] - b[0])) {
    const lightest = load.indexOf(Math.min(...load));
    laneOf.set(group, lightest);
    load[lightest]! += size;
  }
  const lanes = load.map((): Transition[] => []);
  transitions.forEach((t, i) => lanes[laneOf.get(groupOf[i]!)!]!.push(t));
  return lanes;
}

/** Members joined into groups (union-find), each group named by the number of its first member. */
class MemberGroups {
  readonly #index = new Map<string, number>();
  readonly #parent: number[] = [];

  /** The member's group, adding it alone when new. */
  add(nodeId: string): number {
    let i = this.#index.get(nodeId);
    if (i === undefined) {
      i = this.#parent.length;
      this.#index.set(nodeId, i);
      this.#parent.push(i);
    }
    return this.#root(i);
  }

  /** The group of a member added before. */
  find(nodeId: string): number {
    return this.#root(this.#index.get(nodeId)!);
  }

  /** Puts two members in one group (one member: adds it). */
  join(a: string, b: string): void {
    const [ra, rb] = [this.add(a), this.add(b)];
    if (ra !== rb) this.#parent[Math.max(ra, rb)] = Math.min(ra, rb);
  }

  #root(i: number): number {
    while (this.#parent[i] !== i) {
      const up = this.#parent[this.#parent[i]!]!;
      this.#parent[i] = up;
      i = up;
    }
    return i;
  }
}
