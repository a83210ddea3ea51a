// Maintenance mode: the coordinator moves nothing in a cluster, or in one task list, while it is on
// (see 0011_maintenance.sql). One home for its rule (what a round still does under it) and for
// starting, ending and reading it.
import { ownershipProtocol as ownership, taskListKey } from "@helix/cluster/internal";
import {
  checkClient,
  checkInteger,
  checkOptions,
  checkText,
  clusterQueries as q,
  coordinatorQueries as cq,
  guardClient,
  MAX_NAME_LENGTH,
  orDefault,
  Status,
  transaction,
  type ConnectionSource,
  type QueryClient,
} from "@helix/db/internal";
import { UnknownTaskListError } from "@helix/cluster";

import type { Plan, PlannerTaskList, Transition } from "./planner";
import { CATALOG_CHANGED, defaultActor } from "./operator-acts";

/** Longest reason a maintenance keeps, in characters. */
export const MAX_MAINTENANCE_REASON_LENGTH = 512;
/** Longest actor name a maintenance keeps, in characters. */
export const MAX_MAINTENANCE_ACTOR_LENGTH = 255;
/** Longest expiry a maintenance takes: 30 days. A longer one is left on by mistake, not planned. */
export const MAX_MAINTENANCE_EXPIRY_MS = 30 * 24 * 3_600_000;

/** One task list, as the scope of a maintenance. */
export interface MaintenanceScope {
  /** The task list's domain. */
  readonly domain: string;
  /** The task list's name. */
  readonly taskList: string;
}

/** How to start maintenance. */
export interface MaintenanceOptions {
  /** Why it is on, shown beside it everywhere (1 to 512 characters). */
  reason: string;
  /** Who turned it on (1 to 255 characters). @default this process: `host:pid` */
  actor?: string;
  /**
   * It ends on its own this many milliseconds after it was started (or last changed), by the
   * database clock; from 1 to 30 days' worth. Left out: it stays on until it is ended.
   */
  expiresInMs?: number;
  /** Only this task list (it must be in the catalog). Left out: the whole cluster. */
  taskList?: MaintenanceScope;
}

/** {@link MaintenanceOptions} checked, with their defaults. */
export interface ResolvedMaintenanceOptions {
  /** Why it is on. */
  readonly reason: string;
  /** Who turned it on. */
  readonly actor: string;
  /** Null: until it is ended. */
  readonly expiresInMs: number | null;
  /** Null: the whole cluster. */
  readonly taskList: MaintenanceScope | null;
}

/**
 * Checks maintenance options and applies their defaults, without touching the database (for a
 * command line that checks its flags before it connects).
 * @throws `InvalidArgumentError` naming the option to fix.
 */
export function resolveMaintenanceOptions(options: MaintenanceOptions): ResolvedMaintenanceOptions {
  const given = checkOptions("options", options);
  return {
    reason: checkText("reason", given.reason, MAX_MAINTENANCE_REASON_LENGTH),
    actor: checkText("actor", orDefault(given.actor, defaultActor()), MAX_MAINTENANCE_ACTOR_LENGTH),
    expiresInMs:
      given.expiresInMs === undefined
        ? null
        : checkInteger("expiresInMs", given.expiresInMs, 1, MAX_MAINTENANCE_EXPIRY_MS, " of milliseconds"),
    taskList: given.taskList === undefined ? null : checkScope("taskList", given.taskList),
  };
}

/** A maintenance in force. */
export interface Maintenance {
  /** The task list it holds, or null for the whole cluster. */
  readonly taskList: MaintenanceScope | null;
  /** Why it is on. */
  readonly reason: string;
  /** Who turned it on (or last changed it). */
  readonly actor: string;
  /** When it started, by the database clock. */
  readonly startedAt: Date;
  /** When it ends on its own, or null: when it is ended. */
  readonly expiresAt: Date | null;
  /** How long it has been on, in milliseconds, by the database clock. */
  readonly onForMs: number;
  /** How long until it ends on its own, in milliseconds, or null: when it is ended. */
  readonly remainingMs: number | null;
}

const CLUSTER_SCOPE = { domain: "", taskList: "" } as const;

/**
 * Starts maintenance for a cluster or one of its task lists, or changes the reason, actor and
 * expiry of the one in force (which keeps its start). While it is on, the coordinator moves nothing
 * in its scope: owners keep what they have, a member that joins takes nothing, a member that leaves
 * or dies keeps its partitions (or leaves them without an owner) until it ends. A hand-off asked for
 * before still completes, and a member restarted under its node id takes its own partitions back.
 * The leader sees the change within its poll interval.
 * @throws `InvalidArgumentError` for bad options and `UnknownTaskListError` for a task list not in
 *   the catalog, before anything is written.
 */
export async function startMaintenance(client: ConnectionSource, cluster: string, options: MaintenanceOptions): Promise<Maintenance> {
  checkClient("client", client);
  checkText("cluster", cluster, MAX_NAME_LENGTH);
  const { reason, actor, expiresInMs, taskList } = resolveMaintenanceOptions(options);
  const scope = taskList ?? CLUSTER_SCOPE;
  return transaction(guardClient(client), async (conn) => {
    if (scope !== CLUSTER_SCOPE) {
      const list = await q.getTaskList(conn, { cluster, ...scope });
      if (list === null || list.status !== Status.Active) throw new UnknownTaskListError(cluster, scope.domain, scope.taskList);
    }
    await cq.deleteEndedMaintenance(conn, { cluster, ...scope });
    await cq.putMaintenance(conn, { cluster, ...scope, reason, actor, expiresInUs: (expiresInMs ?? 0) * 1000 });
    await ownership.bump(conn, cluster, CATALOG_CHANGED);
    // Read back in the transaction that wrote it (already ended, with `remainingMs` 0, when the
    // expiry given was shorter than the statements took).
    return (await maintenanceRows(conn, cluster)).find((m) => sameScope(m.taskList, taskList))!;
  });
}

/**
 * Ends maintenance for a cluster, or for one task list (a task list's own maintenance only: the
 * cluster's, if on, still holds it); the leader then moves what it held back, at the minimum.
 * @returns whether there was one to end.
 * @throws `InvalidArgumentError` for a bad cluster or scope.
 */
export async function endMaintenance(client: ConnectionSource, cluster: string, taskList?: MaintenanceScope): Promise<boolean> {
  checkClient("client", client);
  checkText("cluster", cluster, MAX_NAME_LENGTH);
  const scope = taskList === undefined ? CLUSTER_SCOPE : checkScope("taskList", taskList);
  return transaction(guardClient(client), async (conn) => {
    const ended = (await cq.deleteMaintenance(conn, { cluster, ...scope })) > 0;
    if (ended) await ownership.bump(conn, cluster, CATALOG_CHANGED);
    return ended;
  });
}

/**
 * The maintenance in force in a cluster: its own first (if on), then its task lists'.
 * @throws `InvalidArgumentError` for a bad cluster.
 */
export async function readMaintenance(client: ConnectionSource, cluster: string): Promise<Maintenance[]> {
  checkClient("client", client);
  return maintenanceOn(guardClient(client), checkText("cluster", cluster, MAX_NAME_LENGTH));
}

/** The maintenance in force, read on `client` (a snapshot's transaction, say). */
export async function maintenanceOn(client: QueryClient | ConnectionSource, cluster: string): Promise<Maintenance[]> {
  return (await maintenanceRows(client, cluster)).filter((m) => m.remainingMs === null || m.remainingMs > 0);
}

/** Every maintenance row of a cluster, those whose expiry passed included (`remainingMs` 0). */
async function maintenanceRows(client: QueryClient | ConnectionSource, cluster: string): Promise<Maintenance[]> {
  const rows = await cq.listMaintenance(client, { cluster });
  return rows.map((r) => ({
    taskList: r.domain === "" && r.taskList === "" ? null : { domain: r.domain, taskList: r.taskList },
    reason: r.reason,
    actor: r.actor,
    startedAt: r.startedAt,
    expiresAt: r.expiresAt,
    onForMs: Math.max(0, r.onForUs / 1000),
    remainingMs: r.expiresAt === null ? null : Math.max(0, r.remainingUs / 1000),
  }));
}

/** What maintenance lets a round do of its plan. */
export interface HeldPlan {
  /** The plan with the transitions maintenance holds back taken out. */
  readonly plan: Plan;
  /** How many transitions it held back. */
  readonly held: number;
}

/**
 * Takes out of `plan` the transitions that maintenance holds back: in its scope, every transition
 * but those that carry out an operator's pin or move (the operator says otherwise) and those that
 * move nothing to another member, which are a partition released as it was asked to be (a hand-off
 * asked for before maintenance completes: its partition has no owner meanwhile) and a partition
 * going back to its own node id (a restarted member). The plan's next check comes
 * no later than the first maintenance's end, so that the held moves are made then.
 */
export function holdForMaintenance(plan: Plan, taskLists: readonly PlannerTaskList[], maintenance: readonly Maintenance[]): HeldPlan {
  if (maintenance.length === 0) return { plan, held: 0 };
  const whole = maintenance.some((m) => m.taskList === null);
  const held = new Set(maintenance.flatMap((m) => (m.taskList === null ? [] : [taskListKey(m.taskList.domain, m.taskList.taskList)])));
  const handedOff = new Map<string, Set<number>>();
  for (const list of taskLists) {
    const partitions = new Set<number>();
    for (const row of list.rows) if (row.targetNodeId !== null) partitions.add(row.partition);
    handedOff.set(taskListKey(list.domain, list.taskList), partitions);
  }
  const kept: Transition[] = [];
  let heldReleases = 0;
  for (const t of plan.transitions) {
    const key = taskListKey(t.domain, t.taskList);
    if (!whole && !held.has(key)) kept.push(t);
    else if (t.placed === true) kept.push(t);
    else if (t.type === "assign" && (t.to === t.from || (t.reason === "released" && handedOff.get(key)?.has(t.partition) === true)))
      kept.push(t);
    else if (t.type === "release") heldReleases++;
  }
  let nextCheckMs = plan.nextCheckMs;
  for (const m of maintenance) {
    if (m.remainingMs !== null) nextCheckMs = Math.min(nextCheckMs ?? Infinity, Math.ceil(m.remainingMs));
  }
  return {
    plan: { ...plan, transitions: kept, pendingHandoffs: plan.pendingHandoffs - heldReleases, nextCheckMs },
    held: plan.transitions.length - kept.length,
  };
}

function checkScope(argument: string, value: MaintenanceScope): MaintenanceScope {
  const scope = checkOptions(argument, value);
  return {
    domain: checkText(`${argument}.domain`, scope.domain, MAX_NAME_LENGTH),
    taskList: checkText(`${argument}.taskList`, scope.taskList, MAX_NAME_LENGTH),
  };
}

function sameScope(a: MaintenanceScope | null, b: MaintenanceScope | null): boolean {
  return a === null || b === null ? a === b : a.domain === b.domain && a.taskList === b.taskList;
}
