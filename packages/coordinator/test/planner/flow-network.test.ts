import fc from "fast-check";

import { FlowNetwork, type FlowNetworkSize } from "../../src/planner/flow-network";

interface EdgeSpec {
  readonly from: number;
  readonly to: number;
  readonly capacity: number;
  readonly cost?: number;
}

interface Built {
  readonly network: FlowNetwork;
  /** Each spec's edge index in the network. */
  readonly ids: number[];
}

function build(nodes: number, edges: readonly EdgeSpec[], size: Partial<FlowNetworkSize> = {}): Built {
  const network = new FlowNetwork({ nodes, edges: edges.length, ...size });
  const ids = edges.map((edge) => network.add(edge.from, edge.to, edge.capacity, edge.cost ?? 0));
  return { network, ids };
}

/**
 * Checks that the network carries a feasible flow for `edges` (each edge's flow within its capacity,
 * flow conserved at every node but source and sink) and returns its value and cost.
 */
function feasibleFlow({ network, ids }: Built, nodes: number, edges: readonly EdgeSpec[], source: number, sink: number) {
  const balance = new Array<number>(nodes).fill(0);
  let cost = 0;
  edges.forEach((edge, k) => {
    const flow = network.flowOn(ids[k]!);
    expect(flow).toBeGreaterThanOrEqual(0);
    expect(flow).toBeLessThanOrEqual(edge.capacity);
    expect(network.capacity(ids[k]!) + flow).toBe(edge.capacity);
    balance[edge.from]! -= flow;
    balance[edge.to]! += flow;
    cost += flow * (edge.cost ?? 0);
  });
  balance.forEach((net, node) => {
    if (node !== source && node !== sink) expect(net).toBe(0);
  });
  expect(balance[sink]! + balance[source]!).toBe(0);
  return { value: balance[sink]!, cost };
}

/** Builds the network, runs maxFlow from node 0 to the last node, and checks the flow is feasible. */
function maxFlowOf(nodes: number, edges: readonly EdgeSpec[]): { built: Built; value: number } {
  const built = build(nodes, edges);
  built.network.maxFlow(0, nodes - 1);
  return { built, value: feasibleFlow(built, nodes, edges, 0, nodes - 1).value };
}

/** The maximum flow by the max-flow min-cut theorem: the least capacity of any cut, over every cut. */
function minCut(nodes: number, edges: readonly EdgeSpec[], source: number, sink: number): number {
  let best = Infinity;
  for (let mask = 0; mask < 1 << nodes; mask++) {
    const sourceSide = (node: number): boolean => (mask & (1 << node)) !== 0;
    if (!sourceSide(source) || sourceSide(sink)) continue;
    const cut = edges.filter((edge) => sourceSide(edge.from) && !sourceSide(edge.to)).reduce((sum, edge) => sum + edge.capacity, 0);
    best = Math.min(best, cut);
  }
  return best;
}

/** The largest flow value and its least cost, by trying every integer flow on every edge. */
function bruteForceMinCostMaxFlow(nodes: number, edges: readonly EdgeSpec[], source: number, sink: number) {
  let best = { value: -1, cost: Infinity };
  const flows = new Array<number>(edges.length).fill(0);
  const visit = (k: number): void => {
    if (k === edges.length) {
      const balance = new Array<number>(nodes).fill(0);
      let cost = 0;
      edges.forEach((edge, j) => {
        balance[edge.from]! -= flows[j]!;
        balance[edge.to]! += flows[j]!;
        cost += flows[j]! * (edge.cost ?? 0);
      });
      if (balance.some((net, node) => node !== source && node !== sink && net !== 0)) return;
      const value = balance[sink]!;
      if (value > best.value || (value === best.value && cost < best.cost)) best = { value, cost };
      return;
    }
    for (let flow = 0; flow <= edges[k]!.capacity; flow++) {
      flows[k] = flow;
      visit(k + 1);
    }
  };
  visit(0);
  return best;
}

/** Random directed graphs, cycles and parallel edges included, over nodes 0..n-1. */
const anyGraph = fc.integer({ min: 2, max: 7 }).chain((nodes) =>
  fc.record({
    nodes: fc.constant(nodes),
    edges: fc.array(
      fc
        .record({ from: fc.nat(nodes - 1), to: fc.nat(nodes - 1), capacity: fc.integer({ min: 0, max: 6 }) })
        .filter((edge) => edge.from !== edge.to),
      { maxLength: 16 },
    ),
  }),
);

/** Random acyclic graphs (edges only from lower to higher nodes), small enough to try every flow, costs negative too. */
const acyclicGraph = fc.integer({ min: 2, max: 5 }).chain((nodes) =>
  fc.record({
    nodes: fc.constant(nodes),
    edges: fc.array(
      fc
        .record({
          from: fc.nat(nodes - 1),
          to: fc.nat(nodes - 1),
          capacity: fc.integer({ min: 0, max: 2 }),
          cost: fc.integer({ min: -3, max: 4 }),
        })
        .filter((edge) => edge.from < edge.to),
      { maxLength: 7 },
    ),
  }),
);

describe("maxFlow", () => {
  test("finds the maximum flow of a textbook network (CLRS, 23)", () => {
    const edges: EdgeSpec[] = [
      { from: 0, to: 1, capacity: 16 },
      { from: 0, to: 2, capacity: 13 },
      { from: 2, to: 1, capacity: 4 },
      { from: 1, to: 3, capacity: 12 },
      { from: 3, to: 2, capacity: 9 },
      { from: 2, to: 4, capacity: 14 },
      { from: 4, to: 3, capacity: 7 },
      { from: 3, to: 5, capacity: 20 },
      { from: 4, to: 5, capacity: 4 },
    ];
    const { built, value } = maxFlowOf(6, edges);
    expect(value).toBe(23);
    // Every edge into the sink side of the minimum cut {0, 1, 2, 4} | {3, 5} is saturated.
    for (const k of [3, 6, 8]) expect(built.network.capacity(built.ids[k]!)).toBe(0);
  });

  test("finds nothing when the sink cannot be reached", () => {
    const edges: EdgeSpec[] = [
      { from: 0, to: 1, capacity: 5 },
      { from: 2, to: 3, capacity: 5 },
      { from: 1, to: 3, capacity: 0 },
    ];
    expect(maxFlowOf(4, edges).value).toBe(0);
  });

  test("equals the minimum cut on random graphs", () => {
    fc.assert(
      fc.property(anyGraph, ({ nodes, edges }) => {
        expect(maxFlowOf(nodes, edges).value).toBe(minCut(nodes, edges, 0, nodes - 1));
      }),
      { numRuns: 500 },
    );
  });

  test("augments on top of pushed units and reopened edges, as the planner uses it", () => {
    fc.assert(
      fc.property(anyGraph, fc.array(fc.boolean(), { minLength: 16, maxLength: 16 }), ({ nodes, edges }, closed) => {
        const sink = nodes - 1;
        // Closed edges start with no capacity; the first path found greedily gets a unit by `push`.
        const built = build(nodes, edges);
        edges.forEach((_, k) => {
          if (closed[k]) built.network.setCapacity(built.ids[k]!, 0);
        });
        const path = unitPath(built, nodes, edges, 0, sink);
        if (path !== null) built.network.push(path);
        built.network.maxFlow(0, sink);
        const open = edges.map((edge, k) => (closed[k] ? { ...edge, capacity: 0 } : edge));
        expect(feasibleFlow(built, nodes, open, 0, sink).value).toBe(minCut(nodes, open, 0, sink));
        // Reopen them (none carries flow) and augment again: the maximum of the whole network.
        edges.forEach((edge, k) => {
          if (closed[k]) built.network.setCapacity(built.ids[k]!, edge.capacity);
        });
        built.network.maxFlow(0, sink);
        expect(feasibleFlow(built, nodes, edges, 0, sink).value).toBe(minCut(nodes, edges, 0, sink));
      }),
      { numRuns: 300 },
    );
  });
});

/** Edges of a simple path from source to sink with capacity left on each, by depth-first search, or null. */
function unitPath({ network, ids }: Built, nodes: number, edges: readonly EdgeSpec[], source: number, sink: number): number[] | null {
  const seen = new Array<boolean>(nodes).fill(false);
  const walk = (node: number): number[] | null => {
    if (node === sink) return [];
    seen[node] = true;
    for (const [k, edge] of edges.entries()) {
      if (edge.from !== node || seen[edge.to] || network.capacity(ids[k]!) < 1) continue;
      const rest = walk(edge.to);
      if (rest !== null) return [ids[k]!, ...rest];
    }
    return null;
  };
  return walk(source);
}

describe("minCostFlow", () => {
  test("sends the maximum flow at the least cost on a hand-checked network (4 units, cost 17)", () => {
    const edges: EdgeSpec[] = [
      { from: 0, to: 1, capacity: 2, cost: 1 },
      { from: 0, to: 2, capacity: 2, cost: 5 },
      { from: 1, to: 3, capacity: 1, cost: 1 },
      { from: 2, to: 3, capacity: 3, cost: 1 },
      { from: 1, to: 2, capacity: 2, cost: 1 },
    ];
    const built = build(4, edges, { costs: true });
    built.network.minCostFlow(0, 3);
    expect(feasibleFlow(built, 4, edges, 0, 3)).toEqual({ value: 4, cost: 17 });
    expect(built.ids.map((id) => built.network.flowOn(id))).toEqual([2, 2, 1, 3, 1]);
  });

  test("prefers the pair of cost -1 (a kept partition) and meets a lower bound of cost -big first", () => {
    // Source 0 -> task list 1 (one extra) -> members 2 and 3 -> sink 4; member 3 keeps a partition
    // (cost -1), but member 2 must reach its lower bound of 1 (cost -big) and member 3 has none.
    const edges: EdgeSpec[] = [
      { from: 0, to: 1, capacity: 1, cost: 0 },
      { from: 1, to: 2, capacity: 1, cost: 0 },
      { from: 1, to: 3, capacity: 1, cost: -1 },
      { from: 2, to: 4, capacity: 1, cost: -2 },
      { from: 3, to: 4, capacity: 1, cost: 0 },
    ];
    const built = build(5, edges, { costs: true });
    built.network.minCostFlow(0, 4);
    expect(feasibleFlow(built, 5, edges, 0, 4)).toEqual({ value: 1, cost: -2 });
    expect(built.network.flowOn(built.ids[1]!)).toBe(1);

    const withoutBound = edges.map((edge, k) => (k === 3 ? { ...edge, cost: 0 } : edge));
    const free = build(5, withoutBound, { costs: true });
    free.network.minCostFlow(0, 4);
    expect(feasibleFlow(free, 5, withoutBound, 0, 4)).toEqual({ value: 1, cost: -1 });
    expect(free.network.flowOn(free.ids[2]!)).toBe(1);
  });

  test("equals the best of every integer flow on random acyclic networks with negative costs", () => {
    fc.assert(
      fc.property(acyclicGraph, ({ nodes, edges }) => {
        const built = build(nodes, edges, { costs: true });
        built.network.minCostFlow(0, nodes - 1);
        expect(feasibleFlow(built, nodes, edges, 0, nodes - 1)).toEqual(bruteForceMinCostMaxFlow(nodes, edges, 0, nodes - 1));
      }),
      { numRuns: 500 },
    );
  });
});

describe("misuse is an internal error", () => {
  test("more edges than the network was made for", () => {
    const network = new FlowNetwork({ nodes: 2, edges: 1 });
    network.add(0, 1, 1);
    expect(() => network.add(0, 1, 1)).toThrow(/more edges than the 1/);
  });

  test("costs on a network made without them", () => {
    const network = new FlowNetwork({ nodes: 2, edges: 2 });
    expect(() => network.add(0, 1, 1, -1)).toThrow(/without costs/);
    network.add(0, 1, 1);
    expect(() => network.minCostFlow(0, 1)).toThrow(/without costs/);
  });
});
