import { setTimeout as sleep } from "node:timers/promises";

import type { RowDataPacket } from "mysql2/promise";

import { LockPruner, type LockPruneRun } from "../src/lock-pruner";
import { loadConfig } from "../src";
import { migratedDatabase, until, type Fixture } from "./helpers";

let fx: Fixture;

beforeAll(async () => {
  fx = await migratedDatabase();
});

afterAll(async () => {
  await fx.close();
});

const keys = async (): Promise<string[]> => {
  const [rows] = await fx.pool.query<RowDataPacket[]>("SELECT lock_key FROM helix_locks ORDER BY lock_key");
  return rows.map((r) => String(r.lock_key));
};

test("the pruner deletes idle lock rows in full batches on its schedule, and keeps the rest", async () => {
  // 2,500 rows released two days ago (more than two batches), one released a minute ago, one held.
  await fx.pool.query(
    "INSERT INTO helix_locks SELECT CONCAT('old-', n), 'o', REPEAT('0', 32), 1, 0, UTC_TIMESTAMP(6) - INTERVAL 2 DAY, UTC_TIMESTAMP(6) - INTERVAL 2 DAY FROM helix_numbers WHERE n < 2500",
  );
  await fx.pool.query(
    "INSERT INTO helix_locks VALUES ('recent', 'o', REPEAT('0', 32), 1, 0, UTC_TIMESTAMP(6) - INTERVAL 1 MINUTE, UTC_TIMESTAMP(6) - INTERVAL 1 MINUTE), ('held', 'o', REPEAT('0', 32), 1, 1, UTC_TIMESTAMP(6) - INTERVAL 3 DAY, UTC_TIMESTAMP(6) + INTERVAL 1 MINUTE)",
  );
  const runs: LockPruneRun[] = [];
  const errors: Error[] = [];
  const pruner = new LockPruner({
    client: fx.pool,
    idleForMs: 86_400_000,
    firstDelayMs: 10,
    intervalMs: 50,
    onRun: (r) => runs.push(r),
    onError: (e) => errors.push(e),
  });
  pruner.start();
  await until(() => runs.length >= 2, 10_000);
  await pruner.stop();
  const count = runs.length;
  expect(runs[0]).toMatchObject({ deleted: 2500, batches: 3 });
  expect(runs.slice(1).every((r) => r.deleted === 0 && r.batches === 1)).toBe(true);
  expect(errors).toEqual([]);
  expect(await keys()).toEqual(["held", "recent"]);
  // Stopped: no run after stop().
  await sleep(150);
  expect(runs.length).toBe(count);
});

test("HELIX_LOCK_RETENTION_MS and HELIX_MEMBER_RETENTION_MS are read, defaulted and checked", () => {
  expect(loadConfig({})).toMatchObject({ lockRetentionMs: 86_400_000, coordinator: { memberRetentionMs: 604_800_000 } });
  expect(loadConfig({ HELIX_LOCK_RETENTION_MS: "0", HELIX_MEMBER_RETENTION_MS: "3600000" })).toMatchObject({
    lockRetentionMs: 0,
    coordinator: { memberRetentionMs: 3_600_000 },
  });
  expect(() => loadConfig({ HELIX_MEMBER_RETENTION_MS: "1000" })).toThrow(/HELIX_MEMBER_RETENTION_MS .*must be at least 60000/);
  expect(() => loadConfig({ HELIX_LOCK_RETENTION_MS: "-1" })).toThrow(/HELIX_LOCK_RETENTION_MS/);
});
