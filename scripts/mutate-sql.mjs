// Mutation testing of the SQL that decides leases, fences, ownership and hand-offs: for every such
// statement, each one-clause change of a defined set is made to the statement as the generated code
// sends it, the query tests that cover the statement run against the database, and the change is
// killed when they fail. Prints, per statement, the mutants killed and those that survived (with the
// change), and writes them to docs/mutation-sql.md; exits 1 when one survived that is not listed as
// equivalent below, with the reason it changes nothing.
//   node scripts/mutate-sql.mjs [--only AcquireLock,RenewLock]   (HELIX_TEST_MYSQL_URL names the server)
// The mutations: drop one AND or OR term of a condition; flip or weaken a comparison (> and >=,
// < and <=, = and <>); widen or narrow an IN list; drop FOR UPDATE or LOCK IN SHARE MODE; swap
// GREATEST and LEAST; drop a LAST_INSERT_ID around its argument.
import { spawnSync } from "node:child_process";
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";

const root = join(import.meta.dirname, "..");
// The mutants are made in a copy of packages/db, never in the checkout: builds and tests running
// meanwhile see the real statements, and a run stopped halfway leaves nothing behind. The copy sits
// at the same depth as the original, so that its relative links into node_modules and the configs
// it extends resolve as they do for the original.
const scratch = join(root, ".mutate");
const db = join(scratch, "db");

/**
 * The statements under test, by sqlc name, with the generated module that sends each; a module's
 * statements are covered by its query tests and its clause tests (test/queries-<module>.test.ts,
 * test/clauses-<module>.test.ts).
 */
const STATEMENTS = {
  AcquireLock: "locks",
  RenewLock: "locks",
  ReleaseLock: "locks",
  CheckLockEpochForShare: "locks",
  CheckLockEpochForUpdate: "locks",
  HeartbeatMember: "cluster",
  MarkExpiredMembersInactive: "cluster",
  AssignPartitions: "cluster",
  RequestPartitionsRelease: "cluster",
  ConfirmPartitionsRelease: "cluster",
  CheckPartitionForShare: "cluster",
  CheckPartitionForUpdate: "cluster",
};

const UNASSIGNED_HAS_NO_NODE =
  "a state-0 row always has a NULL node id (InsertPartitions and ReleaseMemberPartitions, the only writes of state 0, set node_id NULL with it)";
const FENCE_NEVER_PASSES_STATE_0 = `${UNASSIGNED_HAS_NO_NODE}, and the fence matches node_id = ?, so no state-0 row passes with either list`;

/**
 * Mutants that change nothing a caller can observe, by statement and the change's description,
 * with why. A survivor listed here is reported as equivalent, not as a failure.
 */
const EQUIVALENT = {
  AcquireLock: {
    '"<=" -> "<" in "expires_at  = IF(expires_at <= UTC_TIMESTAMP(6) OR token = VALUES(token), VALUES(expires_at), expires_at)"':
      "the upsert's assignments run in order (on MariaDB, and for this statement on TiDB too: its lease clause tests pass with this mutant), and the token's, before this one, has set the token to the caller's whenever the lease was over, so the second term alone decides",
  },
  CheckPartitionForShare: {
    '"IN (1, 2)" -> "IN (0, 1, 2)"': FENCE_NEVER_PASSES_STATE_0,
  },
  CheckPartitionForUpdate: {
    '"IN (1, 2)" -> "IN (0, 1, 2)"': FENCE_NEVER_PASSES_STATE_0,
  },
  AssignPartitions: {
    'drop "OR helix_allocation.node_id IS NULL"':
      "a NULL node id matches no member row, so the NOT EXISTS term that follows admits the row already",
    '"IN (0, 3)" -> "IN (3)"': `${UNASSIGNED_HAS_NO_NODE}, so the node_id IS NULL term admits it already`,
  },
};

// The query tests run once per client (queries-fixture.ts); a statement's text is the same whatever
// the client, so one client's run (Helix's pool) decides, with every test that is not per client.
const ONE_CLIENT = "^(through Helix's pool|(?!through ))";

const { values: args } = parseArgs({ options: { only: { type: "string", default: "" } } });
const only = args.only === "" ? Object.keys(STATEMENTS) : args.only.split(",");

/** The one-clause changes of a statement's text, each as [description, mutated text]. */
function mutants(sql) {
  const out = [];
  const at = (index, text, length) => sql.slice(0, index) + text + sql.slice(index + length);
  const lineOf = (index) => sql.slice(sql.lastIndexOf("\n", index) + 1, (sql.indexOf("\n", index) + 1 || sql.length + 1) - 1);
  const balanced = (text) => text.split("(").length === text.split(")").length;
  // Drop a condition's term that has a line of its own (parentheses balanced: the statement stays whole).
  const lines = sql.split("\n");
  lines.forEach((line, i) => {
    if (/^\s*(AND|OR)\s/.test(line) && balanced(line))
      out.push([`drop "${line.trim()}"`, [...lines.slice(0, i), ...lines.slice(i + 1)].join("\n")]);
  });
  // Flip or weaken a comparison; an assignment's `=` (SET x = ..., or x = ... in an upsert) is not one.
  const flips = { ">=": ">", ">": ">=", "<=": "<", "<": "<=", "=": "<>", "<>": "=" };
  for (const m of sql.matchAll(/ (>=|<=|<>|>|<|=) /g)) {
    const before = sql.slice(sql.lastIndexOf("\n", m.index) + 1, m.index);
    if (m[1] === "=" && /^\s*(SET\s+)?[a-z_.]+\s*$/.test(before)) continue;
    out.push([`"${m[1]}" -> "${flips[m[1]]}" in "${lineOf(m.index).trim()}"`, at(m.index, ` ${flips[m[1]]} `, m[0].length)]);
  }
  // Widen or narrow an IN list of states.
  for (const m of sql.matchAll(/IN \(([0-9, ]+)\)/g)) {
    const values = m[1].split(",").map((v) => v.trim());
    const variants = values.length > 1 ? values.map((v) => values.filter((w) => w !== v)) : [];
    for (const extra of ["0", "1", "2", "3"]) if (!values.includes(extra)) variants.push([...values, extra].sort());
    for (const variant of variants)
      out.push([`"${m[0]}" -> "IN (${variant.join(", ")})"`, at(m.index, `IN (${variant.join(", ")})`, m[0].length)]);
  }
  for (const m of sql.matchAll(/\n?(FOR UPDATE|LOCK IN SHARE MODE)/g)) out.push([`drop ${m[1]}`, at(m.index, "", m[0].length)]);
  for (const m of sql.matchAll(/\b(GREATEST|LEAST)\(/g)) {
    const other = m[1] === "GREATEST" ? "LEAST" : "GREATEST";
    out.push([`${m[1]} -> ${other} in "${lineOf(m.index).trim()}"`, at(m.index, `${other}(`, m[0].length)]);
  }
  // Drop a LAST_INSERT_ID around its argument (the epoch the caller is told).
  for (const m of sql.matchAll(/LAST_INSERT_ID\(/g)) {
    let depth = 1;
    let end = m.index + m[0].length;
    for (; depth > 0 && end < sql.length; end++) depth += sql[end] === "(" ? 1 : sql[end] === ")" ? -1 : 0;
    const argument = sql.slice(m.index + m[0].length, end - 1);
    if (argument.trim() !== "") out.push([`drop LAST_INSERT_ID around "${argument}"`, at(m.index, `(${argument})`, end - m.index)]);
  }
  return out;
}

/** The generated module's text with `name`'s statement replaced by `sql`. */
function withStatement(source, name, sql) {
  const start = source.indexOf(`-- name: ${name} `);
  const end = source.indexOf("`;", start);
  return source.slice(0, start) + sql + source.slice(end);
}

function statementOf(source, name) {
  const start = source.indexOf(`-- name: ${name} `);
  if (start === -1) throw new Error(`no statement ${name} in the generated code`);
  return source.slice(start, source.indexOf("`;", start));
}

const results = [];
rmSync(scratch, { recursive: true, force: true });
cpSync(join(root, "packages", "db"), db, { recursive: true, verbatimSymlinks: true });
try {
  for (const name of only) {
    const module = STATEMENTS[name];
    if (module === undefined) throw new Error(`--only: ${name} is not one of ${Object.keys(STATEMENTS).join(", ")}`);
    const file = join(db, "src", "generated", `${module}.ts`);
    const source = readFileSync(file, "utf8");
    const sql = statementOf(source, name);
    for (const [description, mutated] of mutants(sql)) {
      if (mutated === sql) continue;
      writeFileSync(file, withStatement(source, name, mutated));
      const run = spawnSync(
        join(db, "node_modules", ".bin", "jest"),
        ["--silent", "--testNamePattern", ONE_CLIENT, `test/queries-${module}.test.ts`, `test/clauses-${module}.test.ts`],
        {
          cwd: db,
          encoding: "utf8",
          env: process.env,
        },
      );
      const killed = run.status !== 0;
      const equivalent = EQUIVALENT[name]?.[description];
      results.push({ name, description, killed, equivalent });
      process.stdout.write(`${name}: ${killed ? "killed  " : equivalent === undefined ? "SURVIVED" : "equivalent"} ${description}\n`);
      writeFileSync(file, source);
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

const lines = [
  "# SQL mutation testing",
  "",
  "`node scripts/mutate-sql.mjs` (`pnpm mutate:sql`): each statement's mutants, made in a scratch copy of `packages/db`, against the tests that cover the statement: its module's query tests (`test/queries-*.test.ts`, through Helix's pool) and the clause tests (`test/clauses-*.test.ts`). CI runs it on MariaDB and fails on a survivor.",
  "",
  "| statement | mutants | killed | equivalent | survived |",
  "| --- | ---: | ---: | ---: | ---: |",
];
for (const name of only) {
  const of = results.filter((r) => r.name === name);
  const survived = of.filter((r) => !r.killed && r.equivalent === undefined);
  lines.push(
    `| ${name} | ${of.length} | ${of.filter((r) => r.killed).length} | ${of.filter((r) => !r.killed && r.equivalent !== undefined).length} | ${survived.length} |`,
  );
}
const survivors = results.filter((r) => !r.killed && r.equivalent === undefined);
const equivalents = results.filter((r) => !r.killed && r.equivalent !== undefined);
if (equivalents.length > 0)
  lines.push(
    "",
    "Equivalent (they change nothing a caller can observe):",
    "",
    ...equivalents.map((r) => `- ${r.name}: ${r.description}: ${r.equivalent}`),
  );
if (survivors.length > 0) lines.push("", "Survived:", "", ...survivors.map((r) => `- ${r.name}: ${r.description}`));
writeFileSync(join(root, "docs", "mutation-sql.md"), `${lines.join("\n")}\n`);
console.log(`\n${lines.join("\n")}`);
process.exit(survivors.length > 0 ? 1 : 0);
