// Adds up the jest result files that each package's test run writes to reports/<run>.json
// (reports/jest-<engine>.json for a run against one engine, reports/jest.json for tests that use no
// database) and prints a line per run, then one closing line: "tests: N passed, N failed".
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
/** Per run name ("jest-mariadb", "jest-tidb", "jest"): tests passed and failed. */
const runs = new Map();
for (const group of ["packages", "apps"]) {
  for (const name of readdirSync(join(root, group))) {
    const dir = join(root, group, name, "reports");
    if (!existsSync(dir)) continue;
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".json"))) {
      const result = JSON.parse(readFileSync(join(dir, file), "utf8"));
      const key = file.slice(0, -".json".length);
      const run = runs.get(key) ?? { passed: 0, failed: 0 };
      run.passed += result.numPassedTests;
      run.failed += result.numFailedTests + result.numRuntimeErrorTestSuites;
      runs.set(key, run);
    }
  }
}
let passed = 0;
let failed = 0;
for (const [name, run] of [...runs].sort(([a], [b]) => a.localeCompare(b))) {
  const engine = name === "jest" ? "no database" : name.replace(/^jest-/, "");
  console.log(`tests (${engine}): ${run.passed} passed, ${run.failed} failed`);
  passed += run.passed;
  failed += run.failed;
}
console.log(`tests: ${passed} passed, ${failed} failed`);
