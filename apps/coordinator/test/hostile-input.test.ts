// Every command line of the helix CLI, given each hostile value for each of its arguments and
// options: bad usage (exit 2) naming the argument, before any connection, and never repeating a
// long value back whole.
import { hostileLabel } from "@helix/testing";

import { main } from "../src";
import { capture } from "./helpers";

// Nothing listens on port 1: a command that connected would fail with the database unavailable (exit 1).
const env = { HELIX_MYSQL_URL: "mysql://root@127.0.0.1:1/helix", HELIX_HTTP_PORT: "0" };
const long = "x".repeat(10_000);
const names = ["", long, " padded", "new\nline"];
const counts = ["", "0x10", "1e3", "-1", "1.5", "abc", "9".repeat(16)];

/** [the argument the message names, its hostile values, the command line for a value]. */
const commands: [string, readonly string[], (value: string) => string[]][] = [
  ["domain", names, (v) => ["tasklist", "put", v, "t", "3"]],
  ["taskList", names, (v) => ["tasklist", "put", "d", v, "3"]],
  ["partitions", [...counts, "0", "10001"], (v) => ["tasklist", "put", "d", "t", v]],
  [
    "--metadata",
    ["[1]", "null", "3", "{oops", `{"a":"${"x".repeat(70_000)}"}`],
    (v) => ["tasklist", "put", "d", "t", "3", "--metadata", v],
  ],
  ["cluster", names, (v) => ["tasklist", "put", "d", "t", "3", "--cluster", v]],
  ["domain", names, (v) => ["tasklist", "rm", v, "t"]],
  ["taskList", names, (v) => ["tasklist", "rm", "d", v]],
  ["cluster", names, (v) => ["tasklist", "ls", "--cluster", v]],
  ["cluster", names, (v) => ["members", "ls", "--cluster", v]],
  ["cluster", names, (v) => ["status", "--cluster", v]],
  ["cluster", names, (v) => ["plan", "--cluster", v]],
  ["cluster", names, (v) => ["worker", "--cluster", v]],
  ["--node-id", names, (v) => ["worker", "--node-id", v]],
  ["--weight", [...counts, "1001"], (v) => ["worker", "--weight", v]],
  ["--ttl-ms", [...counts, "0", "99"], (v) => ["worker", "--ttl-ms", v]],
  ["cluster", names, (v) => ["demo", "--cluster", v]],
  ["--workers", [...counts, "0", "1000"], (v) => ["demo", "--workers", v]],
  ["--interval", [...counts, "0"], (v) => ["demo", "--interval", v]],
  ["--seconds", counts, (v) => ["demo", "--seconds", v]],
  ["url", ["", "http://db.example/helix", long], (v) => ["migrate", "--url", v]],
  ["database", ["mysql://h:3306/", "mysql://h:3306/a%20b"], (v) => ["migrate", "--url", v]],
];

const cases = commands.flatMap(([argument, values, argv]) =>
  values.map((value) => [argv("VALUE").join(" "), hostileLabel(value), argument, argv(value)] as const),
);

test.each(cases)("helix %s with VALUE = %s: exit 2 naming %s, before connecting", async (_line, _label, argument, argv) => {
  const out = capture();
  expect(await main([...argv], env, out)).toBe(2);
  expect(out.text()).toContain(argument);
  expect(out.text().length).toBeLessThan(1_000);
});

/** [the variable, its hostile values]. */
const variables: [string, readonly string[]][] = [
  ["HELIX_LEASE_TTL_MS", [...counts, "0"]],
  ["HELIX_POLL_MS", [...counts, "0"]],
  ["HELIX_FORCE_RELEASE_AFTER_MS", counts],
  ["HELIX_REASSIGN_DELAY_MS", counts],
  ["HELIX_MEMBER_RETENTION_MS", counts],
  ["HELIX_LOCK_RETENTION_MS", counts],
  ["HELIX_SHUTDOWN_TIMEOUT_MS", counts],
  ["HELIX_HTTP_PORT", [...counts, "65536"]],
  ["HELIX_CLUSTERS", ["", ",", long, "a,new\nline"]],
  ["HELIX_AUTO_MIGRATE", ["", "yes", "1"]],
  ["HELIX_LOG_LEVEL", ["", "loud", long]],
  ["HELIX_MYSQL_URL", ["", "http://db.example/helix", long]],
];

const variableCases = variables.flatMap(([name, values]) => values.map((value) => [name, hostileLabel(value), value] as const));

test.each(variableCases)("helix status with %s = %s: exit 2 naming it, before connecting", async (name, _label, value) => {
  const out = capture();
  expect(await main(["status"], { ...env, [name]: value }, out)).toBe(2);
  expect(out.text()).toContain(name);
  expect(out.text().length).toBeLessThan(1_000);
});
