// Adds up the jest result files that each package's test run writes to reports/jest.json and
// prints one closing line: "tests: N passed, N failed".
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
let passed = 0;
let failed = 0;
for (const group of ["packages", "apps"]) {
  for (const name of readdirSync(join(root, group))) {
    const file = join(root, group, name, "reports", "jest.json");
    if (!existsSync(file)) continue;
    const result = JSON.parse(readFileSync(file, "utf8"));
    passed += result.numPassedTests;
    failed += result.numFailedTests + result.numRuntimeErrorTestSuites;
  }
}
console.log(`tests: ${passed} passed, ${failed} failed`);
