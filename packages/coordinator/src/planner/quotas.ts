import { checked } from "./checked";
import type { PlannerMember, PlannerTaskList, ResolvedPlannerOptions } from "./types";

/**
 * The members that take part: live ones, and vanished ones still within the reassignment delay (or
 * the time they said they would be back within), in node id order. The planner refers to a member by its index here.
 */
export class Roster {
  /** Node ids, by member index. */
  readonly ids: readonly string[];
  /** Node id to member index. */
  readonly index: ReadonlyMap<string, number>;
  /** Weights, by member index. */
  readonly weights: Int32Array;
  readonly totalWeight: number;
  /** The largest weight, 0 for an empty roster. */
  readonly maxWeight: number;
  /** All weights equal and positive: shares need no per-member arithmetic. */
  readonly uniform: boolean;
  /** Milliseconds until the first vanished member's delay ends, or Infinity. */
  readonly graceEndsMs: number;
  readonly #live: Uint8Array;
  /** How long after a release request each member's release may be forced: the option or its TTL. */
  readonly #forceAfterMs: Float64Array;

  constructor(members: readonly PlannerMember[], options: ResolvedPlannerOptions) {
    const { reassignDelayMs } = options;
    let graceEndsMs = Infinity;
    const taking = members
      .filter((member) => {
        if (member.live) return true;
        const delayMs = Math.max(reassignDelayMs, member.returnWithinMs ?? 0);
        if (delayMs > 0 && member.sinceExpiryMs < delayMs) {
          graceEndsMs = Math.min(graceEndsMs, delayMs - member.sinceExpiryMs);
          return true;
        }
        return false;
      })
      .sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
    const ids = taking.map((member) => member.nodeId);
    const weights = Int32Array.from(taking, (member) => member.weight);
    this.ids = ids;
    this.index = new Map(ids.map((id, member) => [id, member]));
    this.weights = weights;
    this.totalWeight = weights.reduce((sum, weight) => sum + weight, 0);
    this.maxWeight = weights.reduce((max, weight) => Math.max(max, weight), 0);
    this.uniform = weights.length > 0 && weights.every((weight) => weight === weights[0] && weight > 0);
    this.graceEndsMs = graceEndsMs;
    this.#live = Uint8Array.from(taking, (member) => (member.live ? 1 : 0));
    this.#forceAfterMs = Float64Array.from(taking, (member) => Math.max(options.forceReleaseAfterMs, member.ttlMs ?? 0));
  }

  /** How many members take part. */
  get size(): number {
    return this.ids.length;
  }

  /** The member's node id. */
  idOf(member: number): string {
    return checked(this.ids[member]);
  }

  /** The member's weight. */
  weightOf(member: number): number {
    return checked(this.weights[member]);
  }

  /** Whether the member is live (rather than vanished, within the reassignment delay). */
  isLive(member: number): boolean {
    return this.#live[member] === 1;
  }

  /** How long after a release request the member's release may be forced. */
  forceAfterMsOf(member: number): number {
    return checked(this.#forceAfterMs[member]);
  }
}

/**
 * Each member's share of each task list, split into a floor and a remainder: a member with a
 * remainder gets either the floor or one more (an extra); task list `list` hands out
 * `extrasIn(list)` extras. Across task lists member `member` gets between `lo(member)` and
 * `hi(member)` extras, and `pool` extras go beyond the members' lower bounds.
 */
export class Quotas {
  /** The pool: how many extras in all go to members beyond their `lo`. */
  readonly pool: number;
  /** The extras of all task lists. */
  readonly totalExtras: number;
  readonly #extras: Int32Array;
  readonly #lo: Float64Array;
  readonly #hi: Float64Array;

  constructor(
    readonly roster: Roster,
    lists: readonly PlannerTaskList[],
  ) {
    const memberCount = roster.size;
    const totalWeight = roster.totalWeight;
    this.#extras = new Int32Array(lists.length);
    this.#lo = new Float64Array(memberCount);
    this.#hi = new Float64Array(memberCount);
    if (memberCount === 0 || totalWeight === 0) {
      this.pool = 0;
      this.totalExtras = 0;
      return;
    }
    let total = 0;
    if (roster.uniform) {
      // Equal shares: a task list's extras are its remainder, and everyone's bounds are the same.
      for (const [list, { partitions }] of lists.entries()) {
        const extras = partitions % memberCount;
        this.#extras[list] = extras;
        total += extras;
      }
      this.#lo.fill(Math.floor(total / memberCount));
      this.#hi.fill(Math.ceil(total / memberCount));
    } else {
      const remainders = new Float64Array(memberCount);
      for (const [list, { partitions }] of lists.entries()) {
        let floors = 0;
        for (let member = 0; member < memberCount; member++) {
          const share = partitions * roster.weightOf(member);
          floors += Math.floor(share / totalWeight);
          remainders[member] = checked(remainders[member]) + (share % totalWeight);
        }
        const extras = partitions - floors;
        this.#extras[list] = extras;
        total += extras;
      }
      for (const [member, remainder] of remainders.entries()) {
        this.#lo[member] = Math.floor(remainder / totalWeight);
        this.#hi[member] = Math.ceil(remainder / totalWeight);
      }
    }
    this.totalExtras = total;
    this.pool = total - this.#lo.reduce((sum, lo) => sum + lo, 0);
  }

  /** How many extras task list `list` hands out. */
  extrasIn(list: number): number {
    return checked(this.#extras[list]);
  }

  /** The fewest extras member `member` gets over all task lists. */
  lo(member: number): number {
    return checked(this.#lo[member]);
  }

  /** The most extras member `member` gets over all task lists. */
  hi(member: number): number {
    return checked(this.#hi[member]);
  }

  /** The floor of member `member`'s share of a task list of `partitions` partitions. */
  floorShare(partitions: number, member: number): number {
    const { roster } = this;
    if (roster.totalWeight === 0) return 0;
    return roster.uniform ? Math.floor(partitions / roster.size) : Math.floor((partitions * roster.weightOf(member)) / roster.totalWeight);
  }

  /** Whether member `member`'s share of a task list of `partitions` partitions has a remainder (so it may get an extra). */
  canTakeExtra(partitions: number, member: number): boolean {
    const { roster } = this;
    if (roster.totalWeight === 0) return false;
    return roster.uniform ? partitions % roster.size !== 0 : (partitions * roster.weightOf(member)) % roster.totalWeight !== 0;
  }
}
