import { partitionKey, taskListKey } from "@helix/cluster/internal";
import {
  checkClient,
  checkInteger,
  checkOptions,
  checkText,
  chunks,
  coordinatorQueries as cq,
  guardClient,
  MAX_NAME_LENGTH,
  MAX_ROWS_PER_STATEMENT,
  orDefault,
  TransitionCause,
  TransitionKind,
  type QueryClient,
} from "@helix/db/internal";

import type { Placement } from "./placements";
import type { PlannerMember, PlannerTaskList, Transition } from "./planner";

/** A transition as it was committed. */
export type AppliedTransition = Transition & {
  /** The partition's generation after the transition (unchanged by a release request). */
  readonly newGeneration: number;
};

/** What a transition in the audit trail did; the word for each `TransitionKind`. */
export type TransitionKindName = "assigned" | "handed-off" | "reclaimed" | "forced" | "release-requested";

/** The one mapping between the stored `TransitionKind`, its name, and the planner's transitions. */
const kindNames = {
  [TransitionKind.Assigned]: "assigned",
  [TransitionKind.HandedOff]: "handed-off",
  [TransitionKind.Reclaimed]: "reclaimed",
  [TransitionKind.Forced]: "forced",
  [TransitionKind.ReleaseRequested]: "release-requested",
} as const satisfies Record<TransitionKind, TransitionKindName>;

const assignKinds = {
  unassigned: TransitionKind.Assigned,
  released: TransitionKind.HandedOff,
  "owner-gone": TransitionKind.Reclaimed,
  forced: TransitionKind.Forced,
} as const satisfies Record<Extract<Transition, { type: "assign" }>["reason"], TransitionKind>;

/** The audit-trail kind of a planned transition. */
function transitionKind(t: Transition): TransitionKind {
  return t.type === "release" ? TransitionKind.ReleaseRequested : assignKinds[t.reason];
}

/** The name of a planned transition's kind, as the audit trail and metrics show it. */
export function transitionKindName(t: Transition): TransitionKindName {
  return kindNames[transitionKind(t)];
}

/** Why a transition happened; the word for each `TransitionCause` (`unknown`: not recorded). */
export type TransitionCauseName = "unknown" | "join" | "leave" | "expiry" | "restart" | "drain" | "rebalance" | "task-list" | "operator";

const causeNames = {
  [TransitionCause.Unknown]: "unknown",
  [TransitionCause.Join]: "join",
  [TransitionCause.Leave]: "leave",
  [TransitionCause.Expiry]: "expiry",
  [TransitionCause.Restart]: "restart",
  [TransitionCause.Drain]: "drain",
  [TransitionCause.Rebalance]: "rebalance",
  [TransitionCause.TaskList]: "task-list",
  [TransitionCause.Operator]: "operator",
} as const satisfies Record<TransitionCause, TransitionCauseName>;

/**
 * Why a round's transitions happen, judged from the cluster it planned from (the one home of that
 * judgement):
 * - a partition going back to its own node id: `restart` (a new process of the node id);
 * - a transition that carries out an operator's pin or move: `operator`;
 * - a partition without an owner: `task-list` when nobody ever owned it (a new or grown task
 *   list), else `leave` (its owner left);
 * - a partition of an owner no longer live: `leave` when the owner left saying it would be back
 *   and did not come back in time, else `expiry` (its TTL passed); one whose owner did not confirm
 *   a release in time: `expiry`;
 * - a release request, and the assignment that completes one: `drain` from a member of weight 0,
 *   else `join` towards a member that owned nothing in the cluster read, else `rebalance`.
 */
export class TransitionCauses {
  readonly #members: ReadonlyMap<string, PlannerMember>;
  /** Live members that owned no partition in the cluster read: the ones that just joined. */
  readonly #newcomers: ReadonlySet<string>;
  readonly #lists: ReadonlyMap<string, PlannerTaskList>;
  /** Who made each placement that holds, by `partitionKey`. */
  readonly #placedBy: ReadonlyMap<string, string>;

  constructor(members: readonly PlannerMember[], taskLists: readonly PlannerTaskList[], placements: readonly Placement[] = []) {
    this.#placedBy = new Map(placements.filter((p) => p.holds).map((p) => [partitionKey(p.domain, p.taskList, p.partition), p.actor]));
    this.#members = new Map(members.map((m) => [m.nodeId, m]));
    const owners = new Set<string>();
    for (const list of taskLists) for (const row of list.rows) if (row.nodeId !== null) owners.add(row.nodeId);
    this.#newcomers = new Set(members.filter((m) => m.live && !owners.has(m.nodeId)).map((m) => m.nodeId));
    this.#lists = new Map(taskLists.map((l) => [taskListKey(l.domain, l.taskList), l]));
  }

  /** Why `t` happens. */
  of(t: Transition): TransitionCause {
    if (t.type === "assign" && t.to === t.from) return TransitionCause.Restart;
    if (t.placed === true) return TransitionCause.Operator;
    if (t.type === "assign") {
      if (t.reason === "unassigned") return this.#neverOwned(t) ? TransitionCause.TaskList : TransitionCause.Leave;
      if (t.reason === "forced") return TransitionCause.Expiry;
      if (t.reason === "owner-gone") {
        const owner = t.from === null ? undefined : this.#members.get(t.from);
        return owner !== undefined && !owner.live && (owner.returnWithinMs ?? 0) > 0 ? TransitionCause.Leave : TransitionCause.Expiry;
      }
    }
    if (t.from !== null && this.#members.get(t.from)?.weight === 0) return TransitionCause.Drain;
    return this.#newcomers.has(t.to) ? TransitionCause.Join : TransitionCause.Rebalance;
  }

  /** Who `t` is recorded as made by: the operator who made the placement it carries out, else `coordinator`. */
  actorOf(t: Transition, coordinator: string): string {
    return (t.placed === true ? this.#placedBy.get(partitionKey(t.domain, t.taskList, t.partition)) : undefined) ?? coordinator;
  }

  #neverOwned(t: Transition): boolean {
    const rows = this.#lists.get(taskListKey(t.domain, t.taskList))?.rows;
    if (rows === undefined) return false;
    // Rows come in partition order, one per partition from 0: the index is the partition's number.
    const row = rows[t.partition]?.partition === t.partition ? rows[t.partition] : rows.find((r) => r.partition === t.partition);
    return row?.neverOwned === true;
  }
}

/** The name of a cause, as the audit trail and metrics show it. */
export function transitionCauseName(cause: number): TransitionCauseName {
  return cause in causeNames ? causeNames[cause as TransitionCause] : "unknown";
}

/** A row of the audit trail. */
export interface TransitionRecord {
  /**
   * The id of the audit row that holds it; grows with every row. Transitions recorded together
   * (one batch of a round, of one kind, task list, owners, cause and actor) share it.
   */
  readonly id: number;
  /** When it was recorded, by the recording coordinator's clock. */
  readonly at: Date;
  /** The leadership epoch of the coordinator that made the change. */
  readonly epoch: number;
  /** `unknown` for a kind written by a newer version of Helix. */
  readonly kind: TransitionKindName | "unknown";
  /** The partition's task-list domain. */
  readonly domain: string;
  /** The partition's task list. */
  readonly taskList: string;
  /** The partition's number, from 0. */
  readonly partition: number;
  /** The owner before the change, or null. */
  readonly from: string | null;
  /** The owner after the change (for a release request, where the partition is meant to go), or null. */
  readonly to: string | null;
  /** The partition's generation after the change. */
  readonly generation: number;
  /** Why it happened (judged by the round that made it); `unknown` for a row written without a cause. */
  readonly cause: TransitionCauseName;
  /** Who made it: the coordinator's id, or the operator's name for an `operator` cause; null for a row written without one. */
  readonly actor: string | null;
}

/**
 * Records committed transitions in the audit trail, in the caller's (fenced) transaction, stamped
 * with this process's clock. Transitions that share their kind, task list, owners before and after,
 * cause and actor go in one row, up to `MAX_ROWS_PER_STATEMENT` transitions a row (see
 * 0014_transition_groups.sql): a round's audit rows are a few per batch, not one per partition.
 * @returns the cause recorded for each transition, in order.
 */
export async function recordTransitions(
  conn: QueryClient,
  writer: { readonly cluster: string; readonly epoch: number; readonly actor: string; readonly causes: TransitionCauses },
  applied: readonly AppliedTransition[],
): Promise<TransitionCause[]> {
  const { cluster, epoch, actor, causes } = writer;
  const createdAt = new Date().toISOString().replace("T", " ").replace("Z", "");
  const recorded = applied.map((t) => causes.of(t));
  // By what the row says of all its transitions; a group that is full starts another.
  const groups = new Map<string, { kind: TransitionKind; cause: TransitionCause; actor: string; members: AppliedTransition[] }[]>();
  applied.forEach((t, i) => {
    const [kind, cause, by] = [transitionKind(t), recorded[i]!, causes.actorOf(t, actor)];
    const key = `${kind}\0${cause}\0${t.domain}\0${t.taskList}\0${t.from ?? ""}\0${t.to}\0${by}`;
    const ofKey = groups.get(key) ?? [];
    groups.set(key, ofKey);
    const last = ofKey.at(-1);
    if (last !== undefined && last.members.length < MAX_ROWS_PER_STATEMENT) last.members.push(t);
    else ofKey.push({ kind, cause, actor: by, members: [t] });
  });
  const rows = [...groups.values()].flat().map(({ kind, cause, actor: by, members }) => {
    const first = members[0]!;
    return {
      ...{ cluster, createdAt, epoch, kind, cause, actor: by, domain: first.domain, taskList: first.taskList },
      ...{ partitionId: first.partition, generation: first.newGeneration, fromNodeId: first.from, toNodeId: first.to },
      partitionCount: members.length,
      partitions: members.length === 1 ? null : members.map((t) => `${t.partition}:${t.newGeneration}`).join(","),
    };
  });
  for (const run of chunks(rows)) await cq.insertTransitions(conn, run);
  return recorded;
}

/** Deletes audit rows older than the retention, one bounded batch, in the caller's (fenced) transaction. */
export function trimTransitions(conn: QueryClient, cluster: string, retentionMs: number): Promise<number> {
  return cq.deleteTransitionsBefore(conn, { cluster, retentionUs: retentionMs * 1000, limit: 1000 });
}

/**
 * The most recent transitions of a cluster, newest first, from the audit trail; for readers that
 * run no coordinator (a status page, a command line). Transitions recorded in one audit row (one
 * batch's transitions of one kind, task list, owners, cause and actor) share its id, in the order
 * recorded.
 * @param options.limit - How many transitions to read, 1 to 10,000; 100 when omitted.
 * @throws {@link InvalidArgumentError} when `cluster` or `limit` is out of range.
 */
export async function readHistory(client: QueryClient, cluster: string, options: { limit?: number } = {}): Promise<TransitionRecord[]> {
  checkClient("client", client);
  const limit = checkInteger("limit", orDefault(checkOptions("options", options).limit, 100), 1, 10_000);
  const guarded = guardClient(client);
  const args = { cluster: checkText("cluster", cluster, MAX_NAME_LENGTH), beforeId: Number.MAX_SAFE_INTEGER };
  const records: TransitionRecord[] = [];
  // A row holds one transition or many: rows are read a page at a time until `limit` are found.
  for (;;) {
    const rows = await cq.listTransitions(guarded, { ...args, limit: Math.min(limit - records.length, HISTORY_PAGE_ROWS) });
    for (const r of rows) {
      const row = {
        id: r.id,
        at: r.createdAt,
        epoch: r.epoch,
        kind: kindName(r.kind),
        domain: r.domain,
        taskList: r.taskList,
        from: r.fromNodeId,
        to: r.toNodeId,
        cause: transitionCauseName(r.cause),
        actor: r.actor,
      };
      for (const [partition, generation] of partitionsOf(r)) {
        if (records.length === limit) return records;
        records.push({ ...row, partition, generation });
      }
    }
    if (rows.length === 0 || records.length === limit) return records;
    args.beforeId = rows.at(-1)!.id;
  }
}

/** How many audit rows {@link readHistory} reads at a time: a row may hold up to `MAX_ROWS_PER_STATEMENT` transitions. */
const HISTORY_PAGE_ROWS = 100;

/** The partitions of an audit row and their generations after it, in the order recorded. */
function partitionsOf(row: { partitionId: number; generation: number; partitions: string | null }): [number, number][] {
  if (row.partitions === null) return [[row.partitionId, row.generation]];
  return row.partitions.split(",").map((entry) => {
    const [partition, generation] = entry.split(":");
    return [Number(partition), Number(generation)];
  });
}

function kindName(kind: number): TransitionKindName | "unknown" {
  return kind in kindNames ? kindNames[kind as TransitionKind] : "unknown";
}
