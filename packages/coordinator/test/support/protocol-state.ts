// The state of the partition-ownership model (see protocol.ts): its configuration, the mutants and
// invariants it knows, the database rows and processes it tracks, and the helpers that read and copy
// a state.

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
export const UNASSIGNED = 0;
export const ASSIGNED = 1;
export const RELEASE_REQUESTED = 2;
export const RELEASED = 3;
export const NONE = -1; // NULL in a row, "nothing" in a process

export interface NodeRow {
  inc: number;
  status: number;
  expires: number;
} // inc 0: no row yet
export interface PartitionRow {
  owner: number;
  inc: number;
  state: number;
  gen: number;
  reqAt: number;
} // owner: node index
export const PHASES = ["new", "running", "left"] as const;
export interface Proc {
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

export const live = (s: State, n: number): boolean => s.nodes[n]!.status === 1 && s.nodes[n]!.expires > s.t;
/** Whether the partition fence passes for the row's process: a row that names none (reserved) passes for nobody. */
export const holds = (r: PartitionRow): boolean => r.inc !== NONE && (r.state === ASSIGNED || r.state === RELEASE_REQUESTED);
export const sameRow = (a: NodeRow | PartitionRow, b: NodeRow | PartitionRow): boolean =>
  (Object.keys(a) as (keyof typeof a)[]).every((f) => a[f] === b[f]);

export function clone(s: State): State {
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
