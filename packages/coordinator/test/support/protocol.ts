// An explicit-state model of Helix's partition-ownership protocol (DESIGN.md, "Identity, clients and
// hand-off" and "Allocation"), explored exhaustively for small sizes. Every action is one SQL
// statement (atomic) or one local step of a process. All interleavings of actions and clock ticks
// are explored, so a paused process or coordinator is simply one that takes no action while time
// passes, and a lost reply is a second step that never happens.
//
// Time is the database clock T, one integer. Local monotonic clocks run at the same rate, so a
// local deadline is compared with T too; the safety margin is what makes that conservative.
import { successors as enabledActions } from "./protocol-actions";
import { stateViolation, stepViolation } from "./protocol-invariants";
import {
  holds,
  live,
  NONE,
  PHASES,
  RELEASE_REQUESTED,
  UNASSIGNED,
  type Config,
  type InvariantName,
  type Result,
  type State,
  type Step,
} from "./protocol-state";

export {
  MUTANTS,
  type Config,
  type InvariantName,
  type Mutant,
  type Result,
  type State,
  type Step,
  type Violation,
} from "./protocol-state";

/** One configuration: names, actions, invariants. */
export class Protocol {
  readonly nodeIds: string[];
  readonly procNode: number[];
  readonly procName: string[]; // A1, A2, B1: node id and the process's rank among that id's processes
  readonly forceBound: number;

  constructor(readonly cfg: Config) {
    this.nodeIds = [...new Set(cfg.processes)];
    this.procNode = cfg.processes.map((id) => this.nodeIds.indexOf(id));
    this.procName = cfg.processes.map((id, p) => id + cfg.processes.slice(0, p + 1).filter((x) => x === id).length);
    this.forceBound = cfg.mutant === "force-before-ttl" ? cfg.forceAfter : Math.max(cfg.forceAfter, cfg.nodeTtl);
  }

  initial(): State {
    const { cfg } = this;
    const perPartition = (): number[] => Array.from({ length: cfg.partitions }, () => NONE);
    return this.settle({
      t: 0,
      nodes: this.nodeIds.map(() => ({ inc: 0, status: 0, expires: 0 })),
      parts: perPartition().map(() => ({ owner: NONE, inc: NONE, state: UNASSIGNED, gen: 0, reqAt: 0 })),
      lease: { epoch: 0, holder: NONE, expires: 0 },
      coords: Array.from({ length: cfg.coordinators }, () => 0),
      procs: cfg.processes.map(() => ({
        phase: "new" as const,
        inc: 0,
        regs: 0,
        hbSent: NONE,
        deadline: 0,
        owns: perPartition(),
        releasing: perPartition(),
      })),
      fenced: perPartition().map(() => ({ gen: NONE, inc: NONE })),
    });
  }

  /** What holds after every step: self-fencing, and the partition fence's record. */
  settle(s: State): State {
    for (const p of s.procs) if (s.t >= p.deadline) p.owns.fill(NONE); // stops believing the moment T >= deadline
    s.parts.forEach((r, k) => {
      if (holds(r)) s.fenced[k] = { gen: r.gen, inc: r.inc };
    });
    return s;
  }

  /**
   * The visited-set key: what a guard or an invariant can still observe, one character per number.
   * Guards compare times only with T, and generations only with the row's (which never comes back),
   * so times are kept relative to T and generations as "the row's", "older" or none; states that
   * differ by a shift of the clock or of the generations behave alike, which makes the state space
   * finite without a horizon. Erased too: the expiry and status of a row that is not live (the sweep
   * only changes that status), how long ago beyond (TTL - margin) a heartbeat or beyond the force
   * bound a release request was, a deadline with no belief left, an expired lease's holder.
   * Coordinators are interchangeable and epochs are only compared for equality with the lease's, so
   * the lease counts as held or not (and, only when a deposed coordinator can still write, who holds
   * which epoch).
   */
  key(s: State): string {
    const { nodeTtl, margin } = this.cfg;
    const k: number[] = [];
    const gen = (part: number, g: number): number => (g === NONE ? 2 : s.parts[part]!.gen === g ? 0 : 1);
    s.nodes.forEach((r, n) => k.push(r.inc, live(s, n) ? r.expires - s.t : 0));
    for (const r of s.parts) {
      k.push(r.owner, r.inc, r.state, r.state === RELEASE_REQUESTED ? Math.max(r.reqAt - s.t, -this.forceBound) : 0);
    }
    s.fenced.forEach((f, part) => k.push(gen(part, f.gen), f.inc));
    const held = s.lease.expires > s.t;
    k.push(held ? s.lease.expires - s.t : 0);
    if (this.cfg.mutant === "coordinator-without-lease") {
      k.push(held ? s.lease.holder : NONE);
      for (const e of s.coords) k.push(e === 0 ? 0 : e === s.lease.epoch ? 1 : 2);
    }
    for (const p of s.procs) {
      const believes = p.owns.some((g) => g !== NONE);
      const sent = p.hbSent === NONE ? NONE : Math.max(p.hbSent - s.t, margin - nodeTtl);
      k.push(PHASES.indexOf(p.phase), p.inc, sent, believes ? p.deadline - s.t : 0);
      p.owns.forEach((g, part) => k.push(gen(part, g)));
      p.releasing.forEach((g, part) => k.push(gen(part, g)));
    }
    return String.fromCharCode.apply(
      null,
      k.map((v) => 80 + v),
    );
  }

  /** Every action enabled in s, with the state it leads to (see protocol-actions.ts). */
  successors(s: State): { step: Step; next: State }[] {
    return enabledActions(this, s);
  }

  /** Invariant 1, in every reachable state (see protocol-invariants.ts). */
  stateViolation(s: State): InvariantName | undefined {
    return stateViolation(s);
  }

  /** Invariants 2 and 3, on every transition (see protocol-invariants.ts). */
  stepViolation(prev: State, step: Step, next: State): InvariantName | undefined {
    return stepViolation(this, prev, step, next);
  }
}

/**
 * Explores every state reachable from the initial one, breadth-first, with a visited set of
 * canonical keys (see Protocol.key). Stops at the first violation of an invariant in `check` (all
 * by default) and replays the path to it for a readable trace.
 */
export function explore(cfg: Config, check?: readonly InvariantName[]): Result {
  const model = new Protocol(cfg);
  const watched = (name: InvariantName | undefined): name is InvariantName => name !== undefined && (!check || check.includes(name));
  const from: number[] = [NONE]; // per state id: its parent's id, and which of the parent's successors it is
  const via: number[] = [NONE];
  let transitions = 0;
  const found = (id: number, invariant: InvariantName, lastVia?: number): Result => {
    const path = lastVia === undefined ? [] : [lastVia];
    for (let at = id; from[at] !== NONE; at = from[at]!) path.unshift(via[at]!);
    let s = model.initial();
    const trace = path.map((index) => {
      const { step, next } = model.successors(s)[index]!;
      s = next;
      return step.describe();
    });
    return { states: from.length, transitions, violation: { invariant, trace: [...trace, `=> violates ${invariant}`] } };
  };

  const init = model.initial();
  const bad = model.stateViolation(init);
  if (watched(bad)) return found(0, bad);
  const seen = new Set([model.key(init)]);
  const queue: (State | undefined)[] = [init]; // a state's id is its place in the queue
  for (let id = 0; id < queue.length; id++) {
    const s = queue[id]!;
    queue[id] = undefined; // done with it
    const successors = model.successors(s);
    for (let index = 0; index < successors.length; index++) {
      const { step, next } = successors[index]!;
      transitions++;
      const badStep = model.stepViolation(s, step, next);
      if (watched(badStep)) return found(id, badStep, index);
      const known = seen.size;
      if (seen.add(model.key(next)).size === known) continue; // seen before
      from.push(id);
      via.push(index);
      queue.push(next);
      const badState = model.stateViolation(next);
      if (watched(badState)) return found(queue.length - 1, badState);
    }
  }
  return { states: from.length, transitions };
}
