import { readFileSync } from "node:fs";
import { join as joinPath } from "node:path";

import { createCoordinator, type Coordinator, type RoundReport } from "@helix/coordinator";

import { ServiceMetrics, StatusReader, type ClusterStatus, type TaskListStatus } from "../src";
import { migratedDatabase, type Fixture } from "./helpers";

const deploy = joinPath(__dirname, "..", "..", "..", "deploy");
const rules = readFileSync(joinPath(deploy, "prometheus", "helix-alerts.yml"), "utf8");
const ruleTests = readFileSync(joinPath(deploy, "prometheus", "helix-alerts.test.yml"), "utf8");
const dashboard = JSON.parse(readFileSync(joinPath(deploy, "grafana", "helix-dashboard.json"), "utf8")) as {
  panels: { title: string; targets?: { expr: string }[] }[];
  templating: { list: { name: string; query?: unknown; definition?: string }[] };
};

/** The helix_ metrics a text names, histogram series (`_bucket`, `_sum`, `_count`) by their histogram's name. */
function metricNames(text: string): Set<string> {
  return new Set([...text.matchAll(/helix_[a-z_]+/g)].map(([name]) => name.replace(/_(bucket|sum|count)$/, "")));
}

/** Every PromQL expression of the dashboard: the panels' queries and the variables'. */
const dashboardQueries = [
  ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
  ...dashboard.templating.list.map((v) => v.definition ?? ""),
].join("\n");

/** The helix_ metrics a registry of the service holds, whatever its coordinators (they add series, not metrics). */
const exported = new Set(
  new ServiceMetrics(new Map(), () => Promise.reject(new Error("no status read without coordinators"))).registry
    .getMetricsAsArray()
    .map((m) => m.name)
    .filter((name) => name.startsWith("helix_")),
);

test("the alerting rules name only metrics the service exports", () => {
  const named = metricNames(rules);
  expect(named.size).toBeGreaterThan(0);
  expect([...named].filter((name) => !exported.has(name))).toEqual([]);
});

test("the dashboard's queries name only metrics the service exports, and show every one of them", () => {
  const named = metricNames(dashboardQueries);
  expect([...named].filter((name) => !exported.has(name))).toEqual([]);
  expect([...exported].filter((name) => !named.has(name))).toEqual([]);
});

test("every alert has a promtool case in which it fires", () => {
  const alerts = [...rules.matchAll(/^\s*- alert: (\S+)$/gm)].map(([, name]) => name);
  expect(alerts.length).toBeGreaterThan(0);
  // A case that expects an alert lists its labels under `exp_alerts`; `exp_alerts: []` expects none.
  const firing = new Set([...ruleTests.matchAll(/alertname: (\S+)\n\s*exp_alerts:\n\s*- exp_labels:/g)].map(([, name]) => name));
  expect(alerts.filter((name) => !firing.has(name))).toEqual([]);
});

describe("the metrics the alerts rely on", () => {
  let fx: Fixture;
  let coordinator: Coordinator;
  let metrics: ServiceMetrics;

  /** A status read at `atMs` (database clock) with the given task lists; the members do not matter here. */
  const statusAt = (atMs: number, taskLists: TaskListStatus[], pendingHandoffs = 0): ClusterStatus => ({
    cluster: "web",
    at: new Date(atMs).toISOString(),
    leader: null,
    members: [],
    taskLists,
    partitions: 3,
    pendingHandoffs,
    oldestHandoffMs: 0,
    maintenance: [],
    placed: 0,
    recent: [],
  });
  let status = statusAt(0, []);
  const value = async (name: string): Promise<number | undefined> => {
    const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
    return (metric as { values: { value: number; labels: Record<string, unknown> }[] } | undefined)?.values.find(
      (v) => v.labels.cluster === "web",
    )?.value;
  };
  /** The hand-off age gauge once `next` is the status: after the 100 ms for which the metrics share a status read. */
  const handoffAgeAfter = async (next: ClusterStatus): Promise<number | undefined> => {
    await new Promise((resolve) => setTimeout(resolve, 150));
    status = next;
    return value("helix_cluster_oldest_pending_handoff_seconds");
  };

  beforeAll(async () => {
    fx = await migratedDatabase();
    coordinator = await createCoordinator(fx.pool, { cluster: "web", forceReleaseAfterMs: 45_000 });
    metrics = new ServiceMetrics(new Map([["web", coordinator]]), () => Promise.resolve(status));
  });

  afterAll(async () => {
    await coordinator.stop();
    await fx.close();
  });

  test("failed rounds are counted", async () => {
    const before = (await value("helix_coordinator_round_failures_total")) ?? 0;
    coordinator.emit("round:error", new Error("the database went away"));
    coordinator.emit("round:error", new Error("the database went away"));
    expect(await value("helix_coordinator_round_failures_total")).toBe(before + 2);
  });

  test("members the leader marks inactive are counted", async () => {
    const before = (await value("helix_coordinator_members_expired_total")) ?? 0;
    const report: RoundReport = {
      epoch: 1,
      trigger: "change",
      durationMs: 3,
      members: 1,
      partitions: 3,
      markedInactive: 2,
      deletedMembers: 0,
      planned: 0,
      applied: [],
      releasesRequested: 0,
      pendingHandoffs: 0,
      heldForMaintenance: 0,
      causes: {},
      wrote: true,
    };
    coordinator.emit("round:done", report);
    expect(await value("helix_coordinator_members_expired_total")).toBe(before + 2);
  });

  test("the force timeout is the coordinator's", async () => {
    expect(await value("helix_coordinator_force_release_after_seconds")).toBe(45);
  });

  test("the oldest pending hand-off's age is the status's, in seconds", async () => {
    expect(await handoffAgeAfter({ ...statusAt(0, []), pendingHandoffs: 2, oldestHandoffMs: 40_500 })).toBe(40.5);
    expect(await handoffAgeAfter({ ...statusAt(0, []), pendingHandoffs: 0, oldestHandoffMs: 0 })).toBe(0);
  });

  test("maintenance in force has a series per scope with how long it has been on, and none once it ends", async () => {
    const on = (taskList: { domain: string; taskList: string } | null, onForMs: number): ClusterStatus["maintenance"][number] => ({
      taskList,
      reason: "upgrade",
      actor: "ops",
      startedAt: new Date(0).toISOString(),
      expiresAt: null,
      onForMs,
      remainingMs: null,
    });
    const series = async (): Promise<[unknown, number][]> => {
      const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === "helix_cluster_maintenance_seconds");
      return (metric as { values: { value: number; labels: Record<string, unknown> }[] }).values.map((v) => [v.labels.scope, v.value]);
    };
    await new Promise((resolve) => setTimeout(resolve, 150));
    status = { ...statusAt(0, []), maintenance: [on(null, 7_200_000), on({ domain: "mail", taskList: "outbox" }, 1500)] };
    expect(await series()).toEqual([
      ["cluster", 7200],
      ["mail/outbox", 1.5],
    ]);
    await new Promise((resolve) => setTimeout(resolve, 150));
    status = statusAt(0, []);
    expect(await series()).toEqual([]);
  });

  test("the status reads the oldest pending hand-off's wait from the database clock", async () => {
    // Two partitions asked to release, 40 s and 5 s ago, and one assigned.
    const rows: [state: number, requestedAgoS: number | null][] = [
      [2, 40],
      [2, 5],
      [1, null],
    ];
    for (const [partition, [state, agoS]] of rows.entries()) {
      await fx.pool.query(
        `INSERT INTO helix_allocation (cluster, domain, task_list, partition_id, node_id, incarnation, state, generation, release_asked_at, updated_at)
         VALUES ('aging', 'd', 't', ?, 'm', 'i', ?, 1, UTC_TIMESTAMP(6) - INTERVAL ? SECOND, UTC_TIMESTAMP(6))`,
        [partition, state, agoS],
      );
    }
    await using reader = await StatusReader.open(fx.pool);
    const aging = await reader.read("aging");
    expect(aging.oldestHandoffMs).toBeGreaterThanOrEqual(40_000);
    expect(aging.oldestHandoffMs).toBeLessThan(45_000);
    expect((await reader.read("web")).oldestHandoffMs).toBe(0);
  });
});
