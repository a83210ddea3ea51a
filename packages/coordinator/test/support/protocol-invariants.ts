// The invariants of the partition-ownership model (see protocol.ts): 1 checked in every reachable
// state, 2 and 3 on every transition.
import { NONE, sameRow, type InvariantName, type State, type Step } from "./protocol-state";
import type { Protocol } from "./protocol";

/** Invariant 1, in every reachable state. */
export function stateViolation(s: State): InvariantName | undefined {
  for (let k = 0; k < s.parts.length; k++) {
    let believers = 0;
    for (const p of s.procs) if (p.phase === "running" && s.t < p.deadline && p.owns[k] !== NONE) believers++;
    if (believers > 1) return "one-owner";
  }
  return undefined;
}

/** Invariants 2 and 3, on every transition. */
export function stepViolation(model: Protocol, prev: State, step: Step, next: State): InvariantName | undefined {
  for (let k = 0; k < prev.parts.length; k++) {
    const [a, b] = [prev.parts[k]!, next.parts[k]!];
    // A row that names no process (reserved for a node id by a leave saying it will be back) has no owner.
    const newOwner = b.owner !== NONE && b.inc !== NONE && (a.owner !== b.owner || a.inc !== b.inc);
    if (b.gen < a.gen || (newOwner && b.gen === a.gen)) return "generation-grows";
    const [x, y] = [prev.fenced[k]!, next.fenced[k]!];
    if (y.gen < x.gen || (y.gen === x.gen && y.inc !== x.inc)) return "ledger-order";
  }
  if (step.coord !== undefined) {
    const fenceHolds = prev.lease.epoch === prev.coords[step.coord] && prev.lease.expires > prev.t;
    const landed = prev.nodes.some((r, n) => !sameRow(r, next.nodes[n]!)) || prev.parts.some((r, k) => !sameRow(r, next.parts[k]!));
    if (landed && !fenceHolds) return "lease-fence";
  }
  if (step.proc !== undefined && (step.op === "confirm" || step.op === "leave" || step.op === "leave-returning")) {
    const inc = prev.procs[step.proc]!.inc;
    const node = model.procNode[step.proc]!;
    if (prev.parts.some((r, k) => r.inc !== inc && !sameRow(r, next.parts[k]!))) return "incarnation-fence";
    if (prev.nodes[node]!.inc !== inc && !sameRow(prev.nodes[node]!, next.nodes[node]!)) return "incarnation-fence";
  }
  return undefined;
}
