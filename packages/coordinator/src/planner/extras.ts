import { PartitionState } from "@helix/db";

import { addAt, checked } from "./checked";
import { EXACT_PAIR_LIMIT, exactExtras } from "./exact-extras";
import { ExtrasFlow, type FlowChoice } from "./extras-flow";
import type { PlannerTaskList } from "./types";
import { type MembersByList, MembersByListBuilder } from "./members-by-list";
import type { Quotas } from "./quotas";

/**
 * Decides every task list's extras, trying the cheap ways first. A choice is optimal when it
 * meets every member's bounds and keeps as many extras in place as an upper bound allows: the
 * maximum flow over over-edges alone, or, cheaper, the smaller of two cuts of that flow.
 * 1. When every member has over-edges enough to reach its upper bound, a flow over over-edges,
 *    each task list then completed greedily by need (optimal when the completion is valid).
 * 2. Otherwise the members short of over-edges also get every other eligible pair, so that they
 *    reach their bounds in distinct task lists, in the same flow; optimal when it keeps as many as
 *    the cut bound. If not, the flow over over-edges alone settles the bound (1), and the pairs are
 *    opened on top of it.
 * 3. An exact min-cost flow over every (task list, member) pair, for clusters up to
 *    {@link EXACT_PAIR_LIMIT} pairs; larger ones keep the best balanced result found.
 * @returns per task list, the members that get its extras.
 */
export function assignExtras(quotas: Quotas, lists: readonly PlannerTaskList[]): MembersByList {
  const over = findOverEdges(quotas, lists);
  const memberCount = quotas.roster.size;
  const overCount = new Int32Array(memberCount);
  for (const member of over.members) addAt(overCount, member, 1);
  const short = [...Array(memberCount).keys()].filter((member) => checked(overCount[member]) < quotas.hi(member));
  const needy = short.length * lists.length <= EXACT_PAIR_LIMIT ? short : [];
  let best: MembersByList | null = null;

  if (needy.length > 0) {
    const together = new ExtrasFlow(quotas, lists, over, { needy, needyPairs: "open" });
    const choice = together.choice();
    const completed = complete(quotas, lists, choice);
    if (completed.valid && choice.kept === cutBound(quotas, over, overCount)) return completed.extras;
    if (completed.valid) best = completed.extras;
  }
  const flow = new ExtrasFlow(quotas, lists, over, { needy, needyPairs: "closed" });
  const overEdgesOnly = flow.choice();
  const completed = complete(quotas, lists, overEdgesOnly);
  if (completed.valid) return completed.extras;
  best ??= completed.extras;
  if (flow.hasNeedyPairs) {
    flow.openNeedyPairs();
    const withNeedyPairs = flow.choice();
    const recompleted = complete(quotas, lists, withNeedyPairs);
    // The flow over over-edges alone was maximal: keeping as many is optimal.
    if (recompleted.valid && withNeedyPairs.kept === overEdgesOnly.kept) return recompleted.extras;
    if (recompleted.valid) best = recompleted.extras;
  }
  return exactExtras(quotas, lists, over) ?? best;
}

/** Finds, per task list with extras, its over-edges: the members that own more than their floor there and may have an extra. */
function findOverEdges(quotas: Quotas, lists: readonly PlannerTaskList[]): MembersByList {
  const { roster } = quotas;
  // Partitions each member owns in the current task list; `owners` lists the members to reset after.
  const owned = new Int32Array(roster.size);
  const owners: number[] = [];
  const over = new MembersByListBuilder(lists.length, 1024);
  for (const [list, { partitions, rows }] of lists.entries()) {
    over.startList(list);
    if (quotas.extrasIn(list) === 0) continue;
    for (const row of rows) {
      if (row.state !== PartitionState.Assigned || row.nodeId === null || row.partition >= partitions) continue;
      const member = roster.index.get(row.nodeId);
      if (member === undefined) continue;
      if (owned[member] === 0) owners.push(member);
      addAt(owned, member, 1);
    }
    for (const member of owners) {
      if (checked(owned[member]) > quotas.floorShare(partitions, member) && quotas.canTakeExtra(partitions, member)) over.add(member);
      owned[member] = 0;
    }
    owners.length = 0;
  }
  return over.build();
}

/**
 * An upper bound on how many extras can stay in place: the smaller of the cut around the task
 * lists (each keeps at most its extras, and only where it has over-edges) and the cut around the
 * members (each keeps at most its over-edges, up to its lower bound plus what the pool allows).
 */
function cutBound(quotas: Quotas, over: MembersByList, overCount: Int32Array): number {
  let listSide = 0;
  for (let list = 0; list < over.listCount; list++) listSide += Math.min(quotas.extrasIn(list), over.count(list));
  let base = 0;
  let above = 0;
  for (const [member, count] of overCount.entries()) {
    base += Math.min(count, quotas.lo(member));
    above += Math.max(0, Math.min(count, quotas.hi(member)) - quotas.lo(member));
  }
  return Math.min(listSide, base + Math.min(quotas.pool, above));
}

/**
 * Completes a flow's choice greedily, task list by task list, with the members that need extras most.
 * @returns the extras, `valid` when every task list hands out all of its extras and every member
 *   ends within its bounds.
 */
function complete(quotas: Quotas, lists: readonly PlannerTaskList[], choice: FlowChoice): { extras: MembersByList; valid: boolean } {
  const taken = choice.taken.slice();
  const completion = new Completion(quotas, taken, choice.poolLeft);
  // The task list a member was last chosen in: no per-task-list clearing needed.
  const chosenIn = new Int32Array(quotas.roster.size).fill(-1);
  const extras = new MembersByListBuilder(lists.length, quotas.totalExtras);
  for (const [list, { partitions }] of lists.entries()) {
    extras.startList(list);
    for (const member of choice.chosen.of(list)) {
      chosenIn[member] = list;
      extras.add(member);
    }
    completion.pick(
      partitions,
      quotas.extrasIn(list) - extras.countIn(list),
      (member) => chosenIn[member] === list,
      (member) => {
        chosenIn[member] = list;
        extras.add(member);
      },
    );
  }
  const withinBounds = taken.every((count, member) => count >= quotas.lo(member) && count <= quotas.hi(member));
  const valid = extras.size === quotas.totalExtras && withinBounds;
  return { extras: extras.build(), valid };
}

/**
 * Gives the extras the flow could not keep in place to members that need them most: first those
 * below their lower bound (largest need first), then, while the pool lasts, those below their upper
 * bound. Members sit in buckets by need, doubly linked lists over typed arrays.
 */
class Completion {
  readonly #quotas: Quotas;
  readonly #taken: Float64Array;
  #poolLeft: number;
  /** Per need, the first member in its bucket. */
  readonly #bucketHead = new Map<number, number>();
  readonly #next: Int32Array;
  readonly #previous: Int32Array;
  /** Per member, the need it is filed under. */
  readonly #needOf: Float64Array;
  #highestNeed = 0;

  constructor(quotas: Quotas, taken: Float64Array, poolLeft: number) {
    const memberCount = quotas.roster.size;
    this.#quotas = quotas;
    this.#taken = taken;
    this.#poolLeft = poolLeft;
    this.#next = new Int32Array(memberCount).fill(-1);
    this.#previous = new Int32Array(memberCount).fill(-1);
    this.#needOf = new Float64Array(memberCount).fill(-1);
    // Filed from the last, so that every bucket lists its members in index order.
    for (let member = memberCount - 1; member >= 0; member--) this.#file(member);
  }

  /**
   * Picks `count` members for a task list of `partitions` partitions, neediest first, among those not
   * `isChosen` yet, and tells each to `choose`.
   */
  pick(partitions: number, count: number, isChosen: (member: number) => boolean, choose: (member: number) => void): void {
    let left = count;
    for (let need = this.#highestNeed; need >= 0 && left > 0; need--) {
      if (need === 1 && this.#poolLeft <= 0) continue;
      let member = this.#bucketHead.get(need) ?? -1;
      while (member !== -1 && left > 0) {
        const following = checked(this.#next[member]);
        if (!isChosen(member) && this.#quotas.canTakeExtra(partitions, member)) {
          choose(member);
          if (need === 1) this.#poolLeft--;
          addAt(this.#taken, member, 1);
          this.#unfile(member);
          this.#file(member);
          left--;
        }
        member = following;
      }
    }
  }

  /** 1 + what it lacks below lo (so at least 2); 1 between lo and hi; 0 at hi (taken only when nobody else can). */
  #needNow(member: number): number {
    const taken = checked(this.#taken[member]);
    const lo = this.#quotas.lo(member);
    if (taken < lo) return 1 + lo - taken;
    return taken < this.#quotas.hi(member) ? 1 : 0;
  }

  /** Files the member at the head of the bucket of its need now. */
  #file(member: number): void {
    const need = this.#needNow(member);
    const head = this.#bucketHead.get(need) ?? -1;
    this.#next[member] = head;
    this.#previous[member] = -1;
    if (head !== -1) this.#previous[head] = member;
    this.#bucketHead.set(need, member);
    this.#needOf[member] = need;
    if (need > this.#highestNeed) this.#highestNeed = need;
  }

  #unfile(member: number): void {
    const previous = checked(this.#previous[member]);
    const next = checked(this.#next[member]);
    if (previous !== -1) this.#next[previous] = next;
    else this.#bucketHead.set(checked(this.#needOf[member]), next);
    if (next !== -1) this.#previous[next] = previous;
  }
}
