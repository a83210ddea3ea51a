// The fixture of the generated-query tests (queries-<module>.test.ts, one per generated module):
// per client a test file runs through, a migrated test database and that client's pool on it, and
// the record of which generated functions the file called. The bindings below are live: each test
// reads the current client's.
import { existsSync } from "node:fs";
import { join } from "node:path";

import { createTestDatabase, type TestDatabase } from "@helix/testing";
import { createPool as createMysqlPool, type Pool } from "mysql2/promise";

import { createPool, engineOfVersion, migrate, type Engine } from "../src/internal";
import * as cluster from "../src/generated/cluster";
import * as coordinator from "../src/generated/coordinator";
import * as locks from "../src/generated/locks";
import * as schema from "../src/generated/schema";
import * as server from "../src/generated/server";

// Every generated query runs in these tests against the real, migrated schema. Each module below
// has a test file of its own, queries-<module>.test.ts, which must call every function of it, so a
// query added without a test there fails that file.
const GENERATED = { cluster, coordinator, locks, schema, server };
type GeneratedModule = keyof typeof GENERATED;

const called = new Set<string>();
export function track<A extends unknown[], R>(name: string, fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return (...args) => {
    called.add(name);
    return fn(...args);
  };
}

// Every answer must mean the same whatever client the caller hands in: Helix's own pool, a plain
// mysql2 pool (FOUND_ROWS on, local time zone, JSON parsed) and one with every result flag flipped.
export const clients: [string, (url: string) => Promise<Pool>][] = [
  ["Helix's pool", (url) => createPool(url)],
  ["a plain mysql2 pool", async (url) => createMysqlPool(url)],
  [
    "a mysql2 pool with every result flag flipped",
    async (url) =>
      createMysqlPool({
        uri: url,
        dateStrings: true,
        supportBigNumbers: true,
        bigNumberStrings: true,
        jsonStrings: false,
        decimalNumbers: true,
        timezone: "+05:00",
        namedPlaceholders: true,
      }),
  ],
];

/**
 * A fence check in both its forms, each tracked: the exclusive one runs on every engine; the shared
 * one runs where the engine takes shared row locks, and TiDB, which takes none, must refuse it.
 */
export function bothForms<A, R>(
  engine: () => Engine,
  share: [string, (pool: Pool, args: A) => Promise<R>],
  update: [string, (pool: Pool, args: A) => Promise<R>],
): (pool: Pool, args: A) => Promise<R> {
  const [shareName, shareFn] = share;
  const forUpdate = track(...update);
  return async (pool, args) => {
    called.add(shareName);
    const answer = await forUpdate(pool, args);
    if (engine() === "tidb") await expect(shareFn(pool, args)).rejects.toMatchObject({ errno: 1235 });
    else expect(await shareFn(pool, args)).toEqual(answer);
    return answer;
  };
}

let db: TestDatabase;
export let pool: Pool;
export let engine: Engine;

/** Registers the per-client hooks in the calling `describe.each(clients)` block: a migrated database, and a pool of that client on it. */
export function useQueriesFixture(makePool: (url: string) => Promise<Pool>): void {
  beforeAll(async () => {
    db = await createTestDatabase();
    const migrating = await createPool(db.url);
    await migrate(migrating);
    await migrating.end();
    pool = await makePool(db.url);
    const version = await track("server.serverVersion", server.serverVersion)(pool);
    engine = engineOfVersion(version!.version);
  });

  afterAll(async () => {
    await pool.end();
    await db.drop();
  });
}

/**
 * Registers, at the top level of queries-`module`.test.ts, the check after all its tests that they
 * called every function of the generated `module`, and tracked nothing that is not generated.
 */
export function expectEveryQueryCalled(module: GeneratedModule): void {
  afterAll(() => {
    const generated = Object.entries(GENERATED)
      .flatMap(([m, exports]) => Object.entries(exports).map(([k, v]) => [m, k, v] as const))
      .filter(([, , v]) => typeof v === "function")
      .map(([m, k]) => `${m}.${k}`);
    expect(generated.length).toBeGreaterThan(20);
    // Every module has its test file.
    expect(Object.keys(GENERATED).filter((m) => !existsSync(join(__dirname, `queries-${m}.test.ts`)))).toEqual([]);
    expect([...called].filter((name) => !generated.includes(name)).sort()).toEqual([]);
    expect(generated.filter((name) => name.startsWith(`${module}.`) && !called.has(name)).sort()).toEqual([]);
  });
}
