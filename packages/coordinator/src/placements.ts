// Operator placements: a partition pinned to a member, or moved to one (see 0013_placements.sql).
// One home for making, lifting and reading them; the planner honours them (`PlannerTaskList.placed`).
import { MAX_PARTITIONS, UnknownTaskListError, type PartitionAddress } from "@helix/cluster";
import { ownershipProtocol as ownership, taskListKey } from "@helix/cluster/internal";
import {
  checkClient,
  checkInteger,
  checkOptions,
  checkText,
  clusterQueries as q,
  coordinatorQueries as cq,
  guardClient,
  HelixError,
  InvalidArgumentError,
  MAX_NAME_LENGTH,
  PartitionState,
  orDefault,
  Status,
  transaction,
  type ConnectionSource,
  type QueryClient,
} from "@helix/db/internal";
import { CATALOG_CHANGED, defaultActor } from "./operator-acts";

/** Longest reason a placement keeps, in characters. */
export const MAX_PLACEMENT_REASON_LENGTH = 512;
/** Longest actor name a placement keeps, in characters. */
export const MAX_PLACEMENT_ACTOR_LENGTH = 255;

/** Who asks for a placement, and why. Every field is optional. */
export interface PlacementOptions {
  /** Why, shown beside it in `helix placements ls` (at most 512 characters). @default "" */
  reason?: string;
  /** Who asks (1 to 255 characters). @default this process: `host:pid` */
  actor?: string;
}

/** What a placement does while it holds. */
export type PlacementKind =
  /** The partition stays on the member while it lives, and goes back to it whenever it is live again; until lifted. */
  | "pin"
  /** The partition stays on the member while the process it was moved to lives; it lapses when the node id registers again or is gone. */
  | "move";

/** A partition placed on a member by an operator. */
export interface Placement extends PartitionAddress {
  /** The member the partition is placed on. */
  readonly nodeId: string;
  /** A pin (until lifted) or a move (while the process it went to lives). */
  readonly kind: PlacementKind;
  /** Whether it still holds: a pin always, a move until it lapses. */
  readonly holds: boolean;
  /** Why it was made. */
  readonly reason: string;
  /** Who made it. */
  readonly actor: string;
  /** When it was made, by the database clock. */
  readonly createdAt: Date;
}

/** The rule a refused placement would break. */
export type PlacementRule =
  /** The member is not live: a placement on it would leave the partition without an owner. */
  | "member-not-live"
  /** The member is draining: it takes no partitions. */
  | "member-draining"
  /** The task list has no partition with that number. */
  | "no-such-partition";

/** A placement was refused: making it would break a rule. Nothing was written. */
export class PlacementRefusedError extends HelixError {
  readonly code = "HELIX_PLACEMENT_REFUSED";

  constructor(
    /** The rule it would break. */
    readonly rule: PlacementRule,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Pins a partition to a live member: while that member is live the coordinator keeps the partition
 * on it (through the acknowledged hand-off when another member owns it) and balances the others
 * around it. While the member is not live the pin is set aside and the partition is placed as any
 * other (after the reassignment delay); it goes back when the member is live again. It holds until
 * {@link liftPlacement}; a later pin or move of the partition replaces it.
 * @throws `InvalidArgumentError` for bad arguments, `UnknownTaskListError` for a task list not in
 *   the catalog, `PlacementRefusedError` when the member is not live or is draining or the task list
 *   has no such partition; nothing is written then.
 */
export function pinPartition(
  client: ConnectionSource,
  cluster: string,
  partition: PartitionAddress,
  nodeId: string,
  options?: PlacementOptions,
): Promise<Placement> {
  return placeOne(client, cluster, partition, nodeId, options, "pin");
}

/**
 * Moves a partition to a live member, through the acknowledged hand-off when another member owns
 * it: the partition stays there while that process of the member lives (the coordinator balances
 * the others around it), and is left to the planner once the member's node id registers again or
 * is gone. A later pin or move of the partition replaces it.
 * @throws as {@link pinPartition}.
 */
export function movePartition(
  client: ConnectionSource,
  cluster: string,
  partition: PartitionAddress,
  nodeId: string,
  options?: PlacementOptions,
): Promise<Placement> {
  return placeOne(client, cluster, partition, nodeId, options, "move");
}

/**
 * Moves every partition one member owns now to another live member, as {@link movePartition}
 * would each of them (in one transaction: all of them or none).
 * @returns how many partitions it moved.
 * @throws `InvalidArgumentError` for bad arguments or the same member twice, `PlacementRefusedError`
 *   when `toNodeId` is not live or is draining; nothing is written then.
 */
export async function moveMemberPartitions(
  client: ConnectionSource,
  cluster: string,
  fromNodeId: string,
  toNodeId: string,
  options?: PlacementOptions,
): Promise<number> {
  checkClient("client", client);
  checkText("cluster", cluster, MAX_NAME_LENGTH);
  checkText("fromNodeId", fromNodeId, MAX_NAME_LENGTH);
  checkText("toNodeId", toNodeId, MAX_NAME_LENGTH);
  if (fromNodeId === toNodeId) throw new InvalidArgumentError("toNodeId", "must be another member than fromNodeId");
  const { reason, actor } = resolvePlacementOptions(options);
  return transaction(guardClient(client), async (conn) => {
    const incarnation = await placeableMember(conn, cluster, toNodeId);
    // Counted from what the member owns (the statement's affected rows count a replaced placement twice).
    const active = new Map<string, number>();
    for (const l of await q.listTaskLists(conn, { cluster }))
      if (l.status === Status.Active) active.set(taskListKey(l.domain, l.taskList), l.partitions);
    const owned = (await q.listMemberOwnership(conn, { cluster, nodeId: fromNodeId })).filter(
      (r) =>
        (r.state === PartitionState.Assigned || r.state === PartitionState.ReleaseRequested) &&
        r.partitionId < (active.get(taskListKey(r.domain, r.taskList)) ?? 0),
    ).length;
    if (owned === 0) return 0;
    await cq.deleteLapsedPlacements(conn, { cluster });
    await cq.putOwnerPlacements(conn, { cluster, ownerNodeId: fromNodeId, nodeId: toNodeId, incarnation, reason, actor });
    await ownership.bump(conn, cluster, CATALOG_CHANGED);
    return owned;
  });
}

/**
 * Lifts a partition's pin or move: the planner places it as any other from then on (it stays where
 * it is while that keeps the cluster balanced).
 * @returns whether there was one to lift.
 * @throws `InvalidArgumentError` for bad arguments.
 */
export async function liftPlacement(client: ConnectionSource, cluster: string, partition: PartitionAddress): Promise<boolean> {
  checkClient("client", client);
  checkText("cluster", cluster, MAX_NAME_LENGTH);
  const address = checkAddress(partition);
  const count = await lifted(client, cluster, (conn) =>
    cq.deletePlacement(conn, { cluster, domain: address.domain, taskList: address.taskList, partitionId: address.partition }),
  );
  return count > 0;
}

/**
 * Lifts every pin and move on a member.
 * @returns how many it lifted.
 * @throws `InvalidArgumentError` for bad arguments.
 */
export async function liftMemberPlacements(client: ConnectionSource, cluster: string, nodeId: string): Promise<number> {
  checkClient("client", client);
  checkText("cluster", cluster, MAX_NAME_LENGTH);
  checkText("nodeId", nodeId, MAX_NAME_LENGTH);
  return lifted(client, cluster, (conn) => cq.deleteMemberPlacements(conn, { cluster, nodeId }));
}

/**
 * A cluster's placements, in partition order, lapsed moves included (`holds` false).
 * @throws `InvalidArgumentError` for a bad cluster.
 */
export async function readPlacements(client: ConnectionSource, cluster: string): Promise<Placement[]> {
  checkClient("client", client);
  return placementsOn(guardClient(client), checkText("cluster", cluster, MAX_NAME_LENGTH));
}

/** A cluster's placements, read on `client` (a snapshot's transaction, say). */
export async function placementsOn(client: QueryClient | ConnectionSource, cluster: string): Promise<Placement[]> {
  const rows = await cq.listPlacements(client, { cluster });
  return rows.map((r) => ({
    domain: r.domain,
    taskList: r.taskList,
    partition: r.partitionId,
    nodeId: r.nodeId,
    kind: r.incarnation === "" ? "pin" : "move",
    holds: r.holds === 1,
    reason: r.reason,
    actor: r.actor,
    createdAt: r.createdAt,
  }));
}

/**
 * The placements that hold, by task list (`taskListKey`), each a map from partition number to the
 * member it is placed on: what the planner reads (`PlannerTaskList.placed`).
 */
export function placedByTaskList(placements: readonly Placement[]): Map<string, Map<number, string>> {
  const byList = new Map<string, Map<number, string>>();
  for (const p of placements) {
    if (!p.holds) continue;
    const key = taskListKey(p.domain, p.taskList);
    let placed = byList.get(key);
    if (placed === undefined) byList.set(key, (placed = new Map<number, string>()));
    placed.set(p.partition, p.nodeId);
  }
  return byList;
}

/**
 * Checks placement options and applies their defaults, without touching the database.
 * @throws `InvalidArgumentError` naming the option to fix.
 */
export function resolvePlacementOptions(options: PlacementOptions | undefined): Required<PlacementOptions> {
  const given = checkOptions("options", options);
  const reason = orDefault(given.reason, "");
  return {
    reason: reason === "" ? "" : checkText("reason", reason, MAX_PLACEMENT_REASON_LENGTH),
    actor: checkText("actor", orDefault(given.actor, defaultActor()), MAX_PLACEMENT_ACTOR_LENGTH),
  };
}

async function placeOne(
  client: ConnectionSource,
  cluster: string,
  partition: PartitionAddress,
  nodeId: string,
  options: PlacementOptions | undefined,
  kind: PlacementKind,
): Promise<Placement> {
  checkClient("client", client);
  checkText("cluster", cluster, MAX_NAME_LENGTH);
  const address = checkAddress(partition);
  checkText("nodeId", nodeId, MAX_NAME_LENGTH);
  const { reason, actor } = resolvePlacementOptions(options);
  return transaction(guardClient(client), async (conn) => {
    const list = await q.getTaskList(conn, { cluster, domain: address.domain, taskList: address.taskList });
    if (list === null || list.status !== Status.Active) throw new UnknownTaskListError(cluster, address.domain, address.taskList);
    if (address.partition >= list.partitions)
      throw new PlacementRefusedError(
        "no-such-partition",
        `task list ${address.domain}/${address.taskList} has ${list.partitions} partitions (0 to ${list.partitions - 1}); ` +
          `there is no partition ${address.partition} to place`,
      );
    const incarnation = await placeableMember(conn, cluster, nodeId);
    await cq.deleteLapsedPlacements(conn, { cluster });
    await cq.putPlacement(conn, {
      cluster,
      domain: address.domain,
      taskList: address.taskList,
      partitionId: address.partition,
      nodeId,
      incarnation: kind === "pin" ? "" : incarnation,
      reason,
      actor,
    });
    await ownership.bump(conn, cluster, CATALOG_CHANGED);
    // Read back in the transaction that wrote it.
    return (await placementsOn(conn, cluster)).find(
      (p) => p.domain === address.domain && p.taskList === address.taskList && p.partition === address.partition,
    )!;
  });
}

/**
 * The incarnation of a member a partition may be placed on: live by the database clock, and not
 * draining.
 * @throws `PlacementRefusedError` otherwise.
 */
async function placeableMember(conn: QueryClient, cluster: string, nodeId: string): Promise<string> {
  const member = await cq.getLiveMember(conn, { cluster, nodeId });
  if (member === null)
    throw new PlacementRefusedError(
      "member-not-live",
      `node "${nodeId}" is not a live member of cluster "${cluster}": a partition placed on it would have no owner; ` +
        "place it on a live member (helix members ls)",
    );
  if (member.weight === 0)
    throw new PlacementRefusedError(
      "member-draining",
      `node "${nodeId}" is draining in cluster "${cluster}" and takes no partitions; place the partition on another member`,
    );
  return member.incarnation;
}

/** Runs a delete of placements and moves the catalog counter when it deleted any. */
function lifted(client: ConnectionSource, cluster: string, remove: (conn: QueryClient) => Promise<number>): Promise<number> {
  return transaction(guardClient(client), async (conn) => {
    const count = await remove(conn);
    if (count > 0) await ownership.bump(conn, cluster, CATALOG_CHANGED);
    return count;
  });
}

function checkAddress(value: PartitionAddress): PartitionAddress {
  const given = checkOptions("partition", value);
  return {
    domain: checkText("partition.domain", given.domain, MAX_NAME_LENGTH),
    taskList: checkText("partition.taskList", given.taskList, MAX_NAME_LENGTH),
    partition: checkInteger("partition.partition", given.partition, 0, MAX_PARTITIONS - 1),
  };
}
