// Fails when a retired word is back in the code or the docs: Helix says one thing one way (the
// glossary in README.md lists the words). Each entry: the retired spelling, the word to use. Run
// by scripts/test.sh; `node scripts/check-words.mjs` lists every offending line.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";

const retired = [
  { pattern: /\bnode TTL\b/i, use: 'say "member TTL"' },
  { pattern: /\bhand-?overs?\b/i, use: 'say "hand-off" (in prose) or "handoff" (inside a name such as pendingHandoffs)' },
  // In prose the word has a hyphen; without one it appears only inside a name (pendingHandoffs, pending_handoffs).
  { pattern: /(?<![\w-])handoffs?(?![\w-])/, use: 'write "hand-off" in prose' },
  { pattern: /\bplanAllocation\b/, use: "the planner is planOwnership" },
  { pattern: /\bversions\(\)/, use: "the change counters are read with counters()" },
];

const root = resolve(dirname(new URL(import.meta.url).pathname), "..");
// Every text file git knows of, except the generated API reference, the lockfile and this file.
const files = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard"], { cwd: root, encoding: "utf8" })
  .split("\n")
  .filter((f) => f !== "" && !f.startsWith("docs/api/") && f !== "pnpm-lock.yaml" && f !== "scripts/check-words.mjs")
  .filter((f) => /\.(ts|mts|cts|js|mjs|cjs|json|md|sql|sh|yaml|yml|html|css)$/.test(f) || !f.includes("."));

const found = [];
for (const file of files) {
  let text;
  try {
    text = readFileSync(resolve(root, file), "utf8");
  } catch {
    continue; // deleted in the work tree, or a directory entry
  }
  text.split("\n").forEach((line, index) => {
    for (const { pattern, use } of retired) {
      if (pattern.test(line)) found.push(`${file}:${index + 1}: "${line.match(pattern)[0]}": ${use}`);
    }
  });
}
if (found.length > 0) {
  console.error(found.join("\n"));
  console.error(`words: ${found.length} retired word(s) in use`);
  process.exit(1);
}
console.log(`words: no retired word in ${files.length} files`);
