import { testServerUrl, withServer } from "@helix/testing";

import { main, type Output } from "../src";

function capture(): Output & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l) };
}

test("migrate creates a missing database, applies the schema, and is a no-op the second time", async () => {
  const url = new URL(testServerUrl());
  const name = `helix_test_cli_${process.pid}`;
  url.pathname = `/${name}`;
  try {
    const first = capture();
    expect(await main(["migrate"], { HELIX_MYSQL_URL: url.toString() }, first)).toBe(0);
    expect(first.lines.at(-1)).toMatch(/applied \d+ migration\(s\), schema at version \d+$/);
    expect(first.lines[0]).toBe("applying migration 1 (locks)");

    const second = capture();
    expect(await main(["migrate", "--url", url.toString()], {}, second)).toBe(0);
    expect(second.lines).toEqual([expect.stringMatching(new RegExp(`/${name}: schema already at version \\d+, nothing to do$`))]);
  } finally {
    await withServer(new URL(testServerUrl()), (conn) => conn.query("DROP DATABASE IF EXISTS ??", [name]));
  }
});

test("failures exit 1 with the error code and without the password", async () => {
  const out = capture();
  expect(await main(["migrate", "--url", "mysql://root:hunter2@127.0.0.1:1/helix"], {}, out)).toBe(1);
  expect(out.errors.join("\n")).toMatch(/^helix: cannot use MySQL at 127\.0\.0\.1:1\/helix .*\[HELIX_DATABASE_UNAVAILABLE\]$/);
  expect(out.errors.join("\n")).not.toContain("hunter2");

  const bad = capture();
  expect(await main(["migrate", "--url", "mysql://root:hunter2@127.0.0.1:3306/"], {}, bad)).toBe(1);
  expect(bad.errors.join("\n")).toMatch(/database: is required.*\[HELIX_INVALID_ARGUMENT\]/);
  expect(bad.errors.join("\n")).not.toContain("hunter2");
});

test("unknown commands fail and --help succeeds", async () => {
  const out = capture();
  expect(await main(["bogus"], {}, out)).toBe(1);
  expect(out.errors.join("\n")).toMatch(/unknown command 'bogus'/);
  const help = capture();
  expect(await main(["--help"], {}, help)).toBe(0);
  expect(help.lines.join("\n")).toMatch(/migrate \[options\]/);
});
