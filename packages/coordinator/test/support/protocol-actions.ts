// The actions of the partition-ownership model (see protocol.ts): every SQL statement and local step
// a worker process or a coordinator may take, and the clock's tick.
import {
  ASSIGNED,
  clone,
  holds,
  live,
  NONE,
  RELEASE_REQUESTED,
  RELEASED,
  UNASSIGNED,
  type PartitionRow,
  type State,
  type Step,
} from "./protocol-state";
import type { Protocol } from "./protocol";

/** Every action enabled in s, with the state it leads to. Attempts that change nothing are left out. */
export function successors(model: Protocol, s: State): { step: Step; next: State }[] {
  const { cfg } = model;
  const out: { step: Step; next: State }[] = [];
  type Actor = { proc?: number; coord?: number };
  const emit = (op: string, actor: Actor, what: () => string, change: (n: State) => void): void => {
    const next = clone(s);
    change(next);
    const who = actor.proc !== undefined ? `${model.procName[actor.proc]} ` : actor.coord !== undefined ? `C${actor.coord + 1} ` : "";
    const step = { op, proc: actor.proc, coord: actor.coord, describe: () => `T=${s.t} ${who}${what()}` };
    out.push({ step, next: model.settle(next) });
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
    const node = model.procNode[i]!;
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
        () => `registers node ${model.nodeIds[node]} as inc ${inc}`,
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

    // ReleaseMemberPartitions: owner = my node AND incarnation = my inc AND state IN (1, 2) (a
    // released row stays with its hand-off); then DeregisterMember: incarnation = my inc AND status = 1.
    emit(
      "leave",
      me,
      () => "leaves",
      (n) => {
        for (const r of n.parts) {
          if (
            r.owner === node &&
            (r.inc === p.inc || cfg.mutant === "leave-without-incarnation") &&
            (r.state === ASSIGNED || r.state === RELEASE_REQUESTED)
          ) {
            Object.assign(r, { owner: NONE, inc: NONE, state: UNASSIGNED });
          }
        }
        if (row.inc === p.inc && row.status === 1) n.nodes[node]!.status = 0;
        Object.assign(n.procs[i]!, { phase: "left", hbSent: NONE, deadline: 0 });
        n.procs[i]!.owns.fill(NONE); // it believes nothing any more
        n.procs[i]!.releasing.fill(NONE);
      },
    );
    // A leave saying the member will be back (static membership). ReserveMemberPartitions: owner = my
    // node AND incarnation = my inc -> incarnation NULL, state 2 -> 3 (its releases count as
    // confirmed); then DeregisterMember as above. The rows keep the node id for its next process.
    emit(
      "leave-returning",
      me,
      () => "leaves, saying it will be back",
      (n) => {
        for (const r of n.parts) {
          if (r.owner === node && r.inc === p.inc)
            Object.assign(r, { inc: NONE, state: r.state === RELEASE_REQUESTED ? RELEASED : r.state });
        }
        if (row.inc === p.inc && row.status === 1) n.nodes[node]!.status = 0;
        Object.assign(n.procs[i]!, { phase: "left", hbSent: NONE, deadline: 0 });
        n.procs[i]!.owns.fill(NONE);
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
      const forced = r.state === RELEASE_REQUESTED && s.t >= r.reqAt + model.forceBound;
      if (!(r.state === UNASSIGNED || r.state === RELEASED || r.owner === NONE || !ownerLive || forced)) return;
      s.nodes.forEach((target, node) => {
        if (!live(s, node)) return;
        emit(
          "assign",
          me,
          () => `assigns p${k}@${r.gen + 1} to ${model.nodeIds[node]} inc ${target.inc}`,
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
