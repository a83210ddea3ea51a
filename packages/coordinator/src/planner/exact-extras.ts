import { FlowNetwork } from "./flow-network";
import type { PlannerTaskList } from "./types";
import { type MembersByList, MembersByListBuilder } from "./members-by-list";
import type { Quotas } from "./quotas";

/** Most (task list, member) pairs the exact solver takes on; beyond, the fast path's result stands. */
export const EXACT_PAIR_LIMIT = 2_000_000;

const SOURCE = 0;
const SINK = 1;
const FIRST_LIST_NODE = 2;

/** One eligible (task list, member) pair and its edge in the network. */
interface Pair {
  readonly list: number;
  readonly member: number;
  readonly edge: number;
}

/**
 * The exact choice of extras as a min-cost maximum flow: source -> task list (its extras) -> member
 * (every eligible pair, cost -1 where the member keeps a partition by it) -> sink, through a
 * lower-bound edge of cost -big (so every member reaches its lower bound) and an upper-bound edge
 * of cost 0. Successive shortest paths with Dijkstra on reduced costs.
 * @returns per task list the members that get its extras, or null when the cluster has more pairs
 *   than {@link EXACT_PAIR_LIMIT}.
 */
export function exactExtras(quotas: Quotas, lists: readonly PlannerTaskList[], over: MembersByList): MembersByList | null {
  const memberCount = quotas.roster.size;
  const pairCount = countPairs(quotas, lists);
  if (pairCount > EXACT_PAIR_LIMIT) return null;
  // Reaching a lower bound must outweigh any number of kept extras: each saves at most 1.
  const big = quotas.totalExtras + 1;
  const network = new FlowNetwork({
    nodes: FIRST_LIST_NODE + lists.length + memberCount,
    edges: lists.length + pairCount + 2 * memberCount,
    costs: true,
  });
  const listNode = (list: number): number => FIRST_LIST_NODE + list;
  const memberNode = (member: number): number => FIRST_LIST_NODE + lists.length + member;
  const isOver = new Set<number>();
  for (let list = 0; list < lists.length; list++) {
    for (const member of over.of(list)) isOver.add(list * memberCount + member);
  }
  const pairs: Pair[] = [];
  for (const [list, { partitions }] of lists.entries()) {
    if (quotas.extrasIn(list) === 0) continue;
    network.add(SOURCE, listNode(list), quotas.extrasIn(list), 0);
    for (let member = 0; member < memberCount; member++) {
      if (!quotas.canTakeExtra(partitions, member)) continue;
      const cost = isOver.has(list * memberCount + member) ? -1 : 0;
      pairs.push({ list, member, edge: network.add(listNode(list), memberNode(member), 1, cost) });
    }
  }
  for (let member = 0; member < memberCount; member++) {
    network.add(memberNode(member), SINK, quotas.lo(member), -big);
    network.add(memberNode(member), SINK, quotas.hi(member) - quotas.lo(member), 0);
  }
  network.minCostFlow(SOURCE, SINK);
  // `pairs` is in task list order: read each task list's run off it.
  const chosen = new MembersByListBuilder(lists.length, quotas.totalExtras);
  let next = 0;
  for (let list = 0; list < lists.length; list++) {
    chosen.startList(list);
    for (let pair = pairs[next]; pair !== undefined && pair.list === list; pair = pairs[++next]) {
      if (network.flowOn(pair.edge) > 0) chosen.add(pair.member);
    }
  }
  return chosen.build();
}

/** The eligible (task list, member) pairs: a task list with extras and a member whose share there has a remainder. */
function countPairs(quotas: Quotas, lists: readonly PlannerTaskList[]): number {
  let pairs = 0;
  for (const [list, { partitions }] of lists.entries()) {
    if (quotas.extrasIn(list) === 0) continue;
    for (let member = 0; member < quotas.roster.size; member++) if (quotas.canTakeExtra(partitions, member)) pairs++;
  }
  return pairs;
}
