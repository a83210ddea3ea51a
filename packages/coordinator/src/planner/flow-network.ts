import { addAt, checked } from "./checked";
import { MinHeap } from "./heap";

/** What a {@link FlowNetwork} is made for: its arrays are allocated once, at this size. */
export interface FlowNetworkSize {
  /** Nodes, numbered from 0. */
  readonly nodes: number;
  /** Most edges that will be added. */
  readonly edges: number;
  /** Whether edges carry costs, as {@link FlowNetwork.minCostFlow} needs. @default false */
  readonly costs?: boolean;
}

/**
 * A flow network with integer capacities (and costs, when made with `costs`) on adjacency lists in
 * typed arrays: Dinic's algorithm for maximum flow, successive shortest paths for min-cost flow.
 *
 * Every edge is stored with its residual twin, at the index `edge ^ 1`: the twin runs the other way
 * with capacity 0 and the negated cost, and pushing flow along an edge moves capacity to its twin.
 * Flow accumulates: each call to {@link FlowNetwork.maxFlow} or {@link FlowNetwork.minCostFlow} augments
 * what is there.
 */
export class FlowNetwork {
  // Per node: its first edge, -1 for none. Per edge slot: the next edge of the same node, the node
  // it leads to, its residual capacity and its cost.
  readonly #firstEdgeOf: Int32Array;
  readonly #nextEdgeOf: Int32Array;
  readonly #targetNode: Int32Array;
  readonly #capacity: Float64Array;
  readonly #cost: Float64Array;
  readonly #withCosts: boolean;
  #slotsUsed = 0;

  constructor(size: FlowNetworkSize) {
    this.#firstEdgeOf = new Int32Array(size.nodes).fill(-1);
    this.#nextEdgeOf = new Int32Array(2 * size.edges);
    this.#targetNode = new Int32Array(2 * size.edges);
    this.#capacity = new Float64Array(2 * size.edges);
    // Max-flow networks are large and need no costs: they get no array for them.
    this.#withCosts = size.costs === true;
    this.#cost = new Float64Array(this.#withCosts ? 2 * size.edges : 0);
  }

  /**
   * Adds an edge and its residual twin.
   * @returns the edge's index, for {@link FlowNetwork.capacity}, {@link FlowNetwork.flowOn},
   *   {@link FlowNetwork.setCapacity} and {@link FlowNetwork.push}.
   */
  add(from: number, to: number, capacity: number, cost = 0): number {
    const edge = this.#slotsUsed;
    if (edge + 2 > this.#targetNode.length) {
      throw new Error(`planner: internal error: more edges than the ${this.#targetNode.length / 2} the network was made for`);
    }
    if (cost !== 0 && !this.#withCosts) throw new Error("planner: internal error: a cost on a network made without costs");
    this.#link(edge, from, to, capacity);
    this.#link(edge + 1, to, from, 0);
    if (this.#withCosts) {
      this.#cost[edge] = cost;
      this.#cost[edge + 1] = -cost;
    }
    this.#slotsUsed += 2;
    return edge;
  }

  /** The capacity an edge has left. */
  capacity(edge: number): number {
    return checked(this.#capacity[edge]);
  }

  /** The flow an edge carries (its residual twin's capacity). */
  flowOn(edge: number): number {
    return this.capacity(edge ^ 1);
  }

  /** Sets the capacity of an edge that carries no flow yet. */
  setCapacity(edge: number, capacity: number): void {
    this.#capacity[edge] = capacity;
  }

  /** Pushes one unit along a path of edges (the caller has checked that each has capacity). */
  push(path: readonly number[]): void {
    for (const edge of path) this.#shift(edge, 1);
  }

  /** Augments until no path from `source` to `sink` is left. */
  maxFlow(source: number, sink: number): void {
    const nodeCount = this.#firstEdgeOf.length;
    const level = new Int32Array(nodeCount);
    const current = new Int32Array(nodeCount);
    const queue = new Int32Array(nodeCount);
    const path: number[] = [];
    while (this.#buildLevels(source, sink, level, queue)) {
      current.set(this.#firstEdgeOf);
      this.#blockingFlow(source, sink, level, current, path);
    }
  }

  /**
   * Sends as much flow as possible from `source` to `sink` at the least cost. The edges with
   * capacity must form an acyclic network at first, so that the first potentials can be found in
   * topological order despite negative costs.
   */
  minCostFlow(source: number, sink: number): void {
    if (!this.#withCosts) throw new Error("planner: internal error: minCostFlow on a network made without costs");
    const nodeCount = this.#firstEdgeOf.length;
    // Potentials keep reduced costs non-negative, so that Dijkstra's algorithm applies.
    const potential = this.#acyclicDistances(source);
    const distance = new Float64Array(nodeCount);
    const via = new Int32Array(nodeCount);
    const path: number[] = [];
    for (;;) {
      this.#shortestPaths(source, potential, distance, via);
      if (distance[sink] === Infinity) return;
      for (let node = 0; node < nodeCount; node++) {
        const nodeDistance = checked(distance[node]);
        if (nodeDistance !== Infinity) potential[node] = checked(potential[node]) + nodeDistance;
      }
      // The shortest path, from the sink back to the source.
      path.length = 0;
      for (let node = sink; node !== source;) {
        const edge = checked(via[node]);
        path.push(edge);
        node = this.#sourceOf(edge);
      }
      this.#augment(path);
    }
  }

  #link(edge: number, from: number, to: number, capacity: number): void {
    this.#targetNode[edge] = to;
    this.#capacity[edge] = capacity;
    this.#nextEdgeOf[edge] = checked(this.#firstEdgeOf[from]);
    this.#firstEdgeOf[from] = edge;
  }

  #firstEdge(node: number): number {
    return checked(this.#firstEdgeOf[node]);
  }

  #nextEdge(edge: number): number {
    return checked(this.#nextEdgeOf[edge]);
  }

  /** The node an edge leads to. */
  #targetOf(edge: number): number {
    return checked(this.#targetNode[edge]);
  }

  /** The node an edge leaves: where its twin leads. */
  #sourceOf(edge: number): number {
    return this.#targetOf(edge ^ 1);
  }

  #costOf(edge: number): number {
    return checked(this.#cost[edge]);
  }

  /** Moves `amount` of capacity from an edge to its twin: `amount` more flow along the edge. */
  #shift(edge: number, amount: number): void {
    this.#capacity[edge] = this.capacity(edge) - amount;
    this.#capacity[edge ^ 1] = this.capacity(edge ^ 1) + amount;
  }

  /** Levels by breadth-first search from `source` over edges with capacity; whether `sink` has one. */
  #buildLevels(source: number, sink: number, level: Int32Array, queue: Int32Array): boolean {
    level.fill(-1);
    level[source] = 0;
    let queueHead = 0;
    let queueTail = 0;
    queue[queueTail++] = source;
    while (queueHead < queueTail) {
      const node = checked(queue[queueHead++]);
      const nextLevel = checked(level[node]) + 1;
      for (let edge = this.#firstEdge(node); edge !== -1; edge = this.#nextEdge(edge)) {
        const to = this.#targetOf(edge);
        if (this.capacity(edge) > 0 && level[to] === -1) {
          level[to] = nextLevel;
          queue[queueTail++] = to;
        }
      }
    }
    return level[sink] !== -1;
  }

  /**
   * A blocking flow over the level graph: walk forward along edges to the next level, retreat from
   * dead ends (and drop them from the level graph), and push the bottleneck whenever `sink` is reached.
   * `current` is each node's next edge to try, so that no edge is tried twice in one phase.
   */
  #blockingFlow(source: number, sink: number, level: Int32Array, current: Int32Array, path: number[]): void {
    let node = source;
    path.length = 0;
    for (;;) {
      if (node === sink) {
        // Retreat to the tail of the first edge the push saturated.
        path.length = this.#augment(path);
        const last = path.at(-1);
        node = last === undefined ? source : this.#targetOf(last);
        continue;
      }
      const edge = this.#advance(node, level, current);
      if (edge !== -1) {
        path.push(edge);
        node = this.#targetOf(edge);
        continue;
      }
      if (node === source) return;
      level[node] = -1;
      const back = checked(path.pop());
      node = this.#sourceOf(back);
      current[node] = this.#nextEdge(checked(current[node]));
    }
  }

  /** The first edge from `current[node]` on that has capacity and leads one level deeper, or -1; remembered in `current`. */
  #advance(node: number, level: Int32Array, current: Int32Array): number {
    const nextLevel = checked(level[node]) + 1;
    let edge = checked(current[node]);
    while (edge !== -1 && !(this.capacity(edge) > 0 && level[this.#targetOf(edge)] === nextLevel)) edge = this.#nextEdge(edge);
    current[node] = edge;
    return edge;
  }

  /** Pushes the bottleneck along `path` (in any order); returns the index in `path` of its first saturated edge. */
  #augment(path: readonly number[]): number {
    let bottleneck = Infinity;
    for (const edge of path) bottleneck = Math.min(bottleneck, this.capacity(edge));
    let firstSaturated = path.length;
    for (let step = path.length - 1; step >= 0; step--) {
      const edge = checked(path[step]);
      this.#shift(edge, bottleneck);
      if (this.capacity(edge) === 0) firstSaturated = step;
    }
    return firstSaturated;
  }

  /** Dijkstra's algorithm on reduced costs: fills `distance` and the edge each node is reached by (`via`). */
  #shortestPaths(source: number, potential: Float64Array, distance: Float64Array, via: Int32Array): void {
    distance.fill(Infinity);
    via.fill(-1);
    distance[source] = 0;
    const heap = new MinHeap();
    heap.push(0, source);
    while (heap.size > 0) {
      const [nodeDistance, node] = heap.pop();
      // A stale entry: the node was reached by a shorter path since.
      if (nodeDistance > checked(distance[node])) continue;
      const nodePotential = checked(potential[node]);
      for (let edge = this.#firstEdge(node); edge !== -1; edge = this.#nextEdge(edge)) {
        if (this.capacity(edge) <= 0) continue;
        const to = this.#targetOf(edge);
        const reduced = nodeDistance + this.#costOf(edge) + nodePotential - checked(potential[to]);
        if (reduced < checked(distance[to])) {
          distance[to] = reduced;
          via[to] = edge;
          heap.push(reduced, to);
        }
      }
    }
  }

  /** Shortest distances from `source` over forward edges with capacity, relaxed in topological order; 0 where unreachable. */
  #acyclicDistances(source: number): Float64Array {
    const nodeCount = this.#firstEdgeOf.length;
    const indegree = new Int32Array(nodeCount);
    for (let edge = 0; edge < this.#slotsUsed; edge += 2) {
      if (this.capacity(edge) > 0) addAt(indegree, this.#targetOf(edge), 1);
    }
    const distance = new Float64Array(nodeCount).fill(Infinity);
    distance[source] = 0;
    const order = [...Array(nodeCount).keys()].filter((node) => indegree[node] === 0);
    for (let position = 0; position < order.length; position++) {
      const node = checked(order[position]);
      for (let edge = this.#firstEdge(node); edge !== -1; edge = this.#nextEdge(edge)) {
        // Twins (odd indices) run backwards; only forward edges with capacity belong to the order.
        if ((edge & 1) === 1 || this.capacity(edge) <= 0) continue;
        const to = this.#targetOf(edge);
        const viaNode = checked(distance[node]) + this.#costOf(edge);
        if (viaNode < checked(distance[to])) distance[to] = viaNode;
        const remaining = checked(indegree[to]) - 1;
        indegree[to] = remaining;
        if (remaining === 0) order.push(to);
      }
    }
    for (let node = 0; node < nodeCount; node++) if (distance[node] === Infinity) distance[node] = 0;
    return distance;
  }
}
