import { addAt, checked } from "./checked";
import { FlowNetwork } from "./flow-network";
import type { PlannerTaskList } from "./types";
import { MembersByList, MembersByListBuilder } from "./members-by-list";
import type { Quotas } from "./quotas";

/** Extras decided by a flow: per task list the members chosen, and what is left for completion. */
export interface FlowChoice {
  /** Per task list, the members the flow gives one of its extras. */
  readonly chosen: MembersByList;
  /** Extras each member got. */
  readonly taken: Float64Array;
  /** Pool units (extras beyond a member's lower bound) left. */
  readonly poolLeft: number;
  /** How many chosen extras stay where they are (over-edges with flow). */
  readonly kept: number;
}

/** Which members are needy, and whether their pairs are open from the start. */
export interface NeedyOptions {
  /** The needy members, by index. */
  readonly needy: readonly number[];
  /**
   * Whether the needy pairs carry flow from the start ("open"), or only once
   * {@link ExtrasFlow.openNeedyPairs} opens them on top of the maximum flow over over-edges ("closed").
   */
  readonly needyPairs: "open" | "closed";
}

// The network's nodes: three fixed ones, then one per task list, then one per member.
const SOURCE = 0;
const SINK = 1;
const POOL = 2;
const FIRST_LIST_NODE = 3;

/**
 * Decides, as a maximum flow, which members get an extra: source -> task list (its extras) ->
 * member -> sink (lo) or -> pool -> sink (hi - lo each, `pool` in all). Task lists reach members
 * through over-edges, where a unit of flow is a partition that stays, and through every other
 * eligible pair of the needy members, so that they can reach their bounds in distinct task lists:
 * open from the start, or opened by {@link ExtrasFlow.openNeedyPairs} once the flow over over-edges is maximal.
 */
export class ExtrasFlow {
  readonly #quotas: Quotas;
  readonly #lists: readonly PlannerTaskList[];
  readonly #over: MembersByList;
  readonly #flow: FlowNetwork;
  /** Per over-edge (by its position in `over`), its edge in the network. */
  readonly #overEdge: Int32Array;
  /**
   * The needy pairs in task list order, flat: pair p is task list `#needyPairs[2p]` and member
   * `#needyPairs[2p + 1]` (one array of numbers: there may be millions, and pushing to two arrays
   * costs more), with its edge at `#needyEdge[p]`.
   */
  readonly #needyPairs: number[] = [];
  readonly #needyEdge: Int32Array;
  readonly #sourceEdge: Int32Array;
  readonly #loEdge: Int32Array;
  readonly #hiEdge: Int32Array;
  readonly #poolEdge: number;

  constructor(quotas: Quotas, lists: readonly PlannerTaskList[], over: MembersByList, { needy, needyPairs }: NeedyOptions) {
    this.#quotas = quotas;
    this.#lists = lists;
    this.#over = over;
    this.#findNeedyPairs(needy);
    const memberCount = quotas.roster.size;
    const needyCount = this.#needyPairs.length / 2;
    const flow = new FlowNetwork({
      nodes: FIRST_LIST_NODE + lists.length + memberCount,
      edges: lists.length + over.size + needyCount + 2 * memberCount + 1,
    });
    const listNode = (list: number): number => FIRST_LIST_NODE + list;
    const memberNode = (member: number): number => FIRST_LIST_NODE + lists.length + member;
    // The order edges are added in decides which maximum flow Dinic's algorithm finds: keep it.
    this.#sourceEdge = Int32Array.from(lists, (_, list) => flow.add(SOURCE, listNode(list), quotas.extrasIn(list)));
    this.#overEdge = new Int32Array(over.size);
    for (let list = 0; list < lists.length; list++) {
      for (let position = over.begin(list); position < over.end(list); position++) {
        this.#overEdge[position] = flow.add(listNode(list), memberNode(over.memberAt(position)), 1);
      }
    }
    const needyCapacity = needyPairs === "open" ? 1 : 0;
    this.#needyEdge = new Int32Array(needyCount);
    for (let pair = 0; pair < needyCount; pair++) {
      this.#needyEdge[pair] = flow.add(listNode(this.#needyListOf(pair)), memberNode(this.#needyMemberOf(pair)), needyCapacity);
    }
    this.#loEdge = new Int32Array(memberCount);
    this.#hiEdge = new Int32Array(memberCount);
    for (let member = 0; member < memberCount; member++) {
      this.#loEdge[member] = flow.add(memberNode(member), SINK, quotas.lo(member));
      this.#hiEdge[member] = flow.add(memberNode(member), POOL, quotas.hi(member) - quotas.lo(member));
    }
    this.#poolEdge = flow.add(POOL, SINK, quotas.pool);
    this.#flow = flow;
    this.#greedyStart(needyPairs);
    flow.maxFlow(SOURCE, SINK);
  }

  /** Whether there are needy pairs to open. */
  get hasNeedyPairs(): boolean {
    return this.#needyEdge.length > 0;
  }

  /** Opens the needy pairs and augments. */
  openNeedyPairs(): void {
    for (const edge of this.#needyEdge) this.#flow.setCapacity(edge, 1);
    this.#flow.maxFlow(SOURCE, SINK);
  }

  /** The extras chosen so far. */
  choice(): FlowChoice {
    const quotas = this.#quotas;
    const over = this.#over;
    const flow = this.#flow;
    const chosen = new MembersByListBuilder(this.#lists.length, quotas.totalExtras);
    let kept = 0;
    let pair = 0;
    for (let list = 0; list < this.#lists.length; list++) {
      chosen.startList(list);
      for (let position = over.begin(list); position < over.end(list); position++) {
        // An over-edge's capacity is 1: none left means it carries the unit.
        if (flow.capacity(checked(this.#overEdge[position])) === 0) {
          chosen.add(over.memberAt(position));
          kept++;
        }
      }
      for (; pair < this.#needyEdge.length && this.#needyListOf(pair) === list; pair++) {
        // A closed pair has no capacity left either, but carries nothing.
        const edge = checked(this.#needyEdge[pair]);
        if (flow.capacity(edge) === 0 && flow.flowOn(edge) === 1) chosen.add(this.#needyMemberOf(pair));
      }
    }
    const sets = chosen.build();
    const taken = new Float64Array(quotas.roster.size);
    for (const member of sets.members) addAt(taken, member, 1);
    return { chosen: sets, taken, poolLeft: flow.capacity(this.#poolEdge), kept };
  }

  /** The needy members' eligible pairs in the task lists where they have no over-edge. */
  #findNeedyPairs(needy: readonly number[]): void {
    const quotas = this.#quotas;
    const over = this.#over;
    // The task list in which a member last had an over-edge: no per-task-list clearing needed.
    const overEdgeIn = new Int32Array(quotas.roster.size).fill(-1);
    const needyPairs = this.#needyPairs;
    for (let list = 0; list < this.#lists.length && needy.length > 0; list++) {
      if (quotas.extrasIn(list) === 0) continue;
      for (let position = over.begin(list), end = over.end(list); position < end; position++) overEdgeIn[over.memberAt(position)] = list;
      const partitions = checked(this.#lists[list]).partitions;
      for (const member of needy) {
        if (overEdgeIn[member] !== list && quotas.canTakeExtra(partitions, member)) {
          needyPairs.push(list, member);
        }
      }
    }
  }

  /**
   * A greedy start keeps every extra it can; the flow then only repairs what the greedy got wrong.
   * With needy pairs open, the extras that members beyond their capacity must give up are spread
   * over task lists first, so that the needy members can take them in distinct task lists.
   */
  #greedyStart(needyPairs: NeedyOptions["needyPairs"]): void {
    const flow = this.#flow;
    const over = this.#over;
    const dropped = needyPairs === "open" ? spreadDrops(this.#quotas, over) : null;
    let pair = 0;
    for (let list = 0; list < this.#lists.length; list++) {
      const sourceEdge = checked(this.#sourceEdge[list]);
      for (let position = over.begin(list); position < over.end(list) && flow.capacity(sourceEdge) > 0; position++) {
        if (dropped?.[position] !== 1) this.#take(sourceEdge, checked(this.#overEdge[position]), over.memberAt(position));
      }
      // Needy members take up to their lower bound here; the pool stays for members keeping extras.
      for (; pair < this.#needyEdge.length && this.#needyListOf(pair) === list; pair++) {
        const loEdge = checked(this.#loEdge[this.#needyMemberOf(pair)]);
        if (needyPairs === "open" && flow.capacity(sourceEdge) > 0 && flow.capacity(loEdge) > 0) {
          flow.push([sourceEdge, checked(this.#needyEdge[pair]), loEdge]);
        }
      }
    }
  }

  #needyListOf(pair: number): number {
    return checked(this.#needyPairs[2 * pair]);
  }

  #needyMemberOf(pair: number): number {
    return checked(this.#needyPairs[2 * pair + 1]);
  }

  /** Sends a unit from the source through `edge` to `member`, then to the sink below its lo, or else through the pool. */
  #take(sourceEdge: number, edge: number, member: number): void {
    const flow = this.#flow;
    const loEdge = checked(this.#loEdge[member]);
    const hiEdge = checked(this.#hiEdge[member]);
    if (flow.capacity(loEdge) > 0) flow.push([sourceEdge, edge, loEdge]);
    else if (flow.capacity(hiEdge) > 0 && flow.capacity(this.#poolEdge) > 0) flow.push([sourceEdge, edge, hiEdge, this.#poolEdge]);
  }
}

/**
 * Which over-edges the greedy start leaves out: a member with more over-edges than it may keep
 * (its lower bound; the pool's extra units go to the first such members) gives up the surplus in
 * the task lists that have given up the fewest so far. A hint only; the flow decides.
 * @returns per over-edge (by its position in `over`), 1 when it is left out.
 */
function spreadDrops(quotas: Quotas, over: MembersByList): Uint8Array {
  const memberCount = quotas.roster.size;
  const listCount = over.listCount;
  // Over-edges grouped by member, by a counting sort: a member's are byMember[memberStart[member] ..
  // memberStart[member + 1]), each the over-edge's position in `over`.
  const memberStart = new Int32Array(memberCount + 1);
  for (const member of over.members) addAt(memberStart, member + 1, 1);
  for (let member = 0; member < memberCount; member++) addAt(memberStart, member + 1, checked(memberStart[member]));
  const fill = memberStart.slice(0, memberCount);
  const byMember = new Int32Array(over.size);
  const listOf = new Int32Array(over.size);
  for (let list = 0; list < listCount; list++) {
    for (let position = over.begin(list); position < over.end(list); position++) {
      const member = over.memberAt(position);
      listOf[position] = list;
      byMember[checked(fill[member])] = position;
      addAt(fill, member, 1);
    }
  }
  const dropped = new Uint8Array(over.size);
  const dropsIn = new Int32Array(listCount);
  const dropsInListOf = (position: number): number => checked(dropsIn[checked(listOf[position])]);
  let pool = quotas.pool;
  for (let member = 0; member < memberCount; member++) {
    const mine = byMember.subarray(memberStart[member], memberStart[member + 1]);
    let drop = mine.length - quotas.lo(member);
    if (drop <= 0) continue;
    const fromPool = Math.min(pool, quotas.hi(member) - quotas.lo(member), drop);
    pool -= fromPool;
    drop -= fromPool;
    // The first of the least-dropped task lists; sort is stable, so ties keep task list order.
    const chosen =
      drop === 1 ? [firstMinimum(mine, dropsInListOf)] : [...mine].sort((a, b) => dropsInListOf(a) - dropsInListOf(b)).slice(0, drop);
    for (const position of chosen) {
      dropped[position] = 1;
      addAt(dropsIn, checked(listOf[position]), 1);
    }
  }
  return dropped;
}

/** The first item of a non-empty array with the least `score`. */
function firstMinimum(items: Int32Array, score: (item: number) => number): number {
  let best = checked(items[0]);
  for (const item of items) if (score(item) < score(best)) best = item;
  return best;
}
