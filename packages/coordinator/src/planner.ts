import { PartitionState } from "@helix/db";

/** A member as the planner sees it. */
export interface PlannerMember {
  readonly nodeId: string;
  /** Share of partitions relative to the others; 0 takes none. */
  readonly weight: number;
  /** Whether the member is live now by the database clock. */
  readonly live: boolean;
  /** For a member that is not live: milliseconds since its registration ended, by the database clock. */
  readonly sinceExpiryMs: number;
  /**
   * The member's TTL: a release it was asked for is forced no sooner than this after the request,
   * whatever `forceReleaseAfterMs` says (by then it has stopped on its own). @default 0
   */
  readonly ttlMs?: number;
}

/** One partition's row of the ownership table. */
export interface PlannerPartition {
  readonly partition: number;
  /** The owner, or null. */
  readonly nodeId: string | null;
  /** A `PartitionState` value. */
  readonly state: number;
  /** The generation the row is at; a transition applies only while it still is. */
  readonly generation: number;
  /** Where a requested release was meant to go, or null. */
  readonly targetNodeId: string | null;
  /** Milliseconds since the release was requested, by the database clock; -1 when none is pending. */
  readonly releaseAgeMs: number;
  /**
   * The row's owner is a process that is gone although its node id is live again: a later process
   * (incarnation) registered with the same node id, and does not resume what the earlier one owned.
   */
  readonly staleOwner?: boolean;
}

/** A task list with its partition count and its rows (rows numbered at or past `partitions` are ignored). */
export interface PlannerTaskList {
  readonly domain: string;
  readonly taskList: string;
  readonly partitions: number;
  readonly rows: readonly PlannerPartition[];
}

/** How the planner moves partitions. Every field is optional. */
export interface PlannerOptions {
  /**
   * A live owner that has not confirmed a requested release is overruled after this long, and never
   * sooner than its TTL. @default 30000
   */
  forceReleaseAfterMs?: number;
  /**
   * How long the partitions of a member that stopped being live stay where they are, in case it
   * comes back (its share is kept free meanwhile). 0 reassigns them at once. @default 0
   */
  reassignDelayMs?: number;
  /** Most release requests one round makes per task list. @default Infinity */
  maxMovesPerTaskList?: number;
  /** Most release requests one round makes from, and to, any one member. @default Infinity */
  maxMovesPerMember?: number;
}

/** What the planner reads: the live (and recently vanished) members and the catalog with its ownership table. */
export interface PlannerInput {
  readonly members: readonly PlannerMember[];
  readonly taskLists: readonly PlannerTaskList[];
  readonly options?: PlannerOptions;
}

/** Why a partition is given to a member. */
export type AssignReason =
  /** It had no owner. */
  | "unassigned"
  /** Its owner confirmed the release that was asked of it. */
  | "released"
  /** Its owner is no longer live (and any reassignment delay has passed). */
  | "owner-gone"
  /** Its live owner did not confirm a requested release within `forceReleaseAfterMs`. */
  | "forced";

/** One step of a plan, valid only while the partition is still at `generation`. */
export type Transition =
  | {
      readonly type: "assign";
      readonly domain: string;
      readonly taskList: string;
      readonly partition: number;
      readonly generation: number;
      /** The previous owner (gone, released or overruled), or null. */
      readonly from: string | null;
      readonly to: string;
      readonly reason: AssignReason;
    }
  | {
      readonly type: "release";
      readonly domain: string;
      readonly taskList: string;
      readonly partition: number;
      readonly generation: number;
      /** The live owner asked to release the partition. */
      readonly from: string;
      /** Where the partition is meant to go once released. */
      readonly to: string;
    };

/** What the planner decided. */
export interface Plan {
  readonly transitions: Transition[];
  /** Requested releases still waiting for their owner's confirmation, this plan's included. */
  readonly pendingHandoffs: number;
  /**
   * Milliseconds until a pending release (this plan's included) may be forced or a vanished
   * member's partitions may be reassigned, whichever is first; null when nothing is waiting on time.
   */
  readonly nextCheckMs: number | null;
  /** How many partitions each member (live or vanished within the delay) should own, by node id. */
  readonly targets: ReadonlyMap<string, number>;
}

const { Unassigned, Assigned, ReleaseRequested, Released } = PartitionState;

/**
 * Plans the next round: from the members, the catalog and the ownership table to the transitions
 * that move the table toward balance. Pure: no I/O, no clock, the same input gives the same plan.
 *
 * Balance: per task list every member owns floor or ceil of its weighted share, and across task
 * lists each member's total is the floor or ceil of its total share, so the extra partitions of
 * uneven task lists are spread over the members instead of piling up on the first ones.
 *
 * Minimal movement: among all balanced targets the planner picks one that keeps the most
 * partitions where they are, so only as many partitions move as balance requires (a maximum flow
 * decides which members keep the extra partition of each task list). Nothing moves when the table is
 * balanced already.
 *
 * Hand-off: a partition moves away from a live owner only through a release request; it is given
 * to its next owner once released, at once when its owner is gone, and when the owner has not
 * confirmed within `forceReleaseAfterMs`.
 */
export function planAllocation(input: PlannerInput): Plan {
  const options = resolvePlannerOptions(input.options);
  const roster = makeRoster(input.members, options);
  const lists = input.taskLists;
  const quotas = new Quotas(roster, lists);
  const extras = assignExtras(quotas, lists);
  return writeTransitions(roster, quotas, extras, lists, options);
}

interface ResolvedPlannerOptions {
  readonly forceReleaseAfterMs: number;
  readonly reassignDelayMs: number;
  readonly maxMovesPerTaskList: number;
  readonly maxMovesPerMember: number;
}

/** @internal Applies the planner's defaults. */
export function resolvePlannerOptions(options: PlannerOptions | undefined): ResolvedPlannerOptions {
  return {
    forceReleaseAfterMs: options?.forceReleaseAfterMs ?? 30_000,
    reassignDelayMs: options?.reassignDelayMs ?? 0,
    maxMovesPerTaskList: options?.maxMovesPerTaskList ?? Infinity,
    maxMovesPerMember: options?.maxMovesPerMember ?? Infinity,
  };
}

/** The members that take part: live ones, and vanished ones still within the reassignment delay. */
interface Roster {
  readonly ids: string[];
  readonly index: Map<string, number>;
  readonly weights: Int32Array;
  readonly live: Uint8Array;
  readonly totalWeight: number;
  /** All weights equal and positive: shares need no per-member arithmetic. */
  readonly uniform: boolean;
  /** Milliseconds until the first vanished member's delay ends, or Infinity. */
  readonly graceEndsMs: number;
  /** How long after a release request each member's release may be forced: the option or its TTL. */
  readonly forceAfterMs: Float64Array;
}

function makeRoster(members: readonly PlannerMember[], options: ResolvedPlannerOptions): Roster {
  const { reassignDelayMs } = options;
  let graceEndsMs = Infinity;
  const taking = members
    .filter((m) => {
      if (m.live) return true;
      if (reassignDelayMs > 0 && m.sinceExpiryMs < reassignDelayMs) {
        graceEndsMs = Math.min(graceEndsMs, reassignDelayMs - m.sinceExpiryMs);
        return true;
      }
      return false;
    })
    .sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
  const ids = taking.map((m) => m.nodeId);
  const weights = Int32Array.from(taking, (m) => m.weight);
  const totalWeight = weights.reduce((a, b) => a + b, 0);
  return {
    ids,
    index: new Map(ids.map((id, i) => [id, i])),
    weights,
    live: Uint8Array.from(taking, (m) => (m.live ? 1 : 0)),
    totalWeight,
    uniform: weights.length > 0 && weights.every((w) => w === weights[0] && w > 0),
    graceEndsMs,
    forceAfterMs: Float64Array.from(taking, (m) => Math.max(options.forceReleaseAfterMs, m.ttlMs ?? 0)),
  };
}

/**
 * Each member's share of each task list, split into a floor and a remainder: a member with a
 * remainder gets either the floor or one more ("an extra"); a task list hands out `extras[l]`
 * extras. Across task lists member i gets between `lo[i]` and `hi[i]` extras, and `pool` of them
 * may take their upper bound.
 */
class Quotas {
  readonly extras: Int32Array;
  readonly lo: Float64Array;
  readonly hi: Float64Array;
  readonly pool: number;

  constructor(
    readonly roster: Roster,
    lists: readonly PlannerTaskList[],
  ) {
    const m = roster.ids.length;
    this.extras = new Int32Array(lists.length);
    this.lo = new Float64Array(m);
    this.hi = new Float64Array(m);
    const W = roster.totalWeight;
    if (m === 0 || W === 0) {
      this.pool = 0;
      return;
    }
    let total = 0;
    if (roster.uniform) {
      for (let l = 0; l < lists.length; l++) total += this.extras[l] = lists[l]!.partitions % m;
      this.lo.fill(Math.floor(total / m));
      this.hi.fill(Math.ceil(total / m));
    } else {
      const remainders = new Float64Array(m);
      for (let l = 0; l < lists.length; l++) {
        const n = lists[l]!.partitions;
        let floors = 0;
        for (let i = 0; i < m; i++) {
          const share = n * roster.weights[i]!;
          floors += Math.floor(share / W);
          remainders[i]! += share % W;
        }
        total += this.extras[l] = n - floors;
      }
      for (let i = 0; i < m; i++) {
        this.lo[i] = Math.floor(remainders[i]! / W);
        this.hi[i] = Math.ceil(remainders[i]! / W);
      }
    }
    this.pool = total - this.lo.reduce((a, b) => a + b, 0);
  }

  /** The floor of member i's share of a task list of n partitions. */
  floor(n: number, i: number): number {
    const { roster } = this;
    if (roster.totalWeight === 0) return 0;
    return roster.uniform ? Math.floor(n / roster.ids.length) : Math.floor((n * roster.weights[i]!) / roster.totalWeight);
  }

  /** Whether member i's share of a task list of n partitions has a remainder (so it may get an extra). */
  canTakeExtra(n: number, i: number): boolean {
    const { roster } = this;
    if (roster.totalWeight === 0) return false;
    return roster.uniform ? n % roster.ids.length !== 0 : (n * roster.weights[i]!) % roster.totalWeight !== 0;
  }
}

/** Over-edges per task list, in CSR form: members that own more than their floor there and may keep an extra. */
interface OverEdges {
  readonly start: Int32Array;
  readonly member: Int32Array;
}

/** Finds, per task list, the members that own more than their floor there and may have an extra. */
function findOverEdges(quotas: Quotas, lists: readonly PlannerTaskList[]): OverEdges {
  const { roster } = quotas;
  const counts = new Int32Array(roster.ids.length);
  const touched: number[] = [];
  const start = new Int32Array(lists.length + 1);
  let member = new Int32Array(1024);
  let edges = 0;
  for (let l = 0; l < lists.length; l++) {
    start[l] = edges;
    const list = lists[l]!;
    if (quotas.extras[l] === 0) continue;
    for (const row of list.rows) {
      if (row.state !== Assigned || row.nodeId === null || row.partition >= list.partitions) continue;
      const i = roster.index.get(row.nodeId);
      if (i === undefined) continue;
      if (counts[i] === 0) touched.push(i);
      counts[i]!++;
    }
    for (const i of touched) {
      if (counts[i]! > quotas.floor(list.partitions, i) && quotas.canTakeExtra(list.partitions, i)) {
        if (edges === member.length) {
          const grown = new Int32Array(edges * 2);
          grown.set(member);
          member = grown;
        }
        member[edges++] = i;
      }
      counts[i] = 0;
    }
    touched.length = 0;
  }
  start[lists.length] = edges;
  return { start, member: member.subarray(0, edges) };
}

/** Extras decided by a flow: per task list the members chosen (CSR), and what is left for completion. */
interface FlowChoice {
  readonly start: Int32Array;
  readonly member: Int32Array;
  /** Extras each member got. */
  readonly taken: Float64Array;
  /** Pool units (extras at a member's upper bound) left. */
  readonly poolLeft: number;
  /** How many chosen extras stay where they are (over-edges with flow). */
  readonly kept: number;
}

/**
 * Decides, as a maximum flow, which members get an extra: source -> task list (its extras) ->
 * member -> sink (lo) or -> pool -> sink (hi - lo each, `pool` in all). Task lists reach members
 * through over-edges, where a unit of flow is a partition that stays, and through every other
 * eligible pair of the `needy` members, so that they can reach their bounds in distinct task lists:
 * open from the start, or opened by `enableNeedy()` once the flow over over-edges is maximal.
 */
class ExtrasFlow {
  readonly #quotas: Quotas;
  readonly #lists: readonly PlannerTaskList[];
  readonly #over: OverEdges;
  readonly #flow: FlowNetwork;
  readonly #overEdge: Int32Array;
  readonly #needyPairs: number[] = [];
  readonly #needyEdge: Int32Array;
  readonly #poolEdge: number;

  constructor(quotas: Quotas, lists: readonly PlannerTaskList[], over: OverEdges, needy: readonly number[], openNeedy: boolean) {
    this.#quotas = quotas;
    this.#lists = lists;
    this.#over = over;
    const m = quotas.roster.ids.length;
    const stamp = new Int32Array(m).fill(-1);
    for (let l = 0; l < lists.length && needy.length > 0; l++) {
      if (quotas.extras[l] === 0) continue;
      for (let k = over.start[l]!; k < over.start[l + 1]!; k++) stamp[over.member[k]!] = l;
      for (const i of needy) if (stamp[i] !== l && quotas.canTakeExtra(lists[l]!.partitions, i)) this.#needyPairs.push(l, i);
    }
    const overCount = over.member.length;
    const flow = new FlowNetwork(3 + lists.length + m, lists.length + overCount + this.#needyPairs.length / 2 + 2 * m + 1);
    const S = 0;
    const T = 1;
    const P = 2;
    const listNode = (l: number): number => 3 + l;
    const memberNode = (i: number): number => 3 + lists.length + i;
    const sourceEdge = new Int32Array(lists.length);
    for (let l = 0; l < lists.length; l++) sourceEdge[l] = flow.add(S, listNode(l), quotas.extras[l]!);
    this.#overEdge = new Int32Array(overCount);
    for (let l = 0; l < lists.length; l++) {
      for (let k = over.start[l]!; k < over.start[l + 1]!; k++) this.#overEdge[k] = flow.add(listNode(l), memberNode(over.member[k]!), 1);
    }
    this.#needyEdge = new Int32Array(this.#needyPairs.length / 2);
    for (let k = 0; k < this.#needyEdge.length; k++) {
      this.#needyEdge[k] = flow.add(listNode(this.#needyPairs[2 * k]!), memberNode(this.#needyPairs[2 * k + 1]!), openNeedy ? 1 : 0);
    }
    const loEdge = new Int32Array(m);
    const hiEdge = new Int32Array(m);
    for (let i = 0; i < m; i++) {
      loEdge[i] = flow.add(memberNode(i), T, quotas.lo[i]!);
      hiEdge[i] = flow.add(memberNode(i), P, quotas.hi[i]! - quotas.lo[i]!);
    }
    this.#poolEdge = flow.add(P, T, quotas.pool);
    this.#flow = flow;

    // A greedy start keeps every extra it can; the flow then only repairs what the greedy got wrong.
    // With needy pairs open, the extras that members beyond their capacity must give up are spread
    // over task lists first, so that the needy members can take them in distinct task lists.
    const dropped = openNeedy ? spreadDrops(quotas, lists.length, over) : null;
    const take = (l: number, edge: number, i: number): void => {
      if (flow.capacity(loEdge[i]!) > 0) flow.push([sourceEdge[l]!, edge, loEdge[i]!]);
      else if (flow.capacity(hiEdge[i]!) > 0 && flow.capacity(this.#poolEdge) > 0) flow.push([sourceEdge[l]!, edge, hiEdge[i]!, this.#poolEdge]);
    };
    let needyAt = 0;
    for (let l = 0; l < lists.length; l++) {
      for (let k = over.start[l]!; k < over.start[l + 1]! && flow.capacity(sourceEdge[l]!) > 0; k++) {
        if (dropped?.[k] !== 1) take(l, this.#overEdge[k]!, over.member[k]!);
      }
      // Needy members take up to their lower bound here; the pool stays for members keeping extras.
      for (; needyAt < this.#needyEdge.length && this.#needyPairs[2 * needyAt] === l; needyAt++) {
        const i = this.#needyPairs[2 * needyAt + 1]!;
        if (openNeedy && flow.capacity(sourceEdge[l]!) > 0 && flow.capacity(loEdge[i]!) > 0) {
          flow.push([sourceEdge[l]!, this.#needyEdge[needyAt]!, loEdge[i]!]);
        }
      }
    }
    flow.maxFlow(S, T);
  }

  /** Whether there are needy pairs to open. */
  get hasNeedy(): boolean {
    return this.#needyEdge.length > 0;
  }

  /** Opens the needy members' other pairs and augments. */
  enableNeedy(): void {
    for (const e of this.#needyEdge) this.#flow.setCapacity(e, 1);
    this.#flow.maxFlow(0, 1);
  }

  /** The extras chosen so far. */
  choice(): FlowChoice {
    const quotas = this.#quotas;
    const over = this.#over;
    const start = new Int32Array(this.#lists.length + 1);
    const member = new Int32Array(quotas.extras.reduce((a, b) => a + b, 0));
    const taken = new Float64Array(quotas.roster.ids.length);
    let at = 0;
    let kept = 0;
    let needy = 0;
    for (let l = 0; l < this.#lists.length; l++) {
      start[l] = at;
      for (let k = over.start[l]!; k < over.start[l + 1]!; k++) {
        if (this.#flow.capacity(this.#overEdge[k]!) === 0) {
          member[at++] = over.member[k]!;
          kept++;
        }
      }
      for (; needy < this.#needyEdge.length && this.#needyPairs[2 * needy] === l; needy++) {
        const e = this.#needyEdge[needy]!;
        if (this.#flow.capacity(e) === 0 && this.#flow.capacity(e ^ 1) === 1) member[at++] = this.#needyPairs[2 * needy + 1]!;
      }
    }
    start[this.#lists.length] = at;
    for (let k = 0; k < at; k++) taken[member[k]!]!++;
    return { start, member: member.subarray(0, at), taken, poolLeft: this.#flow.capacity(this.#poolEdge), kept };
  }
}

/**
 * Which over-edges the greedy start leaves out: a member with more over-edges than it may keep
 * (its lower bound; the pool's extra units go to the first such members) gives up the surplus in
 * the task lists that have given up the fewest so far. A hint only; the flow decides.
 */
function spreadDrops(quotas: Quotas, listCount: number, over: OverEdges): Uint8Array {
  const m = quotas.roster.ids.length;
  const byMember = new Int32Array(m + 1);
  for (const i of over.member) byMember[i + 1]!++;
  for (let i = 0; i < m; i++) byMember[i + 1]! += byMember[i]!;
  const fill = byMember.slice(0, m);
  const edgesOf = new Int32Array(over.member.length);
  const listOf = new Int32Array(over.member.length);
  for (let l = 0; l < listCount; l++) {
    for (let k = over.start[l]!; k < over.start[l + 1]!; k++) {
      listOf[k] = l;
      edgesOf[fill[over.member[k]!]!++] = k;
    }
  }
  const dropped = new Uint8Array(over.member.length);
  const dropsIn = new Int32Array(listCount);
  let pool = quotas.pool;
  for (let i = 0; i < m; i++) {
    const degree = byMember[i + 1]! - byMember[i]!;
    let drop = degree - quotas.lo[i]!;
    if (drop <= 0) continue;
    const fromPool = Math.min(pool, quotas.hi[i]! - quotas.lo[i]!, drop);
    pool -= fromPool;
    drop -= fromPool;
    const mine = edgesOf.subarray(byMember[i], byMember[i + 1]);
    const chosen =
      drop === 1
        ? [mine.reduce((best, k) => (dropsIn[listOf[k]!]! < dropsIn[listOf[best]!]! ? k : best), mine[0]!)]
        : [...mine].sort((a, b) => dropsIn[listOf[a]!]! - dropsIn[listOf[b]!]!).slice(0, drop);
    for (const k of chosen) {
      dropped[k] = 1;
      dropsIn[listOf[k]!]!++;
    }
  }
  return dropped;
}

/**
 * A flow network with integer capacities (and costs, when made `withCosts`) on adjacency lists in
 * typed arrays: Dinic's algorithm for maximum flow, successive shortest paths for min-cost flow.
 */
class FlowNetwork {
  readonly #head: Int32Array;
  readonly #next: Int32Array;
  readonly #to: Int32Array;
  readonly #cap: Float64Array;
  readonly #cost: Float64Array;
  #edges = 0;

  constructor(nodes: number, edges: number, withCosts = false) {
    this.#head = new Int32Array(nodes).fill(-1);
    this.#next = new Int32Array(2 * edges);
    this.#to = new Int32Array(2 * edges);
    this.#cap = new Float64Array(2 * edges);
    this.#cost = new Float64Array(withCosts ? 2 * edges : 0);
  }

  /** Adds an edge and its residual twin; returns the edge's index. */
  add(from: number, to: number, capacity: number, cost = 0): number {
    const e = this.#edges;
    this.#to[e] = to;
    this.#cap[e] = capacity;
    this.#next[e] = this.#head[from]!;
    this.#head[from] = e;
    this.#to[e + 1] = from;
    this.#cap[e + 1] = 0;
    this.#next[e + 1] = this.#head[to]!;
    this.#head[to] = e + 1;
    if (this.#cost.length > 0) {
      this.#cost[e] = cost;
      this.#cost[e + 1] = -cost;
    }
    this.#edges += 2;
    return e;
  }

  capacity(edge: number): number {
    return this.#cap[edge]!;
  }

  /** The flow an edge carries (its residual twin's capacity). */
  flowOn(edge: number): number {
    return this.#cap[edge ^ 1]!;
  }

  /** Sets the capacity of an edge that carries no flow yet. */
  setCapacity(edge: number, capacity: number): void {
    this.#cap[edge] = capacity;
  }

  /** Pushes one unit along a path of edges. */
  push(path: readonly number[]): void {
    for (const e of path) {
      this.#cap[e]!--;
      this.#cap[e ^ 1]!++;
    }
  }

  /** Augments until no path from s to t is left. */
  maxFlow(s: number, t: number): void {
    const n = this.#head.length;
    const level = new Int32Array(n);
    const current = new Int32Array(n);
    const queue = new Int32Array(n);
    const stack: number[] = [];
    for (;;) {
      level.fill(-1);
      level[s] = 0;
      let qh = 0;
      let qt = 0;
      queue[qt++] = s;
      while (qh < qt) {
        const u = queue[qh++]!;
        for (let e = this.#head[u]!; e !== -1; e = this.#next[e]!) {
          const v = this.#to[e]!;
          if (this.#cap[e]! > 0 && level[v] === -1) {
            level[v] = level[u]! + 1;
            queue[qt++] = v;
          }
        }
      }
      if (level[t] === -1) return;
      current.set(this.#head);
      // Blocking flow: walk forward along level edges, retreat from dead ends, push at t.
      let u = s;
      stack.length = 0;
      for (;;) {
        if (u === t) {
          let bottleneck = Infinity;
          for (const e of stack) bottleneck = Math.min(bottleneck, this.#cap[e]!);
          let retreatTo = stack.length;
          for (let k = stack.length - 1; k >= 0; k--) {
            const e = stack[k]!;
            this.#cap[e]! -= bottleneck;
            this.#cap[e ^ 1]! += bottleneck;
            if (this.#cap[e] === 0) retreatTo = k;
          }
          stack.length = retreatTo;
          u = stack.length === 0 ? s : this.#to[stack[stack.length - 1]!]!;
          continue;
        }
        let e = current[u]!;
        while (e !== -1 && !(this.#cap[e]! > 0 && level[this.#to[e]!] === level[u]! + 1)) e = this.#next[e]!;
        current[u] = e;
        if (e !== -1) {
          stack.push(e);
          u = this.#to[e]!;
          continue;
        }
        if (u === s) break;
        level[u] = -1;
        const back = stack.pop()!;
        u = this.#to[back ^ 1]!;
        current[u] = this.#next[current[u]!]!;
      }
    }
  }

  /** Sends as much flow as possible from s to t at the least cost. The network must be acyclic at first. */
  minCostFlow(s: number, t: number): void {
    const n = this.#head.length;
    const potential = this.#acyclicDistances(s);
    const dist = new Float64Array(n);
    const via = new Int32Array(n);
    for (;;) {
      dist.fill(Infinity);
      via.fill(-1);
      dist[s] = 0;
      const heap = new MinHeap();
      heap.push(0, s);
      while (heap.size > 0) {
        const [d, u] = heap.pop();
        if (d > dist[u]!) continue;
        for (let e = this.#head[u]!; e !== -1; e = this.#next[e]!) {
          if (this.#cap[e]! <= 0) continue;
          const v = this.#to[e]!;
          const nd = d + this.#cost[e]! + potential[u]! - potential[v]!;
          if (nd < dist[v]!) {
            dist[v] = nd;
            via[v] = e;
            heap.push(nd, v);
          }
        }
      }
      if (dist[t] === Infinity) return;
      for (let v = 0; v < n; v++) if (dist[v] !== Infinity) potential[v]! += dist[v]!;
      let push = Infinity;
      for (let v = t; v !== s; v = this.#to[via[v]! ^ 1]!) push = Math.min(push, this.#cap[via[v]!]!);
      for (let v = t; v !== s; v = this.#to[via[v]! ^ 1]!) {
        this.#cap[via[v]!]! -= push;
        this.#cap[via[v]! ^ 1]! += push;
      }
    }
  }

  /** Shortest distances from s over edges with capacity, by relaxation in topological order. */
  #acyclicDistances(s: number): Float64Array {
    const n = this.#head.length;
    const indegree = new Int32Array(n);
    for (let e = 0; e < this.#edges; e += 2) if (this.#cap[e]! > 0) indegree[this.#to[e]!]!++;
    const dist = new Float64Array(n).fill(Infinity);
    dist[s] = 0;
    const queue = [...Array(n).keys()].filter((v) => indegree[v] === 0);
    for (let q = 0; q < queue.length; q++) {
      const u = queue[q]!;
      for (let e = this.#head[u]!; e !== -1; e = this.#next[e]!) {
        if ((e & 1) === 1 || this.#cap[e]! <= 0) continue;
        const v = this.#to[e]!;
        if (dist[u]! + this.#cost[e]! < dist[v]!) dist[v] = dist[u]! + this.#cost[e]!;
        if (--indegree[v]! === 0) queue.push(v);
      }
    }
    for (let v = 0; v < n; v++) if (dist[v] === Infinity) dist[v] = 0;
    return dist;
  }
}

/**
 * Gives the extras the flow could not keep in place to members that need them most: first those
 * below their lower bound (largest need first), then, while the pool lasts, those below their upper
 * bound. Buckets by need, in linked lists over typed arrays.
 */
class Completion {
  readonly #quotas: Quotas;
  readonly #taken: Float64Array;
  #poolLeft: number;
  readonly #head: Map<number, number> = new Map();
  readonly #next: Int32Array;
  readonly #prev: Int32Array;
  readonly #key: Float64Array;
  #maxKey = 0;

  constructor(quotas: Quotas, taken: Float64Array, poolLeft: number) {
    const m = quotas.roster.ids.length;
    this.#quotas = quotas;
    this.#taken = taken;
    this.#poolLeft = poolLeft;
    this.#next = new Int32Array(m).fill(-1);
    this.#prev = new Int32Array(m).fill(-1);
    this.#key = new Float64Array(m).fill(-1);
    for (let i = m - 1; i >= 0; i--) this.#place(i);
  }

  /** Picks `count` members for a task list of n partitions, skipping those marked in `chosen`. */
  pick(n: number, count: number, chosen: (i: number) => boolean, mark: (i: number) => void): void {
    let left = count;
    for (let key = this.#maxKey; key >= 0 && left > 0; key--) {
      if (key === 1 && this.#poolLeft <= 0) continue;
      let i = this.#head.get(key) ?? -1;
      while (i !== -1 && left > 0) {
        const following = this.#next[i]!;
        if (!chosen(i) && this.#quotas.canTakeExtra(n, i)) {
          mark(i);
          if (key === 1) this.#poolLeft--;
          this.#taken[i]!++;
          this.#unlink(i);
          this.#place(i);
          left--;
        }
        i = following;
      }
    }
  }

  /** 2 + need below lo; 1 between lo and hi; 0 at hi (taken only when nobody else can). */
  #keyOf(i: number): number {
    const taken = this.#taken[i]!;
    const { lo, hi } = this.#quotas;
    if (taken < lo[i]!) return 1 + lo[i]! - taken;
    return taken < hi[i]! ? 1 : 0;
  }

  #place(i: number): void {
    const key = this.#keyOf(i);
    const head = this.#head.get(key) ?? -1;
    this.#next[i] = head;
    this.#prev[i] = -1;
    if (head !== -1) this.#prev[head] = i;
    this.#head.set(key, i);
    this.#key[i] = key;
    if (key > this.#maxKey) this.#maxKey = key;
  }

  #unlink(i: number): void {
    const key = this.#key[i]!;
    const prev = this.#prev[i]!;
    const next = this.#next[i]!;
    if (prev !== -1) this.#next[prev] = next;
    else this.#head.set(key, next);
    if (next !== -1) this.#prev[next] = prev;
  }
}

/** The members that get each task list's extra partition, in CSR form: `member[start[l] .. start[l+1])`. */
interface ExtraSets {
  readonly start: Int32Array;
  readonly member: Int32Array;
}

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
 */
function assignExtras(quotas: Quotas, lists: readonly PlannerTaskList[]): ExtraSets {
  const over = findOverEdges(quotas, lists);
  const m = quotas.roster.ids.length;
  const overCount = new Int32Array(m);
  for (const i of over.member) overCount[i]!++;
  const short = [...Array(m).keys()].filter((i) => overCount[i]! < quotas.hi[i]!);
  const needy = short.length * lists.length <= EXACT_PAIR_LIMIT ? short : [];
  let best: ExtraSets | null = null;

  if (needy.length > 0) {
    const together = new ExtrasFlow(quotas, lists, over, needy, true);
    const choice = together.choice();
    const completed = complete(quotas, lists, choice);
    if (completed.valid && choice.kept === cutBound(quotas, lists, over, overCount)) return completed.sets;
    if (completed.valid) best = completed.sets;
  }
  const flow = new ExtrasFlow(quotas, lists, over, needy, false);
  const first = flow.choice();
  const completed = complete(quotas, lists, first);
  if (completed.valid) return completed.sets;
  best ??= completed.sets;
  if (flow.hasNeedy) {
    flow.enableNeedy();
    const second = flow.choice();
    const recompleted = complete(quotas, lists, second);
    if (recompleted.valid && second.kept === first.kept) return recompleted.sets;
    if (recompleted.valid) best = recompleted.sets;
  }
  return exactExtras(quotas, lists, over) ?? best;
}

/**
 * An upper bound on how many extras can stay in place: the smaller of the cut around the task
 * lists (each keeps at most its extras, and only where it has over-edges) and the cut around the
 * members (each keeps at most its over-edges, up to its lower bound plus what the pool allows).
 */
function cutBound(quotas: Quotas, lists: readonly PlannerTaskList[], over: OverEdges, overCount: Int32Array): number {
  let listSide = 0;
  for (let l = 0; l < lists.length; l++) listSide += Math.min(quotas.extras[l]!, over.start[l + 1]! - over.start[l]!);
  let base = 0;
  let above = 0;
  for (let i = 0; i < overCount.length; i++) {
    base += Math.min(overCount[i]!, quotas.lo[i]!);
    above += Math.max(0, Math.min(overCount[i]!, quotas.hi[i]!) - quotas.lo[i]!);
  }
  return Math.min(listSide, base + Math.min(quotas.pool, above));
}

/** Completes a flow's choice greedily; `valid` when every task list and member ends within bounds. */
function complete(quotas: Quotas, lists: readonly PlannerTaskList[], choice: FlowChoice): { sets: ExtraSets; valid: boolean } {
  const m = quotas.roster.ids.length;
  const taken = Float64Array.from(choice.taken);
  const completion = new Completion(quotas, taken, choice.poolLeft);
  const stamp = new Int32Array(m).fill(-1);
  const start = new Int32Array(lists.length + 1);
  const total = quotas.extras.reduce((a, b) => a + b, 0);
  const member = new Int32Array(total);
  let at = 0;
  for (let l = 0; l < lists.length; l++) {
    start[l] = at;
    for (let k = choice.start[l]!; k < choice.start[l + 1]!; k++) {
      stamp[choice.member[k]!] = l;
      member[at++] = choice.member[k]!;
    }
    completion.pick(
      lists[l]!.partitions,
      quotas.extras[l]! - (at - start[l]!),
      (i) => stamp[i] === l,
      (i) => {
        stamp[i] = l;
        member[at++] = i;
      },
    );
  }
  start[lists.length] = at;
  const valid = at === total && taken.every((x, i) => x >= quotas.lo[i]! && x <= quotas.hi[i]!);
  return { sets: { start, member }, valid };
}

/** Most (task list, member) pairs the exact solver takes on; beyond, the fast path's result stands. */
const EXACT_PAIR_LIMIT = 2_000_000;

/**
 * The exact choice of extras as a min-cost maximum flow: source -> task list (its extras) -> member
 * (every eligible pair, cost -1 where the member keeps a partition by it) -> sink, through a
 * lower-bound edge of cost -big (so every member reaches its lower bound) and an upper-bound edge
 * of cost 0. Successive shortest paths with Dijkstra on reduced costs.
 * @returns null when the cluster has more pairs than {@link EXACT_PAIR_LIMIT}.
 */
function exactExtras(quotas: Quotas, lists: readonly PlannerTaskList[], over: OverEdges): ExtraSets | null {
  const m = quotas.roster.ids.length;
  let pairs = 0;
  for (let l = 0; l < lists.length; l++) {
    if (quotas.extras[l] === 0) continue;
    for (let i = 0; i < m; i++) if (quotas.canTakeExtra(lists[l]!.partitions, i)) pairs++;
  }
  if (pairs > EXACT_PAIR_LIMIT) return null;
  const total = quotas.extras.reduce((a, b) => a + b, 0);
  const big = total + 1;
  const nodes = 2 + lists.length + m;
  const S = 0;
  const T = 1;
  const net = new FlowNetwork(nodes, lists.length + pairs + 2 * m, true);
  const isOver = new Set<number>();
  for (let l = 0; l < lists.length; l++) {
    for (let k = over.start[l]!; k < over.start[l + 1]!; k++) isOver.add(l * m + over.member[k]!);
  }
  const pairEdges: { l: number; i: number; edge: number }[] = [];
  for (let l = 0; l < lists.length; l++) {
    if (quotas.extras[l] === 0) continue;
    net.add(S, 2 + l, quotas.extras[l]!, 0);
    for (let i = 0; i < m; i++) {
      if (!quotas.canTakeExtra(lists[l]!.partitions, i)) continue;
      pairEdges.push({ l, i, edge: net.add(2 + l, 2 + lists.length + i, 1, isOver.has(l * m + i) ? -1 : 0) });
    }
  }
  for (let i = 0; i < m; i++) {
    net.add(2 + lists.length + i, T, quotas.lo[i]!, -big);
    net.add(2 + lists.length + i, T, quotas.hi[i]! - quotas.lo[i]!, 0);
  }
  net.minCostFlow(S, T);
  const start = new Int32Array(lists.length + 1);
  const member = new Int32Array(total);
  let at = 0;
  let next = 0;
  for (let l = 0; l < lists.length; l++) {
    start[l] = at;
    while (next < pairEdges.length && pairEdges[next]!.l === l) {
      if (net.flowOn(pairEdges[next]!.edge) > 0) member[at++] = pairEdges[next]!.i;
      next++;
    }
  }
  start[lists.length] = at;
  return { start, member };
}

/** A binary min-heap of (key, value) pairs. */
class MinHeap {
  readonly #keys: number[] = [];
  readonly #values: number[] = [];

  get size(): number {
    return this.#keys.length;
  }

  push(key: number, value: number): void {
    const keys = this.#keys;
    const values = this.#values;
    let i = keys.length;
    keys.push(key);
    values.push(value);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (keys[parent]! <= key) break;
      keys[i] = keys[parent]!;
      values[i] = values[parent]!;
      i = parent;
    }
    keys[i] = key;
    values[i] = value;
  }

  pop(): [number, number] {
    const keys = this.#keys;
    const values = this.#values;
    const top: [number, number] = [keys[0]!, values[0]!];
    const lastKey = keys.pop()!;
    const lastValue = values.pop()!;
    if (keys.length > 0) {
      let i = 0;
      for (;;) {
        let child = 2 * i + 1;
        if (child >= keys.length) break;
        if (child + 1 < keys.length && keys[child + 1]! < keys[child]!) child++;
        if (keys[child]! >= lastKey) break;
        keys[i] = keys[child]!;
        values[i] = values[child]!;
        i = child;
      }
      keys[i] = lastKey;
      values[i] = lastValue;
    }
    return top;
  }
}

/** Per task list: fix the targets, keep what fits, and turn the rest into transitions. */
function writeTransitions(
  roster: Roster,
  quotas: Quotas,
  extras: ExtraSets,
  lists: readonly PlannerTaskList[],
  options: ResolvedPlannerOptions,
): Plan {
  const m = roster.ids.length;
  const maxWeight = roster.weights.reduce((a, b) => Math.max(a, b), 0);
  // Per-task-list scratch, valid for a member only while its stamp is the task list's index.
  const chosenIn = new Int32Array(m).fill(-1);
  const seenIn = new Int32Array(m).fill(-1);
  const kept = new Int32Array(m);
  const need = new Int32Array(m);
  const movesOut = new Int32Array(m);
  const movesIn = new Int32Array(m);
  const totals = new Float64Array(m);
  const transitions: Transition[] = [];
  let pendingHandoffs = 0;
  let nextCheckMs = roster.graceEndsMs;

  for (let l = 0; l < lists.length; l++) {
    const list = lists[l]!;
    const n = list.partitions;
    for (let k = extras.start[l]!; k < extras.start[l + 1]!; k++) {
      chosenIn[extras.member[k]!] = l;
      totals[extras.member[k]!]!++;
    }
    // When some member's floor is positive every member has a share here; otherwise only the
    // members with an extra do, and the loops below stay proportional to the task list's size.
    const dense = roster.totalWeight > 0 && n * maxWeight >= roster.totalWeight;
    const target = (i: number): number => (dense ? quotas.floor(n, i) : 0) + (chosenIn[i] === l ? 1 : 0);
    const touch = (i: number): void => {
      if (seenIn[i] === l) return;
      seenIn[i] = l;
      kept[i] = 0;
      need[i] = 0;
    };
    if (dense) {
      for (let i = 0; i < m; i++) {
        touch(i);
        totals[i]! += quotas.floor(n, i);
      }
    }

    const free: { row: PlannerPartition; from: string | null; reason: AssignReason }[] = [];
    const pending: PlannerPartition[] = [];
    const surplus: { row: PlannerPartition; owner: number }[] = [];
    for (const row of list.rows) {
      if (row.partition >= n) continue;
      const owner = row.nodeId === null ? undefined : roster.index.get(row.nodeId);
      if (row.state === Unassigned || row.nodeId === null) {
        free.push({ row, from: null, reason: "unassigned" });
      } else if (row.state === Released) {
        free.push({ row, from: row.nodeId, reason: "released" });
      } else if (
        owner === undefined ||
        row.staleOwner === true ||
        (row.state === ReleaseRequested && roster.live[owner] === 0)
      ) {
        free.push({ row, from: row.nodeId, reason: "owner-gone" });
      } else if (row.state === ReleaseRequested) {
        const forceAfterMs = roster.forceAfterMs[owner]!;
        if (row.releaseAgeMs >= forceAfterMs) {
          free.push({ row, from: row.nodeId, reason: "forced" });
        } else {
          pending.push(row);
          nextCheckMs = Math.min(nextCheckMs, forceAfterMs - Math.max(0, row.releaseAgeMs));
        }
      } else {
        touch(owner);
        if (kept[owner]! < target(owner)) kept[owner]!++;
        else surplus.push({ row, owner });
      }
    }

    // Members that should own more here, live ones only: a vanished member's share waits for it.
    const receivers: number[] = [];
    const consider = (i: number): void => {
      touch(i);
      need[i] = roster.live[i] === 1 ? target(i) - kept[i]! : 0;
      if (need[i] > 0) receivers.push(i);
    };
    if (dense) for (let i = 0; i < m; i++) consider(i);
    else for (let k = extras.start[l]!; k < extras.start[l + 1]!; k++) consider(extras.member[k]!);
    receivers.sort((a, b) => a - b);
    let cursor = 0;
    const nextReceiver = (preferred: string | null): number => {
      const p = preferred === null ? undefined : roster.index.get(preferred);
      if (p !== undefined && seenIn[p] === l && need[p]! > 0) return p;
      while (cursor < receivers.length && need[receivers[cursor]!]! <= 0) cursor++;
      return cursor < receivers.length ? receivers[cursor]! : -1;
    };

    // Pending releases go where they were meant to, if that member still needs them.
    for (const row of pending) {
      pendingHandoffs++;
      const to = nextReceiver(row.targetNodeId);
      if (to !== -1) need[to]!--;
    }
    for (const { row, from, reason } of free) {
      const to = nextReceiver(row.targetNodeId);
      if (to === -1) continue;
      need[to]!--;
      transitions.push({
        type: "assign",
        domain: list.domain,
        taskList: list.taskList,
        partition: row.partition,
        generation: row.generation,
        from,
        to: roster.ids[to]!,
        reason,
      });
    }
    const receiverForMove = (): number => {
      if (options.maxMovesPerMember === Infinity) return nextReceiver(null);
      for (const j of receivers) if (need[j]! > 0 && movesIn[j]! < options.maxMovesPerMember) return j;
      return -1;
    };
    let moves = 0;
    for (const { row, owner } of surplus) {
      if (moves >= options.maxMovesPerTaskList || movesOut[owner]! >= options.maxMovesPerMember) continue;
      if (roster.live[owner] === 0) continue;
      const to = receiverForMove();
      if (to === -1) continue;
      need[to]!--;
      moves++;
      movesOut[owner]!++;
      movesIn[to]!++;
      pendingHandoffs++;
      nextCheckMs = Math.min(nextCheckMs, roster.forceAfterMs[owner]!);
      transitions.push({
        type: "release",
        domain: list.domain,
        taskList: list.taskList,
        partition: row.partition,
        generation: row.generation,
        from: roster.ids[owner]!,
        to: roster.ids[to]!,
      });
    }
  }

  const targets = new Map<string, number>();
  for (let i = 0; i < m; i++) targets.set(roster.ids[i]!, totals[i]!);
  return {
    transitions,
    pendingHandoffs,
    nextCheckMs: nextCheckMs === Infinity ? null : Math.max(0, nextCheckMs),
    targets,
  };
}
