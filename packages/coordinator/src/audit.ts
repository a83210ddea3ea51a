import {
  checkClient,
  checkInteger,
  checkOptions,
  checkText,
  chunks,
  coordinatorQueries as cq,
  guardClient,
  MAX_NAME_LENGTH,
  orDefault,
  TransitionKind,
  type QueryClient,
} from "@helix/db/internal";

import type { Transition } from "./planner";

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

/** A row of the audit trail. */
export interface TransitionRecord {
  /** The row's id; grows with every transition recorded. */
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
}

/**
 * Records committed transitions in the audit trail, in the caller's (fenced) transaction, up to
 * `MAX_ROWS_PER_STATEMENT` rows per statement, stamped with this process's clock.
 */
export async function recordTransitions(
  conn: QueryClient,
  cluster: string,
  epoch: number,
  applied: readonly AppliedTransition[],
): Promise<void> {
  const createdAt = new Date().toISOString().replace("T", " ").replace("Z", "");
  for (const run of chunks(applied)) {
    await cq.insertTransitions(
      conn,
      run.map((t) => ({
        cluster,
        createdAt,
        epoch,
        kind: transitionKind(t),
        domain: t.domain,
        taskList: t.taskList,
        partitionId: t.partition,
        fromNodeId: t.from,
        toNodeId: t.to,
        generation: t.newGeneration,
      })),
    );
  }
}

/** Deletes audit rows older than the retention, one bounded batch, in the caller's (fenced) transaction. */
export function trimTransitions(conn: QueryClient, cluster: string, retentionMs: number): Promise<number> {
  return cq.deleteTransitionsBefore(conn, { cluster, retentionUs: retentionMs * 1000, limit: 1000 });
}

/**
 * The most recent transitions of a cluster, newest first, from the audit trail; for readers that
 * run no coordinator (a status page, a command line).
 * @param options.limit - How many transitions to read, 1 to 10,000; 100 when omitted.
 * @throws {@link InvalidArgumentError} when `cluster` or `limit` is out of range.
 */
export async function readHistory(client: QueryClient, cluster: string, options: { limit?: number } = {}): Promise<TransitionRecord[]> {
  checkClient("client", client);
  const limit = checkInteger("limit", orDefault(checkOptions("options", options).limit, 100), 1, 10_000);
  const rows = await cq.listTransitions(guardClient(client), { cluster: checkText("cluster", cluster, MAX_NAME_LENGTH), limit });
  return rows.map((r) => ({
    id: r.id,
    at: r.createdAt,
    epoch: r.epoch,
    kind: kindName(r.kind),
    domain: r.domain,
    taskList: r.taskList,
    partition: r.partitionId,
    from: r.fromNodeId,
    to: r.toNodeId,
    generation: r.generation,
  }));
}

function kindName(kind: number): TransitionKindName | "unknown" {
  return kind in kindNames ? kindNames[kind as TransitionKind] : "unknown";
}
