// Adds up the jest result files that each package's test run writes to reports/<run>.json
// (reports/jest-<engine>.json for a run against one engine, reports/jest.json for tests that use no
// database) and prints a line per run, then one closing line: "tests: N passed, N failed, N skipped".
// Above them it names every failed test (or suite that did not run) with the first lines of its
// failure, and every skipped or todo test, so that a log cut to its last lines still says what
// failed. It exits 1 when a test failed or was skipped: a skipped test proves nothing, and the test
// command runs every one.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";

const root = join(import.meta.dirname, "..");
/** Lines of a failure message kept in the summary: enough for the assertion and where it is. */
const FAILURE_LINES = 6;
/** Per run name ("jest-mariadb", "jest-tidb", "jest"): tests passed and failed. */
const runs = new Map();
const failures = [];
const skipped = [];

/** The first lines of a jest failure message, without colour codes and blank lines. */
function firstLines(message) {
  return (
    message
      // eslint-disable-next-line no-control-regex
      .replace(/\u001b\[[0-9;]*m/g, "")
      .split("\n")
      .map((line) => line.trimEnd())
      .filter((line) => line.trim() !== "")
      .slice(0, FAILURE_LINES)
  );
}

for (const group of ["packages", "apps"]) {
  for (const name of readdirSync(join(root, group))) {
    const dir = join(root, group, name, "reports");
    if (!existsSync(dir)) continue;
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".json"))) {
      const result = JSON.parse(readFileSync(join(dir, file), "utf8"));
      const key = file.slice(0, -".json".length);
      const run = runs.get(key) ?? { passed: 0, failed: 0, skipped: 0 };
      run.passed += result.numPassedTests;
      run.failed += result.numFailedTests + result.numRuntimeErrorTestSuites;
      run.skipped += result.numPendingTests + result.numTodoTests;
      runs.set(key, run);
      for (const suite of result.testResults ?? []) {
        const where = `${key.replace(/^jest-?/, "") || "no database"}: ${relative(root, suite.name)}`;
        for (const test of suite.assertionResults ?? [])
          if (test.status === "pending" || test.status === "todo" || test.status === "skipped") skipped.push(`${where} > ${test.fullName}`);
        const failed = (suite.assertionResults ?? []).filter((test) => test.status === "failed");
        for (const test of failed) {
          failures.push({ title: `${where} > ${test.fullName}`, lines: firstLines(test.failureMessages.join("\n")) });
        }
        if (failed.length === 0 && suite.status === "failed") {
          failures.push({ title: `${where} (the suite did not run)`, lines: firstLines(suite.message ?? "") });
        }
      }
    }
  }
}
for (const failure of failures) {
  console.log(`FAILED ${failure.title}`);
  for (const line of failure.lines) console.log(`    ${line}`);
}
for (const title of skipped) console.log(`SKIPPED ${title}`);
let passed = 0;
let failed = 0;
let skippedCount = 0;
for (const [name, run] of [...runs].sort(([a], [b]) => a.localeCompare(b))) {
  const engine = name === "jest" ? "no database" : name.replace(/^jest-/, "");
  console.log(`tests (${engine}): ${run.passed} passed, ${run.failed} failed, ${run.skipped} skipped`);
  passed += run.passed;
  failed += run.failed;
  skippedCount += run.skipped;
}
console.log(`tests: ${passed} passed, ${failed} failed, ${skippedCount} skipped`);
process.exit(failed > 0 || skippedCount > 0 ? 1 : 0);
