// A model of the ownership table for planner tests: applying plans, judging balance, and two
// independent oracles of the fewest partitions that must move.
import { PartitionState } from "@helix/db";

import { planOwnership, type Plan, type PlannerMember, type PlannerOptions, type PlannerTaskList } from "../../src";

export interface Row {
  partition: number;
  nodeId: string | null;
  state: number;
  generation: number;
  targetNodeId: string | null;
  releaseAgeMs: number;
}

export interface ListState {
  domain: string;
  taskList: string;
  partitions: number;
  rows: Row[];
  /** Partitions an operator placed, by number, with their member (see `PlannerTaskList.placed`). */
  placed?: ReadonlyMap<number, string>;
}

export interface ClusterState {
  members: PlannerMember[];
  lists: ListState[];
}

const floorDiv = (a: number, b: number): number => Math.floor(a / b);
const ceilDiv = (a: number, b: number): number => Math.ceil(a / b);

/** Live members with a positive total weight take part in balance; others own nothing. */
function participants(state: ClusterState): { ids: string[]; weights: number[]; total: number } {
  const live = state.members.filter((m) => m.live).sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1));
  const total = live.reduce((a, m) => a + m.weight, 0);
  return { ids: live.map((m) => m.nodeId), weights: live.map((m) => m.weight), total };
}

/** Partitions each live member owns (state Assigned) per task list, in participant order. */
export function assignedCounts(state: ClusterState): number[][] {
  const { ids } = participants(state);
  const index = new Map(ids.map((id, i) => [id, i]));
  return state.lists.map((list) => {
    const counts = ids.map(() => 0);
    for (const row of list.rows) {
      if (row.partition >= list.partitions || row.state !== PartitionState.Assigned || row.nodeId === null) continue;
      const i = index.get(row.nodeId);
      if (i !== undefined) counts[i]!++;
    }
    return counts;
  });
}

/**
 * Whether every partition is assigned to a live member, each member's count per task list is the
 * floor or ceil of its weighted share, and its total is the floor or ceil of its total share.
 */
export function isBalanced(state: ClusterState): boolean {
  const { weights, total } = participants(state);
  if (total === 0) return true;
  const counts = assignedCounts(state);
  const totals = weights.map(() => 0);
  for (let l = 0; l < state.lists.length; l++) {
    const n = state.lists[l]!.partitions;
    if (counts[l]!.reduce((a, b) => a + b, 0) !== n) return false;
    for (let i = 0; i < weights.length; i++) {
      const c = counts[l]![i]!;
      if (c < floorDiv(n * weights[i]!, total) || c > ceilDiv(n * weights[i]!, total)) return false;
      totals[i]! += c;
    }
  }
  const all = state.lists.reduce((a, l) => a + l.partitions, 0);
  return weights.every((w, i) => totals[i]! >= floorDiv(all * w, total) && totals[i]! <= ceilDiv(all * w, total));
}

/**
 * The fewest partitions that must leave a live owner to reach a balanced table, by enumerating
 * every balanced target (each member's count per task list is floor or ceil of its share, counts
 * sum to the partitions, totals are floor or ceil of the total share). For small clusters only.
 */
export function minimumMovesByEnumeration(state: ClusterState): number {
  const { weights, total } = participants(state);
  if (total === 0) return 0;
  const m = weights.length;
  const counts = assignedCounts(state);
  const all = state.lists.reduce((a, l) => a + l.partitions, 0);
  const lo = weights.map((w) => floorDiv(all * w, total));
  const hi = weights.map((w) => ceilDiv(all * w, total));
  const options = state.lists.map((list) => {
    const n = list.partitions;
    const result: number[][] = [];
    for (let mask = 0; mask < 1 << m; mask++) {
      const target = weights.map((w, i) => (mask & (1 << i) ? ceilDiv(n * w, total) : floorDiv(n * w, total)));
      const duplicate = weights.some((w, i) => mask & (1 << i) && ceilDiv(n * w, total) === floorDiv(n * w, total));
      if (!duplicate && target.reduce((a, b) => a + b, 0) === n) result.push(target);
    }
    return result;
  });
  let best = Infinity;
  const totals = weights.map(() => 0);
  const visit = (l: number, moves: number): void => {
    if (moves >= best) return;
    if (l === state.lists.length) {
      if (totals.every((t, i) => t >= lo[i]! && t <= hi[i]!)) best = moves;
      return;
    }
    for (const target of options[l]!) {
      if (target.some((t, i) => totals[i]! + t > hi[i]!)) continue;
      let cost = 0;
      for (let i = 0; i < m; i++) {
        totals[i]! += target[i]!;
        cost += Math.max(0, counts[l]![i]! - target[i]!);
      }
      visit(l + 1, moves + cost);
      for (let i = 0; i < m; i++) totals[i]! -= target[i]!;
    }
  };
  visit(0, 0);
  return best;
}

/**
 * The same minimum by a min-cost flow with lower bounds (Bellman-Ford successive shortest paths),
 * for clusters too large to enumerate: each task list hands out its extra partitions (shares'
 * remainders) to distinct members, each member takes between the floor and ceil of its total
 * remainder, and keeping an extra where a member already owns more than its floor saves a move.
 */
export function minimumMovesByFlow(state: ClusterState): number {
  const { weights, total } = participants(state);
  if (total === 0) return 0;
  const m = weights.length;
  const counts = assignedCounts(state);
  const L = state.lists.length;
  const edges: { from: number; to: number; cap: number; cost: number }[] = [];
  const add = (from: number, to: number, cap: number, cost: number): void => {
    edges.push({ from, to, cap, cost }, { from: to, to: from, cap: 0, cost: -cost });
  };
  // Nodes: 0 S, 1 T, 2 super source, 3 super sink, lists, members.
  const excess = new Array<number>(4 + L + m).fill(0);
  const lower = (from: number, to: number, lb: number, ub: number, cost: number): void => {
    if (ub > lb) add(from, to, ub - lb, cost);
    excess[to]! += lb;
    excess[from]! -= lb;
  };
  let baseMoves = 0;
  const remainders = weights.map(() => 0);
  for (let l = 0; l < L; l++) {
    const n = state.lists[l]!.partitions;
    let floors = 0;
    for (let i = 0; i < m; i++) {
      const f = floorDiv(n * weights[i]!, total);
      floors += f;
      remainders[i]! += (n * weights[i]!) % total;
      baseMoves += Math.max(0, counts[l]![i]! - f);
      if ((n * weights[i]!) % total !== 0) add(4 + l, 4 + L + i, 1, counts[l]![i]! > f ? -1 : 0);
    }
    lower(0, 4 + l, n - floors, n - floors, 0);
  }
  for (let i = 0; i < m; i++) lower(4 + L + i, 1, floorDiv(remainders[i]!, total), ceilDiv(remainders[i]!, total), 0);
  add(1, 0, Number.MAX_SAFE_INTEGER, 0);
  let need = 0;
  for (let v = 0; v < excess.length; v++) {
    if (excess[v]! > 0) {
      add(2, v, excess[v]!, 0);
      need += excess[v]!;
    } else if (excess[v]! < 0) add(v, 3, -excess[v]!, 0);
  }
  let cost = 0;
  let flow = 0;
  for (;;) {
    const dist = new Array<number>(excess.length).fill(Infinity);
    const via = new Array<number>(excess.length).fill(-1);
    dist[2] = 0;
    for (let round = 0; round < excess.length; round++) {
      let changed = false;
      edges.forEach((e, k) => {
        if (e.cap > 0 && dist[e.from]! + e.cost < dist[e.to]!) {
          dist[e.to] = dist[e.from]! + e.cost;
          via[e.to] = k;
          changed = true;
        }
      });
      if (!changed) break;
    }
    if (dist[3] === Infinity) break;
    let push = Infinity;
    for (let v = 3; v !== 2; v = edges[via[v]!]!.from) push = Math.min(push, edges[via[v]!]!.cap);
    for (let v = 3; v !== 2; v = edges[via[v]!]!.from) {
      edges[via[v]!]!.cap -= push;
      edges[via[v]! ^ 1]!.cap += push;
    }
    flow += push;
    cost += push * dist[3]!;
  }
  if (flow !== need) throw new Error("no balanced target exists");
  return baseMoves + cost;
}

/** Partitions with no live owner now (unassigned, released, or owned by a member that is gone). */
export function orphans(state: ClusterState): number {
  const live = new Set(state.members.filter((m) => m.live).map((m) => m.nodeId));
  let count = 0;
  for (const list of state.lists) {
    for (const row of list.rows) {
      if (row.partition >= list.partitions) continue;
      if (row.nodeId === null || !live.has(row.nodeId) || row.state === PartitionState.Released) count++;
    }
  }
  return count;
}

export function toPlannerLists(state: ClusterState): PlannerTaskList[] {
  return state.lists.map((l) => ({ ...l, rows: l.rows.map((r) => ({ ...r })) }));
}

/** Applies a plan as the database would, with every requested release confirmed at once. */
export function applyPlan(state: ClusterState, plan: Plan, options: { confirm: boolean } = { confirm: true }): void {
  const byKey = new Map<string, Row>();
  for (const list of state.lists) for (const row of list.rows) byKey.set(`${list.domain}/${list.taskList}/${row.partition}`, row);
  for (const t of plan.transitions) {
    const row = byKey.get(`${t.domain}/${t.taskList}/${t.partition}`)!;
    if (row.generation !== t.generation) throw new Error(`stale transition ${JSON.stringify(t)}`);
    if (t.type === "assign") {
      Object.assign(row, {
        nodeId: t.to,
        state: PartitionState.Assigned,
        generation: row.generation + 1,
        targetNodeId: null,
        releaseAgeMs: -1,
      });
    } else {
      Object.assign(row, {
        state: options.confirm ? PartitionState.Released : PartitionState.ReleaseRequested,
        targetNodeId: t.to,
        releaseAgeMs: 0,
      });
    }
  }
}

/** Live owners confirm every release asked of them. */
function confirmPending(state: ClusterState): void {
  const alive = new Set(state.members.filter((m) => m.live).map((m) => m.nodeId));
  for (const list of state.lists) {
    for (const row of list.rows) {
      if (row.state === PartitionState.ReleaseRequested && row.nodeId !== null && alive.has(row.nodeId))
        row.state = PartitionState.Released;
    }
  }
}

/**
 * Plans and applies rounds (releases confirmed at once) until a round has nothing to do.
 * @returns how many partitions changed owner, and the number of rounds.
 */
export function converge(state: ClusterState, options?: PlannerOptions): { ownerChanges: number; rounds: number } {
  let ownerChanges = 0;
  for (let rounds = 1; rounds <= 1000; rounds++) {
    confirmPending(state);
    const plan = planOwnership({ members: state.members, taskLists: toPlannerLists(state), options });
    if (plan.transitions.length === 0) return { ownerChanges, rounds };
    ownerChanges += plan.transitions.filter((t) => t.type === "assign").length;
    applyPlan(state, plan);
  }
  throw new Error("the planner did not converge in 1000 rounds");
}
