// Checks that the figures README.md cites from the benchmark report are the report's own.
//   node scripts/check-readme-figures.mjs            exits 1, naming each difference, when README.md's
//                                                    figures section is not what --write would make
//   node scripts/check-readme-figures.mjs --write    makes that section from bench/REPORT.md
//   --readme PATH, --report PATH                     other files (default README.md, bench/REPORT.md)
// The section is everything between the lines `<!-- figures:start -->` and `<!-- figures:end -->`
// in README.md: a table of the scale benchmark's rows (row, machine, measured, target, meets
// target, members fenced, moved / minimum), each row on the quiet machine and then on the busy
// one, taken cell for cell from the two scale sections of bench/REPORT.md (the `## ` sections whose
// title holds "Scale" and "quiet" or "busy"; their table is the one with the columns "row" and
// "meets target"). Nothing else of README.md is read or written.
import { readFileSync, writeFileSync } from "node:fs";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const START = "<!-- figures:start -->";
const END = "<!-- figures:end -->";
const NOTE = "<!-- made from bench/REPORT.md by `node scripts/check-readme-figures.mjs --write`; do not edit by hand -->";
const MACHINES = ["quiet", "busy"];
/** The README's columns: its header, and the report's column each is taken from. */
const COLUMNS = [
  ["row", "row"],
  ["machine", undefined],
  ["measured", "measured"],
  ["target", "target"],
  ["meets target", "meets target"],
  ["members fenced", "members fenced"],
  ["moved / minimum", "moved / minimum"],
];
const ALIGN = ["---", "---", "---:", "---", "---", "---:", "---:"];

class Failure extends Error {}

function parseArgs(argv) {
  const args = { write: false, readme: relative(".", `${root}README.md`), report: relative(".", `${root}bench/REPORT.md`) };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--write") args.write = true;
    else if (argv[i] === "--readme" && argv[i + 1] !== undefined) args.readme = argv[++i];
    else if (argv[i] === "--report" && argv[i + 1] !== undefined) args.report = argv[++i];
    else throw new Failure(`unknown argument ${argv[i]} (usage: check-readme-figures.mjs [--write] [--readme PATH] [--report PATH])`);
  }
  return args;
}

const read = (path, what) => {
  try {
    return readFileSync(path, "utf8").replace(/\r\n/g, "\n");
  } catch (error) {
    throw new Failure(`cannot read ${what} ${path}: ${error.message}`);
  }
};

/** The cells of a markdown table line ("| a | b |"), or undefined for any other line. */
function cells(line) {
  const t = line.trim();
  if (!t.startsWith("|") || !t.endsWith("|") || t.length < 2) return undefined;
  return t
    .slice(1, -1)
    .split("|")
    .map((c) => c.trim());
}

/** The tables of `lines`: { header, rows } each, rows as arrays of cells. */
function tables(lines) {
  const found = [];
  for (let i = 0; i < lines.length; i++) {
    const header = cells(lines[i]);
    const rule = cells(lines[i + 1] ?? "");
    if (header === undefined || rule === undefined || !rule.every((c) => /^:?-+:?$/.test(c))) continue;
    const rows = [];
    let j = i + 2;
    for (; j < lines.length && cells(lines[j]) !== undefined; j++) rows.push(cells(lines[j]));
    found.push({ header, rows });
    i = j - 1;
  }
  return found;
}

/** The scale table of the report's `machine` section: its rows as objects by column name. */
function scaleRows(report, machine) {
  const sections = report.split(/^(?=## )/m).filter((s) => {
    const title = s.slice(0, s.indexOf("\n")).toLowerCase();
    return /^## .*\bscale\b/.test(title) && new RegExp(`\\b${machine}\\b`).test(title);
  });
  if (sections.length !== 1) {
    throw new Failure(
      `the report has ${sections.length} "## ... Scale ... ${machine} ..." sections, not 1: run \`pnpm bench\` (bench/report.mjs)`,
    );
  }
  const title = sections[0].slice(3, sections[0].indexOf("\n"));
  const table = tables(sections[0].split("\n")).find((t) => t.header.includes("row") && t.header.includes("meets target"));
  if (table === undefined)
    throw new Failure(`the report's section "${title}" has no table with the columns "row" and "meets target" (did the run fail?)`);
  for (const [, from] of COLUMNS) {
    if (from !== undefined && !table.header.includes(from))
      throw new Failure(`the table of the report's section "${title}" has no column "${from}"`);
  }
  return table.rows.map((r) => Object.fromEntries(table.header.map((h, i) => [h, r[i] ?? ""])));
}

/** The figures section README.md should hold (the lines between the markers). */
function generate(report) {
  const byMachine = new Map(MACHINES.map((m) => [m, scaleRows(report, m)]));
  const names = [];
  for (const rows of byMachine.values()) for (const r of rows) if (!names.includes(r.row)) names.push(r.row);
  const lines = [NOTE, "", `| ${COLUMNS.map(([h]) => h).join(" | ")} |`, `| ${ALIGN.join(" | ")} |`];
  for (const name of names) {
    for (const machine of MACHINES) {
      const r = byMachine.get(machine).find((x) => x.row === name);
      if (r === undefined) continue;
      lines.push(`| ${COLUMNS.map(([, from]) => (from === undefined ? machine : r[from])).join(" | ")} |`);
    }
  }
  return lines;
}

/** README.md split around its figures section: { before, section (lines), after }. */
function splitReadme(readme, path) {
  const lines = readme.split("\n");
  const starts = lines.flatMap((l, i) => (l.trim() === START ? [i] : []));
  const ends = lines.flatMap((l, i) => (l.trim() === END ? [i] : []));
  if (starts.length !== 1 || ends.length !== 1 || ends[0] < starts[0]) {
    throw new Failure(`${path} must hold one line "${START}" and, after it, one line "${END}" (found ${starts.length} and ${ends.length})`);
  }
  return { before: lines.slice(0, starts[0] + 1), section: lines.slice(starts[0] + 1, ends[0]), after: lines.slice(ends[0]) };
}

/** Strips blank lines at both ends and trailing spaces: what the comparison ignores. */
const normal = (lines) => {
  const out = lines.map((l) => l.replace(/\s+$/, ""));
  while (out.length > 0 && out[0] === "") out.shift();
  while (out.length > 0 && out.at(-1) === "") out.pop();
  return out;
};

/** The differences between README.md's section and the one made from the report, in words. */
function differences(have, want, readmeName, reportName) {
  const keyed = (lines) => {
    const table = tables(lines)[0];
    const map = new Map();
    for (const r of table?.rows ?? []) map.set(`${r[0]} (${r[1]})`, Object.fromEntries((table.header ?? []).map((h, i) => [h, r[i]])));
    return { header: table?.header, map };
  };
  const a = keyed(have);
  const b = keyed(want);
  const found = [];
  if (a.header === undefined) found.push(`the section has no table (the report gives ${b.map.size} rows)`);
  else if (a.header.join("|") !== b.header.join("|"))
    found.push(`the table's columns are "${a.header.join(" | ")}", not "${b.header.join(" | ")}"`);
  else {
    for (const [key, want] of b.map) {
      const row = a.map.get(key);
      if (row === undefined) {
        found.push(`row "${key}" is missing (the report has: ${Object.values(want).join(" | ")})`);
        continue;
      }
      for (const [column, value] of Object.entries(want)) {
        if (row[column] !== value) found.push(`row "${key}", ${column}: ${readmeName} has "${row[column]}", ${reportName} has "${value}"`);
      }
    }
    for (const key of a.map.keys()) if (!b.map.has(key)) found.push(`row "${key}" is not in ${reportName}`);
  }
  if (found.length === 0) {
    // Same figures, other text or order: name the first line that differs.
    const i = have.findIndex((l, n) => l !== want[n]);
    const n = i === -1 ? have.length : i;
    found.push(
      `line ${n + 1} of the section: ${readmeName} has ${JSON.stringify(have[n] ?? "(nothing)")}, expected ${JSON.stringify(want[n] ?? "(nothing)")}`,
    );
  }
  return found;
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const want = generate(read(args.report, "the benchmark report"));
  const readme = read(args.readme, "the README");
  const { before, section, after } = splitReadme(readme, args.readme);
  if (args.write) {
    writeFileSync(args.readme, [...before, "", ...want, "", ...after].join("\n"));
    process.stdout.write(
      `check-readme-figures: wrote the figures section of ${args.readme} (${want.length - 4} rows) from ${args.report}\n`,
    );
    return 0;
  }
  const have = normal(section);
  if (have.length === want.length && have.every((l, i) => l === want[i])) {
    process.stdout.write(`check-readme-figures: the figures section of ${args.readme} matches ${args.report}\n`);
    return 0;
  }
  const found = differences(have, want, args.readme, args.report);
  process.stderr.write(
    `check-readme-figures: the figures section of ${args.readme} is not what ${args.report} gives:\n` +
      found.map((d) => `  - ${d}\n`).join("") +
      "run `node scripts/check-readme-figures.mjs --write` to make it from the report.\n",
  );
  return 1;
}

try {
  process.exitCode = main();
} catch (error) {
  if (!(error instanceof Failure)) throw error;
  process.stderr.write(`check-readme-figures: ${error.message}\n`);
  process.exitCode = 1;
}
