// The planner's options: bad ones are refused with the option's name.
import { InvalidArgumentError } from "@helix/db";

import { planOwnership } from "../src";

test("bad planner options are refused with the option's name, never planned with", () => {
  const cases: [object, string][] = [
    [{ forceReleaseAfterMs: Number.NaN }, "forceReleaseAfterMs"],
    [{ forceReleaseAfterMs: -1 }, "forceReleaseAfterMs"],
    [{ reassignDelayMs: Number.POSITIVE_INFINITY }, "reassignDelayMs"],
    [{ reassignDelayMs: 1.5 }, "reassignDelayMs"],
    [{ maxMovesPerMember: 0 }, "maxMovesPerMember"],
    [{ maxMovesPerMember: Number.NaN }, "maxMovesPerMember"],
    [{ maxMovesPerTaskList: -3 }, "maxMovesPerTaskList"],
    [{ maxMovesPerTaskList: "5" }, "maxMovesPerTaskList"],
  ];
  for (const [options, argument] of cases) {
    let error: unknown;
    try {
      planOwnership({ members: [], taskLists: [], options });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error).toMatchObject({ argument, code: "HELIX_INVALID_ARGUMENT" });
  }
  const notAnObject = (() => {
    try {
      return planOwnership({ members: [], taskLists: [], options: null as never });
    } catch (e) {
      return e;
    }
  })();
  expect(notAnObject).toMatchObject({ argument: "options" });
  // Infinity and the defaults plan as before.
  expect(planOwnership({ members: [], taskLists: [], options: { maxMovesPerMember: Infinity } }).transitions).toEqual([]);
});
