import { transitionKindName, type Coordinator } from "@helix/coordinator";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

import { sharedReads } from "./shared-reads";
import type { ClusterStatus } from "./status";

/**
 * The service's Prometheus metrics, in a registry of its own. Coordinator events feed the counters;
 * gauges are read from the coordinators and from the latest cluster status when scraped.
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  readonly #rounds: Counter<"cluster" | "wrote">;
  readonly #roundSeconds: Histogram<"cluster">;
  readonly #transitions: Counter<"cluster" | "kind">;
  readonly #transitionCauses: Counter<"cluster" | "cause">;
  readonly #leaderChanges: Counter<"cluster" | "change">;
  readonly #renewFailures: Counter<"cluster">;
  readonly #roundFailures: Counter<"cluster">;
  readonly #membersExpired: Counter<"cluster">;

  /**
   * @param coordinators - the service's coordinators, by cluster
   * @param status - reads a cluster's status for the member gauges (called once per scrape)
   */
  constructor(coordinators: ReadonlyMap<string, Coordinator>, status: (cluster: string) => Promise<ClusterStatus>) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.#rounds = new Counter({
      name: "helix_coordinator_rounds_total",
      help: "Rounds run by this process's coordinators",
      labelNames: ["cluster", "wrote"],
      registers,
    });
    this.#roundSeconds = new Histogram({
      name: "helix_coordinator_round_seconds",
      help: "How long rounds took",
      labelNames: ["cluster"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.#transitions = new Counter({
      name: "helix_coordinator_transitions_total",
      help: "Ownership transitions committed, by kind (assigned, handed-off, reclaimed, forced, release-requested)",
      labelNames: ["cluster", "kind"],
      registers,
    });
    this.#transitionCauses = new Counter({
      name: "helix_coordinator_transitions_by_cause_total",
      help: "Ownership transitions committed, by why they happened (join, leave, expiry, restart, drain, rebalance, task-list, operator)",
      labelNames: ["cluster", "cause"],
      registers,
    });
    this.#leaderChanges = new Counter({
      name: "helix_coordinator_leader_changes_total",
      help: "Times this process became (elected) or stopped being (lost) a cluster's leader",
      labelNames: ["cluster", "change"],
      registers,
    });
    this.#renewFailures = new Counter({
      name: "helix_coordinator_lease_renew_failures_total",
      help: "Renewals of the leadership lease that could not reach the database",
      labelNames: ["cluster"],
      registers,
    });
    // Counted apart from the rounds that finished: a leader whose every round fails still counts
    // elections and renews its lease, and only this counter shows that nothing gets balanced.
    this.#roundFailures = new Counter({
      name: "helix_coordinator_round_failures_total",
      help: "Rounds, and the leader's polls of the change counters, that failed (the database unreachable, say)",
      labelNames: ["cluster"],
      registers,
    });
    // Members run in other processes: a member stops its work (fences itself) when its heartbeats
    // fail for its TTL, and the leader marking it inactive is the trace of that the service sees.
    this.#membersExpired = new Counter({
      name: "helix_coordinator_members_expired_total",
      help: "Members whose TTL passed without a heartbeat (they fenced themselves, or died), marked inactive by this process's rounds",
      labelNames: ["cluster"],
      registers,
    });
    new Gauge({
      name: "helix_coordinator_leader",
      help: "1 while this process leads the cluster",
      labelNames: ["cluster"],
      registers,
      collect() {
        for (const [cluster, c] of coordinators) this.set({ cluster }, c.state === "leading" ? 1 : 0);
      },
    });
    new Gauge({
      name: "helix_coordinator_epoch",
      help: "The leadership epoch this process leads with (0 when it does not lead)",
      labelNames: ["cluster"],
      registers,
      collect() {
        for (const [cluster, c] of coordinators) this.set({ cluster }, c.epoch ?? 0);
      },
    });
    // The force timeout is an option of each process's coordinators: alerts compare hand-offs' age
    // with the timeout in force rather than with a copy of the default.
    new Gauge({
      name: "helix_coordinator_force_release_after_seconds",
      help: "How long an owner may take to confirm a requested release before the leader forces it (never before the owner's TTL)",
      labelNames: ["cluster"],
      registers,
      collect() {
        for (const [cluster, c] of coordinators) this.set({ cluster }, c.options.forceReleaseAfterMs / 1000);
      },
    });
    // One status read per cluster serves all the gauges of a scrape.
    const read = sharedReads(status, 100);
    const gauge = (metric: string, help: string, value: (s: ClusterStatus) => number): void => {
      new Gauge({
        name: metric,
        help,
        labelNames: ["cluster"],
        registers,
        async collect() {
          for (const cluster of coordinators.keys()) this.set({ cluster }, value(await read(cluster)));
        },
      });
    };
    gauge("helix_cluster_members", "Live members", (s) => s.members.filter((m) => m.live).length);
    gauge("helix_cluster_partitions", "Partitions in the catalog", (s) => s.partitions);
    gauge("helix_cluster_pending_handoffs", "Partitions waiting for their owner to confirm a release", (s) => s.pendingHandoffs);
    gauge(
      "helix_cluster_heartbeat_lag_seconds",
      "The longest time since a live member's last heartbeat, by the database clock",
      (s) => Math.max(0, ...s.members.filter((m) => m.live).map((m) => m.heartbeatAgeMs)) / 1000,
    );
    gauge(
      "helix_cluster_oldest_pending_handoff_seconds",
      "How long the oldest pending hand-off has waited since its release was asked for, by the database clock (0 when none is pending)",
      (s) => s.oldestHandoffMs / 1000,
    );
    // One series per maintenance in force, gone when it ends: an alert finds maintenance left on.
    new Gauge({
      name: "helix_cluster_maintenance_seconds",
      help: "How long maintenance has been on, by the database clock, per scope (the cluster, or a task list as domain/name); no series when it is off",
      labelNames: ["cluster", "scope"],
      registers,
      async collect() {
        this.reset();
        for (const cluster of coordinators.keys()) {
          for (const m of (await read(cluster)).maintenance) {
            const scope = m.taskList === null ? "cluster" : `${m.taskList.domain}/${m.taskList.taskList}`;
            this.set({ cluster, scope }, m.onForMs / 1000);
          }
        }
      },
    });

    for (const [cluster, c] of coordinators) {
      c.on("round:done", (report) => {
        this.#rounds.inc({ cluster, wrote: String(report.wrote) });
        this.#roundSeconds.observe({ cluster }, report.durationMs / 1000);
        if (report.markedInactive > 0) this.#membersExpired.inc({ cluster }, report.markedInactive);
        // Counted first, then one increment per kind: a round can apply a million transitions, and
        // a labelled increment each would hold the event loop for seconds.
        const byKind = new Map<string, number>();
        for (const t of report.applied) {
          const kind = transitionKindName(t);
          byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
        }
        for (const [kind, n] of byKind) this.#transitions.inc({ cluster, kind }, n);
        for (const [cause, n] of Object.entries(report.causes)) this.#transitionCauses.inc({ cluster, cause }, n);
      });
      c.on("leader:elected", () => this.#leaderChanges.inc({ cluster, change: "elected" }));
      c.on("leader:lost", () => this.#leaderChanges.inc({ cluster, change: "lost" }));
      c.on("leader:renew-failed", () => this.#renewFailures.inc({ cluster }));
      c.on("round:error", () => this.#roundFailures.inc({ cluster }));
    }
  }
}
