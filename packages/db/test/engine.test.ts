import { hostname } from "node:os";

import {
  defaultProcessId,
  engineOfVersion,
  leaseFenceQuery,
  partitionFenceQuery,
  processOfId,
  serverEngine,
  type QueryClient,
  type QueryOptions,
} from "../src/internal";
import { checkLockEpochForShare, checkLockEpochForUpdate } from "../src/generated/locks";
import { checkPartitionForShare, checkPartitionForUpdate } from "../src/generated/cluster";

test("the engine is named by the version the server reports", () => {
  expect(engineOfVersion("8.0.11-TiDB-v8.5.0")).toBe("tidb");
  expect(engineOfVersion("8.0.11-TiDB-v8.4.0-this-is-a-placeholder")).toBe("tidb");
  expect(engineOfVersion("10.11.6-MariaDB-0+deb12u1")).toBe("mariadb");
  expect(engineOfVersion("5.5.5-10.11.6-MariaDB")).toBe("mariadb");
  expect(engineOfVersion("8.4.3")).toBe("mysql");
  expect(engineOfVersion("8.0.36-28")).toBe("mysql");
});

test("fences lock shared on InnoDB engines and exclusively on TiDB", () => {
  expect(leaseFenceQuery("mysql")).toBe(checkLockEpochForShare);
  expect(leaseFenceQuery("mariadb")).toBe(checkLockEpochForShare);
  expect(leaseFenceQuery("tidb")).toBe(checkLockEpochForUpdate);
  expect(partitionFenceQuery("mysql")).toBe(checkPartitionForShare);
  expect(partitionFenceQuery("mariadb")).toBe(checkPartitionForShare);
  expect(partitionFenceQuery("tidb")).toBe(checkPartitionForUpdate);
});

/** A client that answers VERSION() with `version`, or fails while `failing`; counts what it was sent. */
function versionClient(version: string): QueryClient & { sent: number; failing: boolean } {
  return {
    sent: 0,
    failing: false,
    async query(_options: QueryOptions) {
      this.sent++;
      if (this.failing) throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
      return [[[version]], []];
    },
  };
}

test("the engine is asked once per client, and asked again after a failed question", async () => {
  const tidb = versionClient("8.0.11-TiDB-v8.5.0");
  const answers = await Promise.all([serverEngine(tidb), serverEngine(tidb), serverEngine(tidb)]);
  expect(answers).toEqual(["tidb", "tidb", "tidb"]);
  expect(await serverEngine(tidb)).toBe("tidb");
  expect(tidb.sent).toBe(1);

  // Another client is asked on its own: a process may use servers of different engines.
  const mariadb = versionClient("10.11.6-MariaDB");
  expect(await serverEngine(mariadb)).toBe("mariadb");
  expect(mariadb.sent).toBe(1);

  const flaky = versionClient("8.4.3");
  flaky.failing = true;
  await expect(serverEngine(flaky)).rejects.toMatchObject({ code: "ECONNREFUSED" });
  flaky.failing = false;
  expect(await serverEngine(flaky)).toBe("mysql");
  expect(flaky.sent).toBe(2);
});

test("a default process id names its host and process; an id chosen by its owner names none", () => {
  const id = defaultProcessId();
  expect(processOfId(id)).toEqual({ host: hostname(), pid: process.pid });
  expect(processOfId("db-1.internal:4242:a1b2c3")).toEqual({ host: "db-1.internal", pid: 4242 });
  expect(processOfId("fe80::1:4242:a1b2c3")).toEqual({ host: "fe80::1", pid: 4242 });
  for (const chosen of ["worker-7", "alpha:12", "host:12:zzzzzz", "host:pid:a1b2c3", "host:12:a1b2c3d"])
    expect(processOfId(chosen)).toBeNull();
});
