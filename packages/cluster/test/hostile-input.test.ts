// Every parameter of @helix/cluster's public API, given each value of its kind that it must refuse:
// each is refused at once with HELIX_INVALID_ARGUMENT naming the parameter, and nothing is sent.
// The key helpers (partitionKey, taskListKey and the lease keys) are not here: they only format the
// names they are given into map and lock keys, send nothing, and run once per row in hot loops.
import { expectRefusal, FaultyPool, HOSTILE_VALUES, hostileCases, type HostileParameter, UNICODE_TEXT } from "@helix/testing";

import {
  createCatalog,
  createOwnershipStore,
  createRoutingTable,
  fencePartition,
  join,
  resolveJoinOptions,
  resolveDrainOptions,
  resolveLeaveOptions,
  type Catalog,
  type Member,
  type OwnershipStore,
  type RoutingTable,
} from "../src";
import { migratedDatabase, type Fixture } from "./helpers";

let fx: Fixture;
let counted: FaultyPool;
let catalog: Catalog;
let store: OwnershipStore;
let routing: RoutingTable;
let member: Member;

const cluster = "sweep";
const ref = { domain: "d", taskList: "t", partition: 0, generation: 0 };
const ownership = { cluster, domain: "d", taskList: "t", partition: 0, nodeId: "n", incarnation: "i".repeat(32), generation: 1 };

beforeAll(async () => {
  fx = await migratedDatabase();
  counted = new FaultyPool(fx.pool);
  catalog = await createCatalog(counted, { cluster });
  store = await createOwnershipStore(counted, { cluster });
  routing = await createRoutingTable(fx.pool, { cluster });
  // On the plain pool: its heartbeats are not this file's to count.
  member = await join(fx.pool, { cluster, nodeId: "sweeper", ttlMs: 60_000 });
});

afterAll(async () => {
  // Every refused leave or drain left it as it was.
  expect(member.state).toBe("active");
  await member.leave();
  await routing.close();
  await store.close();
  await catalog.close();
  await fx.close();
});

const { integer, text } = HOSTILE_VALUES;
const clients = [null, 42, "x", {}];
const objects = [null, 42, "x", []];

/** [what is called, the parameter named in the refusal, its hostile values, the call]. */
const parameters: HostileParameter[] = [
  ["createCatalog(pool, options)", "options", objects, (v) => createCatalog(counted, v as never)],
  ["createCatalog(pool, { cluster })", "cluster", text, (v) => createCatalog(counted, { cluster: v as string })],
  ["createCatalog(source)", "source", [null, 42, [], true], (v) => createCatalog(v as never, { cluster })],
  ["catalog.putTaskList(spec)", "spec", objects, (v) => catalog.putTaskList(v as never)],
  ["catalog.putTaskList({ domain })", "domain", text, (v) => catalog.putTaskList({ domain: v as string, taskList: "t", partitions: 1 })],
  [
    "catalog.putTaskList({ taskList })",
    "taskList",
    text,
    (v) => catalog.putTaskList({ domain: "d", taskList: v as string, partitions: 1 }),
  ],
  [
    "catalog.putTaskList({ partitions })",
    "partitions",
    integer,
    (v) => catalog.putTaskList({ domain: "d", taskList: "t", partitions: v as number }),
  ],
  [
    "catalog.putTaskList({ metadata })",
    "metadata",
    [null, 42, "x", [], { big: "x".repeat(70_000) }, { n: Number.NaN }],
    (v) => catalog.putTaskList({ domain: "d", taskList: "t", partitions: 1, metadata: v as never }),
  ],
  ["catalog.getTaskList(domain, taskList)", "domain", text, (v) => catalog.getTaskList(v as string, "t")],
  ["catalog.getTaskList(domain, taskList)", "taskList", text, (v) => catalog.getTaskList("d", v as string)],
  ["catalog.removeTaskList(domain, taskList)", "domain", text, (v) => catalog.removeTaskList(v as string, "t")],
  ["catalog.removeTaskList(domain, taskList)", "taskList", text, (v) => catalog.removeTaskList("d", v as string)],
  ["createOwnershipStore(pool, { cluster })", "cluster", text, (v) => createOwnershipStore(counted, { cluster: v as string })],
  ["store.taskListPartitions(domain, taskList)", "domain", text, (v) => store.taskListPartitions(v as string, "t")],
  ["store.taskListPartitions(domain, taskList)", "taskList", text, (v) => store.taskListPartitions("d", v as string)],
  ["store.memberPartitions(nodeId)", "nodeId", text, (v) => store.memberPartitions(v as string)],
  ["store.assign(ref)", "ref", objects, (v) => store.assign(v as never, "n")],
  ["store.assign({ domain })", "domain", text, (v) => store.assign({ ...ref, domain: v as string }, "n")],
  ["store.assign({ taskList })", "taskList", text, (v) => store.assign({ ...ref, taskList: v as string }, "n")],
  ["store.assign({ partition })", "partition", integer, (v) => store.assign({ ...ref, partition: v as number }, "n")],
  ["store.assign({ generation })", "generation", integer, (v) => store.assign({ ...ref, generation: v as number }, "n")],
  ["store.assign(ref, nodeId)", "nodeId", text, (v) => store.assign(ref, v as string)],
  [
    "store.assign(ref, nodeId, forceAfterMs)",
    "forceAfterMs",
    integer.filter((v) => v !== undefined),
    (v) => store.assign(ref, "n", v as number),
  ],
  ["store.requestRelease(ref)", "ref", objects, (v) => store.requestRelease(v as never, null)],
  [
    "store.requestRelease(ref, targetNodeId)",
    "targetNodeId",
    text.filter((v) => v !== null),
    (v) => store.requestRelease(ref, v as string),
  ],
  [
    "createRoutingTable(pool, { refreshMs })",
    "refreshMs",
    integer,
    (v) => createRoutingTable(counted, { cluster, refreshMs: v as number }),
  ],
  ["createRoutingTable(pool, options)", "options", objects, (v) => createRoutingTable(counted, v as never)],
  ["routing.ownerOf(domain, taskList, partition)", "domain", text, (v) => routing.ownerOf(v as string, "t", 0)],
  ["routing.ownerOf(domain, taskList, partition)", "taskList", text, (v) => routing.ownerOf("d", v as string, 0)],
  ["routing.ownerOf(domain, taskList, partition)", "partition", integer, (v) => routing.ownerOf("d", "t", v as number)],
  ["fencePartition(conn, ownership)", "connection", clients, (v) => fencePartition(v as never, ownership)],
  ["fencePartition(conn, ownership)", "ownership", objects, (v) => fencePartition(counted, v as never)],
  ["fencePartition(conn, { cluster })", "cluster", text, (v) => fencePartition(counted, { ...ownership, cluster: v as string })],
  ["fencePartition(conn, { domain })", "domain", text, (v) => fencePartition(counted, { ...ownership, domain: v as string })],
  ["fencePartition(conn, { taskList })", "taskList", text, (v) => fencePartition(counted, { ...ownership, taskList: v as string })],
  ["fencePartition(conn, { partition })", "partition", integer, (v) => fencePartition(counted, { ...ownership, partition: v as number })],
  ["fencePartition(conn, { nodeId })", "nodeId", text, (v) => fencePartition(counted, { ...ownership, nodeId: v as string })],
  [
    "fencePartition(conn, { incarnation })",
    "incarnation",
    text,
    (v) => fencePartition(counted, { ...ownership, incarnation: v as string }),
  ],
  [
    "fencePartition(conn, { generation })",
    "generation",
    integer,
    (v) => fencePartition(counted, { ...ownership, generation: v as number }),
  ],
  ["join(pool, options)", "options", objects, (v) => join(counted, v as never)],
  ["join(pool, { cluster })", "cluster", text, (v) => join(counted, { cluster: v as string })],
  ["join(pool, { nodeId })", "nodeId", text, (v) => join(counted, { cluster, nodeId: v as string })],
  [
    "join(pool, { metadata })",
    "metadata",
    [null, 42, "x", [], { big: "x".repeat(70_000) }],
    (v) => join(counted, { cluster, metadata: v as never }),
  ],
  ["join(pool, { weight })", "weight", integer, (v) => join(counted, { cluster, weight: v as number })],
  ["join(pool, { ttlMs })", "ttlMs", integer, (v) => join(counted, { cluster, ttlMs: v as number })],
  ["join(pool, { heartbeatMs })", "heartbeatMs", integer, (v) => join(counted, { cluster, heartbeatMs: v as number })],
  ["join(pool, { safetyMarginMs })", "safetyMarginMs", integer, (v) => join(counted, { cluster, safetyMarginMs: v as number })],
  ["join(pool, { onRelease })", "onRelease", [null, 42, "f", {}], (v) => join(counted, { cluster, onRelease: v as never })],
  [
    "join(pool, { confirmReleases })",
    "confirmReleases",
    [null, "", "yes", 1, "x".repeat(10_000)],
    (v) => join(counted, { cluster, confirmReleases: v as never }),
  ],
  ["join(pool, { sweepIntervalMs })", "sweepIntervalMs", integer, (v) => join(counted, { cluster, sweepIntervalMs: v as number })],
  ["join(pool, { memberRetentionMs })", "memberRetentionMs", integer, (v) => join(counted, { cluster, memberRetentionMs: v as number })],
  ["resolveJoinOptions(options)", "ttlMs", integer, (v) => resolveJoinOptions({ cluster, ttlMs: v as number })],
  ["member.confirmRelease(partition)", "partition", objects, (v) => member.confirmRelease(v as never)],
  // Refused before the member stops: it is still active for the cases after these.
  ["member.leave(options)", "options", objects, (v) => member.leave(v as never)],
  ["member.leave({ returningWithinMs })", "returningWithinMs", integer, (v) => member.leave({ returningWithinMs: v as number })],
  ["resolveLeaveOptions(options)", "returningWithinMs", integer, (v) => resolveLeaveOptions({ returningWithinMs: v as number })],
  ["member.drain(options)", "options", objects, (v) => member.drain(v as never)],
  ["member.drain({ timeoutMs })", "timeoutMs", integer, (v) => member.drain({ timeoutMs: v as number })],
  ["resolveDrainOptions(options)", "timeoutMs", integer, (v) => resolveDrainOptions({ timeoutMs: v as number })],
  ["store.drain(nodeId)", "nodeId", text, (v) => store.drain(v as string)],
];

test.each(hostileCases(parameters))("%s refuses %s = %s at once, naming it, sending nothing", (_name, argument, _label, value, call) =>
  expectRefusal(
    () => call(value),
    argument,
    () => counted.sent(),
  ),
);

test("names in any script are taken, and come back as they were given", async () => {
  expect(await catalog.putTaskList({ domain: UNICODE_TEXT, taskList: UNICODE_TEXT, partitions: 2, metadata: { note: UNICODE_TEXT } })).toBe(
    "created",
  );
  expect(await catalog.getTaskList(UNICODE_TEXT, UNICODE_TEXT)).toMatchObject({
    domain: UNICODE_TEXT,
    taskList: UNICODE_TEXT,
    partitions: 2,
    metadata: { note: UNICODE_TEXT },
  });
  expect(await store.taskListPartitions(UNICODE_TEXT, UNICODE_TEXT)).toHaveLength(2);
  await catalog.removeTaskList(UNICODE_TEXT, UNICODE_TEXT);
});
