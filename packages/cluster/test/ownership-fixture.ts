// The fixture of the ownership writer's tests: a migrated database per test file, a cluster of its
// own per test. The bindings are live: each test reads the current test's.
import { transaction } from "@helix/db/internal";
import type { RowDataPacket } from "mysql2/promise";

import { ownershipProtocol as ownership } from "../src/internal";
import { migratedDatabase, type Fixture } from "./helpers";

export let fx: Fixture;
export let cluster: string;
let clusterNo = 0;

/** Moves the current test to a new cluster, with nothing in it. */
export function newCluster(): void {
  cluster = `cluster${++clusterNo}`;
}

/** Registers the fixture's hooks in the calling test file. */
export function useOwnershipFixture(): void {
  beforeAll(async () => {
    fx = await migratedDatabase();
  });
  afterAll(async () => {
    await fx.close();
  });
  beforeEach(newCluster);
}

/** The incarnation the fixture's members register with: their node id, padded. */
export const incarnationOf = (nodeId: string): string => nodeId.padEnd(32, "0");

/** Registers a member in the current test's cluster (TTL 60 s: it stays live for the test). */
export const register = (nodeId: string, incarnation = incarnationOf(nodeId)) =>
  transaction(fx.pool, (c) => ownership.registerMember(c, { cluster, nodeId, incarnation, metadata: "{}", weight: 1, ttlMs: 60_000 }));

/** Ends a member's registration by the database clock (its TTL passed a second ago), as if it had stopped beating. */
export async function expire(nodeId: string): Promise<void> {
  await fx.pool.query("UPDATE helix_nodes SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE cluster = ? AND node_id = ?", [
    cluster,
    nodeId,
  ]);
}

/** Each member's assignment version, by node id. */
export async function assignmentVersions(): Promise<Record<string, number>> {
  const [found] = await fx.pool.query<RowDataPacket[]>("SELECT node_id, assignment_version FROM helix_nodes WHERE cluster = ?", [cluster]);
  return Object.fromEntries(found.map((r) => [r.node_id as string, Number(r.assignment_version)]));
}
