// The model's actions as calls: which actor attempts what, with the arguments the statements take
// (see protocol-sql.ts for the statements, protocol-sql.test.ts for the test). A model step is read
// as the call it makes; attempts that the model leaves out are calls too.
import type { Protocol } from "./protocol";
import { live, RELEASE_REQUESTED, NONE, sameRow, type State, type Step } from "./protocol-state";

/** One concrete attempt of an actor: a model action with the arguments its statements take. */
export type Call =
  | { op: "tick" }
  | { op: "register" | "heartbeat" | "sync" | "leave" | "leave-returning"; proc: number; inc: number }
  | { op: "confirm"; proc: number; inc: number; part: number; gen: number }
  | { op: "acquire" | "renew" | "sweep"; coord: number; epoch: number }
  | { op: "request"; coord: number; epoch: number; part: number }
  | { op: "assign"; coord: number; epoch: number; part: number; node: number };

/** Calls are equal when their keys are. */
export const callKey = (call: Call): string => JSON.stringify(call);

/** The call a model step makes: its actor's arguments, read off the states before and after it. */
export function callOf(s: State, step: Step, next: State): Call {
  const proc = step.proc!;
  const coord = step.coord!;
  const changed = (k: number): boolean => !sameRow(s.parts[k]!, next.parts[k]!);
  const part = (test: (k: number) => boolean): number => s.parts.findIndex((_, k) => test(k));
  switch (step.op) {
    case "tick":
      return { op: "tick" };
    case "register":
      return { op: "register", proc, inc: next.procs[proc]!.inc };
    case "heartbeat":
    case "sync":
    case "leave":
    case "leave-returning":
      return { op: step.op, proc, inc: s.procs[proc]!.inc };
    case "confirm": {
      const k = part((k) => s.procs[proc]!.releasing[k] !== NONE && next.procs[proc]!.releasing[k] === NONE);
      return { op: "confirm", proc, inc: s.procs[proc]!.inc, part: k, gen: s.procs[proc]!.releasing[k]! };
    }
    case "acquire":
    case "renew":
    case "sweep":
      return { op: step.op, coord, epoch: s.coords[coord]! };
    case "request":
      return { op: "request", coord, epoch: s.coords[coord]!, part: part(changed) };
    case "assign": {
      const k = part(changed);
      return { op: "assign", coord, epoch: s.coords[coord]!, part: k, node: next.parts[k]!.owner };
    }
    default:
      throw new Error(`the model has an action the test cannot run: ${step.op}`);
  }
}

/** A registration attempt's incarnation: one that no process of the model has. */
const PROBE_INCARNATION = 1000;

/**
 * Attempts the model leaves out where it knows they change nothing: every coordinator's writes
 * (refused by the lease fence or the hand-off rule unless the model has them), heartbeats of
 * every running process, registrations over a live member, lease attempts. (Registrations of a
 * node that is not live are left to the model: who may register then is its configuration's
 * choice, not a guard. So are confirmations: a process confirms only a request it has read.)
 */
export function probes(model: Protocol, s: State): Call[] {
  const calls: Call[] = [];
  s.procs.forEach((p, proc) => {
    if (p.phase !== "running") return;
    calls.push({ op: "heartbeat", proc, inc: p.inc });
    const node = s.nodes[model.procNode[proc]!]!;
    if (node.status === 1 && node.expires > s.t) calls.push({ op: "register", proc, inc: PROBE_INCARNATION });
  });
  s.coords.forEach((epoch, coord) => {
    calls.push({ op: "acquire", coord, epoch }, { op: "renew", coord, epoch });
    if (epoch === 0) return;
    calls.push({ op: "sweep", coord, epoch });
    s.parts.forEach((_, part) => {
      calls.push({ op: "request", coord, epoch, part });
      model.nodeIds.forEach((__, node) => calls.push({ op: "assign", coord, epoch, part, node }));
    });
  });
  return calls;
}

/** Whether a coordinator elected at `epoch` may write in s: the lease fence the model writes under. */
export const leaseHolds = (s: State, epoch: number): boolean => epoch > 0 && s.lease.epoch === epoch && s.lease.expires > s.t;

/**
 * The attempts tried after each step that moved the clock or the rows, each in a transaction that
 * is rolled back, where one comparison of a statement decides (random steps reach these moments
 * too seldom, and an attempt that lands would end the state it is there to probe): at the last
 * instant of a registration and at its expiry, the registrations the model allows and one over the
 * live member, the member's heartbeats and the sweep; the heartbeats and leaves of processes whose
 * node id has registered again since; at the last instant of the lease and at its expiry, every
 * coordinator's lease attempts; the release requests of the coordinator in office; around every
 * pending release, each hand-off to a live member by the coordinator in office (refused until the
 * model's force bound, then landing), the owner's confirmation once it has read the request, and
 * each confirmation by a process of the owner's node id with another incarnation. The model says
 * what each must do: its action's outcome when it has the action, else nothing (its guard
 * refuses; for a confirmation of another incarnation, its incarnation-fence invariant).
 */
export function boundaryChecks(model: Protocol, s: State): Call[] {
  // The instants where an expiry decides: the last one before it, and its own.
  const atEdge = (expires: number): boolean => expires === s.t || expires === s.t + 1;
  const calls: Call[] = model
    .successors(s)
    .filter(({ step }) => step.op === "register" && atEdge(s.nodes[model.procNode[step.proc!]!]!.expires))
    .map(({ step, next }) => callOf(s, step, next));
  s.procs.forEach((p, proc) => {
    const node = s.nodes[model.procNode[proc]!]!;
    const replaced = node.inc !== p.inc;
    if (p.phase !== "left" && node.status === 1 && node.expires === s.t + 1) calls.push({ op: "register", proc, inc: PROBE_INCARNATION });
    if (p.phase !== "running") return;
    if (replaced || atEdge(node.expires)) calls.push({ op: "heartbeat", proc, inc: p.inc });
    if (replaced) calls.push({ op: "leave", proc, inc: p.inc }, { op: "leave-returning", proc, inc: p.inc });
  });
  s.coords.forEach((epoch, coord) => {
    if (atEdge(s.lease.expires)) calls.push({ op: "acquire", coord, epoch }, { op: "renew", coord, epoch });
    if (leaseHolds(s, epoch) && s.nodes.some((r) => r.status === 1 && atEdge(r.expires))) calls.push({ op: "sweep", coord, epoch });
  });
  s.parts.forEach((r, part) => {
    if (r.state !== RELEASE_REQUESTED) return;
    s.coords.forEach((epoch, coord) => {
      if (!leaseHolds(s, epoch)) return;
      model.nodeIds.forEach((_, node) => {
        if (live(s, node)) calls.push({ op: "assign", coord, epoch, part, node });
      });
    });
    s.procs.forEach((p, proc) => {
      if (p.phase === "running" && model.procNode[proc] === r.owner && (p.inc !== r.inc || p.releasing[part] === r.gen))
        calls.push({ op: "confirm", proc, inc: p.inc, part, gen: r.gen });
    });
  });
  s.coords.forEach((epoch, coord) => {
    if (leaseHolds(s, epoch)) s.parts.forEach((_, part) => calls.push({ op: "request", coord, epoch, part }));
  });
  return calls;
}

/**
 * What a check's outcome depends on in s, beyond the call: the rows and the clock its statements
 * read. A check already made with the same inputs would answer the same, so a walk makes it once.
 */
export function checkInputs(model: Protocol, s: State, call: Call): string {
  switch (call.op) {
    case "register":
    case "heartbeat":
      return JSON.stringify([s.t, s.nodes[model.procNode[call.proc]!]]);
    case "leave":
    case "leave-returning":
      return JSON.stringify([s.parts, s.nodes[model.procNode[call.proc]!]]);
    case "confirm":
      return JSON.stringify([s.parts[call.part], s.procs[call.proc]!.releasing[call.part]]);
    case "acquire":
    case "renew":
      return JSON.stringify([s.t, s.lease]);
    case "sweep":
      return JSON.stringify([s.t, s.nodes, s.lease]);
    case "request":
      return JSON.stringify([s.parts[call.part], s.lease]);
    default:
      return JSON.stringify([s.t, s.parts, s.nodes, s.lease]);
  }
}
