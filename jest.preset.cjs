// Shared jest settings: TypeScript through ts-jest, tests under test/. Packages whose tests use the
// database take `withDatabase`, which gets a server from HELIX_TEST_MYSQL_URL or testcontainers.
const path = require("node:path");

/** @type {import('jest').Config} */
const base = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: {
    "^.+\\.ts$": ["ts-jest", { tsconfig: "<rootDir>/tsconfig.json", diagnostics: false }],
  },
  // Sources import siblings as "./x.js" (what Node needs once compiled); jest resolves the .ts file.
  moduleNameMapper: { "^(\\.{1,2}/.*)\\.js$": "$1" },
  testTimeout: 60_000,
};

const testing = path.join(__dirname, "packages/testing/dist");

/** @type {import('jest').Config} */
const withDatabase = {
  ...base,
  globalSetup: path.join(testing, "global-setup.cjs"),
  globalTeardown: path.join(testing, "global-teardown.cjs"),
};

module.exports = { base, withDatabase };
