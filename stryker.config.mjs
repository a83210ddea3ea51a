// Mutation testing of the TypeScript safety core (`pnpm mutate:ts`, with HELIX_TEST_MYSQL_URL set):
// what decides when a member or a lease holder must stop, what a member does with what it reads,
// what the ownership writer sends, and how a database error is classified. docs/mutation-ts.md
// says why each file is in or out.
if (!process.env.HELIX_TEST_MYSQL_URL) {
  throw new Error("Set HELIX_TEST_MYSQL_URL to a MySQL 8 or MariaDB 10.11+ server, e.g. mysql://root@127.0.0.1:3306/");
}

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  // Named by URL: pnpm keeps the runner out of reach of Stryker's default "@stryker-mutator/*" lookup.
  plugins: [import.meta.resolve("@stryker-mutator/jest-runner")],
  testRunner: "jest",
  jest: { projectType: "custom", configFile: "jest.mutation.cjs", enableFindRelatedTests: false },
  coverageAnalysis: "perTest",
  // Two cores, shared with other test runs.
  concurrency: 2,
  mutate: [
    "packages/cluster/src/heartbeat-schedule.ts",
    "packages/cluster/src/statement-bounds.ts",
    "packages/cluster/src/fence.ts",
    "packages/cluster/src/releases.ts",
    "packages/cluster/src/owned-partitions.ts",
    // What one heartbeat decides, and how the member keeps its partitions as of a version.
    "packages/cluster/src/heartbeat.ts",
    "packages/cluster/src/partition-sync.ts",
    // The member's side of them (what its heartbeat and sync are lent), its rejoin, its self-fence
    // and its deadline check: the rest of member.ts is its lifecycle (docs/mutation-ts.md).
    "packages/cluster/src/member.ts:118-147",
    "packages/cluster/src/member.ts:339-359",
    // The ownership writer: its rules are SQL (pnpm mutate:sql); here, how it batches, groups,
    // locks, counts and tells.
    "packages/cluster/src/ownership/*.ts",
    "packages/lock/src/deadline.ts",
    "packages/lock/src/lease.ts",
    "packages/db/src/classify.ts",
  ],
  // The sandbox holds only what the run needs (the other packages resolve through node_modules);
  // whatever else is in the checkout stays out.
  ignorePatterns: [
    "/*",
    "!/package.json",
    "!/tsconfig.base.json",
    "!/jest.preset.cjs",
    "!/jest.mutation.cjs",
    "!/packages",
    "/packages/*",
    "!/packages/cluster",
    "!/packages/db",
    "!/packages/lock",
    "!/packages/testing",
    "reports",
  ],
  tempDirName: ".stryker-tmp",
  // A run after a change of tests or sources tests again only the mutants it could affect.
  incremental: true,
  incrementalFile: "reports/mutation/stryker-incremental.json",
  reporters: ["clear-text", "progress", "html", "json"],
  htmlReporter: { fileName: "reports/mutation/ts.html" },
  jsonReporter: { fileName: "reports/mutation/ts.json" },
  // Some mutants stop a timer from ever firing: the test waits for it, and Stryker calls that a timeout.
  timeoutMS: 10_000,
  thresholds: { high: 95, low: 90, break: null },
};
