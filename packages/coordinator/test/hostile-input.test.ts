// Every parameter of @helix/coordinator's own public API (the cluster's is swept in
// @helix/cluster), given each value of its kind that it must refuse: each is refused at once with
// HELIX_INVALID_ARGUMENT naming the parameter, and nothing is sent.
import { expectRefusal, FaultyPool, HOSTILE_VALUES, hostileCases, type HostileParameter } from "@helix/testing";

import {
  createCoordinator,
  endMaintenance,
  liftMemberPlacements,
  liftPlacement,
  moveMemberPartitions,
  movePartition,
  pinPartition,
  planOwnership,
  planNextRound,
  readHistory,
  readMaintenance,
  readPlacements,
  startMaintenance,
  type Coordinator,
} from "../src";
import { migratedDatabase, type Fixture } from "./helpers";

let fx: Fixture;
let counted: FaultyPool;
let coordinator: Coordinator;
const cluster = "sweep";

beforeAll(async () => {
  fx = await migratedDatabase();
  counted = new FaultyPool(fx.pool);
  // On the plain pool: its election and rounds are not this file's to count.
  coordinator = await createCoordinator(fx.pool, { cluster, leaseTtlMs: 60_000 });
});

afterAll(async () => {
  await coordinator.stop();
  await fx.close();
});

const { integer, text } = HOSTILE_VALUES;
const objects = [null, 42, "x", []];
const clients = [null, 42, "x", {}];
const create = (extra: Record<string, unknown>): Promise<Coordinator> => createCoordinator(counted, { cluster, ...extra });
const maintain = (options: Record<string, unknown>): unknown => startMaintenance(counted, cluster, { reason: "r", ...options });
const plan = (planner: Record<string, unknown>): unknown => planOwnership({ members: [], taskLists: [], options: planner });
const at = { domain: "d", taskList: "t", partition: 0 };
/** A placement's reason may be empty (none given). */
const reasons = text.filter((v) => v !== "");
/** The parameters of `pinPartition` and `movePartition`, which take the same. */
const placing = (name: "pinPartition" | "movePartition", place: typeof pinPartition): HostileParameter[] => [
  [`${name}(client, cluster, partition, nodeId)`, "client", clients, (v) => place(v as never, cluster, at, "n")],
  [`${name}(client, cluster, partition, nodeId)`, "cluster", text, (v) => place(counted, v as string, at, "n")],
  [`${name}(client, cluster, partition, nodeId)`, "partition", objects, (v) => place(counted, cluster, v as never, "n")],
  [
    `${name}(client, cluster, { domain }, nodeId)`,
    "partition.domain",
    text,
    (v) => place(counted, cluster, { ...at, domain: v as string }, "n"),
  ],
  [
    `${name}(client, cluster, { taskList }, nodeId)`,
    "partition.taskList",
    text,
    (v) => place(counted, cluster, { ...at, taskList: v as string }, "n"),
  ],
  [
    `${name}(client, cluster, { partition }, nodeId)`,
    "partition.partition",
    integer,
    (v) => place(counted, cluster, { ...at, partition: v as number }, "n"),
  ],
  [`${name}(client, cluster, partition, nodeId)`, "nodeId", text, (v) => place(counted, cluster, at, v as string)],
  [`${name}(client, cluster, partition, nodeId, options)`, "options", objects, (v) => place(counted, cluster, at, "n", v as never)],
  [
    `${name}(client, cluster, partition, nodeId, { reason })`,
    "reason",
    reasons,
    (v) => place(counted, cluster, at, "n", { reason: v as string }),
  ],
  [
    `${name}(client, cluster, partition, nodeId, { actor })`,
    "actor",
    text,
    (v) => place(counted, cluster, at, "n", { actor: v as string }),
  ],
];
/** A move limit takes Infinity (no limit) besides whole numbers. */
const limits = integer.filter((v) => v !== Number.POSITIVE_INFINITY).concat([0]);

/** [what is called, the parameter named in the refusal, its hostile values, the call]. */
const parameters: HostileParameter[] = [
  ["createCoordinator(pool, options)", "options", objects, (v) => createCoordinator(counted, v as never)],
  ["createCoordinator(source)", "source", [null, 42, [], true], (v) => createCoordinator(v as never, { cluster })],
  ["createCoordinator(pool, { cluster })", "cluster", text, (v) => create({ cluster: v })],
  ["createCoordinator(pool, { id })", "id", text, (v) => create({ id: v })],
  ...(
    [
      "leaseTtlMs",
      "electionIntervalMs",
      "pollMs",
      "fallbackIntervalMs",
      "forceReleaseAfterMs",
      "reassignDelayMs",
      "batchSize",
      "auditRetentionMs",
      "memberRetentionMs",
    ] as const
  ).map((name): HostileParameter => [`createCoordinator(pool, { ${name} })`, name, integer, (v) => create({ [name]: v })]),
  ["createCoordinator(pool, { maxMovesPerTaskList })", "maxMovesPerTaskList", limits, (v) => create({ maxMovesPerTaskList: v })],
  ["createCoordinator(pool, { maxMovesPerMember })", "maxMovesPerMember", limits, (v) => create({ maxMovesPerMember: v })],
  ["coordinator.history(options)", "options", objects, (v) => coordinator.history(v as never)],
  ["coordinator.history({ limit })", "limit", integer, (v) => coordinator.history({ limit: v as number })],
  ["readHistory(client, cluster)", "client", clients, (v) => readHistory(v as never, cluster)],
  ["readHistory(client, cluster)", "cluster", text, (v) => readHistory(counted, v as string)],
  ["readHistory(client, cluster, { limit })", "limit", integer, (v) => readHistory(counted, cluster, { limit: v as number })],
  ["planNextRound(client, options)", "client", clients, (v) => planNextRound(v as never, { cluster })],
  ["planNextRound(client, options)", "options", objects, (v) => planNextRound(counted, v as never)],
  ["planNextRound(client, { cluster })", "cluster", text, (v) => planNextRound(counted, { cluster: v as string })],
  ["startMaintenance(client, cluster, options)", "client", clients, (v) => startMaintenance(v as never, cluster, { reason: "r" })],
  ["startMaintenance(client, cluster, options)", "cluster", text, (v) => startMaintenance(counted, v as string, { reason: "r" })],
  ["startMaintenance(client, cluster, options)", "options", objects, (v) => startMaintenance(counted, cluster, v as never)],
  ["startMaintenance(client, cluster, { reason })", "reason", text, (v) => startMaintenance(counted, cluster, { reason: v as string })],
  ["startMaintenance(client, cluster, { actor })", "actor", text, (v) => maintain({ actor: v })],
  ["startMaintenance(client, cluster, { expiresInMs })", "expiresInMs", integer, (v) => maintain({ expiresInMs: v })],
  ["startMaintenance(client, cluster, { taskList })", "taskList", objects, (v) => maintain({ taskList: v })],
  [
    "startMaintenance(client, cluster, { taskList: { domain } })",
    "taskList.domain",
    text,
    (v) => maintain({ taskList: { domain: v, taskList: "t" } }),
  ],
  [
    "startMaintenance(client, cluster, { taskList: { taskList } })",
    "taskList.taskList",
    text,
    (v) => maintain({ taskList: { domain: "d", taskList: v } }),
  ],
  ["endMaintenance(client, cluster)", "client", clients, (v) => endMaintenance(v as never, cluster)],
  ["endMaintenance(client, cluster)", "cluster", text, (v) => endMaintenance(counted, v as string)],
  ["endMaintenance(client, cluster, taskList)", "taskList", [null, 42, "x", []], (v) => endMaintenance(counted, cluster, v as never)],
  ["readMaintenance(client, cluster)", "client", clients, (v) => readMaintenance(v as never, cluster)],
  ["readMaintenance(client, cluster)", "cluster", text, (v) => readMaintenance(counted, v as string)],
  ...placing("pinPartition", pinPartition),
  ...placing("movePartition", movePartition),
  ["moveMemberPartitions(client, cluster, from, to)", "client", clients, (v) => moveMemberPartitions(v as never, cluster, "a", "b")],
  ["moveMemberPartitions(client, cluster, from, to)", "cluster", text, (v) => moveMemberPartitions(counted, v as string, "a", "b")],
  ["moveMemberPartitions(client, cluster, from, to)", "fromNodeId", text, (v) => moveMemberPartitions(counted, cluster, v as string, "b")],
  [
    "moveMemberPartitions(client, cluster, from, to)",
    "toNodeId",
    [...text, "a"],
    (v) => moveMemberPartitions(counted, cluster, "a", v as string),
  ],
  [
    "moveMemberPartitions(client, cluster, from, to, options)",
    "options",
    objects,
    (v) => moveMemberPartitions(counted, cluster, "a", "b", v as never),
  ],
  [
    "moveMemberPartitions(client, cluster, from, to, { reason })",
    "reason",
    reasons,
    (v) => moveMemberPartitions(counted, cluster, "a", "b", { reason: v as string }),
  ],
  [
    "moveMemberPartitions(client, cluster, from, to, { actor })",
    "actor",
    text,
    (v) => moveMemberPartitions(counted, cluster, "a", "b", { actor: v as string }),
  ],
  ["liftPlacement(client, cluster, partition)", "client", clients, (v) => liftPlacement(v as never, cluster, at)],
  ["liftPlacement(client, cluster, partition)", "cluster", text, (v) => liftPlacement(counted, v as string, at)],
  ["liftPlacement(client, cluster, partition)", "partition", objects, (v) => liftPlacement(counted, cluster, v as never)],
  [
    "liftPlacement(client, cluster, { partition })",
    "partition.partition",
    integer,
    (v) => liftPlacement(counted, cluster, { ...at, partition: v as number }),
  ],
  ["liftMemberPlacements(client, cluster, nodeId)", "client", clients, (v) => liftMemberPlacements(v as never, cluster, "n")],
  ["liftMemberPlacements(client, cluster, nodeId)", "cluster", text, (v) => liftMemberPlacements(counted, v as string, "n")],
  ["liftMemberPlacements(client, cluster, nodeId)", "nodeId", text, (v) => liftMemberPlacements(counted, cluster, v as string)],
  ["readPlacements(client, cluster)", "client", clients, (v) => readPlacements(v as never, cluster)],
  ["readPlacements(client, cluster)", "cluster", text, (v) => readPlacements(counted, v as string)],
  ["planOwnership(input)", "input", objects, (v) => planOwnership(v as never)],
  ["planOwnership({ members })", "members", [null, 42, "x", {}], (v) => planOwnership({ members: v as never, taskLists: [] })],
  ["planOwnership({ taskLists })", "taskLists", [null, 42, "x", {}], (v) => planOwnership({ members: [], taskLists: v as never })],
  ["planOwnership({ options })", "options", objects, (v) => planOwnership({ members: [], taskLists: [], options: v as never })],
  ["planOwnership({ options: { forceReleaseAfterMs } })", "forceReleaseAfterMs", integer, (v) => plan({ forceReleaseAfterMs: v })],
  ["planOwnership({ options: { reassignDelayMs } })", "reassignDelayMs", integer, (v) => plan({ reassignDelayMs: v })],
  ["planOwnership({ options: { maxMovesPerTaskList } })", "maxMovesPerTaskList", limits, (v) => plan({ maxMovesPerTaskList: v })],
  ["planOwnership({ options: { maxMovesPerMember } })", "maxMovesPerMember", limits, (v) => plan({ maxMovesPerMember: v })],
];

test.each(hostileCases(parameters))("%s refuses %s = %s at once, naming it, sending nothing", (_name, argument, _label, value, call) =>
  expectRefusal(
    () => call(value),
    argument,
    () => counted.sent(),
  ),
);

test("options left out take their defaults", async () => {
  expect(planOwnership({ members: [], taskLists: [] }).transitions).toEqual([]);
  expect(await readHistory(counted as never, cluster)).toEqual([]);
});
