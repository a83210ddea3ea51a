// Every parameter of @helix/db's public entry points, given each value of its kind that it must
// refuse: each is refused at once with HELIX_INVALID_ARGUMENT naming the parameter, and nothing is
// sent (no connection is made).
import {
  createTestDatabase,
  expectRefusal,
  FaultyPool,
  HOSTILE_VALUES,
  hostileCases,
  type HostileParameter,
  type TestDatabase,
} from "@helix/testing";
import type { Pool } from "mysql2/promise";

import { createPool, migrate, openDatabase, schemaStatus, type ConnectionOptions } from "../src/internal";

let db: TestDatabase;
let pool: Pool;
let counted: FaultyPool;

beforeAll(async () => {
  db = await createTestDatabase("helix_hostile");
  pool = await createPool(db.url);
  counted = new FaultyPool(pool);
});

afterAll(async () => {
  await pool.end();
  await db[Symbol.asyncDispose]();
});

const { integer, text, options } = HOSTILE_VALUES;
const url = (): string => db.url;
const withField = (field: keyof ConnectionOptions) => (v: unknown) => createPool({ url: url(), [field]: v });

/** [what is called, the parameter named in the refusal, its hostile values, the call]. */
const parameters: HostileParameter[] = [
  ["createPool(options)", "options", [null, 42, [], true], (v) => createPool(v as never)],
  ["openDatabase(source)", "source", [null, 42, [], true], (v) => openDatabase(v as never)],
  [
    "createPool(url)",
    "url",
    ["", "x".repeat(10_000), "http://db.example/helix", "mysql://h/db?poolSize=3"],
    (v) => createPool(v as string),
  ],
  ["createPool({ url })", "url", [42, null, {}], (v) => createPool({ url: v as string })],
  ["createPool({ host })", "host", ["", 42, null, {}], withField("host")],
  ["createPool({ port })", "port", integer, withField("port")],
  ["createPool({ user })", "user", ["", 42, null, {}], withField("user")],
  ["createPool({ password })", "password", [42, null, {}], withField("password")],
  ["createPool({ database })", "database", ["", "x".repeat(10_000), "a b", "d;DROP", 42, null, {}], withField("database")],
  ["createPool({ connectionLimit })", "connectionLimit", integer, withField("connectionLimit")],
  ["createPool({ connectTimeoutMs })", "connectTimeoutMs", integer, withField("connectTimeoutMs")],
  ["migrate(pool)", "pool", [null, 42, "x", {}], (v) => migrate(v as never)],
  ["migrate(pool, options)", "options", options, (v) => migrate(counted, v as never)],
  ["migrate(pool, { lockWaitMs })", "lockWaitMs", integer, (v) => migrate(counted, { lockWaitMs: v as number })],
  ["migrate(pool, { lockTtlMs })", "lockTtlMs", integer, (v) => migrate(counted, { lockTtlMs: v as number })],
  ["migrate(pool, { owner })", "owner", text, (v) => migrate(counted, { owner: v as string })],
  ["migrate(pool, { signal })", "signal", [null, 1, {}], (v) => migrate(counted, { signal: v as AbortSignal })],
  ["migrate(pool, { onMigration })", "onMigration", [null, 1, "log"], (v) => migrate(counted, { onMigration: v as never })],
  ["schemaStatus(client)", "client", [null, 42, "x", {}], (v) => schemaStatus(v as never)],
];

test.each(hostileCases(parameters))("%s refuses %s = %s at once, naming it, sending nothing", (_name, argument, _label, value, call) =>
  expectRefusal(
    () => call(value),
    argument,
    () => counted.sent(),
  ),
);
