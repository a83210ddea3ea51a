// The fixture of the locker tests: a migrated database per test file, and two lockers on its pool,
// alice's (a) and bob's (b), closed after the file's tests; keys unused so far come from freshKey.
// The bindings are live.
import { createLocker, type Locker } from "../src";
import { migratedDatabase, type Fixture } from "./helpers";

export let fx: Fixture;
export let a: Locker;
export let b: Locker;
let keyNo = 0;
export const freshKey = (): string => `key-${++keyNo}`;

/** Registers the fixture's hooks in the calling test file. */
export function useLockerFixture(): void {
  beforeAll(async () => {
    fx = await migratedDatabase();
    a = await createLocker(fx.pool, { owner: "alice" });
    b = await createLocker(fx.pool, { owner: "bob" });
  });

  afterAll(async () => {
    await a.close();
    await b.close();
    await fx.close();
  });
}
