// The audit trail's rows: transitions recorded together in one row, and read back one by one.
import type { RowDataPacket } from "mysql2/promise";

import { MAX_ROWS_PER_STATEMENT, TransitionCause } from "@helix/db/internal";

import { readHistory, recordTransitions, TransitionCauses, type AppliedTransition } from "../src/audit";
import { cluster, fx, useCoordinatorFixture } from "./coordinator-fixture";

useCoordinatorFixture();

const assign = (partition: number, to: string, taskList = "t"): AppliedTransition => ({
  type: "assign",
  domain: "d",
  taskList,
  partition,
  generation: partition,
  newGeneration: partition + 1,
  from: null,
  to,
  reason: "unassigned",
});
const release = (partition: number, from: string, to: string): AppliedTransition => ({
  type: "release",
  domain: "d",
  taskList: "t",
  partition,
  generation: 3,
  newGeneration: 3,
  from,
  to,
});

/** Records `applied` as a coordinator of epoch 7 would, every transition's cause judged alike. */
const record = (applied: AppliedTransition[]) =>
  recordTransitions(fx.pool, { cluster, epoch: 7, actor: "leader", causes: new TransitionCauses([], []) }, applied);

/** An audit row, as `rows()` reads it. */
interface AuditRow {
  taskList: string;
  first: number;
  generation: number;
  fromNodeId: string | null;
  toNodeId: string;
  count: number;
  partitions: string | null;
}

/** The audit rows of the cluster, oldest first. */
async function rows(): Promise<AuditRow[]> {
  const [found] = await fx.pool.query<RowDataPacket[]>(
    `SELECT kind, task_list AS taskList, partition_id AS first, generation, from_node_id AS fromNodeId, to_node_id AS toNodeId,
            partition_count AS count, partitions FROM helix_transitions WHERE cluster = ? ORDER BY id`,
    [cluster],
  );
  return found as AuditRow[];
}

test("transitions that share kind, task list, owners, cause and actor go in one row; the causes come back in order", async () => {
  const applied = [assign(0, "a"), assign(1, "b"), assign(2, "a"), release(3, "a", "b"), assign(4, "a", "u"), assign(5, "a")];
  const { Leave, Rebalance } = TransitionCause;
  expect(await record(applied)).toEqual([Leave, Leave, Leave, Rebalance, Leave, Leave]);
  expect((await rows()).map((r) => [r.taskList, r.first, r.generation, r.fromNodeId, r.toNodeId, r.count, r.partitions])).toEqual([
    ["t", 0, 1, null, "a", 3, "0:1,2:3,5:6"],
    ["t", 1, 2, null, "b", 1, null],
    ["t", 3, 3, "a", "b", 1, null],
    ["u", 4, 5, null, "a", 1, null],
  ]);
  // Read back one by one, newest row first, a row's transitions in the order recorded.
  const history = await readHistory(fx.pool, cluster);
  expect(history.map((t) => [t.kind, t.taskList, t.partition, t.generation, t.from, t.to, t.cause, t.actor, t.epoch])).toEqual([
    ["assigned", "u", 4, 5, null, "a", "leave", "leader", 7],
    ["release-requested", "t", 3, 3, "a", "b", "rebalance", "leader", 7],
    ["assigned", "t", 1, 2, null, "b", "leave", "leader", 7],
    ["assigned", "t", 0, 1, null, "a", "leave", "leader", 7],
    ["assigned", "t", 2, 3, null, "a", "leave", "leader", 7],
    ["assigned", "t", 5, 6, null, "a", "leave", "leader", 7],
  ]);
  // A row's transitions share its id.
  expect(new Set(history.slice(3).map((t) => t.id)).size).toBe(1);
  expect(await record([])).toEqual([]);
  expect(await rows()).toHaveLength(4);
});

test(`a row holds at most ${MAX_ROWS_PER_STATEMENT} transitions`, async () => {
  await record(Array.from({ length: MAX_ROWS_PER_STATEMENT + 1 }, (_, p) => assign(p, "a")));
  const found = await rows();
  expect(found.map((r) => [r.first, r.count])).toEqual([
    [0, MAX_ROWS_PER_STATEMENT],
    [MAX_ROWS_PER_STATEMENT, 1],
  ]);
  expect(found[0]!.partitions!.split(",")).toHaveLength(MAX_ROWS_PER_STATEMENT);
});

test("history reads as many rows as its limit needs, across pages, stopping inside a row; rows of an earlier version read as one transition", async () => {
  // An earlier version's row: no count, no list.
  await fx.pool.query(
    "INSERT INTO helix_transitions (cluster, created_at, epoch, kind, domain, task_list, partition_id, to_node_id, generation) VALUES (?, UTC_TIMESTAMP(6), 1, 1, 'd', 'old', 9, 'a', 4)",
    [cluster],
  );
  // 150 rows of one transition each (each to a member of its own), then one row of 5.
  await record(Array.from({ length: 150 }, (_, p) => assign(p, `m${p}`)));
  await record([10, 11, 12, 13, 14].map((p) => assign(p, "a", "late")));
  expect(await rows()).toHaveLength(152);
  const all = await readHistory(fx.pool, cluster, { limit: 10_000 });
  expect(all).toHaveLength(156);
  expect(all.slice(0, 5).map((t) => t.partition)).toEqual([10, 11, 12, 13, 14]);
  expect(all.at(-1)).toMatchObject({ taskList: "old", partition: 9, generation: 4, to: "a", cause: "unknown", actor: null });
  // Stopping inside the newest row, and past the first page of rows.
  expect((await readHistory(fx.pool, cluster, { limit: 3 })).map((t) => t.partition)).toEqual([10, 11, 12]);
  const deep = await readHistory(fx.pool, cluster, { limit: 120 });
  expect(deep).toHaveLength(120);
  expect(deep.map((t) => `${t.taskList}/${t.partition}`)).toEqual(all.slice(0, 120).map((t) => `${t.taskList}/${t.partition}`));
});
