// The jest run of `pnpm mutate:ts` (stryker.config.mjs): only the tests that cover the mutated
// files, each package's tests compiled with that package's tsconfig, in one jest process so that
// Stryker can run the tests covering each mutant and no others. The member's tests need the
// database: HELIX_TEST_MYSQL_URL must name it (no global setup, which would run again for every
// mutant; stryker.config.mjs refuses to start without it).
const { base } = require("./jest.preset.cjs");

/** The test files that cover the mutated files, by package. */
const tests = {
  cluster: [
    "heartbeat-schedule",
    "heartbeat",
    "statement-bounds",
    "partition-sync",
    "owned-partitions",
    "releases",
    "fence",
    "member-deadline",
    "ownership",
    "ownership-writer",
    "ownership-catalog",
  ],
  lock: ["deadline", "lease", "timers"],
  db: ["classify"],
};

const packages = Object.keys(tests);

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  rootDir: __dirname,
  // Well under Stryker's timeout: a mutant that makes a test hang fails that test (killed) instead of
  // timing out, which would cost a new test runner process.
  testTimeout: 8000,
  roots: packages.map((name) => `<rootDir>/packages/${name}/test`),
  testMatch: Object.entries(tests).flatMap(([name, files]) => files.map((file) => `**/packages/${name}/test/${file}.test.ts`)),
  transform: Object.fromEntries(
    packages.map((name) => [
      `/packages/${name}/.+\\.ts$`,
      ["ts-jest", { tsconfig: `<rootDir>/packages/${name}/tsconfig.json`, diagnostics: false }],
    ]),
  ),
};
