import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { generate, type SourceReader } from "../src/generate";
import type { GenerateRequest } from "../src/request";
import { splitStatements, tokenize } from "../src/sql-lexer";

const root = join(__dirname, "..");
const golden = join(__dirname, "golden");
const reader: SourceReader = {
  readFile: (path) => readFileSync(join(root, path), "utf8"),
  listDir: (path) => readdirSync(join(root, path)),
};
const request = JSON.parse(readFileSync(join(__dirname, "fixtures", "request.json"), "utf8")) as GenerateRequest;

function withOptions(options: object): GenerateRequest {
  return { ...request, plugin_options: Buffer.from(JSON.stringify(options)).toString("base64") };
}

test("output matches the golden files (UPDATE_GOLDEN=1 rewrites them)", () => {
  const files = generate(request, reader);
  expect([...files.keys()].sort()).toEqual(["bulk.ts", "db.ts", "items.ts", "migrations.ts", "writes.ts"]);
  for (const [name, text] of files) {
    if (process.env.UPDATE_GOLDEN === "1") writeFileSync(join(golden, name), text);
    expect(text).toBe(readFileSync(join(golden, name), "utf8"));
  }
  expect(readdirSync(golden).sort()).toEqual([...files.keys()].sort());
});

test("the built plugin speaks sqlc's JSON protocol on stdin and stdout", () => {
  const stdout = execFileSync(join(root, "bin", "sqlc-gen-ts"), ["/plugin.CodegenService/Generate"], {
    cwd: root,
    input: JSON.stringify(request),
  });
  const response = JSON.parse(stdout.toString()) as { files: { name: string; contents: string }[] };
  const files = generate(request, reader);
  expect(response.files.map((f) => f.name)).toEqual([...files.keys()]);
  for (const file of response.files) {
    expect(Buffer.from(file.contents, "base64").toString("utf8")).toBe(files.get(file.name));
  }
});

test("the plugin process fails with a message on stderr for a bad request", () => {
  let stderr = "";
  try {
    execFileSync(join(root, "bin", "sqlc-gen-ts"), [], { cwd: root, input: "{}", stdio: "pipe" });
  } catch (error) {
    stderr = String((error as { stderr: Buffer }).stderr);
  }
  expect(stderr).toMatch(/^sqlc-gen-ts: /);
});

test("a parameter sqlc cannot type needs a param_types entry", () => {
  expect(() => generate(withOptions({}), reader)).toThrow(/"ttl_us".*param_types/);
});

test("unknown options, commands and engines are refused", () => {
  expect(() => generate(withOptions({ emit_stuff: true }), reader)).toThrow(/unknown plugin option "emit_stuff"/);
  const batch = { ...request, queries: [{ ...request.queries[0]!, cmd: ":batchexec" }] };
  expect(() => generate(batch, reader)).toThrow(/:batchexec; supported: :one :many :exec :execrows :execresult :execlastid :copyfrom/);
  expect(() => generate({ ...request, settings: { ...request.settings, engine: "postgresql" } }, reader)).toThrow(/engine "postgresql"/);
});

test(":copyfrom takes an INSERT whose one VALUES tuple holds every parameter", () => {
  const insert = request.queries.find((q) => q.name === "InsertItems")!;
  const as = (text: string): GenerateRequest => ({ ...request, queries: [{ ...insert, text }] });
  expect(() => generate(as("UPDATE items SET note = ?"), reader)).toThrow(/must be INSERT ... VALUES/);
  expect(() => generate(as("INSERT INTO items (note, version) SELECT ?, ?"), reader)).toThrow(/must be INSERT ... VALUES/);
  expect(() => generate(as("INSERT INTO items (note, version) VALUES (?, 1) ON DUPLICATE KEY UPDATE version = ?"), reader)).toThrow(
    /parameters must all be in its VALUES tuple/,
  );
  expect(() => generate(as("INSERT INTO items (note, version) VALUES (?, (?)"), reader)).toThrow(/unbalanced parentheses/);
});

test("an array parameter (not a sqlc.slice) is refused with what to use", () => {
  const lock = request.queries.find((q) => q.name === "LockItems")!;
  const params = lock.params.map((p) => ({ ...p, column: { ...p.column, is_sqlc_slice: false, is_array: true } }));
  expect(() => generate({ ...request, queries: [{ ...lock, params }] }, reader)).toThrow(/"ids" is an array.*sqlc\.slice\(ids\)/);
});

describe("the generated bulk queries, run against a recording client", () => {
  // The golden file is what sqlc writes into @helix/db; here its functions run as generated.
  type Call = { sql: string; values: unknown[] };
  const calls: Call[] = [];
  const client = {
    query(options: Call): Promise<[unknown, unknown]> {
      calls.push(options);
      return Promise.resolve([
        options.sql.startsWith("-- name: LockItems") ? [] : { affectedRows: options.values.length, insertId: 0 },
        [],
      ]);
    },
  };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const bulk = require("./golden/bulk") as typeof import("./golden/bulk");

  beforeEach(() => void calls.splice(0));

  test("a slice becomes one placeholder per element, in the order of the parameters", async () => {
    await bulk.lockItems(client, { ids: [1, 2, 3], versions: [7], note: "n" });
    expect(calls[0]!.sql).toMatch(/WHERE id IN \(\?, \?, \?\) AND version IN \(\?\) AND note = \? FOR UPDATE$/);
    expect(calls[0]!.values).toEqual([1, 2, 3, 7, "n"]);
  });

  test("an empty slice matches nothing (IN (NULL)) rather than failing to parse", async () => {
    await bulk.touchItems(client, { note: "n", ids: [] });
    expect(calls[0]!.sql).toMatch(/WHERE id IN \(NULL\) AND note <> \?$/);
    expect(calls[0]!.values).toEqual(["n", "n"]);
  });

  test(":copyfrom sends one INSERT with a tuple per row, and nothing for no rows", async () => {
    expect(await bulk.insertItems(client, [])).toBe(0);
    expect(calls).toEqual([]);
    await bulk.insertItems(client, [
      { note: "a", version: 1 },
      { note: "b", version: null },
    ]);
    expect(calls[0]!.sql).toMatch(/VALUES \(\?, COALESCE\(\?, 0\) \+ LENGTH\('\(x'\)\), \(\?, COALESCE\(\?, 0\) \+ LENGTH\('\(x'\)\)$/);
    expect(calls[0]!.values).toEqual(["a", 1, "b", null]);
  });
});

test("migration files must be named NNNN_name.sql with distinct versions", () => {
  const bad = (names: string[]): SourceReader => ({ ...reader, listDir: () => names, readFile: () => "SELECT 1;" });
  expect(() => generate(request, bad(["1-items.sql"]))).toThrow(/must be named NNNN_name.sql/);
  expect(() => generate(request, bad(["0001_a.sql", "01_b.sql"]))).toThrow(/two migration files have version 1/);
});

describe("splitStatements", () => {
  test("splits at top-level semicolons and drops comments", () => {
    expect(splitStatements("-- c\nSELECT 1; /* x; */ SELECT 'a;b' # t;\n;SELECT `x;y`;")).toEqual([
      "SELECT 1",
      "SELECT 'a;b'",
      "SELECT `x;y`",
    ]);
  });

  test("keeps doubled and escaped quotes inside strings", () => {
    expect(splitStatements("SELECT 'it''s; \\'ok\\';'; SELECT 2")).toEqual(["SELECT 'it''s; \\'ok\\';'", "SELECT 2"]);
  });

  test("a `--` is a comment only before white space or the end, and a backslash escapes a line break in a string", () => {
    expect(splitStatements("SELECT 1--2;\nSELECT 'a\\\n;b' -- c;\n--")).toEqual(["SELECT 1--2", "SELECT 'a\\\n;b'"]);
  });

  test("tokens give the text back, names without their quotes", () => {
    const sql = "ALTER TABLE `a``b` ADD x INT -- note\n, ADD KEY k (x); # end";
    const tokens = tokenize(sql);
    expect(tokens.map((t) => t.raw).join("")).toBe(sql);
    expect(tokens.filter((t) => t.kind === "name").map((t) => t.text)).toEqual(["a`b"]);
    expect(tokens.filter((t) => t.kind === "comment").map((t) => t.raw)).toEqual(["-- note", "# end"]);
    expect(tokens.find((t) => t.raw === ";")).toMatchObject({ kind: "punct", start: sql.indexOf(";") });
  });

  test("refuses unterminated strings and comments", () => {
    expect(() => splitStatements("SELECT 'x")).toThrow(/unterminated ' quote/);
    expect(() => splitStatements("SELECT 1 /* x")).toThrow(/unterminated \/\* comment/);
    expect(() => tokenize("SELECT `x")).toThrow(/unterminated ` quote/);
  });
});
