// The coordinator's options: bad ones are refused before anything is written.
import type { RowDataPacket } from "mysql2/promise";

import { createCoordinator, InvalidArgumentError, type CoordinatorOptions } from "../src";
import { fx, useCoordinatorFixture } from "./coordinator-fixture";

useCoordinatorFixture();

describe("options", () => {
  test("bad options are refused with the option's name before anything is written", async () => {
    const cases: [Partial<CoordinatorOptions>, string][] = [
      [{ cluster: "" }, "cluster"],
      [{ cluster: "x".repeat(129) }, "cluster"],
      [{ leaseTtlMs: 0 }, "leaseTtlMs"],
      [{ pollMs: -1 }, "pollMs"],
      [{ batchSize: 0 }, "batchSize"],
      [{ maxMovesPerMember: 0 }, "maxMovesPerMember"],
      [{ forceReleaseAfterMs: 1.5 }, "forceReleaseAfterMs"],
      [{ id: "" }, "id"],
      [{ memberRetentionMs: 59_999 }, "memberRetentionMs"],
    ];
    for (const [options, argument] of cases) {
      const error = await createCoordinator(fx.pool, { cluster: "never-written", ...options }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).argument).toBe(argument);
      expect((error as InvalidArgumentError).code).toBe("HELIX_INVALID_ARGUMENT");
    }
    const [rows] = await fx.pool.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM helix_cluster_state WHERE cluster = 'never-written'");
    expect(rows[0]!.n).toBe(0);
  });
});
