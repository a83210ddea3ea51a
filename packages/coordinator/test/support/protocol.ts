// An explicit-state model of Helix's partition-ownership protocol (DESIGN.md, "Identity, clients and
// hand-off" and "Allocation"), explored exhaustively for small sizes. Every action is one SQL
// statement (atomic) or one local step of a process. All interleavings of actions and clock ticks
// are explored, so a paused process or coordinator is simply one that takes no action while time
// passes, and a lost reply is a second step that never happens.
//
// Time is the database clock T, one integer. Local monotonic clocks run at the same rate, so a
// local deadline is compared with T too; the safety margin is what makes that conservative.

/** A deliberate bug; the explorer must find a counterexample for each. */
export type Mutant =
  | "leave-without-incarnation" // ReleaseMemberPartitions matches the node id only
  | "confirm-without-incarnation" // ConfirmPartitionRelease matches the node id only
  | "force-before-ttl" // a live owner's partition is forced after F alone, not max(F, owner's TTL)
  | "deadline-before-sync" // the heartbeat alone extends the local deadline, before the ownership table is read
  | "resume-old-generation" // ListMemberOwnership matches the node id only: a process resumes an older one's rows
  | "coordinator-without-lease"; // coordinator writes skip the lease fence

export const MUTANTS: readonly Mutant[] = [
  "leave-without-incarnation",
  "confirm-without-incarnation",
  "force-before-ttl",
  "deadline-before-sync",
  "resume-old-generation",
  "coordinator-without-lease",
];

export type InvariantName =
  | "one-owner" // 1: at most one process believes it owns a partition
  | "generation-grows" // 2: gen never goes down, and goes up on every change of owner
  | "lease-fence" // 3: a coordinator write lands only at the lease's current, unexpired epoch
  | "incarnation-fence" // 3: confirm/leave of an incarnation that is not the row's changes nothing
  | "ledger-order"; // 3: writes the partition fence admits never go back in gen; one gen, one incarnation

export interface Config {
  nodeTtl: number;
  margin: number; // safety margin of local deadlines
  forceAfter: number; // F; the effective bound is max(F, owner's TTL)
  leaseTtl: number;
  partitions: number;
  processes: string[]; // the node id of each worker process; a repeated id is a later process
  coordinators: number;
  registrations: number[]; // per process: how often it may (re-)register, each time as a new incarnation
  mutant?: Mutant;
}

// Partition states as in the schema.
const UNASSIGNED = 0;
const ASSIGNED = 1;
const RELEASE_REQUESTED = 2;
const RELEASED = 3;
const NONE = -1; // NULL in a row, "nothing" in a process

interface NodeRow {
  inc: number;
  status: number;
  expires: number;
} // inc 0: no row yet
interface PartitionRow {
  owner: number;
  inc: number;
  state: number;
  gen: number;
  reqAt: number;
} // owner: node index
const PHASES = ["new", "running", "left"] as const;
interface Proc {
  phase: (typeof PHASES)[number];
  inc: number; // current incarnation, 0 before the first registration
  regs: number;
  hbSent: number; // T of the newest heartbeat that succeeded and is not synced yet, or NONE
  deadline: number; // local: beliefs count only while T < deadline
  owns: number[]; // per partition: the gen this process believes it owns, or NONE
  releasing: number[]; // per partition: the gen it saw in state 2 and may confirm, or NONE
}
export interface State {
  t: number;
  nodes: NodeRow[];
  parts: PartitionRow[];
  lease: { epoch: number; holder: number; expires: number };
  coords: number[]; // the epoch each coordinator acquired last (0: never); it writes with it
  procs: Proc[];
  // Per partition, the (gen, inc) at which the partition fence last let a user write through. Every
  // write that lands passes the fence at the row's current (gen, inc), so checking the order of
  // these checks every possible ledger, without a write action per process (which would multiply
  // the states by the ledger's possible contents).
  fenced: { gen: number; inc: number }[];
}

export interface Step {
  op: string;
  proc?: number;
  coord?: number;
  describe: () => string;
}
export interface Violation {
  invariant: InvariantName;
  trace: string[];
}
export interface Result {
  states: number;
  transitions: number;
  violation?: Violation;
}

const live = (s: State, n: number): boolean => s.nodes[n]!.status === 1 && s.nodes[n]!.expires > s.t;
const holds = (r: PartitionRow): boolean => r.state === ASSIGNED || r.state === RELEASE_REQUESTED;
const sameRow = (a: NodeRow | PartitionRow, b: NodeRow | PartitionRow): boolean =>
  (Object.keys(a) as (keyof typeof a)[]).every((f) => a[f] === b[f]);

function clone(s: State): State {
  return {
    t: s.t,
    nodes: s.nodes.map((r) => ({ inc: r.inc, status: r.status, expires: r.expires })),
    parts: s.parts.map((r) => ({ owner: r.owner, inc: r.inc, state: r.state, gen: r.gen, reqAt: r.reqAt })),
    lease: { epoch: s.lease.epoch, holder: s.lease.holder, expires: s.lease.expires },
    coords: s.coords.slice(),
    procs: s.procs.map((p) => ({
      phase: p.phase,
      inc: p.inc,
      regs: p.regs,
      hbSent: p.hbSent,
      deadline: p.deadline,
      owns: p.owns.slice(),
      releasing: p.releasing.slice(),
    })),
    fenced: s.fenced.map((l) => ({ gen: l.gen, inc: l.inc })),
  };
}

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

  /** Every action enabled in s, with the state it leads to. Attempts that change nothing are left out. */
  successors(s: State): { step: Step; next: State }[] {
    const { cfg } = this;
    const out: { step: Step; next: State }[] = [];
    type Actor = { proc?: number; coord?: number };
    const emit = (op: string, actor: Actor, what: () => string, change: (n: State) => void): void => {
      const next = clone(s);
      change(next);
      const who = actor.proc !== undefined ? `${this.procName[actor.proc]} ` : actor.coord !== undefined ? `C${actor.coord + 1} ` : "";
      const step = { op, proc: actor.proc, coord: actor.coord, describe: () => `T=${s.t} ${who}${what()}` };
      out.push({ step, next: this.settle(next) });
    };

    emit(
      "tick",
      {},
      () => "tick",
      (n) => {
        n.t++;
      },
    );

    s.procs.forEach((p, i) => {
      const node = this.procNode[i]!;
      const row = s.nodes[node]!;
      const me = { proc: i };
      if (p.phase === "left") return; // a process that left takes no further action

      // RegisterMember: the row is missing or not live (status <> 1 OR expires_at <= T). Of two identical
      // processes (same node id and budget) the first starts first: the other order is only a renaming.
      const twinFirst = s.procs.some(
        (q, j) => j < i && q.phase === "new" && cfg.processes[j] === cfg.processes[i] && cfg.registrations[j] === cfg.registrations[i],
      );
      if (p.regs < cfg.registrations[i]! && !live(s, node) && !twinFirst) {
        const inc = 1 + i + cfg.processes.length * p.regs; // unique per registration
        emit(
          "register",
          me,
          () => `registers node ${this.nodeIds[node]} as inc ${inc}`,
          (n) => {
            n.nodes[node] = { inc, status: 1, expires: s.t + cfg.nodeTtl };
            Object.assign(n.procs[i]!, { phase: "running", inc, regs: p.regs + 1, hbSent: s.t }); // its reply is a heartbeat
          },
        );
      }
      if (p.phase !== "running") return;

      // HeartbeatMember: incarnation = mine AND status = 1 AND expires_at > T (step 1 of 2).
      if (row.inc === p.inc && live(s, node) && !(p.hbSent === s.t && row.expires === s.t + cfg.nodeTtl)) {
        emit(
          "heartbeat",
          me,
          () => "heartbeat",
          (n) => {
            n.nodes[node]!.expires = s.t + cfg.nodeTtl;
            n.procs[i]!.hbSent = s.t;
            if (cfg.mutant === "deadline-before-sync") n.procs[i]!.deadline = s.t + cfg.nodeTtl - cfg.margin;
          },
        );
      }

      // ListMemberOwnership: owner = my node AND incarnation = my inc AND state IN (1,2) (step 2, may
      // never happen); only then does the deadline move to (heartbeat sent + TTL - margin).
      if (p.hbSent !== NONE) {
        const mine = (r: PartitionRow): boolean =>
          r.owner === node && (r.inc === p.inc || cfg.mutant === "resume-old-generation") && holds(r);
        const deadline = p.hbSent + cfg.nodeTtl - cfg.margin;
        const seen = (): string =>
          s.parts.map((r, k) => (mine(r) ? ` p${k}@${r.gen}${r.state === ASSIGNED ? "" : " (release requested)"}` : "")).join("");
        emit(
          "sync",
          me,
          () => `syncs:${seen() || " nothing"}, deadline ${deadline}`,
          (n) => {
            const q = n.procs[i]!;
            s.parts.forEach((r, k) => {
              q.owns[k] = mine(r) && r.state === ASSIGNED ? r.gen : NONE; // a new gen ends the old belief
              q.releasing[k] = mine(r) && r.state === RELEASE_REQUESTED ? r.gen : NONE; // stop work, then confirm
            });
            q.deadline = deadline;
            q.hbSent = NONE;
          },
        );
      }

      // ConfirmPartitionRelease: owner = my node AND incarnation = my inc AND gen = the gen seen AND state = 2.
      p.releasing.forEach((g, k) => {
        if (g === NONE) return;
        const r = s.parts[k]!;
        const myRow = r.owner === node && (r.inc === p.inc || cfg.mutant === "confirm-without-incarnation");
        const lands = myRow && r.gen === g && r.state === RELEASE_REQUESTED;
        emit(
          "confirm",
          me,
          () => `confirms release of p${k}@${g}${lands ? "" : " (matches no row)"}`,
          (n) => {
            if (lands) n.parts[k]!.state = RELEASED;
            n.procs[i]!.releasing[k] = NONE;
          },
        );
      });

      // ReleaseMemberPartitions: owner = my node AND incarnation = my inc; then
      // DeregisterMember: incarnation = my inc AND status = 1.
      emit(
        "leave",
        me,
        () => "leaves",
        (n) => {
          for (const r of n.parts) {
            if (r.owner === node && (r.inc === p.inc || cfg.mutant === "leave-without-incarnation")) {
              Object.assign(r, { owner: NONE, inc: NONE, state: UNASSIGNED });
            }
          }
          if (row.inc === p.inc && row.status === 1) n.nodes[node]!.status = 0;
          Object.assign(n.procs[i]!, { phase: "left", hbSent: NONE, deadline: 0 });
          n.procs[i]!.owns.fill(NONE); // it believes nothing any more
          n.procs[i]!.releasing.fill(NONE);
        },
      );
    });

    s.coords.forEach((epoch, c) => {
      const me = { coord: c };
      // Lease acquire (expires <= T: epoch + 1) or renew (holder = me AND expires > T), one statement.
      if (s.lease.expires <= s.t) {
        emit(
          "acquire",
          me,
          () => `acquires the lease at epoch ${s.lease.epoch + 1}`,
          (n) => {
            n.lease = { epoch: s.lease.epoch + 1, holder: c, expires: s.t + cfg.leaseTtl };
            n.coords[c] = s.lease.epoch + 1;
          },
        );
      } else if (s.lease.holder === c && s.lease.expires < s.t + cfg.leaseTtl) {
        emit(
          "renew",
          me,
          () => "renews the lease",
          (n) => {
            n.lease.expires = s.t + cfg.leaseTtl;
          },
        );
      }
      // A coordinator writes whether or not it still believes it leads (it may wake from a pause),
      // so its local lease deadline constrains nothing and is not modelled.
      if (epoch === 0) return;
      // The lease fence of every write transaction: lease.epoch = my epoch AND lease.expires > T.
      if (!(s.lease.epoch === epoch && s.lease.expires > s.t) && cfg.mutant !== "coordinator-without-lease") return;

      s.parts.forEach((r, k) => {
        // RequestPartitionRelease: gen = the gen read AND state = 1. It plans from the current row;
        // the gen condition turns any staler plan into a no-op, so no behaviour is lost.
        if (r.state === ASSIGNED) {
          emit(
            "request",
            me,
            () => `requests release of p${k}@${r.gen}`,
            (n) => {
              Object.assign(n.parts[k]!, { state: RELEASE_REQUESTED, reqAt: s.t });
            },
          );
        }
        // AssignPartition to live node N (its incarnation read under a row lock): gen = the gen read AND
        // (state IN (0,3) OR owner IS NULL OR NOT EXISTS live (owner, inc) OR (state = 2 AND T >= reqAt + bound)).
        const ownerLive = r.owner !== NONE && s.nodes[r.owner]!.inc === r.inc && live(s, r.owner);
        const forced = r.state === RELEASE_REQUESTED && s.t >= r.reqAt + this.forceBound;
        if (!(r.state === UNASSIGNED || r.state === RELEASED || r.owner === NONE || !ownerLive || forced)) return;
        s.nodes.forEach((target, node) => {
          if (!live(s, node)) return;
          emit(
            "assign",
            me,
            () => `assigns p${k}@${r.gen + 1} to ${this.nodeIds[node]} inc ${target.inc}`,
            (n) => {
              n.parts[k] = { owner: node, inc: target.inc, state: ASSIGNED, gen: r.gen + 1, reqAt: 0 };
            },
          );
        });
      });
      // MarkExpiredMembersInactive: status = 1 AND expires_at <= T. (No guard can tell: every one reads
      // liveness as status = 1 AND expires_at > T. It is here as one more write to fence.)
      if (s.nodes.some((r) => r.status === 1 && r.expires <= s.t)) {
        emit(
          "sweep",
          me,
          () => "marks expired nodes inactive",
          (n) => {
            for (const r of n.nodes) if (r.status === 1 && r.expires <= s.t) r.status = 0;
          },
        );
      }
    });
    return out;
  }

  /** Invariant 1, in every reachable state. */
  stateViolation(s: State): InvariantName | undefined {
    for (let k = 0; k < s.parts.length; k++) {
      let believers = 0;
      for (const p of s.procs) if (p.phase === "running" && s.t < p.deadline && p.owns[k] !== NONE) believers++;
      if (believers > 1) return "one-owner";
    }
    return undefined;
  }

  /** Invariants 2 and 3, on every transition. */
  stepViolation(prev: State, step: Step, next: State): InvariantName | undefined {
    for (let k = 0; k < prev.parts.length; k++) {
      const [a, b] = [prev.parts[k]!, next.parts[k]!];
      const newOwner = b.owner !== NONE && (a.owner !== b.owner || a.inc !== b.inc);
      if (b.gen < a.gen || (newOwner && b.gen === a.gen)) return "generation-grows";
      const [x, y] = [prev.fenced[k]!, next.fenced[k]!];
      if (y.gen < x.gen || (y.gen === x.gen && y.inc !== x.inc)) return "ledger-order";
    }
    if (step.coord !== undefined) {
      const fenceHolds = prev.lease.epoch === prev.coords[step.coord] && prev.lease.expires > prev.t;
      const landed = prev.nodes.some((r, n) => !sameRow(r, next.nodes[n]!)) || prev.parts.some((r, k) => !sameRow(r, next.parts[k]!));
      if (landed && !fenceHolds) return "lease-fence";
    }
    if (step.proc !== undefined && (step.op === "confirm" || step.op === "leave")) {
      const inc = prev.procs[step.proc]!.inc;
      const node = this.procNode[step.proc]!;
      if (prev.parts.some((r, k) => r.inc !== inc && !sameRow(r, next.parts[k]!))) return "incarnation-fence";
      if (prev.nodes[node]!.inc !== inc && !sameRow(prev.nodes[node]!, next.nodes[node]!)) return "incarnation-fence";
    }
    return undefined;
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
