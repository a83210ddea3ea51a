// Fails when a package's source files import each other in a circle (type-only imports included):
// a type two modules share lives in a leaf module both import. Run by scripts/test.sh.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";

const root = resolve(dirname(new URL(import.meta.url).pathname), "..");
const files = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "packages/*/src/**.ts", "apps/*/src/**.ts"], {
  cwd: root,
  encoding: "utf8",
})
  .split("\n")
  .filter((f) => f !== "" && !f.includes("/generated/"));

/** Each file's relative imports, as paths from the root. */
const imports = new Map(
  files.map((file) => {
    const targets = [];
    for (const [, spec] of readFileSync(resolve(root, file), "utf8").matchAll(/from "(\.{1,2}\/[^"]*)"/g)) {
      const base = resolve(root, dirname(file), spec);
      const found = [`${base}.ts`, `${base}/index.ts`].find((candidate) => existsSync(candidate));
      if (found !== undefined) targets.push(relative(root, found));
    }
    return [file, targets];
  }),
);

const cycles = [];
const done = new Set();
const path = [];
function visit(file) {
  if (path.includes(file)) {
    cycles.push([...path.slice(path.indexOf(file)), file].join(" -> "));
    return;
  }
  if (done.has(file)) return;
  path.push(file);
  for (const target of imports.get(file) ?? []) visit(target);
  path.pop();
  done.add(file);
}
for (const file of files) visit(file);

if (cycles.length > 0) {
  console.error(`circular imports (move the shared types to a leaf module):\n${cycles.join("\n")}`);
  process.exit(1);
}
console.log(`no circular imports among ${files.length} source files`);
