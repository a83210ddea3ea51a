import * as schema from "../src/generated/schema";
import { clients, expectEveryQueryCalled, pool, track, useQueriesFixture } from "./queries-fixture";

describe.each(clients)("through %s", (_, makePool) => {
  useQueriesFixture(makePool);

  test("schema queries: the migration lease and bookkeeping", async () => {
    const rows = await track("schema.listSchemaMigrations", schema.listSchemaMigrations)(pool);
    expect(rows.every((r) => r.finishedAt instanceof Date)).toBe(true);

    const acquire = track("schema.acquireSchemaLock", schema.acquireSchemaLock);
    expect(await acquire(pool, { owner: "a", token: "a".repeat(32), ttlUs: 60_000_000 })).toBeGreaterThan(0);
    expect(await acquire(pool, { owner: "b", token: "b".repeat(32), ttlUs: 60_000_000 })).toBe(0);
    expect(await track("schema.renewSchemaLock", schema.renewSchemaLock)(pool, { ttlUs: 60_000_000, token: "a".repeat(32) })).toBe(1);

    await track("schema.startSchemaMigration", schema.startSchemaMigration)(pool, {
      version: 999,
      name: "probe",
      checksum: "0".repeat(64),
    });
    const record = track("schema.recordSchemaStatement", schema.recordSchemaStatement);
    expect(await record(pool, { statementsApplied: 1, version: 999, token: "a".repeat(32) })).toBe(1);
    expect(await record(pool, { statementsApplied: 2, version: 999, token: "b".repeat(32) })).toBe(0);
    expect(await track("schema.finishSchemaMigration", schema.finishSchemaMigration)(pool, { version: 999 })).toBe(1);
    expect(await track("schema.releaseSchemaLock", schema.releaseSchemaLock)(pool, { token: "a".repeat(32) })).toBe(1);
    expect(await acquire(pool, { owner: "b", token: "b".repeat(32), ttlUs: 60_000_000 })).toBeGreaterThan(0);
    await pool.query("DELETE FROM helix_schema_migrations WHERE version = 999");
  });
});

expectEveryQueryCalled("schema");
