import { hostname, userInfo } from "node:os";

import { InvalidArgumentError as UsageError, Option } from "commander";

import { checkText, createPool, InvalidArgumentError, MAX_NAME_LENGTH } from "@helix/db/internal";
import type { Pool } from "mysql2/promise";

import type { CommandContext, Output } from "./context";

/** The `-c, --cluster` option of the commands that work on one cluster (read with {@link clusterOf}). */
export const clusterOption = (): Option =>
  new Option("-c, --cluster <name>", 'the cluster (default: the first of HELIX_CLUSTERS, else "default")');

/**
 * The cluster a command works on: `--cluster`, else the first configured one; checked as a
 * cluster's name before any connection.
 */
export const clusterOf = (context: CommandContext, options: { cluster?: string }): string =>
  checkName("cluster", options.cluster ?? context.config().clusters[0]!);

/** Checks a name given on the command line (a cluster, domain or task list) before any connection. */
export const checkName = (argument: string, value: string): string => checkText(argument, value, MAX_NAME_LENGTH);

/**
 * Parses a whole number argument written in decimal digits (0, 7, 120), from `min` to `max`,
 * refusing anything else (an empty string, a sign, `0x10`, `1e3`, more than 15 digits, a number
 * out of range) as bad usage (exit code 2), before any connection.
 */
export const wholeNumber =
  (name: string, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  (value: string): number => {
    if (!/^(0|[1-9][0-9]{0,14})$/.test(value)) {
      const shown = value.length > 20 ? `${JSON.stringify(value.slice(0, 20))}...` : JSON.stringify(value);
      throw new UsageError(`${name} must be a whole number written in digits, such as 3 (got ${shown})`);
    }
    const n = Number(value);
    if (n < min || n > max) throw new UsageError(`${name} must be from ${min} to ${max} (got ${n})`);
    return n;
  };

/**
 * Runs a library's check of options given as command-line flags, naming the flag instead of the
 * option in its error (`--ttl-ms`, not `ttlMs`): bad usage, exit code 2.
 */
export function checkedAsFlags<T>(flags: Readonly<Record<string, string>>, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof InvalidArgumentError && flags[error.argument] !== undefined) {
      throw new InvalidArgumentError(flags[error.argument]!, error.problem, { cause: error });
    }
    throw error;
  }
}

/** Prints `items` as JSON with `--json`, else a line each, or `none` when there are none. */
export function printList<T>(
  output: Output,
  items: readonly T[],
  json: boolean | undefined,
  none: string,
  line: (item: T) => string,
): void {
  if (json === true) output.out(JSON.stringify(items, null, 2));
  else if (items.length === 0) output.out(none);
  else for (const item of items) output.out(line(item));
}

/** Prints `value` as JSON with `--json`, else the lines `render` draws (rendered only when needed). */
export function printOne(output: Output, json: boolean | undefined, value: unknown, render: () => string[]): void {
  output.out(json === true ? JSON.stringify(value, null, 2) : render().join("\n"));
}

/** Runs `use` on a pool of its own, ended afterwards whatever happens, so that the command can exit. */
export async function withPool<T>(url: string, use: (pool: Pool) => Promise<T>): Promise<T> {
  const pool = await createPool(url);
  try {
    return await use(pool);
  } finally {
    await pool.end();
  }
}

/** Who runs this command, as the audit trail and listings name it: user@host, or the host alone where the user has no name. */
export function defaultActor(): string {
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return hostname();
  }
}
