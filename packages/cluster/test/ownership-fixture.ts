// The fixture of the ownership writer's tests: a migrated database per test file, a cluster of its
// own per test. The bindings are live: each test reads the current test's.
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
