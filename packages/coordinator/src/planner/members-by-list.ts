import { checked } from "./checked";

/**
 * Members chosen per task list (the task lists' over-edges, or the members that get their extras), in
 * compressed sparse row form: one array of members, task list by task list, and where each task list's
 * run starts. Task list `list` has the positions `begin(list)` to `end(list)` (exclusive).
 */
export class MembersByList {
  constructor(
    /** Per task list, the position of its first member; one more entry holds the end of the last. */
    readonly start: Int32Array,
    /** The members, task list after task list, each run in the order it was added. */
    readonly members: Int32Array,
  ) {}

  /** How many members there are in all. */
  get size(): number {
    return this.members.length;
  }

  /** How many task lists there are. */
  get listCount(): number {
    return this.start.length - 1;
  }

  /** The position of task list `list`'s first member. */
  begin(list: number): number {
    return checked(this.start[list]);
  }

  /** The position after task list `list`'s last member. */
  end(list: number): number {
    return checked(this.start[list + 1]);
  }

  /** How many members task list `list` has. */
  count(list: number): number {
    return this.end(list) - this.begin(list);
  }

  /** Task list `list`'s members (a view, not a copy). */
  of(list: number): Int32Array {
    return this.members.subarray(this.begin(list), this.end(list));
  }

  /** The member at a position. */
  memberAt(position: number): number {
    return checked(this.members[position]);
  }
}

/** Builds a {@link MembersByList} task list by task list, growing its array when it has to. */
export class MembersByListBuilder {
  readonly #start: Int32Array;
  #members: Int32Array;
  #size = 0;

  /** For `listCount` task lists and, as a first guess, `capacity` members in all. */
  constructor(listCount: number, capacity: number) {
    this.#start = new Int32Array(listCount + 1);
    this.#members = new Int32Array(capacity);
  }

  /** Starts task list `list`'s members; call it for every task list, in order from 0. */
  startList(list: number): void {
    this.#start[list] = this.#size;
  }

  /** Adds a member to the task list started last. */
  add(member: number): void {
    if (this.#size === this.#members.length) {
      const grown = new Int32Array(Math.max(16, 2 * this.#size));
      grown.set(this.#members);
      this.#members = grown;
    }
    this.#members[this.#size++] = member;
  }

  /** How many members task list `list` (the one started last) has so far. */
  countIn(list: number): number {
    return this.#size - checked(this.#start[list]);
  }

  /** How many members there are in all so far. */
  get size(): number {
    return this.#size;
  }

  /** The sets built; the builder is not used after. */
  build(): MembersByList {
    this.#start[this.#start.length - 1] = this.#size;
    return new MembersByList(this.#start, this.#members.subarray(0, this.#size));
  }
}
